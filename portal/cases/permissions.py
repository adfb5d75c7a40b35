"""Who may open a case and run it. Routes reach cases only through
``get_case_or_404`` and lists only through ``visible_cases``."""
from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from portal.extensions import db
from portal.models import Case, CaseMembership, Invitation, Role, User
from portal.models.case import CaseRole
from portal.permissions import deny, parse_uuid


def visible_cases(user: User) -> Select:
    """A query of every case ``user`` may open.

    Admins and staff see all cases; everyone else the cases whose team they
    are on (``CaseMembership``): an attorney the cases they were put on (the
    assigned attorney always is), clients and sponsors the cases they belong
    to. Taken off a case, a person no longer finds it.
    """
    query = select(Case)
    if user.role in (Role.ADMIN, Role.STAFF):
        return query
    member_of = select(CaseMembership.case_id).where(CaseMembership.user_id == user.id)
    return query.where(Case.id.in_(member_of))


def get_case_or_404(case_uuid: str | uuid.UUID, user: User) -> Case:
    """Return the case ``case_uuid`` if ``user`` may open it.

    Raises 404 when the case is missing *or* not the user's; both are
    recorded in the audit trail.
    """
    wanted = parse_uuid(case_uuid)
    case = db.session.scalar(visible_cases(user).where(Case.uuid == wanted))
    if case is None:
        hidden = db.session.scalar(select(Case).where(Case.uuid == wanted))
        deny(user, hidden, "case.access_denied", str(wanted), hidden is not None)
    return case


def case_role(user: User, case: Case) -> CaseRole | None:
    """The role ``user`` holds in ``case``, or None when not a member."""
    for membership in case.memberships:
        if membership.user_id == user.id:
            return membership.role
    return None


def can_open_case(user: User) -> bool:
    """True if ``user`` may open a new case: the firm's attorneys, staff and admins."""
    if user.role in (Role.ATTORNEY, Role.STAFF, Role.ADMIN):
        return True
    return False


def can_manage_case(user: User, case: Case) -> bool:
    """True if ``user`` may run the case: invite people, and later request
    documents and move the stage. Admins, staff, and the attorneys on the
    case's team (the assigned attorney always is)."""
    if user.role in (Role.ADMIN, Role.STAFF):
        return True
    if user.role is Role.ATTORNEY:
        return case_role(user, case) is CaseRole.ATTORNEY
    return False


def can_see_case_story(user: User, case: Case) -> bool:
    """The case's title (which often names a medical emergency), its
    timeline and its client are the client's story: the firm and the client
    see them; a sponsor sees only the reference, the stage and the firm's people."""
    if user.is_firm:
        return True
    if case_role(user, case) is CaseRole.CLIENT:
        return True
    return False


def visible_members(user: User, case: Case) -> list[CaseMembership]:
    """The people of ``case`` that ``user`` may see listed: everyone for the
    firm and the client; a sponsor sees the firm's people and themselves."""
    if can_see_case_story(user, case):
        return list(case.memberships)
    return [m for m in case.memberships if m.user_id == user.id or m.user.is_firm]


def can_see_internal_notes(user: User) -> bool:
    """Internal notes are for the firm only, never clients or sponsors."""
    return user.is_firm


def get_invitation_or_404(case: Case, invitation_uuid: str | uuid.UUID, user: User) -> Invitation:
    """An invitation to ``case`` that ``user`` may manage; 404 otherwise,
    also for an invitation to another case (audited)."""
    wanted = parse_uuid(invitation_uuid)
    invitation = db.session.scalar(select(Invitation).where(Invitation.uuid == wanted,
                                                            Invitation.case_id == case.id))
    if invitation is None or not can_manage_case(user, case):
        exists = db.session.scalar(select(Invitation.id).where(Invitation.uuid == wanted))
        deny(user, case, "invitation.access_denied", str(wanted), exists is not None)
    return invitation
