"""Jobs of USCIS tracking: the hourly re-parole reminder run."""
from __future__ import annotations

from huey import crontab

from portal import jobs
from portal.models.types import utcnow
from portal.uscis import reminders


@jobs.periodic_task(crontab(minute="10"))
def remind_reparole() -> None:
    """Remind the attorney team and the client of a parole period's end
    (hourly, like the request reminders, so a day's reminder goes out soon
    after the day begins and again after a consumer was down)."""
    reminders.send_reparole_reminders(utcnow())
