"""Re-parole reminders, sent by a periodic job.

For an open case with a parole end date, each lead time ``L`` of
``REPAROLE_REMINDER_DAYS`` (days before the end) whose day has come is
reminded exactly once: a ``ParoleReminder`` row per case, end date and lead
time, unique in the database, is written in the same transaction as the
emails, so a second run or a second consumer finds the row and sends
nothing. When several lead days have passed at once (parole recorded late,
the worker down for a while), all are recorded and one reminder goes out.
A new end date (re-parole granted) starts a new series. Nothing is sent
once the parole has ended.

The attorney team and the case's clients each get one email saying only
that an important date is coming; the sponsor is not told.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import notify
from portal.extensions import db
from portal.models import Case, ParoleReminder, User
from portal.models.case import CaseRole
from portal.requests.services import attorney_team


def due_lead_days(ends_on: date, today: date, sent: set[int]) -> list[int]:
    """The lead times whose day has come by ``today`` and were not sent yet
    for this end date (none once the parole has ended)."""
    if today > ends_on:
        return []
    return sorted(days for days in current_app.config["REPAROLE_REMINDER_DAYS"]
                  if ends_on - timedelta(days=days) <= today and days not in sent)


def recipients(case: Case) -> list[User]:
    """Who is reminded: the attorney team and the case's active clients."""
    people = {user.id: user for user in attorney_team(case)}
    for membership in case.memberships:
        if membership.role is CaseRole.CLIENT and membership.user.active:
            people.setdefault(membership.user.id, membership.user)
    return list(people.values())


def _cases_near_the_end(today: date) -> list[Case]:
    horizon = today + timedelta(days=max(current_app.config["REPAROLE_REMINDER_DAYS"]))
    return list(db.session.scalars(
        select(Case).where(Case.closed_on.is_(None), Case.parole_ends_on.is_not(None),
                           Case.parole_ends_on >= today, Case.parole_ends_on <= horizon)
        .order_by(Case.parole_ends_on, Case.id)))


def _sent(case: Case) -> set[int]:
    return set(db.session.scalars(select(ParoleReminder.days_before).where(
        ParoleReminder.case_id == case.id, ParoleReminder.parole_ends_on == case.parole_ends_on)))


def send_reparole_reminders(now: datetime) -> int:
    """Queue the re-parole reminders due at ``now`` (UTC; the day is the
    UTC day); return how many cases were reminded. Each case is committed on
    its own, so one failure does not hold back the others."""
    reminded = 0
    for case in _cases_near_the_end(now.date()):
        due = due_lead_days(case.parole_ends_on, now.date(), _sent(case))
        if not due:
            continue
        db.session.add_all(ParoleReminder(case_id=case.id, parole_ends_on=case.parole_ends_on,
                                          days_before=days) for days in due)
        try:
            db.session.flush()
        except IntegrityError:  # another run or consumer reminded this case just now
            db.session.rollback()
            continue
        url = notify.link(f"/cases/{case.uuid}")
        for person in recipients(case):
            notify.queue_reparole_reminder(person.email, person.language, url)
        db.session.commit()
        reminded += 1
    return reminded
