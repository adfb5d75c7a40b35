"""Jobs of the audit trail: the chain's head, logged once a day.

The log leaves the database (shipped, rotated, backed up), so a later
rewrite of the whole chain, which ``flask audit verify`` alone cannot see,
shows as a head that no longer matches the one logged that day.
"""
from __future__ import annotations

from flask import current_app
from huey import crontab

from portal import audit, jobs


@jobs.periodic_task(crontab(minute="15", hour="3"))
def log_chain_head() -> None:
    """Log ``audit chain head: <count> rows, <hash>`` to the app's logger."""
    count, digest = audit.head()
    current_app.logger.info("audit chain head: %d rows, %s", count, digest)
