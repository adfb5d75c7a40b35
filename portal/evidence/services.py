"""Evidence rules: storing uploads, withdrawal and purge (downloads: downloads.py).

An upload streams through the type check on its first bytes into the vault
(SHA-256, encryption, S3 multipart upload); the version row and its stored
object's row are written only after the object is complete, so no version is
ever shown without its object.
"""
from __future__ import annotations

import itertools
import logging
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from portal import audit, vault
from portal.i18n import filesize
from portal.errors import ServiceError
from portal.evidence.files import SNIFF_BYTES, detect_type, download_name, safe_filename
from portal.evidence.multipart import BadBody, FilePart
from portal.evidence.permissions import can_purge, can_withdraw
from portal.extensions import db
from portal.models import (Case, Document, DocumentRequest, DocumentVersion, Message,
                           ObjectState, Purpose, StoredObject, User, VersionStatus)
from portal.models.types import utcnow
from portal.scanning import services as scanning
from portal.storage import StorageError

log = logging.getLogger(__name__)

# Files stored from one form. The body is read as it arrives, so how many
# files it holds is known only at its end: the first ones are stored, the
# rest are read past and named as not saved (the form states the limit).
MAX_FILES_PER_FORM = 20
# Of the files over the limit, this many are named in the message.
OVER_LIMIT_NAMES = 5

ONE_FILE_ONLY = _l("A new version is one file, and this upload held several, so none of them "
                  "was saved. Please choose one file.")
TYPE_REFUSED = _l("This kind of file is not accepted. Please send a PDF, a photo (JPEG, PNG, "
                  "HEIC, TIFF, WebP), a Word document (DOCX) or a video (MP4, MOV).")
STORAGE_DOWN = _l("The document store is not answering right now, so this file was not saved. "
                  "Please try again in a few minutes.")


@dataclass
class UploadResult:
    """What became of one file of an upload form."""

    filename: str
    version: DocumentVersion | None = None
    error: str | None = None
    duplicate: bool = False  # the same form was already received


@dataclass
class UploadReport:
    """What became of an upload form: each file considered, in order; the
    files past ``MAX_FILES_PER_FORM`` (how many, and the first names); and,
    when the body turned out not to be a well-formed form, why reading it
    stopped (files before that point keep their outcomes)."""

    results: list[UploadResult] = field(default_factory=list)
    over_limit: int = 0
    over_limit_names: list[str] = field(default_factory=list)
    broken: BadBody | None = None


@dataclass(frozen=True)
class Limits:
    """Upload limits of a case, for the form and for the checks."""

    max_file: int
    quota: int
    used: int
    max_files: int = MAX_FILES_PER_FORM

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.used)


def limits(case: Case) -> Limits:
    """The per-file limit and the case's quota (deleted objects and what the
    firm makes, previews and thread exports, do not count)."""
    used = db.session.scalar(
        select(func.coalesce(func.sum(StoredObject.size), 0))
        .where(StoredObject.case_id == case.id, StoredObject.state != ObjectState.DELETED,
               StoredObject.purpose.not_in((Purpose.PREVIEW, Purpose.THREAD_EXPORT))))
    cfg = current_app.config
    return Limits(cfg["UPLOAD_MAX_FILE_BYTES"], cfg["CASE_QUOTA_BYTES"], int(used))


BROKEN_OFF = _l("The upload broke off while this file was being sent, so it was not saved.")


def no_room(left: int):
    """The refusal of a file that does not fit in the ``left`` bytes of the case."""
    return _l("This file does not fit in the case's remaining storage (%(left)s). "
              "Please contact your attorney.", left=filesize(left))


class _Refused(Exception):
    def __init__(self, message):
        self.message = message


@dataclass(frozen=True)
class _Origin:
    """Where a file came from: the form submission and its position in the
    form, so that a resubmitted form is recorded once."""

    submission_id: uuid.UUID | None
    part_index: int


def store_uploads(actor: User, case: Case, files: Iterator[FilePart],
                  submission_id: uuid.UUID | None,
                  document: Document | None = None,
                  request: DocumentRequest | None = None,
                  message: Message | None = None) -> UploadReport:
    """Store the files of an upload form, at most ``MAX_FILES_PER_FORM`` of
    them (the rest are read past and reported); with ``document``, the form
    carries one file, its new version (a form with more is refused whole: the
    first file, already in the store when another turns up, is deleted before
    anything is recorded); with ``request``, each answers that
    document request (``portal.requests.services.record_submission``, whose
    refusal stores nothing; the caller checks ``check_upload`` first); with
    ``message``, each new document is that message's attachment. Stops at
    the first storage failure (the rest of the body is left unread) and
    reports it in the last result. A body
    that breaks off or turns out malformed stops the reading too: the file
    being read is reported as not saved and ``broken`` says why.

    Raises ``SQLAlchemyError`` when the database fails; nothing half-done
    remains in the database or the store either way.
    """
    report = UploadReport()
    remaining = limits(case).remaining
    considered = 0
    current: FilePart | None = None  # the file being stored, should the body break
    others: list[str] = []  # for a new version: the files after the first

    def more_files() -> bool:
        for other in files:
            if other.filename:
                others.append(safe_filename(other.filename))
            other.drain()
        return bool(others)

    try:
        for index, part in enumerate(files):
            if not part.filename:  # the browser sends an empty part when no file is chosen
                part.drain()
                continue
            if document is not None and considered:  # the first was refused: so are these
                report.results.append(UploadResult(safe_filename(part.filename),
                                                   error=ONE_FILE_ONLY))
                part.drain()
                continue
            if considered >= MAX_FILES_PER_FORM:
                report.over_limit += 1
                if len(report.over_limit_names) < OVER_LIMIT_NAMES:
                    report.over_limit_names.append(safe_filename(part.filename))
                part.drain()
                continue
            considered += 1
            current = part
            result = _store_file(actor, case, part, origin=_Origin(submission_id, index),
                                 document=document, request=request, room=remaining,
                                 message=message,
                                 refuse_if=more_files if document is not None else None)
            current = None
            report.results.append(result)
            report.results += [UploadResult(name, error=ONE_FILE_ONLY) for name in others]
            if result.version is not None:
                remaining -= result.version.size
            if result.error is STORAGE_DOWN:
                break
    except BadBody as error:
        log.warning("upload to case %s stopped: the body is not a well-formed form (%s: %s)",
                    case.uuid, type(error).__name__, error)
        report.broken = error
        if current is not None:
            report.results.append(UploadResult(safe_filename(current.filename),
                                               error=BROKEN_OFF))
    return report


def _already_received(origin: _Origin) -> bool:
    return origin.submission_id is not None and db.session.scalar(
        select(DocumentVersion.id).where(DocumentVersion.submission_id == origin.submission_id,
                                         DocumentVersion.part_index == origin.part_index)
    ) is not None


def read_head(chunks: Iterator[bytes]) -> bytes:
    """The first ``SNIFF_BYTES`` (or more: whole chunks) of ``chunks``, for the type check."""
    head = bytearray()
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return bytes(head)


def _store_file(actor: User, case: Case, part: FilePart, *, origin: _Origin,
                document: Document | None, request: DocumentRequest | None,
                room: int, message: Message | None = None,
                refuse_if: Callable[[], bool] | None = None) -> UploadResult:
    """Check one file's type, store it in the vault and record it; but once
    it is stored, if ``refuse_if()`` says so (it may read the rest of the
    form), delete it and record nothing."""
    name = safe_filename(part.filename)
    if _already_received(origin):
        part.drain()
        return UploadResult(name, duplicate=True)
    chunks = part.chunks()
    head = read_head(chunks)
    try:
        if not head:
            raise _Refused(_l("This file is empty."))
        content_type = detect_type(head[:SNIFF_BYTES])
        if content_type is None:
            raise _Refused(TYPE_REFUSED)
        # Hold no database transaction open while the file streams in: a
        # client on a slow line can take many minutes.
        db.session.commit()
        stored = vault.put(itertools.chain([head], chunks), case=case, stored_by=actor,
                           purpose=Purpose.DOCUMENT_VERSION, content_type=content_type,
                           max_size=current_app.config["UPLOAD_MAX_FILE_BYTES"], room=room)
    except _Refused as refused:
        part.drain()
        return UploadResult(name, error=refused.message)
    except vault.TooLarge as refused:
        part.drain()
        return UploadResult(name, error=_l("This file is larger than the limit of %(limit)s.",
                                           limit=filesize(refused.limit)))
    except vault.NoRoom as refused:
        part.drain()
        return UploadResult(name, error=no_room(refused.room))
    except StorageError as error:
        log.error("storage failed during upload to case %s: %s", case.uuid, error)
        return UploadResult(name, error=STORAGE_DOWN)
    if refuse_if is not None:
        try:
            refused = refuse_if()
        except BadBody:
            vault.delete(stored)
            raise
        if refused:
            vault.delete(stored)
            return UploadResult(name, error=ONE_FILE_ONLY)
    # Named as what it is, wherever it is shown or offered (a PDF sent as
    # x.pdf.html is x.pdf.html.pdf), by the rule the download uses.
    return _record(actor, case, stored, document=document, request=request,
                   filename=download_name(name, content_type), origin=origin, message=message)


def record_stored(actor: User, case: Case, stored: StoredObject, *, filename: str,
                  submission_id: uuid.UUID, document: Document | None = None,
                  request: DocumentRequest | None = None,
                  message: Message | None = None,
                  address: str | None = None) -> UploadResult:
    """Record a file another path stored (a resumable upload, once put
    together) as a form's file is recorded: a new document, a new version of
    ``document``, an answer to ``request`` or an attachment of ``message``,
    named by the download rule. ``submission_id`` makes it idempotent: a
    second call for the same one deletes ``stored`` and reports a duplicate.
    ``address`` is where the upload came from, for the audit trail.
    Deletes ``stored`` whenever nothing is recorded."""
    if _already_received(_Origin(submission_id, 0)):
        vault.delete(stored)
        return UploadResult(filename, duplicate=True)
    return _record(actor, case, stored, document=document, request=request,
                   filename=download_name(safe_filename(filename), stored.content_type),
                   origin=_Origin(submission_id, 0), message=message, address=address)


def _request_document(request: DocumentRequest) -> Document | None:
    """The document earlier uploads to ``request`` went to: a new upload to
    a request is a new version of the same document."""
    return db.session.scalar(select(Document).join(DocumentVersion)
                             .where(DocumentVersion.request_id == request.id).limit(1))


def _record(actor: User, case: Case, stored: StoredObject, *, document: Document | None,
            request: DocumentRequest | None, filename: str, origin: _Origin,
            message: Message | None = None, address: str | None = None) -> UploadResult:
    """Write the stored object's row, its version (same UUID) and, without
    ``document``, a new document, unless uploads that finished meanwhile have
    used up the case's quota or the request was closed meanwhile. Deletes
    the object when no row is written."""
    from portal.requests.services import RequestClosed, record_submission
    try:
        # Each upload checked the quota against what was stored when it began;
        # with the case row locked, two parallel ones cannot both squeeze in.
        db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
        case_limits = limits(case)
        # A resumable upload's single piece, adopted as the file, is already
        # stored and so already counted among what the case uses.
        already = stored.size if inspect(stored).persistent else 0
        if stored.size > case_limits.remaining + already:
            db.session.rollback()
            vault.delete(stored)
            return UploadResult(filename, error=no_room(case_limits.remaining))
        if document is None and request is not None:
            document = _request_document(request)
        if document is None:
            document = Document(case=case, created_by=actor, message=message)
            db.session.add(document)
            number = 1
        else:
            latest = db.session.scalar(select(func.max(DocumentVersion.number))
                                       .where(DocumentVersion.document_id == document.id))
            number = 1 + (latest or 0)
        version = DocumentVersion(uuid=stored.uuid, document=document, number=number,
                                  uploaded_by=actor, filename=filename, stored_object=stored,
                                  submission_id=origin.submission_id,
                                  part_index=origin.part_index,
                                  scan_state=scanning.initial_state())
        db.session.add(version)
        db.session.flush()
        scanning.after_recording(version)
        audit.record("document.uploaded", actor=actor, case=case, target=str(version.uuid),
                     ip_address=address, size=stored.size, content_type=stored.content_type)
        if request is not None:
            record_submission(actor, case, request, version)
        db.session.commit()
    except RequestClosed as closed:
        db.session.rollback()
        vault.delete(stored)
        return UploadResult(filename, error=closed.message)
    except IntegrityError:
        # The same form arrived twice at once and the other request won.
        db.session.rollback()
        vault.delete(stored)
        return UploadResult(filename, duplicate=True)
    except SQLAlchemyError:
        db.session.rollback()
        vault.delete(stored)
        raise
    return UploadResult(filename, version=version)


def withdraw(actor: User, case: Case, version: DocumentVersion) -> None:
    """Withdraw one's own upload: hidden from the client and sponsors, kept
    for the firm. Raises ``ServiceError`` if ``actor`` did not upload it."""
    if not can_withdraw(actor, version):
        if version.uploaded_by_id != actor.id:
            raise ServiceError(_l("Only the person who uploaded a file can withdraw it."))
        raise ServiceError(_l("This file was already withdrawn or removed."))
    version.status = VersionStatus.WITHDRAWN
    version.status_changed_at, version.status_changed_by = utcnow(), actor
    audit.record("document.withdrawn", actor=actor, case=case, target=str(version.uuid))
    db.session.commit()


def purge(actor: User, case: Case, version: DocumentVersion, reason: str) -> bool:
    """Delete the stored file for good (admins only); the row stays, with who
    and why. Returns False when the store could not delete it now (reconcile
    removes it later: the row already says purged).
    Raises ``ServiceError`` when ``actor`` is not an admin or gives no reason."""
    if not can_purge(actor):
        raise ServiceError(_l("You do not have permission to do that."))
    if not reason.strip():
        raise ServiceError(_l("Please give the reason for purging."))
    if version.status is VersionStatus.PURGED:
        raise ServiceError(_l("This file was already purged."))
    version.status = VersionStatus.PURGED
    version.status_changed_at, version.status_changed_by = utcnow(), actor
    version.status_reason = reason.strip()
    # Its previews go with it: they are its pixels.
    objects = [version.stored_object] + [page.stored_object for page in version.previews]
    for stored in objects:
        stored.state = ObjectState.DELETED
    audit.record("document.purged", actor=actor, case=case, target=str(version.uuid),
                 reason=reason.strip())
    db.session.commit()
    return all([vault.delete(stored) for stored in objects])
