"""Jobs of the mail outbox: deliver one message; sweep every minute; forget
the recipients of old sent messages every hour."""
from __future__ import annotations

import uuid

from huey import crontab

from portal import jobs
from portal.outbox import services


@jobs.task()
def deliver(message_uuid: str) -> None:
    """Send one outbox message (nothing if another job did or does)."""
    services.deliver(uuid.UUID(message_uuid))


@jobs.periodic_task(crontab(minute="*"))
def sweep() -> None:
    """Re-enqueue messages still undelivered whose time has come (a crash
    between commit and enqueue, a retry after a failure) and mark crashed
    sends 'unknown'."""
    services.sweep()


@jobs.periodic_task(crontab(minute="20"))
def purge_sent() -> None:
    """Blank the recipient (and last error) of messages sent more than
    ``OUTBOX_KEEP_SENT_DAYS`` ago, a bounded batch a run (hourly, so a
    backlog, e.g. after the first deploy, is worked off within hours)."""
    services.purge_sent()
