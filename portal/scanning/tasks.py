"""Jobs of malware scanning: a version's scan, and the sweep."""
from __future__ import annotations

from huey import crontab

from portal import jobs


@jobs.task(retries=5, retry_delay=60)
def scan(version_id: int) -> None:
    """Scan one version (retried while the store is down)."""
    from portal.scanning import services  # services enqueues this job
    services.scan(version_id)


@jobs.periodic_task(crontab(minute="*/5"))
def sweep_scans() -> None:
    """Scan again versions whose job was lost or whose scanner failed, and
    make the previews whose job was lost."""
    from portal.previews import services as previews
    from portal.scanning import services
    services.sweep()
    previews.sweep()
