"""Server-side sessions. The browser's (signed) cookie holds only a random
session id; the database holds its hash and whether it is still open, so a
session ended here is ended everywhere, even for a copied cookie."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import User, UserSession
from portal.models.types import utcnow

SESSION_KEY = "sid"
# Writing last_seen on every request would turn reads into writes; once a minute is enough.
TOUCH_INTERVAL = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, ip_address: str | None, user_agent: str | None) -> str:
    """Record a new session for ``user`` and return its id for the cookie.

    The caller commits.
    """
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user=user, token_hash=_hash(token), ip_address=ip_address,
                               user_agent=(user_agent or "")[:300]))
    return token


def load(user_uuid: str, token: str | None) -> User | None:
    """The user of an open session matching both the cookie's user and token."""
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
    if now - user_session.last_seen_at > TOUCH_INTERVAL:
        user_session.last_seen_at = now
        db.session.commit()
    return user


def end_session(token: str | None) -> None:
    """Close the session with id ``token``. The caller commits."""
    if token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == _hash(token))
                           .values(ended_at=utcnow()))


def end_all_sessions(user: User) -> None:
    """Close every open session of ``user`` (deactivation, role or password
    change). The caller commits."""
    db.session.execute(update(UserSession)
                       .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                       .values(ended_at=utcnow()))
