"""The portal's own log lines: each tagged with the id of the request it
belongs to, and in production one JSON object a line (python-json-logger),
for a log collector to index.

The request id comes from the load balancer's ``X-Request-ID`` when it is a
plain token, else is made here; it goes back in the response's header and
into gunicorn's access log line (``gunicorn.conf.py``), so one request's
lines can be found together. What the portal logs are ids, states and
errors: never a secret, a file name, a message's text or a token (the
access log's secret links are redacted by ``portal.accesslog``).
"""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
# A proxy's id is kept only when it is a plain token (no spaces, quotes or
# newlines that could forge log lines).
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")
FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
HANDLER_NAME = "portal-json"


def request_id() -> str:
    """The current request's id ("-" outside a request)."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        offered = request.headers.get(HEADER, "")
        g.request_id = offered if WELL_FORMED.fullmatch(offered) else uuid.uuid4().hex
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record its handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


def init_app(app: Flask) -> None:
    """Tag responses with their request id and, for ``LOG_FORMAT`` "json",
    write the root logger's records as JSON lines on stderr."""
    @app.after_request
    def tag(response):
        response.headers[HEADER] = request_id()
        return response

    if app.config.get("LOG_FORMAT") != "json":
        return
    root = logging.getLogger()
    for earlier in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(earlier)  # one per process, however many apps were built
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter(FIELDS, rename_fields={
        "asctime": "time", "levelname": "level", "name": "logger"}))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
