"""Evidence: documents of a case and their immutable versions."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case
from portal.models.stored_object import StoredObject
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User

if TYPE_CHECKING:
    from portal.models.message import Message
    from portal.models.request import DocumentRequest


class VersionStatus(str, enum.Enum):
    """Where a version stands. Rows are written only once the encrypted
    object is stored, so there is no "uploading" state."""

    AVAILABLE = "available"
    WITHDRAWN = "withdrawn"  # by its uploader; kept for the firm
    PURGED = "purged"  # by an admin, with a reason; its stored object is deleted
    MISSING = "missing"  # reconcile found no object behind its stored object


class ScanState(str, enum.Enum):
    """What the malware scanner said of a version. Until it is ``clean`` (or
    ``unscanned``, when scanning is off) nobody but its uploader may download
    or preview it; ``infected`` and ``failed`` are the two quarantines."""

    SCANNING = "scanning"
    CLEAN = "clean"
    INFECTED = "infected"  # ``scan_result`` names the signature
    FAILED = "failed"  # the scanner was down, timed out or refused the file
    UNSCANNED = "unscanned"  # stored while scanning was off (``PORTAL_SCANNING=off``)
    RELEASED = "released"  # could not be scanned; an admin opened it (audited, with a reason)

    @property
    def quarantined(self) -> bool:
        return self in (ScanState.INFECTED, ScanState.FAILED)

    @property
    def cleared(self) -> bool:
        """Whether anyone who may see the version may open it."""
        return self in (ScanState.CLEAN, ScanState.UNSCANNED, ScanState.RELEASED)


class PreviewState(str, enum.Enum):
    """Whether a version has previews: made by a sandboxed job once it is cleared."""

    PENDING = "pending"
    READY = "ready"
    NONE = "none"  # ``preview_note`` says why (a type with no preview, a file too large...)


def _values(members) -> list[str]:
    return [m.value for m in members]


class Document(db.Model):
    """One piece of evidence in a case. Its content is the latest of its
    versions. A document that began as a message's attachment keeps
    ``message`` set: only that message's readers see it."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)

    case: Mapped[Case] = relationship()
    created_by: Mapped[User] = relationship()
    message: Mapped[Message | None] = relationship(back_populates="attachments")
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number")


class DocumentVersion(db.Model):
    """One uploaded file, never changed after it is written. Its content is a
    stored object (same UUID, key ``cases/<case_uuid>/<version_uuid>``); the
    user's file name is kept only here."""

    __tablename__ = "document_versions"
    # The review queue's newest upload per request, read from the index alone.
    __table_args__ = (UniqueConstraint("document_id", "number"),
                      UniqueConstraint("submission_id", "part_index"),
                      Index("ix_document_versions_request_uploaded", "request_id", "uploaded_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int]
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    stored_object_id: Mapped[int] = mapped_column(ForeignKey("stored_objects.id"), unique=True)
    # The form submission and file position it came from: a resubmitted form is recorded once.
    submission_id: Mapped[uuid.UUID | None]
    part_index: Mapped[int | None]
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=16,
             values_callable=lambda members: [m.value for m in members]),
        default=VersionStatus.AVAILABLE)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    scan_state: Mapped[ScanState] = mapped_column(
        Enum(ScanState, native_enum=False, length=16, values_callable=_values),
        default=ScanState.SCANNING, index=True)
    scan_result: Mapped[str | None] = mapped_column(String(200))  # signature, or what failed
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preview_state: Mapped[PreviewState] = mapped_column(
        Enum(PreviewState, native_enum=False, length=16, values_callable=_values),
        default=PreviewState.PENDING)
    preview_note: Mapped[str | None] = mapped_column(String(32))  # a reason code (previews.py)
    # The document request this file answers, if any.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("document_requests.id"), index=True)

    document: Mapped[Document] = relationship(back_populates="versions")
    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])
    status_changed_by: Mapped[User | None] = relationship(foreign_keys=[status_changed_by_id])
    # Joined: every page that lists versions shows their size and type.
    stored_object: Mapped[StoredObject] = relationship(lazy="joined")
    request: Mapped[DocumentRequest | None] = relationship(back_populates="versions",
                                                           foreign_keys=[request_id])
    previews: Mapped[list[Preview]] = relationship(back_populates="version",
                                                   order_by="Preview.page")

    @property
    def stored(self) -> bool:
        """Whether its object is in the store (what reconcile checks); a
        purged or missing version's never is, as both are written in one commit."""
        return self.stored_object.in_store

    @property
    def downloadable(self) -> bool:
        """Whether anyone who may see the version may download it: stored,
        and cleared by the scanner. (Its uploader may also while it is being
        checked: ``permissions.may_download``.)"""
        return self.stored and self.scan_state.cleared

    # Read-only views of the stored object, for pages and download headers.
    @property
    def size(self) -> int:
        """Plaintext bytes."""
        return self.stored_object.size

    @property
    def sha256(self) -> str:
        """SHA-256 of the plaintext."""
        return self.stored_object.sha256

    @property
    def content_type(self) -> str:
        """The type detected from the content at upload."""
        return self.stored_object.content_type

    @property
    def storage_key(self) -> str:
        """The object's key in the bucket."""
        return self.stored_object.key


class Preview(db.Model):
    """One page of a version's preview: a PNG of pixels only, made in a
    sandbox, stored encrypted in the vault like the file itself."""

    __tablename__ = "previews"
    __table_args__ = (UniqueConstraint("version_id", "page"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), index=True)
    page: Mapped[int]  # from 1
    stored_object_id: Mapped[int] = mapped_column(ForeignKey("stored_objects.id"), unique=True)

    version: Mapped[DocumentVersion] = relationship(back_populates="previews")
    stored_object: Mapped[StoredObject] = relationship(lazy="joined")


class EncryptionKeyset(db.Model):
    """The data keyset (Tink streaming AEAD), stored encrypted under the
    master key from configuration. ``version`` grows with each rotation so
    every worker notices and reloads."""

    __tablename__ = "encryption_keysets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    encrypted_keyset: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
