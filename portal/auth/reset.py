"""Password recovery and change: reset links by email, and changing the
password while signed in.

A reset link carries 256 random bits; only their SHA-256 is stored. It works
once, for ``PASSWORD_RESET_TTL``, and is voided by a newer link and by any
password change. Resetting ends every session of the account and never signs
anyone in: the person signs in afterwards like any other time (so a second
factor, once there is one, cannot be skipped).
"""
from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import audit, jobs, notify
from portal.auth import passwords, sessions, tasks
from portal.auth.services import find_user, normalize_email
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import PasswordReset, Role, User
from portal.models.types import utcnow


class WrongPassword(ServiceError):
    """The current password given to confirm a change was not correct."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _void_open_links(user: User) -> None:
    """Void every unused reset link of ``user``. The caller commits."""
    db.session.execute(update(PasswordReset)
                       .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None),
                              PasswordReset.voided_at.is_(None))
                       .values(voided_at=utcnow()))


def _issue_link(user: User, requested_by: User | None) -> str:
    """Void older links of ``user`` and store a new one; returns its URL.
    The caller queues it with ``_email_link`` and commits."""
    _void_open_links(user)
    token = secrets.token_urlsafe(32)  # 256 random bits
    db.session.add(PasswordReset(token_hash=_token_hash(token), user=user,
                                 requested_by=requested_by,
                                 expires_at=utcnow() + current_app.config["PASSWORD_RESET_TTL"]))
    # Built from the URL map, not url_for: the background job has no request.
    path = current_app.url_map.bind("").build("auth.open_password_reset", {"token": token})
    return notify.link(path)


def _email_link(user: User, url: str, by_firm: bool) -> None:
    minutes = int(current_app.config["PASSWORD_RESET_TTL"].total_seconds() // 60)
    notify.queue_password_reset(user.email, user.language, url, minutes, by_firm)


def request_reset(email: str) -> None:
    """Someone asked for a reset link for ``email`` on the sign-in page.

    Only an active account gets a link. The request path does the same work
    whatever the address (look it up, audit, enqueue one job, commit), and the
    job (``email_new_link``) looks the address up again, makes the link and
    queues the email, so neither the answer nor its timing tells whether the
    address has an account.
    """
    email = normalize_email(email)
    user = find_user(email)
    audit.record("auth.password_reset_requested", actor=user, target=email[:100],
                 sent=user is not None and user.active)
    # One job for every request, known address or not: equal work here.
    jobs.after_commit(db.session, tasks.email_reset_link, email)
    db.session.commit()


def email_new_link(email: str) -> None:
    """The job of ``request_reset``: if ``email`` is an active account, make
    a new link (voiding older ones) and queue its email, in one transaction."""
    # Locked, so two requests racing cannot leave two valid links.
    user = db.session.scalar(select(User).where(User.email == normalize_email(email))
                             .with_for_update())
    if user is None or not user.active:
        db.session.rollback()
        return
    url = _issue_link(user, None)
    _email_link(user, url, by_firm=False)
    db.session.commit()


def send_reset_link(actor: User, user: User) -> None:
    """An admin sends ``user`` a reset link (the same kind of link as
    ``request_reset``). Admins may do this for any active account except
    admin accounts, which recover through the sign-in page themselves.

    Raises ``ServiceError`` if ``actor`` is not an admin, or ``user`` is an
    admin or deactivated. The email goes out through the outbox, written in
    the same transaction as the link.
    """
    if actor.role is not Role.ADMIN:
        raise ServiceError(_l("You do not have permission to do that."))
    if user.role is Role.ADMIN:
        raise ServiceError(_l("Admins reset their own password from the sign-in page."))
    if not user.active:
        raise ServiceError(_l("This account is deactivated, so no link was sent."))
    url = _issue_link(user, actor)
    audit.record("auth.password_reset_requested", actor=actor, target=str(user.uuid), sent=True)
    _email_link(user, url, by_firm=True)
    db.session.commit()


def find_reset(token: str | None) -> PasswordReset | None:
    """The reset link carrying ``token`` (used or not), or None."""
    if not token:
        return None
    return db.session.scalar(select(PasswordReset)
                             .where(PasswordReset.token_hash == _token_hash(token)))


def reset_password(reset: PasswordReset, password: str) -> User:
    """Give the link's account the new ``password``, use up the link, void
    the account's other links and end all its sessions.

    Raises ``ServiceError`` if the link is no longer usable, the account was
    deactivated meanwhile, or the password is too weak.
    """
    user = reset.user
    if not reset.is_usable(utcnow()) or not user.active:
        raise ServiceError(_l("This link has expired or was already used."))
    problem = passwords.password_problem(password, [user.email, user.name])
    if problem:
        raise ServiceError(problem)
    now = utcnow()
    # Conditional update: of two submits racing with one link, only one wins.
    claimed = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None),
               PasswordReset.voided_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise ServiceError(_l("This link has expired or was already used."))
    user.password_hash = passwords.hash_password(password)
    _void_open_links(user)
    sessions.end_all_sessions(user)
    audit.record("auth.password_reset", actor=user,
                 by_admin=reset.requested_by_id is not None)
    db.session.commit()
    return user


def change_password(user: User, session_token: str | None, current_password: str,
                    new_password: str) -> None:
    """Change ``user``'s password after checking the current one; the
    session ``session_token`` stays open, every other one ends, and open
    reset links are voided.

    Raises ``WrongPassword`` (audited, nothing else changed) when the current
    password is wrong, ``ServiceError`` when the new one is too weak.
    """
    if not passwords.verify_password(user.password_hash, current_password):
        audit.record("account.password_change_failed", actor=user)
        db.session.commit()
        raise WrongPassword(_l("Your current password is not correct. Nothing was changed."))
    problem = passwords.password_problem(new_password, [user.email, user.name])
    if problem:
        raise ServiceError(problem)
    user.password_hash = passwords.hash_password(new_password)
    _void_open_links(user)
    sessions.end_all_sessions(user, keep_token=session_token)
    audit.record("account.password_changed", actor=user)
    db.session.commit()
