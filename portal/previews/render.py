"""The sandboxed child: read one untrusted file on stdin, write its preview pages as PNGs.

Run by ``portal.previews.sandbox`` as ``python -I -B render.py <content_type>``. It imports
nothing from the portal (no Flask, no settings, no secrets), only the decoders it needs.

Protocol: on success, stdout holds one frame per page (4-byte big-endian length, then the
PNG bytes) and the exit status is 0. On a refusal it understands, the last line of stderr
is a reason code (``too_large``, ``unreadable``, ``unsupported``) and the exit status is 2.
Anything else (a crash, a killed process) is some other non-zero status.
"""
from __future__ import annotations

import io
import struct
import sys
import warnings

import pillow_heif
import pypdfium2 as pdfium
from PIL import Image, ImageOps

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_PAGES = 5
MAX_SIDE = 1600
# Refuse an image whose header promises more pixels than this, before decoding a single one.
# 48 Mpx phone cameras fit; at this bound the child peaks at ~850 MiB (a WebP), under the
# parent's 1 GiB RLIMIT_AS (64 Mpx would need ~1.05 GiB).
Image.MAX_IMAGE_PIXELS = 50_000_000
warnings.simplefilter("error", Image.DecompressionBombWarning)
pillow_heif.register_heif_opener()

PDF = "application/pdf"
# Each type opens with its own decoder only: a file that is not what its type says is
# refused, and no other Pillow plugin (some of which run external programs) ever sees it.
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIF",
                 "image/heif": "HEIF", "image/webp": "WEBP", "image/tiff": "TIFF"}
# What decoders raise for a damaged or mislabelled file. MemoryError is not here on purpose:
# running out of memory is a limit, reported by the parent, not a verdict on the file.
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, struct.error, pdfium.PdfiumError)
SIXTEEN_BIT_GREY = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


class Refusal(Exception):
    """A file we will not preview; ``reason`` is the code the parent reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pixels_only_png(im: Image.Image) -> bytes:
    """Upright, RGB(A), at most MAX_SIDE on its longest side, saved as a PNG that holds
    nothing but pixels. Steps are ordered to keep at most ~2 full-size copies in memory."""
    im.draft(None, (MAX_SIDE, MAX_SIDE))  # JPEG only: decode at 1/2..1/8 scale where it can
    ImageOps.exif_transpose(im, in_place=True)  # phone photos: upright, while EXIF is known
    if im.mode in SIXTEEN_BIT_GREY:
        im = im.convert("I")  # kept at 16 bits until downscaled: a convert to 8 would clip
    elif im.mode != (rgb := "RGBA" if im.has_transparency_data else "RGB"):
        im = im.convert(rgb)  # P, L, LA, 1, CMYK...
    im.thumbnail((MAX_SIDE, MAX_SIDE))
    if im.mode == "I":
        im = im.point(lambda value: value * (1 / 256)).convert("RGB")
    # A brand-new image from the raw pixels: EXIF, GPS, XMP, ICC profile and text chunks
    # all live in im.info, which the PNG writer would otherwise copy (the ICC profile does).
    clean = Image.frombytes(im.mode, im.size, im.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG")
    return out.getvalue()


def pdf_pages(data: bytes) -> list[bytes]:
    """The first MAX_PAGES pages, each rendered with its longest side at MAX_SIDE.
    No form environment (init_forms) is ever created, so no PDF JavaScript can run."""
    pdf = pdfium.PdfDocument(data)
    try:
        pages = []
        for index in range(min(len(pdf), MAX_PAGES)):
            page = pdf[index]
            scale = MAX_SIDE / max(*page.get_size(), 1)
            pages.append(pixels_only_png(page.render(scale=scale).to_pil()))
            page.close()
        return pages
    finally:
        pdf.close()


def render(data: bytes, content_type: str) -> list[bytes]:
    """The preview pages of ``data`` as PNG bytes; raises Refusal."""
    if len(data) > MAX_INPUT_BYTES:
        raise Refusal("too_large")
    try:
        if content_type == PDF:
            return pdf_pages(data)
        with Image.open(io.BytesIO(data), formats=[IMAGE_FORMATS[content_type]]) as im:
            return [pixels_only_png(im)]  # a multi-frame TIFF: its first frame only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refusal("too_large") from exc
    except UNREADABLE as exc:
        raise Refusal("unreadable") from exc


def main(argv: list[str]) -> int:
    """Render stdin as ``argv[1]``; returns the exit status."""
    content_type = argv[1] if len(argv) == 2 else ""
    try:
        if content_type != PDF and content_type not in IMAGE_FORMATS:
            raise Refusal("unsupported")  # checked before reading: no need to see the bytes
        pages = render(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), content_type)
    except Refusal as refusal:
        print(refusal.reason, file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for page in pages:
        out.write(struct.pack(">I", len(page)))
        out.write(page)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
