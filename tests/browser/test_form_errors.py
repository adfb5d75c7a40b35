"""Forms that say what is wrong, in chromium over TLS as production serves
them: after a failed submit "There is a problem" has the focus, its link
puts the focus on the field (opening the folded section that holds it), the
field's border is not the colour of a valid one, and axe-core finds nothing
serious. Saved at 360 px and desktop width in tests/browser/screenshots/."""
from __future__ import annotations

from pathlib import Path

from tests.browser.accessibility import check_accessibility
from tests.browser.conftest import launch
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import ATTORNEY, _no_horizontal_scroll

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 800}}


def _screenshot(page, name: str) -> None:
    """Save the page at 360 px and desktop width (checked with axe-core at
    each); nothing may be wider than the phone. Back at the first width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        if width == "phone":
            _no_horizontal_scroll(page)
        check_accessibility(page)
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["phone"])


def _focused(page) -> str:
    """What has the focus: ``summary`` for the error summary, else the element's id."""
    return page.evaluate("""() => {
      const el = document.activeElement;
      return el.matches("[data-error-summary]") ? "summary" : el.id;
    }""")


def _border(page, selector: str) -> tuple[str, str]:
    """The computed colour and width of the top border of ``selector``."""
    return tuple(page.locator(selector).evaluate(
        "el => [getComputedStyle(el).borderTopColor, getComputedStyle(el).borderTopWidth]"))


def test_a_failed_sign_in_takes_the_person_to_what_is_wrong(
        production_portal: Portal, browser_prerequisites, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    with sync_playwright() as playwright:
        phone = launch(playwright, tmp_path / "phone", viewport=VIEWPORTS["phone"],
                       is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(portal.client_email)
        page.get_by_role("button", name="Sign in", exact=True).click()  # no password
        page.wait_for_load_state()

        summary = page.locator("[data-error-summary]")
        expect(summary).to_contain_text("There is a problem")
        assert _focused(page) == "summary"  # a screen reader reads it first
        link = summary.get_by_role("link", name="Password: This field is required.")
        assert link.get_attribute("href") == "#password"
        password = page.locator("#password")
        assert password.get_attribute("aria-invalid") == "true"
        assert "password-error" in password.get_attribute("aria-describedby").split()
        expect(page.locator("#password-error")).to_contain_text("This field is required.")
        # A password box's own border rule no longer hides the invalid one.
        assert _border(page, "#password") != _border(page, "#email")
        assert _border(page, "#password")[1] == "2px"
        _screenshot(page, "form-errors-1-sign-in")

        link.click()
        assert _focused(page) == "password"
        phone.close()


def test_a_folded_case_form_sent_with_an_error_opens_at_the_field(
        production_portal: Portal, browser_prerequisites, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    with sync_playwright() as playwright:
        context = launch(playwright, tmp_path / "attorney", viewport=VIEWPORTS["phone"],
                         is_mobile=True, has_touch=True)
        page = context.new_page()
        sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        page.goto(f"{base}/cases/{portal.case_uuid}")
        page.get_by_text("Close the case", exact=True).first.click()  # the fold
        close = page.locator("form[action$='/close']")
        close.get_by_label("Message to the client (optional)").fill("We close it for now.")
        close.get_by_role("button", name="Close the case").click()  # no reason
        page.wait_for_load_state()

        # The case page again, the form open with what was typed, the summary focused.
        assert page.url.endswith("/close")
        assert _focused(page) == "summary"
        reason = "case-close_form-reason"
        link = page.locator("[data-error-summary]").get_by_role(
            "link", name="Reason (the firm only): This field is required.")
        assert link.get_attribute("href") == f"#{reason}"
        expect(page.locator("#case-close_form-client_text")).to_have_value("We close it for now.")
        assert page.locator(f"#{reason}").get_attribute("aria-invalid") == "true"
        assert (_border(page, f"#{reason}")
                != _border(page, "#case-close_form-client_text"))
        _screenshot(page, "form-errors-2-case-page")

        # Folded again, the link still reaches the field: it opens the fold.
        page.locator("details", has=page.locator(f"#{reason}")).evaluate("d => d.open = false")
        link.click()
        assert _focused(page) == reason
        expect(page.locator(f"#{reason}")).to_be_visible()
        _screenshot(page, "form-errors-3-case-page-at-the-field")
        context.close()


# The firm's forms no other browser test sends wrong: (page, button), sent empty.
FORMS_SENT_EMPTY = (("/cases/{case}/edit", "Save"), ("/cases/{case}/invite", "Send invitation"),
                    ("/cases/new", "Open the case and send the invitations"),
                    ("/account", "Change password"), ("/cases/{case}/messages", "Send"),
                    ("/cases/{case}", "Send the request"))


def test_every_form_sent_with_errors_passes_axe(production_portal: Portal,
                                                browser_prerequisites, tmp_path):
    """Each page shown again with errors, every fold open, at both widths:
    axe-core finds nothing serious, and the summary has the focus."""
    from playwright.sync_api import sync_playwright

    portal, base = production_portal, production_portal.base_url
    with sync_playwright() as playwright:
        context = launch(playwright, tmp_path / "attorney", viewport=VIEWPORTS["desktop"])
        page = context.new_page()
        sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        for path, button in FORMS_SENT_EMPTY:
            page.goto(base + path.format(case=portal.case_uuid))
            if path == "/cases/{case}/edit":
                page.get_by_label("Title").fill("")
            # Forms folded behind their button (the case page's) are opened first.
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            page.get_by_role("button", name=button, exact=True).click()
            page.wait_for_load_state()
            assert _focused(page) == "summary", path
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            for size in VIEWPORTS.values():
                page.set_viewport_size(size)
                check_accessibility(page)
        context.close()
