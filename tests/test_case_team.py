"""The case team: who of the firm is on a case, and what being taken off means.

An attorney reaches a case only while on its team; reassigning the case takes
the attorney before off it (unless kept), and anyone removed loses access on
their very next request: the case page, its documents, its threads and their
poll, the export, the stage form, the dashboard and the calendar feed, and
stops getting its notices. Every change names who made it and why.
"""
from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from portal.agenda import feeds
from portal.cases import team
from portal.errors import ServiceError
from portal.extensions import db
from portal.messages import services as messages
from portal.messages.permissions import get_thread_or_404
from portal.models import AuditEvent, Case, CaseMembership, CaseMute, ThreadNotice
from portal.models.case import CaseRole
from tests.conftest import PASSWORD
from tests.forms import comparable, form_values
from tests.statements import statements_during
from tests.uploads import flashes


def signed_in(app, user):
    """A test client of its own, signed in as ``user`` through the form."""
    browser = app.test_client()
    response = browser.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return browser


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def on_team(case: Case) -> dict[str, CaseRole]:
    db.session.expire_all()
    return {m.user.name: m.role for m in db.session.get(Case, case.id).memberships
            if m.role in (CaseRole.ATTORNEY, CaseRole.STAFF)}


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def without_token(page: str) -> str:
    return comparable(page)


def reassign(browser, case: Case, to, reason="Maria is on parental leave", **extra):
    values = form_values(browser.get(f"/cases/{case.uuid}/edit").text)
    values.update(attorney=str(to.uuid), handover_reason=reason, **extra)
    return browser.submit(f"/cases/{case.uuid}/edit", values)


@pytest.fixture()
def firm(make_user, make_case):
    maria = make_user("attorney", name="Maria Lopez")
    people = dict(maria=maria, jorge=make_user("attorney", name="Jorge Diaz"),
                  olga=make_user("staff", name="Olga Petrova"),
                  admin=make_user("admin", name="Ada Admin"),
                  client=make_user("client", name="Ana Morales"))
    people["case"] = make_case(attorney=maria, client=people["client"],
                               parole_ends_on=date.today() + timedelta(days=100))
    return people


# --- reassignment ------------------------------------------------------------------

def test_reassigning_ends_the_previous_attorneys_access_on_their_next_request(
        app, firm, mailbox):
    case = firm["case"]
    maria = signed_in(app, firm["maria"])  # her cookie from before the change
    token = feeds.issue_feed(firm["maria"])
    feed = f"/calendar/{token}.ics"
    thread = f"/cases/{case.uuid}/messages"
    assert case.reference in maria.get(feed).text and maria.get(thread).status_code == 200
    never_had = maria.get(f"/cases/{uuid.uuid4()}")

    response = reassign(signed_in(app, firm["admin"]), case, firm["jorge"])
    assert response.status_code == 303

    assert on_team(case) == {"Jorge Diaz": CaseRole.ATTORNEY}
    gone = maria.get(f"/cases/{case.uuid}")
    # The 404 of any case (but for the language form's CSRF token, signed with the time).
    assert gone.status_code == 404 and without_token(gone.text) == without_token(never_had.text)
    for url in (f"/cases/{case.uuid}/documents", thread, f"{thread}/poll",
                f"/cases/{case.uuid}/edit"):
        assert maria.get(url).status_code == 404, url
    assert maria.submit(f"{thread}/export.pdf").status_code == 404
    stage = maria.submit(f"/cases/{case.uuid}/stage", {"stage": "filed", "version": case.version})
    assert stage.status_code == 404
    db.session.expire_all()
    assert db.session.get(Case, case.id).stage == "gathering_evidence"
    assert case.reference not in maria.get("/").text
    assert case.reference not in maria.get(feed).text
    assert case.reference in signed_in(app, firm["jorge"]).get("/").text

    mailbox.messages.clear()
    client_thread = get_thread_or_404(case.uuid, firm["client"])
    messages.post(firm["client"], client_thread, "Hola, ¿hay noticias?", "k-1")
    assert [m["To"] for m in mailbox.messages] == [firm["jorge"].email]


def test_the_previous_attorney_stays_only_when_kept_and_reassigning_back_leaves_one(app, firm):
    case = firm["case"]
    admin = signed_in(app, firm["admin"])
    reassign(admin, case, firm["jorge"], keep_previous="y")
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY, "Jorge Diaz": CaseRole.ATTORNEY}
    assert signed_in(app, firm["maria"]).get(f"/cases/{case.uuid}").status_code == 200
    assert audits("case.reassigned")[-1].details["previous_kept"] is True

    reassign(admin, case, firm["maria"], reason="Back from leave")
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY}
    assert signed_in(app, firm["jorge"]).get(f"/cases/{case.uuid}").status_code == 404
    last = audits("case.reassigned")[-1]
    assert last.actor_id == firm["admin"].id
    assert last.details == {"from_user": str(firm["jorge"].uuid),
                            "to_user": str(firm["maria"].uuid), "previous_kept": False,
                            "reason": "Back from leave"}


def test_a_reassignment_without_a_reason_saves_nothing(app, firm):
    case = firm["case"]
    admin = signed_in(app, firm["admin"])
    response = reassign(admin, case, firm["jorge"], reason="  ")
    assert response.status_code == 200
    assert "Please say why the case goes to another attorney" in text_of(response.text)
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY}
    assert db.session.get(Case, case.id).assigned_attorney_id == firm["maria"].id
    assert audits("case.reassigned") == []


def test_an_attorney_who_hands_their_case_away_lands_on_their_list_told_so(app, firm):
    case = firm["case"]
    maria = signed_in(app, firm["maria"])
    response = reassign(maria, case, firm["jorge"])
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = maria.get("/").text
    assert (f"Case {case.reference} is now in the hands of Jorge Diaz. You are no longer on its "
            "team, so it has left your list.") in [html.unescape(f) for f in flashes(page)]


# --- opening a case for a colleague -------------------------------------------------

def opening(lawyer, **changes) -> dict:
    data = {"case_type": "humanitarian_parole", "title": "Urgent cardiac surgery",
            "beneficiary_name": "Rosa Morales", "beneficiary_country": "VE",
            "attorney": str(lawyer.uuid), "client_name": "Ana Morales",
            "client_email": "ana.new@example.org", "client_language": "es"}
    for row in range(3):
        data.update({f"sponsors-{row}-name": "", f"sponsors-{row}-email": "",
                     f"sponsors-{row}-language": "en"})
    data.update(changes)
    return data


def test_an_attorney_opening_a_case_for_a_colleague_is_told_whose_it_is(app, firm):
    maria = signed_in(app, firm["maria"])
    response = maria.submit("/cases/new", opening(firm["jorge"]))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    case = db.session.scalar(select(Case).where(Case.title == "Urgent cardiac surgery"))
    said = [html.unescape(f) for f in flashes(maria.get("/").text)]
    assert f"Case {case.reference} is open." in said[0]
    assert ("It is in the hands of Jorge Diaz. You are not on its team, so it is not among your "
            "cases.") in said
    assert on_team(case) == {"Jorge Diaz": CaseRole.ATTORNEY}
    assert maria.get(f"/cases/{case.uuid}").status_code == 404
    assert audits("case.opened")[-1].details["opener_on_team"] is False


def test_an_attorney_who_ticks_to_stay_is_on_the_team_and_lands_on_the_case(app, firm):
    maria = signed_in(app, firm["maria"])
    response = maria.submit("/cases/new", opening(firm["jorge"], keep_me="y"))
    case = db.session.scalar(select(Case).where(Case.title == "Urgent cardiac surgery"))
    assert response.headers["Location"] == f"/cases/{case.uuid}"
    assert on_team(case) == {"Jorge Diaz": CaseRole.ATTORNEY, "Maria Lopez": CaseRole.ATTORNEY}


# --- the People panel ---------------------------------------------------------------

def team_section(page: str) -> str:
    """The list of the team on the People panel, as read."""
    return text_of(page.split('<ul class="people team"')[1].split("</ul>")[0])


def test_the_people_panel_adds_and_removes_with_who_and_why(app, firm, mailbox):
    case, olga = firm["case"], signed_in(app, firm["olga"])
    page = olga.get(f"/cases/{case.uuid}").text
    assert "Maria Lopez · Assigned attorney" in team_section(page)
    assert "Jorge Diaz" not in team_section(page)

    olga.submit(f"/cases/{case.uuid}/team", {"person": str(firm["jorge"].uuid),
                                             "reason": "Second chair for the RFE"})
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY, "Jorge Diaz": CaseRole.ATTORNEY}
    (added,) = audits("case.team_added")
    assert (added.actor_id, added.target) == (firm["olga"].id, str(firm["jorge"].uuid))
    assert added.details["reason"] == "Second chair for the RFE"
    jorge = signed_in(app, firm["jorge"])
    assert jorge.get(f"/cases/{case.uuid}").status_code == 200
    assert "Jorge Diaz · Attorney" in team_section(olga.get(f"/cases/{case.uuid}").text)

    olga.submit(f"/cases/{case.uuid}/team/{firm['jorge'].uuid}/remove",
                {"reason": "RFE answered"})
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY}
    (removed,) = audits("case.team_removed")
    assert (removed.actor_id, removed.target) == (firm["olga"].id, str(firm["jorge"].uuid))
    assert removed.details["reason"] == "RFE answered"
    assert jorge.get(f"/cases/{case.uuid}").status_code == 404  # the same cookie as before


def test_staff_on_the_team_hear_of_the_case_and_stop_when_removed(app, firm, mailbox):
    """Staff reach every case by their role (the firm's paralegals support all
    of them); the team decides whether they are told of this one's news."""
    case, admin = firm["case"], signed_in(app, firm["admin"])
    admin.submit(f"/cases/{case.uuid}/team", {"person": str(firm["olga"].uuid),
                                              "reason": "Translations"})
    thread = get_thread_or_404(case.uuid, firm["client"])
    messages.post(firm["client"], thread, "Primer mensaje", "k-1")
    assert sorted(m["To"] for m in mailbox.messages) == sorted([firm["maria"].email,
                                                                firm["olga"].email])
    signed_in(app, firm["olga"]).submit(f"/cases/{case.uuid}/messages/mute", {"muted": "1"})
    admin.submit(f"/cases/{case.uuid}/team/{firm['olga'].uuid}/remove", {"reason": "Done"})
    assert db.session.scalar(select(CaseMute.id)) is None  # a later return starts afresh
    mailbox.messages.clear()
    db.session.execute(delete(ThreadNotice))  # as if the quarter hour had passed
    db.session.commit()
    messages.post(firm["client"], get_thread_or_404(case.uuid, firm["client"]), "Otro", "k-2")
    assert [m["To"] for m in mailbox.messages] == [firm["maria"].email]


def test_the_assigned_attorney_cannot_be_removed_reassign_first(app, firm):
    case, admin = firm["case"], signed_in(app, firm["admin"])
    response = admin.submit(f"/cases/{case.uuid}/team/{firm['maria'].uuid}/remove",
                            {"reason": "Leaving the firm"}, follow_redirects=True)
    assert ("Maria Lopez is the case's assigned attorney. Reassign the case to another "
            "attorney first.") in text_of(response.text)
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY}
    assert audits("case.team_removed") == []


@pytest.mark.parametrize("who, reason, message", [
    ("jorge", "", "This field is required."),
    ("client", "Helping", "Choose one of the firm's attorneys or staff."),
    ("admin", "Helping", "Choose one of the firm's attorneys or staff."),
    ("inactive", "Helping", "Choose one of the firm's attorneys or staff."),
    ("maria", "Helping", "Maria Lopez is already on the case team."),
])
def test_adding_refuses_someone_not_of_the_team_kind_or_no_reason(app, firm, make_user, who,
                                                                  reason, message):
    firm["inactive"] = make_user("attorney", active=False)
    case = firm["case"]
    response = signed_in(app, firm["admin"]).submit(
        f"/cases/{case.uuid}/team", {"person": str(firm[who].uuid), "reason": reason},
        follow_redirects=True)
    assert message in text_of(response.text)
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY}
    assert audits("case.team_added") == []


def test_a_stale_remove_and_a_remove_without_reason_change_nothing(app, firm):
    case, admin = firm["case"], signed_in(app, firm["admin"])
    team.add_member(firm["admin"], case, firm["jorge"].uuid, "Second chair")
    no_reason = admin.submit(f"/cases/{case.uuid}/team/{firm['jorge'].uuid}/remove",
                             {"reason": " "}, follow_redirects=True)
    assert "Jorge Diaz" in on_team(case)
    assert "Please say why" in text_of(no_reason.text) or "required" in text_of(no_reason.text)
    admin.submit(f"/cases/{case.uuid}/team/{firm['jorge'].uuid}/remove", {"reason": "Done"})
    again = admin.submit(f"/cases/{case.uuid}/team/{firm['jorge'].uuid}/remove",
                         {"reason": "Done"}, follow_redirects=True)  # a second tab's form
    assert "This person is no longer on the case team; nothing was changed." in text_of(again.text)
    assert len(audits("case.team_removed")) == 1


def test_the_services_refuse_an_actor_who_may_not_manage_the_case(firm, make_user):
    case, outsider = firm["case"], make_user("attorney")
    with pytest.raises(ServiceError):
        team.add_member(outsider, case, outsider.uuid, "Let me in")
    with pytest.raises(ServiceError, match="say why"):
        team.add_member(firm["admin"], case, firm["jorge"].uuid, "   ")
    team.add_member(firm["admin"], case, firm["olga"].uuid, "Translations")
    for stranger in (firm["client"], outsider):
        with pytest.raises(ServiceError, match="permission"):
            team.remove_member(stranger, case, firm["olga"].uuid, "Go away")
    with pytest.raises(ServiceError, match="say why"):
        team.remove_member(firm["admin"], case, firm["olga"].uuid, "")
    assert on_team(case) == {"Maria Lopez": CaseRole.ATTORNEY, "Olga Petrova": CaseRole.STAFF}


def test_taking_oneself_off_lands_on_the_list(app, firm):
    case, jorge = firm["case"], signed_in(app, firm["jorge"])
    team.add_member(firm["admin"], case, firm["jorge"].uuid, "Second chair")
    response = jorge.submit(f"/cases/{case.uuid}/team/{firm['jorge'].uuid}/remove",
                            {"reason": "Conflict of interest"})
    assert response.headers["Location"] == "/"
    said = [html.unescape(f) for f in flashes(jorge.get("/").text)]
    assert f"You are no longer on the team of case {case.reference}." in said


def test_clients_see_the_firms_people_but_not_the_team_tools(app, firm):
    page = signed_in(app, firm["client"]).get(f"/cases/{firm['case'].uuid}").text
    assert "Maria Lopez" in page
    assert "team-heading" not in page and "/team" not in page


def test_the_case_page_costs_the_same_however_large_the_team(app, firm, make_user):
    case, admin = firm["case"], signed_in(app, firm["admin"])

    def page() -> None:
        assert admin.get(f"/cases/{case.uuid}").status_code == 200

    def statements() -> int:
        return statements_during(page)

    statements()  # the first page after signing in also touches the session
    few = statements()
    for n in range(6):
        db.session.add(CaseMembership(case_id=case.id, role=CaseRole.STAFF,
                                      user=make_user("staff", name=f"Helper {n}")))
    db.session.commit()
    assert len(on_team(case)) == 7
    assert statements() == few


def test_the_add_list_offers_active_attorneys_and_staff_not_on_the_team(app, firm, make_user):
    make_user("attorney", name="Former Partner", active=False)
    page = signed_in(app, firm["admin"]).get(f"/cases/{firm['case'].uuid}").text
    offered = re.findall(r'<option value="[0-9a-f-]{36}">([^<]+)</option>',
                         page.split('name="person"')[1].split("</select>")[0])
    assert offered == ["Jorge Diaz", "Olga Petrova"]  # not Maria (on it), the admin, the client
