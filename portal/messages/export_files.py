"""Thread exports as files: asked for on the thread page, laid out by a job,
stored encrypted in the vault, downloaded by the person who asked until
they expire.

A long thread takes seconds to lay out as a PDF; that never happens inside a
request (a worker would be held, a proxy would time out). ``ask`` records
the wish and enqueues ``prepare``; the page says "being prepared" until the
row is ``ready``; ``open_file`` serves it; ``purge`` deletes what expired and
enqueues again what a lost job left waiting.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit, jobs, vault
from portal.errors import ServiceError
from portal.evidence.files import ascii_name
from portal.extensions import db
from portal.messages.export import FORMATS, as_pdf, as_text, audience_name, transcript
from portal.messages.permissions import can_export
from portal.models import (ExportState, MessageThread, ObjectState, Purpose, ThreadExport,
                           User)
from portal.models.types import utcnow
from portal.storage import StorageError

log = logging.getLogger(__name__)
ATTEMPTS = 3  # the job's tries before the export is marked failed
STUCK_AFTER = timedelta(minutes=10)  # preparing this long: its job was lost
PURGE_BATCH = 200


class Expired(ServiceError):
    """The export's file was deleted when it expired."""


def _pending_key(actor: User, thread: MessageThread, fmt: str, internal: bool) -> str:
    return f"{thread.id}:{actor.id}:{fmt}:{int(internal)}"


def ask(actor: User, thread: MessageThread, fmt: str, internal: bool) -> ThreadExport:
    """The export of ``thread`` as ``fmt`` (a key of ``export.FORMATS``) that
    ``actor`` asked for: a new one, enqueued once committed and audited as
    ``messages.export_requested``; or, when the same one is still being
    prepared (a double click, ten tabs), that one: one job, one file.
    Raises ``ServiceError`` unless ``actor`` may export the case's threads."""
    if not can_export(actor, thread.case):
        raise ServiceError(_l("You do not have permission to do that."))
    key = _pending_key(actor, thread, fmt, internal)
    for _attempt in range(2):
        waiting = db.session.scalar(select(ThreadExport).where(ThreadExport.pending_key == key))
        if waiting is not None:
            return waiting
        export = ThreadExport(uuid=uuid.uuid4(), thread=thread, requested_by=actor, format=fmt,
                              internal=internal, pending_key=key)
        db.session.add(export)
        audit.record("messages.export_requested", actor=actor, case=thread.case,
                     target=str(thread.uuid), format=FORMATS[fmt][1], internal=internal)
        jobs.after_commit(db.session, _enqueue, export.uuid)
        try:
            db.session.commit()
        except IntegrityError:  # asked at the same moment elsewhere: that one stands
            db.session.rollback()
            continue
        return export
    raise ServiceError(_l("The export could not be started. Please try again."))


def _enqueue(export_uuid) -> None:
    from portal.messages import tasks  # tasks imports this module
    tasks.prepare_export(str(export_uuid))


def prepare(export_uuid: str) -> None:
    """Lay out and store one export (the job). A store outage is retried
    (raised) until ``ATTEMPTS`` tries, then the export is marked failed; a
    person who lost access meanwhile gets nothing."""
    export = db.session.scalar(select(ThreadExport).where(
        ThreadExport.uuid == uuid.UUID(export_uuid)))
    if export is None or export.state is not ExportState.PREPARING:
        return  # done already (a job enqueued twice by the sweep)
    actor, thread = export.requested_by, export.thread
    if not actor.active or not can_export(actor, thread.case):
        _fail(export, "no_access")
        return
    try:
        stored = _store(export)
    except (StorageError, OSError):
        export.attempts += 1
        if export.attempts >= ATTEMPTS:
            _fail(export, "store")
            return
        db.session.commit()
        raise  # Huey tries again later
    db.session.add(stored)
    export.stored_object, export.state = stored, ExportState.READY
    export.pending_key, export.expires_at = None, utcnow() + timedelta(
        hours=current_app.config["EXPORT_HOURS"])
    audit.record("messages.exported", actor=actor, case=thread.case, target=str(thread.uuid),
                 format=FORMATS[export.format][1], internal=export.internal,
                 export=str(export.uuid))
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        vault.delete(stored)  # no row will ever point at it
        raise


def _store(export: ThreadExport):
    """The export laid out and put in the vault (its row, not yet added)."""
    actor, thread = export.requested_by, export.thread
    content_type = FORMATS[export.format][0]
    record = transcript(actor, thread, export.internal)
    content = as_pdf(record) if export.format == "pdf" else as_text(record).encode("utf-8")
    # The reference is the firm's, but a download header takes ASCII only.
    export.filename = ascii_name(f"{record.case_reference}-messages-{audience_name(thread)}-"
                                 f"{record.exported_at:%Y-%m-%d}.{export.format}")
    return vault.put([content], case=thread.case, stored_by=actor,
                     purpose=Purpose.THREAD_EXPORT, content_type=content_type,
                     max_size=len(content), room=len(content))


def _fail(export: ThreadExport, why: str) -> None:
    export.state, export.pending_key = ExportState.FAILED, None
    audit.record("messages.export_failed", actor=export.requested_by, case=export.thread.case,
                 target=str(export.thread.uuid), export=str(export.uuid), why=why)
    db.session.commit()


def recent(actor: User, thread: MessageThread, limit: int = 3) -> list[ThreadExport]:
    """``actor``'s latest exports of ``thread`` still being prepared or
    ready (one query), for the thread page."""
    return list(db.session.scalars(
        select(ThreadExport)
        .where(ThreadExport.thread_id == thread.id, ThreadExport.requested_by_id == actor.id,
               ThreadExport.state.in_((ExportState.PREPARING, ExportState.READY)),
               (ThreadExport.expires_at.is_(None)) | (ThreadExport.expires_at > utcnow()))
        .order_by(ThreadExport.id.desc()).limit(limit)))


def is_expired(export: ThreadExport) -> bool:
    """Whether the export's file is gone or past its time (the purge may lag)."""
    return export.state is ExportState.EXPIRED or (
        export.state is ExportState.READY and export.expires_at <= utcnow())


def open_file(actor: User, export: ThreadExport) -> Iterator[bytes]:
    """Plaintext of a ready export as chunks (checked as ``vault.open``
    does), its download audited. Raises ``Expired`` once it expired,
    ``ServiceError`` when it is not ready, ``StorageError`` when the store
    is down, ``vault.IntegrityFailure`` when the object is not what was stored."""
    if is_expired(export):
        raise Expired(_l("This export has expired and was deleted. Ask for a new one from "
                         "the messages page."))
    if export.state is not ExportState.READY:
        raise ServiceError(_l("This export is not ready."))
    chunks = vault.open(export.stored_object)
    audit.record("messages.export_downloaded", actor=actor, case=export.thread.case,
                 target=str(export.thread.uuid), export=str(export.uuid))
    db.session.commit()
    return chunks


def purge() -> int:
    """Delete the files of exports past their time (the row stays, as the
    record, marked expired), and enqueue again the exports whose job was
    lost. Returns how many files were deleted."""
    now = utcnow()
    expired = list(db.session.scalars(
        select(ThreadExport).where(ThreadExport.state == ExportState.READY,
                                   ThreadExport.expires_at <= now)
        .order_by(ThreadExport.expires_at).limit(PURGE_BATCH)))
    for export in expired:
        export.state = ExportState.EXPIRED
        export.stored_object.state = ObjectState.DELETED
    # Committed first: no row promises a file that is gone (see ``vault.delete``).
    db.session.commit()
    for export in expired:
        vault.delete(export.stored_object)
    lost = db.session.scalars(
        select(ThreadExport.uuid).where(ThreadExport.state == ExportState.PREPARING,
                                        ThreadExport.requested_at < now - STUCK_AFTER)
        .order_by(ThreadExport.id).limit(PURGE_BATCH)).all()
    for export_uuid in lost:
        _enqueue(export_uuid)
    return len(expired)
