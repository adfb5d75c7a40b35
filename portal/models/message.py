"""Secure messaging: a case's threads, their messages (bodies encrypted at
rest), who has read how far, and when each person was last told by email."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case
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
