"""The vault: the one module that combines encryption and storage.

``put`` streams plaintext through SHA-256, Tink encryption and an S3
multipart upload and returns the ``StoredObject`` row to record; ``open``
streams it back, decrypted and checked against its SHA-256; ``delete``
removes it from the bucket. Whatever owns a file (a document version, later a
message attachment or a preview) is a row pointing at a stored object, so no
feature copies this pipeline. Memory stays bounded by the S3 part size.
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
import uuid
from typing import Iterable, Iterator

from flask import current_app

from portal import metrics
from portal.models import Case, ObjectState, Purpose, StoredObject, User
from portal.storage import StorageError

log = logging.getLogger(__name__)
READ_CHUNK = 1 << 20


class TooLarge(Exception):
    """The stream passed the per-file limit (``limit`` bytes); nothing was stored."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class NoRoom(Exception):
    """The stream passed the room left (``room`` bytes); nothing was stored."""

    def __init__(self, room: int):
        super().__init__(room)
        self.room = room


class IntegrityFailure(Exception):
    """A stored object failed decryption or its SHA-256 check."""


def object_key(case: Case, object_uuid: uuid.UUID) -> str:
    """The generated object key; never derived from anything the user typed."""
    return f"cases/{case.uuid}/{object_uuid}"


def put(chunks: Iterable[bytes], *, case: Case, stored_by: User, purpose: Purpose,
        content_type: str, max_size: int, room: int,
        object_uuid: uuid.UUID | None = None) -> StoredObject:
    """Encrypt and store ``chunks`` under a generated key of ``case``; return
    the object's row, not yet added to the session (the caller records it with
    its own row in one transaction, or calls ``delete`` when it cannot).

    ``content_type`` is the type the caller detected from the content. Call it
    with no database transaction open: a client on a slow line can take many
    minutes. Raises ``TooLarge`` past ``max_size`` bytes, ``NoRoom`` past
    ``room`` bytes, ``StorageError`` when S3 fails; in each case the multipart
    upload is aborted and nothing is stored.
    """
    object_uuid = object_uuid or uuid.uuid4()
    key = object_key(case, object_uuid)
    writer = current_app.extensions["storage"].writer(key, current_app.config["UPLOAD_PART_BYTES"])
    digest, size = hashlib.sha256(), 0
    try:
        encrypting = current_app.extensions["crypto"].encrypting_stream(writer, object_uuid)
        for chunk in chunks:
            size += len(chunk)
            if size > max_size:
                raise TooLarge(max_size)
            if size > room:
                raise NoRoom(room)
            digest.update(chunk)
            encrypting.write(chunk)
            writer.upload_ready_parts()
        encrypting.close()
        writer.complete()
    except BaseException:
        writer.abort()
        raise
    metrics.count_upload(purpose, size)
    return StoredObject(uuid=object_uuid, key=key, size=size, sha256=digest.hexdigest(),
                        content_type=content_type, case=case, stored_by=stored_by,
                        purpose=purpose, state=ObjectState.STORED)


def delete(stored: StoredObject) -> bool:
    """Remove ``stored``'s object from the bucket (no error if already gone).

    For a recorded object, commit ``state = DELETED`` first, so no row ever
    promises an object that is gone. Returns False when the store could not
    delete it now: reconcile removes it later, as no row expects it.
    """
    try:
        current_app.extensions["storage"].delete(stored.key)
    except StorageError as error:
        log.error("could not delete object %s, left for reconcile: %s", stored.key, error)
        return False
    return True


def open(stored: StoredObject) -> Iterator[bytes]:  # noqa: A001 (the vault's verb)
    """Plaintext of ``stored`` as chunks, decrypted and SHA-256-checked on the
    way. The first two chunks are read before returning, so a missing or
    tampered object, or a one-chunk file that fails its SHA-256, is reported
    before any byte is sent; a longer one breaks off before its last chunk.

    Raises ``StorageError`` when the store is down and ``IntegrityFailure``
    when the object is not what was stored (also from the returned iterator).
    """
    reader = current_app.extensions["storage"].reader(stored.key)
    plaintext = current_app.extensions["crypto"].decrypting_stream(reader, stored.uuid)
    object_uuid, expected = str(stored.uuid), stored.sha256
    purpose = stored.purpose

    def read() -> bytes:
        try:
            # Tink's BufferedReader (8 KiB) only adds a copy to reads this large.
            return plaintext.raw.read(READ_CHUNK)
        except Exception as error:
            # Tink wraps whatever its source raised: tell an outage from tampering.
            if reader.failure is not None:
                raise reader.failure from error
            log.error("decryption failed for object %s: %s", object_uuid, error)
            raise IntegrityFailure(object_uuid) from error

    first = read()
    following = read() if first else b""
    if not following and hashlib.sha256(first).hexdigest() != expected:
        # The whole file came in one read: refuse it before the headers go out.
        plaintext.close()
        log.error("SHA-256 mismatch on reading object %s", object_uuid)
        raise IntegrityFailure(object_uuid)

    def stream() -> Iterator[bytes]:
        hasher = _Hasher()  # hashes in parallel with decryption (hashlib drops the GIL)
        try:
            chunk, after = first, following
            while chunk:
                hasher.feed(chunk)
                # The last chunk is held back until the SHA-256 matches: a
                # client that got every byte of Content-Length would take a
                # wrong file for a whole one, whatever we raise afterwards.
                if not after and hasher.hexdigest() != expected:
                    log.error("SHA-256 mismatch on reading object %s", object_uuid)
                    raise IntegrityFailure(object_uuid)
                metrics.count_download(purpose, len(chunk))  # once a MiB chunk, as handed out
                yield chunk
                chunk, after = after, (read() if after else b"")
        finally:
            hasher.stop()
            plaintext.close()
    return stream()


class _Hasher:
    """SHA-256 of a stream of chunks, computed by a thread of its own."""

    def __init__(self):
        self.digest = hashlib.sha256()
        self.chunks: queue.Queue = queue.Queue(maxsize=8)  # MiB chunks: room to even out
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.digest.update(chunk)

    def feed(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def hexdigest(self) -> str:
        self.stop()
        return self.digest.hexdigest()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.chunks.put(None)
            self.thread.join()
