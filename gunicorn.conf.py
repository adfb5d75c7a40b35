"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Flags on the command line override these (``--bind``, ``--workers``);
the portal's own settings stay in the PORTAL_* environment variables.
"""
import os
from pathlib import Path

# gthread: a long upload from a slow line holds one thread, not the worker,
# and the worker keeps answering the heartbeat (see README, "Running in production").
worker_class = "gthread"
workers = 2
threads = 8
timeout = 30
bind = "127.0.0.1:8000"

# Access log on stdout, with invitation, reset and calendar feed tokens redacted:
# a JSON object a line, with the request id the portal's own lines carry (the
# path without its query string, which may hold a search for a name).
accesslog = "-"
logger_class = "portal.accesslog.RedactingLogger"
access_log_format = (
    '{"time": "%(t)s", "request_id": "%({x-request-id}o)s", "remote": "%(h)s", '
    '"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", '
    '"duration_ms": %(M)s}')


# Prometheus multiprocess mode (portal.metrics), on when the start-up script sets
# PROMETHEUS_MULTIPROC_DIR for gunicorn (set there, not here: the workers must inherit
# it): every worker writes its counters into that directory, and any worker's
# /metrics adds them up. The directory must start empty, and a dead worker's live
# files go (prometheus_client's multiprocess documentation).


def on_starting(server):
    """In the master, before any worker: empty the metrics directory."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink()


def child_exit(server, worker):
    """A worker has exited: drop its live files from the metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
