"""Real-browser tests: Debian's chromium driven by Playwright against the
portal as production runs it (gunicorn behind nginx over TLS, PostgreSQL,
S3, SMTP).

Where chromium, nginx, openssl or PostgreSQL is missing (a developer's
``make test``), the tests are skipped and the run says so plainly at its end;
with ``PORTAL_TEST_BROWSER_REQUIRED=1`` (``.ci/run``) they fail instead.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
from collections.abc import Iterator

import pytest
import redis

from portal import create_app
from portal.dev.clamd import EmbeddedClamd, clamd_installed
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from tests.browser import production, servers

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps calling home, which
# on a closed network means a flood of failing connections. The portal's host
# name is 127.0.0.1 for chromium alone (no /etc/hosts entry needed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--host-resolver-rules=MAP {servers.HOST} {servers.ADDRESS}"]
INSTALL_HINT = "`make browser-deps` as root installs them, as .ci/run does"
PASSWORD = "juniper-harbor-lantern-meadow-42"

# Why the browser tests did not run, for the end of the run's report.
NOT_RUN: list[str] = []


def _nginx() -> str | None:
    """nginx's path (``PORTAL_TEST_NGINX``, else found on PATH or in /usr/sbin)."""
    path = (os.environ.get("PORTAL_TEST_NGINX") or shutil.which("nginx")
            or "/usr/sbin/nginx")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the browser tests, one phrase each."""
    programs = [name for name, found in (
        (CHROMIUM, os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)),
        ("nginx", _nginx()), ("openssl", shutil.which("openssl")),
        ("clamd", clamd_installed())) if not found]
    missing = [f"{', '.join(programs)} not found ({INSTALL_HINT})"] if programs else []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is not installed (make setup)")
    if not os.environ.get("PORTAL_TEST_DATABASE_URL"):
        missing.append("PORTAL_TEST_DATABASE_URL is not set (browser tests need PostgreSQL)")
    redis_url = production.redis_url()
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        missing.append(f"no Redis answers at {redis_url} (production needs one; "
                       "PORTAL_TEST_REDIS_URL names another)")
    return missing


@pytest.fixture(scope="session", autouse=True)
def browser_prerequisites() -> None:
    """Skip every browser test, with the reason, where the machine cannot run
    them; fail instead where they are required (CI)."""
    missing = missing_prerequisites()
    if not missing:
        return
    reason = "; ".join(missing)
    if os.environ.get("PORTAL_TEST_BROWSER_REQUIRED") == "1":
        pytest.fail(f"browser tests are required here but cannot run: {reason}", pytrace=False)
    NOT_RUN.append(reason)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say plainly, at the end of the run, that the browser tests were skipped."""
    for reason in dict.fromkeys(NOT_RUN):
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", yellow=True, bold=True)
        terminalreporter.write_line(f"BROWSER TESTS DID NOT RUN: {reason}", yellow=True, bold=True)


# --- the portal as production runs it ----------------------------------------

# Public keys (base64 SHA-256 of the SubjectPublicKeyInfo) of the test's
# certificates, which every chromium launched here trusts.
TRUSTED_KEYS: list[str] = []


@pytest.fixture(scope="session")
def tls_certificate(browser_prerequisites, tmp_path_factory) -> tuple:
    """The run's self-signed certificate for ``servers.HOST``: (cert, key).
    Chromium trusts it (``chromium_args``) rather than ignoring its errors:
    Chromium refuses WebAuthn on a page with a certificate error (only the
    DevTools virtual authenticator is let through), and no error is hidden."""
    certificate, key = servers.make_certificate(tmp_path_factory.mktemp("tls"))
    TRUSTED_KEYS.append(servers.spki_sha256(certificate))
    return certificate, key


def chromium_args() -> list[str]:
    """Chromium's flags: ``CHROMIUM_ARGS`` and trust in the test's certificate.
    --ignore-certificate-errors-spki-list counts only with a --user-data-dir,
    which Playwright's persistent contexts pass."""
    assert TRUSTED_KEYS, "launch chromium after the tls_certificate fixture"
    return [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={','.join(TRUSTED_KEYS)}"]


@pytest.fixture(scope="session")
def browser_clamd(browser_prerequisites, tmp_path_factory) -> Iterator[EmbeddedClamd]:
    """The malware scanner production runs beside the portal: a real clamd,
    with a signature database made by sigtool that detects the EICAR file."""
    server = EmbeddedClamd(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def production_portal(browser_prerequisites, tls_certificate, tmp_path_factory, s3_server,
                      smtp_server, browser_clamd) -> Iterator[servers.Portal]:
    """The portal with production settings under gunicorn, behind nginx
    terminating TLS on 127.0.0.1, at https://portal.test:<port>, on a fresh
    PostgreSQL database migrated by ``flask db upgrade``; stopped and dropped
    afterwards."""
    root = tmp_path_factory.mktemp("production")
    app_port, tls_port = free_port(), free_port()
    base_url = f"https://{servers.HOST}:{tls_port}"
    gunicorn_log, nginx_log = root / "gunicorn.log", root / "nginx-error.log"
    worker_log = root / "worker.log"
    gunicorn = nginx = worker = None
    with servers.fresh_database(os.environ["PORTAL_TEST_DATABASE_URL"]) as database_url:
        settings = {**production.settings(database_url, s3_server, smtp_server, base_url),
                    **browser_clamd.app_config()}
        env = production.environment(settings)
        migrated = servers.run([str(servers.VENV_BIN / "flask"), "--app", "wsgi", "db",
                                "upgrade"], env=env)
        assert migrated.returncode == 0, f"flask db upgrade failed:\n{migrated.stdout}"
        app = create_app("production", settings)
        client_email, case_uuid, case_title = production.add_people_and_case(app, PASSWORD)
        try:
            gunicorn_args = [str(servers.VENV_BIN / "gunicorn"), "--worker-class", "gthread",
                             "--workers", "1", "--threads", "4",
                             "--bind", f"127.0.0.1:{app_port}", "wsgi:app"]
            if (servers.ROOT / "gunicorn.conf.py").exists():
                gunicorn_args[1:1] = ["-c", "gunicorn.conf.py"]
            # gunicorn's control socket has one path per user: two runs would share it.
            gunicorn_args.insert(-1, "--no-control-socket")
            gunicorn = servers.start(gunicorn_args, gunicorn_log, env=env)
            # The job consumer production runs beside gunicorn (README): it sends the mail,
            # puts resumable uploads together, scans files and makes their previews.
            worker = servers.start([str(servers.VENV_BIN / "huey_consumer"), "portal.worker.huey",
                                    "-w", "2", "-k", "thread"], worker_log, env=env)
            certificate, key = tls_certificate
            config = servers.nginx_config(root, port=tls_port, upstream=f"127.0.0.1:{app_port}",
                                          certificate=certificate, key=key)
            nginx = servers.start([_nginx(), "-c", str(config), "-p", str(root),
                                   "-g", "daemon off;"], root / "nginx.out")
            servers.wait_until_ready(f"{base_url}/healthz", certificate,
                                     {"gunicorn": gunicorn, "nginx": nginx, "worker": worker},
                                     [gunicorn_log, nginx_log, root / "nginx.out", worker_log])
            yield servers.Portal(base_url, database_url, client_email, PASSWORD, case_uuid,
                                 case_title, [gunicorn_log, nginx_log, root / "nginx-access.log",
                                              worker_log],
                                 app)
        finally:
            servers.stop(nginx, signal.SIGQUIT)  # graceful: finish open responses
            servers.stop(gunicorn)
            servers.stop(worker, signal.SIGINT)  # huey's graceful stop
            production.empty_case_folder(app, case_uuid)
            with app.app_context():
                db.engine.dispose()


@contextlib.contextmanager
def _browser_context(tmp_path, **options) -> Iterator:
    """A fresh headless chromium profile (Playwright's BrowserContext) that
    trusts the test's self-signed certificate and keeps downloads;
    ``options`` (locale, time zone, viewport...) override the defaults."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = launch(playwright, tmp_path / "profile", **options)
        try:
            yield context
        finally:
            context.close()


def launch(playwright, profile, **options):
    """A headless chromium context of its own profile directory, from a
    running Playwright (several at once: two people in one test). It trusts
    the test's certificate: no certificate error is ignored."""
    settings = {"locale": "en-US", "viewport": {"width": 1280, "height": 800}, **options}
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=chromium_args(),
        accept_downloads=True, **settings)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture()
def browser(browser_prerequisites, tls_certificate, tmp_path):
    """A desktop chromium in English (see ``_browser_context``)."""
    with _browser_context(tmp_path) as context:
        yield context


@pytest.fixture()
def phone_browser(browser_prerequisites, tls_certificate, tmp_path):
    """A phone's chromium (390 x 844, touch) in English."""
    with _browser_context(tmp_path, viewport={"width": 390, "height": 844}, is_mobile=True,
                          has_touch=True) as context:
        yield context


@pytest.fixture()
def phone_browser_es(browser_prerequisites, tls_certificate, tmp_path):
    """A phone's chromium (390 x 844, touch) set to Spanish and Caracas time,
    as a Venezuelan client's would be."""
    with _browser_context(tmp_path, locale="es-VE", timezone_id="America/Caracas",
                          viewport={"width": 390, "height": 844}, is_mobile=True,
                          has_touch=True) as context:
        yield context
