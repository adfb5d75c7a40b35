"""The case team: the firm's people on a case.

Being on the team is what lets an attorney open a case (``visible_cases``),
and what puts anyone of the firm in its notices and unread counts; staff
and admins reach every case by their role, and are on a team only to be
told of its news. The assigned attorney is always on the team: a case
cannot be left without its attorney (reassign first). Every change is
audited with who made it and why, and takes effect on the removed person's
next request: nothing about them is cached.
"""
from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from portal import audit
from portal.cases.permissions import can_manage_case, case_role
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseMembership, CaseMute, Role, User
from portal.models.case import CaseRole

# The firm's roles that may be on a team, and the place each takes in it.
TEAM_ROLES = {Role.ATTORNEY: CaseRole.ATTORNEY, Role.STAFF: CaseRole.STAFF}
REASON_MAX = 500


def team(case: Case) -> list[CaseMembership]:
    """The firm's people on ``case``: the assigned attorney first, then
    other attorneys, then staff, each by name."""
    order = {CaseRole.ATTORNEY: 1, CaseRole.STAFF: 2}
    members = [m for m in case.memberships if m.role in order]
    return sorted(members, key=lambda m: (m.user_id != case.assigned_attorney_id,
                                          order[m.role], m.user.name, m.user_id))


def candidates(case: Case) -> list[User]:
    """The firm's active attorneys and staff not on ``case``'s team yet, by name."""
    on_team = select(CaseMembership.user_id).where(CaseMembership.case_id == case.id)
    return list(db.session.scalars(
        select(User).where(User.role.in_(list(TEAM_ROLES)), User.active.is_(True),
                           User.id.not_in(on_team))
        .order_by(User.name, User.id)))


def join(case: Case, user: User) -> CaseMembership | None:
    """Put ``user`` (an attorney or staff) on ``case``'s team unless they are
    already on it; the caller audits and commits."""
    if case_role(user, case) is not None:
        return None
    membership = CaseMembership(user=user, role=TEAM_ROLES[user.role])
    case.memberships.append(membership)
    return membership


def leave(case: Case, user: User) -> None:
    """Take ``user`` off ``case``'s team, with their mute of its emails (a
    later return starts afresh); the caller audits and commits."""
    for membership in [m for m in case.memberships if m.user_id == user.id]:
        case.memberships.remove(membership)  # deleted: the case owns its memberships
    db.session.execute(delete(CaseMute).where(CaseMute.case_id == case.id,
                                              CaseMute.user_id == user.id))


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_l("Please say why: the reason is kept in the audit trail."))
    if len(reason) > REASON_MAX:
        raise ServiceError(_l("The reason may have at most 500 characters."))
    return reason


def _person(user_uuid: str | uuid.UUID) -> User | None:
    try:
        wanted = uuid.UUID(str(user_uuid))
    except ValueError:
        return None
    return db.session.scalar(select(User).where(User.uuid == wanted))


def add_member(actor: User, case: Case, user_uuid: str | uuid.UUID, reason: str) -> User:
    """Put the attorney or staff member ``user_uuid`` on ``case``'s team,
    audited as ``case.team_added`` with ``reason``; one commit.

    Raises ``ServiceError`` (nothing saved) if ``actor`` may not manage the
    case, the person is not an active attorney or staff member, is already on
    the team, or no reason is given.
    """
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    user = _person(user_uuid)
    if user is None or user.role not in TEAM_ROLES or not user.active:
        raise ServiceError(_l("Choose one of the firm's attorneys or staff."))
    if case_role(user, case) is not None:
        raise ServiceError(_l("%(name)s is already on the case team.", name=user.name))
    reason = _reason(reason)
    join(case, user)
    audit.record("case.team_added", actor=actor, case=case, target=str(user.uuid),
                 case_role=TEAM_ROLES[user.role].value, reason=reason)
    db.session.commit()
    return user


def remove_member(actor: User, case: Case, user_uuid: str | uuid.UUID, reason: str) -> User:
    """Take ``user_uuid`` off ``case``'s team, audited as
    ``case.team_removed`` with ``reason``; one commit. An attorney removed
    no longer opens the case; anyone removed stops getting its notices.

    Raises ``ServiceError`` (nothing saved) if ``actor`` may not manage the
    case, the person is not on the team (a stale form: someone removed them
    first), is the assigned attorney (reassign the case first), or no reason
    is given.
    """
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    user = _person(user_uuid)
    if user is None or case_role(user, case) not in (CaseRole.ATTORNEY, CaseRole.STAFF):
        raise ServiceError(_l("This person is no longer on the case team; nothing was changed."))
    if user.id == case.assigned_attorney_id:
        raise ServiceError(_l("%(name)s is the case's assigned attorney. Reassign the case to "
                              "another attorney first.", name=user.name))
    reason = _reason(reason)
    leave(case, user)
    audit.record("case.team_removed", actor=actor, case=case, target=str(user.uuid),
                 reason=reason)
    db.session.commit()
    return user

