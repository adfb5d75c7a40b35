"""Reminders of due requests, with a moved clock: the right people, once a
day, one email for several requests, no content in the email."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from portal.extensions import db
from portal.models import DocumentRequest, RequestState, Role
from portal.requests.reminders import send_reminders

# 15 March 2026, 14:00 UTC: 10:00 in Caracas (UTC-4), the client's 15 March.
NOON = datetime(2026, 3, 15, 14, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 15)


@pytest.fixture()
def family(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es", timezone="America/Caracas")
    sponsor = make_user(Role.SPONSOR, timezone="America/New_York")
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor],
                     title="Cardiac surgery for Rosa")
    return {"attorney": attorney, "client": client, "sponsor": sponsor, "case": case}


def ask(case, person, title, due_on, state=RequestState.REQUESTED):
    request = DocumentRequest(case=case, addressee=person, title=title, instructions="",
                              due_on=due_on, required=True, state=state,
                              created_by=case.assigned_attorney)
    db.session.add(request)
    db.session.commit()
    return request


def at(days: int, hours: float = 0) -> datetime:
    return NOON + timedelta(days=days, hours=hours)


def test_one_email_a_day_for_several_due_requests(app, family, mailbox):
    case, client = family["case"], family["client"]
    ask(case, client, "Birth certificate of Rosa", TODAY + timedelta(days=1))
    ask(case, client, "Passport bio page", TODAY + timedelta(days=4))
    assert send_reminders(at(0)) == 1
    assert [m["To"] for m in mailbox.messages] == [client.email]
    # Later the same day, and a second consumer's run: nothing more.
    assert send_reminders(at(0, hours=5)) == 0
    assert send_reminders(at(0, hours=5)) == 0
    # Day by day: 3 and 1 days before each due date, the day after it, then
    # every third day; on day 5 both are late and share one email.
    assert [send_reminders(at(day)) for day in range(1, 8)] == [1, 1, 1, 0, 1, 0, 0]
    assert len(mailbox.messages) == 5

    body = mailbox.messages[-1].get_content()
    assert f"http://portal.test/cases/{case.uuid}" in body
    for secret in ("Passport", "Birth certificate", "Rosa", "Cardiac", case.reference):
        assert secret not in body
    assert "documentos" in body  # in the client's Spanish


def test_reminders_wait_for_the_persons_morning(app, family, mailbox):
    ask(family["case"], family["client"], "Passport bio page", TODAY + timedelta(days=1))
    # 12:00 UTC is 08:00 in Caracas: before the reminder hour (9).
    assert send_reminders(NOON - timedelta(hours=2)) == 0
    assert send_reminders(NOON - timedelta(hours=1)) == 1


def test_overdue_reminders_come_every_three_days(app, family, mailbox):
    ask(family["case"], family["client"], "Passport bio page", TODAY - timedelta(days=1))
    sent = [send_reminders(at(day)) for day in range(8)]
    # One, two, ... days late: reminded on day 1, 4 and 7 late.
    assert sent == [1, 0, 0, 1, 0, 0, 1, 0]


def test_each_person_gets_their_own_reminder_for_their_own_requests(app, family, mailbox):
    case = family["case"]
    ask(case, family["client"], "Passport bio page", TODAY + timedelta(days=3))
    ask(case, family["sponsor"], "I-134", TODAY + timedelta(days=3))
    assert send_reminders(at(0)) == 2
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        [family["client"].email, family["sponsor"].email])


@pytest.mark.parametrize("why", ["submitted", "accepted", "waived", "no due date", "closed case",
                                 "inactive person", "not yet"])
def test_no_reminder_when_nothing_is_owed(app, family, mailbox, why):
    case, client = family["case"], family["client"]
    due = TODAY + timedelta(days=1)
    state = {"submitted": RequestState.SUBMITTED, "accepted": RequestState.ACCEPTED,
             "waived": RequestState.WAIVED}.get(
        why, RequestState.REQUESTED)
    ask(case, client, "Passport bio page",
        None if why == "no due date" else TODAY + timedelta(days=10) if why == "not yet" else due,
        state)
    if why == "closed case":
        case.closed_on = TODAY
    if why == "inactive person":
        client.active = False
    db.session.commit()
    assert send_reminders(at(0)) == 0
    assert mailbox.messages == []


def test_a_rejected_request_is_still_owed(app, family, mailbox):
    ask(family["case"], family["client"], "Passport bio page", TODAY + timedelta(days=1),
        RequestState.REJECTED)
    assert send_reminders(at(0)) == 1


def test_a_zone_change_eastward_never_brings_two_reminders_within_24_hours(app, family,
                                                                          mailbox):
    case, client = family["case"], family["client"]
    ask(case, client, "Passport bio page", TODAY + timedelta(days=1))  # reminded on 15 March
    ask(case, client, "I-134", TODAY + timedelta(days=4))  # and on 16 March (3 days before)
    assert send_reminders(at(0)) == 1  # 10:00 on 15 March in Caracas
    client.timezone = "Asia/Tokyo"  # 13 hours ahead: 16 March begins in Tokyo at 15:00 UTC
    db.session.commit()
    # From 00:00 UTC it is past 09:00 on 16 March in Tokyo, and a reminder is due
    # that day; the hourly runs send nothing until 24 hours after the last one.
    assert [send_reminders(at(0, hours=hour)) for hour in range(1, 24)] == [0] * 23
    assert send_reminders(at(1)) == 1  # 23:00 on 16 March in Tokyo
    assert len(mailbox.messages) == 2


def test_a_zone_change_westward_does_not_give_back_a_day_already_reminded(app, family,
                                                                          mailbox):
    case, client = family["case"], family["client"]
    client.timezone = "Asia/Tokyo"
    db.session.commit()
    ask(case, client, "Passport bio page", TODAY + timedelta(days=2))  # 1 day before: 16 March
    assert send_reminders(at(1, hours=-13)) == 1  # 01:00 UTC: 10:00 on 16 March in Tokyo
    client.timezone = "America/Caracas"  # back to the evening of 15 March
    ask(case, client, "I-134", TODAY + timedelta(days=1))  # due the 16th: remind on the 15th
    # The rest of 15 March in Caracas: nothing within 24 hours; then 16 March,
    # a day already reminded (in Tokyo).
    assert [send_reminders(at(1, hours=hour)) for hour in range(-12, 23)] == [0] * 35
    assert send_reminders(at(2, hours=-1)) == 1  # 09:00 on 17 March in Caracas: one day late


def test_the_runs_few_seconds_of_jitter_do_not_push_the_next_days_reminder_back(app, family,
                                                                               mailbox):
    ask(family["case"], family["client"], "Passport bio page", TODAY + timedelta(days=1))
    ask(family["case"], family["client"], "I-134", TODAY + timedelta(days=4))
    assert send_reminders(at(0, hours=-55 / 60 + 3 / 3600)) == 1  # 13:05:03 UTC
    # The next day's run starts two seconds earlier in its hour: still sent at 09:05.
    assert send_reminders(at(1, hours=-55 / 60 + 1 / 3600)) == 1  # 13:05:01 UTC
