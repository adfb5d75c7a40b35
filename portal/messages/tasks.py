"""Jobs of messaging: laying out a thread export, and the hourly purge."""
from __future__ import annotations

from huey import crontab

from portal import jobs


@jobs.task(retries=2, retry_delay=60)
def prepare_export(export_uuid: str) -> None:
    """Lay out and store one thread export (retried while the store is down)."""
    from portal.messages import export_files  # export_files enqueues this job
    export_files.prepare(export_uuid)


@jobs.periodic_task(crontab(minute="40"))
def purge_exports() -> None:
    """Delete expired exports' files; enqueue again those whose job was lost."""
    from portal.messages import export_files
    export_files.purge()
