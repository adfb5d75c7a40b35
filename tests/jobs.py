"""Helpers for tests of background jobs, run in the test process or by a real
``huey_consumer`` process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from huey.storage import MemoryStorage, SqliteStorage

from portal import jobs

ROOT = Path(__file__).resolve().parent.parent


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


# --- a real consumer process ---------------------------------------------------------

@pytest.fixture()
def consumer_queue(app, tmp_path):
    """The app's jobs go to a SQLite queue file a consumer process reads."""
    path = tmp_path / "jobs.sqlite"
    previous = app.extensions["jobs"]
    app.extensions["jobs"] = jobs.Queue(SqliteStorage(app.config["JOBS_QUEUE_NAME"],
                                                      filename=str(path)), immediate=False)
    yield path
    app.extensions["jobs"] = previous


def start_consumer(app, queue: Path, mail_port: int, log: Path) -> subprocess.Popen:
    """``huey_consumer portal.worker.huey`` in a process of its own, on ``queue``."""
    config = app.config
    env = {**os.environ, "PORTAL_ENV": "testing", "PORTAL_JOBS_IMMEDIATE": "0",
           "PORTAL_JOBS_SQLITE_PATH": str(queue),
           "PORTAL_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "PORTAL_MASTER_KEY": config["MASTER_KEY"], "PORTAL_BASE_URL": config["BASE_URL"],
           "PORTAL_MAIL_SERVER": "127.0.0.1", "PORTAL_MAIL_PORT": str(mail_port),
           "PYTHONPATH": str(ROOT)}
    consumer = Path(sys.executable).parent / "huey_consumer"
    return subprocess.Popen([str(consumer), "portal.worker.huey", "-w", "1", "-k", "thread"],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_until(condition, what: str, timeout: float = 60) -> None:
    """Wait for something another process does (a bound, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)  # huey's graceful stop: finish the job at hand
    process.wait(30)
