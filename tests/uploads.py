"""Building multipart upload bodies for tests, lazily, so a 501 MiB file
never sits in memory; and what the uploads left in the database."""
from __future__ import annotations

import io
import re
import time
import uuid
from typing import Callable, Iterable, Iterator

from sqlalchemy import select

from portal.extensions import db
from portal.models import DocumentVersion

BOUNDARY = "----portal-test-boundary-7MA4YWxkTrZu0gW"

# Smallest headers that the type detection recognises, for building test files.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
SVG = b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"


def real_pdf(pages: int = 1, text: str = "Passport") -> bytes:
    """A PDF that a reader (and the preview sandbox) can open: ``pages`` pages with ``text``."""
    from fpdf import FPDF
    document = FPDF()
    document.set_font("helvetica", size=24)
    for number in range(1, pages + 1):
        document.add_page()
        document.cell(text=f"{text}, page {number}")
    return bytes(document.output())


class pattern:
    """``size`` bytes of a pattern, produced in 1 MiB chunks each time it is
    iterated (so a body can be measured, then sent, without holding it)."""

    BLOCK = bytes((i * 7) % 251 for i in range(1 << 20))

    def __init__(self, size: int, head: bytes = b""):
        self.size, self.head = size, head

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        sent = len(self.head)
        while sent < self.size:
            take = min(len(self.BLOCK), self.size - sent)
            yield self.BLOCK[:take]
            sent += take


class Interrupted(pattern):
    """A PDF body that calls ``act`` once ``after`` bytes have been sent
    (to stop the store, or to let another upload finish, mid-upload)."""

    def __init__(self, size: int, after: int, act: Callable[[], object]):
        super().__init__(size, head=PDF)
        self.after, self.act, self.acted_at = after, act, None

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in super().__iter__():
            if self.acted_at is None and sent >= self.after:
                self.act()
                self.acted_at = time.monotonic()
            sent += len(chunk)
            yield chunk


class LazyBody(io.RawIOBase):
    """A request body produced from an iterator of byte chunks. It pretends
    to seek only so far as Werkzeug's test client measures its length."""

    def __init__(self, chunks: Iterable[bytes], length: int):
        self.chunks = iter(chunks)
        self.pending = b""
        self.length = length
        self.position = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.length if whence == 2 else offset
        return self.position

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            self.pending = next(self.chunks, None)
            if self.pending is None:
                self.pending = b""
                return 0
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.position += n
        return n


def multipart(fields: dict[str, str], files: list[tuple[str, Iterable[bytes]]],
              field_name: str = "files") -> tuple[LazyBody, int]:
    """(body, length) of a form with ``fields`` first, then ``files``
    given as (file name, chunks); chunks may be a list to know the length."""
    pieces: list = []
    for name, value in fields.items():
        pieces.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                      f"{value}\r\n".encode())
    for filename, chunks in files:
        quoted = filename.replace('"', "%22")
        pieces.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; '
                      f'filename="{quoted}"\r\nContent-Type: application/pdf\r\n\r\n'.encode("utf-8"))
        pieces.append(chunks)
        pieces.append(b"\r\n")
    pieces.append(f"--{BOUNDARY}--\r\n".encode())

    def length_of(piece) -> int:
        return len(piece) if hasattr(piece, "__len__") and not isinstance(piece, list) \
            else sum(len(c) for c in piece)

    def flat() -> Iterator[bytes]:
        for piece in pieces:
            if isinstance(piece, bytes):
                yield piece
            else:
                yield from piece
    length = sum(length_of(p) for p in pieces)
    return LazyBody(flat(), length), length


def upload(client, url: str, files: list[tuple[str, Iterable[bytes]]], *, csrf: str | None = "auto",
           submission_id: str | None = None, field_name: str = "files"):
    """POST an upload form like a browser: CSRF token and submission id first."""
    fields = {}
    if csrf == "auto":
        csrf = client.csrf_token()
    if csrf is not None:
        fields["csrf_token"] = csrf
    fields["submission_id"] = submission_id or str(uuid.uuid4())
    body, length = multipart(fields, files, field_name)
    return client.post(url, input_stream=body,
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def flashes(html: str) -> list[str]:
    """The flash messages on a page."""
    return re.findall(r'<p class="flash [a-z]+" role="[a-z]+">(.*?)</p>', html, re.S)


def documents_url(case) -> str:
    """The case's documents page, where the upload form posts."""
    return f"/cases/{case.uuid}/documents"


def stored_keys(app) -> list[str]:
    """The keys of the objects in the bucket (under ``cases/``)."""
    return [o.key for o in app.extensions["storage"].list_objects("cases/")]


def pending_uploads(app) -> list:
    """The multipart uploads begun in the bucket and neither completed nor aborted."""
    return list(app.extensions["storage"].pending_uploads("cases/"))


def versions() -> list[DocumentVersion]:
    """Every stored version, oldest first."""
    return list(db.session.scalars(select(DocumentVersion).order_by(DocumentVersion.id)))


def raw_form(fields: dict[str, str], files: list[tuple[str, Iterable[bytes]]],
             field_name: str = "files") -> bytes:
    """The bytes of a well-formed form (``multipart`` above), to cut or spoil."""
    body, _ = multipart(fields, files, field_name)
    return body.read()


def post_raw(client, url: str, body, boundary: str = BOUNDARY):
    """POST ``body`` (bytes, or a ``LazyBody``) as a multipart form announcing
    ``boundary``; Content-Length is what is sent, so the request itself is
    well-formed whatever the form inside it is."""
    content_type = f"multipart/form-data; boundary={boundary}"
    if isinstance(body, bytes):
        return client.post(url, data=body, content_type=content_type)
    return client.post(url, input_stream=body, content_type=content_type)
