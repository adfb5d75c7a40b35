"""Reading a multipart/form-data body as it arrives.

Werkzeug's usual parser spools file parts to temporary files on disk; the
vault must never put plaintext on the app's disk, so the upload routes read
``request.stream`` through Werkzeug's sans-IO ``MultipartDecoder`` instead and
hand each file on as a stream of chunks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator

from werkzeug.exceptions import BadRequest
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

CHUNK = 1 << 20
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 200


class ClientGone(Exception):
    """The body ended before the form did (the connection dropped)."""


@dataclass
class FilePart:
    """One file of the form. Iterate ``chunks()`` once to read its content."""

    field: str
    filename: str
    _events: Iterator
    _done: bool = False

    def chunks(self) -> Iterator[bytes]:
        if self._done:
            return
        for event in self._events:
            if not isinstance(event, Data):
                raise BadRequest("malformed multipart body")
            if event.data:
                yield event.data
            if not event.more_data:
                self._done = True
                return
        raise ClientGone()

    def drain(self) -> None:
        """Skip what is left of this file."""
        for _ in self.chunks():
            pass


def _events(stream: BinaryIO, boundary: bytes) -> Iterator:
    # No max_form_memory_size: it caps the decoder's whole buffer, which holds
    # file data too; field values are capped in read_form instead.
    decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
    while True:
        chunk = stream.read(CHUNK)
        decoder.receive_data(chunk or None)
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                break
            if isinstance(event, Epilogue):
                return
            yield event
        if not chunk:
            raise ClientGone()


def read_form(stream: BinaryIO, boundary: bytes) -> tuple[dict[str, str], Iterator[FilePart]]:
    """Split the body into the fields that come before the first file (the
    CSRF token and submission id, which the form puts first) and an iterator
    over the files. Fields after the first file are ignored.

    Raises ``BadRequest`` for a malformed body and ``ClientGone`` when it ends early.
    """
    events = _events(stream, boundary)
    fields: dict[str, str] = {}
    pending: list[File] = []
    for event in events:
        if isinstance(event, Field):
            value = bytearray()
            for data in _field_data(events):
                value += data
                if len(value) > MAX_FIELD_BYTES:
                    raise BadRequest("form field too large")
            fields[event.name] = value.decode("utf-8", "replace")
        elif isinstance(event, File):
            pending.append(event)
            break

    def files() -> Iterator[FilePart]:
        first = pending[0] if pending else None
        if first is not None:
            yield from _file_parts(first, events)

    return fields, files()


def _field_data(events: Iterator) -> Iterator[bytes]:
    for event in events:
        if not isinstance(event, Data):
            raise BadRequest("malformed multipart body")
        yield event.data
        if not event.more_data:
            return


def _file_parts(first: File, events: Iterator) -> Iterator[FilePart]:
    current: File | None = first
    while current is not None:
        part = FilePart(current.name, current.filename or "", events)
        yield part
        part.drain()  # whatever the consumer left unread
        current = None
        for event in events:
            if isinstance(event, File):
                current = event
                break
            if isinstance(event, Field):  # a late field: skip its value
                for _ in _field_data(events):
                    pass
