"""Finding and repairing disagreements between the bucket and the
``stored_objects`` table.

Three kinds: an object with no stored-object row expecting it (an upload
whose rows were never written, or a purge the store did not carry out), a row
whose object is missing, and a multipart upload never completed nor aborted.
Objects and uploads younger than the grace period are left alone: they may
belong to an upload in progress.

Two periodic jobs (``portal.evidence.tasks``) use it: an hourly one aborts
unfinished uploads (``abort_stale_uploads``), and a weekly one reports what
reconcile finds to the admins (``report_to_admins``) without repairing it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from portal import audit, notify
from portal.extensions import db
from portal.models import (DocumentVersion, ObjectState, Purpose, Role, StoredObject, User,
                           VersionStatus)
from portal.models.types import utcnow
from portal.storage import PendingUpload
from portal.storage import ListedObject

PREFIX = "cases/"


@dataclass
class Report:
    """What reconcile found (and, with ``repair``, fixed)."""

    orphan_objects: list[ListedObject] = field(default_factory=list)
    missing_objects: list[StoredObject] = field(default_factory=list)
    stale_uploads: list[PendingUpload] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (self.orphan_objects or self.missing_objects or self.stale_uploads)


def reconcile(repair: bool = False, grace: timedelta = timedelta(hours=1)) -> Report:
    """Compare the bucket with the stored-object rows; with ``repair``, delete
    orphan objects, abort stale uploads and mark rows without object (and
    what owns them) as missing. Raises ``StorageError`` when the store does
    not answer."""
    storage = current_app.extensions["storage"]
    cutoff = utcnow() - grace
    rows = {o.key: o for o in db.session.scalars(select(StoredObject))}
    # A missing object that turns up again is no orphan: only a deleted one is.
    kept = {key for key, o in rows.items() if o.state is not ObjectState.DELETED}
    objects = list(storage.list_objects(PREFIX))
    stored = {o.key for o in objects}
    report = Report(
        orphan_objects=[o for o in objects if o.key not in kept and o.last_modified < cutoff],
        missing_objects=[o for key, o in rows.items()
                         if o.in_store and key not in stored and o.stored_at < cutoff],
        stale_uploads=[u for u in storage.pending_uploads(PREFIX) if u.initiated < cutoff],
    )
    if repair and not report.clean:
        for obj in report.orphan_objects:
            storage.delete(obj.key)
        for upload in report.stale_uploads:
            storage.abort_upload(upload.key, upload.upload_id)
        for missing in report.missing_objects:
            missing.state = ObjectState.MISSING
            _mark_owner_missing(missing)
        audit.record("storage.reconciled", orphans=len(report.orphan_objects),
                     missing=len(report.missing_objects), stale=len(report.stale_uploads))
        db.session.commit()
        report.repaired = True
    return report


def abort_stale_uploads(older_than: timedelta = timedelta(days=1)) -> int:
    """Abort the multipart uploads under ``PREFIX`` started more than
    ``older_than`` ago; returns how many were aborted. Raises
    ``StorageError`` when the store does not answer the listing."""
    storage = current_app.extensions["storage"]
    cutoff = utcnow() - older_than
    # Listed in full first: aborting while paging would move the pages.
    stale = [u for u in storage.pending_uploads(PREFIX) if u.initiated < cutoff]
    # An upload the store would not abort now is tried again next run.
    aborted = sum(1 for u in stale if storage.abort_upload(u.key, u.upload_id))
    if aborted:
        audit.record("storage.uploads_aborted", count=aborted)
        db.session.commit()
    return aborted


def report_to_admins(grace: timedelta = timedelta(hours=1)) -> Report:
    """Run ``reconcile`` (report only) and, when bucket and database
    disagree, email every active admin the counts and how to repair them,
    in their language; nothing is sent when they agree. Returns the report.
    Raises ``StorageError`` when the store does not answer."""
    report = reconcile(grace=grace)
    if report.clean:
        return report
    counts = {"orphans": len(report.orphan_objects), "missing": len(report.missing_objects),
              "stale": len(report.stale_uploads)}
    admins = db.session.scalars(select(User).where(User.role == Role.ADMIN,
                                                   User.active.is_(True)))
    for admin in admins:
        notify.queue_storage_report(admin.email, admin.language, **counts)
    # Recorded even with no admin to tell: the trail shows the store disagreed.
    audit.record("storage.reconcile_reported", **counts)
    db.session.commit()
    return report


def _mark_owner_missing(missing: StoredObject) -> None:
    """Tell the row that owns a missing object, so the pages say so."""
    if missing.purpose is Purpose.DOCUMENT_VERSION:
        version = db.session.scalar(select(DocumentVersion).where(
            DocumentVersion.stored_object_id == missing.id))
        if version is not None:
            version.status, version.status_changed_at = VersionStatus.MISSING, utcnow()
            audit.record("document.object_missing", case=missing.case, target=str(version.uuid))
            return
    audit.record("storage.object_missing", case=missing.case, target=str(missing.uuid))
