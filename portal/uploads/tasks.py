"""Jobs of resumable uploads: putting a finished one together, and the sweep."""
from __future__ import annotations

from huey import crontab

from portal import jobs


@jobs.task(retries=3, retry_delay=60)
def assemble(upload_id: int) -> None:
    """Put the finished upload ``upload_id`` together and record it (retried
    while the store is down; the sweep asks again after that)."""
    from portal.uploads import services  # services enqueues this job
    services.assemble(upload_id)


@jobs.periodic_task(crontab(minute="*/10"))
def sweep_uploads() -> None:
    """End expired unfinished uploads and retry finished ones left waiting."""
    from portal.uploads import services
    services.sweep()
