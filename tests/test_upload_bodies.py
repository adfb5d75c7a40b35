"""Uploads whose body is not what it should be, forms with too many files,
and the name a file is offered under on download (issue 7, part 5)."""
from __future__ import annotations

import io
import itertools
import logging
import zipfile
from urllib.parse import quote

import filetype
import pytest

from portal.evidence import multipart
from portal.evidence.files import ALLOWED_TYPES, EXTENSIONS
from portal.evidence.services import MAX_FILES_PER_FORM
from tests.uploads import (BOUNDARY, JPEG, PDF, LazyBody, flashes, pattern, post_raw, raw_form,
                           upload, versions)

MiB = 1 << 20
UNREADABLE = "The upload could not be read to the end"


@pytest.fixture()
def case(make_user, make_case, client, login_as):
    """A case whose client is signed in on ``client``."""
    user = make_user("client")
    login_as(user)
    return make_case(client=user)


def url(case) -> str:
    return f"/cases/{case.uuid}/documents"


def fields(client) -> dict[str, str]:
    return {"csrf_token": client.csrf_token(),
            "submission_id": "0b7c6a1e-3f0e-4b8e-9a55-1d2a3b4c5d6e"}


def assert_nothing_stored(app):
    storage = app.extensions["storage"]
    assert versions() == []
    assert list(storage.list_objects("")) == []
    assert list(storage.pending_uploads("")) == []


def assert_no_traceback_logged(caplog):
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


# --- bodies that are not the form they claim to be ----------------------------

def _other_boundary(form: bytes) -> bytes:
    return form.replace(BOUNDARY.encode(), b"----a-boundary-the-header-does-not-name")


def _cut_inside_the_file(form: bytes) -> bytes:
    return form[:form.index(b"%PDF") + 12 * MiB]  # three 5 MiB parts were on their way


def _cut_inside_the_headers(form: bytes) -> bytes:
    return form[:form.index(b'filename="scan.pdf"') + 5]


def _no_content_disposition(form: bytes) -> bytes:
    return form.replace(b"Content-Disposition: form-data; name=\"files\"",
                        b"X-Nothing: here", 1)


def _undecodable_header(form: bytes) -> bytes:
    return form.replace(b'filename="scan.pdf"', b'filename="\xff\xfe.pdf"', 1)


def _garbage(form: bytes) -> bytes:
    return bytes((i * 131 + 7) % 256 for i in range(4096))


@pytest.mark.parametrize("spoil, size", [
    (_other_boundary, 4096), (_other_boundary, 16 * MiB), (_cut_inside_the_file, 16 * MiB),
    (_cut_inside_the_headers, 4096), (_no_content_disposition, 4096),
    (_undecodable_header, 4096), (_garbage, 0)],
    ids=lambda value: value.__name__.strip("_") if callable(value) else str(value))
def test_malformed_body_answers_400_and_stores_nothing(app, client, case, caplog, spoil, size):
    form = raw_form(fields(client), [("scan.pdf", pattern(size, head=PDF))])
    caplog.set_level(logging.INFO)
    response = post_raw(client, url(case), spoil(form))
    assert response.status_code == 400
    assert UNREADABLE in response.text
    assert_no_traceback_logged(caplog)
    assert_nothing_stored(app)


def test_file_cut_off_is_named_as_not_saved(app, client, case):
    form = raw_form(fields(client), [("scan.pdf", pattern(16 * MiB, head=PDF))])
    response = post_raw(client, url(case), _cut_inside_the_file(form))
    assert flashes(response.text) == [
        "scan.pdf was not saved: The upload broke off while this file was being sent, so it "
        "was not saved."]


def test_files_before_the_break_are_kept_and_reported(app, client, case):
    form = raw_form(fields(client), [("first.pdf", [PDF + b"one"]),
                                     ("second.pdf", pattern(8 * MiB, head=PDF))])
    response = post_raw(client, url(case), form[:form.index(b"second.pdf") + 6 * MiB])
    assert response.status_code == 400 and UNREADABLE in response.text
    assert flashes(response.text) == [
        "first.pdf was uploaded.",
        "second.pdf was not saved: The upload broke off while this file was being sent, so it "
        "was not saved."]
    assert [v.filename for v in versions()] == ["first.pdf"]
    storage = app.extensions["storage"]
    assert [o.key for o in storage.list_objects("")] == [versions()[0].storage_key]
    assert list(storage.pending_uploads("")) == []


def test_connection_dropped_mid_file_answers_400_and_keeps_nothing(app, client, case, caplog):
    """Fewer bytes arrive than Content-Length announced."""
    form = raw_form(fields(client), [("scan.pdf", pattern(16 * MiB, head=PDF))])
    sent = form[:len(form) // 2]
    response = post_raw(client, url(case), LazyBody([sent], length=len(form)))
    assert response.status_code == 400
    assert UNREADABLE in response.text
    assert "scan.pdf was not saved: The upload broke off" in flashes(response.text)[0]
    assert_no_traceback_logged(caplog)
    assert_nothing_stored(app)


def test_endless_garbage_is_refused_without_being_held_or_read_to_the_end(app, client, case):
    """No boundary ever comes: the decoder would keep all of it in memory."""
    size = 64 * MiB
    body = LazyBody(pattern(size), length=size)
    response = post_raw(client, url(case), body)
    assert response.status_code == 400
    assert body.position <= 2 * multipart.CHUNK
    assert_nothing_stored(app)


def test_bytes_after_the_end_of_the_form_are_not_held(app, client, case):
    """The epilogue after the closing boundary is dropped, not buffered."""
    form = raw_form(fields(client), [("scan.pdf", [PDF])])
    trailer = pattern(64 * MiB)
    body = LazyBody(itertools.chain([form], trailer), length=len(form) + len(trailer))
    response = post_raw(client, url(case), body)
    assert response.status_code == 303
    assert body.position <= len(form) + 2 * multipart.CHUNK
    assert [v.filename for v in versions()] == ["scan.pdf"]


# --- too many files --------------------------------------------------------------

def test_files_over_the_limit_are_named_as_not_saved_and_the_rest_stored(client, case):
    names = [f"page-{n:03d}.pdf" for n in range(1, 251)]
    response = upload(client, url(case), [(name, [PDF + name.encode()]) for name in names])
    assert response.status_code == 303
    messages = flashes(client.get(response.headers["Location"]).text)
    assert messages[:MAX_FILES_PER_FORM] == [f"{n} was uploaded." for n in names[:20]]
    assert messages[MAX_FILES_PER_FORM:] == [
        "230 more files were not saved, because one upload can carry at most 20 files. Among "
        "them: page-021.pdf, page-022.pdf, page-023.pdf, page-024.pdf, and page-025.pdf. "
        "Please upload them again."]
    assert [v.filename for v in versions()] == names[:MAX_FILES_PER_FORM]


def test_a_few_files_over_the_limit_are_all_named(client, case):
    names = [f"page-{n:02d}.pdf" for n in range(1, 23)]
    response = upload(client, url(case), [(name, [PDF]) for name in names])
    messages = flashes(client.get(response.headers["Location"]).text)
    assert messages[-1] == ("2 more files were not saved, because one upload can carry at most "
                            "20 files: page-21.pdf and page-22.pdf. Please upload them again.")
    assert len(versions()) == MAX_FILES_PER_FORM


def test_form_with_more_parts_than_are_read_answers_413_after_saying_what_was_stored(
        client, case, caplog):
    names = [f"p{n}.pdf" for n in range(multipart.MAX_PARTS)]  # and two fields
    response = upload(client, url(case), [(name, [PDF]) for name in names])
    assert response.status_code == 413
    assert "too many parts" in response.text
    messages = flashes(response.text)
    assert messages[:MAX_FILES_PER_FORM] == [f"{n} was uploaded." for n in names[:20]]
    assert messages[-1].startswith(f"{multipart.MAX_PARTS - 2 - MAX_FILES_PER_FORM} more files "
                                   "were not saved")
    assert len(versions()) == MAX_FILES_PER_FORM
    assert_no_traceback_logged(caplog)


def test_upload_form_states_the_file_count_limit(client, case):
    page = client.get(url(case)).text
    assert "You can send up to 20 files at once." in page
    assert 'data-max-files="20"' in page


# --- the name offered on download ------------------------------------------------

def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 64


DOWNLOAD_NAMES = [
    ("evidence.hta", PDF, "evidence.hta.pdf", "evidence.hta.pdf"),
    ("invoice\u202efdp.exe", PDF, "invoicefdp.exe.pdf", "invoicefdp.exe.pdf"),
    ("photo.png", JPEG, "photo.jpg", "photo.jpg"),  # another accepted type's extension
    ("Scan.JPEG", JPEG, "Scan.JPEG", "Scan.JPEG"),  # a right spelling is kept
    ("IMG_0001.jpg", HEIC, "IMG_0001.heic", "IMG_0001.heic"),
    ("statement.pdf", None, "statement.docx", "statement.docx"),  # None: a DOCX
    ("clip.mp4", MOV, "clip.mov", "clip.mov"),
    ("Scan 12.03.2024", PDF, "Scan 12.03.2024.pdf", "Scan 12.03.2024.pdf"),
    ("паспорт.pdf", PDF, "паспорт.pdf", "pasport.pdf"),
    ("护照.pdf", PDF, "护照.pdf", "HuZhao.pdf"),
    ("جواز.pdf", PDF, "جواز.pdf", "jwz.pdf"),
    ("«»★.pdf", PDF, "«»★.pdf", "document.pdf"),
]


@pytest.mark.parametrize("uploaded, content, offered, fallback", DOWNLOAD_NAMES,
                         ids=[row[3] for row in DOWNLOAD_NAMES])
def test_download_name_ends_in_the_detected_types_extension(client, case, uploaded, content,
                                                            offered, fallback):
    upload(client, url(case), [(uploaded, [content or _docx()])])
    (version,) = versions()
    response = client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(offered, safe='')}")


def test_every_allowed_type_has_the_extension_type_detection_gives_it():
    assert set(EXTENSIONS) == set(ALLOWED_TYPES)
    for kind in filetype.types:
        if kind.mime in ALLOWED_TYPES:
            assert kind.extension in EXTENSIONS[kind.mime], kind.mime
