"""The case team in a real browser, over TLS with production settings: the
attorney hands her case to a colleague, and from that moment she meets the
case as someone who never had it (the same 404), while the thread she had
open stops asking for news; the colleague sees the team on the People panel
and puts a paralegal on it, at phone and desktop width."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case, Role
from tests.browser.conftest import launch
from tests.browser.production import add_firm_member
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import ATTORNEY, VIEWPORTS, _no_horizontal_scroll, _screenshot

COLLEAGUE = "jorge.diaz@firm.example"
PARALEGAL = "olga.petrova@firm.example"


@pytest.fixture(scope="module", autouse=True)
def _colleagues(production_portal: Portal):
    app, password = production_portal.app, production_portal.client_password
    add_firm_member(app, COLLEAGUE, "Jorge Díaz", Role.ATTORNEY, password)
    add_firm_member(app, PARALEGAL, "Olga Petrova", Role.STAFF, password)
    yield
    production_portal.app.extensions["jobs"].storage.flush_all()  # notices for no consumer


def test_a_reassigned_attorney_meets_the_case_as_one_she_never_had(
        production_portal: Portal, browser_prerequisites, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    case_url = f"{base}/cases/{portal.case_uuid}"
    with sync_playwright() as playwright:
        laura = launch(playwright, tmp_path / "laura")
        thread = laura.new_page()
        sign_in(thread, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        never_had = thread.goto(f"{base}/cases/{uuid.uuid4()}")
        assert never_had.status == 404
        never_had_text = thread.locator("main").inner_text()
        thread.goto(f"{case_url}/messages")
        expect(thread.get_by_role("heading", level=1)).to_be_visible()

        # In another tab she hands the case to Jorge, without keeping it.
        edit = laura.new_page()
        edit.goto(f"{case_url}/edit")
        expect(edit.get_by_text("If you choose another attorney, Laura Méndez leaves the case "
                                "team")).to_be_visible()
        edit.get_by_label("Assigned attorney").select_option(label="Jorge Díaz")
        edit.get_by_label("Why the case changes attorney").fill("Laura leaves for the Miami office")
        edit.get_by_role("button", name="Save").click()
        expect(edit.get_by_text("is now in the hands of Jorge Díaz. You are no longer on its "
                                "team, so it has left your list.")).to_be_visible()
        assert edit.url == f"{base}/"
        expect(edit.get_by_text("No cases match.")).to_be_visible()  # her only case is gone

        # The open thread's next poll is refused: the page reloads to the 404.
        expect(thread.locator("main")).to_have_text(never_had_text, timeout=10_000)
        response = edit.goto(case_url)
        assert response.status == 404
        assert edit.locator("main").inner_text() == never_had_text
        laura.close()

        # Jorge, on his phone, finds the case and its team.
        jorge = launch(playwright, tmp_path / "jorge", viewport=VIEWPORTS["phone"],
                       is_mobile=True, has_touch=True)
        page = jorge.new_page()
        sign_in(page, base, COLLEAGUE, portal.client_password, SIGN_IN["en"])
        page.goto(case_url)
        team = page.locator("ul.people.team")
        expect(team.locator("li")).to_have_count(1)
        expect(team.locator("li").first).to_contain_text("Jorge Díaz · Assigned attorney")
        page.get_by_text("Add someone to the team").click()
        page.get_by_label("Add to the case team").select_option(label="Olga Petrova")
        page.get_by_label("Why").fill("Translations of the medical records")
        page.get_by_role("button", name="Add to the team").click()
        expect(page.get_by_text("The case team was changed.")).to_be_visible()
        expect(team.locator("li")).to_have_count(2)
        expect(team.locator("li").nth(1)).to_contain_text("Olga Petrova · Staff")
        page.get_by_text("Remove Olga Petrova").click()  # opens the form, sends nothing
        page.locator("#people-heading").scroll_into_view_if_needed()
        _no_horizontal_scroll(page)
        _screenshot(page, "team-1-people-panel")
        jorge.close()

    with portal.app.app_context():
        case = db.session.scalar(select(Case).where(Case.uuid == uuid.UUID(portal.case_uuid)))
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.case_id == case.id, AuditEvent.action.in_(
                ("case.reassigned", "case.team_added", "case.access_denied")))
            .order_by(AuditEvent.id)))
        db.session.remove()
    assert actions[0] == "case.reassigned" and actions[-1] == "case.team_added"
    assert "case.access_denied" in actions  # her attempts after the change are on record
