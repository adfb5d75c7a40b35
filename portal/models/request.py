"""Document requests: the firm asks one person on a case for a document."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from flask_babel import gettext
from sqlalchemy import Enum, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.case_types import translate_checklist_text
from portal.extensions import db
from portal.models.case import Case
from portal.models.evidence import DocumentVersion
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


class RequestState(str, enum.Enum):
    """``requested`` -> ``submitted`` (an upload arrived, the answers were
    sent) -> ``accepted``, or ``rejected`` (with a reason; for a
    questionnaire, answers to correct) -> ``submitted`` again; or ``waived``.
    A signature goes ``requested`` -> ``accepted`` (signed) or ``declined``."""

    REQUESTED = "requested"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WAIVED = "waived"
    DECLINED = "declined"  # a signature the person refused, with a reason


# States in which the addressee still owes something (and may upload).
OPEN_STATES = (RequestState.REQUESTED, RequestState.SUBMITTED, RequestState.REJECTED)
# States in which the next move is the addressee's (a submitted file waits for the firm).
OWED_STATES = (RequestState.REQUESTED, RequestState.REJECTED)


# What a request asks for: a file (uploads answer it), a questionnaire's
# answers, or a signature on a document of the case.
DOCUMENT, QUESTIONNAIRE, SIGNATURE = "document", "questionnaire", "signature"


class DocumentRequest(db.Model):
    """Something the firm asks of one person on the case (the client or a
    sponsor): a document (uploads to it are ordinary document versions
    pointing here), a questionnaire's answers (``questionnaire_key``; the
    answers are a ``QuestionnaireResponse``) or a signature on a version of
    a document (``sign_version``, whose SHA-256 when sent is ``sign_sha256``;
    the sealed copy is ``signed_version``). A document request with a
    ``sign_version`` asks for it printed, signed by hand and uploaded."""

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
    kind: Mapped[str] = mapped_column(String(16), default=DOCUMENT, server_default=DOCUMENT)
    questionnaire_key: Mapped[str | None] = mapped_column(String(64))
    # use_alter: versions point at requests too; the cycle is broken for table ordering.
    sign_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_versions.id", use_alter=True))
    sign_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_versions.id", use_alter=True))

    case: Mapped[Case] = relationship()
    addressee: Mapped[User] = relationship(foreign_keys=[addressee_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    # Every upload to the request, rejected ones too (the firm sees them all).
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="request", order_by="DocumentVersion.uploaded_at",
        foreign_keys="DocumentVersion.request_id")
    sign_version: Mapped[DocumentVersion | None] = relationship(foreign_keys=[sign_version_id])
    signed_version: Mapped[DocumentVersion | None] = relationship(
        foreign_keys=[signed_version_id])

    @property
    def display_title(self) -> str:
        """The title in the reader's language when it is a checklist's
        standard wording or a questionnaire's title; the attorney's own
        words as typed."""
        if self.kind == QUESTIONNAIRE:
            return gettext(self.title)
        return translate_checklist_text(self.title)

    @property
    def display_instructions(self) -> str:
        """The instructions, translated like ``display_title``."""
        if self.kind == QUESTIONNAIRE:
            return gettext(self.instructions) if self.instructions else ""
        return translate_checklist_text(self.instructions)

    @property
    def is_open(self) -> bool:
        """Whether the request still takes uploads."""
        return self.state in OPEN_STATES

    @property
    def is_owed(self) -> bool:
        """Whether the next move is the addressee's (reminders, overdue)."""
        return self.state in OWED_STATES


class QuestionnaireResponse(db.Model):
    """The answers to a questionnaire request, with the firm's review of
    them, as one JSON document encrypted like a message body
    (``crypto.encrypt_text`` bound to ``uuid``, purpose ``answers``): they
    hold the most sensitive facts of the case. ``version`` grows with each
    write, so of two writers at once the second is told to look again."""

    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    request_id: Mapped[int] = mapped_column(ForeignKey("document_requests.id"), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    request: Mapped[DocumentRequest] = relationship()


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
