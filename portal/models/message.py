"""Secure messaging: a case's threads, their messages (bodies encrypted at
rest), who has read how far, and when each person was last told by email."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case
from portal.models.stored_object import StoredObject
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User

if TYPE_CHECKING:
    from portal.models.evidence import Document

CLIENT_THREAD = "client"


class MessageThread(db.Model):
    """A conversation of the case's attorney team with its client, or with one
    sponsor (``sponsor`` set; sponsors never read the client's thread).
    ``audience`` is ``"client"`` or ``"sponsor:<user uuid>"``, unique per case."""

    __tablename__ = "message_threads"
    __table_args__ = (UniqueConstraint("case_id", "audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    audience: Mapped[str] = mapped_column(String(64))
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    sponsor: Mapped[User | None] = relationship()


class Message(db.Model):
    """One message. ``body`` is ciphertext (``crypto.encrypt_text`` bound to
    ``uuid``); never deleted: a retraction hides it from the other side and
    keeps it for the firm. ``internal`` notes are the firm's alone.
    ``client_key`` comes from the form, so a double submit stores one message.
    Its ``attachments`` are documents of the case like any other."""

    __tablename__ = "messages"
    # The thread page's keyset order (newest first), walked by the index.
    __table_args__ = (UniqueConstraint("thread_id", "client_key"),
                      Index("ix_messages_thread_page", "thread_id", "created_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    internal: Mapped[bool] = mapped_column(default=False)
    client_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    thread: Mapped[MessageThread] = relationship()
    author: Mapped[User] = relationship()
    attachments: Mapped[list[Document]] = relationship(back_populates="message",
                                                       order_by="Document.id")


class ThreadRead(db.Model):
    """How far one person has read a thread (their unread count follows)."""

    __tablename__ = "thread_reads"
    __table_args__ = (UniqueConstraint("thread_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadNotice(db.Model):
    """When one person was last emailed about a thread: at most one email
    per person per thread per quarter hour, however many messages arrive."""

    __tablename__ = "thread_notices"
    __table_args__ = (UniqueConstraint("thread_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseMute(db.Model):
    """A firm member who asked not to be emailed about a case's messages
    (clients and sponsors cannot mute: they would miss their attorney)."""

    __tablename__ = "case_mutes"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportState(str, enum.Enum):
    """Where a thread export stands."""

    PREPARING = "preparing"  # a job is laying it out
    READY = "ready"  # stored in the vault, downloadable until ``expires_at``
    FAILED = "failed"  # the job gave up (or the person lost access): ask again
    EXPIRED = "expired"  # its object was deleted at ``expires_at``


class ThreadExport(db.Model):
    """A thread exported as a file (PDF or text) for one person of the firm:
    asked for on the thread page, laid out by a job, stored encrypted in the
    vault, downloadable by that person alone until it expires.

    ``pending_key`` is set while preparing, unique: however often the same
    person asks for the same export of a thread at once, one row and one job
    exist (cleared when the job ends, so a later ask makes a new file)."""

    __tablename__ = "thread_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))  # a key of export.FORMATS
    internal: Mapped[bool] = mapped_column(default=False)  # internal notes included
    state: Mapped[ExportState] = mapped_column(
        Enum(ExportState, native_enum=False, length=16,
             values_callable=lambda members: [m.value for m in members]),
        default=ExportState.PREPARING)
    pending_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Ready exports by expiry: the hourly purge walks this index.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    filename: Mapped[str | None] = mapped_column(String(200))
    stored_object_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id"))

    thread: Mapped[MessageThread] = relationship()
    requested_by: Mapped[User] = relationship()
    stored_object: Mapped[StoredObject | None] = relationship()
