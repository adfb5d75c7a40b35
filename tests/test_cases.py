"""Dashboards and the case page: who sees which cases, in which order, and what."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, TimelineEvent
from portal.models.case import UrgencyFlag
from tests.forms import comparable


def references(html: str, refs: list[str]) -> list[str]:
    """The references among ``refs`` in the order the page shows them."""
    found = [(html.find(ref), ref) for ref in refs if ref in html]
    return [ref for _, ref in sorted(found)]


@pytest.fixture()
def firm(make_user, make_case):
    lawyer, other = make_user("attorney"), make_user("attorney")
    client_a, client_b, sponsor = make_user("client"), make_user("client"), make_user("sponsor")
    cases = {
        "calm": make_case(attorney=lawyer, client=client_a, reference="HP-2026-0101",
                          stage="filed"),
        "medical": make_case(attorney=lawyer, client=client_a, sponsors=[sponsor],
                             reference="HP-2026-0102", stage="intake",
                             flags=[UrgencyFlag.LIFE_THREATENING_MEDICAL]),
        "child": make_case(attorney=lawyer, client=client_b, reference="HP-2026-0103",
                           stage="rfe", flags=[UrgencyFlag.CHILD_UNDER_16,
                                               UrgencyFlag.FAMILY_REUNIFICATION]),
        "elsewhere": make_case(attorney=other, client=client_b, reference="HP-2026-0104"),
    }
    return dict(lawyer=lawyer, other=other, client_a=client_a, client_b=client_b,
                sponsor=sponsor, cases=cases)


ALL = ["HP-2026-0101", "HP-2026-0102", "HP-2026-0103", "HP-2026-0104"]


def test_attorney_sees_only_their_cases_most_urgent_first(client, login_as, firm):
    login_as(firm["lawyer"])
    page = client.get("/").text
    assert references(page, ALL) == ["HP-2026-0102", "HP-2026-0103", "HP-2026-0101"]


def test_attorney_can_sort_by_stage_and_filter_by_flag(client, login_as, firm):
    login_as(firm["lawyer"])
    by_stage = client.get("/?sort=stage").text
    assert references(by_stage, ALL) == ["HP-2026-0103", "HP-2026-0101", "HP-2026-0102"]
    flagged = client.get("/?flag=child_under_16").text
    assert references(flagged, ALL) == ["HP-2026-0103"]
    assert client.get("/?flag=made_up").status_code == 400


def test_staff_and_admin_see_every_case(client, login_as, make_user, firm):
    for role in ("staff", "admin"):
        login_as(make_user(role))
        assert sorted(references(client.get("/?sort=reference").text, ALL)) == ALL
        client.submit("/logout")


def test_client_sees_their_cases_with_what_to_do(client, login_as, firm):
    login_as(firm["client_a"])
    page = client.get("/").text
    assert "Case " in page and "HP-2026-0101" in page and "HP-2026-0102" in page
    assert "HP-2026-0103" not in page
    assert "What you need to do:" in page
    assert "<strong>Now:</strong> Intake" in page


def test_sponsor_sees_only_the_case_they_support(client, login_as, firm):
    login_as(firm["sponsor"])
    assert references(client.get("/").text, ALL) == ["HP-2026-0102"]


@pytest.fixture()
def with_timeline(firm):
    case = firm["cases"]["medical"]
    db.session.add(TimelineEvent(case=case, kind="stage_changed", stage="intake",
                                 client_text="Your consultation took place.",
                                 internal_note="Hospital letter is weak."))
    db.session.commit()
    return case


def test_case_page_shows_stage_next_step_people_and_timeline_to_client(client, login_as, firm,
                                                                        with_timeline):
    login_as(firm["client_a"])
    page = client.get(f"/cases/{with_timeline.uuid}").text
    assert "Intake" in page and "What happens next:" in page
    assert firm["sponsor"].name in page and firm["lawyer"].name in page
    assert "Your consultation took place." in page
    assert "Hospital letter is weak." not in page  # internal notes never reach clients


def test_attorney_sees_internal_notes(client, login_as, firm, with_timeline):
    login_as(firm["lawyer"])
    assert "Hospital letter is weak." in client.get(f"/cases/{with_timeline.uuid}").text


def test_sponsor_sees_stage_but_not_the_clients_timeline(client, login_as, firm, with_timeline):
    login_as(firm["sponsor"])
    page = client.get(f"/cases/{with_timeline.uuid}").text
    assert "Intake" in page
    assert "Your consultation took place." not in page
    assert firm["client_a"].name not in page


def test_foreign_and_missing_case_answer_the_same_404(client, login_as, firm):
    login_as(firm["client_b"])
    foreign = client.get(f"/cases/{firm['cases']['medical'].uuid}")
    missing = client.get("/cases/00000000-0000-4000-8000-000000000000")
    malformed = client.get("/cases/not-a-uuid")
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert comparable(foreign.text) == comparable(missing.text)
    foreign_row, missing_row = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "case.access_denied").order_by(AuditEvent.id))
    assert foreign_row.case_id == firm["cases"]["medical"].id
    assert foreign_row.actor_id == firm["client_b"].id and foreign_row.details["exists"] is True
    # The guess at nothing is audited too: the same work, so the same timing.
    assert missing_row.case_id is None and missing_row.details["exists"] is False
    assert missing_row.target == "00000000-0000-4000-8000-000000000000"


def test_other_attorney_cannot_open_a_case_not_theirs(client, login_as, firm):
    login_as(firm["other"])
    assert client.get(f"/cases/{firm['cases']['medical'].uuid}").status_code == 404
