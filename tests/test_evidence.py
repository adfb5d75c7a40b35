"""The evidence vault against the real SeaweedFS: encryption, versions,
bad input, access rules and the audit trail."""
from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from portal.vault import IntegrityFailure
from portal.extensions import db
from portal.models import AuditEvent, Document, EncryptionKeyset, VersionStatus
from tests.uploads import (EXE, HTML, JPEG, MP4, PDF, SVG, Interrupted, documents_url, flashes,
                           pattern, pending_uploads, post_raw, raw_form, stored_keys, upload,
                           versions)

MiB = 1 << 20


@pytest.fixture()
def people(make_user, make_case):
    client, sponsor, attorney = make_user("client"), make_user("sponsor"), make_user("attorney")
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor])
    return dict(client=client, sponsor=sponsor, attorney=attorney, case=case)


def raw_object(app, key: str) -> bytes:
    storage = app.extensions["storage"]
    return storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()


def put_raw(app, key: str, data: bytes) -> None:
    storage = app.extensions["storage"]
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=data)


def download_link(client, case, version) -> str:
    return f"/cases/{case.uuid}/versions/{version.uuid}/download"


def assert_nothing_stored(app):
    assert versions() == []
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_keys(app) == []
    assert pending_uploads(app) == []


# --- round trip and encryption ----------------------------------------------

def test_multipart_file_round_trips_with_identical_sha256(app, as_client, people):
    content = b"".join(pattern(20 * MiB, head=PDF))  # four 5 MiB parts and a remnant
    response = upload(as_client, documents_url(people["case"]),
                      [("Medical report.pdf", [content])])
    assert response.status_code == 303
    assert flashes(as_client.get(response.headers["Location"]).text) == [
        "Medical report.pdf was uploaded."]
    (version,) = versions()
    assert version.sha256 == hashlib.sha256(content).hexdigest() and version.size == len(content)
    assert version.storage_key == f"cases/{people['case'].uuid}/{version.uuid}"
    assert version.content_type == "application/pdf"
    downloaded = as_client.get(download_link(as_client, people["case"], version))
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.data).hexdigest() == version.sha256


def test_stored_object_is_ciphertext_only(app, as_client, people):
    marker = b"PASSPORT-NUMBER-X1234567 " * 4000
    upload(as_client, documents_url(people["case"]), [("passport.pdf", [PDF + marker])])
    (version,) = versions()
    stored = raw_object(app, version.storage_key)
    assert marker[:25] not in stored and b"%PDF" not in stored
    assert len(stored) > version.size  # headers and tags of the AEAD segments


def test_several_files_in_one_form_become_several_documents(as_client, people):
    response = upload(as_client, documents_url(people["case"]),
                      [("a.pdf", [PDF]), ("b.jpg", [JPEG])])
    assert sorted(flashes(as_client.get(response.headers["Location"]).text)) == [
        "a.pdf was uploaded.", "b.jpg was uploaded."]
    assert db.session.scalar(select(func.count()).select_from(Document)) == 2


@pytest.mark.parametrize("damage", ["tamper", "truncate", "swap"])
def test_altered_truncated_or_swapped_object_is_detected_on_download(app, as_client, people, damage):
    upload(as_client, documents_url(people["case"]), [("one.pdf", [PDF + b"1" * 3 * MiB])])
    upload(as_client, documents_url(people["case"]), [("two.pdf", [PDF + b"2" * 3 * MiB])])
    first, second = versions()
    stored = raw_object(app, first.storage_key)
    if damage == "tamper":
        put_raw(app, first.storage_key, stored[:1000] + bytes([stored[1000] ^ 1]) + stored[1001:])
    elif damage == "truncate":
        put_raw(app, first.storage_key, stored[:len(stored) - 100])
    else:  # another version's object under this version's key
        put_raw(app, first.storage_key, raw_object(app, second.storage_key))
    response = as_client.get(download_link(as_client, people["case"], first))
    if damage == "truncate":
        # The damage is in the last segment: headers are sent, then the stream
        # breaks off instead of delivering a short file.
        assert response.status_code == 200
        with pytest.raises(IntegrityFailure):
            response.get_data()
    else:
        assert response.status_code == 500
        assert "could not be verified" in response.text
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "document.integrity_failed")).target == str(first.uuid)
    assert as_client.get(download_link(as_client, people["case"], second)).status_code == 200


def test_download_is_an_attachment_with_encoded_name_and_safe_headers(as_client, people):
    upload(as_client, documents_url(people["case"]), [("паспорт «Ана».jpg", [PDF])])
    (version,) = versions()
    response = as_client.get(download_link(as_client, people["case"], version))
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert "filename*=UTF-8''%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82" in \
        response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "application/pdf"  # the content, not the name
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "sandbox" in response.headers["Content-Security-Policy"]


# --- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("name, content, message", [
    ("empty.pdf", b"", "This file is empty."),
    ("invoice.pdf", EXE + b"\x00" * 5000, "This kind of file is not accepted."),
    ("page.html", HTML, "This kind of file is not accepted."),
    ("drawing.svg", SVG, "This kind of file is not accepted."),
])
def test_refused_files_leave_nothing_behind(app, as_client, people, name, content, message):
    response = upload(as_client, documents_url(people["case"]), [(name, [content])])
    (flash,) = flashes(as_client.get(response.headers["Location"]).text)
    assert flash.startswith(f"{name} was not saved: {message}")
    assert_nothing_stored(app)


def test_file_over_the_limit_is_refused_and_leaves_nothing(app, as_client, people):
    size = 501 * MiB
    response = upload(as_client, documents_url(people["case"]),
                      [("video.mp4", pattern(size, head=MP4))])
    assert response.status_code == 303, response.text[-3000:]
    (flash,) = flashes(as_client.get(response.headers["Location"]).text)
    assert "larger than the limit of 500 MB" in flash
    assert_nothing_stored(app)


def test_case_quota_is_enforced(app, as_client, people):
    app.config["CASE_QUOTA_BYTES"] = 2 * MiB
    upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF + b"a" * MiB])])
    response = upload(as_client, documents_url(people["case"]),
                      [("b.pdf", [PDF + b"b" * (2 * MiB)])])
    (flash,) = flashes(as_client.get(response.headers["Location"]).text)
    assert "does not fit in the case&#39;s remaining storage" in flash
    assert len(versions()) == 1 and len(stored_keys(app)) == 1


def test_parallel_uploads_cannot_overshoot_the_quota(app, as_client, people):
    """Both files fit when their uploads begin; the sponsor's finishes while
    the client's is still streaming, so the client's no longer fits."""
    from tests.conftest import PASSWORD
    app.config["CASE_QUOTA_BYTES"] = 3 * MiB
    sponsor = app.test_client()
    sponsor.submit("/login", {"email": people["sponsor"].email, "password": PASSWORD})

    def sponsor_uploads():
        response = upload(sponsor, documents_url(people["case"]),
                          [("b.pdf", [PDF + b"b" * (2 * MiB)])])
        assert "b.pdf was uploaded." in flashes(sponsor.get(response.headers["Location"]).text)

    client_file = Interrupted(2 * MiB, after=MiB, act=sponsor_uploads)
    response = upload(as_client, documents_url(people["case"]), [("a.pdf", client_file)])
    (flash,) = flashes(as_client.get(response.headers["Location"]).text)
    assert "does not fit in the case&#39;s remaining storage" in flash
    assert [v.filename for v in versions()] == ["b.pdf"]
    assert len(stored_keys(app)) == 1 and pending_uploads(app) == []


@pytest.mark.parametrize("name, shown", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe.pdf"),
    ("bad\x00\x07name.pdf", "badname.pdf"),
    # Named by the type detected, as shown and as offered alike.
    ("x.pdf.html", "x.pdf.html.pdf"),
    ("scan.png", "scan.pdf"),
    pytest.param("a" * 250 + ".html", "a" * 195 + ".pdf", id="long-name"),
])
def test_file_names_are_shown_safely(as_client, people, name, shown):
    upload(as_client, documents_url(people["case"]), [(name, [PDF])])
    (version,) = versions()
    assert version.filename == shown
    assert version.storage_key.endswith(str(version.uuid))  # never the user's name
    response = as_client.get(download_link(as_client, people["case"], version))
    assert response.headers["Content-Disposition"].endswith(
        f"filename*=UTF-8''{quote(shown, safe='')}")


def test_upload_without_csrf_token_is_refused_and_stores_nothing(app, as_client, people):
    response = upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF])], csrf=None)
    assert response.status_code == 400
    assert "security token" in response.text
    assert_nothing_stored(app)


def test_double_submitted_form_is_recorded_once(as_client, people):
    form_id = "6a1c1f4e-8f3e-4d8e-9b55-1d2a3b4c5d6e"
    upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF])], submission_id=form_id)
    again = upload(as_client, documents_url(people["case"]), [("a.pdf", [PDF])],
                   submission_id=form_id)
    assert flashes(as_client.get(again.headers["Location"]).text) == ["a.pdf was already received."]
    assert len(versions()) == 1


def test_form_without_a_file_asks_for_one(as_client, people):
    response = upload(as_client, documents_url(people["case"]), [("", [b""])])
    assert flashes(as_client.get(response.headers["Location"]).text) == [
        "Please choose at least one file."]


def test_client_cannot_upload_to_someone_elses_case(app, as_client, make_case):
    other = make_case()
    response = upload(as_client, documents_url(other), [("a.pdf", [PDF])])
    assert response.status_code == 404
    assert_nothing_stored(app)


# --- versions, withdrawal, purge ----------------------------------------------

def test_replacing_a_wrong_file_adds_a_version_and_keeps_the_old(app, as_client, people):
    upload(as_client, documents_url(people["case"]), [("wrong.pdf", [PDF + b"old"])])
    (first,) = versions()
    document = first.document
    response = upload(as_client, f"{documents_url(people['case'])}/{document.uuid}/versions",
                      [("right.pdf", [PDF + b"new"])])
    assert response.status_code == 303
    old, new = versions()
    assert (old.number, new.number) == (1, 2) and new.document_id == old.document_id
    assert len(stored_keys(app)) == 2
    page = as_client.get(f"{documents_url(people['case'])}/{document.uuid}").text
    assert "wrong.pdf" in page and "right.pdf" in page


ONE_FILE = ("was not saved: A new version is one file, and this upload held several, so none "
            "of them was saved. Please choose one file.")


@pytest.mark.parametrize("files", [
    [("right.pdf", [PDF + b"new"]), ("extra.pdf", [PDF + b"extra"])],
    [("", []), ("right.pdf", [PDF + b"new"]), ("", []), ("extra.jpg", [JPEG])],
    [("setup.exe", [EXE]), ("right.pdf", [PDF + b"new"])],  # the first refused, the next too
], ids=["two", "two-among-empty-parts", "refused-first"])
def test_a_new_version_is_one_file_and_a_form_with_more_stores_nothing(app, as_client, people,
                                                                       files):
    upload(as_client, documents_url(people["case"]), [("wrong.pdf", [PDF + b"old"])])
    (first,) = versions()
    target = f"{documents_url(people['case'])}/{first.document.uuid}"
    response = upload(as_client, f"{target}/versions", files)
    assert response.status_code == 303 and response.headers["Location"] == target
    shown = flashes(as_client.get(target).text)
    named = [name for name, _ in files if name]
    assert [f for f in shown if ONE_FILE in f] == [f"{name} {ONE_FILE}" for name in named
                                                   if name != "setup.exe"]
    assert versions() == [first]
    assert stored_keys(app) == [first.storage_key] and pending_uploads(app) == []


def test_a_new_version_form_cut_off_in_its_second_file_stores_nothing(app, as_client, people):
    upload(as_client, documents_url(people["case"]), [("wrong.pdf", [PDF + b"old"])])
    (first,) = versions()
    body = raw_form({"csrf_token": as_client.csrf_token(), "submission_id": str(uuid.uuid4())},
                    [("right.pdf", [PDF + b"new"]), ("extra.pdf", [PDF + b"x" * 5000])])
    target = f"{documents_url(people['case'])}/{first.document.uuid}/versions"
    response = post_raw(as_client, target, body[:-3000])
    assert response.status_code == 400
    assert versions() == [first]
    assert stored_keys(app) == [first.storage_key] and pending_uploads(app) == []


def test_sponsor_sees_only_their_own_uploads(app, client, login_as, people):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("medical.pdf", [PDF + b"secret"])])
    client.submit("/logout")
    login_as(people["sponsor"])
    upload(client, documents_url(people["case"]), [("tax-return.pdf", [PDF + b"tax"])])
    medical, tax = versions()
    page = client.get(documents_url(people["case"])).text
    assert ">tax-return.pdf</a>" in page and "medical.pdf" not in page
    assert client.get(download_link(client, people["case"], medical)).status_code == 404
    document_page = f"{documents_url(people['case'])}/{medical.document.uuid}"
    assert client.get(document_page).status_code == 404
    denied = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "version.access_denied"))
    assert denied.actor_id == people["sponsor"].id
    client.submit("/logout")
    login_as(people["client"])
    page = client.get(documents_url(people["case"])).text
    assert ">medical.pdf</a>" in page and "tax-return.pdf" not in page
    tax_url = f"/cases/{people['case'].uuid}/versions/{tax.uuid}/download"
    assert client.get(tax_url).status_code == 404  # the sponsor's finances are not the client's
    assert client.get(f"{documents_url(people['case'])}/{tax.document.uuid}").status_code == 404


def test_sponsor_sees_the_reference_but_not_the_case_title(client, login_as, people):
    """The title often names a medical emergency: not the sponsor's business."""
    case = people["case"]
    login_as(people["sponsor"])
    for page in (client.get("/").text, client.get(f"/cases/{case.uuid}").text):
        assert case.title not in page and f"Case {case.reference}" in page
    client.submit("/logout")
    login_as(people["client"])
    assert case.title in client.get(f"/cases/{case.uuid}").text


def test_withdrawing_asks_for_confirmation_first(client, login_as, people):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("passport.pdf", [PDF])])
    (version,) = versions()
    page = client.get(f"{documents_url(people['case'])}/{version.document.uuid}").text
    assert "<summary>Withdraw this file…</summary>" in page and "Yes, withdraw it" in page
    response = client.submit(f"/cases/{people['case'].uuid}/versions/{version.uuid}/withdraw",
                             follow_redirects=True)
    assert "Nothing was withdrawn" in response.text
    db.session.refresh(version)
    assert version.status is VersionStatus.AVAILABLE


def test_client_withdraws_own_upload_which_the_firm_keeps(client, login_as, people):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("wrong-person.pdf", [PDF])])
    (version,) = versions()
    client.submit(f"/cases/{people['case'].uuid}/versions/{version.uuid}/withdraw", {"confirmed": "yes"})
    db.session.refresh(version)
    assert version.status is VersionStatus.WITHDRAWN
    assert ">wrong-person.pdf</a>" not in client.get(documents_url(people["case"])).text
    assert client.get(download_link(client, people["case"], version)).status_code == 404
    client.submit("/logout")
    login_as(people["attorney"])
    page = client.get(f"{documents_url(people['case'])}/{version.document.uuid}").text
    assert "Withdrawn by the uploader." in page
    assert client.get(download_link(client, people["case"], version)).status_code == 200


def test_only_the_uploader_can_withdraw(client, login_as, people):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("a.pdf", [PDF])])
    (version,) = versions()
    client.submit("/logout")
    login_as(people["attorney"])
    response = client.submit(f"/cases/{people['case'].uuid}/versions/{version.uuid}/withdraw", {"confirmed": "yes"})
    assert "Only the person who uploaded" in flashes(client.get(response.headers["Location"]).text)[0]
    db.session.refresh(version)
    assert version.status is VersionStatus.AVAILABLE


def test_admin_purges_with_a_reason_and_the_object_is_deleted(app, client, login_as, people,
                                                             make_user):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("a.pdf", [PDF])])
    (version,) = versions()
    client.submit("/logout")
    admin = make_user("admin")
    login_as(admin)
    purge = f"/cases/{people['case'].uuid}/versions/{version.uuid}/purge"
    refused = client.submit(purge, {"reason": ""})  # the page again, the error by the reason
    assert refused.status_code == 200
    assert f'id="version-{version.uuid}-purge-reason-error"' in refused.text
    assert "Please give the reason for purging." in refused.text
    assert stored_keys(app) == [version.storage_key]  # no reason, no purge
    client.submit(purge, {"reason": "Uploaded to the wrong case by mistake"})
    db.session.refresh(version)
    assert version.status is VersionStatus.PURGED and version.status_changed_by_id == admin.id
    assert version.status_reason == "Uploaded to the wrong case by mistake"
    assert stored_keys(app) == []
    assert client.get(download_link(client, people["case"], version)).status_code == 410
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.purged"))


def test_every_upload_download_and_withdrawal_is_audited(client, login_as, people):
    login_as(people["client"])
    upload(client, documents_url(people["case"]), [("a.pdf", [PDF])])
    (version,) = versions()
    client.get(download_link(client, people["case"], version))
    client.submit(f"/cases/{people['case'].uuid}/versions/{version.uuid}/withdraw", {"confirmed": "yes"})
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.target == str(version.uuid))
                               .order_by(AuditEvent.id)).all()
    assert [e.action for e in trail] == ["document.uploaded", "document.downloaded",
                                         "document.withdrawn"]
    assert all(e.case_id == people["case"].id and e.actor_id == people["client"].id for e in trail)


# --- keys and reconcile --------------------------------------------------------

def test_key_rotation_keeps_old_files_readable(app, as_client, people, runner):
    upload(as_client, documents_url(people["case"]), [("before.pdf", [PDF + b"before"])])
    result = runner.invoke(args=["rotate-key"])
    assert result.exit_code == 0 and "New primary data key" in result.output
    new_files_key = int(result.output.split("key ")[1].split(" for files")[0])
    upload(as_client, documents_url(people["case"]), [("after.pdf", [PDF + b"after"])])
    before, after = versions()
    for version in (before, after):
        response = as_client.get(download_link(as_client, people["case"], version))
        assert hashlib.sha256(response.data).hexdigest() == version.sha256
    row = db.session.scalar(select(EncryptionKeyset).where(EncryptionKeyset.name == "files"))
    assert row.version == 2  # every worker reloads the keyset on its next use
    keyset = app.extensions["crypto"].files.open(row.encrypted_keyset).keyset_info()
    assert len(keyset.key_info) == 2 and keyset.primary_key_id == new_files_key


def test_reconcile_finds_and_repairs_both_kinds_of_orphan(app, as_client, people, runner):
    upload(as_client, documents_url(people["case"]),
           [("kept.pdf", [PDF]), ("lost.pdf", [PDF + b"x"])])
    kept, lost = versions()
    storage = app.extensions["storage"]
    storage.delete(lost.storage_key)
    stray = f"cases/{people['case'].uuid}/00000000-0000-4000-8000-000000000001"
    put_raw(app, stray, b"ciphertext without a row")
    storage.client.create_multipart_upload(Bucket=storage.bucket, Key=f"cases/{people['case'].uuid}/x")
    report = runner.invoke(args=["reconcile-storage", "--grace-minutes", "0"])
    assert report.exit_code == 1
    assert f"orphan object     {stray}" in report.output
    assert f"missing object    {lost.storage_key}" in report.output
    assert "unfinished upload" in report.output
    repair = runner.invoke(args=["reconcile-storage", "--grace-minutes", "0", "--repair"])
    assert repair.exit_code == 0, repair.output
    db.session.refresh(lost)
    assert lost.status is VersionStatus.MISSING
    assert stored_keys(app) == [kept.storage_key] and pending_uploads(app) == []
    again = runner.invoke(args=["reconcile-storage", "--grace-minutes", "0"])
    assert "Storage and database agree." in again.output
    page = as_client.get(documents_url(people["case"])).text
    assert ">kept.pdf</a>" in page and ">lost.pdf</a>" not in page  # no longer offered


def test_reconcile_leaves_recent_objects_alone(app, as_client, people, runner):
    put_raw(app, f"cases/{people['case'].uuid}/in-flight", b"an upload finishing right now")
    result = runner.invoke(args=["reconcile-storage", "--repair"])
    assert "Storage and database agree." in result.output
    assert stored_keys(app) == [f"cases/{people['case'].uuid}/in-flight"]


def test_the_store_refuses_a_part_whose_checksum_does_not_match(app):
    """The payload is not hashed for the signature (payload_signing_enabled
    is off), so integrity in transit rests on this check by the store."""
    import base64

    from botocore.exceptions import ClientError
    storage = app.extensions["storage"]
    upload_id = storage.client.create_multipart_upload(
        Bucket=storage.bucket, Key="cases/x/y", ChecksumAlgorithm="SHA256")["UploadId"]
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    with pytest.raises(ClientError, match="BadDigest"):
        storage.client.upload_part(Bucket=storage.bucket, Key="cases/x/y", UploadId=upload_id,
                                   PartNumber=1, Body=b"the real bytes", ChecksumSHA256=wrong)
