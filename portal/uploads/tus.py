"""The tus 1.0 headers: what the protocol's requests carry, read strictly."""
from __future__ import annotations

import base64
import binascii
import re

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = "sha1,sha256"
PATCH_TYPE = "application/offset+octet-stream"
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_METADATA = 4096  # far more than a name, a path and two ids need


class BadHeader(ValueError):
    """A tus header is missing or malformed."""


def metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated pairs of a key and its value in
    base64 (UTF-8 text here); a key may come without a value."""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise BadHeader("Upload-Metadata too long")
    pairs: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if not _KEY.match(key) or key in pairs:
            raise BadHeader(f"bad metadata key {key!r}")
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise BadHeader(f"bad metadata value for {key!r}") from error
    return pairs


def offset(header: str | None, name: str = "Upload-Offset") -> int:
    """A non-negative integer header (``Upload-Offset``, ``Upload-Length``)."""
    if header is None or not header.isascii() or not header.isdigit() or len(header) > 18:
        raise BadHeader(f"{name} must be a non-negative integer")
    return int(header)


def checksum(header: str | None) -> tuple[str, bytes] | None:
    """``Upload-Checksum``: an algorithm we know and the piece's digest in base64."""
    if header is None:
        return None
    algorithm, _, digest = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS.split(","):
        raise BadHeader(f"unsupported checksum algorithm {algorithm!r}")
    try:
        return algorithm, base64.b64decode(digest.strip(), validate=True)
    except binascii.Error as error:
        raise BadHeader("bad checksum") from error
