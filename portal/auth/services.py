"""Account rules: sign-in, sign-out, profiles and accounts made from the CLI
(invitations and case membership: ``portal.cases.invitations``).

Services take the acting user explicitly, enforce the rule, write the audit
record and commit once. They raise ``ServiceError`` with a message for the user.
"""
from __future__ import annotations

import zoneinfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit, notify
from portal.auth import passwords, sessions
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Role, User


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def find_user(email: str) -> User | None:
    """The account for ``email``, if there is one."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


# --- sign-in ---------------------------------------------------------------

def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None.

    Unknown email, wrong password, unset password and deactivated account all
    give None after the same amount of hashing work; the failure is audited.
    """
    user = find_user(email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if ok and user.active:
        return user
    audit.record("auth.login_failed", actor=user, target=normalize_email(email)[:100])
    db.session.commit()
    return None


def sign_in(user: User, ip_address: str | None, user_agent: str | None) -> str:
    """Open a server-side session for ``user``; returns its id for the cookie."""
    token = sessions.open_session(user, ip_address, user_agent)
    audit.record("auth.login", actor=user)
    db.session.commit()
    return token


def sign_out(user: User, token: str | None) -> None:
    """End the session ``token`` of ``user`` server-side."""
    sessions.end_session(token)
    audit.record("auth.logout", actor=user)
    db.session.commit()


# --- accounts --------------------------------------------------------------

def update_profile(user: User, name: str, language: str, timezone: str) -> None:
    """Change the user's own name, language and time zone.

    Raises ``ServiceError`` for an unknown language or time zone.
    """
    if language not in current_app.config["LANGUAGES"]:
        raise ServiceError(_l("Choose one of the offered languages."))
    if timezone not in zoneinfo.available_timezones():
        raise ServiceError(_l("Choose one of the offered time zones."))
    user.name, user.language, user.timezone = name.strip(), language, timezone
    audit.record("account.profile_updated", actor=user)
    db.session.commit()


def change_language(user: User, language: str) -> None:
    """Change the user's own language (the switch on every page), audited as
    a profile update. Raises ``ServiceError`` for an unknown language."""
    if language not in current_app.config["LANGUAGES"]:
        raise ServiceError(_l("Choose one of the offered languages."))
    if language == user.language:
        return
    user.language = language
    audit.record("account.profile_updated", actor=user, language=language)
    db.session.commit()


def change_email(user: User, token: str | None, email: str) -> None:
    """Change the address ``user`` signs in with (the caller checked they
    confirmed it's them). The old address is told, content-free, so a
    hijacked session cannot move the account away unnoticed; other sessions end."""
    email = normalize_email(email)
    if email == user.email:
        return
    if find_user(email) is not None:
        raise ServiceError(_l("Another account already uses this email."))
    old = user.email
    user.email = email
    sessions.end_all_sessions(user, keep_token=token)
    notify.queue_email_changed(old, user.language)
    audit.record("account.email_changed", actor=user, target=old)
    db.session.commit()


def create_user(email: str, name: str, role: Role, password: str) -> User:
    """Create an account with a password directly (the ``flask`` CLI, for the
    first admin). Raises ``ServiceError`` for a used email or weak password."""
    email = normalize_email(email)
    if find_user(email) is not None:
        raise ServiceError(_l("An account with this email already exists."))
    problem = passwords.password_problem(password, [email, name])
    if problem:
        raise ServiceError(problem)
    user = User(email=email, name=name, role=role, password_hash=passwords.hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record("account.created", actor=None, target=email, role=role.value)
    db.session.commit()
    return user
