"""Scanning rules: each new version is scanned before anyone but its
uploader opens it (fail closed), the verdict is recorded once, and the
firm acts on a quarantine (``ask_for_new_upload``, ``release``).

A version is stored ``scanning``; the ``scanning.scan`` job streams it,
decrypted, to clamd and records ``clean``, ``infected`` (the signature) or
``failed`` (the scanner was down, timed out or refused the file). With
scanning off it is stored ``unscanned`` and opens at once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import or_, select, update

from portal import audit, jobs, vault
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import (Case, DocumentVersion, ObjectState, RequestState, Role, ScanState,
                           StoredObject, User)
from portal.models.types import utcnow
from portal.scanning import clamav
from portal.vault import IntegrityFailure

log = logging.getLogger(__name__)

# A version still 'scanning' this long after its upload lost its job (a worker
# died mid-scan): the sweep scans it again. Failed scans are retried for a day.
STUCK_AFTER = timedelta(minutes=5)
RETRY_FAILED_FOR = timedelta(days=1)
SWEEP_BATCH = 200


def initial_state() -> ScanState:
    """The state a new version is stored in."""
    return ScanState.SCANNING if clamav.enabled(current_app.config) else ScanState.UNSCANNED


def after_recording(version: DocumentVersion) -> None:
    """Once the version's row commits: scan it, or, stored unscanned, make
    its previews straight away."""
    from portal.previews import tasks as preview_tasks
    from portal.scanning import tasks
    if version.scan_state is ScanState.SCANNING:
        jobs.after_commit(db.session, tasks.scan, version.id)
    else:
        jobs.after_commit(db.session, preview_tasks.make_previews, version.id)


def scan(version_id: int) -> None:
    """Scan one version and record the verdict (the ``scanning.scan`` job).
    Idempotent: the verdict is written only if the state is still the one
    the scan started from, so a job run twice records it once. Raises
    ``StorageError`` when the store is down (the job is retried)."""
    version = db.session.get(DocumentVersion, version_id)
    if version is None or not version.stored or version.scan_state is ScanState.INFECTED:
        return
    config = current_app.config
    started_from = version.scan_state
    if not clamav.enabled(config):
        verdict = None
    else:
        stored = version.stored_object
        db.session.commit()  # no transaction open while clamd reads the file
        try:
            verdict = clamav.scan(vault.open(stored), config)
        except IntegrityFailure:
            verdict = clamav.Verdict(error="integrity check failed")
    _record_verdict(version, started_from, verdict)


def _record_verdict(version: DocumentVersion, started_from: ScanState,
                    verdict: clamav.Verdict | None) -> None:
    if verdict is None:
        new_state, result = ScanState.UNSCANNED, None
    elif verdict.signature:
        new_state, result = ScanState.INFECTED, verdict.signature
    elif verdict.error:
        if started_from in (ScanState.CLEAN, ScanState.RELEASED):
            # A rescan that could not run leaves a file cleared before as it was.
            log.warning("rescan of version %s failed (%s); it stays %s", version.uuid,
                        verdict.error, started_from.value)
            return
        new_state, result = ScanState.FAILED, verdict.error
    else:
        new_state, result = ScanState.CLEAN, None
    written = db.session.execute(
        update(DocumentVersion)
        .where(DocumentVersion.id == version.id, DocumentVersion.scan_state == started_from)
        .values(scan_state=new_state, scan_result=result, scanned_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if written != 1:
        db.session.rollback()  # another run recorded its verdict first
        return
    db.session.refresh(version)
    case = version.document.case
    if new_state.quarantined:
        audit.record("document.quarantined", case=case, target=str(version.uuid),
                     reason=new_state.value, detail=result)
    elif new_state is not started_from:
        audit.record("document.scanned", case=case, target=str(version.uuid),
                     result=new_state.value)
    if new_state.cleared and not started_from.cleared:
        after_recording(version)  # its previews
    db.session.commit()


def rescan(since: datetime) -> int:
    """Scan again every stored version uploaded since ``since`` (after a
    signature update, or once the scanner is back): one job each. Files found
    infected stay quarantined; clean ones stay open meanwhile. Returns how
    many were queued."""
    from portal.scanning import tasks
    ids = db.session.scalars(
        select(DocumentVersion.id).join(DocumentVersion.stored_object)
        .where(DocumentVersion.uploaded_at >= since,
               DocumentVersion.scan_state != ScanState.INFECTED,
               StoredObject.state == ObjectState.STORED)
        .order_by(DocumentVersion.id)).all()
    for version_id in ids:
        tasks.scan(version_id)
    return len(ids)


def sweep() -> int:
    """Queue a scan for versions whose job was lost (still ``scanning`` some
    minutes after upload) and retry those that failed for the scanner's
    sake in the last day. Returns how many were queued."""
    from portal.scanning import tasks
    now = utcnow()
    ids = db.session.scalars(
        select(DocumentVersion.id).where(or_(
            (DocumentVersion.scan_state == ScanState.SCANNING)
            & (DocumentVersion.uploaded_at < now - STUCK_AFTER),
            (DocumentVersion.scan_state == ScanState.FAILED)
            & (DocumentVersion.scanned_at > now - RETRY_FAILED_FOR)
            & (DocumentVersion.scan_result != clamav.TOO_LARGE)))
        .order_by(DocumentVersion.id).limit(SWEEP_BATCH)).all()
    for version_id in ids:
        tasks.scan(version_id)
    return len(ids)


def trouble(config) -> str | None:
    """Why the firm's pages should show the scanning banner: ``off`` when
    scanning is off, ``failing`` when a scan failed for the scanner's sake in
    the last hour or one has waited too long; else None (one query)."""
    if not clamav.enabled(config):
        return "off"
    now = utcnow()
    failing = db.session.scalar(select(DocumentVersion.id).where(or_(
        (DocumentVersion.scan_state == ScanState.FAILED)
        & (DocumentVersion.scanned_at > now - timedelta(hours=1)),
        (DocumentVersion.scan_state == ScanState.SCANNING)
        & (DocumentVersion.uploaded_at < now - STUCK_AFTER - STUCK_AFTER))).limit(1))
    return "failing" if failing is not None else None


def can_release(user: User) -> bool:
    """Opening a file the scanner could not check: admins only."""
    return user.role is Role.ADMIN


def release(actor: User, case: Case, version: DocumentVersion, reason: str) -> None:
    """Open a version quarantined because it could not be scanned (never one
    found infected), with a reason; audited. Raises ``ServiceError``."""
    if not can_release(actor):
        raise ServiceError(_l("You do not have permission to do that."))
    if version.scan_state is ScanState.INFECTED:
        raise ServiceError(_l("A file found infected is never released."))
    if version.scan_state is not ScanState.FAILED:
        raise ServiceError(_l("Only a file that could not be scanned can be released."))
    if not reason.strip():
        raise ServiceError(_l("Please give the reason for releasing this file."))
    version.scan_state, version.scanned_at = ScanState.RELEASED, utcnow()
    audit.record("document.released", actor=actor, case=case, target=str(version.uuid),
                 reason=reason.strip(), detail=version.scan_result)
    after_recording(version)
    db.session.commit()


def quarantine_reason(version: DocumentVersion) -> str:
    """Why a quarantined version is closed, in the current language."""
    if version.scan_state is ScanState.INFECTED:
        return _("the virus check found malware in it (%(name)s)", name=version.scan_result)
    return _("it could not be checked for viruses")


def ask_for_new_upload(actor: User, case: Case, version: DocumentVersion) -> None:
    """The firm's one action on a quarantined file: ask its uploader for a
    new one through the request loop. A file answering a request rejects
    it (the request reopens, with the reason); any other becomes a request
    of its own. Raises ``ServiceError``."""
    from portal.requests import services as requests
    from portal.requests.permissions import can_review
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if not version.scan_state.quarantined:
        raise ServiceError(_l("This file is not quarantined."))
    uploader = version.uploaded_by
    with force_locale(uploader.language):
        reason = _("The file %(name)s could not be accepted: %(why)s. Please send a new copy.",
                   name=version.filename, why=quarantine_reason(version))
        title = _("A new copy of %(name)s", name=version.filename)
    request = version.request
    if (request is not None and request.state is RequestState.SUBMITTED
            and request.versions[-1].id == version.id):
        requests.decide(actor, case, request, "reject", reason, seen=str(version.uuid))
        return
    requests.create_request(actor, case, addressee=uploader, title=title, instructions=reason,
                            due_on=None, required=True)


def label(version: DocumentVersion) -> str | None:
    """What a page says of the version's check, in the reader's language
    (None once it is cleared)."""
    state = version.scan_state
    if state is ScanState.SCANNING:
        return _("Being checked for viruses…")
    if state.quarantined:
        return _("Quarantined: %(why)s.", why=quarantine_reason(version))
    return None
