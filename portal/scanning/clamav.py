"""The malware scanner: clamd (ClamAV) over its INSTREAM protocol, through
PyPI ``clamav-client`` (a maintained client with socket timeouts; the
protocol is simple, but its error cases are not). The one module that talks
to clamd: the file is streamed to it as it is decrypted, never written to disk.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from clamav_client.clamd import (BufferTooLongError, ClamdError, ClamdNetworkSocket,
                                 ClamdUnixSocket)

log = logging.getLogger(__name__)

# What ``Verdict.error`` says, for the firm's pages and the audit trail.
UNREACHABLE = "scanner unreachable"
TIMED_OUT = "scanner timed out"
TOO_LARGE = "larger than the scanner accepts"
SCANNER_ERROR = "scanner error"


@dataclass(frozen=True)
class Verdict:
    """What clamd said of one stream: clean, infected (``signature``), or
    not scanned (``error``: it was down, timed out or refused the file)."""

    signature: str | None = None
    error: str | None = None

    @property
    def clean(self) -> bool:
        return self.signature is None and self.error is None


class _ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of chunks, for the client's ``read``.
    An error of the source (the store, a failed integrity check) is kept so
    that it is raised as itself, not taken for the scanner's."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending, self.failure = chunks, b"", None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            while not self.pending:
                self.pending = next(self.chunks)
        except StopIteration:
            return 0
        except Exception as error:
            self.failure = error
            raise
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def enabled(config) -> bool:
    """Whether files are scanned (``PORTAL_SCANNING``, on unless set to off)."""
    return config["SCANNING"] != "off"


def _client(config) -> ClamdNetworkSocket:
    timeout = config["CLAMD_TIMEOUT"]
    if config.get("CLAMD_SOCKET"):
        return ClamdUnixSocket(config["CLAMD_SOCKET"], timeout=timeout)
    return ClamdNetworkSocket(config["CLAMD_HOST"] or "127.0.0.1", config["CLAMD_PORT"],
                              timeout=timeout)


def scan(chunks: Iterator[bytes], config) -> Verdict:
    """Stream ``chunks`` to clamd and return its verdict. Raises what the
    source of the chunks raised (so a storage outage is retried, not
    taken as the file's fault); every failure of the scanner is a verdict."""
    reader = _ChunkReader(chunks)
    try:
        results = _client(config).instream(io.BufferedReader(reader, 1 << 16))
    except BufferTooLongError:
        return Verdict(error=TOO_LARGE)
    except (ClamdError, OSError) as error:
        if reader.failure is not None:
            raise reader.failure from error
        log.error("clamd failed: %s: %s", type(error).__name__, error)
        return Verdict(error=TIMED_OUT if isinstance(error, TimeoutError)
                       or "timed out" in str(error) else UNREACHABLE)
    if reader.failure is not None:
        raise reader.failure
    (status, name), = results.values() or [("ERROR", "no answer")]
    if status == "OK":
        return Verdict()
    if status == "FOUND":
        return Verdict(signature=name)
    log.error("clamd could not scan a stream: %s", name)
    return Verdict(error=SCANNER_ERROR)


def ping(config) -> bool:
    """Whether clamd answers (for the health endpoint)."""
    try:
        return _client(config).ping() == "PONG"
    except (ClamdError, OSError):
        return False


def signatures_date(config) -> datetime | None:
    """When clamd's signature database was built, from its VERSION answer
    (``ClamAV 1.4.6/27480/Thu Dec  4 09:33:12 2026``); None when it does not
    say (a database of our own has no daily version) or does not answer."""
    try:
        answer = _client(config).version()
    except (ClamdError, OSError):
        return None
    parts = answer.split("/")
    if len(parts) < 3:
        return None
    try:
        return datetime.strptime(" ".join(parts[2].split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
