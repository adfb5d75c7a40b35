"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Flags on the command line override these (``--bind``, ``--workers``);
the portal's own settings stay in the PORTAL_* environment variables.
"""

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
