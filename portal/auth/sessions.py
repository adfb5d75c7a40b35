"""Server-side sessions. The browser's (signed) cookie holds only a random
session id; the database holds its hash and whether it is still open, so a
session ended here is ended everywhere, even for a copied cookie."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from flask import current_app, flash, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import audit, i18n
from portal.extensions import db
from portal.models import User, UserSession
from portal.models.types import utcnow

SESSION_KEY = "sid"
# Writing last_seen on every request would turn reads into writes; once a minute is enough.
TOUCH_INTERVAL = timedelta(minutes=1)
EXPIRY_MESSAGES = {
    "idle": _l("Your session ended after a period of inactivity. Please sign in again."),
    "absolute": _l("Your session reached its time limit and has ended. Please sign in again."),
}


def passive(view):
    """Mark ``view`` as a request the browser makes on its own (a thread
    polled for new messages): it does not count as activity, so an open tab
    never keeps an idle session alive."""
    view.passive = True
    return view


def is_passive() -> bool:
    """True if this request's view is marked ``passive``."""
    view = current_app.view_functions.get(request.endpoint) if request else None
    return getattr(view, "passive", False)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, ip_address: str | None, user_agent: str | None) -> str:
    """Record a new session for ``user`` and return its id for the cookie.

    The caller commits.
    """
    token = secrets.token_urlsafe(32)
    # Signing in is proving who one is: the password and any second factor.
    db.session.add(UserSession(user=user, token_hash=_hash(token), ip_address=ip_address,
                               user_agent=(user_agent or "")[:300], reauthenticated_at=utcnow()))
    return token


def find(token: str | None) -> UserSession | None:
    """The open session with id ``token``, if any."""
    if not token:
        return None
    return db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash(token),
                                                       UserSession.ended_at.is_(None)))


def load(user_uuid: str, token: str | None) -> User | None:
    """The user of an open session matching both the cookie's user and token.

    A session idle longer than ``SESSION_IDLE_TIMEOUT`` or older than
    ``SESSION_MAX_AGE`` is ended here (the cookie alone never keeps it alive:
    re-signing the cookie, e.g. for a flash message, changes nothing in the
    database) and the user is told why on the sign-in page, in their
    language (kept in the language cookie, as at sign-out).
    """
    if not token:
        return None
    try:
        wanted = uuid.UUID(user_uuid)
    except ValueError:
        return None
    row = db.session.execute(
        select(UserSession, User).join(User)
        .where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None),
               User.uuid == wanted, User.active.is_(True))
    ).first()
    if row is None:
        return None
    user_session, user = row
    now = utcnow()
    expired = _expiry(user_session, now)
    if expired is not None:
        user_session.ended_at = now
        audit.record("auth.session_expired", actor=user, reason=expired)
        db.session.commit()
        # The sign-in page that follows, and this message, speak the person's language.
        i18n.remember_language(user.language)
        flash(EXPIRY_MESSAGES[expired], "info")
        return None
    if now - user_session.last_seen_at > TOUCH_INTERVAL and not is_passive():
        user_session.last_seen_at = now
        db.session.commit()
    return user


def _expiry(user_session: UserSession, now: datetime) -> str | None:
    """Why the session has run out ("idle" or "absolute"), or None."""
    config = current_app.config
    if now - user_session.created_at > config["SESSION_MAX_AGE"]:
        return "absolute"
    if now - user_session.last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        return "idle"
    return None


def end_session(token: str | None) -> None:
    """Close the session with id ``token``. The caller commits."""
    if token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == _hash(token))
                           .values(ended_at=utcnow()))


def end_all_sessions(user: User, keep_token: str | None = None) -> None:
    """Close every open session of ``user`` (deactivation, role or password
    change), except the one with id ``keep_token`` if given (the browser that
    changed the password stays signed in). The caller commits."""
    query = update(UserSession).where(UserSession.user_id == user.id,
                                      UserSession.ended_at.is_(None))
    if keep_token:
        query = query.where(UserSession.token_hash != _hash(keep_token))
    db.session.execute(query.values(ended_at=utcnow()))
