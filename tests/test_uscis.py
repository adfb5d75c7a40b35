"""USCIS tracking on the case page: receipt number, case statuses,
appointments, Requests for Evidence, the decision, the parole period and
expedite requests. Who may record them, what is refused (and nothing
saved), and what the client reads compared with the firm."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (AuditEvent, Case, CaseDeadline, DeadlineKind, Decision,
                           ExpediteOutcome, ExpediteRequest, OutboxMessage, TimelineEvent)
from portal.models.case import UrgencyFlag
from tests.forms import form_values

# The attorney's today (New York): dates after it are refused as "in the future",
# and for five hours a night the machine's date is already the next day.
TODAY = datetime.now(ZoneInfo("America/New_York")).date()
SAVED = "Saved. The client sees it on their timeline."


@pytest.fixture()
def people(make_user, make_case):
    lawyer = make_user("attorney", timezone="America/New_York")
    client_user = make_user("client", timezone="Europe/Madrid")
    sponsor = make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor], stage="filed",
                     title="Cardiac surgery for Rosa")
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case)


def post(client, case, path: str, data: dict | None = None, version: int | None = None):
    """Post a USCIS form as the signed-in person; the page they land on, unescaped."""
    fields = {"version": fresh(case).version if version is None else version, **(data or {})}
    response = client.submit(f"/cases/{case.uuid}/uscis/{path}", fields, follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.text)


def page(client, case) -> str:
    return html.unescape(client.get(f"/cases/{case.uuid}").text)


def panel(text: str) -> str:
    """The USCIS panel of a case page ("" when it is not there)."""
    match = re.search(r'<section class="card uscis".*?</section>', text, re.S)
    return match.group(0) if match else ""


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fresh(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def events(case: Case, kind: str) -> list[TimelineEvent]:
    return list(db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.case_id == case.id, TimelineEvent.kind == kind).order_by(TimelineEvent.id)))


def nothing_saved(case: Case, version: int) -> None:
    case = fresh(case)
    assert case.version == version
    assert count(TimelineEvent, TimelineEvent.case_id == case.id,
                 TimelineEvent.kind.like("uscis.%")) == 0
    assert count(AuditEvent, AuditEvent.action.like("uscis.%")) == 0


# --- receipt number ----------------------------------------------------------------------


def test_receipt_number_is_normalised_recorded_and_shown_to_the_client(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    text = post(client, case, "receipt", {"receipt_number": " ioe-091 234-5678 ",
                                          "client_text": "USCIS has your request.",
                                          "internal_note": "Notice came by post."})
    assert SAVED in text
    assert "not a service centre we know" not in text
    assert fresh(case).receipt_number == "IOE0912345678"
    (event,) = events(case, "uscis.receipt")
    assert event.client_visible and event.data["number"] == "IOE0912345678"
    assert count(AuditEvent, AuditEvent.action == "uscis.receipt_recorded") == 1
    # The client is told something is new, without content.
    (notice,) = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == people["client"].email))
    assert notice.template == "case_update"
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "IOE0912345678" in panel(text)
    assert "USCIS receipt number recorded: IOE0912345678." in text
    assert "USCIS has your request." in text
    assert "Notice came by post." not in text


@pytest.mark.parametrize("typed", ["IOE12345", "1230912345678", "IOE091234567X",
                                   "IOE09123456789", "   "])
def test_a_malformed_receipt_number_is_refused_with_a_message_and_nothing_saved(
        client, login_as, people, typed):
    case = people["case"]
    version = case.version
    login_as(people["lawyer"])
    text = post(client, case, "receipt", {"receipt_number": typed})
    assert ("three letters and ten digits" in text) or ("Enter the receipt number." in text)
    assert SAVED not in text
    assert fresh(case).receipt_number is None
    nothing_saved(case, version)


def test_an_unknown_service_centre_is_saved_with_a_warning(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    text = post(client, case, "receipt", {"receipt_number": "ABC0912345678"})
    assert "ABC is not a service centre we know; check it." in text
    assert 'class="flash warning"' in text
    assert fresh(case).receipt_number == "ABC0912345678"


def test_replacing_the_receipt_number_keeps_the_previous_one_in_the_event(client, login_as,
                                                                           people):
    case = people["case"]
    login_as(people["lawyer"])
    post(client, case, "receipt", {"receipt_number": "IOE0912345678"})
    text = post(client, case, "receipt", {"receipt_number": "IOE0912345678"})
    assert "already recorded" in text
    post(client, case, "receipt", {"receipt_number": "EAC2612345678"})
    assert fresh(case).receipt_number == "EAC2612345678"
    assert events(case, "uscis.receipt")[-1].data["previous"] == "IOE0912345678"


@pytest.mark.parametrize("path, data", [
    ("receipt", {"receipt_number": "EAC2612345678"}),
    ("status", {"status": "Case Was Received", "on": TODAY.isoformat(), "move": "y"}),
    ("rfe", {"received_on": TODAY.isoformat(), "respond_by": "2099-01-01"}),
    ("decision", {"decision": "approved", "decided_on": TODAY.isoformat()}),
    ("parole", {"entry_on": TODAY.isoformat(), "ends_on": "2099-01-01"}),
])
def test_a_change_to_the_case_made_on_a_stale_page_is_refused(client, login_as, people, path,
                                                               data):
    case = people["case"]
    login_as(people["lawyer"])
    post(client, case, "receipt", {"receipt_number": "IOE0912345678"})
    stale = fresh(case).version - 1
    text = post(client, case, path, data, version=stale)
    assert "Someone else changed this case" in text
    case = fresh(case)
    assert (case.receipt_number, case.stage, case.decision, case.parole_ends_on) == (
        "IOE0912345678", "filed", None, None)
    assert count(CaseDeadline) == 0
    assert len(events(case, "uscis.receipt")) == 1 and count(
        TimelineEvent, TimelineEvent.kind.like("uscis.%")) == 1


# --- USCIS statuses ----------------------------------------------------------------------


def test_a_status_keeps_the_raw_title_and_moves_the_case_in_the_same_commit(
        client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    form = form_values(page(client, case))
    assert form["move"] == "y"  # "also move the case" is ticked by default
    version = case.version
    text = post(client, case, "status", {"status": "Case Was Received",
                                         "on": (TODAY - timedelta(days=2)).isoformat(),
                                         "move": "y", "internal_note": "Seen online."})
    assert SAVED in text
    case = fresh(case)
    assert case.stage == "receipt_received" and case.version == version + 1
    (event,) = events(case, "uscis.status")
    assert event.data["title"] == "Case Was Received"
    assert event.data["from"] == "filed" and event.data["to"] == "receipt_received"
    assert event.data["on"] == (TODAY - timedelta(days=2)).isoformat()
    # One event says both: no separate stage_changed event.
    assert events(case, "stage_changed") == []
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "Case Was Received. The case moved to: Receipt notice received." in text
    assert "Latest USCIS status" in panel(text) and "Case Was Received" in panel(text)
    assert "Seen online." not in text


def test_a_status_can_be_recorded_without_moving_the_case(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    post(client, case, "status", {"status": "Case Was Received", "on": TODAY.isoformat()})
    case = fresh(case)
    assert case.stage == "filed"
    assert "to" not in events(case, "uscis.status")[0].data


@pytest.mark.parametrize("title", ["Case Was Eaten By A Dog", "Interview scheduled", ""])
def test_a_status_the_case_type_does_not_list_is_refused(client, login_as, people, title):
    case = people["case"]
    login_as(people["lawyer"])
    text = post(client, case, "status", {"status": title, "on": TODAY.isoformat(), "move": "y"})
    assert "Choose one of the USCIS statuses of this type of case." in text
    nothing_saved(case, case.version)


def test_a_status_of_another_case_type_is_refused(client, login_as, make_user, make_case):
    lawyer = make_user("attorney")
    visa = make_case(attorney=lawyer, case_type="visitor_visa_214b", stage="intake")
    login_as(lawyer)
    assert "Record a USCIS case status" not in page(client, visa)  # the type lists none
    text = post(client, visa, "status", {"status": "Case Was Approved", "on": TODAY.isoformat(),
                                         "move": "y"})
    assert "Choose one of the USCIS statuses of this type of case." in text
    assert fresh(visa).stage == "intake"


def test_a_status_dated_in_the_future_is_refused(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    text = post(client, case, "status", {"status": "Case Was Received",
                                         "on": (TODAY + timedelta(days=400)).isoformat(),
                                         "move": "y"})
    assert "is in the future. Please check the date." in text
    nothing_saved(case, case.version)


# --- appointments ------------------------------------------------------------------------


def _next_july_15() -> date:
    return date(TODAY.year + 1, 7, 15)


def test_an_appointment_typed_on_the_attorneys_clock_is_shown_on_the_clients(
        client, login_as, people):
    case, day = people["case"], _next_july_15()
    login_as(people["lawyer"])
    text = post(client, case, "appointments", {"kind": "biometrics", "day": day.isoformat(),
                                               "at": "09:30", "place": "ASC Miami"})
    assert SAVED in text
    (appointment,) = db.session.scalars(select(CaseDeadline))
    expected = datetime.combine(day, time(9, 30), ZoneInfo("America/New_York"))
    assert appointment.starts_at == expected.astimezone(timezone.utc)
    assert appointment.starts_at.hour == 13  # 09:30 in New York in July is 13:30 UTC
    assert appointment.due_on == day and appointment.kind is DeadlineKind.BIOMETRICS
    assert "9:30" in panel(page(client, case))
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "3:30" in panel(text)  # 15:30 in Madrid
    assert "(Madrid time)" in panel(text) and "ASC Miami" in panel(text)
    assert "Your upcoming appointments" in panel(text)
    assert "Biometrics appointment:" in text  # the timeline's line


@pytest.mark.parametrize("fields, message", [
    ({"kind": "biometrics", "day": "2001-01-01", "at": "09:00"}, "already passed"),
    ({"kind": "biometrics", "day": "", "at": "09:00"}, "Enter the date of the appointment."),
    ({"kind": "interview", "day": "2099-01-01", "at": ""}, "Enter the time of the appointment."),
    ({"kind": "rfe_response", "day": "2099-01-01", "at": "09:00"},
     "Choose a biometrics appointment or an interview."),
])
def test_a_bad_appointment_is_refused_and_nothing_saved(client, login_as, people, fields,
                                                        message):
    case = people["case"]
    login_as(people["lawyer"])
    assert message in post(client, case, "appointments", fields)
    assert count(CaseDeadline) == 0
    nothing_saved(case, case.version)


def test_an_attended_appointment_leaves_the_clients_list(client, login_as, people):
    case = people["case"]
    past = TODAY - timedelta(days=3)
    appointment = CaseDeadline(case=case, kind=DeadlineKind.INTERVIEW, due_on=past,
                               starts_at=datetime.combine(past, time(14), timezone.utc))
    upcoming = CaseDeadline(case=case, kind=DeadlineKind.BIOMETRICS, due_on=TODAY + timedelta(30),
                            starts_at=datetime.combine(TODAY + timedelta(30), time(14),
                                                       timezone.utc), place="ASC Miami")
    db.session.add_all([appointment, upcoming])
    db.session.commit()
    login_as(people["lawyer"])
    text = post(client, case, f"appointments/{appointment.uuid}/attended",
                {"on": (past - timedelta(days=1)).isoformat()})
    assert "An appointment cannot take place before its day." in text
    text = post(client, case, f"appointments/{appointment.uuid}/attended",
                {"on": past.isoformat(), "internal_note": "Went well."})
    assert fresh(case) and db.session.get(CaseDeadline, appointment.id).met_on == past
    (event,) = events(case, "uscis.appointment_attended")
    assert not event.client_visible  # the firm's record unless it writes to the client
    assert "Attended on" in panel(text)
    text = post(client, case, f"appointments/{appointment.uuid}/attended", {"on": past.isoformat()})
    assert "already marked as attended" in text
    client.submit("/logout")

    login_as(people["client"])
    shown = panel(page(client, case))
    assert "ASC Miami" in shown and "Interview" not in shown
    assert "Went well." not in page(client, case)


def test_an_appointment_of_another_case_is_not_found(client, login_as, people, make_case):
    other = make_case(attorney=people["lawyer"])
    appointment = CaseDeadline(case=other, kind=DeadlineKind.INTERVIEW, due_on=TODAY,
                               starts_at=datetime.now(timezone.utc))
    db.session.add(appointment)
    db.session.commit()
    login_as(people["lawyer"])
    response = client.submit(f"/cases/{people['case'].uuid}/uscis/appointments/"
                             f"{appointment.uuid}/attended", {"on": TODAY.isoformat()})
    assert response.status_code == 404
    assert db.session.get(CaseDeadline, appointment.id).met_on is None


# --- Requests for Evidence ---------------------------------------------------------------


def test_an_rfe_takes_the_case_onto_the_detour_and_its_answer_brings_it_back(
        client, login_as, people):
    case = people["case"]
    case.stage = "receipt_received"
    db.session.commit()
    login_as(people["lawyer"])
    received, due = TODAY - timedelta(days=2), TODAY + timedelta(days=85)
    text = post(client, case, "rfe", {"received_on": received.isoformat(),
                                      "respond_by": due.isoformat(),
                                      "client_text": "Please upload the hospital letter."})
    assert SAVED in text
    case = fresh(case)
    assert case.stage == "rfe"
    (rfe,) = db.session.scalars(select(CaseDeadline))
    assert rfe.kind is DeadlineKind.RFE_RESPONSE and rfe.due_on == due and rfe.met_on is None
    text = post(client, case, "rfe", {"received_on": received.isoformat(),
                                      "respond_by": due.isoformat()})
    assert "A Request for Evidence is still open." in text
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "Your attorney must answer by" in panel(text)
    assert "USCIS asked for more evidence" in text and "Please upload the hospital letter." in text
    client.submit("/logout")

    login_as(people["lawyer"])
    text = post(client, case, f"rfe/{rfe.uuid}/answered",
                {"sent_on": (received - timedelta(days=1)).isoformat()})
    assert "cannot be sent before the Request for Evidence was received" in text
    text = post(client, case, f"rfe/{rfe.uuid}/answered", {"sent_on": TODAY.isoformat()})
    assert SAVED in text
    case = fresh(case)
    assert case.stage == "receipt_received"
    assert db.session.get(CaseDeadline, rfe.id).met_on == TODAY
    (answered,) = events(case, "uscis.rfe_answered")
    assert answered.data["from"] == "rfe" and answered.data["to"] == "receipt_received"
    assert "Request for Evidence" not in panel(page(client, case)).split("<details")[0]


@pytest.mark.parametrize("received, due", [(0, 0), (0, -5), (None, 30), (0, None)])
def test_an_rfe_deadline_must_come_after_its_receipt(client, login_as, people, received, due):
    case = people["case"]
    login_as(people["lawyer"])
    day = lambda offset: "" if offset is None else (TODAY + timedelta(days=offset)).isoformat()
    text = post(client, case, "rfe", {"received_on": day(received), "respond_by": day(due)})
    assert SAVED not in text
    assert ("must come after" in text) or ("Enter the" in text)
    assert count(CaseDeadline) == 0
    nothing_saved(case, case.version)


# --- decision and parole ------------------------------------------------------------------


def test_an_approval_moves_the_case_to_the_approval_step(client, login_as, people):
    case = people["case"]
    case.stage = "receipt_received"
    db.session.commit()
    login_as(people["lawyer"])
    text = post(client, case, "decision", {"decision": "approved",
                                           "decided_on": TODAY.isoformat()})
    assert SAVED in text
    case = fresh(case)
    assert (case.decision, case.decided_on, case.stage) == (Decision.APPROVED, TODAY, "decision")
    client.submit("/logout")
    login_as(people["client"])
    text = page(client, case)
    assert "USCIS approved the request on" in text
    assert "The case moved to: Approved." in text
    assert "Approved on" in panel(text)


def test_a_denial_moves_the_case_to_the_denied_ending(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    post(client, case, "decision", {"decision": "denied", "decided_on": TODAY.isoformat()})
    case = fresh(case)
    assert (case.decision, case.stage, case.closed_on) == (Decision.DENIED, "denied", None)


def test_a_late_approval_does_not_send_a_paroled_case_back(client, login_as, people):
    case = people["case"]
    case.stage = "paroled"
    db.session.commit()
    login_as(people["lawyer"])
    post(client, case, "decision", {"decision": "approved", "decided_on": TODAY.isoformat()})
    case = fresh(case)
    assert case.decision is Decision.APPROVED and case.stage == "paroled"


@pytest.mark.parametrize("value", ["maybe", ""])
def test_a_decision_that_is_neither_approved_nor_denied_is_refused(client, login_as, people,
                                                                     value):
    case = people["case"]
    login_as(people["lawyer"])
    text = post(client, case, "decision", {"decision": value, "decided_on": TODAY.isoformat()})
    assert "Choose approved or denied." in text
    assert fresh(case).decision is None
    nothing_saved(case, case.version)


def test_the_parole_period_shows_the_time_left_and_the_refile_day(client, login_as, people):
    case = people["case"]
    case.stage = "travel"
    db.session.commit()
    entry, end = TODAY - timedelta(days=10), TODAY + timedelta(days=100)
    login_as(people["lawyer"])
    text = post(client, case, "parole", {"entry_on": entry.isoformat(), "ends_on": end.isoformat()})
    assert SAVED in text
    case = fresh(case)
    assert (case.parole_entry_on, case.parole_ends_on, case.stage) == (entry, end, "paroled")
    file_by = end - timedelta(days=90)
    shown = panel(page(client, case))
    assert "The parole ends in 3 months." in shown
    assert "A re-parole request should be filed by" in shown
    assert f"filed by {file_by:%B} {file_by.day}, {file_by.year}." in shown
    client.submit("/logout")

    people["client"].language = "es"
    db.session.commit()
    login_as(people["client"])
    assert "dentro de 3 meses" in panel(page(client, case))  # localised duration


@pytest.mark.parametrize("entry, end", [(0, -1), (0, 0), (-5, None), (None, 50)])
def test_a_parole_end_not_after_the_entry_is_refused_and_nothing_saved(
        client, login_as, people, entry, end):
    case = people["case"]
    login_as(people["lawyer"])
    day = lambda offset: "" if offset is None else (TODAY + timedelta(days=offset)).isoformat()
    text = post(client, case, "parole", {"entry_on": day(entry), "ends_on": day(end)})
    assert SAVED not in text
    if entry is not None and end is not None:
        assert "The parole end date must come after the date of entry." in text
    case = fresh(case)
    assert case.parole_ends_on is None and case.parole_entry_on is None and case.stage == "filed"
    nothing_saved(case, case.version)


# --- expedite requests ---------------------------------------------------------------------


def test_expedite_requests_are_the_firms_and_the_client_reads_only_that_one_was_sent(
        client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    sent = TODAY - timedelta(days=5)
    text = post(client, case, "expedite", {"requested_on": sent.isoformat(),
                                           "ground": "life_threatening_medical",
                                           "note": "Cardiologist letter attached."})
    assert SAVED in text
    (expedite,) = db.session.scalars(select(ExpediteRequest))
    assert expedite.ground is UrgencyFlag.LIFE_THREATENING_MEDICAL
    assert expedite.outcome is ExpediteOutcome.PENDING
    shown = panel(page(client, case))
    assert "Life-threatening medical" in shown and "Cardiologist letter attached." in shown

    text = post(client, case, f"expedite/{expedite.uuid}/outcome",
                {"outcome": "granted", "outcome_on": (sent - timedelta(days=1)).isoformat()})
    assert "USCIS cannot answer before the request was sent." in text
    text = post(client, case, f"expedite/{expedite.uuid}/outcome",
                {"outcome": "granted", "outcome_on": TODAY.isoformat()})
    assert SAVED in text
    expedite = db.session.get(ExpediteRequest, expedite.id)
    db.session.refresh(expedite)
    assert (expedite.outcome, expedite.outcome_on) == (ExpediteOutcome.GRANTED, TODAY)
    text = post(client, case, f"expedite/{expedite.uuid}/outcome",
                {"outcome": "denied", "outcome_on": TODAY.isoformat()})
    assert "already recorded" in text
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    assert "asked USCIS on" in text and "USCIS agreed on" in text
    assert "Cardiologist letter attached." not in text
    assert "Expedite requests" not in text and "Life-threatening medical" not in panel(text)


@pytest.mark.parametrize("fields, message", [
    ({"ground": "because", "requested_on": TODAY.isoformat()}, "Choose the ground"),
    ({"ground": "uscis_error", "requested_on": ""}, "Enter the date the expedite request"),
])
def test_a_bad_expedite_request_is_refused(client, login_as, people, fields, message):
    case = people["case"]
    login_as(people["lawyer"])
    assert message in post(client, case, "expedite", fields)
    assert count(ExpediteRequest) == 0


# --- who sees and does what ----------------------------------------------------------------


ACTIONS = [
    ("receipt", {"receipt_number": "IOE0912345678"}),
    ("status", {"status": "Case Was Received", "on": TODAY.isoformat(), "move": "y"}),
    ("appointments", {"kind": "interview", "day": "2099-01-01", "at": "10:00"}),
    ("rfe", {"received_on": TODAY.isoformat(), "respond_by": "2099-01-01"}),
    ("decision", {"decision": "approved", "decided_on": TODAY.isoformat()}),
    ("parole", {"entry_on": TODAY.isoformat(), "ends_on": "2099-01-01"}),
    ("expedite", {"ground": "uscis_error", "requested_on": TODAY.isoformat()}),
]


@pytest.mark.parametrize("who, status", [("client", 403), ("sponsor", 403), ("outsider", 404)])
@pytest.mark.parametrize("path, data", ACTIONS)
def test_only_the_attorney_team_records_uscis_news(client, login_as, make_user, people, who,
                                                   status, path, data):
    case = people["case"]
    person = make_user("attorney") if who == "outsider" else people[who]
    login_as(person)
    response = client.submit(f"/cases/{case.uuid}/uscis/{path}", {"version": case.version, **data})
    assert response.status_code == status
    assert count(CaseDeadline) == count(ExpediteRequest) == 0
    case = fresh(case)
    assert case.receipt_number is None and case.decision is None and case.stage == "filed"
    assert count(TimelineEvent, TimelineEvent.kind.like("uscis.%")) == 0


def test_a_closed_case_takes_no_uscis_news(client, login_as, people):
    case = people["case"]
    case.stage, case.closed_on = "closed", TODAY
    db.session.commit()
    login_as(people["lawyer"])
    assert "Record the receipt number" not in page(client, case)
    text = post(client, case, "receipt", {"receipt_number": "IOE0912345678"})
    assert "This case is closed." in text
    assert fresh(case).receipt_number is None


def test_the_sponsor_sees_nothing_of_the_uscis_panel(client, login_as, people):
    case = people["case"]
    case.receipt_number, case.parole_ends_on = "IOE0912345678", TODAY + timedelta(days=100)
    case.decision, case.decided_on = Decision.APPROVED, TODAY
    db.session.commit()
    login_as(people["sponsor"])
    text = page(client, case)
    assert 'class="card uscis"' not in text
    assert "IOE0912345678" not in text and "parole ends" not in text.lower()


def test_the_client_sees_facts_without_the_firms_forms(client, login_as, people):
    case = people["case"]
    db.session.add(ExpediteRequest(case=case, requested_on=TODAY, note="Our strategy",
                                   ground=UrgencyFlag.USCIS_ERROR))
    db.session.commit()
    login_as(people["client"])
    text = page(client, case)
    assert "Nothing from USCIS yet." in panel(text)
    assert "/uscis/" not in text  # no form posts anywhere USCIS
    assert "Our strategy" not in text and "Expedite" not in text
    client.submit("/logout")

    login_as(people["lawyer"])
    shown = panel(page(client, case))
    for form in ("receipt", "status", "appointments", "rfe", "decision", "parole", "expedite"):
        assert f"/uscis/{form}\"" in shown, form
    assert "Our strategy" in shown


# --- the whole way -------------------------------------------------------------------------


def test_a_parole_case_from_filing_to_paroled(client, login_as, people):
    """Receipt, a USCIS status, an RFE back and forth, approval and the
    parole period: the client's timeline tells it in order."""
    case = people["case"]
    login_as(people["lawyer"])
    day = lambda offset: (TODAY - timedelta(days=offset)).isoformat()
    post(client, case, "receipt", {"receipt_number": "IOE0912345678"})
    post(client, case, "status", {"status": "Case Was Received", "on": day(60), "move": "y"})
    post(client, case, "rfe", {"received_on": day(50), "respond_by": day(-30)})
    rfe = db.session.scalar(select(CaseDeadline))
    post(client, case, f"rfe/{rfe.uuid}/answered", {"sent_on": day(40)})
    post(client, case, "status", {"status": "Case Was Approved", "on": day(20), "move": "y"})
    assert fresh(case).stage == "decision"
    post(client, case, "decision", {"decision": "approved", "decided_on": day(20)})
    post(client, case, "parole", {"entry_on": day(5), "ends_on": day(-360)})
    case = fresh(case)
    assert case.stage == "paroled" and case.decision is Decision.APPROVED
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    timeline = text[text.index('<ol class="timeline">'):]
    lines = ["Parole period recorded", "USCIS approved the request",
             "USCIS case status on", "The answer to USCIS's Request for Evidence was sent",
             "USCIS asked for more evidence", "USCIS receipt number recorded"]
    positions = [timeline.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions)  # newest first
    assert "The parole ends in 11 months." in panel(text) or "The parole ends in 1 year." in panel(text)


@pytest.mark.parametrize("who", ["client", "sponsor"])
def test_the_services_refuse_anyone_outside_the_attorney_team(people, who):
    """The rule lives in the services too, not only in the routes."""
    from portal.errors import ServiceError
    from portal.uscis import decision, status

    case, person = people["case"], people[who]
    with pytest.raises(ServiceError):
        status.record_receipt(person, case, "IOE0912345678", case.version)
    with pytest.raises(ServiceError):
        decision.record_parole(person, case, TODAY, TODAY + timedelta(days=30), case.version)
    case = fresh(case)
    assert case.receipt_number is None and case.parole_ends_on is None
