"""Invitations and case membership: who is let into a case, and new
accounts made from an emailed link.

A link carries 256 random bits; only their SHA-256 is stored. It works once,
for ``INVITATION_TTL``, and a newer invitation for the same email and case
voids it: a case has at most one pending invitation per email, and only its
newest link works. Services take the acting user explicitly, audit and
commit once; they raise ``ServiceError`` with a message for the user.
"""
from __future__ import annotations

import enum
import hashlib
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import audit, notify
from portal.auth import passwords
from portal.auth.services import find_user, normalize_email
from portal.cases.permissions import can_manage_case
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseMembership, Invitation, Role, User
from portal.models.case import CaseRole
from portal.models.types import utcnow

CASE_ROLE_TO_ACCOUNT_ROLE = {CaseRole.CLIENT: Role.CLIENT, CaseRole.SPONSOR: Role.SPONSOR}
FIRM_ACCOUNT_ROLES = (Role.ATTORNEY, Role.STAFF, Role.ADMIN)


class InviteOutcome(enum.Enum):
    """What inviting someone to a case did."""

    INVITED = "invited"  # a new person: an invitation link was emailed
    RESENT = "resent"  # a new person already invited: a new link replaced the old one
    ADDED = "added"  # an existing account: added to the case at once


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pending_filter(email: str, case: Case | None) -> list:
    return [Invitation.email == email, Invitation.used_at.is_(None),
            Invitation.voided_at.is_(None),
            Invitation.case_id == case.id if case else Invitation.case_id.is_(None)]


def _void_pending(email: str, case: Case | None) -> int:
    """Void the unused invitations of ``email`` to ``case`` (to a firm
    account when None); returns how many there were."""
    result = db.session.execute(update(Invitation).where(*_pending_filter(email, case))
                                .values(voided_at=utcnow())
                                .execution_options(synchronize_session="fetch"))
    return result.rowcount


def _new_invitation(actor: User, email: str, name: str, role: Role, language: str,
                    case: Case | None = None, case_role: CaseRole | None = None) -> bool:
    """Create an invitation, void older open ones for the same email and case,
    and queue the email with its link. Returns True when it replaced an
    older one (audited as a resend). The caller commits."""
    replaced = _void_pending(email, case) > 0
    token = secrets.token_urlsafe(32)  # 256 random bits
    ttl = current_app.config["INVITATION_TTL"]
    invitation = Invitation(token_hash=_token_hash(token), email=email, name=name, role=role,
                            language=language, case=case, case_role=case_role,
                            invited_by=actor, expires_at=utcnow() + ttl)
    db.session.add(invitation)
    audit.record("invitation.resent" if replaced else "invitation.created", actor=actor,
                 case=case, target=email, role=role.value,
                 case_role=case_role.value if case_role else None)
    # Built from the URL map, not url_for: services also run outside requests (jobs, CLI).
    path = current_app.url_map.bind("").build("auth.open_invitation", {"token": token})
    # Sent by a job once the invitation is committed; saved even while the mail server is down.
    invitation.outbox_message = notify.queue_invitation(email, language, notify.link(path),
                                                        ttl.days, invitation.invited_by.name)
    return replaced


def check_invitee(email: str) -> User | None:
    """The account of ``email`` if it has one. Raises ``ServiceError`` for a
    firm account: the firm's people are never a case's client or sponsor."""
    user = find_user(normalize_email(email))
    if user is not None and user.is_firm:
        raise ServiceError(_l("This email belongs to a firm account. Use another address."))
    return user


def add_to_case(actor: User, case: Case, email: str, name: str, case_role: CaseRole,
                language: str) -> InviteOutcome:
    """Give ``email`` access to ``case`` as client or sponsor, without
    committing (the caller commits once, with whatever else it changes).

    A new person gets an emailed single-use link (a new one voids the link
    they may already have for this case); an existing client or sponsor
    account is added at once and told (without case content) that something
    waits in the portal. Raises ``ServiceError`` for a role other than client
    or sponsor, a firm account's email, or a person already in the case.
    """
    if case_role not in CASE_ROLE_TO_ACCOUNT_ROLE:
        raise ServiceError(_l("Choose client or sponsor."))
    email = normalize_email(email)
    user = check_invitee(email)
    if user is None:
        replaced = _new_invitation(actor, email, name, CASE_ROLE_TO_ACCOUNT_ROLE[case_role],
                                   language, case, case_role)
        return InviteOutcome.RESENT if replaced else InviteOutcome.INVITED
    if db.session.scalar(select(CaseMembership).where(CaseMembership.case_id == case.id,
                                                      CaseMembership.user_id == user.id)):
        raise ServiceError(_l("This person is already part of the case."))
    _void_pending(email, case)  # an old link of theirs would only say "sign in"
    db.session.add(CaseMembership(case=case, user=user, role=case_role))
    audit.record("case.member_added", actor=actor, case=case, target=str(user.uuid),
                 case_role=case_role.value)
    notify.queue_added_to_case(user.email, user.language)
    return InviteOutcome.ADDED


def invite_to_case(actor: User, case: Case, email: str, name: str, case_role: CaseRole,
                   language: str) -> InviteOutcome:
    """Invite ``email`` to ``case`` (see ``add_to_case``) and commit.

    Inviting again someone whose invitation is pending resends it. Raises
    ``ServiceError`` if ``actor`` may not manage the case, and as
    ``add_to_case`` does.
    """
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    outcome = add_to_case(actor, case, email, name, case_role, language)
    _commit()
    return outcome


def _commit() -> None:
    """Commit an invitation or a new member. The database holds one pending
    invitation per email and case, and one membership per person: the second
    of two people inviting the same address at the same moment is told so,
    and nothing of theirs is saved or sent."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_l("Someone else invited this person to the case at the same "
                              "moment. Nothing more was sent: the People panel shows the "
                              "invitation.")) from None


def pending_invitations(case: Case) -> list[Invitation]:
    """The case's invitations neither used nor voided (expired ones
    included, to be resent or revoked), oldest first, each with the email
    that carries its link (whether it went out)."""
    return list(db.session.scalars(
        select(Invitation).where(Invitation.case_id == case.id, Invitation.used_at.is_(None),
                                 Invitation.voided_at.is_(None))
        .options(joinedload(Invitation.outbox_message))
        .order_by(Invitation.created_at, Invitation.id)))


def _check_pending(actor: User, case: Case, invitation: Invitation) -> None:
    if not can_manage_case(actor, case) or invitation.case_id != case.id:
        raise ServiceError(_l("You do not have permission to do that."))
    if invitation.used_at is not None or invitation.voided_at is not None:
        raise ServiceError(_l("This invitation was already accepted or withdrawn."))


def resend_invitation(actor: User, case: Case, invitation: Invitation) -> InviteOutcome:
    """Email a new link (with a new expiry) for a pending invitation, with
    its name, role and language; the old link stops working. A person who
    has made an account since is added to the case at once instead.

    Raises ``ServiceError`` if ``actor`` may not manage the case, the
    invitation is not pending, or its email now belongs to a firm account.
    """
    _check_pending(actor, case, invitation)
    outcome = add_to_case(actor, case, invitation.email, invitation.name, invitation.case_role,
                          invitation.language)
    _commit()
    return outcome


def revoke_invitation(actor: User, case: Case, invitation: Invitation) -> None:
    """Void a pending invitation: its link stops working.

    Raises ``ServiceError`` if ``actor`` may not manage the case or the
    invitation is not pending.
    """
    _check_pending(actor, case, invitation)
    invitation.voided_at = utcnow()
    audit.record("invitation.revoked", actor=actor, case=case, target=invitation.email,
                 invitation=str(invitation.uuid))
    db.session.commit()


def create_firm_account(actor: User, email: str, name: str, role: Role, language: str) -> None:
    """Invite a new attorney, staff member or admin (admins only).

    Raises ``ServiceError`` if the email is already in use or the role is not a firm role.
    """
    if actor.role is not Role.ADMIN:
        raise ServiceError(_l("You do not have permission to do that."))
    if role not in FIRM_ACCOUNT_ROLES:
        raise ServiceError(_l("Choose attorney, staff or admin."))
    email = normalize_email(email)
    if find_user(email) is not None:
        raise ServiceError(_l("An account with this email already exists."))
    _new_invitation(actor, email, name, role, language)
    db.session.commit()


def find_invitation(token: str | None) -> Invitation | None:
    """The invitation whose link carries ``token`` (used or not), or None."""
    if not token:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))


def accept_invitation(invitation: Invitation, name: str, password: str) -> User:
    """Create the account the invitation is for, with ``password``, and put
    it in the invitation's case. Raises ``ServiceError`` if the link is no
    longer usable, the account already exists, or the password is weak."""
    if not invitation.is_usable(utcnow()):
        raise ServiceError(_l("This invitation link has expired or was already used."))
    if find_user(invitation.email) is not None:
        raise ServiceError(_l("An account with this email already exists. Please sign in."))
    problem = passwords.password_problem(password, [invitation.email, name])
    if problem:
        raise ServiceError(problem)
    user = User(email=invitation.email, name=name.strip(), role=invitation.role,
                language=invitation.language, password_hash=passwords.hash_password(password))
    db.session.add(user)
    if invitation.case is not None:
        db.session.add(CaseMembership(case=invitation.case, user=user, role=invitation.case_role))
    invitation.used_at = utcnow()
    db.session.flush()
    audit.record("invitation.accepted", actor=user, case=invitation.case, target=invitation.email)
    db.session.commit()
    return user
