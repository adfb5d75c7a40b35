"""Previews: once the scanner clears a version, a job renders its image or
its PDF's first pages into PNG pixels in a sandbox (``sandbox.py``) and
stores each page encrypted in the vault; the original stays untouched.

Only pixels leave the sandbox, so a preview holds no EXIF, GPS, XMP or ICC
data: the firm reviews a client's photo without learning where it was taken.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import vault
from portal.extensions import db
from portal.models import (DocumentVersion, Preview, PreviewState, Purpose, ScanState,
                           StoredObject)
from portal.models.types import utcnow
from portal.previews import sandbox

log = logging.getLogger(__name__)

# Types a preview is made for (the sandbox's own list, which it checks again).
PREVIEWABLE = frozenset({"application/pdf", "image/jpeg", "image/png", "image/heic",
                         "image/heif", "image/tiff", "image/webp"})
# Why a version has no preview, by the reason code kept in ``preview_note``.
NOTES = {
    "unsupported": _l("No preview for this kind of file."),
    "too_large": _l("No preview: the file is too large to show safely."),
    "unreadable": _l("No preview: the file could not be read as an image or a PDF."),
    "limits": _l("No preview: making it took more time or memory than allowed."),
    "sandbox": _l("No preview: the safe viewer is not available on this server."),
    "off": _l("No preview: previews are turned off on this server."),
}


def note(version: DocumentVersion) -> str | None:
    """Why ``version`` has no preview, in the reader's language (None if it has one or will)."""
    if version.preview_state is not PreviewState.NONE:
        return None
    return str(NOTES.get(version.preview_note or "", NOTES["unreadable"]))


def _limits() -> sandbox.Limits:
    config = current_app.config
    return sandbox.Limits(memory_bytes=config["PREVIEW_MEMORY_MB"] << 20,
                          cpu_seconds=config["PREVIEW_CPU_SECONDS"])


def make_previews(version_id: int) -> None:
    """Render and store the previews of one cleared version (the
    ``previews.make`` job); records "no preview" with a reason when the
    sandbox refuses or gives up. Idempotent: a version whose previews are
    made is left alone. Raises ``StorageError`` when the store is down."""
    version = db.session.get(DocumentVersion, version_id)
    if (version is None or version.preview_state is not PreviewState.PENDING
            or not version.downloadable):
        return
    if version.content_type not in PREVIEWABLE:
        _finish(version, [], "unsupported")
        return
    if current_app.config["PREVIEWS"] == "off":
        _finish(version, [], "off")
        return
    stored, case = version.stored_object, version.document.case
    db.session.commit()  # no transaction open while the sandbox works
    outcome = sandbox.render(vault.open(stored), version.content_type, _limits())
    if outcome.reason:
        log.info("no preview for version %s: %s", version.uuid, outcome.reason)
    pages: list[StoredObject] = []
    try:
        for png in outcome.pages:
            pages.append(vault.put([png], case=case, stored_by=version.uploaded_by,
                                   purpose=Purpose.PREVIEW, content_type="image/png",
                                   max_size=len(png), room=len(png)))
    except BaseException:
        for page in pages:
            vault.delete(page)
        raise
    _finish(version, pages, outcome.reason)


def _finish(version: DocumentVersion, pages: list[StoredObject], reason: str | None) -> None:
    """Record the pages (or the reason for none) once; a second run's are deleted."""
    written = db.session.execute(
        update(DocumentVersion)
        .where(DocumentVersion.id == version.id,
               DocumentVersion.preview_state == PreviewState.PENDING)
        .values(preview_state=PreviewState.READY if pages else PreviewState.NONE,
                preview_note=None if pages else (reason or "unreadable"))
        .execution_options(synchronize_session=False)).rowcount
    if written != 1:
        db.session.rollback()
        for page in pages:
            vault.delete(page)
        return
    for number, stored in enumerate(pages, start=1):
        db.session.add(Preview(version_id=version.id, page=number, stored_object=stored))
    db.session.commit()


def sweep(limit: int = 200) -> int:
    """Queue the previews of cleared versions whose job was lost. Returns how many."""
    from portal.previews import tasks  # tasks imports this module
    ids = db.session.scalars(
        select(DocumentVersion.id).where(
            DocumentVersion.preview_state == PreviewState.PENDING,
            DocumentVersion.scan_state.in_([s for s in ScanState if s.cleared]),
            DocumentVersion.uploaded_at < utcnow() - timedelta(minutes=10))
        .order_by(DocumentVersion.id).limit(limit)).all()
    for version_id in ids:
        tasks.make_previews(version_id)
    return len(ids)
