"""The access logs, written by a real gunicorn and by the real development
server of ``make run``, never hold an invitation, reset or calendar token."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from portal.accesslog import redact
from portal.dev.embedded_s3 import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "Zk9sV3JtX2secret-token-Q1w2e3"


def test_redact_replaces_only_the_token():
    line = f'GET /invitation/{TOKEN}?x=1 HTTP/1.1 "https://p.example/reset/{TOKEN}"'
    assert redact(line) == 'GET /invitation/[redacted]?x=1 HTTP/1.1 "https://p.example/reset/[redacted]"'
    assert redact("GET /cases/1/documents HTTP/1.1") == "GET /cases/1/documents HTTP/1.1"


@pytest.fixture()
def gunicorn_log(tmp_path):
    """Serve a tiny WSGI app under gunicorn with the portal's gunicorn.conf.py;
    yields (port, path of its access log)."""
    (tmp_path / "tinyapp.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n")
    port, log = free_port(), tmp_path / "access.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log),
         "--chdir", str(tmp_path), "--pythonpath", str(ROOT), "tinyapp:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield port, log
    finally:
        process.terminate()
        process.wait(10)


def test_gunicorn_access_log_never_holds_a_token(gunicorn_log):
    port, log = gunicorn_log
    for path in (f"/invitation/{TOKEN}", f"/reset/{TOKEN}"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
    urllib.request.urlopen(f"http://127.0.0.1:{port}/cases", timeout=5).read()
    for _ in range(50):  # gunicorn writes the line just after answering
        if log.read_text().count("\n") >= 4:
            break
        time.sleep(0.1)
    text = log.read_text()
    assert "/invitation/[redacted]" in text and "/reset/[redacted]" in text
    assert '"method": "GET", "path": "/cases"' in text  # one JSON object a line
    assert TOKEN not in text


@pytest.fixture()
def dev_server_log(tmp_path):
    """Serve a tiny Flask app with the development server of ``make run``
    (``portal.dev.server.serve``) in a process of its own; yields (port,
    path of the file its log goes to)."""
    port, log = free_port(), tmp_path / "dev-server.log"
    script = ("import sys\n"
              "from flask import Flask\n"
              "from portal.dev.server import serve\n"
              "app = Flask('tiny')\n"
              "app.add_url_rule('/<path:anything>', 'any', lambda anything: 'ok')\n"
              "serve(app, int(sys.argv[1]))\n")
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-c", script, str(port)], cwd=ROOT,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield port, log
    finally:
        process.terminate()
        process.wait(10)


def test_the_dev_server_log_never_holds_a_token(dev_server_log):
    port, log = dev_server_log
    paths = (f"/invitation/{TOKEN}", f"/reset/{TOKEN}?next=/", f"/calendar/{TOKEN}.ics")
    for path in (*paths, "/cases"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
    for _ in range(50):  # the line is written just after the answer
        if "GET /cases" in log.read_text():
            break
        time.sleep(0.1)
    text = log.read_text()
    assert "GET /invitation/[redacted] HTTP/1.1" in text
    assert "GET /reset/[redacted]?next=/ HTTP/1.1" in text
    assert "GET /calendar/[redacted] HTTP/1.1" in text
    assert "GET /cases" in text
    assert TOKEN not in text
