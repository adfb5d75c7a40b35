"""Reading a multipart/form-data body as it arrives.

Werkzeug's usual parser spools file parts to temporary files on disk; the
vault must never put plaintext on the app's disk, so the upload routes read
``request.stream`` through Werkzeug's sans-IO ``MultipartDecoder`` instead and
hand each file on as a stream of chunks.

Whatever the body holds (another boundary than the header names, a part cut
off, bytes that are no form at all), reading it raises ``BadBody`` or one of
its kinds, never the decoder's bare ``ValueError``; and memory stays bounded
by ``CHUNK`` plus ``MAX_HEADER_BYTES`` however long the garbage goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import (Data, Epilogue, Field, File, MultipartDecoder, NeedData,
                                       State)

CHUNK = 1 << 20
MAX_FIELD_BYTES = 64 * 1024
# The preamble (browsers send none) and the headers of one part must fit in
# this; the decoder would otherwise hold all of them in memory while it
# looks for a boundary that may never come.
MAX_HEADER_BYTES = 64 * 1024
# Every part read at all, fields included (Werkzeug's own default for forms).
# Each costs parsing even when skipped; how many *files* are stored is a rule
# of the service (services.MAX_FILES_PER_FORM), well below this.
MAX_PARTS = 1000


class BadBody(Exception):
    """The body is not the multipart form its header announced: another
    boundary, garbage, headers without end, or a part cut off."""


class ClientGone(BadBody):
    """The body ended before the form did (the connection dropped, or the
    client sent a form cut off inside a part)."""


class TooManyParts(BadBody):
    """The form has more than ``MAX_PARTS`` parts; the rest was not read."""


@dataclass
class FilePart:
    """One file of the form. Iterate ``chunks()`` once to read its content."""

    field: str
    filename: str
    _events: Iterator
    _done: bool = False

    def chunks(self) -> Iterator[bytes]:
        """The file's content as it arrives. Raises ``BadBody``."""
        if self._done:
            return
        for event in self._events:
            if not isinstance(event, Data):
                raise BadBody("a new part began inside a file")
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
        chunk = _read(stream, CHUNK)
        decoder.receive_data(chunk or None)
        while True:
            try:
                event = decoder.next_event()
            except RequestEntityTooLarge as error:
                raise TooManyParts() from error
            except ValueError as error:  # UnicodeDecodeError in a header too
                # With the body at its end the decoder fails for want of
                # data: the form was cut off. Before that, the bytes are wrong.
                raise (ClientGone if decoder.complete else BadBody)(str(error)) from error
            if isinstance(event, NeedData):
                break
            if isinstance(event, Epilogue):
                return
            yield event
        if decoder.state is State.EPILOGUE:
            # The closing boundary came: the form is complete. What follows
            # (a line break from browsers) is read and dropped, not handed to
            # the decoder, which would buffer all of it; a little is read so
            # the connection is not reset under an unread body.
            _skip(stream, MAX_HEADER_BYTES)
            return
        if decoder.state in (State.PREAMBLE, State.PART) \
                and len(decoder.buffer) > MAX_HEADER_BYTES:
            raise BadBody("no boundary or end of headers where the form needs one")
        if not chunk:
            raise ClientGone()


def _read(stream: BinaryIO, size: int) -> bytes:
    try:
        return stream.read(size)
    except ClientDisconnected as error:  # fewer bytes than Content-Length said
        raise ClientGone() from error


def _skip(stream: BinaryIO, limit: int) -> None:
    try:
        while limit > 0 and (chunk := stream.read(min(limit, CHUNK))):
            limit -= len(chunk)
    except ClientDisconnected:
        pass


def read_form(stream: BinaryIO, boundary: bytes) -> tuple[dict[str, str], Iterator[FilePart]]:
    """Split the body into the fields that come before the first file (the
    CSRF token and submission id, which the form puts first) and an iterator
    over the files. Fields after the first file are ignored.

    Raises ``BadBody`` (or its kinds ``ClientGone``, ``TooManyParts``) when
    the body is not a well-formed form, here or while the files are read.
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
                    raise BadBody("form field too large")
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
            raise BadBody("a new part began inside a field")
        yield event.data
        if not event.more_data:
            return
    raise ClientGone()


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
