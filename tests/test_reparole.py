"""Re-parole reminders with a moved clock: 120, 90 and 60 days before the
parole end, each sent once to the attorney team and the client, never twice,
not by two consumers at once, and a new series after a re-parole."""
from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import jobs
from portal.extensions import db
from portal.models import Case, CaseMembership, OutboxMessage, ParoleReminder
from portal.models.case import CaseRole
from portal.uscis import tasks
from portal.uscis.reminders import due_lead_days, send_reparole_reminders

END = date(2027, 6, 30)


def at(day: date, hour: int = 6) -> datetime:
    return datetime.combine(day, time(hour), timezone.utc)


def before_end(days: int, end: date = END) -> datetime:
    return at(end - timedelta(days=days))


@pytest.fixture()
def paroled(make_user, make_case):
    lawyer = make_user("attorney")
    paralegal = make_user("staff")
    client_user = make_user("client", language="es")
    sponsor = make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor], stage="paroled",
                     title="Cardiac surgery for Rosa", parole_entry_on=date(2026, 7, 1),
                     parole_ends_on=END)
    case.memberships.append(CaseMembership(user=paralegal, role=CaseRole.STAFF))
    db.session.commit()
    return dict(lawyer=lawyer, paralegal=paralegal, client=client_user, sponsor=sponsor,
                case=case)


def reminders_sent() -> list[int]:
    return sorted(db.session.scalars(select(ParoleReminder.days_before)))


def outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_each_lead_time_is_reminded_once_and_nothing_in_between(app, paroled, mailbox):
    sent_on = []
    day = END - timedelta(days=130)
    while day <= END + timedelta(days=2):
        for hour in (0, 6, 23):  # the hourly job, several times a day
            if send_reparole_reminders(at(day, hour)):
                sent_on.append((END - day).days)
        day += timedelta(days=1)
    assert sent_on == [120, 90, 60]
    assert reminders_sent() == [60, 90, 120]
    # Each time: the attorney, the staff member on the case and the client; never the sponsor.
    team = {paroled["lawyer"].email, paroled["paralegal"].email, paroled["client"].email}
    assert len(mailbox.messages) == 9
    assert {m["To"] for m in mailbox.messages} == team
    case = paroled["case"]
    for message in mailbox.messages:
        body = message.get_content()
        assert f"http://portal.test/cases/{case.uuid}" in body
        for secret in ("Rosa", "Cardiac", case.reference, "2027", "parole"):
            assert secret not in body


def test_which_lead_days_are_due(app):
    assert due_lead_days(END, END - timedelta(days=121), set()) == []
    assert due_lead_days(END, END - timedelta(days=120), set()) == [120]
    assert due_lead_days(END, END - timedelta(days=61), {120}) == [90]
    assert due_lead_days(END, END, {120}) == [60, 90]
    assert due_lead_days(END, END + timedelta(days=1), set()) == []  # the parole has ended


def test_a_second_run_sends_nothing_more(app, paroled, mailbox):
    assert send_reparole_reminders(before_end(90)) == 1
    assert send_reparole_reminders(before_end(90)) == 0
    assert send_reparole_reminders(before_end(89)) == 0
    assert reminders_sent() == [90, 120]


def test_lead_days_passed_at_once_are_recorded_together_and_sent_once(app, paroled, mailbox):
    # Parole recorded late: the 120- and 90-day reminders are both due.
    assert send_reparole_reminders(before_end(75)) == 1
    assert reminders_sent() == [90, 120]
    assert outbox_count() == 3  # one email per person, not one per lead time
    assert send_reparole_reminders(before_end(60)) == 1
    assert reminders_sent() == [60, 90, 120]


def test_a_new_end_date_starts_a_new_series(app, paroled, mailbox):
    for days in (120, 90, 60):
        assert send_reparole_reminders(before_end(days)) == 1
    case = paroled["case"]
    new_end = END + timedelta(days=365)
    case.parole_ends_on = new_end
    db.session.commit()
    assert send_reparole_reminders(before_end(121, new_end)) == 0
    assert send_reparole_reminders(before_end(120, new_end)) == 1
    assert sorted(db.session.scalars(select(ParoleReminder.days_before).where(
        ParoleReminder.parole_ends_on == new_end))) == [120]


@pytest.mark.parametrize("why", ["closed case", "no end date", "ended", "inactive client"])
def test_no_reminder_when_there_is_nothing_to_remind(app, paroled, mailbox, why):
    case = paroled["case"]
    now = before_end(90)
    if why == "closed case":
        case.closed_on = date(2027, 1, 1)
    elif why == "no end date":
        case.parole_ends_on = None
    elif why == "ended":
        now = at(END + timedelta(days=1))
    elif why == "inactive client":
        paroled["client"].active = False
    db.session.commit()
    reminded = send_reparole_reminders(now)
    if why == "inactive client":
        assert reminded == 1 and paroled["client"].email not in {m["To"] for m in mailbox.messages}
        assert outbox_count() == 2
    else:
        assert reminded == 0 and outbox_count() == 0 and reminders_sent() == []


def test_two_consumers_running_at_once_send_once(app, paroled, mailbox, make_case):
    # Several cases, so the two runs overlap on more than one row.
    others = [make_case(attorney=paroled["lawyer"], stage="paroled", parole_ends_on=END)
              for _ in range(3)]
    real_app: Flask = app
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            with real_app.app_context():
                barrier.wait(10)
                results.append(send_reparole_reminders(before_end(90)))
                db.session.remove()
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(results) == 1 + len(others)  # each case reminded by one run only
    rows = db.session.scalars(select(ParoleReminder.case_id, ParoleReminder.days_before)
                              .order_by(ParoleReminder.case_id)).all()
    assert len(rows) == 2 * (1 + len(others))  # 120 and 90, once per case
    # The first case: three people; the others: their attorney once each.
    assert outbox_count() == 3 + len(others)


def test_the_hourly_job_is_registered_and_runs_the_reminders(app, paroled, mailbox):
    assert "portal.uscis.tasks" in jobs.TASK_MODULES
    # The consumer runs it at ten past every hour.
    for hour in (0, 9, 23):
        due = {task.name for task in jobs.huey.read_periodic(datetime(2027, 1, 4, hour, 10))}
        assert "remind_reparole" in due
    assert "remind_reparole" not in {
        task.name for task in jobs.huey.read_periodic(datetime(2027, 1, 4, 9, 11))}
    case = db.session.get(Case, paroled["case"].id)
    # The job reads the real clock: an end date 100 days from today is in the 120-day window.
    case.parole_ends_on = datetime.now(timezone.utc).date() + timedelta(days=100)
    db.session.commit()
    tasks.remind_reparole()  # enqueued, and run at once in the tests' immediate mode
    assert reminders_sent() == [120]
    assert len(mailbox.messages) == 3
