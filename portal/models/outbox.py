"""The mail outbox: every email is a row first, written in the transaction
of the change it announces, and delivered afterwards by a job."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, public_id, utcnow


class OutboxState(str, enum.Enum):
    """Where a message is on its way out."""

    PENDING = "pending"  # written, not tried yet
    SENDING = "sending"  # claimed by one job, which is talking to the mail server
    RETRY = "retry"  # a try failed; the next one waits until next_attempt_at
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # every attempt failed; an admin may retry it
    # A job claimed it and never said how it ended (it crashed mid-send): it may
    # have gone out. Never resent by itself; an admin decides.
    UNKNOWN = "unknown"


# A sent message whose recipient is not blanked yet.
UNPURGED = "recipient <> ''"
# Messages a job may claim and send.
SENDABLE = (OutboxState.PENDING, OutboxState.RETRY)
# Messages an admin may send again.
RETRYABLE = (OutboxState.FAILED, OutboxState.UNKNOWN)


class OutboxMessage(db.Model):
    """One email. Its context (which may hold a link with a token) is sealed
    with the master key, bound to the row's UUID, and wiped once sent; the
    body is rendered only when sending, in the recipient's language. The
    recipient and last error of a sent message are blanked
    ``OUTBOX_KEEP_SENT_DAYS`` later (``portal.outbox.services.purge_sent``)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_state_next", "state", "next_attempt_at"),
                      # The sent messages whose recipient is still to be blanked.
                      Index("ix_outbox_messages_sent_unpurged", "sent_at",
                            postgresql_where=text(UNPURGED), sqlite_where=text(UNPURGED)))

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    sealed_context: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[OutboxState] = mapped_column(
        Enum(OutboxState, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
