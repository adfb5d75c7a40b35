"""Resumable upload rules: start an upload, take a piece, end it, put it together.

An upload is one file to one target (``targets.Target``). Each PATCH body is
stored as a piece of its own through the vault (encrypted, S3 multipart),
and the upload's offset moves only when its piece is stored, by a
conditional update, so a PATCH cut off midway, or two at once, never leave a
gap or an overlap. A PATCH cut off midway keeps what arrived (as tus asks;
TCP and TLS deliver an intact prefix), unless it carried a checksum that
can no longer be checked: a dropped line loses only the bytes in flight,
however large the PATCH. When the last byte is in, ``assemble`` records
the file with the evidence rules a form upload follows: a file that came
whole in one PATCH is that piece, adopted as it is by the PATCH itself;
pieces are streamed, decrypted, through ``vault.put`` into one object by a
job, and deleted.
Plaintext never touches a disk.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
from datetime import timedelta
from typing import BinaryIO, Iterator

from flask import current_app, has_request_context, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import ClientDisconnected

from portal import jobs, vault
from portal.evidence import services as evidence
from portal.evidence.files import SNIFF_BYTES, detect_type, safe_filename
from portal.extensions import db
from portal.i18n import filesize
from portal.models import (ObjectState, Purpose, ResumableUpload, StoredObject, UploadPiece,
                           UploadState, User)
from portal.models.types import utcnow
from portal.permissions import deny, parse_uuid
from portal.storage import StorageError
from portal.uploads.targets import Target

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
# The checksums a client may send with a piece (tus requires sha1); they
# guard against a piece damaged on the way, not against an attacker.
CHECKSUMS = {"sha1": lambda: hashlib.sha1(usedforsecurity=False), "sha256": hashlib.sha256}
# A finished upload waits this long for its job before the sweep asks again.
ASSEMBLY_GRACE = timedelta(minutes=15)

CHECKSUM_MISMATCH = 460  # tus's own status: the piece was dropped, send it again


class Refused(Exception):
    """The request cannot be met: ``status`` for the client, ``message`` for the person."""

    def __init__(self, status: int, message=None):
        super().__init__(status, message)
        self.status = status
        self.message = message


class BrokenOff(Exception):
    """The client stopped sending before its piece ended (what arrived is
    kept when it can be trusted: see ``receive``)."""


def create(actor: User, target: Target, filename: str, length: int) -> ResumableUpload:
    """Start an upload of ``length`` bytes to ``target``, checked against the
    per-file limit and the room left in the case before any byte is sent.
    Raises ``Refused``."""
    limits = evidence.limits(target.case)
    if length <= 0:
        raise Refused(400, _l("This file is empty."))
    if length > limits.max_file:
        raise Refused(413, _l("This file is larger than the limit of %(limit)s.",
                              limit=filesize(limits.max_file)))
    if length > limits.remaining:
        raise Refused(413, evidence.no_room(limits.remaining))
    upload = ResumableUpload(
        case=target.case, uploaded_by=actor, document=target.document, request=target.request,
        message=target.message, filename=safe_filename(filename), length=length,
        uploaded_from=request.remote_addr if has_request_context() else None,
        expires_at=utcnow() + timedelta(hours=current_app.config["TUS_RESUME_HOURS"]))
    db.session.add(upload)
    db.session.commit()
    return upload


def get_own_or_404(actor: User, upload_uuid: str) -> ResumableUpload:
    """``actor``'s own upload ``upload_uuid`` in a case they may still open;
    404 for anyone else's (audited)."""
    from portal.cases.permissions import get_case_or_404
    wanted = parse_uuid(upload_uuid)
    upload = db.session.scalar(select(ResumableUpload).where(ResumableUpload.uuid == wanted))
    if upload is None or upload.uploaded_by_id != actor.id:
        deny(actor, upload.case if upload else None, "upload.access_denied", str(wanted),
             upload is not None)
    get_case_or_404(upload.case.uuid, actor)  # access to the case may have ended midway
    return upload


def check_open(upload: ResumableUpload) -> None:
    """Raise ``Refused`` (410) for an upload that takes no more bytes: ended,
    failed, or past its time."""
    if upload.state is UploadState.FAILED:
        raise Refused(410, upload.error)
    if upload.state is UploadState.ENDED or upload.expires_at < utcnow():
        raise Refused(410, _l("This upload was stopped or waited too long. Please send the "
                              "file again."))


def receive(actor: User, upload: ResumableUpload, offset: int, stream: BinaryIO,
            checksum: tuple[str, bytes] | None = None) -> int:
    """Store the body in ``stream`` as the piece of ``upload`` starting at
    ``offset``; return the new offset. The first piece's bytes are checked
    for the file's type. Raises ``Refused`` (409 for another offset, 413,
    415, 460 for a checksum mismatch, 503 when the store is down) and
    ``BrokenOff`` when the client stopped midway: what arrived is kept as
    a piece (the client asks where to go on), but not when the piece came
    with a checksum, which cannot be checked then. Nothing of a refused
    piece is kept."""
    check_open(upload)
    if upload.state is not UploadState.RECEIVING or offset != upload.offset:
        raise Refused(409, _l("This part of the file was already received."))
    upload_id, case, length = upload.id, upload.case, upload.length
    broken: list[bool] = []
    chunks = _read(stream, None if checksum else broken)
    content_type = upload.content_type
    head = b""
    if content_type is None and offset == 0:
        head = evidence.read_head(chunks)
        if len(head) >= min(SNIFF_BYTES, length):  # else the type is told once put together
            content_type = detect_type(head)
            if content_type is None:
                _fail(upload, evidence.TYPE_REFUSED)
                raise Refused(415, evidence.TYPE_REFUSED)
    chunks = itertools.chain([head], chunks) if head else chunks
    hasher = CHECKSUMS[checksum[0]]() if checksum else None
    room = evidence.limits(case).remaining
    db.session.commit()  # no transaction open while the piece streams in
    try:
        stored = vault.put(_hashed(chunks, hasher), case=case, stored_by=actor,
                           purpose=Purpose.UPLOAD_PIECE, content_type="application/octet-stream",
                           max_size=length - offset, room=room)
    except vault.TooLarge as error:
        raise Refused(413, _l("More bytes arrived than the file was said to have.")) from error
    except vault.NoRoom as error:
        raise Refused(413, evidence.no_room(error.room)) from error
    except StorageError as error:
        log.error("storage failed during a resumable upload to case %s: %s", case.uuid, error)
        raise Refused(503, evidence.STORAGE_DOWN) from error
    if stored.size == 0:
        vault.delete(stored)
        if broken:
            raise BrokenOff()
        return offset
    if hasher is not None and hasher.digest() != checksum[1]:
        vault.delete(stored)
        raise Refused(CHECKSUM_MISMATCH, _l("This part of the file was damaged on the way. "
                                            "It will be sent again."))
    # A file that came whole in this PATCH is recorded now, as a form's file
    # is (no copy to make); pieces are put together by a job.
    whole = offset == 0 and stored.size == length and content_type is not None
    moved = _keep_piece(upload_id, offset, stored, content_type,
                        done=offset + stored.size == length, later=not whole)
    if broken:
        raise BrokenOff()  # nobody reads the answer; the client will ask where to go on
    if whole:
        try:
            assemble(upload_id)
        except SQLAlchemyError as error:  # the bytes are safe: the sweep hands it to a job
            db.session.rollback()
            log.error("resumable upload %s kept for the sweep: %s", upload_id, error)
    return moved


def _keep_piece(upload_id: int, offset: int, stored: StoredObject, content_type: str | None,
                done: bool, later: bool = True) -> int:
    """Move the offset past ``stored`` unless another request moved it first
    (then the piece is deleted and 409 raised); on the last piece, hand the
    upload to the assembling job (``later``; else the caller assembles it,
    and the sweep hands it to a job if that fails)."""
    values = {"offset": offset + stored.size}
    if content_type is not None:
        values["content_type"] = content_type
    if done:
        values.update(state=UploadState.SAVING, expires_at=utcnow() + ASSEMBLY_GRACE)
    moved = db.session.execute(
        update(ResumableUpload)
        .where(ResumableUpload.id == upload_id, ResumableUpload.offset == offset,
               ResumableUpload.state == UploadState.RECEIVING)
        .values(**values).execution_options(synchronize_session=False))
    if moved.rowcount != 1:  # another PATCH came first, or the upload ended meanwhile
        _drop(stored)
    db.session.add(stored)
    db.session.add(UploadPiece(upload_id=upload_id, start=offset, stored_object=stored,
                               size=stored.size))
    if done and later:
        from portal.uploads import tasks  # the tasks call back into this module
        jobs.after_commit(db.session, tasks.assemble, upload_id)
    try:
        db.session.commit()
    except IntegrityError:
        _drop(stored)
    return offset + stored.size


def _drop(stored: StoredObject):
    db.session.rollback()
    vault.delete(stored)
    raise Refused(409, _l("This part of the file was already received."))


def terminate(upload: ResumableUpload) -> None:
    """End an unfinished upload at its client's request and delete its
    pieces; a finished one is left as it is."""
    if upload.state is UploadState.RECEIVING:
        _end(upload, UploadState.ENDED)


def assemble(upload_id: int) -> None:
    """Put a finished upload together: its pieces, decrypted in order,
    through ``vault.put`` into one object, recorded by the evidence rules
    (new document, version, request answer or attachment), then the pieces
    deleted. A refusal (its type, the quota, a request closed meanwhile) is
    kept in the uploader's language. Idempotent: the upload's UUID is its
    submission id. Raises ``StorageError`` for the job to retry."""
    upload = db.session.get(ResumableUpload, upload_id)
    if upload is None or upload.state is not UploadState.SAVING:
        return
    with force_locale(upload.uploaded_by.language):
        _assemble(upload)


def _assemble(upload: ResumableUpload) -> None:
    pieces = list(upload.pieces)
    if sum(piece.size for piece in pieces) != upload.length:
        log.error("resumable upload %s has %d of %d bytes in its pieces", upload.uuid,
                  sum(piece.size for piece in pieces), upload.length)
        _fail(upload, evidence.BROKEN_OFF)
        return
    if len(pieces) == 1 and upload.content_type is not None:
        _adopt(upload, pieces[0].stored_object)
        return
    objects = [piece.stored_object for piece in pieces]
    actor, case, length = upload.uploaded_by, upload.case, upload.length
    content_type = upload.content_type
    try:
        chunks = itertools.chain.from_iterable(vault.open(stored) for stored in objects)
        if content_type is None:
            head = evidence.read_head(chunks)
            content_type = detect_type(head)
            if content_type is None:
                _fail(upload, evidence.TYPE_REFUSED)
                return
            chunks = itertools.chain([head], chunks)
        db.session.commit()  # no transaction open while the file streams
        stored = vault.put(chunks, case=case, stored_by=actor, purpose=Purpose.DOCUMENT_VERSION,
                           content_type=content_type, max_size=length, room=length)
    except vault.IntegrityFailure:
        log.error("a piece of resumable upload %s failed its check", upload.uuid)
        _fail(upload, evidence.BROKEN_OFF)
        return
    # Saved with the version, in its transaction: the pieces stop counting
    # against the quota the moment the whole file starts to.
    upload.state = UploadState.SAVED
    for piece in objects:
        piece.state = ObjectState.DELETED
    result = evidence.record_stored(actor, case, stored, filename=upload.filename,
                                    submission_id=upload.uuid, document=upload.document,
                                    request=upload.request, message=upload.message,
                                    address=upload.uploaded_from)
    if result.error is not None:
        _fail(upload, result.error)
        return
    if result.version is not None:
        upload.version = result.version
    db.session.commit()
    for piece in objects:
        vault.delete(piece)


def _adopt(upload: ResumableUpload, piece: StoredObject) -> None:
    """Record a file that came as one piece: that piece is already the whole
    file, encrypted under its own UUID with its SHA-256 (what ``vault.put``
    would make of it again), so it becomes the version's object as it is:
    a fast line sends a file in one PATCH and nothing is copied."""
    piece.purpose, piece.content_type = Purpose.DOCUMENT_VERSION, upload.content_type
    upload.state = UploadState.SAVED
    result = evidence.record_stored(upload.uploaded_by, upload.case, piece,
                                    filename=upload.filename, submission_id=upload.uuid,
                                    document=upload.document, request=upload.request,
                                    message=upload.message, address=upload.uploaded_from)
    if result.error is not None:
        _fail(upload, result.error)
        return
    if result.version is None:  # recorded before (a duplicate): the piece was deleted
        piece.state = ObjectState.DELETED
    else:
        upload.version = result.version
    db.session.commit()


def status(upload: ResumableUpload) -> dict:
    """What the uploader's page shows once the bytes are in."""
    state = upload.state
    if state is UploadState.RECEIVING and upload.expires_at < utcnow():
        state = UploadState.ENDED
    return {"state": state.value, "message": upload.error,
            "offset": upload.offset, "length": upload.length}


def sweep() -> None:
    """End unfinished uploads past their time (their pieces deleted), and
    hand finished ones whose job was lost (the queue or the store was down)
    to a new job."""
    from portal.uploads import tasks
    now = utcnow()
    expired = db.session.scalars(select(ResumableUpload).where(
        ResumableUpload.state == UploadState.RECEIVING, ResumableUpload.expires_at < now)
        .limit(500)).all()
    for upload in expired:
        _end(upload, UploadState.ENDED)
    waiting = db.session.scalars(select(ResumableUpload).where(
        ResumableUpload.state == UploadState.SAVING, ResumableUpload.expires_at < now)
        .limit(500)).all()
    for upload in waiting:
        upload.expires_at = now + ASSEMBLY_GRACE
        jobs.after_commit(db.session, tasks.assemble, upload.id)
    db.session.commit()


def _fail(upload: ResumableUpload, reason) -> None:
    upload.error = str(reason)
    _end(upload, UploadState.FAILED)


def _end(upload: ResumableUpload, state: UploadState) -> None:
    """Set ``state`` and delete the pieces (rows first, so no row promises a
    piece that is gone; a piece the store cannot delete now is left to
    reconcile)."""
    upload.state = state
    objects = [piece.stored_object for piece in upload.pieces]
    for stored in objects:
        stored.state = ObjectState.DELETED
    db.session.commit()
    for stored in objects:
        vault.delete(stored)


def _read(stream: BinaryIO, broken: list[bool] | None) -> Iterator[bytes]:
    """The body in chunks. When the client stops midway: with ``broken`` (a
    list to note it in) the chunks just end there, so what arrived can be
    kept; without, ``BrokenOff`` is raised and the piece is dropped."""
    try:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
    except ClientDisconnected as error:
        if broken is None:
            raise BrokenOff() from error
        broken.append(True)


def _hashed(chunks: Iterator[bytes], hasher) -> Iterator[bytes]:
    for chunk in chunks:
        if hasher is not None:
            hasher.update(chunk)
        yield chunk
