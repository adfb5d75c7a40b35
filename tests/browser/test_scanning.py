"""Files the firm can open safely, as people meet them: over TLS through
nginx, with the job consumer scanning every upload with a real clamd and
making previews in its sandbox. A client on a phone sees "being checked" and
then the outcome in place; an attorney reviews a PDF from its preview, opened
from the review queue, without downloading it."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.dev.clamd import EICAR
from portal.extensions import db
from portal.models import Case, User
from portal.requests import services
from tests.browser.accessibility import check_accessibility
from tests.browser.servers import Portal
from tests.browser.signin import sign_in
from tests.browser.uploading import upload
from tests.uploads import real_pdf

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ATTORNEY = "attorney@firm.example"
TITLE = "Police report of the threats"
EICAR_PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + EICAR + b"\n%%EOF\n"


def _screenshot(page, name: str) -> None:
    """Save the page at phone and desktop width after checking it with axe;
    the page is left at phone width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        check_accessibility(page)
        page.screenshot(path=SCREENSHOTS / f"scanning-{name}-{width}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["phone"])


@pytest.fixture(scope="module")
def police_report_request(production_portal: Portal) -> str:
    """A request of the attorney's to the case's client, made in-process: its uuid."""
    app = production_portal.app
    with app.app_context():
        case = db.session.scalar(select(Case).where(
            Case.uuid == uuid.UUID(production_portal.case_uuid)))
        client = db.session.scalar(select(User).where(User.email == production_portal.client_email))
        attorney = db.session.scalar(select(User).where(User.email == ATTORNEY))
        request = services.create_request(attorney, case, addressee=client, title=TITLE,
                                          instructions="", due_on=None, required=True)
        request_uuid = str(request.uuid)
        db.session.remove()
    return request_uuid


def test_a_client_sees_each_file_being_checked_then_the_outcome(
        production_portal: Portal, browser_clamd, phone_browser):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    page = phone_browser.new_page()
    sign_in(page, base, portal.client_email, portal.client_password)
    page.goto(f"{base}/cases/{portal.case_uuid}/documents")

    # The scanner is held (as a busy one would be): the page says the file is being checked.
    browser_clamd.pause()
    try:
        upload(page, page.locator("form.upload"), [("birth-certificate.pdf", real_pdf(1))])
        card = page.locator("ul.documents li").filter(has_text="birth-certificate.pdf")
        expect(card.locator(".scan-state")).to_have_text("Being checked for viruses…")
        _screenshot(page, "1-being-checked")
    finally:
        browser_clamd.resume()
    # The page asks again by itself and says the outcome in place.
    expect(card.locator(".scan-state")).to_have_text("Checked: no virus found.", timeout=30_000)

    # A file carrying the EICAR test signature is quarantined, and nobody downloads it.
    upload(page, page.locator("form.upload"), [("statement.pdf", EICAR_PDF)])
    card = page.locator("ul.documents li").filter(has_text="statement.pdf")
    expect(card.locator(".scan-state")).to_have_text(
        "Quarantined: the virus check found malware in it (Portal.Test.EICAR.UNOFFICIAL).",
        timeout=30_000)
    page.reload()
    expect(card.get_by_role("link", name="Download")).to_have_count(0)
    _screenshot(page, "2-quarantined")


def test_an_attorney_reviews_a_pdf_from_its_preview_in_the_review_queue(
        production_portal: Portal, police_report_request, browser):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    # The client answers the request with a three-page PDF, and signs out.
    page = browser.new_page()
    sign_in(page, base, portal.client_email, portal.client_password)
    page.goto(f"{base}/cases/{portal.case_uuid}/requests/{police_report_request}/upload")
    upload(page, page.locator("form.upload"), [("police-report.pdf",
                                                real_pdf(3, "Police report"))])
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()

    sign_in(page, base, ATTORNEY, portal.client_password)
    preview = page.get_by_role("link", name="Preview police-report.pdf")
    deadline = time.monotonic() + 60
    while True:  # the consumer scans it, then renders its pages
        page.goto(f"{base}/requests")
        if preview.count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(1000)
    _screenshot(page, "3-queue")
    with page.expect_response(lambda r: r.url.endswith("/preview")) as opened:
        preview.click()
    # The viewer runs nothing: no script, plugin or frame may load in it.
    assert opened.value.headers["content-security-policy"].startswith("default-src 'none'")
    images = page.locator("figure.preview-page img")
    expect(images).to_have_count(3)
    for index in range(3):
        expect(images.nth(index)).to_have_attribute(
            "alt", f"Page {index + 1} of 3 of police-report.pdf")
    loaded = page.evaluate("""() => Promise.all(Array.from(document.images).map(image =>
        image.decode().then(() => image.naturalWidth, () => -1)))""")
    assert len(loaded) == 3 and all(0 < width <= 1600 for width in loaded), loaded
    _screenshot(page, "4-preview")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the viewer is {widths[0]} px wide on a {widths[1]} px screen"
    # From the preview back to the case, where the request is accepted.
    page.goto(f"{base}/cases/{portal.case_uuid}#request-{police_report_request}")
    card = page.locator(f"#request-{police_report_request}")
    card.get_by_role("button", name="Accept").click()
    page.wait_for_load_state()
    expect(card.locator(".state")).to_have_text("accepted")
