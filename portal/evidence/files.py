"""What an uploaded file is (decided from its bytes) and what it may be called."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import filetype
from anyascii import anyascii

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
# The extension a download's name ends in, by detected type: the first is
# added when the name lacks one; the others are spellings of the same type
# that a name may keep. filetype never reports ``image/heif`` (it knows HEIF
# only with a HEIC brand, as ``image/heic``); the entry keeps the map whole.
EXTENSIONS = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/heic": ("heic", "heif"),
    "image/heif": ("heif", "heic"),
    "image/tiff": ("tif", "tiff"),
    "image/webp": ("webp",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "video/mp4": ("mp4",),
    "video/quicktime": ("mov",),
}
_ACCEPTED_EXTENSIONS = {ext for spellings in EXTENSIONS.values() for ext in spellings}
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
    disguise ``evil<U+202E>fdp.exe`` as ``evilexe.pdf``), at most 200 characters."""
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


def download_name(name: str, content_type: str) -> str:
    """The name to offer a file under: it always ends in the extension of its
    detected type, so ``evidence.hta`` holding a PDF downloads as
    ``evidence.hta.pdf`` and opens as what it is. An extension of another
    accepted type (a JPEG called ``photo.png``) is replaced, since it says
    nothing the right one does not; any other is kept before the right one,
    so no part of the name the user gave is lost (but for what a name longer
    than 200 characters loses to make room for the extension). A name it
    returns comes back unchanged: uploads are stored under it."""
    name = safe_filename(name)
    wanted = EXTENSIONS.get(content_type, ("bin",))
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in wanted:
        return name
    if dot and stem and ext.lower() in _ACCEPTED_EXTENSIONS:
        name = stem
    return f"{name[:MAX_NAME_LENGTH - len(wanted[0]) - 1].rstrip(' .')}.{wanted[0]}"


def ascii_name(name: str) -> str:
    """An ASCII spelling of ``name`` for clients that cannot read RFC 5987
    names: transliterated (``паспорт.pdf`` -> ``pasport.pdf``, ``护照.pdf`` ->
    ``HuZhao.pdf``), then ``document`` in place of a stem with no letter or
    digit left. The extension is kept as it is."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r"[^A-Za-z0-9 ._()-]+", "_", anyascii(stem))
    stem = re.sub(r"\s+", " ", stem).strip(" ._")[:MAX_NAME_LENGTH]
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = "document"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)
    return f"{stem}.{ext}" if ext else stem


def content_disposition(name: str, content_type: str) -> str:
    """``attachment`` with the name encoded as RFC 6266 / 5987 asks: an ASCII
    fallback and the exact UTF-8 name, both ending in the extension of the
    detected ``content_type`` (see ``download_name``)."""
    name = download_name(name, content_type)
    return (f"attachment; filename=\"{ascii_name(name)}\"; "
            f"filename*=UTF-8''{quote(name, safe='')}")
