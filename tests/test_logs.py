"""Log lines a collector can use: every response names its request id, the
portal's own lines carry it (JSON in production), gunicorn's access line too."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest

from portal import create_app, logs
from tests.jobs import consumer_queue, start_consumer, stop, wait_until  # noqa: F401 (fixture)


@pytest.fixture()
def json_app(base_config, tmp_path):
    """An app whose database is missing (so signing in logs an error), with JSON logs."""
    app = create_app("testing", {**base_config, "LOG_FORMAT": "json", "WTF_CSRF_ENABLED": False,
                                 "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/no/db.sqlite"})
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == logs.HANDLER_NAME)
    handler.setStream(stream := io.StringIO())
    yield app, stream
    logging.getLogger().removeHandler(handler)


def test_each_response_names_its_request_and_keeps_a_plain_token_from_the_proxy(client):
    made = client.get("/livez").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/livez").headers["X-Request-ID"] != made
    kept = client.get("/livez", headers={"X-Request-ID": "lb-7f3a9c21"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c21"
    # Anything that could forge a log line is replaced.
    forged = client.get("/livez", headers={"X-Request-ID": 'x" "level": "INFO'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])


def test_the_portals_lines_are_json_with_the_request_id(json_app):
    app, stream = json_app
    response = app.test_client().post("/login", data={"email": "a@b.org", "password": "x"},
                                      headers={"X-Request-ID": "lb-0001-req"})
    assert response.status_code == 503
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all(line["request_id"] == "lb-0001-req" for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert "a@b.org" not in stream.getvalue()


def test_gunicorns_access_line_is_json_with_the_request_id():
    """The access log format of gunicorn.conf.py, filled as gunicorn fills it."""
    config = {}
    exec(open("gunicorn.conf.py").read(), config)  # noqa: S102 (our own settings file)
    atoms = {"t": "[06/Dec/2026:03:10:00 +0000]", "{x-request-id}o": "lb-0001-req",
             "h": "10.0.0.1", "m": "GET", "U": "/cases", "s": "200", "B": "-", "M": "12"}
    line = json.loads(config["access_log_format"] % atoms)
    assert line["request_id"] == "lb-0001-req" and line["status"] == 200


def test_a_consumers_lines_are_json_once_each(app, consumer_queue, smtp_server, tmp_path,  # noqa: F811
                                              monkeypatch):
    """huey_consumer gives the ``huey`` logger a text handler of its own; with
    JSON logs every line would come twice, once not JSON."""
    monkeypatch.setenv("PORTAL_LOG_FORMAT", "json")
    log = tmp_path / "consumer.log"
    consumer = start_consumer(app, consumer_queue, smtp_server.port, log)
    try:
        # Its start-up lines end with this one (a stop before it is not graceful).
        wait_until(lambda: "Periodic tasks are" in log.read_text(errors="replace"),
                   "the consumer's start-up lines")
    finally:
        stop(consumer)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # each line is JSON
    started = [r for r in records if "consumer started" in r["message"]]
    assert len(started) == 1 and started[0]["logger"].startswith("huey")
