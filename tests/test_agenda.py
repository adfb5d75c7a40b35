"""The firm's agenda (/agenda) and its secret iCalendar feed, with a moved
clock: sections, order, scope, a constant number of queries, and a feed
that a real iCalendar parser reads and that names nobody."""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from icalendar import Calendar
from sqlalchemy import event, select

from portal.accesslog import redact
from portal.agenda import feeds, services
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import (AuditEvent, CalendarFeed, CaseDeadline, CaseMembership, DeadlineKind,
                           DocumentRequest, RequestState, Role)
from portal.models.case import CaseRole
from tests.forms import comparable
from tests.test_requests import browser

# 15 March 2026, 14:00 UTC: 10:00 in New York, the attorney's 15 March.
NOW = datetime(2026, 3, 15, 14, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 15)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def ask(case, person, title: str, due_on: date, state=RequestState.REQUESTED) -> DocumentRequest:
    """A request written directly (the service refuses a past due date)."""
    request = DocumentRequest(case=case, addressee=person, title=title, instructions="",
                              due_on=due_on, state=state, created_by=case.assigned_attorney)
    db.session.add(request)
    db.session.commit()
    return request


def uscis(case, kind: DeadlineKind, due_on: date, starts_at: datetime | None = None,
          **fields) -> CaseDeadline:
    deadline = CaseDeadline(case=case, kind=kind, due_on=due_on, starts_at=starts_at, **fields)
    db.session.add(deadline)
    db.session.commit()
    return deadline


@pytest.fixture()
def firm(app, make_user, make_case):
    """An attorney in New York with two open cases and a closed one, another
    attorney's case, and a staff member added to the second case."""
    attorney = make_user(Role.ATTORNEY, timezone="America/New_York")
    other = make_user(Role.ATTORNEY)
    staff = make_user(Role.STAFF)
    clients = [make_user(Role.CLIENT) for _ in range(3)]
    sponsor = make_user(Role.SPONSOR)
    rosa = make_case(attorney=attorney, client=clients[0], sponsors=[sponsor],
                     title="Cardiac surgery for Rosa", beneficiary_name="Rosa Medina")
    ivan = make_case(attorney=attorney, client=clients[1], beneficiary_name="Ivan Petrov",
                     title="Reunion with Ivan", parole_ends_on=day(200))
    theirs = make_case(attorney=other, client=clients[2], beneficiary_name="Olga Outsider",
                       title="Outsider's case")
    closed = make_case(attorney=attorney, beneficiary_name="Carl Closed",
                       closed_on=date(2026, 3, 1))
    db.session.add(CaseMembership(case=ivan, user=staff, role=CaseRole.STAFF))
    db.session.commit()
    items = {
        "medical": ask(rosa, clients[0], "Medical records of Rosa", day(-2)),
        # Submitted: the firm's move, not owed, not on the agenda.
        "i134": ask(rosa, sponsor, "Form I-134", day(3), RequestState.SUBMITTED),
        "rfe": uscis(rosa, DeadlineKind.RFE_RESPONSE, day(20)),
        # 13:30 UTC on 18 March: 09:30 in New York.
        "biometrics": uscis(rosa, DeadlineKind.BIOMETRICS, day(3),
                            datetime(2026, 3, 18, 13, 30, tzinfo=timezone.utc),
                            place="USCIS ASC, Dr. Gomez building"),
        "birth": ask(ivan, clients[1], "Birth certificate", day(0)),
        # 19:00 UTC today: 15:00 in New York, five hours from NOW.
        "interview": uscis(ivan, DeadlineKind.INTERVIEW, day(0),
                           datetime(2026, 3, 15, 19, 0, tzinfo=timezone.utc)),
        "met": uscis(ivan, DeadlineKind.RFE_RESPONSE, day(5), met_on=day(-1)),
        "theirs_rfe": uscis(theirs, DeadlineKind.RFE_RESPONSE, day(1)),
        "closed_rfe": uscis(closed, DeadlineKind.RFE_RESPONSE, day(2)),
    }
    return {"attorney": attorney, "other": other, "staff": staff, "clients": clients,
            "sponsor": sponsor, "rosa": rosa, "ivan": ivan, "theirs": theirs, "closed": closed,
            **items}


def keys(items) -> list[tuple[str, int]]:
    return [(item.kind, item.item_id) for item in items]


@pytest.fixture()
def at_now(monkeypatch):
    """The pages' clock stopped at NOW (no sleeping, no real today)."""
    monkeypatch.setattr("portal.agenda.routes.utcnow", lambda: NOW)


def section_rows(html: str, heading_id: str) -> list[str]:
    """The body rows of the table in the page's section labelled ``heading_id``."""
    section = html.split(f'aria-labelledby="{heading_id}"', 1)[1].split("</section>", 1)[0]
    return [row for row in re.findall(r"<tr>(.*?)</tr>", section, re.S) if "<td" in row]


# --- the agenda ----------------------------------------------------------------

def test_agenda_sections_by_the_attorneys_today_in_date_then_time_order(app, firm):
    agenda = services.agenda(firm["attorney"], NOW)
    assert agenda.today == TODAY
    assert keys(agenda.overdue) == [("document", firm["medical"].id)]
    # Today's all-day item before today's appointment; the biometrics in three days.
    assert keys(agenda.soon) == [("document", firm["birth"].id),
                                 ("interview", firm["interview"].id),
                                 ("biometrics", firm["biometrics"].id)]
    # Parole ends in 200 days (past the 180-day horizon); re-parole is to be filed 90 days before.
    ivan = firm["ivan"]
    assert keys(agenda.later) == [("rfe_response", firm["rfe"].id),
                                  ("reparole_file_by", ivan.id)]
    assert agenda.later[1].due_on == day(110)

    how_far = {item.kind: item.how_far(agenda.now, agenda.today)
               for item in agenda.overdue + agenda.soon + agenda.later if item.kind != "document"}
    assert how_far == {"interview": "in 5 hours", "biometrics": "in 3 days",
                       "rfe_response": "in 3 weeks", "reparole_file_by": "in 4 months"}
    assert [i.how_far(agenda.now, agenda.today) for i in agenda.overdue + agenda.soon[:1]] == [
        "2 days ago", "today"]
    assert [str(i.label) for i in agenda.soon] == [
        "Document due: Birth certificate", "Interview appointment", "Biometrics appointment"]


def test_a_moved_today_moves_items_between_sections(app, firm):
    # Four days later, 14:00 UTC: the biometrics (18 March) has passed, unmet.
    agenda = services.agenda(firm["attorney"], NOW + timedelta(days=4))
    assert agenda.today == day(4)
    assert keys(agenda.overdue) == [("document", firm["medical"].id),
                                    ("document", firm["birth"].id),
                                    ("interview", firm["interview"].id),
                                    ("biometrics", firm["biometrics"].id)]
    assert keys(agenda.soon) == []
    # 100 days later the parole end (day 200) comes within 180 days.
    later = services.agenda(firm["attorney"], NOW + timedelta(days=100)).later
    assert ("parole_end", firm["ivan"].id) in keys(later)


def test_the_day_is_the_viewers_own(app, firm):
    # 02:00 UTC on 16 March is still 15 March, 22:00, in New York.
    agenda = services.agenda(firm["attorney"], datetime(2026, 3, 16, 2, 0, tzinfo=timezone.utc))
    assert agenda.today == TODAY
    assert ("document", firm["birth"].id) in keys(agenda.soon)


def test_another_attorneys_case_and_closed_cases_never_appear(app, firm):
    everything = keys(services.items_for(firm["attorney"], day(400))[0])
    assert ("rfe_response", firm["theirs_rfe"].id) not in everything
    assert ("rfe_response", firm["closed_rfe"].id) not in everything
    assert ("rfe_response", firm["met"].id) not in everything
    assert {firm["rosa"].id, firm["ivan"].id} == {
        i.case.id for i in services.items_for(firm["attorney"], day(400))[0]}
    assert keys(services.items_for(firm["other"], day(400))[0]) == [
        ("rfe_response", firm["theirs_rfe"].id)]


def test_staff_see_every_open_case_or_only_theirs(app, firm):
    all_cases = {i.case.id for i in services.items_for(firm["staff"], day(400))[0]}
    assert all_cases == {firm["rosa"].id, firm["ivan"].id, firm["theirs"].id}
    mine = {i.case.id for i in services.items_for(firm["staff"], day(400), member=firm["staff"])[0]}
    assert mine == {firm["ivan"].id}


def test_clients_and_sponsors_have_no_agenda(app, firm):
    for person in (firm["clients"][0], firm["sponsor"]):
        with pytest.raises(ServiceError):
            services.items_for(person, day(400))[0]


def test_agenda_page_lists_each_item_with_its_case_and_beneficiary(app, firm, at_now):
    page = browser(app, firm["attorney"]).get("/agenda")
    assert page.status_code == 200
    overdue = section_rows(page.text, "overdue-heading")
    soon = section_rows(page.text, "soon-heading")
    later = section_rows(page.text, "later-heading")
    assert len(overdue) == 1 and len(soon) == 3 and len(later) == 2
    rosa, ivan = firm["rosa"], firm["ivan"]
    assert "Document due: Medical records of Rosa" in overdue[0]
    assert "2 days ago" in overdue[0] and "Mar 13, 2026" in overdue[0]
    assert f'href="/cases/{rosa.uuid}">{rosa.reference}</a>' in overdue[0]
    assert "Rosa Medina" in overdue[0]
    # The appointment's time in the attorney's zone (19:00 UTC is 3:00 PM in New York).
    assert "Interview appointment" in soon[1] and "3:00" in soon[1] and "PM" in soon[1]
    assert "in 5 hours" in soon[1] and "Ivan Petrov" in soon[1]
    assert "File re-parole by" in later[1] and f">{ivan.reference}</a>" in later[1]
    for absent in ("Olga Outsider", firm["theirs"].reference, "Carl Closed", "Form I-134"):
        assert absent not in page.text
    assert 'name="scope"' not in page.text  # an attorney's agenda is already their cases


def test_agenda_page_speaks_the_viewers_language(app, firm, at_now):
    firm["attorney"].language = "es"
    db.session.commit()
    page = browser(app, firm["attorney"]).get("/agenda").text
    assert "hace 2 días" in page and "dentro de 3 semanas" in page and "dentro de 5 horas" in page


def test_staff_narrow_the_page_to_their_cases(app, firm, at_now):
    c = browser(app, firm["staff"])
    assert "Olga Outsider" in c.get("/agenda").text
    mine = c.get("/agenda?scope=mine").text
    assert "Olga Outsider" not in mine and "Rosa Medina" not in mine and "Ivan Petrov" in mine
    # Anything else is the default: every open case.
    assert "Olga Outsider" in c.get("/agenda?scope=nonsense").text


def test_the_firm_wide_agenda_narrows_to_one_attorneys_cases(app, firm, at_now):
    c = browser(app, firm["staff"])
    page = c.get("/agenda").text
    assert f'value="{firm["other"].uuid}"' in page  # each attorney is a choice
    theirs = c.get(f"/agenda?scope={firm['other'].uuid}").text
    assert "Olga Outsider" in theirs and "Rosa Medina" not in theirs
    assert "Ivan Petrov" not in theirs
    # An attorney's own agenda is already theirs: the choice is not offered.
    assert 'name="scope"' not in browser(app, firm["attorney"]).get(
        f"/agenda?scope={firm['other'].uuid}").text


def test_the_agenda_and_the_feed_list_at_most_the_set_number_of_items(app, firm, at_now):
    app.config["AGENDA_MAX_ITEMS"] = 3
    c = browser(app, firm["attorney"])
    page = c.get("/agenda").text
    rows = sum(len(section_rows(page, f"{name}-heading")) for name in ("overdue", "soon", "later"))
    assert rows == 3 and "Only the first 3 items are shown, the earliest first." in page
    # The earliest are kept: the overdue request is among them.
    assert "Medical records of Rosa" in page
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        items, more = services.items_for(firm["attorney"], day(400))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(items) == 3 and more
    assert "LIMIT" in statements[-1]  # bounded in the database, not after loading every row
    assert len(services.feed_items(firm["attorney"], NOW)) == 3
    app.config["AGENDA_MAX_ITEMS"] = 300
    assert "Only the first" not in c.get("/agenda").text


def test_agenda_page_takes_the_same_number_of_queries_for_more_cases(app, firm, make_case,
                                                                     at_now):
    c = browser(app, firm["staff"])

    def count() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert c.get("/agenda").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    before = count()
    for n in range(4):
        case = make_case(client=firm["clients"][0], parole_ends_on=day(30 + n))
        ask(case, firm["clients"][0], f"Extra {n}", day(n))
        uscis(case, DeadlineKind.BIOMETRICS, day(n + 1),
              datetime(2026, 3, 16 + n, 15, 0, tzinfo=timezone.utc))
    assert count() == before


@pytest.mark.parametrize("role", ["client", "sponsor"])
def test_clients_and_sponsors_get_404_and_no_nav_link(app, firm, role):
    person = firm["clients"][0] if role == "client" else firm["sponsor"]
    c = browser(app, person)
    assert c.get("/agenda").status_code == 404
    assert c.submit("/agenda/calendar").status_code == 404
    assert c.submit("/agenda/calendar/revoke").status_code == 404
    assert 'href="/agenda"' not in c.get("/").text
    assert db.session.scalar(select(CalendarFeed)) is None


def test_the_firm_finds_the_agenda_in_its_menu(app, firm):
    assert 'href="/agenda"' in browser(app, firm["attorney"]).get("/").text


# --- the calendar feed -----------------------------------------------------------

FEED_URL = re.compile(r'value="http://portal\.test(/calendar/[A-Za-z0-9_-]{43}\.ics)"')


def create_link(c) -> str:
    """Create (or renew) the signed-in person's link; returns its path."""
    page = c.submit("/agenda/calendar")
    assert page.status_code == 200
    return FEED_URL.search(page.text).group(1)


def actions(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == name)
                                   .order_by(AuditEvent.id)))


def test_feed_has_the_agendas_items_and_names_nobody(app, firm, at_now):
    c = browser(app, firm["attorney"])
    path = create_link(c)
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    # Only the hash is kept, and the link is shown once: not on the agenda page.
    stored = db.session.scalar(select(CalendarFeed))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in c.get("/agenda").text
    assert [e.actor_id for e in actions("calendar.created")] == [firm["attorney"].id]

    response = app.test_client().get(path)  # a calendar app: nobody signed in
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    calendar = Calendar.from_ical(response.data)
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    assert b"X-PUBLISHED-TTL:PT1H" in response.data
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    rosa, ivan = firm["rosa"], firm["ivan"]
    assert set(events) == {
        f"document-{firm['medical'].id}@portal.test", f"document-{firm['birth'].id}@portal.test",
        f"rfe_response-{firm['rfe'].id}@portal.test",
        f"biometrics-{firm['biometrics'].id}@portal.test",
        f"interview-{firm['interview'].id}@portal.test",
        # Within 365 days: the parole end (day 200) too.
        f"parole_end-{ivan.id}@portal.test", f"reparole_file_by-{ivan.id}@portal.test"}

    rfe = events[f"rfe_response-{firm['rfe'].id}@portal.test"]
    assert rfe.decoded("DTSTART") == day(20) and rfe.decoded("DTEND") == day(21)
    assert str(rfe["SUMMARY"]) == f"{rosa.reference}: RFE response due"
    assert str(rfe["URL"]) == f"http://portal.test/cases/{rosa.uuid}"
    assert str(rfe["DESCRIPTION"]) == f"http://portal.test/cases/{rosa.uuid}"
    biometrics = events[f"biometrics-{firm['biometrics'].id}@portal.test"]
    assert biometrics.decoded("DTSTART") == datetime(2026, 3, 18, 13, 30, tzinfo=timezone.utc)
    assert b"DTSTART:20260318T133000Z" in response.data
    medical = events[f"document-{firm['medical'].id}@portal.test"]
    assert str(medical["SUMMARY"]) == f"{rosa.reference}: Document due"
    assert medical.decoded("DTSTART") == day(-2)  # overdue items stay in the feed

    body = response.data.decode()
    for private in ("Rosa", "Medina", "Ivan", "Petrov", "Cardiac", "Medical records",
                    "Birth certificate", "Reunion", "Gomez", "Olga", "Carl"):
        assert private not in body, private
    assert [e.actor_id for e in actions("calendar.fetched")] == [firm["attorney"].id]


def test_feed_keeps_its_uids_from_one_fetch_to_the_next(app, firm, at_now):
    path = create_link(browser(app, firm["attorney"]))
    reader = app.test_client()
    first, second = (Calendar.from_ical(reader.get(path).data) for _ in range(2))
    assert [str(e["UID"]) for e in first.walk("VEVENT")] == [
        str(e["UID"]) for e in second.walk("VEVENT")]


def test_feed_looks_365_days_ahead(app, firm, at_now):
    uscis(firm["rosa"], DeadlineKind.INTERVIEW, day(366))
    kept = uscis(firm["rosa"], DeadlineKind.INTERVIEW, day(365))
    path = create_link(browser(app, firm["attorney"]))
    uids = [str(e["UID"]) for e in Calendar.from_ical(app.test_client().get(path).data)
            .walk("VEVENT") if str(e["UID"]).startswith("interview-")]
    assert uids == [f"interview-{firm['interview'].id}@portal.test",
                    f"interview-{kept.id}@portal.test"]


def test_renewing_stops_the_old_link_at_once(app, firm):
    c = browser(app, firm["attorney"])
    old = create_link(c)
    page = c.submit("/agenda/calendar")
    assert "The old link no longer works" in page.text
    new = FEED_URL.search(page.text).group(1)
    assert new != old
    reader = app.test_client()
    assert reader.get(old).status_code == 404
    assert reader.get(new).status_code == 200
    assert len(actions("calendar.renewed")) == 1
    assert db.session.scalar(select(db.func.count(CalendarFeed.id))) == 1


def test_revoking_stops_the_link_and_the_refusal_is_audited_without_the_token(app, firm):
    c = browser(app, firm["attorney"])
    path = create_link(c)
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    response = c.submit("/agenda/calendar/revoke")
    assert response.status_code == 303
    assert "Your calendar link was turned off" in c.get("/agenda").text
    assert [e.actor_id for e in actions("calendar.revoked")] == [firm["attorney"].id]
    assert db.session.scalar(select(CalendarFeed)) is None

    assert app.test_client().get(path).status_code == 404
    denied = actions("calendar.denied")
    assert len(denied) == 1 and denied[0].details == {"reason": "unknown"}
    trail = " ".join(f"{e.target} {e.details}" for e in db.session.scalars(select(AuditEvent)))
    assert token not in trail
    # Nothing left to revoke: told so.
    c.submit("/agenda/calendar/revoke")
    assert "You have no calendar link to turn off" in c.get("/agenda").text


@pytest.mark.parametrize("token", ["not-a-real-token", "A" * 43, "x" * 500, "%00", "%ff", "..%2F.."])
def test_a_wrong_or_malformed_token_is_a_plain_404(app, firm, token):
    reader = app.test_client()
    missing = reader.get("/no-such-page")
    response = reader.get(f"/calendar/{token}.ics")
    assert response.status_code == 404
    assert comparable(response.text) == comparable(missing.text)
    assert response.headers["Content-Type"] == missing.headers["Content-Type"]
    if "%2F" not in token:  # the others reach the feed's route, and are audited
        assert [e.details for e in actions("calendar.denied")] == [{"reason": "unknown"}]


def test_a_deactivated_persons_feed_is_404(app, firm):
    path = create_link(browser(app, firm["attorney"]))
    firm["attorney"].active = False
    db.session.commit()
    assert app.test_client().get(path).status_code == 404
    denied = actions("calendar.denied")
    assert [(e.actor_id, e.details) for e in denied] == [
        (firm["attorney"].id, {"reason": "no_agenda"})]


def test_someone_no_longer_with_the_firm_loses_the_feed(app, firm):
    path = create_link(browser(app, firm["staff"]))
    firm["staff"].role = Role.CLIENT
    db.session.commit()
    assert app.test_client().get(path).status_code == 404


def test_only_the_firm_gets_a_feed(app, firm):
    with pytest.raises(ServiceError):
        feeds.issue_feed(firm["clients"][0])
    assert db.session.scalar(select(CalendarFeed)) is None
    assert actions("calendar.created") == []


def test_feed_fetches_are_limited_per_address(app, firm):
    app.config["CALENDAR_FEED_LIMIT"] = "3 per minute"
    path = create_link(browser(app, firm["attorney"]))
    reader = app.test_client()
    assert [reader.get(path).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_feed_token_never_reaches_the_access_log():
    line = "GET /calendar/Zk9sV3JtX2secret-token-Q1w2e3.ics HTTP/1.1"
    assert redact(line) == "GET /calendar/[redacted] HTTP/1.1"


def test_feed_fetches_are_audited_once_per_person_address_and_utc_day(app, firm, monkeypatch):
    path = create_link(browser(app, firm["attorney"]))  # audited now, from 127.0.0.1
    staff_path = create_link(browser(app, firm["staff"]))
    # The real clock's UTC day: the link's creation above is in that day's trail.
    midnight = datetime.combine(datetime.now(timezone.utc).date(), datetime.min.time(),
                                tzinfo=timezone.utc)
    clock = [midnight]
    monkeypatch.setattr("portal.agenda.routes.utcnow", lambda: clock[0])
    home, office = app.test_client(), app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.7"

    def fetched() -> list[tuple[int, str, date]]:
        db.session.expire_all()
        return [(e.actor_id, e.ip_address, e.occurred_at.date())
                for e in actions("calendar.fetched")]

    attorney, staff, today = firm["attorney"].id, firm["staff"].id, midnight.date()
    assert home.get(path).status_code == 200
    clock[0] = midnight + timedelta(hours=23, minutes=59)
    assert home.get(path).status_code == 200  # a calendar app polling all day
    assert fetched() == [(attorney, "127.0.0.1", today)]
    assert office.get(path).status_code == 200  # the same link from somewhere else
    assert office.get(path).status_code == 200
    assert home.get(staff_path).status_code == 200  # someone else's link, same address
    assert fetched() == [(attorney, "127.0.0.1", today), (attorney, "203.0.113.7", today),
                         (staff, "127.0.0.1", today)]
    clock[0] = midnight + timedelta(days=1)  # the next UTC day
    assert home.get(path).status_code == 200
    assert home.get(path).status_code == 200
    assert fetched()[3:] == [(attorney, "127.0.0.1", today + timedelta(days=1))]
