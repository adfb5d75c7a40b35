"""Jobs of storage hygiene: abort unfinished multipart uploads every hour,
and report to the admins every week where bucket and database disagree."""
from __future__ import annotations

from huey import crontab

from portal import jobs


@jobs.periodic_task(crontab(minute="25"))
def abort_stale_uploads() -> None:
    """Abort multipart uploads left unfinished for more than a day: the store
    keeps their parts (and bills for them) until they are aborted, and an
    upload whose request died never is."""
    from portal.evidence import reconcile
    reconcile.abort_stale_uploads()


@jobs.periodic_task(crontab(minute="40", hour="4", day_of_week="1"))
def report_storage_to_admins() -> None:
    """Email the admins what reconcile finds, if anything (Mondays at 04:40
    UTC). It only reports: deleting objects or marking files missing is left
    to a person running ``flask reconcile-storage --repair``."""
    from portal.evidence import reconcile
    reconcile.report_to_admins()
