"""The firm's lists on a 360 px phone: the cases, the review queue and the
agenda fit the screen (each row a card, each filter on a line of its own),
and nothing scrolls sideways."""
from __future__ import annotations

from tests.browser.conftest import launch
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import ATTORNEY, _no_horizontal_scroll, _screenshot

PHONE = {"width": 360, "height": 780}


def test_the_firms_lists_fit_a_360_px_phone(production_portal: Portal, browser_prerequisites,
                                             tmp_path):
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    with sync_playwright() as playwright:
        phone = launch(playwright, tmp_path / "phone", viewport=PHONE, is_mobile=True,
                       has_touch=True)
        page = phone.new_page()
        sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        for path, name in (("/", "cases"), ("/requests", "review-queue"), ("/agenda", "agenda")):
            page.goto(f"{base}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.set_viewport_size(PHONE)
            _no_horizontal_scroll(page)
            _screenshot(page, f"narrow-{name}")
            page.set_viewport_size(PHONE)
            _no_horizontal_scroll(page)
        # On the cases page each row is a card naming its cells.
        page.goto(f"{base}/")
        first_cell = page.locator("table.cases tbody tr").first.locator("td").first
        label = first_cell.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Reference"'
        phone.close()
