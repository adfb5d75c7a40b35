"""Each person's secret calendar feed address: create, renew, revoke, open.

The address carries a 256-bit random token; only its SHA-256 is stored
(``CalendarFeed.token_hash``), so the database cannot give the address
back: it is shown once, when made. A token is found by its hash through a
unique index, one query whatever is sent, so an answer's timing tells
nothing about how close a guess came.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, time

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit, notify
from portal.agenda.permissions import can_use_agenda
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, CalendarFeed, User
from portal.models.types import utcnow


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(user: User) -> CalendarFeed | None:
    """``user``'s feed, or None when they have none (never made, or revoked)."""
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def feed_url(token: str) -> str:
    """The absolute address of the feed with ``token`` (``BASE_URL``)."""
    path = current_app.url_map.bind("").build("agenda.calendar_feed", {"token": token})
    return notify.link(path)


def issue_feed(actor: User) -> str:
    """Make ``actor`` a new feed address and return its token: the first, or
    a renewal that stops the old address at once. Audited
    (``calendar.created`` or ``calendar.renewed``), committed.

    Raises ``ServiceError`` (nothing saved) when ``actor`` has no agenda, or
    when another request changed their feed at the same moment.
    """
    if not can_use_agenda(actor):
        raise ServiceError(_l("You do not have permission to do that."))
    token = secrets.token_urlsafe(32)  # 256 random bits
    feed = feed_of(actor)
    if feed is None:
        db.session.add(CalendarFeed(user_id=actor.id, token_hash=_token_hash(token)))
        action = "calendar.created"
    else:
        feed.token_hash = _token_hash(token)
        feed.created_at = utcnow()
        action = "calendar.renewed"
    audit.record(action, actor=actor)
    try:
        db.session.commit()
    except IntegrityError:  # two "create" clicks at once: the other one won
        db.session.rollback()
        raise ServiceError(_l("Your calendar link was changed at the same moment elsewhere. "
                              "Please try again.")) from None
    return token


def revoke_feed(actor: User) -> bool:
    """Delete ``actor``'s feed address (it stops working at once); False
    when they had none. Audited (``calendar.revoked``), committed."""
    feed = feed_of(actor)
    if feed is None:
        return False
    db.session.delete(feed)
    audit.record("calendar.revoked", actor=actor)
    db.session.commit()
    return True


def drop_feed(owner: User) -> bool:
    """Delete ``owner``'s feed address, if any, so it never works again (not
    even after a reactivation); returns whether there was one. The caller
    audits and commits (deactivation)."""
    feed = feed_of(owner)
    if feed is None:
        return False
    db.session.delete(feed)
    return True


def _fetched_today(owner: User, address: str | None, now: datetime) -> bool:
    """Whether a fetch of ``owner``'s feed from ``address`` is already in the
    trail for ``now``'s UTC day. The range on the indexed ``occurred_at``
    keeps the look-up to one day's rows, however long the trail grows."""
    start_of_day = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    return db.session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.occurred_at >= start_of_day, AuditEvent.action == "calendar.fetched",
               AuditEvent.actor_id == owner.id, AuditEvent.ip_address == address)
        .limit(1)) is not None


def open_feed(token: str, address: str | None, now: datetime) -> User | None:
    """The person whose feed ``token`` opens, if they may still have one.

    Anything else (an unknown, revoked, renewed or malformed token, or the
    feed of someone deactivated or no longer with the firm) returns None
    after recording ``calendar.denied`` (never the token) and committing.
    A feed that opens is recorded as ``calendar.fetched`` (who, from where:
    a copied address in use shows up in the trail), committed, once per
    person, client ``address`` and UTC day of ``now`` (UTC): calendar apps
    poll all day, and a row per poll would bury the trail. Two fetches at
    the very same moment may both be recorded.
    """
    owner = db.session.scalar(select(User).join(CalendarFeed, CalendarFeed.user_id == User.id)
                              .where(CalendarFeed.token_hash == _token_hash(token)))
    if owner is None or not can_use_agenda(owner):
        audit.record("calendar.denied", actor=owner,
                     reason="unknown" if owner is None else "no_agenda")
        db.session.commit()
        return None
    if not _fetched_today(owner, address, now):
        audit.record("calendar.fetched", actor=owner).occurred_at = now
        db.session.commit()
    return owner
