"""Stored objects: every encrypted file in the bucket has exactly one row here.

A document version (and later a message attachment, a preview, a resumable
upload) is a row of its own that points at its stored object; the object's
key, size, digest and type live only here (Indico's ``StoredFileMixin``, as a
table). Reconcile compares the bucket with this table alone.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


def _values(members) -> list[str]:
    return [m.value for m in members]


class Purpose(str, enum.Enum):
    """What kind of row owns a stored object (no CHECK constraint: a new
    purpose needs no migration)."""

    DOCUMENT_VERSION = "document_version"
    UPLOAD_PIECE = "upload_piece"  # part of a resumable upload, until it is put together
    PREVIEW = "preview"  # a page of a version's preview (PNG pixels only)
    THREAD_EXPORT = "thread_export"  # a thread laid out as a file, kept for a day


class ObjectState(str, enum.Enum):
    """Whether an object is expected in the bucket. Rows are written only once
    the object is complete, so there is no "uploading" state."""

    STORED = "stored"
    DELETED = "deleted"  # deleted on purpose (purge); the row stays as the record
    MISSING = "missing"  # reconcile found no object behind the row


class StoredObject(db.Model):
    """One encrypted object in the bucket. ``uuid`` is its public id and also
    the associated data of its encryption (``crypto.associated_data``), so a
    ciphertext moved to another object's key fails to decrypt."""

    __tablename__ = "stored_objects"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    # Generated (``cases/<case_uuid>/<uuid>``), never derived from a file name.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext
    content_type: Mapped[str] = mapped_column(String(100))  # detected from the content
    # The case it is stored for: its quota counts it, reconcile names it.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stored_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purpose: Mapped[Purpose] = mapped_column(
        Enum(Purpose, native_enum=False, length=32, values_callable=_values))
    state: Mapped[ObjectState] = mapped_column(
        Enum(ObjectState, native_enum=False, length=16, values_callable=_values),
        default=ObjectState.STORED)

    case: Mapped[Case] = relationship()
    stored_by: Mapped[User] = relationship()

    @property
    def in_store(self) -> bool:
        """Whether the object should be in the bucket (reconcile checks it is)."""
        return self.state is ObjectState.STORED
