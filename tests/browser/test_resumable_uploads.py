"""A Spanish-speaking client on a 360 px phone sends files through the
resumable uploader (Uppy over tus, through nginx and gunicorn, put together
by the job consumer): two files with their progress shown, and a file whose
connection drops halfway, which goes on from where it stopped."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ResumableUpload, UploadState
from tests.browser import production
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import _no_horizontal_scroll, _screenshot
from tests.browser.uploading import add_files
from tests.uploads import PDF, pattern

PHONE = {"width": 360, "height": 740}
MiB = 1 << 20


@pytest.fixture(scope="module")
def spanish_client(production_portal: Portal):
    """(email, case uuid) of a client who reads Spanish."""
    app = production_portal.app
    email, case_uuid = production.add_spanish_client_case(app, production_portal.client_password)
    yield email, case_uuid
    production.empty_case_folder(app, case_uuid)


def _pdf(size: int, label: str) -> bytes:
    return b"".join(pattern(size, head=PDF + f"% {label}\n".encode()))


def _throttle(page, upload_bytes_per_second: int, offline: bool = False):
    """Chromium's own network emulation (DevTools protocol): a slow line, or none."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": offline, "latency": 40, "downloadThroughput": -1,
        "uploadThroughput": upload_bytes_per_second})
    return cdp


def _uploads(app, name: str) -> list[ResumableUpload]:
    with app.app_context():
        rows = db.session.scalars(select(ResumableUpload).where(
            ResumableUpload.filename == name)).all()
        found = [(row.state, [p.start for p in row.pieces],
                  row.version.stored_object.sha256 if row.version else None) for row in rows]
        db.session.remove()
    return found


def _documents_page(portal: Portal, spanish_client, browser):
    """The Spanish client, signed in at 360 px, on her case's documents page:
    (the page, its uploader)."""
    email, case_uuid = spanish_client
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, portal.base_url, email, portal.client_password, SIGN_IN["es"])
    page.goto(f"{portal.base_url}/cases/{case_uuid}/documents")
    return page, page.locator("form.upload .uploader")


def test_two_files_with_progress_in_spanish_at_360_px(production_portal: Portal, spanish_client,
                                                      phone_browser_es):
    from playwright.sync_api import expect

    portal = production_portal
    page, uploader = _documents_page(portal, spanish_client, phone_browser_es)
    expect(uploader).to_be_visible()
    # The plain input and its button gave way to the uploader; its texts are Spanish.
    expect(page.locator("form.upload > input[type=file]")).to_be_hidden()
    expect(uploader.get_by_role("button", name="Navegar por archivos")).to_be_visible()
    _no_horizontal_scroll(page)

    first, second = _pdf(3 * MiB, "carta"), _pdf(200_000, "recibo")
    add_files(uploader, [("carta-medica.pdf", first), ("recibo.pdf", second)])
    expect(uploader.get_by_text("carta-medica.pdf")).to_be_visible()
    _throttle(page, 512 * 1024)  # half a megabyte a second, as on a weak line abroad
    # Once every file is saved, the uploader reloads the page, which lists them.
    with page.expect_navigation(timeout=90_000):
        uploader.locator("button.uppy-StatusBar-actionBtn--upload").click()
        status = uploader.locator(".uppy-StatusBar.is-uploading")
        expect(status).to_be_visible()
        # Progress in the reader's language, with what is left.
        expect(status).to_contain_text("Subiendo")
        _screenshot(page, "tus-1-progress-es")
        page.set_viewport_size(PHONE)
    page.wait_for_load_state()
    listing = page.locator("main")
    expect(listing).to_contain_text("carta-medica.pdf")
    expect(listing).to_contain_text("recibo.pdf")
    _no_horizontal_scroll(page)
    _screenshot(page, "tus-2-saved-es")
    for name, data in (("carta-medica.pdf", first), ("recibo.pdf", second)):
        [(state, _, sha256)] = _uploads(portal.app, name)
        assert state is UploadState.SAVED and sha256 == hashlib.sha256(data).hexdigest()


def _kill_nginx_workers(portal: Portal) -> None:
    """Cut every connection through the proxy, as a line that drops does:
    nginx's workers are killed (its master starts new ones at once)."""
    root = next(log.parent for log in portal.logs if log.name.startswith("nginx"))
    master = (root / "nginx.pid").read_text().strip()
    workers = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True,
                             check=True).stdout.split()
    for pid in workers:
        os.kill(int(pid), signal.SIGKILL)


def test_a_dropped_connection_resumes_where_it_stopped(production_portal: Portal, spanish_client,
                                                        phone_browser_es, tmp_path):
    from playwright.sync_api import expect

    portal = production_portal
    page, uploader = _documents_page(portal, spanish_client, phone_browser_es)
    # Large enough that its one PATCH is still under way when the line drops.
    data = _pdf(160 * MiB, "video")
    path = tmp_path / "pasaporte-escaneado.pdf"
    path.write_bytes(data)
    uploader.locator("input.uppy-Dashboard-input").first.set_input_files(path)
    with page.expect_request(lambda r: r.method == "PATCH", timeout=60_000):
        uploader.locator("button.uppy-StatusBar-actionBtn--upload").click()
    time.sleep(0.4)
    _kill_nginx_workers(portal)
    _screenshot(page, "tus-3-dropped-es")
    with page.expect_navigation(timeout=120_000):
        pass  # the uploader asks where to go on, sends the rest, and shows the saved file
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("pasaporte-escaneado.pdf")
    # One upload, not a second one from zero: what arrived before the drop was
    # kept as a piece (through nginx the cut body reaches the app as a shorter
    # one; tests/test_resumable_uploads.py cuts one off at the app itself), and
    # the rest was sent from there.
    [(state, starts, sha256)] = _uploads(portal.app, "pasaporte-escaneado.pdf")
    assert state is UploadState.SAVED
    assert len(starts) == 2 and starts[0] == 0 and 0 < starts[1] < len(data), starts
    assert sha256 == hashlib.sha256(data).hexdigest()


def test_without_javascript_the_plain_form_still_uploads(production_portal: Portal,
                                                        spanish_client, tmp_path):
    """A browser with JavaScript off gets the plain form, streamed through
    nginx to gunicorn as before."""
    from playwright.sync_api import expect
    from tests.browser.conftest import _browser_context

    portal, base = production_portal, production_portal.base_url
    email, case_uuid = spanish_client
    with _browser_context(tmp_path, locale="es-VE", java_script_enabled=False,
                          viewport=PHONE) as context:
        page = context.new_page()
        # By hand: the sign-in helpers run axe, a script, which this page cannot run.
        email_label, password_label, button = SIGN_IN["es"]
        page.goto(f"{base}/login")
        page.get_by_label(email_label).fill(email)
        page.get_by_label(password_label).fill(portal.client_password)
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/cases/{case_uuid}/documents")
        expect(page.locator(".uploader")).to_have_count(0)
        page.locator("form.upload input[type=file]").set_input_files(files=[
            {"name": "sin-javascript.pdf", "mimeType": "application/pdf",
             "buffer": _pdf(100_000, "plain")}])
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.get_by_role("button", name="Subir", exact=True).click()
        assert sent.value.status == 303, portal.server_logs()
        expect(page.get_by_text("Se subió el archivo sin-javascript.pdf.")).to_be_visible()
