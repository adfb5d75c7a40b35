"""Previews through the portal: a client's photo is shown to the firm as
pixels with its GPS position gone (the original untouched), a PDF's first
five pages, a decompression bomb gets "no preview" and stays downloadable,
previews are as hidden as their file, and purged with it."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import select

from portal.extensions import db
from portal.models import DocumentVersion, ObjectState, Preview, PreviewState
from tests.conftest import PASSWORD
from tests.uploads import real_pdf, upload

# 48°51'29.63"N 2°17'40.21"E as EXIF rationals: the bytes must not survive into a preview.
LATITUDE = ((48, 1), (51, 1), (2963, 100))
LONGITUDE = ((2, 1), (17, 1), (4021, 100))


def gps_photo() -> bytes:
    """A phone-like JPEG whose EXIF holds a GPS position and a description."""
    image = Image.new("RGB", (800, 600), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010E] = "Our flat in the safe house"  # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: tuple(IFDRational(*v) for v in LATITUDE), 3: "E",
                4: tuple(IFDRational(*v) for v in LONGITUDE)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (a tiny body)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def png_chunks(data: bytes) -> list[bytes]:
    kinds, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kinds.append(data[offset + 4:offset + 8])
        offset += 12 + length
    return kinds


@pytest.fixture(scope="module")
def base_config(base_config):
    return {**base_config, "PREVIEWS": "on"}


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, sponsor = make_user("attorney"), make_user("client"), make_user("sponsor")
    admin = make_user("admin")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor])
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, admin=admin, case=case)


def browser(app, user):
    session = app.test_client()
    assert session.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return session


def send(app, people, name: str, body: bytes, who: str = "client") -> DocumentVersion:
    response = upload(browser(app, people[who]), f"/cases/{people['case'].uuid}/documents",
                      [(name, [body])])
    assert response.status_code in (302, 303), response.text
    db.session.expire_all()
    return db.session.scalars(select(DocumentVersion).order_by(DocumentVersion.id.desc())).first()


def test_a_photos_preview_holds_its_pixels_and_nothing_of_where_it_was_taken(app, people):
    photo = gps_photo()
    assert any(struct.pack(order + "II", 2963, 100) in photo for order in "<>")  # it is there
    version = send(app, people, "flat.jpg", photo)
    assert version.preview_state is PreviewState.READY and len(version.previews) == 1
    case = people["case"]
    lawyer = browser(app, people["lawyer"])
    response = lawyer.get(f"/cases/{case.uuid}/versions/{version.uuid}/preview/1.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    preview = response.data
    assert set(png_chunks(preview)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    for trace in (b"Exif", b"GPS", b"safe house"):
        assert trace not in preview
    for values in (LATITUDE, LONGITUDE):
        for number, denominator in values:
            assert struct.pack(">II", number, denominator) not in preview
            assert struct.pack("<II", number, denominator) not in preview
    image = Image.open(io.BytesIO(preview))
    assert image.size == (800, 600) and not image.getexif() and "icc_profile" not in image.info
    # The stored preview is encrypted like the file: its bytes are not in the bucket.
    stored = version.previews[0].stored_object
    body = app.extensions["storage"].reader(stored.key).read()
    assert preview[:64] not in body
    # The original is untouched and still downloadable, GPS and all.
    original = lawyer.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert original.data == photo


def test_a_pdf_shows_its_first_five_pages_in_a_viewer_that_runs_nothing(app, people):
    version = send(app, people, "statement.pdf", real_pdf(7, "Statement"))
    assert [p.page for p in version.previews] == [1, 2, 3, 4, 5]
    lawyer = browser(app, people["lawyer"])
    viewer = lawyer.get(f"/cases/{people['case'].uuid}/versions/{version.uuid}/preview")
    assert viewer.status_code == 200
    csp = viewer.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'") and "script-src" not in csp
    assert viewer.text.count('<figure class="preview-page">') == 5
    assert "<script" not in viewer.text
    page = lawyer.get(f"/cases/{people['case'].uuid}/documents/{version.document.uuid}").text
    assert "Open the preview" in page


def test_a_decompression_bomb_gets_no_preview_and_stays_downloadable(app, people):
    bomb = png_bomb()
    version = send(app, people, "huge.png", bomb)
    assert version.preview_state is PreviewState.NONE and version.preview_note == "too_large"
    assert version.previews == []
    lawyer = browser(app, people["lawyer"])
    page = lawyer.get(f"/cases/{people['case'].uuid}/documents/{version.document.uuid}").text
    assert "No preview: the file is too large to show safely." in page
    assert lawyer.get(f"/cases/{people['case'].uuid}/versions/{version.uuid}/download"
                      ).data == bomb


def test_a_preview_is_as_hidden_as_its_file(app, people):
    version = send(app, people, "passport.pdf", real_pdf(1))
    url = f"/cases/{people['case'].uuid}/versions/{version.uuid}/preview"
    assert browser(app, people["client"]).get(url).status_code == 200
    # The sponsor may not see the client's file: the same 404 as for any hidden object.
    sponsor = browser(app, people["sponsor"])
    assert sponsor.get(url).status_code == 404
    assert sponsor.get(url + "/1.png").status_code == 404
    # A page that does not exist, and a version with no preview, are 404 too.
    assert browser(app, people["lawyer"]).get(url + "/2.png").status_code == 404
    video = send(app, people, "clip.mp4", b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2"
                 b"avc1mp41" + b"\x00" * 64)
    assert video.preview_state is PreviewState.NONE and video.preview_note == "unsupported"
    assert browser(app, people["lawyer"]).get(
        f"/cases/{people['case'].uuid}/versions/{video.uuid}/preview").status_code == 404


def test_purging_a_file_purges_its_previews(app, people):
    version = send(app, people, "statement.pdf", real_pdf(2))
    keys = [p.stored_object.key for p in version.previews]
    assert len(keys) == 2
    admin = browser(app, people["admin"])
    response = admin.submit(f"/cases/{people['case'].uuid}/versions/{version.uuid}/purge",
                            {"reason": "Sent to the wrong case"})
    assert response.status_code in (302, 303)
    db.session.expire_all()
    for preview in db.session.scalars(select(Preview)):
        assert preview.stored_object.state is ObjectState.DELETED
    listed = {o.key for o in app.extensions["storage"].list_objects("cases/")}
    assert not listed & set(keys)


def test_the_document_page_does_not_query_per_version(app, people):
    """A document with one version and one with four (each with a preview):
    the same number of statements for their pages."""
    from tests.statements import statements_during
    case, lawyer = people["case"], browser(app, people["lawyer"])
    counts = {}
    for versions in (1, 4):
        first = send(app, people, f"doc{versions}.pdf", real_pdf(1, f"v{versions}"))
        for number in range(2, versions + 1):
            response = upload(browser(app, people["client"]),
                              f"/cases/{case.uuid}/documents/{first.document.uuid}/versions",
                              [(f"doc{versions}.pdf", [real_pdf(1, f"v{versions}.{number}")])])
            assert response.status_code in (302, 303)
        url = f"/cases/{case.uuid}/documents/{first.document.uuid}"
        assert lawyer.get(url).text.count("Open the preview") == versions
        counts[versions] = statements_during(lambda page=url: lawyer.get(page))
    assert counts[1] == counts[4], counts
