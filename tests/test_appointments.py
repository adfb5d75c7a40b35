"""Appointments (biometrics, interviews) after they are added: the reader's
time zone named as a person knows it, in their language; changing one and
removing one (audited, told to the client, refused on a stale page, never
reached through another case)."""
from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from portal.errors import ServiceError
from portal.extensions import db
from portal.models import (AuditEvent, Case, CaseDeadline, DeadlineKind, OutboxMessage,
                           TimelineEvent)
from portal.uscis import appointments

NEW_YORK = ZoneInfo("America/New_York")
# The attorney's today (New York), as in tests/test_uscis.py.
TODAY = datetime.now(NEW_YORK).date()
SOON = TODAY + timedelta(days=20)  # within the agenda's next months and the feed's year
FEED_URL = re.compile(r'value="http://portal\.test(/calendar/[A-Za-z0-9_-]{43}\.ics)"')


@pytest.fixture()
def people(make_user, make_case):
    lawyer = make_user("attorney", timezone="America/New_York")
    client_user = make_user("client", timezone="Europe/Madrid")
    sponsor = make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor], stage="filed")
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case)


def fresh(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def page(client, case) -> str:
    return html.unescape(client.get(f"/cases/{case.uuid}").text)


def panel(text: str) -> str:
    match = re.search(r'<section class="card uscis".*?</section>', text, re.S)
    return match.group(0) if match else ""


def post(client, case, path: str, data: dict, version: int | None = None) -> str:
    fields = {"version": fresh(case).version if version is None else version, **data}
    response = client.submit(f"/cases/{case.uuid}/uscis/{path}", fields, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.text)


def add(client, case, day=SOON, at="09:30", place="ASC Miami", kind="biometrics") -> CaseDeadline:
    """Add an appointment through the form, as the signed-in attorney (the client is told)."""
    post(client, case, "appointments", {"kind": kind, "day": day.isoformat(), "at": at,
                                        "place": place})
    return db.session.scalars(select(CaseDeadline).order_by(CaseDeadline.id.desc())).first()


def row(case, day=SOON, hour=14, **fields) -> CaseDeadline:
    """An appointment written directly (no timeline event told the client of it)."""
    fields.setdefault("kind", DeadlineKind.INTERVIEW)
    appointment = CaseDeadline(case=case, due_on=day,
                               starts_at=datetime.combine(day, time(hour), timezone.utc), **fields)
    db.session.add(appointment)
    db.session.commit()
    return appointment


def edit(client, case, appointment, version=None, **data) -> str:
    fields = {"kind": appointment.kind.value, "day": SOON.isoformat(), "at": "09:30",
              "place": appointment.place, **data}
    return post(client, case, f"appointments/{appointment.uuid}/edit", fields, version)


def events(case, kind: str) -> list[TimelineEvent]:
    return list(db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.case_id == case.id, TimelineEvent.kind == kind).order_by(TimelineEvent.id)))


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def notices(person) -> int:
    return count(OutboxMessage, OutboxMessage.recipient == person.email,
                 OutboxMessage.template == "case_update")


# --- the time zone, as the reader knows it ---------------------------------------------------


@pytest.mark.parametrize("language, city, sentence", [
    ("en", "New York", "(New York time)"),
    ("es", "Nueva York", "Nueva York"),
    ("ru", "Нью-Йорк", "Нью-Йорк"),
])
def test_the_clients_zone_is_named_by_its_city_in_their_language(
        client, login_as, make_user, make_case, language, city, sentence):
    reader = make_user("client", timezone="America/New_York", language=language)
    case = make_case(client=reader, stage="filed")
    row(case, place="ASC Miami")
    login_as(reader)
    text = page(client, case)
    assert city in panel(text) and sentence in panel(text)
    assert "America/New_York" not in text and "America/New York" not in text
    # 14:00 UTC is 10:00 in New York in summer and 9:00 in winter.
    assert re.search(r"\b0?(10|9)[:.]00", panel(text))


@pytest.mark.parametrize("language, city", [("en", "New York"), ("es", "Nueva York"),
                                            ("ru", "Нью-Йорк")])
def test_the_agenda_names_the_readers_zone_by_its_city(client, login_as, make_user, make_case,
                                                       language, city):
    lawyer = make_user("attorney", timezone="America/New_York", language=language)
    row(make_case(attorney=lawyer))
    login_as(lawyer)
    text = html.unescape(client.get("/agenda").text)
    assert f"({city})" in text and "America/New_York" not in text


@pytest.mark.parametrize("zone, shown", [("UTC", "GMT+00:00"), ("Etc/GMT+5", "GMT-05:00")])
def test_a_zone_that_names_no_place_is_shown_as_its_offset(client, login_as, make_user,
                                                           make_case, zone, shown):
    # Etc/GMT+5 is five hours *behind* GMT: its own name would read backwards.
    reader = make_user("client", timezone=zone)
    case = make_case(client=reader, stage="filed")
    row(case)
    login_as(reader)
    shown_panel = panel(page(client, case))
    assert f"({shown} time)" in shown_panel and f"({zone} time)" not in shown_panel


def test_the_firms_time_fields_name_its_zone_and_the_edit_form_starts_from_the_appointment(
        client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, at="09:30")
    text = page(client, case)
    assert "Your time zone: New York." in text
    edit_at = re.search(rf'id="uscis-{appointment.uuid}-edit-at"[^>]*', text).group(0)
    assert 'value="09:30"' in edit_at  # on the attorney's clock, as typed
    edit_day = re.search(rf'id="uscis-{appointment.uuid}-edit-day"[^>]*', text).group(0)
    assert f'value="{SOON.isoformat()}"' in edit_day


# --- changing one ---------------------------------------------------------------------------


def test_a_change_is_what_the_client_then_sees_and_they_are_told(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, at="09:30", place="ASC Miami")
    told = notices(people["client"])
    later = SOON + timedelta(days=2)
    text = edit(client, case, appointment, day=later.isoformat(), at="11:15",
                place="USCIS Field Office Newark", internal_note="Moved by USCIS.")
    assert "The appointment was changed." in text
    assert "The client sees it on their timeline." in text

    changed = db.session.get(CaseDeadline, appointment.id)
    expected = datetime.combine(later, time(11, 15), NEW_YORK).astimezone(timezone.utc)
    assert changed.starts_at == expected and changed.due_on == later
    assert changed.place == "USCIS Field Office Newark"
    (event,) = events(case, "uscis.appointment_changed")
    assert event.client_visible and event.data["deadline"] == str(appointment.uuid)
    assert notices(people["client"]) == told + 1  # the add's content-free email, again
    (audit,) = audits("uscis.appointment_updated")
    assert audit.actor_id == people["lawyer"].id and audit.case_id == case.id
    assert audit.target == str(appointment.uuid)
    assert sorted(audit.details["fields"]) == ["place", "starts_at"]
    assert "Newark" not in str(audit.details) and "Miami" not in str(audit.details)
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    shown = panel(text)
    madrid = expected.astimezone(ZoneInfo("Europe/Madrid"))
    assert "USCIS Field Office Newark" in shown and "ASC Miami" not in shown
    assert f"{madrid.hour - 12 if madrid.hour > 12 else madrid.hour}:15" in shown
    assert "(Madrid time)" in shown
    assert "Moved by USCIS." not in text


def test_a_change_of_an_appointment_the_client_was_never_told_of_stays_the_firms(
        client, login_as, people):
    case = people["case"]
    appointment = row(case, place="ASC Miami")  # e.g. written before the timeline told clients
    login_as(people["lawyer"])
    text = edit(client, case, appointment, place="ASC Newark")
    assert "Only the firm sees this on the timeline" in text
    (event,) = events(case, "uscis.appointment_changed")
    assert not event.client_visible
    assert notices(people["client"]) == 0


def test_a_change_on_a_stale_page_is_refused_and_nothing_saved(client, login_as, people,
                                                               make_user):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, place="ASC Miami")
    seen = fresh(case).version  # two people open the case page
    edit(client, case, appointment, version=seen, place="ASC Newark")  # the first saves
    assert fresh(case).version > seen
    text = edit(client, case, appointment, version=seen, place="ASC Orlando", at="16:00")
    assert "Someone else changed this case while you were working on it." in text
    kept = db.session.get(CaseDeadline, appointment.id)
    assert kept.place == "ASC Newark" and len(audits("uscis.appointment_updated")) == 1
    assert len(events(case, "uscis.appointment_changed")) == 1
    text = post(client, case, f"appointments/{appointment.uuid}/remove", {"confirm": "y"}, seen)
    assert "Someone else changed this case" in text
    assert db.session.get(CaseDeadline, appointment.id) is not None
    assert audits("uscis.appointment_removed") == []


@pytest.mark.parametrize("fields, message", [
    ({"day": "2001-01-01"}, "already passed"),
    ({"at": ""}, "Enter the time of the appointment."),
    ({"day": ""}, "Enter the date of the appointment."),
    ({"kind": "rfe_response"}, "Choose a biometrics appointment or an interview."),
    ({}, "Nothing was changed"),
])
def test_a_bad_change_is_refused_and_nothing_saved(client, login_as, people, fields, message):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, at="09:30", place="ASC Miami")
    version = fresh(case).version
    assert message in edit(client, case, appointment, **fields)
    kept = db.session.get(CaseDeadline, appointment.id)
    assert kept.place == "ASC Miami" and kept.kind is DeadlineKind.BIOMETRICS
    assert kept.starts_at == datetime.combine(SOON, time(9, 30), NEW_YORK).astimezone(timezone.utc)
    assert fresh(case).version == version
    assert audits("uscis.appointment_updated") == []
    assert events(case, "uscis.appointment_changed") == []


def test_an_attended_appointment_or_an_rfe_cannot_be_changed_or_removed(client, login_as, people):
    case = people["case"]
    attended = row(case, met_on=SOON, place="ASC Miami")
    rfe = CaseDeadline(case=case, kind=DeadlineKind.RFE_RESPONSE, due_on=SOON)
    db.session.add(rfe)
    db.session.commit()
    login_as(people["lawyer"])
    assert "can no longer be changed" in edit(client, case, attended, place="ASC Newark")
    assert "stays on the case's record" in post(
        client, case, f"appointments/{attended.uuid}/remove", {"confirm": "y"})
    assert "This is not an appointment." in post(
        client, case, f"appointments/{rfe.uuid}/edit",
        {"kind": "interview", "day": SOON.isoformat(), "at": "10:00"})
    assert "This is not an appointment." in post(
        client, case, f"appointments/{rfe.uuid}/remove", {"confirm": "y"})
    assert count(CaseDeadline) == 2
    assert db.session.get(CaseDeadline, attended.id).place == "ASC Miami"
    assert count(AuditEvent, AuditEvent.action.like("uscis.appointment_%")) == 0


# --- removing one ---------------------------------------------------------------------------


def test_a_removed_appointment_leaves_the_case_page_the_agenda_and_the_feed(
        app, client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, place="ASC Miami")
    appointment_id, appointment_uuid = appointment.id, appointment.uuid
    feed = FEED_URL.search(client.submit("/agenda/calendar").text).group(1)
    uid = f"biometrics-{appointment_id}@portal.test"
    calendar = Calendar.from_ical(app.test_client().get(feed).data)
    assert uid in {str(e["UID"]) for e in calendar.walk("VEVENT")}
    assert case.reference in client.get("/agenda").text
    told = notices(people["client"])

    text = post(client, case, f"appointments/{appointment_uuid}/remove",
                {"confirm": "y", "internal_note": "USCIS cancelled it."})
    assert "The appointment was removed." in text
    assert "ASC Miami" not in panel(text) and f"/{appointment_uuid}/" not in panel(text)
    assert db.session.get(CaseDeadline, appointment_id) is None
    assert case.reference not in client.get("/agenda").text
    calendar = Calendar.from_ical(app.test_client().get(feed).data)
    assert uid not in {str(e["UID"]) for e in calendar.walk("VEVENT")}
    (audit,) = audits("uscis.appointment_removed")
    assert (audit.actor_id, audit.case_id, audit.target) == (
        people["lawyer"].id, case.id, str(appointment_uuid))
    assert "cancelled" not in str(audit.details)
    (event,) = events(case, "uscis.appointment_removed")
    assert event.client_visible and notices(people["client"]) == told + 1
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "ASC Miami" not in panel(text) and "Your upcoming appointments" not in panel(text)
    assert "USCIS cancelled it." not in text


def test_a_removal_must_be_confirmed(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case)
    text = post(client, case, f"appointments/{appointment.uuid}/remove", {})
    assert "Tick the box to confirm that the appointment should be removed." in text
    assert db.session.get(CaseDeadline, appointment.id) is not None
    assert audits("uscis.appointment_removed") == []


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["edit", "remove"])
def test_an_appointment_of_another_case_is_not_found(client, login_as, people, make_case,
                                                     action):
    other = make_case(attorney=people["lawyer"])  # the same attorney runs both
    foreign = row(other, place="ASC Miami")
    login_as(people["lawyer"])
    for deadline in (foreign.uuid, "not-a-uuid"):
        response = client.submit(
            f"/cases/{people['case'].uuid}/uscis/appointments/{deadline}/{action}",
            {"version": fresh(people["case"]).version, "confirm": "y", "kind": "interview",
             "day": SOON.isoformat(), "at": "10:00", "place": "Elsewhere"})
        assert response.status_code == 404
    kept = db.session.get(CaseDeadline, foreign.id)
    assert kept is not None and kept.place == "ASC Miami"
    assert count(AuditEvent, AuditEvent.action.like("uscis.appointment_%")) == 0


def test_only_those_who_run_the_case_are_offered_the_changes(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case)
    shown = panel(page(client, case))
    assert f"/appointments/{appointment.uuid}/edit" in shown
    assert f"/appointments/{appointment.uuid}/remove" in shown
    client.submit("/logout")

    login_as(people["client"])
    shown = panel(page(client, case))
    assert "ASC Miami" in shown and "/edit" not in shown and "/remove" not in shown
    client.submit("/logout")

    case = fresh(case)
    case.stage, case.closed_on = "closed", TODAY
    db.session.commit()
    login_as(people["lawyer"])
    shown = panel(page(client, case))
    assert "ASC Miami" in shown and "/edit" not in shown and "/remove" not in shown


@pytest.mark.parametrize("who", ["client", "sponsor"])
def test_the_services_refuse_anyone_outside_the_attorney_team(people, who):
    """The rule lives in the services too, not only in the routes."""
    case, person = people["case"], people[who]
    appointment = row(case, place="ASC Miami")
    with pytest.raises(ServiceError):
        appointments.edit_appointment(person, case, appointment, case.version, "interview",
                                      SOON, time(10), "Elsewhere")
    with pytest.raises(ServiceError):
        appointments.remove_appointment(person, case, appointment, case.version)
    db.session.rollback()
    kept = db.session.get(CaseDeadline, appointment.id)
    assert kept is not None and kept.place == "ASC Miami"


# --- the client's timeline ------------------------------------------------------------------

def test_the_clients_timeline_says_the_appointment_changed_then_was_removed(
        client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    appointment = add(client, case, place="ASC Miami")
    edit(client, case, appointment, place="ASC Newark")
    post(client, case, f"appointments/{appointment.uuid}/remove", {"confirm": "y"})
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    timeline = text[text.index('<ol class="timeline">'):]
    lines = ["The biometrics appointment of", "The biometrics appointment has changed: it is "
             "now on", "Biometrics appointment:"]
    positions = [timeline.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions)  # newest first
    assert "at ASC Newark." in timeline and "is no longer scheduled." in timeline
