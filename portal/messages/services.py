"""Messages: written, read, retracted. Services take the acting user,
audit and commit once; they raise ``ServiceError`` with a message for the user.

Rules stated here and tested: a body is plain text of 1 to ``MAX_BODY``
characters; a closed case's threads stay readable but take no new message;
only the firm writes internal notes, which nobody outside the firm reads;
a message is retracted only by its author, within ``RETRACT_WINDOW``;
the same form sent twice (its ``client_key``) stores one message and its
files once. Attachments go the evidence path (type allow-list, size, quota,
encryption) and become documents of the case that only the message's
readers see; a refused file is reported and the message is sent without it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import LazyString, format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from portal import audit, notify
from portal.evidence.permissions import can_see_version
from portal.evidence.services import UploadReport, store_uploads
from portal.crypto import CryptoError
from portal.errors import ServiceError
from portal.extensions import db
from portal.messages.permissions import may_read, sponsor_audience
from portal.models import (CaseMembership, CaseMute, Document, DocumentVersion, Message,
                           MessageThread, ThreadNotice, ThreadRead, User)
from portal.models.case import CaseRole
from portal.models.message import CLIENT_THREAD
from portal.models.types import utcnow
from portal.models.user import FIRM_ROLES
from portal.requests.services import attorney_team

MAX_BODY = 10_000  # characters: a long letter, not a document (attach those)
# The limit as the reader writes numbers ("10,000", "10.000", "10 000").
MAX_BODY_SHOWN = LazyString(format_decimal, MAX_BODY)
RETRACT_WINDOW = timedelta(minutes=10)
NOTICE_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class Shown:
    """A message as one reader sees it: ``text`` is None when it was
    retracted (for the other side) or cannot be decrypted (``unreadable``);
    ``attachments`` are the files sent with it that the reader may see."""

    message: Message
    text: str | None
    unreadable: bool = False
    attachments: tuple[DocumentVersion, ...] = ()

    @property
    def retracted(self) -> bool:
        return self.message.retracted_at is not None


def _crypto():
    return current_app.extensions["crypto"]


def _other_side(thread: MessageThread, author: User) -> list[User]:
    """Who is told of a new message: the team when the client or sponsor
    wrote, the client(s) or the sponsor when the firm did."""
    if author.is_firm:
        if thread.audience == CLIENT_THREAD:
            return [m.user for m in thread.case.memberships
                    if m.role is CaseRole.CLIENT and m.user.active]
        return [thread.sponsor] if thread.sponsor and thread.sponsor.active else []
    return [user for user in attorney_team(thread.case) if user.id != author.id]


def _notify(thread: MessageThread, author: User, now: datetime) -> None:
    """One content-free email per person per thread per ``NOTICE_EVERY``."""
    muted = set(db.session.scalars(select(CaseMute.user_id).where(
        CaseMute.case_id == thread.case_id)))
    for person in _other_side(thread, author):
        if person.id in muted:
            continue
        notice = db.session.scalar(select(ThreadNotice).where(
            ThreadNotice.thread_id == thread.id, ThreadNotice.user_id == person.id))
        if notice is not None and now - notice.sent_at < NOTICE_EVERY:
            continue
        if notice is None:
            db.session.add(ThreadNotice(thread_id=thread.id, user_id=person.id, sent_at=now))
        else:
            notice.sent_at = now
        notify.queue_new_message(person.email, person.language,
                                 notify.link(f"/cases/{thread.case.uuid}"))


def post(actor: User, thread: MessageThread, body: str | None, client_key: str,
         internal: bool = False) -> Message:
    """Store ``body`` encrypted as ``actor``'s message in ``thread`` and tell
    the other side (not for an internal note). Raises ``ServiceError`` for an
    empty or overlong body, a closed case, or an internal note from outside
    the firm."""
    text = (body or "").strip()
    if not may_read(actor, thread.case, thread.audience):
        raise ServiceError(_l("You do not have permission to do that."))
    if not text:
        raise ServiceError(_l("Write a message first."))
    # Counted as the form counts (forms_common.MaxLength): a line break is one character.
    if len(text.replace("\r\n", "\n")) > MAX_BODY:
        raise ServiceError(_l("A message may have at most %(max)s characters; attach a longer "
                              "text as a document.", max=MAX_BODY_SHOWN))
    if thread.case.closed_on is not None:
        raise ServiceError(_l("This case is closed: its messages can be read, but no new "
                              "message can be sent. Please contact the firm."))
    if internal and not actor.is_firm:
        raise ServiceError(_l("You do not have permission to do that."))
    earlier = _sent_before(thread, client_key)
    if earlier is not None:
        return earlier
    message_uuid = uuid.uuid4()
    message = Message(uuid=message_uuid, thread=thread, author=actor, internal=internal,
                      client_key=client_key[:64],
                      body=_crypto().encrypt_text(text, message_uuid))
    db.session.add(message)
    now = utcnow()
    if not internal:
        _notify(thread, actor, now)
    _mark_read(actor, thread, now)
    audit.record("message.posted", actor=actor, case=thread.case, target=str(message_uuid),
                 internal=internal)
    try:
        db.session.commit()
    except IntegrityError:  # the same form, sent twice at once: the first one stands
        db.session.rollback()
        return _sent_before(thread, client_key)
    return message


def post_with_files(actor: User, thread: MessageThread, body: str | None, client_key: str,
                    files, internal: bool = False) -> tuple[Message, UploadReport]:
    """``post`` the message, then store ``files`` (``FilePart``s of the
    streamed form, read only once the message is accepted) as its
    attachments. The submission id comes from the thread and ``client_key``:
    the same form sent again attaches each file once."""
    message = post(actor, thread, body, client_key, internal=internal)
    submission = uuid.uuid5(thread.uuid, client_key[:64])
    report = store_uploads(actor, thread.case, files, submission, message=message)
    return message, report


def _sent_before(thread: MessageThread, client_key: str) -> Message | None:
    return db.session.scalar(select(Message).where(Message.thread_id == thread.id,
                                                   Message.client_key == client_key[:64]))


THREAD_PAGE = 50  # messages on a thread page; earlier ones a link away


def _readable(user: User, thread: MessageThread, notes: bool = True):
    """The thread's messages ``user`` may see: internal notes only for the
    firm (and not even then without ``notes``: left out of the query, so
    never decrypted)."""
    query = (select(Message).where(Message.thread_id == thread.id)
             .options(selectinload(Message.author),
                      selectinload(Message.attachments).selectinload(Document.versions)))
    if not (user.is_firm and notes):
        query = query.where(Message.internal.is_(False))
    return query


def shown_to(user: User, thread: MessageThread, after: Message | None = None,
             notes: bool = True) -> list[Shown]:
    """The thread as ``user`` reads it, oldest first (only what came
    ``after`` a message, when given); see ``_readable`` and ``_show``."""
    query = _readable(user, thread, notes).order_by(Message.created_at, Message.id)
    if after is not None:
        query = query.where(or_(Message.created_at > after.created_at,
                                and_(Message.created_at == after.created_at,
                                     Message.id > after.id)))
    return _show(user, thread, db.session.scalars(query))


def page_of(user: User, thread: MessageThread, before: Message | None = None,
            size: int = THREAD_PAGE) -> tuple[list[Shown], bool]:
    """The newest ``size`` messages (those just ``before`` a message, when
    given), oldest first, and whether earlier ones exist: a keyset page, so
    the thousandth page costs what the first does."""
    query = (_readable(user, thread)
             .order_by(Message.created_at.desc(), Message.id.desc()).limit(size + 1))
    if before is not None:
        query = query.where(or_(Message.created_at < before.created_at,
                                and_(Message.created_at == before.created_at,
                                     Message.id < before.id)))
    rows = list(db.session.scalars(query))
    return _show(user, thread, reversed(rows[:size])), len(rows) > size


def _show(user: User, thread: MessageThread, messages) -> list[Shown]:
    """Each of ``messages`` as ``user`` reads it: a retracted message's text
    only for the firm; a body that does not decrypt is shown as unreadable
    (and audited), the rest as usual."""
    shown = []
    for message in messages:
        if message.retracted_at is not None and not user.is_firm:
            shown.append(Shown(message, None))
            continue
        sent = tuple(document.versions[0] for document in message.attachments
                     if can_see_version(user, thread.case, document.versions[0]))
        try:
            shown.append(Shown(message, _crypto().decrypt_text(message.body, message.uuid),
                               attachments=sent))
        except CryptoError:
            audit.record("message.unreadable", actor=user, case=thread.case,
                         target=str(message.uuid))
            shown.append(Shown(message, None, unreadable=True))
    if any(item.unreadable for item in shown):
        db.session.commit()  # the audit of what could not be read
    return shown


def retract(actor: User, message: Message, now: datetime | None = None) -> None:
    """Hide ``actor``'s own message from the other side (the firm keeps its
    text), within ``RETRACT_WINDOW`` of sending it."""
    now = now or utcnow()
    if message.author_id != actor.id:
        raise ServiceError(_l("Only the author can retract a message."))
    if message.retracted_at is not None:
        raise ServiceError(_l("This message was already retracted."))
    if now - message.created_at > RETRACT_WINDOW:
        raise ServiceError(_l("A message can be retracted only in the first 10 minutes."))
    message.retracted_at = now
    audit.record("message.retracted", actor=actor, case=message.thread.case,
                 target=str(message.uuid))
    db.session.commit()


def _mark_read(user: User, thread: MessageThread, now: datetime) -> None:
    read = db.session.scalar(select(ThreadRead).where(ThreadRead.thread_id == thread.id,
                                                      ThreadRead.user_id == user.id))
    if read is None:
        db.session.add(ThreadRead(thread_id=thread.id, user_id=user.id, read_at=now))
    else:
        read.read_at = now


def mark_read(user: User, thread: MessageThread) -> None:
    """``user`` has read ``thread`` up to now."""
    _mark_read(user, thread, utcnow())
    db.session.commit()


def _readable_threads(user: User):
    """SQL condition: the threads ``user`` may read, by audience (the firm
    reaches only cases it may see, which the caller's case ids ensure)."""
    if user.is_firm:
        return true()
    return or_(and_(MessageThread.audience == CLIENT_THREAD,
                    MessageThread.case_id.in_(select(CaseMembership.case_id).where(
                        CaseMembership.user_id == user.id,
                        CaseMembership.role == CaseRole.CLIENT))),
               MessageThread.audience == sponsor_audience(user))


def unread(user: User, case_ids, by=MessageThread.case_id) -> dict:
    """Messages waiting for ``user`` in the threads they may read of
    ``case_ids``, grouped ``by`` case (or by thread audience): written by
    someone else after ``user`` last read the thread, not retracted, internal
    notes for the firm only. One query."""
    read = aliased(ThreadRead)
    query = (select(by, func.count(Message.id))
             .join(MessageThread, Message.thread_id == MessageThread.id)
             .outerjoin(read, and_(read.thread_id == MessageThread.id, read.user_id == user.id))
             .where(MessageThread.case_id.in_(list(case_ids)), Message.author_id != user.id,
                    Message.retracted_at.is_(None), _readable_threads(user),
                    or_(read.read_at.is_(None), Message.created_at > read.read_at))
             .group_by(by))
    if not user.is_firm:
        query = query.where(Message.internal.is_(False))
    return dict(db.session.execute(query).all())


def read_by_other_side(thread: MessageThread, reader: User) -> datetime | None:
    """Until when the other side (anyone but ``reader``'s side) has read
    ``thread``: the latest read of someone not on ``reader``'s side."""
    query = (select(func.max(ThreadRead.read_at)).join(User, User.id == ThreadRead.user_id)
             .where(ThreadRead.thread_id == thread.id, ThreadRead.user_id != reader.id))
    query = query.where(User.role.not_in(FIRM_ROLES) if reader.is_firm
                        else User.role.in_(FIRM_ROLES))
    return db.session.scalar(query)


def is_muted(user: User, case) -> bool:
    """True if ``user`` asked not to be emailed about ``case``'s messages."""
    return db.session.scalar(select(CaseMute.id).where(
        CaseMute.case_id == case.id, CaseMute.user_id == user.id)) is not None


def set_muted(actor: User, case, muted: bool) -> None:
    """Stop or resume emails to ``actor`` about ``case``'s messages. The
    firm's people only: a client or sponsor cannot turn their notices off."""
    if not (actor.is_firm and may_read(actor, case, CLIENT_THREAD)):
        raise ServiceError(_l("You do not have permission to do that."))
    if muted and not is_muted(actor, case):
        db.session.add(CaseMute(case_id=case.id, user_id=actor.id))
    elif not muted:
        db.session.execute(delete(CaseMute).where(CaseMute.case_id == case.id,
                                                  CaseMute.user_id == actor.id))
    audit.record("messages.muted" if muted else "messages.unmuted", actor=actor, case=case,
                 target=str(case.uuid))
    db.session.commit()
