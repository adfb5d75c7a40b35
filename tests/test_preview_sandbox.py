"""Previews of untrusted uploads (portal/previews): only pixels come out, downscaled, and the
child that decodes the file is boxed in (no network, no secrets, no file writes, limits).

Every input is made here, in code. No app, no database: these tests use no fixture of conftest.
"""
from __future__ import annotations

import io
import json
import os
import random
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pillow_heif
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageCms, TiffImagePlugin

from portal.previews import sandbox
from portal.previews.sandbox import Limits, Outcome, render

PROBE = Path(__file__).with_name("sandbox_probe.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
DESCRIPTION = "Client passport scan, Calle Falsa 123 - do not share"
XMP_MARKER = "xmp-marker-7f3a"
COMMENT = b"jpeg-comment-marker-91c2"


# --- inputs -----------------------------------------------------------------

def encode(im: Image.Image, fmt: str, **options) -> bytes:
    """``im`` saved as ``fmt`` (with Pillow's save ``options``), as bytes."""
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def two_halves(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    im = Image.new("RGB", size, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return im


def gps_photo() -> tuple[bytes, list[bytes], bytes]:
    """A JPEG like a phone's: GPS position (48°51'29.63"N 2°17'40.2"E), a description, XMP,
    a comment and an ICC profile. Returns it, the byte patterns of its GPS rationals (both
    byte orders) and the ICC profile."""
    exif = Image.Exif()
    exif[0x010E] = DESCRIPTION  # ImageDescription
    gps = exif.get_ifd(0x8825)  # GPSInfo
    rational = TiffImagePlugin.IFDRational
    gps[1], gps[2] = "N", (rational(48, 1), rational(51, 1), rational(2963, 100))
    gps[3], gps[4] = "E", (rational(2, 1), rational(17, 1), rational(402, 10))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{XMP_MARKER}</x:xmpmeta>'.encode()
    jpeg = encode(two_halves((640, 480)), "JPEG", exif=exif, icc_profile=icc, xmp=xmp,
                  comment=COMMENT)
    patterns = [struct.pack(order + "II", *fraction) for order in "<>"
                for fraction in ((2963, 100), (201, 5))]  # 40.2 is written as 201/5
    return jpeg, patterns, icc


def png_chunks(png: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order, checking each chunk's CRC on the way."""
    assert png.startswith(PNG_SIGNATURE)
    types, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack_from(">I", png, at)
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        (crc,) = struct.unpack_from(">I", png, at + 8 + length)
        assert crc == zlib.crc32(kind + data), f"bad CRC on {kind!r}"
        types.append(kind)
        at += 12 + length
    return types


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with one tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def pdf_with_pages(count: int) -> bytes:
    """A PDF of ``count`` blank pages, each 40 pt wider than the one before (A4 height)."""
    pdf = pdfium.PdfDocument.new()
    for index in range(count):
        pdf.new_page(400 + 40 * index, 842)
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


def only_page(outcome: Outcome) -> Image.Image:
    """The single page of a successful outcome, opened."""
    assert outcome.reason is None and len(outcome.pages) == 1, outcome.reason
    return Image.open(io.BytesIO(outcome.pages[0]))


# --- pixels only, upright, downscaled ----------------------------------------

def test_only_pixels_come_out_of_a_photo_with_gps_and_profile():
    jpeg, gps_patterns, icc = gps_photo()
    # The input really carries what must not come out, or the test below proves nothing.
    for secret in (DESCRIPTION.encode(), XMP_MARKER.encode(), COMMENT, icc[-64:]):
        assert secret in jpeg
    assert any(pattern in jpeg for pattern in gps_patterns)

    outcome = render([jpeg], "image/jpeg")

    png = outcome.pages[0]
    assert set(png_chunks(png)) <= PIXEL_CHUNKS, png_chunks(png)
    for secret in (DESCRIPTION.encode(), XMP_MARKER.encode(), COMMENT, icc[-64:], b"Exif"):
        assert secret not in png
    assert not any(pattern in png for pattern in gps_patterns)
    preview = only_page(outcome)
    assert len(preview.getexif()) == 0
    assert not {"icc_profile", "exif", "xmp", "comment"} & set(preview.info)
    assert preview.size == (640, 480)


def test_a_rotated_phone_photo_comes_out_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90° clockwise to display
    jpeg = encode(two_halves((300, 200)), "JPEG", exif=exif)

    preview = only_page(render([jpeg], "image/jpeg")).convert("RGB")

    assert preview.size == (200, 300)
    red, blue = preview.getpixel((100, 20)), preview.getpixel((100, 280))
    assert red[0] > 200 and red[2] < 60, red  # the left half is now on top
    assert blue[2] > 200 and blue[0] < 60, blue


@pytest.mark.parametrize("size, expected", [((4000, 3000), (1600, 1200)),
                                            ((3000, 4000), (1200, 1600))])
def test_a_big_image_is_downscaled_to_1600_on_its_longest_side(size, expected):
    jpeg = encode(Image.linear_gradient("L").resize(size).convert("RGB"), "JPEG")
    assert only_page(render([jpeg], "image/jpeg")).size == expected


@pytest.mark.parametrize("mode", ["P", "LA", "CMYK", "I;16", "1", "RGBA"])
def test_every_image_mode_comes_out_as_rgb_or_rgba(mode):
    im = Image.new(mode, (30, 20))
    if mode == "I;16":
        im.putpixel((0, 0), 65535)  # full white at 16 bits must stay white at 8
    data = encode(im, "TIFF")

    preview = only_page(render([data], "image/tiff"))

    assert preview.mode in ("RGB", "RGBA") and preview.size == (30, 20)
    if mode == "I;16":
        assert preview.getpixel((0, 0)) == (255, 255, 255)


def test_a_heic_photo_is_previewed_and_a_broken_one_is_unreadable():
    if not pillow_heif.libheif_info()["HEIF"]:
        pytest.skip("this libheif build has no HEVC encoder to make a HEIC with")
    pillow_heif.register_heif_opener()  # in this process only, to make the test file
    heic = encode(two_halves((320, 240)), "HEIF")
    assert heic[4:12] == b"ftypheic"

    assert only_page(render([heic], "image/heic")).size == (320, 240)
    broken = heic[:4] + b"junkjunk" + heic[12:]
    assert render([broken], "image/heic") == Outcome([], "unreadable")


# --- refusals -----------------------------------------------------------------

def test_a_corrupt_jpeg_and_random_bytes_are_unreadable():
    jpeg = encode(two_halves((64, 64)), "JPEG")
    garbage = random.Random(1).randbytes(4000)
    assert render([jpeg[:20] + garbage], "image/jpeg") == Outcome([], "unreadable")
    assert render([garbage], "image/png") == Outcome([], "unreadable")


def test_a_file_that_is_not_what_its_type_says_is_unreadable():
    png = encode(two_halves((64, 64)), "PNG")
    assert render([png], "image/jpeg") == Outcome([], "unreadable")


@pytest.mark.parametrize("size", [(50_000, 50_000), (9000, 9000)])
def test_a_decompression_bomb_is_refused_before_decoding(size):
    started = time.monotonic()
    assert render([png_claiming(*size)], "image/png") == Outcome([], "too_large")
    assert time.monotonic() - started < 5


def test_input_over_64_mib_is_too_large():
    megabyte = b"\0" * (1024 * 1024)
    assert render((megabyte for _ in range(65)), "image/png") == Outcome([], "too_large")


@pytest.mark.parametrize("content_type", [
    "video/mp4", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"])
def test_a_type_without_preview_is_unsupported_even_if_never_read(content_type):
    # The child refuses without reading: the parent must cope with the broken pipe.
    chunks = (b"\0" * (1024 * 1024) for _ in range(20))
    assert render(chunks, content_type) == Outcome([], "unsupported")


def test_a_failing_source_is_raised_not_hidden():
    def chunks():
        yield b"\xff\xd8\xff"
        raise ValueError("decryption failed")

    with pytest.raises(ValueError, match="decryption failed"):
        render(chunks(), "image/jpeg")


# --- PDFs ----------------------------------------------------------------------

def test_a_pdf_gives_its_first_five_pages_at_most_1600_px():
    outcome = render([pdf_with_pages(7)], "application/pdf")

    assert outcome.reason is None and len(outcome.pages) == 5
    pages = [Image.open(io.BytesIO(page)) for page in outcome.pages]
    assert all(max(page.size) == 1600 for page in pages), [page.size for page in pages]
    widths = [page.width for page in pages]
    assert widths == sorted(set(widths))  # pages 1 to 5, in order
    for page in outcome.pages:
        assert set(png_chunks(page)) <= PIXEL_CHUNKS


def test_a_corrupt_pdf_is_unreadable():
    corrupt = b"%PDF-1.7\n" + random.Random(3).randbytes(5000)
    assert render([corrupt], "application/pdf") == Outcome([], "unreadable")


# --- limits --------------------------------------------------------------------

def test_too_little_memory_ends_in_limits():
    jpeg = encode(two_halves((64, 64)), "JPEG")
    assert render([jpeg], "image/jpeg", Limits(memory_bytes=32 * 1024 * 1024)) == \
        Outcome([], "limits")


def test_a_child_burning_cpu_is_killed_by_the_cpu_limit():
    started = time.monotonic()
    outcome = sandbox._run(PROBE, ["spin"], [], Limits(cpu_seconds=1, wall_seconds=20))
    assert outcome == Outcome([], "limits")
    assert time.monotonic() - started < 10  # the CPU limit, not the wall clock


def test_a_child_that_hangs_is_killed_at_the_wall_time():
    started = time.monotonic()
    assert sandbox._run(PROBE, ["sleep"], [], Limits(wall_seconds=1)) == Outcome([], "limits")
    assert time.monotonic() - started < 5


def test_output_over_the_cap_ends_in_limits():
    noise = Image.frombytes("RGB", (1600, 1200), random.Random(4).randbytes(1600 * 1200 * 3))
    png = encode(noise, "PNG")
    assert render([png], "image/png").reason is None  # fine under the default cap
    assert render([png], "image/png", Limits(max_output_bytes=1024 * 1024)) == \
        Outcome([], "limits")
    flood = sandbox._run(PROBE, ["flood"], [], Limits(max_output_bytes=1024 * 1024))
    assert flood == Outcome([], "limits")


def test_output_that_is_not_png_frames_is_rejected():
    assert sandbox._frames(struct.pack(">I", 3) + b"abc") is None
    assert sandbox._frames(struct.pack(">I", 99) + PNG_SIGNATURE) is None  # cut short
    assert sandbox._frames(b"") is None
    page = PNG_SIGNATURE + b"rest"
    assert sandbox._frames(struct.pack(">I", len(page)) + page) == [page]


# --- the sandbox -----------------------------------------------------------------

def test_the_child_has_no_network_no_secrets_and_cannot_write_files(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_MASTER_KEY", "secret-master-key-for-the-test")
    monkeypatch.setenv("PORTAL_SECRET_KEY", "another-secret")
    target = tmp_path / "target"
    target.touch(mode=0o666)
    limits = Limits(memory_bytes=512 * 1024 * 1024, cpu_seconds=7)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]
        child = sandbox._spawn(PROBE, ["probe", str(port), str(target)], limits)
        try:
            out, err = child.communicate(timeout=20)
        finally:
            child.kill()
            child.wait()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    assert child.returncode == 0, err
    report = json.loads(out)

    assert report["connected"] is False
    assert report["net_ns"] != os.readlink("/proc/self/ns/net")
    assert set(report["env"]) <= {"PATH", "LANG"}
    assert report["wrote"] is False and target.read_bytes() == b""
    address_space = 512 * 1024 * 1024
    assert report["limits"] == {"FSIZE": [0, 0], "CORE": [0, 0], "NOFILE": [64, 64],
                                "CPU": [7, 7], "AS": [address_space, address_space]}
    assert report["raised_limit"] is False  # no privilege in the namespace to lift them
    assert report["death_signal"] == 9  # SIGKILL when the app dies


def test_no_sandbox_means_no_render(monkeypatch, caplog):
    class NoNamespaces:
        """libc whose unshare always fails, as on a host without user namespaces."""

        def __init__(self, *args, **kwargs):
            pass

        def unshare(self, flags):
            return -1

        def prctl(self, *args):
            return 0

    monkeypatch.setattr(sandbox.ctypes, "CDLL", NoNamespaces)
    jpeg = encode(two_halves((64, 64)), "JPEG")

    assert render([jpeg], "image/jpeg") == Outcome([], "sandbox")
    assert "sandbox could not be set up" in caplog.text


def test_the_child_is_always_reaped(monkeypatch):
    started: list[subprocess.Popen] = []
    spawn = sandbox._spawn

    def spawn_and_keep(*args):
        started.append(spawn(*args))
        return started[-1]

    monkeypatch.setattr(sandbox, "_spawn", spawn_and_keep)
    render([b"junk"], "image/png")  # refused
    sandbox._run(PROBE, ["sleep"], [], Limits(wall_seconds=0.5))  # killed
    assert len(started) == 2
    assert all(child.returncode is not None for child in started)  # waited for: no zombie
