"""Who reads which thread. The client's thread is the client's and the
attorney team's; a sponsor's thread is that sponsor's and the team's. Anyone
else (an unassigned attorney, another case's client, a sponsor at the
client's thread) gets the audited 404 of every hidden object."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.cases.permissions import can_manage_case, case_role, get_case_or_404
from portal.extensions import db
from portal.models import Case, Message, MessageThread, User
from portal.models.case import CaseRole
from portal.models.message import CLIENT_THREAD
from portal.permissions import deny, parse_uuid


def sponsor_audience(sponsor: User) -> str:
    """The ``audience`` key of the thread with ``sponsor``."""
    return f"sponsor:{sponsor.uuid}"


def may_read(user: User, case: Case, audience: str) -> bool:
    """True if ``user`` may read and write the thread of ``case`` with ``audience``."""
    if can_manage_case(user, case):
        return True
    role = case_role(user, case)
    if audience == CLIENT_THREAD:
        return role is CaseRole.CLIENT
    return role is CaseRole.SPONSOR and audience == sponsor_audience(user)


def may_see_message(user: User, case: Case, message: Message) -> bool:
    """True if ``user`` sees ``message`` (and so its attachments): a reader of
    its thread, internal notes and retracted messages the firm only."""
    if not may_read(user, case, message.thread.audience):
        return False
    return user.is_firm or not (message.internal or message.retracted_at is not None)


def can_export(user: User, case: Case) -> bool:
    """True if ``user`` may export ``case``'s threads as a transcript: the
    people who run the case. The export is the firm's record; a client or a
    sponsor reads their thread on the page instead."""
    return can_manage_case(user, case)


def _sponsor_of(case: Case, sponsor_uuid: str) -> User | None:
    wanted = parse_uuid(sponsor_uuid)
    for membership in case.memberships:
        if membership.role is CaseRole.SPONSOR and membership.user.uuid == wanted:
            return membership.user
    return None


def get_thread_or_404(case_uuid: str, user: User, sponsor_uuid: str | None = None
                      ) -> MessageThread:
    """The thread of case ``case_uuid`` with its client (or with the sponsor
    ``sponsor_uuid``), created on first use, if ``user`` may read it; 404
    otherwise (audited)."""
    case = get_case_or_404(case_uuid, user)
    sponsor = _sponsor_of(case, sponsor_uuid) if sponsor_uuid else None
    if sponsor_uuid and sponsor is None:
        deny(user, case, "thread.access_denied", str(sponsor_uuid), False)
    audience = sponsor_audience(sponsor) if sponsor else CLIENT_THREAD
    if not may_read(user, case, audience):
        deny(user, case, "thread.access_denied", audience, True)
    thread = db.session.scalar(select(MessageThread).where(
        MessageThread.case_id == case.id, MessageThread.audience == audience))
    if thread is None:
        db.session.add(MessageThread(case=case, audience=audience, sponsor=sponsor))
        try:
            db.session.commit()
        except IntegrityError:  # opened at the same moment elsewhere: use that one
            db.session.rollback()
        thread = db.session.scalar(select(MessageThread).where(
            MessageThread.case_id == case.id, MessageThread.audience == audience))
    return thread
