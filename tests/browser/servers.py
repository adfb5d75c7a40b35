"""The production stack a browser signs in to: a fresh PostgreSQL database,
gunicorn with production settings, and nginx terminating TLS with a
certificate made for the run. Every server is a child process of the test
run that dies with it; callers stop each one in a ``finally``."""
from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import http.client
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# The portal's host name in the browser tests. Passkeys need one: WebAuthn
# refuses an IP address as the relying party id. Chromium is told it is
# 127.0.0.1 (--host-resolver-rules), and so is Python (``get``).
HOST = "portal.test"
ADDRESS = "127.0.0.1"

# The server block of docs/deploy.md, with the test's addresses and paths put
# in. Keep the two in step.
NGINX_SITE = """
# Browsers send the port in Host only when it is not 443; the app must see the
# same host and port as the browser, or Flask-WTF's HTTPS Referer check fails.
map $server_port $portal_host {{
    443     $host;
    default $host:$server_port;
}}

server {{
    listen {listen} ssl http2;
    server_name {server_name};

    ssl_certificate     {certificate};
    ssl_certificate_key {certificate_key};
    ssl_protocols       TLSv1.2 TLSv1.3;

    # Uploads stream through to the app, which enforces its own limits.
    client_max_body_size     0;
    proxy_request_buffering  off;
    proxy_buffering          off;
    proxy_http_version       1.1;
    proxy_read_timeout       300s;
    proxy_send_timeout       300s;

    # Set, never appended: the app believes exactly one hop from this proxy.
    proxy_set_header Host              $portal_host;
    proxy_set_header X-Forwarded-For   $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host  $portal_host;
    proxy_set_header Connection        "";
{test_lines}
    location / {{
        proxy_pass http://{upstream};
    }}

    # Invitation, reset and calendar feed links carry their secret in the path.
    location ~ ^/(invitation|reset|calendar)/ {{
        access_log off;
        proxy_pass http://{upstream};
    }}
}}
"""

# Only for the test: nginx runs in the foreground with every file it writes
# under one temporary folder. Started as root, its workers run as 'nobody',
# as they would in production; with request and response buffering off they
# need no temporary files, which 'nobody' could not write there.
NGINX_MAIN = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {root}/nginx-access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    {site}
}}
"""


@dataclass
class Portal:
    """A running production portal and the people and case it holds."""

    base_url: str
    database_url: str
    client_email: str
    client_password: str
    case_uuid: str
    case_title: str
    logs: list[Path]
    # The same app in-process, for a test that acts as the firm through services.
    app: Any = None

    def audit_rows(self, *actions: str) -> list[tuple[str, str | None]]:
        """(action, ip_address) of the audit trail's rows for ``actions``."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(
                    text("SELECT action, ip_address FROM audit_events "
                         "WHERE action = ANY(:actions) ORDER BY id"),
                    {"actions": list(actions)})]
        finally:
            engine.dispose()

    def logs_containing(self, needle: str) -> list[str]:
        """Names of the servers' logs in which ``needle`` appears."""
        return [log.name for log in self.logs
                if log.exists() and needle in log.read_text(errors="replace")]

    def server_logs(self) -> str:
        """The servers' recent output, for a failure message."""
        return "\n".join(tail(log) for log in self.logs)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server at ``server_url``,
    dropped on exit. Its own, not the suite's shared one: the migration runs
    on an empty schema, and nothing the browser stores meets another test."""
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"portal_browser_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_certificate(directory: Path, host: str = HOST) -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (and 127.0.0.1), valid one
    day: (cert, key). Chromium trusts it by its public key (``spki_sha256``)."""
    certificate, key = directory / "portal.crt", directory / "portal.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={host}",
         "-addext", f"subjectAltName=DNS:{host},IP:{ADDRESS}",
         "-addext", "extendedKeyUsage=serverAuth",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True)
    return certificate, key


def spki_sha256(certificate: Path) -> str:
    """The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as
    chromium's --ignore-certificate-errors-spki-list takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public_key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def nginx_config(root: Path, *, port: int, upstream: str, certificate: Path, key: Path) -> Path:
    """Write nginx's configuration under ``root`` and return its path."""
    site = NGINX_SITE.format(
        listen=f"{ADDRESS}:{port}", server_name=HOST, certificate=certificate,
        certificate_key=key, upstream=upstream,
        # The test's only addition: nginx reaches the app from another loopback
        # address than the browser's, so a proxy believed or not shows in the audit.
        test_lines="    proxy_bind 127.0.0.2;\n")
    path = root / "nginx.conf"
    path.write_text(NGINX_MAIN.format(root=root, site=site))
    return path


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test run dies (Linux PR_SET_PDEATHSIG),
    so no server outlives a killed run."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def start(args: list[str], log: Path, *, env: dict | None = None) -> subprocess.Popen:
    """Start a server in its own process group, output to ``log``; it gets
    SIGKILL if this test run dies without stopping it."""
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                start_new_session=True, preexec_fn=_die_with_parent)


def run(args: list[str], *, env: dict) -> subprocess.CompletedProcess:
    """Run a command of the app (``flask ...``) to its end, output captured."""
    return subprocess.run(args, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask ``process`` and its children to stop; kill them if they have not
    within ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, for a failure message."""
    if not path.exists():
        return f"({path.name}: nothing written)"
    return f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace")
                                                .splitlines()[-lines:])


class _Connection(http.client.HTTPSConnection):
    """HTTPS to ``ADDRESS`` for a URL's host name, as chromium's
    --host-resolver-rules has it: the certificate is checked for the name."""

    def connect(self) -> None:
        raw = socket.create_connection((ADDRESS, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def get(url: str, certificate: Path, timeout: float = 5) -> tuple[int, bytes]:
    """GET ``url`` (on ``HOST``) over TLS, verified against ``certificate``:
    (status, body)."""
    parts = urlsplit(url)
    connection = _Connection(parts.hostname, parts.port or 443, timeout=timeout,
                             context=ssl.create_default_context(cafile=str(certificate)))
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_ready(url: str, certificate: Path, processes: dict[str, subprocess.Popen],
                     logs: list[Path], timeout: float = 45) -> None:
    """Poll ``url`` over TLS, verified against ``certificate``, until it
    answers 200. Raises ``RuntimeError`` with the servers' logs if a server
    exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n"
                                   + "\n".join(tail(log) for log in logs))
        try:
            status, body = get(url, certificate)
            if status == 200:
                return
            last = f"{status} {body[:200]!r}"
        except (OSError, http.client.HTTPException) as error:  # ssl.SSLError is an OSError
            last = str(error)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready after {timeout} s: {last}\n"
                               + "\n".join(tail(log) for log in logs))
        time.sleep(0.2)
