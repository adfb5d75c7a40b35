"""Jobs of previews: rendering a cleared version's pages in the sandbox."""
from __future__ import annotations

from portal import jobs


@jobs.task(retries=3, retry_delay=60)
def make_previews(version_id: int) -> None:
    """Make one version's previews (retried while the store is down)."""
    from portal.previews import services  # scanning enqueues this job
    services.make_previews(version_id)
