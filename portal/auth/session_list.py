"""The signed-in browsers a person can see and end: their own on the
account page, anyone's on the admin pages.

A session has no public id of its own (``user_sessions`` has no ``uuid``
column yet), so pages name one by an HMAC of its row id keyed with the
app's secret key: opaque, not guessable, and useless for another person,
since a session is only ever looked up among its owner's open sessions.
Services take the acting user explicitly, audit and commit once; they raise
``ServiceError`` with a message for the user.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from ua_parser import parse

from portal import audit
from portal.auth import sessions
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Role, User, UserSession
from portal.models.types import utcnow

# ua-parser tells a phone's build of a browser apart ("Chrome Mobile",
# "Mobile Safari"); the system already says it is a phone.
_MOBILE_WORD = "Mobile"
# Some parsed names are copied out of the user agent, which anyone can set:
# only these characters, and no dot (no domain name), reach a page or an email.
_UNSAFE = re.compile(r"[^A-Za-z0-9 _()/-]")
_NAME_MAX = 40


class SessionNotFound(ServiceError):
    """No open session of this person has that id (ended, expired, someone
    else's, or never one): the pages answer 404."""

    def __init__(self):
        super().__init__(_l("This page does not exist, or you do not have access to it."))


@dataclass(frozen=True)
class Device:
    """A browser and system as named by a user agent (either may be unknown)."""

    browser: str | None  # "Chrome 131"
    system: str | None  # "Android"

    def label(self) -> str:
        """"Chrome 131 on Android", in the current language."""
        if self.browser and self.system:
            # Translators: a signed-in device, e.g. "Chrome 131 on Android".
            return _("%(browser)s on %(system)s", browser=self.browser, system=self.system)
        if self.browser:
            return self.browser
        if self.system:
            # Translators: a signed-in device whose browser is not known, e.g. "A browser on Android".
            return _("A browser on %(system)s", system=self.system)
        return _("Unknown browser")


def describe(user_agent: str | None) -> Device:
    """The browser (with its major version) and system named by ``user_agent``."""
    result = parse(user_agent or "")
    agent, system = result.user_agent, result.os
    browser = _clean(agent.family) if agent is not None else None
    if browser:
        browser = " ".join(w for w in browser.split() if w != _MOBILE_WORD) or browser
        major = _clean(agent.major)
        browser = f"{browser} {major}" if major and major.isdigit() else browser
    return Device(browser or None, (_clean(system.family) if system is not None else None) or None)


def _clean(name: str | None) -> str | None:
    """A parsed name fit to show, or None when unknown or suspicious."""
    if not name or name == "Other" or len(name) > _NAME_MAX or _UNSAFE.search(name):
        return None
    return name


def public_id(user_session: UserSession) -> str:
    """The opaque id of ``user_session`` in URLs (128 bits of an HMAC of its row id)."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    message = f"portal.user-session:{user_session.id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class SessionRow:
    """One open session as the listing shows it."""

    id: str
    device: Device
    ip_address: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


def can_end_sessions(actor: User, owner: User) -> bool:
    """People end their own sessions; admins end anyone's."""
    if actor.id == owner.id:
        return True
    if actor.role is Role.ADMIN:
        return True
    return False


def _live(owner: User, now: datetime) -> list[UserSession]:
    """``owner``'s sessions still open: not ended, and within the idle and
    absolute limits (a session past them ends at its next request anyway)."""
    config = current_app.config
    return list(db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == owner.id, UserSession.ended_at.is_(None),
               UserSession.created_at > now - config["SESSION_MAX_AGE"],
               UserSession.last_seen_at > now - config["SESSION_IDLE_TIMEOUT"])
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def _is_current(user_session: UserSession, current_token: str | None) -> bool:
    return bool(current_token) and hmac.compare_digest(
        user_session.token_hash, sessions._hash(current_token))


def open_sessions(owner: User, current_token: str | None = None) -> list[SessionRow]:
    """``owner``'s open sessions, most recently active first; the one whose
    cookie holds ``current_token`` (the viewer's own browser) is marked
    ``current``. One query."""
    return [SessionRow(public_id(s), describe(s.user_agent), s.ip_address, s.created_at,
                       s.last_seen_at, _is_current(s, current_token))
            for s in _live(owner, utcnow())]


def _find(owner: User, session_id: str) -> UserSession:
    for user_session in _live(owner, utcnow()):
        if hmac.compare_digest(public_id(user_session), str(session_id)):
            return user_session
    raise SessionNotFound()


def _check(actor: User, owner: User) -> None:
    if not can_end_sessions(actor, owner):
        raise ServiceError(_l("You do not have permission to do that."))


def end_session(actor: User, owner: User, session_id: str,
                current_token: str | None = None) -> None:
    """End ``owner``'s open session ``session_id`` (a copied cookie of it
    dies too), audited as ``auth.session_ended`` (actor, owner as target);
    committed. ``current_token`` is the actor's own browser, which is
    signed out with "Sign out", not here.

    Raises ``SessionNotFound`` when ``owner`` has no open session with that
    id, ``ServiceError`` if ``actor`` may not end ``owner``'s sessions or
    the session is the actor's own current one.
    """
    _check(actor, owner)
    user_session = _find(owner, session_id)
    if _is_current(user_session, current_token):
        raise ServiceError(_l("This is the browser you are using now. To end this session, "
                              "sign out."))
    user_session.ended_at = utcnow()
    audit.record("auth.session_ended", actor=actor, target=str(owner.uuid), session=session_id,
                 by_admin=actor.id != owner.id)
    db.session.commit()


def end_other_sessions(owner: User, current_token: str | None) -> int:
    """End every session of ``owner`` except the one of ``current_token``
    (the browser asking); returns how many open ones ended. Audited as
    ``auth.other_sessions_ended``; committed."""
    count = sum(not _is_current(s, current_token) for s in _live(owner, utcnow()))
    sessions.end_all_sessions(owner, keep_token=current_token)
    audit.record("auth.other_sessions_ended", actor=owner, target=str(owner.uuid), count=count)
    db.session.commit()
    return count


def end_all_sessions(actor: User, owner: User) -> int:
    """An admin ends every session of ``owner``; returns how many open ones
    ended. Audited as ``auth.all_sessions_ended`` (the admin as actor, the
    owner as target); committed.

    Raises ``ServiceError`` if ``actor`` is not an admin.
    """
    if actor.role is not Role.ADMIN:
        raise ServiceError(_l("You do not have permission to do that."))
    count = len(_live(owner, utcnow()))
    sessions.end_all_sessions(owner)
    audit.record("auth.all_sessions_ended", actor=actor, target=str(owner.uuid), count=count)
    db.session.commit()
    return count
