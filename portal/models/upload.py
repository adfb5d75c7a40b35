"""Resumable uploads (tus 1.0): an upload in progress and the pieces it has so far.

Each PATCH a client sends is stored as one encrypted piece of its own (a
stored object, so the case's quota counts it and reconcile knows it); the
upload's row holds how far it got, so any app instance can take the next
PATCH. Once the last byte is in, a job streams the pieces into one object
through the same vault path a form upload takes, records the version and
deletes the pieces.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case
from portal.models.evidence import Document, DocumentVersion
from portal.models.message import Message
from portal.models.request import DocumentRequest
from portal.models.stored_object import StoredObject
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


class UploadState(str, enum.Enum):
    """Where a resumable upload stands."""

    RECEIVING = "receiving"  # pieces arrive; the offset says how far
    SAVING = "saving"        # every byte is in; the job is putting it together
    SAVED = "saved"          # recorded as ``version``; the pieces are gone
    FAILED = "failed"        # refused (``error`` says why); the pieces are gone
    ENDED = "ended"          # terminated by the client, or expired unfinished


class ResumableUpload(db.Model):
    """One file on its way in, to one target: a new document of ``case``, a
    new version of ``document``, an answer to ``request``, or an attachment
    of ``message``."""

    __tablename__ = "resumable_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("document_requests.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    filename: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)   # declared at creation
    offset: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes stored so far
    content_type: Mapped[str | None] = mapped_column(String(100))  # from the first bytes
    state: Mapped[UploadState] = mapped_column(
        Enum(UploadState, native_enum=False, length=16,
             values_callable=lambda members: [m.value for m in members]),
        default=UploadState.RECEIVING)
    # The address the upload began from (the audit trail names it once it is saved).
    uploaded_from: Mapped[str | None] = mapped_column(String(45))
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, in the uploader's language
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"))

    case: Mapped[Case] = relationship()
    uploaded_by: Mapped[User] = relationship()
    document: Mapped[Document | None] = relationship()
    request: Mapped[DocumentRequest | None] = relationship()
    message: Mapped[Message | None] = relationship()
    version: Mapped[DocumentVersion | None] = relationship()
    pieces: Mapped[list[UploadPiece]] = relationship(
        back_populates="upload", order_by="UploadPiece.start")


class UploadPiece(db.Model):
    """The bytes ``start`` to ``start + size`` of an upload, as one stored object."""

    __tablename__ = "upload_pieces"
    __table_args__ = (UniqueConstraint("upload_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("resumable_uploads.id"), index=True)
    start: Mapped[int] = mapped_column(BigInteger)
    stored_object_id: Mapped[int] = mapped_column(ForeignKey("stored_objects.id"))
    size: Mapped[int] = mapped_column(BigInteger)

    upload: Mapped[ResumableUpload] = relationship(back_populates="pieces")
    stored_object: Mapped[StoredObject] = relationship()
