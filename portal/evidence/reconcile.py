"""Finding and repairing disagreements between the bucket and the database.

Three kinds: an object with no version row (an upload whose row was never
written, or a purge the store did not carry out), a row whose object is
missing, and a multipart upload never completed nor aborted. Objects and
uploads younger than the grace period are left alone: they may belong to an
upload in progress.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import DocumentVersion, VersionStatus
from portal.models.types import utcnow
from portal.storage import PendingUpload, StoredObject

PREFIX = "cases/"


@dataclass
class Report:
    """What reconcile found (and, with ``repair``, fixed)."""

    orphan_objects: list[StoredObject] = field(default_factory=list)
    missing_objects: list[DocumentVersion] = field(default_factory=list)
    stale_uploads: list[PendingUpload] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (self.orphan_objects or self.missing_objects or self.stale_uploads)


def reconcile(repair: bool = False, grace: timedelta = timedelta(hours=1)) -> Report:
    """Compare the bucket with the version rows; with ``repair``, delete orphan
    objects, abort stale uploads and mark rows without object as missing.
    Raises ``StorageError`` when the store does not answer."""
    storage = current_app.extensions["storage"]
    cutoff = utcnow() - grace
    rows = {v.storage_key: v for v in db.session.scalars(select(DocumentVersion))}
    kept = {key for key, v in rows.items() if v.status is not VersionStatus.PURGED}
    objects = list(storage.list_objects(PREFIX))
    stored = {o.key for o in objects}
    report = Report(
        orphan_objects=[o for o in objects if o.key not in kept and o.last_modified < cutoff],
        missing_objects=[v for key, v in rows.items()
                         if v.has_object and key not in stored and v.uploaded_at < cutoff],
        stale_uploads=[u for u in storage.pending_uploads(PREFIX) if u.initiated < cutoff],
    )
    if repair and not report.clean:
        for obj in report.orphan_objects:
            storage.delete(obj.key)
        for upload in report.stale_uploads:
            storage.abort_upload(upload.key, upload.upload_id)
        for version in report.missing_objects:
            version.status, version.status_changed_at = VersionStatus.MISSING, utcnow()
            audit.record("document.object_missing", case=version.document.case,
                         target=str(version.uuid))
        audit.record("storage.reconciled", orphans=len(report.orphan_objects),
                     missing=len(report.missing_objects), stale=len(report.stale_uploads))
        db.session.commit()
        report.repaired = True
    return report
