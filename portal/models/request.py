"""Document requests: the firm asks one person on a case for a document."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.case_types import translate_checklist_text
from portal.extensions import db
from portal.models.case import Case
from portal.models.evidence import DocumentVersion
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


class RequestState(str, enum.Enum):
    """``requested`` -> ``submitted`` (an upload arrived) -> ``accepted``, or
    ``rejected`` (with a reason) -> ``submitted`` again; or ``waived``."""

    REQUESTED = "requested"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WAIVED = "waived"


# States in which the addressee still owes something (and may upload).
OPEN_STATES = (RequestState.REQUESTED, RequestState.SUBMITTED, RequestState.REJECTED)
# States in which the next move is the addressee's (a submitted file waits for the firm).
OWED_STATES = (RequestState.REQUESTED, RequestState.REJECTED)


class DocumentRequest(db.Model):
    """A document the firm asks of one person on the case (the client or a
    sponsor). Uploads to it are ordinary document versions pointing here."""

    __tablename__ = "document_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    addressee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(index=True)
    required: Mapped[bool] = mapped_column(default=True)
    state: Mapped[RequestState] = mapped_column(
        Enum(RequestState, native_enum=False, length=16,
             values_callable=lambda members: [m.value for m in members]),
        default=RequestState.REQUESTED, index=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    addressee: Mapped[User] = relationship(foreign_keys=[addressee_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    # Every upload to the request, rejected ones too (the firm sees them all).
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="request", order_by="DocumentVersion.uploaded_at")

    @property
    def display_title(self) -> str:
        """The title in the reader's language when it is a checklist's
        standard wording; the attorney's own words as typed."""
        return translate_checklist_text(self.title)

    @property
    def display_instructions(self) -> str:
        """The instructions, translated like ``display_title``."""
        return translate_checklist_text(self.instructions)

    @property
    def is_open(self) -> bool:
        """Whether the request still takes uploads."""
        return self.state in OPEN_STATES

    @property
    def is_owed(self) -> bool:
        """Whether the next move is the addressee's (reminders, overdue)."""
        return self.state in OWED_STATES


class RequestReminder(db.Model):
    """That ``user`` was reminded of their due requests on ``sent_on`` (their
    own calendar day). The unique pair is what keeps reminders to one a day,
    even with several consumers running the periodic job at once."""

    __tablename__ = "request_reminders"
    __table_args__ = (UniqueConstraint("user_id", "sent_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
