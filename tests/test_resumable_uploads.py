"""Resumable uploads (tus 1.0) with the real S3 server: pieces survive a
dropped line, the whole file lands in the vault as a form upload would, and
nobody reaches anyone else's upload."""
from __future__ import annotations

from datetime import timedelta

import base64
import hashlib
import io
import uuid

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (AuditEvent, Document, DocumentRequest, DocumentVersion, ObjectState, Purpose,
                           RequestState, ResumableUpload, Role, StoredObject, UploadState)
from portal.models.types import utcnow
from portal.uploads import services
from tests.conftest import PASSWORD
from tests.jobs import pending_jobs, queued_jobs
from tests.tus import Tus
from tests.uploads import EXE, PDF, pattern, pending_uploads, stored_keys

DATA = b"".join(pattern(700_000, head=PDF))


@pytest.fixture()
def people(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es")
    sponsor = make_user(Role.SPONSOR)
    stranger = make_user(Role.CLIENT)
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor])
    make_case(client=stranger)
    passport = DocumentRequest(case=case, addressee=client, title="Passport", instructions="",
                               created_by=attorney)
    income = DocumentRequest(case=case, addressee=sponsor, title="Income", instructions="",
                             created_by=attorney)
    db.session.add_all([passport, income])
    db.session.commit()
    return dict(attorney=attorney, client=client, sponsor=sponsor, stranger=stranger,
                case=case, passport=passport, income=income)


def signed_in(app, user) -> Tus:
    c = app.test_client()
    assert c.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return Tus(c)


def request_form(people, name="passport") -> str:
    return f"/cases/{people['case'].uuid}/requests/{people[name].uuid}/uploads"


def upload_row(location: str) -> ResumableUpload:
    db.session.expire_all()
    return db.session.scalar(select(ResumableUpload).where(
        ResumableUpload.uuid == uuid.UUID(location.rsplit("/", 1)[1])))


def download(tus: Tus, case, version) -> bytes:
    answer = tus.client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert answer.status_code == 200
    return answer.data


def pieces_in_bucket(app) -> int:
    db.session.expire_all()
    keys = set(stored_keys(app))
    return sum(1 for o in db.session.scalars(select(StoredObject).where(
        StoredObject.purpose == Purpose.UPLOAD_PIECE)) if o.key in keys)


def test_the_server_says_what_it_supports(app, people):
    tus = signed_in(app, people["client"])
    answer = tus.client.options("/uploads", headers=tus.headers())
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation", "termination", "checksum", "expiration"}
    assert "sha1" in answer.headers["Tus-Checksum-Algorithm"]
    assert int(answer.headers["Tus-Max-Size"]) == app.config["UPLOAD_MAX_FILE_BYTES"]


def test_a_file_sent_in_pieces_answers_the_request_byte_for_byte(app, people):
    tus = signed_in(app, people["client"])
    location = tus.send(request_form(people), DATA, pieces=3, filename="pasaporte.pdf")

    upload = upload_row(location)
    assert upload.state is UploadState.SAVED and upload.offset == len(DATA)
    version = upload.version
    assert version.filename == "pasaporte.pdf" and version.size == len(DATA)
    assert version.request_id == people["passport"].id
    db.session.refresh(people["passport"])
    assert people["passport"].state is RequestState.SUBMITTED
    assert download(tus, people["case"], version) == DATA
    # The three pieces are gone from the bucket and marked so; only the file stays.
    assert pieces_in_bucket(app) == 0
    assert not db.session.scalar(select(func.count()).select_from(StoredObject).where(
        StoredObject.purpose == Purpose.UPLOAD_PIECE, StoredObject.state == ObjectState.STORED))
    assert stored_keys(app) == [version.stored_object.key]
    assert pending_uploads(app) == []
    status = tus.client.get(location).get_json()
    assert status["state"] == "saved"
    # Saved by a job, audited with the address the upload came from.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.uploaded"))
    assert event.target == str(version.uuid) and event.ip_address == "127.0.0.1"


def test_a_new_document_and_a_new_version_go_where_their_forms_go(app, people):
    tus = signed_in(app, people["client"])
    case = people["case"]
    tus.send(f"/cases/{case.uuid}/documents", DATA, pieces=2, filename="letter.pdf")
    document = db.session.scalar(select(Document).where(Document.case_id == case.id))
    tus.send(f"/cases/{case.uuid}/documents/{document.uuid}/versions", DATA + b"signed",
             pieces=2, filename="letter-signed.pdf")
    numbers = db.session.scalars(select(DocumentVersion.number).where(
        DocumentVersion.document_id == document.id).order_by(DocumentVersion.number)).all()
    assert numbers == [1, 2]


def test_a_piece_at_the_wrong_offset_is_refused_and_changes_nothing(app, people):
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    assert tus.patch(location, 0, DATA[:300_000]).status_code == 204
    again = tus.patch(location, 0, DATA[:300_000])  # a retry of what already arrived
    assert again.status_code == 409
    ahead = tus.patch(location, 400_000, DATA[400_000:])
    assert ahead.status_code == 409
    head = tus.head(location)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "300000"
    assert head.headers["Upload-Length"] == str(len(DATA))
    assert head.headers["Cache-Control"] == "no-store"
    assert pieces_in_bucket(app) == 1


def cut_off(tus: Tus, location: str, offset: int, sent: bytes, said: int, **headers):
    """A PATCH whose line drops after ``sent``, though it said ``said`` bytes."""
    return tus.client.patch(location, input_stream=io.BytesIO(sent), headers={
        **tus.headers(), "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream", **headers},
        environ_overrides={"CONTENT_LENGTH": str(said)})


def test_a_piece_cut_off_midway_keeps_what_arrived_and_the_upload_resumes(app, people):
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    assert tus.patch(location, 0, DATA[:200_000]).status_code == 204

    # The line drops 100 KB into a piece of 300 KB: those 100 KB are kept.
    assert cut_off(tus, location, 200_000, DATA[200_000:300_000], 300_000).status_code == 400
    assert tus.head(location).headers["Upload-Offset"] == "300000"
    assert pieces_in_bucket(app) == 2 and pending_uploads(app) == []
    # The client asks where to go on, and finishes.
    assert tus.patch(location, 300_000, DATA[300_000:]).status_code == 204
    upload = upload_row(location)
    assert upload.state is UploadState.SAVED
    assert download(tus, people["case"], upload.version) == DATA
    assert pieces_in_bucket(app) == 0


def test_a_piece_with_a_checksum_cut_off_midway_keeps_nothing(app, people):
    """What arrived of a piece whose checksum cannot be checked is not trusted."""
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    digest = base64.b64encode(hashlib.sha1(DATA[:300_000], usedforsecurity=False).digest()).decode()
    assert cut_off(tus, location, 0, DATA[:100_000], 300_000,
                   **{"Upload-Checksum": f"sha1 {digest}"}).status_code == 400
    assert tus.head(location).headers["Upload-Offset"] == "0"
    assert pieces_in_bucket(app) == 0 and pending_uploads(app) == []


def test_a_file_sent_whole_becomes_its_version_without_a_copy(app, people):
    """One PATCH with the whole file: its piece is adopted as the version's
    object (the same object, no second one written), and counted once."""
    tus = signed_in(app, people["client"])
    location = tus.send(request_form(people), DATA, pieces=1)
    upload = upload_row(location)
    assert upload.state is UploadState.SAVED
    version = upload.version
    assert download(tus, people["case"], version) == DATA
    assert stored_keys(app) == [version.stored_object.key]
    stored = version.stored_object
    assert stored.purpose is Purpose.DOCUMENT_VERSION and stored.content_type == "application/pdf"
    assert stored.uuid == version.uuid and stored.state is ObjectState.STORED
    assert upload.pieces[0].stored_object_id == stored.id


def test_a_whole_file_is_saved_by_its_patch_and_pieces_wait_for_the_job(app, people):
    """A file that came whole is recorded as a form's is, before the PATCH
    answers; one in pieces waits for the job that copies them together."""
    tus = signed_in(app, people["client"])
    with queued_jobs(app):
        whole = tus.send(request_form(people), DATA, pieces=1)
        pieces = tus.send(f"/cases/{people['case'].uuid}/documents", DATA, pieces=2)
        assert upload_row(whole).state is UploadState.SAVED
        assert upload_row(pieces).state is UploadState.SAVING
        with app.app_context():
            assert pending_jobs().count("assemble") == 1


def test_a_whole_file_that_just_fits_is_counted_once_when_adopted(app, people):
    """Adopting the piece checks the quota as a copy would: the piece is
    already counted, so a file that fits is not refused for itself."""
    tus = signed_in(app, people["client"])
    app.config["CASE_QUOTA_BYTES"] = len(DATA) + 10
    location = tus.send(request_form(people), DATA, pieces=1)
    upload = upload_row(location)
    assert upload.state is UploadState.SAVED and upload.error is None
    assert tus.create(request_form(people), 11).status_code == 413


def test_a_file_of_a_refused_type_is_stopped_at_its_first_piece(app, people):
    tus = signed_in(app, people["client"])
    exe = EXE + bytes(20_000)
    location = tus.create(request_form(people), len(exe), filename="setup.pdf").headers["Location"]
    refused = tus.patch(location, 0, exe[:10_000])
    assert refused.status_code == 415
    # In the client's language (Spanish): what is accepted.
    assert "PDF" in refused.text and "no se acepta" in refused.text.lower()
    assert upload_row(location).state is UploadState.FAILED
    assert tus.patch(location, 0, exe[:10_000]).status_code == 410
    assert stored_keys(app) == [] and not db.session.scalar(select(func.count(DocumentVersion.id)))


def test_too_large_or_no_room_is_refused_before_any_byte(app, people):
    tus = signed_in(app, people["client"])
    too_big = tus.create(request_form(people), app.config["UPLOAD_MAX_FILE_BYTES"] + 1)
    assert too_big.status_code == 413 and "límite" in too_big.text
    app.config["CASE_QUOTA_BYTES"] = 500_000
    no_room = tus.create(request_form(people), 600_000)
    assert no_room.status_code == 413
    assert not db.session.scalar(select(func.count(ResumableUpload.id)))


def test_a_checksum_that_does_not_match_drops_the_piece(app, people):
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    wrong = tus.patch(location, 0, DATA[:100_000],
                      checksum="sha1 " + "A" * 27 + "=")
    assert wrong.status_code == 460
    assert tus.head(location).headers["Upload-Offset"] == "0"
    assert pieces_in_bucket(app) == 0
    assert tus.patch(location, 0, DATA[:100_000], checksum="sha1").status_code == 204
    assert tus.patch(location, 100_000, b"x", checksum="md5 AAAA").status_code == 400


def test_termination_deletes_the_pieces(app, people):
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    tus.patch(location, 0, DATA[:100_000])
    assert pieces_in_bucket(app) == 1
    assert tus.delete(location).status_code == 204
    assert upload_row(location).state is UploadState.ENDED
    assert stored_keys(app) == []
    assert tus.head(location).status_code == 410


def test_an_upload_left_unfinished_expires_and_its_pieces_go(app, people):
    tus = signed_in(app, people["client"])
    location = tus.create(request_form(people), len(DATA)).headers["Location"]
    tus.patch(location, 0, DATA[:100_000])
    upload = upload_row(location)
    assert upload.expires_at - utcnow() > timedelta(hours=23)
    upload.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    services.sweep()
    assert upload_row(location).state is UploadState.ENDED
    assert stored_keys(app) == []
    assert tus.head(location).status_code == 410
    assert tus.client.get(location).get_json()["state"] == "ended"


@pytest.mark.parametrize("who", ["sponsor", "stranger", "attorney"])
def test_nobody_else_reaches_an_upload(app, people, who):
    owner = signed_in(app, people["client"])
    location = owner.create(request_form(people), len(DATA)).headers["Location"]
    owner.patch(location, 0, DATA[:100_000])
    other = signed_in(app, people[who])
    assert other.head(location).status_code == 404
    assert other.patch(location, 100_000, DATA[100_000:200_000]).status_code == 404
    assert other.delete(location).status_code == 404
    assert other.client.get(location).status_code == 404
    assert upload_row(location).offset == 100_000 and upload_row(location).state \
        is UploadState.RECEIVING


def test_an_upload_reaches_only_what_its_form_would(app, people):
    case = people["case"]
    sponsor = signed_in(app, people["sponsor"])
    # The client's request, from the sponsor: the route's own check says no.
    assert sponsor.create(request_form(people, "passport"), 1000).status_code == 404
    stranger = signed_in(app, people["stranger"])
    assert stranger.create(f"/cases/{case.uuid}/documents", 1000).status_code == 404
    client = signed_in(app, people["client"])
    for path in ("/admin/users", "/uploads", f"/cases/{case.uuid}", "https://evil.test/x", ""):
        assert client.create(path, 1000).status_code == 404, path
    # A request already accepted takes no more files: said in words.
    people["passport"].state = RequestState.ACCEPTED
    db.session.commit()
    closed = client.create(request_form(people), 1000)
    assert closed.status_code == 409 and closed.text
    assert not db.session.scalar(select(func.count(ResumableUpload.id)))


def test_the_protocol_and_the_csrf_token_are_required(app, people):
    tus = signed_in(app, people["client"])
    headers = tus.headers(**{"Upload-Length": "10"})
    headers.pop("X-CSRFToken")
    assert tus.client.post("/uploads", headers=headers).status_code == 400
    no_version = tus.headers(**{"Upload-Length": "10"})
    no_version.pop("Tus-Resumable")
    assert tus.client.post("/uploads", headers=no_version).status_code == 412
    assert tus.client.post("/uploads", headers=tus.headers(**{
        "Upload-Defer-Length": "1"})).status_code == 400
    anonymous = app.test_client().post("/uploads", headers={"Tus-Resumable": "1.0.0"})
    assert anonymous.status_code in (302, 400, 401)
    assert not db.session.scalar(select(func.count(ResumableUpload.id)))


def test_message_files_follow_their_message(app, people):
    tus = signed_in(app, people["client"])
    case = people["case"]
    thread = f"/cases/{case.uuid}/messages"
    # No message with that key yet: nothing to attach to.
    early = tus.create(thread, len(DATA), client_key="k" * 32)
    assert early.status_code == 409
    assert tus.client.submit(thread, {"body": "Here is the passport", "client_key": "k" * 32}
                             ).status_code == 303
    tus.send(thread, DATA, pieces=2, client_key="k" * 32, filename="pasaporte.pdf")
    document = db.session.scalar(select(Document).where(Document.case_id == case.id))
    assert document.message is not None and document.message.client_key == "k" * 32
    # Nobody else attaches files to it, not even the firm that reads the thread.
    firm = signed_in(app, people["attorney"])
    assert firm.create(thread, len(DATA), client_key="k" * 32).status_code == 409
    sponsor = signed_in(app, people["sponsor"])
    assert sponsor.create(thread, len(DATA), client_key="k" * 32).status_code == 404


def test_the_quota_counts_pieces_and_the_whole_file_once(app, people):
    tus = signed_in(app, people["client"])
    app.config["CASE_QUOTA_BYTES"] = len(DATA) + 50_000
    location = tus.send(request_form(people), DATA, pieces=4)
    assert upload_row(location).state is UploadState.SAVED
    # The pieces no longer count: what is left is the quota less the file.
    second = tus.create(request_form(people), 60_000)
    assert second.status_code == 413
    assert tus.create(request_form(people), 40_000).status_code == 201


def test_someone_removed_from_the_case_midway_cannot_go_on(app, people):
    sponsor = signed_in(app, people["sponsor"])
    location = sponsor.create(request_form(people, "income"), len(DATA)).headers["Location"]
    assert sponsor.patch(location, 0, DATA[:100_000]).status_code == 204
    case = people["case"]
    case.memberships = [m for m in case.memberships if m.user_id != people["sponsor"].id]
    db.session.commit()
    assert sponsor.patch(location, 100_000, DATA[100_000:]).status_code == 404
    assert sponsor.head(location).status_code == 404
    assert upload_row(location).offset == 100_000
