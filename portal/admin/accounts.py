"""The accounts page's search, and offboarding: an admin deactivates a
person, or lets them back in.

Deactivating takes everything that lets the person in or reach them out of
use at once: every session ends (a copied cookie too), the calendar feed
address is deleted, pending invitations to their email and open password
reset links are voided. What they did stays: their uploads and messages
keep their name. An attorney who is still the assigned attorney of an open
case is refused until each such case has another attorney, and an admin
cannot deactivate themself (so the firm always keeps one admin).
Reactivating lets them sign in again with their password; nothing ended or
voided comes back. Services take the acting admin explicitly, audit and
commit once; they raise ``ServiceError`` with a message for the user.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import selectinload

from portal import audit
from portal.agenda import feeds
from portal.auth import sessions
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseMembership, Invitation, PasswordReset, Role, User
from portal.models.case import CaseRole
from portal.models.types import utcnow

REASON_MAX = 500


def search(wanted: str = "") -> Select:
    """The accounts whose name or email holds ``wanted`` (any case; every
    account without it), firm roles first, then by name: a query for
    ``paging.fetch``."""
    query = select(User).order_by(User.role, User.name, User.id)
    if wanted:
        needle = wanted.lower()
        query = query.where(or_(func.lower(User.name).contains(needle, autoescape=True),
                                func.lower(User.email).contains(needle, autoescape=True)))
    return query


class StillAssigned(ServiceError):
    """The attorney is the assigned attorney of open cases (``cases``)."""

    def __init__(self, cases: list[Case]):
        super().__init__(_l("This attorney is still the assigned attorney of open cases. "
                            "Give each of them another attorney first."))
        self.cases = cases


def open_cases_assigned_to(user: User) -> list[Case]:
    """The open cases whose assigned attorney is ``user``, by reference,
    with their members loaded (the refusal names each case's client)."""
    return list(db.session.scalars(
        select(Case).where(Case.assigned_attorney_id == user.id, Case.closed_on.is_(None))
        .options(selectinload(Case.memberships).selectinload(CaseMembership.user))
        .order_by(Case.reference)))


def client_names(case: Case) -> list[str]:
    """The names of ``case``'s clients (loaded with ``open_cases_assigned_to``)."""
    return [m.user.name for m in case.memberships if m.role is CaseRole.CLIENT]


def _check_admin(actor: User, user: User) -> None:
    if actor.role is not Role.ADMIN:
        raise ServiceError(_l("You do not have permission to do that."))
    if actor.id == user.id:
        raise ServiceError(_l("You cannot deactivate or reactivate your own account. Ask "
                              "another admin."))


def _reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ServiceError(_l("The reason may have at most 500 characters."))
    return reason or None


def check_deactivation(actor: User, user: User) -> None:
    """Raise what ``deactivate`` would refuse for, before asking for a
    confirmation: ``ServiceError`` (not an admin, oneself, already
    deactivated) or ``StillAssigned`` with the cases to hand over."""
    _check_admin(actor, user)
    if not user.active:
        raise ServiceError(_l("This account is already deactivated."))
    cases = open_cases_assigned_to(user)
    if cases:
        raise StillAssigned(cases)


def deactivate(actor: User, user: User, reason: str | None = None) -> None:
    """Deactivate ``user``: they can no longer sign in, every session of
    theirs ends at once, their calendar feed is deleted, pending invitations
    to their email and their open reset links are voided. Audited as
    ``account.deactivated`` with ``reason`` (optional) and what was ended;
    one commit.

    Raises ``StillAssigned`` while ``user`` is the assigned attorney of an
    open case, ``ServiceError`` if ``actor`` is not an admin or is ``user``,
    ``user`` is already deactivated, or the reason is too long. Nothing is
    changed then.
    """
    check_deactivation(actor, user)
    reason = _reason(reason)
    now = utcnow()
    user.active = False
    sessions.end_all_sessions(user)
    invitations = db.session.execute(
        update(Invitation).where(Invitation.email == user.email, Invitation.used_at.is_(None),
                                 Invitation.voided_at.is_(None))
        .values(voided_at=now).execution_options(synchronize_session="fetch")).rowcount
    reset_links = db.session.execute(
        update(PasswordReset).where(PasswordReset.user_id == user.id,
                                    PasswordReset.used_at.is_(None),
                                    PasswordReset.voided_at.is_(None))
        .values(voided_at=now).execution_options(synchronize_session="fetch")).rowcount
    feed = feeds.drop_feed(user)
    audit.record("account.deactivated", actor=actor, target=str(user.uuid), reason=reason,
                 invitations_voided=invitations, reset_links_voided=reset_links,
                 feed_deleted=feed)
    db.session.commit()


def reactivate(actor: User, user: User, reason: str | None = None) -> None:
    """Let ``user`` sign in again (with their password; sessions, links and
    the feed ended at deactivation stay ended). Audited as
    ``account.reactivated`` with ``reason`` (optional); one commit.

    Raises ``ServiceError`` if ``actor`` is not an admin or is ``user``,
    ``user`` is active, or the reason is too long.
    """
    _check_admin(actor, user)
    if user.active:
        raise ServiceError(_l("This account is already active."))
    user.active = True
    audit.record("account.reactivated", actor=actor, target=str(user.uuid),
                 reason=_reason(reason))
    db.session.commit()
