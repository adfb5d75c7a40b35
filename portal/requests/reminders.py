"""Reminders of due document requests, sent by a periodic job.

A person with open requests due in ``REMINDER_DAYS_BEFORE`` days, or
overdue (the day after the due date, then every
``REMINDER_OVERDUE_EVERY_DAYS``), gets one email that day however many
requests are due, once their local clock has reached
``REMINDER_LOCAL_HOUR`` (nobody is woken at midnight). A ``RequestReminder``
row per person and local day makes a second run, or a second consumer,
send nothing more.

A new time zone can start a person's next day hours after their last
reminder (moving east), or give them back a day already had (moving west):
so a reminder also waits until 24 hours have passed since the last one,
whichever zone it went out in, even if that puts it later in their day.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import notify
from portal.extensions import db
from portal.models import Case, DocumentRequest, RequestReminder, User
from portal.models.request import OWED_STATES
from portal.i18n import local_now


def reminder_due(due_on: date, today: date) -> bool:
    """Whether a request due on ``due_on`` calls for a reminder ``today``."""
    days_left = (due_on - today).days
    if days_left >= 0:
        return days_left in current_app.config["REMINDER_DAYS_BEFORE"]
    return (-days_left - 1) % current_app.config["REMINDER_OVERDUE_EVERY_DAYS"] == 0


def _reminded_within_a_day(person: User, now: datetime, today: date) -> bool:
    """Whether ``person`` got a reminder less than 24 hours before ``now``.

    Hours are counted whole: the hourly run starts a few seconds earlier or
    later each time, and yesterday's 13:05:03 must not hold back today's
    13:05:01 by an hour. The ``sent_on`` bound keeps the look-up within the
    unique index (a reminder of the last 24 hours, in any zone, fell on one
    of the last three local days)."""
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return db.session.scalar(
        select(RequestReminder.id)
        .where(RequestReminder.user_id == person.id,
               RequestReminder.sent_on >= today - timedelta(days=3),
               RequestReminder.created_at >= since)
        .limit(1)) is not None


def _due_by_person(now: datetime) -> dict[User, list[DocumentRequest]]:
    """Requests of open cases still waiting for the addressee's upload
    (not those whose file waits for review) with a near or past due date."""
    # A bound in UTC days, widened by one for time zones ahead of UTC.
    horizon = now.date() + timedelta(days=max(current_app.config["REMINDER_DAYS_BEFORE"]) + 1)
    rows = db.session.scalars(
        select(DocumentRequest).join(Case, Case.id == DocumentRequest.case_id)
        .join(User, User.id == DocumentRequest.addressee_id)
        .where(DocumentRequest.state.in_(OWED_STATES), DocumentRequest.due_on <= horizon,
               Case.closed_on.is_(None), User.active.is_(True)))
    people = defaultdict(list)
    for document_request in rows:
        people[document_request.addressee].append(document_request)
    return people


def send_reminders(now: datetime) -> int:
    """Queue today's reminder for everyone who is owed one at ``now`` (UTC);
    return how many were queued. Each person's email is committed on its
    own, so one failure does not hold back the others."""
    queued = 0
    for person, requests in _due_by_person(now).items():
        local = local_now(person, now)
        if local.hour < current_app.config["REMINDER_LOCAL_HOUR"]:
            continue
        due = [r for r in requests if reminder_due(r.due_on, local.date())]
        if not due or _reminded_within_a_day(person, now, local.date()):
            continue
        db.session.add(RequestReminder(user_id=person.id, sent_on=local.date(), created_at=now))
        try:
            db.session.flush()
        except IntegrityError:  # already reminded today, by an earlier run or another consumer
            db.session.rollback()
            continue
        cases = {r.case.uuid for r in due}
        path = f"/cases/{cases.pop()}" if len(cases) == 1 else "/"
        notify.queue_request_reminder(person.email, person.language, notify.link(path))
        db.session.commit()
        queued += 1
    return queued
