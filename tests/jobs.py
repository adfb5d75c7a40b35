"""Helpers for tests of background jobs run in the test process."""
from __future__ import annotations

from contextlib import contextmanager

from flask import Flask
from huey.storage import MemoryStorage

from portal import jobs


@contextmanager
def queued_jobs(app: Flask):
    """Within the block, ``app``'s jobs wait in a queue of their own (as with
    a real consumer) instead of running as they are enqueued."""
    previous = app.extensions["jobs"]
    app.extensions["jobs"] = jobs.Queue(MemoryStorage("test"), immediate=False)
    try:
        yield
    finally:
        app.extensions["jobs"] = previous


def pending_jobs() -> list[str]:
    """The names of the jobs waiting in the current app's queue."""
    return [task.name for task in jobs.huey.pending()]


def run_jobs() -> int:
    """Run the current app's queued jobs, and those they enqueue, until none
    is left; returns how many ran."""
    ran = 0
    while (task := jobs.huey.dequeue()) is not None:
        jobs.huey.execute(task)
        ran += 1
    return ran
