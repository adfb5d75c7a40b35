"""Jobs of accounts: the emailed password reset link."""
from __future__ import annotations

from portal import jobs


@jobs.task()
def email_reset_link(email: str) -> None:
    """Make and queue a reset link for ``email`` if it is an active account."""
    from portal.auth import reset  # reset enqueues this job: imported when it runs

    reset.email_new_link(email)
