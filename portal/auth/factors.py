"""Second factors: which a person has, checking one at sign-in or when they
confirm it's them, adding and removing them, and the admin's reset.

Services take the acting user explicitly, enforce the rule, audit and commit
once; they raise ``ServiceError`` with a message for the person.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select

from portal import audit, notify
from portal.auth import passwords, recovery, sessions, totp
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Passkey, User
from portal.models.types import utcnow

# How long a confirmation of the password and factor lets someone change
# their factors or email without being asked again (ASVS 7.5.1).
REAUTH_WINDOW = timedelta(minutes=5)


def has_passkey(user: User) -> bool:
    """True if ``user`` has registered a passkey."""
    return db.session.scalar(select(exists().where(Passkey.user_id == user.id)))


def has_second_factor(user: User) -> bool:
    """True if ``user`` has an authenticator app or a passkey."""
    return user.totp_secret_sealed is not None or has_passkey(user)


def must_set_up(user: User) -> bool:
    """True if ``user`` may do nothing before setting up a second factor:
    the firm's people, where the settings require it (production)."""
    return (user.is_firm and current_app.config["SECOND_FACTOR_REQUIRED_FOR_FIRM"]
            and not has_second_factor(user))


def check_code(user: User, code: str) -> str | None:
    """Which factor ``code`` is ("totp" or "recovery") when it is a good,
    unused one of ``user``'s, else None; a recovery code is used up. The
    caller audits and commits."""
    if totp.use_code(user, code):
        return "totp"
    if recovery.use(user, code):
        return "recovery"
    return None


def record_use(user: User, method: str) -> None:
    """Audit a second factor used by ``user`` (and what remains after a
    recovery code). The caller commits."""
    if method == "recovery":
        audit.record("auth.recovery_code_used", actor=user, remaining=recovery.remaining(user))
    else:
        audit.record("auth.second_factor_used", actor=user, method=method)


def record_failure(user: User) -> None:
    """Audit a wrong second-factor code and commit."""
    audit.record("auth.second_factor_failed", actor=user)
    db.session.commit()


# --- confirming it's you -----------------------------------------------------

def recently_confirmed(token: str | None) -> bool:
    """True if the session ``token`` proved its password and factor within
    ``REAUTH_WINDOW`` (at sign-in or on the confirmation page)."""
    row = sessions.find(token)
    return (row is not None and row.reauthenticated_at is not None
            and utcnow() - row.reauthenticated_at <= REAUTH_WINDOW)


def confirm(user: User, token: str | None, password: str, code: str | None) -> None:
    """Mark session ``token`` as confirmed when ``password`` and (if ``user``
    has a second factor) ``code`` are right. Raises ``ServiceError`` if not."""
    if not passwords.verify_password(user.password_hash, password):
        audit.record("auth.reauthentication_failed", actor=user, reason="password")
        db.session.commit()
        raise WrongCredentials(_l("The password or code is not correct."))
    if has_second_factor(user):
        method = check_code(user, code or "")
        if method is None:
            audit.record("auth.reauthentication_failed", actor=user, reason="second_factor")
            db.session.commit()
            raise WrongCredentials(_l("The password or code is not correct."))
        record_use(user, method)
    mark_confirmed(user, token)


def mark_confirmed(user: User, token: str | None) -> None:
    """Record that session ``token`` just proved who it is, and commit."""
    row = sessions.find(token)
    if row is not None:
        row.reauthenticated_at = utcnow()
    audit.record("auth.reauthenticated", actor=user)
    db.session.commit()


class WrongCredentials(ServiceError):
    """A password or code given to confirm it's you was not correct."""


# --- adding and removing -----------------------------------------------------

def after_change(user: User, token: str | None) -> list[str] | None:
    """After a factor was added or removed: other sessions end (SECURITY.md),
    a first factor brings recovery codes, returned to be shown once, and the
    last one removed takes them along."""
    sessions.end_all_sessions(user, keep_token=token)
    db.session.flush()
    if not has_second_factor(user):
        recovery.remove_all(user)
    elif recovery.remaining(user) == 0:
        codes = recovery.regenerate(user)
        audit.record("auth.recovery_codes_created", actor=user)
        return codes
    return None


def add_totp(user: User, token: str | None, secret: str, code: str) -> list[str] | None:
    """Turn on the authenticator app whose ``secret`` makes ``code`` now.
    Returns new recovery codes when this is the person's first factor.
    Raises ``ServiceError`` for a wrong code."""
    if user.totp_secret_sealed is not None:
        raise ServiceError(_l("An authenticator app is already set up. Remove it first to "
                              "use another one."))
    if not totp.enable(user, secret, code):
        raise ServiceError(_l("That code is not correct. Check that the time on your phone "
                              "is right and type the code your app shows now."))
    audit.record("auth.second_factor_added", actor=user, method="totp")
    codes = after_change(user, token)
    db.session.commit()
    return codes


def remove_totp(user: User, token: str | None) -> None:
    """Turn off ``user``'s authenticator app (the caller checked they
    confirmed it's them). Refused when it is the last factor of someone who
    must have one."""
    if user.totp_secret_sealed is None:
        return
    refuse_last_factor(user, removing_totp=True)
    totp.disable(user)
    audit.record("auth.second_factor_removed", actor=user, method="totp")
    after_change(user, token)
    db.session.commit()


def refuse_last_factor(user: User, removing_totp: bool = False,
                       passkeys_left: int | None = None) -> None:
    """Raise ``ServiceError`` if the removal would leave someone who must
    have a second factor without one (``passkeys_left``: None counts them)."""
    if not current_app.config["SECOND_FACTOR_REQUIRED_FOR_FIRM"] or not user.is_firm:
        return
    totp_left = user.totp_secret_sealed is not None and not removing_totp
    if passkeys_left is None:
        passkeys_left = int(has_passkey(user))
    if not totp_left and passkeys_left == 0:
        raise ServiceError(_l("Your firm requires a second factor. Add another one before "
                              "removing this one."))


def regenerate_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for ``user`` (the old ones stop working)."""
    if not has_second_factor(user):
        raise ServiceError(_l("Recovery codes come with a second factor. Set one up first."))
    codes = recovery.regenerate(user)
    audit.record("auth.recovery_codes_created", actor=user)
    db.session.commit()
    return codes


def reset_by_admin(admin: User, user: User) -> None:
    """Remove every second factor of ``user`` (they lost them all and the
    admin checked who they are): their sessions end, they are told by email
    (content-free, in their language) and must set a factor up again."""
    if user.id == admin.id:
        raise ServiceError(_l("Ask another admin to reset your own second factor."))
    if not has_second_factor(user):
        raise ServiceError(_l("This person has no second factor to reset."))
    totp.disable(user)
    db.session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    recovery.remove_all(user)
    sessions.end_all_sessions(user)
    notify.queue_second_factor_reset(user.email, user.language)
    audit.record("auth.second_factor_reset", actor=admin, target=user.email)
    db.session.commit()
