"""The firm's review queue (/requests), its nav count, and the dashboard's
completeness and next-due columns."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from babel.dates import format_date
from sqlalchemy import event, select, update

from portal.extensions import db
from portal.models import DocumentRequest, DocumentVersion, RequestState, Role
from portal.requests import queue, services
from tests.test_requests import browser
from tests.uploads import PDF, upload


@pytest.fixture()
def firm(app, make_user, make_case):
    """An attorney (in New York) with two cases, each with a client, one with
    a sponsor; another attorney's case the first is not on; and a staff member."""
    attorney = make_user(Role.ATTORNEY, timezone="America/New_York")
    other_attorney = make_user(Role.ATTORNEY)
    clients = [make_user(Role.CLIENT) for _ in range(3)]
    sponsor = make_user(Role.SPONSOR)
    cases = [make_case(attorney=attorney, client=clients[0], sponsors=[sponsor]),
             make_case(attorney=attorney, client=clients[1]),
             make_case(attorney=other_attorney, client=clients[2])]
    return {"attorney": attorney, "other_attorney": other_attorney, "clients": clients,
            "sponsor": sponsor, "cases": cases, "staff": make_user(Role.STAFF)}


def ask(firm, case_no: int, title: str, addressee=None, required: bool = True) -> DocumentRequest:
    """A request to the case's client (or ``addressee``) made through the service."""
    case = firm["cases"][case_no]
    return services.create_request(case.assigned_attorney, case,
                                   addressee=addressee or firm["clients"][case_no], title=title,
                                   instructions="", due_on=None, required=required)


def answer(app, firm, case_no: int, request: DocumentRequest, *times: datetime) -> None:
    """Upload one real file per time to ``request`` as its addressee, then set
    each version's ``uploaded_at`` to those times (no sleeping)."""
    case = firm["cases"][case_no]
    person = browser(app, request.addressee)
    for _ in times:
        response = upload(person, f"/cases/{case.uuid}/requests/{request.uuid}/uploads",
                          [("scan.pdf", [PDF])])
        assert response.status_code == 303
    versions = db.session.scalars(select(DocumentVersion.id).where(
        DocumentVersion.request_id == request.id).order_by(DocumentVersion.id)).all()
    assert len(versions) == len(times)
    for version_id, at in zip(versions, times):
        db.session.execute(update(DocumentVersion).where(DocumentVersion.id == version_id)
                           .values(uploaded_at=at))
    db.session.commit()
    db.session.expire_all()


def set_due(request: DocumentRequest, due_on: date, state: RequestState | None = None) -> None:
    """Set directly: creating a request refuses a past due date."""
    request.due_on = due_on
    if state is not None:
        request.state = state
    db.session.commit()


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


def section_rows(html: str, heading_id: str) -> list[str]:
    """The body rows of the table in the page's section labelled ``heading_id``."""
    section = html.split(f'aria-labelledby="{heading_id}"', 1)[1].split("</section>", 1)[0]
    return [row for row in re.findall(r"<tr>(.*?)</tr>", section, re.S) if "<td" in row]


def dashboard_row(html: str, reference: str) -> str:
    return next(row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if reference in row)


def format_medium(day: date) -> str:
    """``day`` as the dashboard writes it in English (Babel's medium date)."""
    return format_date(day, "medium", locale="en")


@pytest.fixture()
def submitted(app, firm):
    """Three submitted requests and one still waiting. ``passport`` (case 0)
    had an early file and a newer one; ``birth`` (case 1) waits longer by its
    newest file; ``outsider`` is in the other attorney's case."""
    passport = ask(firm, 0, "Passport bio page")
    birth = ask(firm, 1, "Birth certificate")
    outsider = ask(firm, 2, "Outsider's deed")
    waiting = ask(firm, 0, "Tax returns", addressee=firm["sponsor"])
    answer(app, firm, 0, passport, utc(1, 9), utc(2, 3, 30))  # newest: 1 March, 22:30 New York
    answer(app, firm, 1, birth, utc(1, 12))
    answer(app, firm, 2, outsider, utc(1, 8))
    return {"passport": passport, "birth": birth, "outsider": outsider, "waiting": waiting}


def test_queue_lists_submitted_requests_of_the_attorneys_cases_longest_waiting_first(
        app, firm, submitted):
    # By the newest upload: passport's first file is the oldest, but it was answered again.
    assert [i.request.title for i in queue.to_review(firm["attorney"]).items] == [
        "Birth certificate", "Passport bio page"]
    assert [i.request.title for i in queue.to_review(firm["other_attorney"]).items] == [
        "Outsider's deed"]
    assert [i.request.title for i in queue.to_review(firm["staff"]).items] == [
        "Outsider's deed", "Birth certificate", "Passport bio page"]

    page = browser(app, firm["attorney"]).get("/requests")
    assert page.status_code == 200
    rows = section_rows(page.text, "to-review-heading")
    assert len(rows) == 2 and "Outsider" not in page.text and "Tax returns" not in page.text
    birth_row, passport_row = rows
    assert "Birth certificate" in birth_row and firm["clients"][1].name in birth_row
    case = firm["cases"][0]
    assert (f'href="/cases/{case.uuid}#request-{submitted["passport"].uuid}">{case.reference}</a>'
            in passport_row)
    # The newest file's time, in the attorney's time zone (New York: still 1 March).
    assert "Mar 1, 2026" in passport_row and "Mar 2, 2026" not in passport_row


def test_accepted_and_rejected_requests_leave_the_queue(app, firm, submitted):
    attorney = browser(app, firm["attorney"])

    def decide(case_no, request, decision, reason=""):
        case = firm["cases"][case_no]
        response = attorney.submit(f"/cases/{case.uuid}/requests/{request.uuid}/decision",
                                   {"decision": decision, "reason": reason})
        assert response.status_code == 303
    decide(1, submitted["birth"], "accept")
    assert [i.request.title for i in queue.to_review(firm["attorney"]).items] == ["Passport bio page"]
    rows = section_rows(attorney.get("/requests").text, "to-review-heading")
    assert len(rows) == 1 and "Birth certificate" not in rows[0]
    # Rejected: its files stay, but the next move is the client's.
    decide(0, submitted["passport"], "reject", "The photo page is cut off.")
    assert queue.to_review(firm["attorney"]).items == []
    assert queue.count_to_review(firm["attorney"]) == 0


def test_empty_queue_says_so(app, firm):
    page = browser(app, firm["attorney"]).get("/requests").text
    assert "No files are waiting for review." in page
    assert "No request is past its due date." in page


def test_overdue_lists_past_due_requests_still_owed_most_overdue_first(app, firm):
    today = services.today_for(firm["attorney"])
    late_two = ask(firm, 0, "Pay stubs", addressee=firm["sponsor"])
    late_five = ask(firm, 1, "Police certificate")
    rejected_late = ask(firm, 0, "Bank statement")
    submitted_late = ask(firm, 0, "Lease")  # answered: waits for the firm, not the person
    accepted_late = ask(firm, 0, "Old lease")
    waived_late = ask(firm, 1, "School records")
    due_today = ask(firm, 1, "Photo")
    future = ask(firm, 0, "Medical report")
    outsider = ask(firm, 2, "Outsider's deed")
    set_due(late_two, today - timedelta(days=2))
    set_due(late_five, today - timedelta(days=5))
    set_due(rejected_late, today - timedelta(days=1), RequestState.REJECTED)
    set_due(submitted_late, today - timedelta(days=8), RequestState.SUBMITTED)
    set_due(accepted_late, today - timedelta(days=9), RequestState.ACCEPTED)
    set_due(waived_late, today - timedelta(days=9), RequestState.WAIVED)
    set_due(due_today, today)
    set_due(future, today + timedelta(days=3))
    set_due(outsider, today - timedelta(days=7))

    items = queue.overdue(firm["attorney"]).items
    assert [(i.request.title, i.days_late) for i in items] == [
        ("Police certificate", 5), ("Pay stubs", 2), ("Bank statement", 1)]
    assert [i.case for i in items] == [firm["cases"][1], firm["cases"][0], firm["cases"][0]]

    rows = section_rows(browser(app, firm["attorney"]).get("/requests").text, "overdue-heading")
    assert len(rows) == 3
    assert "Police certificate" in rows[0] and "5 days" in rows[0]
    assert firm["clients"][1].name in rows[0] and firm["cases"][1].reference in rows[0]
    assert "Pay stubs" in rows[1] and firm["sponsor"].name in rows[1] and "2 days" in rows[1]
    assert "1 day<" in rows[2]


def test_dashboard_shows_completeness_and_next_due_of_each_case(app, firm):
    today = services.today_for(firm["attorney"])
    accepted = ask(firm, 0, "Passport bio page")
    ask(firm, 0, "Birth certificate")  # required, still open, no due date
    soon = ask(firm, 0, "Tax returns", addressee=firm["sponsor"])
    later = ask(firm, 0, "Pay stubs", addressee=firm["sponsor"])
    ask(firm, 0, "Photos", required=False)  # optional: not counted
    waived = ask(firm, 0, "School records")
    accepted_earlier = ask(firm, 0, "Old lease")  # due earlier, but closed: not next
    submitted_earlier = ask(firm, 0, "Bank statement")  # due earlier, but answered: not next
    late = ask(firm, 1, "Police certificate")
    set_due(accepted, today + timedelta(days=1), RequestState.ACCEPTED)
    set_due(soon, today + timedelta(days=10))
    set_due(later, today + timedelta(days=20))
    set_due(waived, today + timedelta(days=2), RequestState.WAIVED)
    set_due(accepted_earlier, today + timedelta(days=3), RequestState.ACCEPTED)
    set_due(submitted_earlier, today + timedelta(days=4), RequestState.SUBMITTED)
    set_due(late, today - timedelta(days=1))
    # Case 0: Passport (accepted), Birth, Tax, Pay, Old lease (accepted), Bank are required.
    page = browser(app, firm["attorney"]).get("/").text

    first = dashboard_row(page, firm["cases"][0].reference)
    assert ">2/6</span>" in first
    assert format_medium(today + timedelta(days=10)) in first and "Overdue" not in first
    second = dashboard_row(page, firm["cases"][1].reference)
    assert ">0/1</span>" in second
    assert format_medium(today - timedelta(days=1)) in second and "Overdue" in second


def test_dashboard_shows_a_dash_for_a_case_without_requests(app, firm):
    page = browser(app, firm["attorney"]).get("/").text
    row = dashboard_row(page, firm["cases"][0].reference)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[-2:] == ['<span class="muted">—</span>'] * 2


def test_case_summaries_and_the_queue_take_a_fixed_number_of_queries(app, firm, submitted):
    for n in range(6):
        ask(firm, n % 2, f"Extra {n}")
    # Loaded now, as a page has them: the commits above expired them.
    ids, staff = {case.id for case in firm["cases"]}, firm["staff"]
    assert staff.role is Role.STAFF
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        summaries = queue.case_summaries(firm["cases"])
        assert len(statements) == 2
        statements.clear()
        names = [item.request.addressee.name for item in queue.to_review(staff).items]
        # The requests with their cases and addressees, then their newest files.
        assert len(statements) == 2 and len(names) == 3
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert set(summaries) == ids


@pytest.mark.parametrize("role", ["client", "sponsor"])
def test_clients_and_sponsors_get_404_on_the_queue_and_no_nav_link(app, firm, submitted, role):
    person = firm["clients"][0] if role == "client" else firm["sponsor"]
    c = browser(app, person)
    assert c.get("/requests").status_code == 404
    assert 'href="/requests"' not in c.get("/").text


def test_nav_counts_the_submitted_requests_the_firm_member_may_review(app, firm, submitted):
    def nav_link(user) -> str:
        page = browser(app, user).get("/account").text
        return re.search(r'<a href="/requests" class="nav-queue">(.*?)</a>', page).group(1)
    assert nav_link(firm["attorney"]) == "To review (2)"
    assert nav_link(firm["other_attorney"]) == "To review (1)"
    assert nav_link(firm["staff"]) == "To review (3)"
    assert queue.count_to_review(firm["staff"]) == 3
