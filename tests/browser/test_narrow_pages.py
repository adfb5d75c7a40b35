"""The firm's lists on a 360 px phone: the cases, the review queue, the
agenda and the admin's accounts, outbox and audit trail fit the screen (each
row a card, each filter on a line of its own), and nothing scrolls sideways;
nor on the case page, the firm's (every folded form opened too) and the
client's, nor on the page where the client answers a request."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, Role, User
from portal.requests import services
from tests.browser.conftest import launch
from tests.browser.production import add_firm_member
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import ATTORNEY, _no_horizontal_scroll, _screenshot

PHONE = {"width": 360, "height": 780}
ADMIN = "admin@firm.example"


def _fits(page, base: str, pages) -> None:
    for path, name in pages:
        page.goto(f"{base}{path}")
        page.get_by_role("heading", level=1).first.wait_for()
        page.set_viewport_size(PHONE)
        _no_horizontal_scroll(page)
        _screenshot(page, f"narrow-{name}")
        page.set_viewport_size(PHONE)
        _no_horizontal_scroll(page)


def test_the_firms_lists_fit_a_360_px_phone(production_portal: Portal, browser_prerequisites,
                                             tmp_path):
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    with sync_playwright() as playwright:
        phone = launch(playwright, tmp_path / "phone", viewport=PHONE, is_mobile=True,
                       has_touch=True)
        page = phone.new_page()
        sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        _fits(page, base, (("/", "cases"), ("/requests", "review-queue"), ("/agenda", "agenda")))
        # On the cases page each row is a card naming its cells.
        page.goto(f"{base}/")
        first_cell = page.locator("table.cases tbody tr").first.locator("td").first
        label = first_cell.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Reference"'
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        phone.close()

        add_firm_member(portal.app, ADMIN, "Ruth Admin", Role.ADMIN, portal.client_password)
        admin = launch(playwright, tmp_path / "admin", viewport=PHONE, is_mobile=True,
                       has_touch=True)
        page = admin.new_page()
        sign_in(page, base, ADMIN, portal.client_password, SIGN_IN["en"])
        _fits(page, base, (("/admin/users", "accounts"), ("/admin/outbox", "outbox"),
                           ("/admin/audit", "audit")))
        admin.close()


def _ask_the_client(portal: Portal) -> str:
    """A request to the client of the portal's case, with a long title and
    instructions, made in-process as the attorney would; its uuid."""
    with portal.app.app_context():
        case = db.session.scalar(select(Case).where(Case.uuid == uuid.UUID(portal.case_uuid)))
        client = db.session.scalar(select(User).where(User.email == portal.client_email))
        attorney = db.session.scalar(select(User).where(User.email == ATTORNEY))
        document_request = services.create_request(
            attorney, case, addressee=client,
            title="Passport or national ID of the beneficiary (the page with the photo)",
            instructions="Photograph the whole page, without glare; every corner must show.",
            due_on=date.today() + timedelta(days=7), required=True)
        request_uuid = str(document_request.uuid)
        db.session.remove()
    return request_uuid


def test_the_case_pages_fit_a_360_px_phone(production_portal: Portal, browser_prerequisites,
                                           tmp_path):
    from playwright.sync_api import sync_playwright

    portal, base = production_portal, production_portal.base_url
    request_uuid = _ask_the_client(portal)
    case_page = f"/cases/{portal.case_uuid}"
    try:
        with sync_playwright() as playwright:
            phone = launch(playwright, tmp_path / "attorney", viewport=PHONE, is_mobile=True,
                           has_touch=True)
            page = phone.new_page()
            sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
            _fits(page, base, ((case_page, "case-attorney"),))
            # The links to the sections wrap; each form opened still fits.
            assert page.locator("nav.case-nav a").count() >= 6
            for summary in page.locator("details.fold > summary").all():
                summary.click()
            assert page.locator("details.fold:not([open])").count() == 0
            _no_horizontal_scroll(page)
            _screenshot(page, "narrow-case-attorney-forms-open")
            page.set_viewport_size(PHONE)
            phone.close()

            phone = launch(playwright, tmp_path / "client", viewport=PHONE, is_mobile=True,
                           has_touch=True)
            page = phone.new_page()
            sign_in(page, base, portal.client_email, portal.client_password, SIGN_IN["en"])
            _fits(page, base, ((case_page, "case-client"),
                               (f"{case_page}/requests/{request_uuid}/upload",
                                "request-upload")))
            phone.close()
    finally:
        # The notices queued for no consumer: leave nothing in the machine's Redis.
        portal.app.extensions["jobs"].storage.flush_all()
