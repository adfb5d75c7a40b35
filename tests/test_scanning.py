"""Malware scanning with a real clamd (tests/scanner.py): a version opens
only once the scanner clears it, fails closed when the scanner is down or
hangs, and the firm acts on a quarantine. Skipped, with a line saying so,
where ClamAV is not installed (CI installs it and requires these)."""
from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from config import unsafe_settings
from portal import jobs
from portal.dev.clamd import EICAR
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import (AuditEvent, DocumentRequest, DocumentVersion, RequestState,
                           ScanState)
from portal.models.types import utcnow
from portal.requests import services as requests
from portal.scanning import services as scanning
from portal.scanning import tasks
from tests.conftest import PASSWORD
from tests.jobs import queued_jobs, run_jobs
from tests.scanner import clamd, require_clamd  # noqa: F401 - fixtures
from tests.uploads import upload

EICAR_PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + EICAR + b"\n%%EOF\n"  # a PDF's header, type checks aside
CLEAN_PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
SIGNATURE = "Portal.Test.EICAR.UNOFFICIAL"  # clamd's suffix for a database of our own


def docx_with(text: bytes) -> bytes:
    """A Word document whose body holds ``text`` (compressed, as Word writes it)."""
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                      'openxmlformats.org/package/2006/content-types"/>')
        docx.writestr("word/document.xml", b"<w:document><w:t>" + text + b"</w:t></w:document>")
    return body.getvalue()


@pytest.fixture(scope="module")
def base_config(base_config, clamd):
    """Scanning on, against this module's clamd; a short timeout for the hang test."""
    return {**base_config, **clamd.app_config(), "CLAMD_TIMEOUT": 2}


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, admin = make_user("attorney"), make_user("client"), make_user("admin")
    case = make_case(attorney=lawyer, client=client_user)
    return dict(lawyer=lawyer, client=client_user, admin=admin, case=case)


def browser(app, user):
    session = app.test_client()
    assert session.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return session


def send(app, people, name: str, body: bytes, url: str | None = None) -> DocumentVersion:
    """The client uploads one file; returns its version, fresh from the database."""
    case = people["case"]
    response = upload(browser(app, people["client"]), url or f"/cases/{case.uuid}/documents",
                      [(name, [body])])
    assert response.status_code in (302, 303), response.text
    db.session.expire_all()
    return db.session.scalars(select(DocumentVersion).order_by(DocumentVersion.id.desc())).first()


def download(app, user, people, version):
    return browser(app, user).get(f"/cases/{people['case'].uuid}/versions/{version.uuid}/download")


def audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- verdicts --------------------------------------------------------------------------

@pytest.mark.parametrize("name, body", [("eicar.pdf", EICAR_PDF),
                                        ("letter.docx", docx_with(EICAR))])
def test_an_infected_file_is_quarantined_and_nobody_can_download_it(app, people, name, body):
    version = send(app, people, name, body)
    assert version.scan_state is ScanState.INFECTED
    assert version.scan_result == SIGNATURE
    for who in ("client", "lawyer", "admin"):  # the uploader included
        response = download(app, people[who], people, version)
        assert response.status_code == 403
        assert "quarantined" in response.text and SIGNATURE in response.text
    (event,) = audited("document.quarantined")
    assert event.details["detail"] == SIGNATURE and event.target == str(version.uuid)
    # The uploader reads the outcome on the documents page; the firm, with its one action.
    page = browser(app, people["client"]).get(f"/cases/{people['case'].uuid}/documents").text
    assert "Quarantined" in page and "Download</a>" not in page
    doc_page = browser(app, people["lawyer"]).get(
        f"/cases/{people['case'].uuid}/documents/{version.document.uuid}").text
    assert "Ask Client" in doc_page and "for a new copy" in doc_page


def test_a_clean_file_becomes_available_to_everyone_who_may_see_it(app, people):
    version = send(app, people, "passport.pdf", CLEAN_PDF)
    assert version.scan_state is ScanState.CLEAN and version.scanned_at is not None
    for who in ("client", "lawyer"):
        response = download(app, people[who], people, version)
        assert response.status_code == 200 and response.data == CLEAN_PDF
    assert [e.details["result"] for e in audited("document.scanned")] == ["clean"]


def test_while_being_checked_only_the_uploader_opens_it_and_nobody_decides_on_it(app, people):
    case, client_user = people["case"], people["client"]
    request = requests.create_request(people["lawyer"], case, addressee=client_user,
                                      title="Passport", instructions="", due_on=None,
                                      required=True)
    with queued_jobs(app):
        version = send(app, people, "passport.pdf", CLEAN_PDF,
                       url=f"/cases/{case.uuid}/requests/{request.uuid}/uploads")
        assert version.scan_state is ScanState.SCANNING
        assert download(app, client_user, people, version).status_code == 200
        refused = download(app, people["lawyer"], people, version)
        assert refused.status_code == 403 and "being checked" in refused.text
        lawyer = browser(app, people["lawyer"])
        case_page = lawyer.get(f"/cases/{case.uuid}").text
        assert "You can decide once the virus check is done." in case_page
        with pytest.raises(ServiceError, match="virus check"):
            requests.decide(people["lawyer"], case, db.session.get(DocumentRequest, request.id),
                            "accept", seen=str(version.uuid))
        state = lawyer.get(f"/cases/{case.uuid}/versions/{version.uuid}/scan").json
        assert state["state"] == "scanning" and state["downloadable"] is False
        run_jobs()
    db.session.expire_all()
    assert db.session.get(DocumentVersion, version.id).scan_state is ScanState.CLEAN
    assert download(app, people["lawyer"], people, version).status_code == 200


# --- failing closed --------------------------------------------------------------------

def test_a_stopped_scanner_quarantines_new_files_and_a_rescan_releases_the_clean_ones(
        app, people, clamd, runner):
    clamd.stop()
    try:
        clean = send(app, people, "passport.pdf", CLEAN_PDF)
        infected = send(app, people, "eicar.pdf", EICAR_PDF)
        for version in (clean, infected):
            assert version.scan_state is ScanState.FAILED
            assert version.scan_result == "scanner unreachable"
            response = download(app, people["lawyer"], people, version)
            assert response.status_code == 403 and "could not be checked" in response.text
        banner = browser(app, people["lawyer"]).get("/").text
        assert "The virus scanner is not answering" in banner
        assert "virus scanner" not in browser(app, people["client"]).get("/").text
        health = app.test_client().get("/healthz")
        assert health.status_code == 200 and health.json["scanner"] == "unavailable"
        assert health.json["status"] == "degraded"
    finally:
        clamd.start()
    app.config["CLAMD_SOCKET"] = str(clamd.socket_path)  # a restart may move it
    day = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%d")
    result = runner.invoke(args=["scan", "rescan", "--since", day])
    assert result.exit_code == 0 and "Queued 2 files" in result.output
    db.session.expire_all()
    assert db.session.get(DocumentVersion, clean.id).scan_state is ScanState.CLEAN
    assert db.session.get(DocumentVersion, infected.id).scan_state is ScanState.INFECTED
    assert download(app, people["lawyer"], people, clean).status_code == 200


def test_a_scanner_that_hangs_past_the_timeout_quarantines_the_file(app, people, clamd):
    clamd.pause()
    try:
        version = send(app, people, "passport.pdf", CLEAN_PDF)
    finally:
        clamd.resume()
    assert version.scan_state is ScanState.FAILED and version.scan_result == "scanner timed out"
    assert download(app, people["client"], people, version).status_code == 403


def test_a_scan_run_twice_records_its_verdict_once(app, people):
    with queued_jobs(app):
        version = send(app, people, "eicar.pdf", EICAR_PDF)
        scanning.scan(version.id)
        scanning.scan(version.id)  # the job again, as after a worker died mid-scan
        run_jobs()
    assert len(audited("document.quarantined")) == 1


def test_the_sweep_scans_again_a_version_whose_job_was_lost(app, people):
    with queued_jobs(app):
        version = send(app, people, "passport.pdf", CLEAN_PDF)
        jobs.huey.flush()  # the job is lost, as with a worker killed mid-scan
        assert scanning.sweep() == 0  # too recent to call lost
        db.session.execute(update(DocumentVersion).values(uploaded_at=utcnow() - timedelta(
            minutes=6)))
        db.session.commit()
        tasks.sweep_scans.call_local()
        run_jobs()
    db.session.expire_all()
    assert db.session.get(DocumentVersion, version.id).scan_state is ScanState.CLEAN


# --- the firm's actions ----------------------------------------------------------------

def test_an_admin_releases_a_file_that_could_not_be_scanned_never_an_infected_one(
        app, people, clamd):
    clamd.stop()
    try:
        failed = send(app, people, "passport.pdf", CLEAN_PDF)
    finally:
        clamd.start()
    app.config["CLAMD_SOCKET"] = str(clamd.socket_path)
    infected = send(app, people, "eicar.pdf", EICAR_PDF)
    case = people["case"]
    lawyer, admin = browser(app, people["lawyer"]), browser(app, people["admin"])
    url = f"/cases/{case.uuid}/versions/{{}}/release"
    assert lawyer.submit(url.format(failed.uuid), {"reason": "Known sender"}).status_code == 403
    assert admin.submit(url.format(infected.uuid), {"reason": "Trust me"}).status_code == 303
    assert admin.submit(url.format(failed.uuid), {"reason": "Checked by hand"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(DocumentVersion, infected.id).scan_state is ScanState.INFECTED
    assert db.session.get(DocumentVersion, failed.id).scan_state is ScanState.RELEASED
    (event,) = audited("document.released")
    assert event.details["reason"] == "Checked by hand" and event.target == str(failed.uuid)
    assert download(app, people["lawyer"], people, failed).status_code == 200


def test_asking_for_a_new_copy_rejects_the_request_it_answered_in_the_clients_language(
        app, people):
    case, client_user = people["case"], people["client"]
    client_user.language = "es"
    db.session.commit()
    request = requests.create_request(people["lawyer"], case, addressee=client_user,
                                      title="Pasaporte", instructions="", due_on=None,
                                      required=True)
    version = send(app, people, "pasaporte.pdf", EICAR_PDF,
                   url=f"/cases/{case.uuid}/requests/{request.uuid}/uploads")
    lawyer = browser(app, people["lawyer"])
    response = lawyer.submit(f"/cases/{case.uuid}/versions/{version.uuid}/ask-again", {})
    assert response.status_code == 303
    db.session.expire_all()
    request = db.session.get(DocumentRequest, request.id)
    assert request.state is RequestState.REJECTED
    assert "pasaporte.pdf" in request.rejection_reason and SIGNATURE in request.rejection_reason
    assert "no se pudo aceptar" in request.rejection_reason


def test_asking_for_a_new_copy_of_a_plain_upload_sends_a_request(app, people):
    version = send(app, people, "letter.docx", docx_with(EICAR))
    client_session = browser(app, people["client"])
    refused = client_session.submit(
        f"/cases/{people['case'].uuid}/versions/{version.uuid}/ask-again", {})
    assert refused.status_code == 403
    browser(app, people["lawyer"]).submit(
        f"/cases/{people['case'].uuid}/versions/{version.uuid}/ask-again", {})
    (request,) = db.session.scalars(select(DocumentRequest)).all()
    assert request.addressee_id == people["client"].id and "letter.docx" in request.title


# --- settings and health ---------------------------------------------------------------

def test_production_refuses_to_start_without_a_scanner_unless_scanning_is_off():
    problems = unsafe_settings({"SCANNING": "on"})
    assert any("No malware scanner" in p for p in problems)
    assert not any("scanner" in p for p in unsafe_settings({"SCANNING": "off"}))
    assert not any("scanner" in p for p in unsafe_settings({"SCANNING": "on",
                                                            "CLAMD_SOCKET": "/run/clamd.ctl"}))


def test_health_reports_the_scanner(client):
    body = client.get("/healthz").json
    assert body["scanner"] == "ok" and body["status"] == "ok"
    # A database of our own has no daily version: no age is claimed.
    assert body["signatures_age_days"] is None


def test_with_scanning_off_files_open_at_once_and_the_firm_is_told(app, people):
    app.config["SCANNING"] = "off"
    version = send(app, people, "passport.pdf", EICAR_PDF)
    assert version.scan_state is ScanState.UNSCANNED
    assert download(app, people["lawyer"], people, version).status_code == 200
    assert "Virus scanning is off" in browser(app, people["lawyer"]).get("/").text
    assert "Virus scanning is off" not in browser(app, people["client"]).get("/").text
    assert app.test_client().get("/healthz").json["scanner"] == "off"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "document.scanned")) == 0
