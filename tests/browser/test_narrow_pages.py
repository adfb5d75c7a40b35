"""The firm's lists on a 360 px phone: the cases, the review queue, the
agenda and the admin's accounts, outbox and audit trail fit the screen (each
row a card, each filter on a line of its own), and nothing scrolls sideways."""
from __future__ import annotations

from portal.models import Role
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
