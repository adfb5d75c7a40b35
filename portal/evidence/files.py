"""What an uploaded file is (decided from its bytes) and what it may be called."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import filetype

# The allow-list, by the type detected from the content's magic bytes. The
# browser's Content-Type and the file name's extension are never trusted.
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "image/tiff": "TIFF",
    "image/webp": "WebP",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "video/mp4": "MP4",
    "video/quicktime": "MOV",
}
SNIFF_BYTES = 8192  # enough for every signature above, DOCX's first zip entries included
MAX_NAME_LENGTH = 200


def detect_type(head: bytes) -> str | None:
    """The allowed MIME type of a file starting with ``head``, or None."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        return None
    return kind.mime


def safe_filename(name: str | None) -> str:
    """A file name fit to show and to offer on download: no directory parts,
    no control, formatting or bidirectional-override characters (which can
    disguise ``evil‮fdp.exe`` as ``evilexe.pdf``), at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z")
                   or ch == " ")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:MAX_NAME_LENGTH - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else name[:MAX_NAME_LENGTH]
    return name or "document"


def content_disposition(name: str) -> str:
    """``attachment`` with the name encoded as RFC 6266 / 5987 asks: an ASCII
    fallback and the exact UTF-8 name."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = re.sub(r'[^A-Za-z0-9 ._()-]', "_", fallback).strip() or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
