"""Jobs of document requests: the hourly reminder run."""
from __future__ import annotations

from huey import crontab

from portal import jobs
from portal.models.types import utcnow
from portal.requests import reminders


@jobs.periodic_task(crontab(minute="5"))
def remind() -> None:
    """Remind people of requests due soon or overdue (hourly, since each
    person's day and reminder hour come in their own time zone)."""
    reminders.send_reminders(utcnow())
