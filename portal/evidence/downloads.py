"""Serving a stored file: streamed from S3 through decryption, with the
plaintext's SHA-256 checked on the way."""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
from typing import Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import audit
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, DocumentVersion, User

log = logging.getLogger(__name__)
READ_CHUNK = 1 << 20


class IntegrityFailure(Exception):
    """A stored object failed decryption or its SHA-256 check."""


def open_download(actor: User, case: Case, version: DocumentVersion) -> Iterator[bytes]:
    """Plaintext of ``version`` as chunks, decrypted and SHA-256-checked on
    the way. The first two chunks are read before returning, so a missing or
    tampered object, or a one-chunk file that fails its SHA-256, is reported
    before any byte is sent; a longer one breaks off before its last chunk.

    Raises ``ServiceError`` when the file is gone, ``StorageError`` when the
    store is down and ``IntegrityFailure`` when the object is not what was stored.
    """
    if not version.has_object:
        raise ServiceError(_l("This file is no longer stored."))
    reader = current_app.extensions["storage"].reader(version.storage_key)
    plaintext = current_app.extensions["crypto"].decrypting_stream(reader, version.uuid)
    version_uuid, expected = str(version.uuid), version.sha256

    def read() -> bytes:
        try:
            # Tink's BufferedReader (8 KiB) only adds a copy to reads this large.
            return plaintext.raw.read(READ_CHUNK)
        except Exception as error:
            # Tink wraps whatever its source raised: tell an outage from tampering.
            if reader.failure is not None:
                raise reader.failure from error
            log.error("decryption failed for version %s: %s", version_uuid, error)
            raise IntegrityFailure(version_uuid) from error

    first = read()
    following = read() if first else b""
    if not following and hashlib.sha256(first).hexdigest() != expected:
        # The whole file came in one read: refuse it before the headers go out.
        plaintext.close()
        log.error("SHA-256 mismatch on download of version %s", version_uuid)
        raise IntegrityFailure(version_uuid)
    audit.record("document.downloaded", actor=actor, case=case, target=version_uuid)
    db.session.commit()

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
                    log.error("SHA-256 mismatch on download of version %s", version_uuid)
                    raise IntegrityFailure(version_uuid)
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


def record_integrity_failure(actor: User, case: Case, version: DocumentVersion) -> None:
    """Put a failed integrity check in the audit trail."""
    audit.record("document.integrity_failed", actor=actor, case=case, target=str(version.uuid))
    db.session.commit()
