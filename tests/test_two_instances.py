"""More than one machine (docs/deploy.md, section 6): two app instances and two
job consumers on one PostgreSQL, one Redis and one S3 keep no state of their
own. A sign-in on one is valid on the other, a session ended on one is dead on
the other, a rate limit counts attempts on both, a job enqueued by one runs
once on either consumer, and an upload started on one is finished on the other.

What runs, as child processes of the test (started once for the module, every
one stopped at its end, even on failure): two ``gunicorn -c gunicorn.conf.py
wsgi:app`` on two ports with ``PORTAL_ENV=production`` (2 workers each), and two
``huey_consumer portal.worker.huey`` (the second with ``-n``, as the deploy guide
says), all with the same ``PORTAL_*`` settings: a fresh PostgreSQL database
migrated once by ``flask db upgrade``, the machine's Redis with a queue name of
this run's own, the suite's SeaweedFS and its SMTP server.

No TLS: the test plays the load balancer that ends it, as one does in front of
app hosts. Each request goes to the instance the test names with the public
host name (``Host: portal.test``), ``X-Forwarded-Proto: https`` and the client's
address in ``X-Forwarded-For``, which the instances believe
(``PORTAL_TRUSTED_PROXIES=127.0.0.1``); the browser's cookies, the Secure
``__Host-`` ones too, go on over that plain last hop, as a balancer passes them.
The production settings stay as they are (Secure cookies, the HTTPS Referer
check on forms, HSTS); nginx and TLS are tested by
tests/browser/test_production_tls.py and would add nothing about shared state.
The client's address is made up for the run, and every account's email carries
the run's token, so no rate limit key meets another run's in the shared Redis.

Runs where ``PORTAL_TEST_DATABASE_URL`` is set (CI sets it) and Redis answers;
without Redis it is skipped, or fails where ``PORTAL_TEST_BROWSER_REQUIRED=1``
(CI), like the browser tests, which need the same Redis.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import func, select
from tusclient.client import TusClient

from portal import create_app
from portal.auth.services import create_user
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from portal.models import (Case, CaseMembership, Document, DocumentRequest, DocumentVersion,
                           OutboxMessage, PasswordReset, ResumableUpload, Role, UploadState,
                           User)
from portal.models.case import CaseRole
from tests.browser import production, servers
from tests.conftest import Mailbox
from tests.uploads import PDF, pattern

DATABASE_SERVER = os.environ.get("PORTAL_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not DATABASE_SERVER, reason="two app instances share PostgreSQL: set "
                                "PORTAL_TEST_DATABASE_URL (CI does) to run them")

PUBLIC_HOST = "portal.test"
PASSWORD = "harbor-juniper-lantern-meadow-58"
WRONG_PASSWORD = "harbor-juniper-lantern-meadow-00"
# Failed sign-ins allowed per account and address (10 minutes); half go to each instance.
LIMIT = 4
# Resumable upload: three whole pieces and a short one.
CHUNK = 256 * 1024
SIZE = 3 * CHUNK + 12_345
# Reset requests at most, one after another, until each consumer has run one's job.
MAX_RESETS = 12
WAIT = 30  # seconds: a bound on another process's work, never an expected time


# --- the stack -------------------------------------------------------------------

@dataclass
class Instance:
    """One running app instance (gunicorn) and its log."""

    name: str
    url: str
    log: Path


@dataclass
class Stack:
    """Both instances, both consumers, and what the test needs to look behind them."""

    a: Instance
    b: Instance
    consumer_logs: list[Path]
    app: Flask  # the same app in-process, on the same database, to add people and look
    mailbox: Mailbox
    address: str  # the client's address, as the load balancer passes it on
    token: str
    redis: redis.Redis
    logs: list[Path]
    cases: list[str] = field(default_factory=list)
    _count: Iterator[int] = field(default_factory=lambda: iter(range(1, 1000)))

    def add_client(self) -> tuple[str, str]:
        """A new client account with ``PASSWORD``: (email, name)."""
        n = next(self._count)
        email, name = f"two-{self.token}-{n}@example.org", f"Client {self.token} {n}"
        with self.app.app_context():
            create_user(email, name, Role.CLIENT, PASSWORD)
            db.session.commit()
            db.session.remove()
        return email, name

    def add_case_asking(self, client_email: str) -> tuple[str, str]:
        """A case of a new attorney with the client on it and a document
        request to them: (case uuid, the form path an upload stands in for)."""
        n = next(self._count)
        with self.app.app_context():
            client = db.session.scalar(select(User).where(User.email == client_email))
            attorney = create_user(f"attorney-{self.token}-{n}@firm.example",
                                   f"Attorney {n}", Role.ATTORNEY, PASSWORD)
            case = Case(reference=f"HP-2026-{n:04d}", case_type="humanitarian_parole",
                        title=f"Case {n}", beneficiary_name=f"Beneficiary {n}",
                        beneficiary_country="VE", stage="gathering_evidence",
                        opened_on=date(2026, 1, 12), assigned_attorney=attorney)
            case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY),
                                CaseMembership(user=client, role=CaseRole.CLIENT)]
            passport = DocumentRequest(case=case, addressee=client, title="Passport",
                                       instructions="", created_by=attorney)
            db.session.add_all([case, passport])
            db.session.commit()
            result = str(case.uuid), f"/cases/{case.uuid}/requests/{passport.uuid}/uploads"
            db.session.remove()
        self.cases.append(result[0])
        return result

    def query(self, function: Callable):
        """``function()``'s answer, read from the database now."""
        with self.app.app_context():
            try:
                return function()
            finally:
                db.session.remove()

    def mails_to(self, email: str) -> list:
        with self.mailbox.lock:
            return [m for m in self.mailbox.messages if m["To"] == email]

    def server_logs(self) -> str:
        return "\n".join(servers.tail(log) for log in self.logs)


class Browser:
    """One browser behind the load balancer: a cookie jar of its own, each
    request sent to the instance the test names, as the balancer would."""

    def __init__(self, address: str):
        self.http = requests.Session()
        self.address = address

    def headers(self, **extra: str) -> dict:
        """What the balancer sends on: the browser's cookies (Secure ones too:
        TLS ended at the balancer), the public host, and the HTTPS Referer
        that Flask-WTF's check on forms wants."""
        headers = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https",
                   "X-Forwarded-For": self.address, "Referer": f"https://{PUBLIC_HOST}/"}
        if self.http.cookies:
            headers["Cookie"] = self.cookie()
        return {**headers, **extra}

    def get(self, instance: Instance, path: str) -> requests.Response:
        return self.http.get(instance.url + path, headers=self.headers(), allow_redirects=False,
                             timeout=WAIT)

    def csrf_token(self, instance: Instance, page: str) -> str:
        answer = self.get(instance, page)
        assert answer.status_code == 200, (page, answer.status_code)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', answer.text).group(1)

    def post(self, instance: Instance, path: str, data: dict, token_from: str) -> requests.Response:
        """POST a form with the CSRF token of the page ``token_from`` on ``instance``."""
        data = {"csrf_token": self.csrf_token(instance, token_from), **data}
        return self.http.post(instance.url + path, data=data, headers=self.headers(),
                              allow_redirects=False, timeout=WAIT)

    def sign_in(self, instance: Instance, email: str, password: str) -> requests.Response:
        return self.post(instance, "/login", {"email": email, "password": password}, "/login")

    def cookie(self) -> str:
        """The Cookie header this browser sends."""
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)


def _redis_or_skip(url: str) -> redis.Redis:
    connection = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        reason = (f"no Redis answers at {url}: the instances share it (PORTAL_TEST_REDIS_URL "
                  "names another)")
        if os.environ.get("PORTAL_TEST_BROWSER_REQUIRED") == "1":
            pytest.fail(f"required here but cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    return connection


def _wait_for(condition: Callable[[], bool], what: str, processes: dict, logs: list[Path],
              timeout: float = WAIT) -> None:
    """Poll ``condition`` until true; raise with the logs if a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n"
                                   + "\n".join(servers.tail(log) for log in logs))
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}\n"
                               + "\n".join(servers.tail(log) for log in logs))
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2, headers={"Host": PUBLIC_HOST}).status_code == 200
    except requests.RequestException:
        return False


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    """Ask every process to stop at once (huey's graceful stop is SIGINT), then
    wait for each; ``servers.stop`` kills any that has not stopped in time."""
    for name, process in processes.items():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT if name.startswith("consumer")
                          else signal.SIGTERM)
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        servers.stop(process, signal.SIGKILL)


def _forget_in_redis(connection: redis.Redis, *needles: str) -> None:
    """Delete the run's keys (its job queue, its rate limit counters)."""
    for needle in needles:
        for key in connection.scan_iter(match=f"*{needle}*", count=1000):
            connection.delete(key)


@pytest.fixture(scope="module")
def stack(s3_server, smtp_server, tmp_path_factory) -> Iterator[Stack]:
    redis_url = production.redis_url()
    connection = _redis_or_skip(redis_url)
    root = tmp_path_factory.mktemp("two-instances")
    token = secrets.token_hex(4)
    address = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    queue = f"portal-two-{token}"
    processes: dict[str, subprocess.Popen] = {}
    built: Stack | None = None
    with servers.fresh_database(DATABASE_SERVER) as database_url:
        settings = {**production.settings(database_url, s3_server, smtp_server,
                                          f"https://{PUBLIC_HOST}"),
                    "JOBS_QUEUE_NAME": queue, "TRUSTED_PROXIES": "127.0.0.1",
                    "SCANNING": "off", "PREVIEWS": "off",
                    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": f"{LIMIT} per 10 minutes",
                    # Out of the way: the test counts one bucket.
                    "LOGIN_LIMIT_PER_ADDRESS": "1000 per 10 minutes",
                    "LOGIN_LIMIT_PER_ACCOUNT": "1000 per day",
                    "PASSWORD_RESET_LIMIT_PER_ADDRESS": "1000 per hour",
                    "PASSWORD_RESET_LIMIT_PER_EMAIL": "1000 per hour"}
        env = production.environment(settings)
        migrated = servers.run([str(servers.VENV_BIN / "flask"), "--app", "wsgi", "db",
                                "upgrade"], env=env)
        assert migrated.returncode == 0, f"flask db upgrade failed:\n{migrated.stdout}"
        app = create_app("production", settings)
        instances = []
        try:
            for name in ("a", "b"):
                port = free_port()
                log = root / f"gunicorn-{name}.log"
                processes[f"gunicorn-{name}"] = servers.start(
                    [str(servers.VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                     "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                     "--no-control-socket", "wsgi:app"], log, env=env)
                instances.append(Instance(name, f"http://127.0.0.1:{port}", log))
            consumer_logs = [root / "consumer-1.log", root / "consumer-2.log"]
            for number, log in enumerate(consumer_logs, 1):
                # Every consumer but one without the periodic jobs (docs/deploy.md).
                periodic = [] if number == 1 else ["-n"]
                processes[f"consumer-{number}"] = servers.start(
                    [str(servers.VENV_BIN / "huey_consumer"), "portal.worker.huey",
                     "-w", "2", "-k", "thread", *periodic], log, env=env)
            logs = [i.log for i in instances] + consumer_logs
            for instance in instances:
                _wait_for(lambda i=instance: _answers(f"{i.url}/healthz"),
                          f"instance {instance.name}", processes, logs)
            for log in consumer_logs:
                _wait_for(lambda log=log: log.exists() and "consumer started" in log.read_text(),
                          log.name, processes, logs)
            built = Stack(instances[0], instances[1], consumer_logs, app, smtp_server, address,
                          token, connection, logs)
            yield built
        finally:
            _stop_all(processes)
            _forget_in_redis(connection, token, address)
            # The database is dropped: what its cases stored in the shared bucket goes too.
            for case_uuid in built.cases if built else ():
                production.empty_case_folder(app, case_uuid)
            with app.app_context():
                db.engine.dispose()


# --- the tests -------------------------------------------------------------------

def test_a_sign_in_on_one_instance_is_valid_on_the_other(stack):
    email, name = stack.add_client()
    browser = Browser(stack.address)
    signed_in = browser.sign_in(stack.a, email, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text

    account = browser.get(stack.b, "/account")
    assert account.status_code == 200, stack.server_logs()
    assert name in account.text

    stranger = Browser(stack.address).get(stack.b, "/account")
    assert stranger.status_code == 302 and "/login" in stranger.headers["Location"]


def test_a_session_ended_on_one_instance_is_dead_on_the_other(stack):
    email, name = stack.add_client()
    browser = Browser(stack.address)
    assert browser.sign_in(stack.a, email, PASSWORD).status_code == 302
    copied = Browser(stack.address)  # the same cookie, kept by someone else
    copied.http.cookies.update(browser.http.cookies)
    assert name in copied.get(stack.a, "/account").text

    signed_out = browser.post(stack.b, "/logout", {}, "/account")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]

    for instance in (stack.a, stack.b):
        dead = copied.get(instance, "/account")
        assert dead.status_code == 302 and "/login" in dead.headers["Location"], instance.name


def test_a_rate_limit_counts_sign_ins_on_both_instances(stack):
    email, _ = stack.add_client()
    browser = Browser(stack.address)
    answers = [browser.sign_in((stack.a, stack.b)[n % 2], email, WRONG_PASSWORD).status_code
               for n in range(LIMIT)]
    # Each instance saw LIMIT / 2 wrong passwords: none had reached the limit on its own.
    assert answers == [200] * LIMIT
    for instance in (stack.a, stack.b):
        assert browser.sign_in(instance, email, WRONG_PASSWORD).status_code == 429, instance.name
    # Even the right password now waits: the count is the account's, wherever it was made.
    assert browser.sign_in(stack.b, email, PASSWORD).status_code == 429
    counters = [key for key in stack.redis.scan_iter(match=f"*{email}*")]
    assert counters, "the count is not in Redis"


def _executed(log: Path, task: str) -> list[str]:
    return re.findall(rf"Executing {re.escape(task)}: ([0-9a-f-]{{36}})", log.read_text())


def test_a_job_enqueued_by_one_instance_runs_once_on_either_consumer(stack):
    email, _ = stack.add_client()
    browser = Browser(stack.address)
    task = "portal.auth.tasks.email_reset_link"
    before = [set(_executed(log, task)) for log in stack.consumer_logs]
    ran: list[set[str]] = []
    for requested in range(1, MAX_RESETS + 1):
        answer = browser.post(stack.a, "/forgot-password", {"email": email}, "/forgot-password")
        assert answer.status_code == 302, answer.text
        _wait_for(lambda n=requested: len(stack.mails_to(email)) >= n, f"reset mail {requested}",
                  {}, stack.logs)
        ran = [set(_executed(log, task)) - seen
               for log, seen in zip(stack.consumer_logs, before)]
        if all(ran):
            break

    assert all(ran), f"one consumer ran all {requested} jobs: {[len(r) for r in ran]}"
    # Each job ran once, on one consumer: one link made and one mail sent per request.
    assert len(ran[0] | ran[1]) == len(ran[0]) + len(ran[1]) == requested
    mails = stack.mails_to(email)
    links = {link for mail in mails for link in stack.mailbox.links(mail)}
    assert len(mails) == len(links) == requested

    def made():
        user = select(User.id).where(User.email == email).scalar_subquery()
        return (db.session.scalar(select(func.count()).select_from(PasswordReset)
                                  .where(PasswordReset.user_id == user)),
                db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.recipient == email)))
    assert stack.query(made) == (requested, requested)


def test_an_upload_started_on_one_instance_is_finished_on_the_other(stack):
    email, _ = stack.add_client()
    case_uuid, form = stack.add_case_asking(email)
    browser = Browser(stack.address)
    assert browser.sign_in(stack.a, email, PASSWORD).status_code == 302
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      browser.get(stack.a, "/account").text).group(1)
    headers = browser.headers(**{"X-CSRFToken": token})
    data = b"".join(pattern(SIZE, head=PDF))

    on_a = TusClient(f"{stack.a.url}/uploads", headers=headers).uploader(
        file_stream=io.BytesIO(data), chunk_size=CHUNK, upload_checksum=True,
        metadata={"filename": "pasaporte.pdf", "form": form})
    on_a.upload_chunk()  # creates the upload on A and sends its first piece there
    assert on_a.offset == CHUNK
    path = on_a.url.removeprefix(stack.a.url)

    on_b = TusClient(f"{stack.b.url}/uploads", headers=headers).uploader(
        file_stream=io.BytesIO(data), chunk_size=CHUNK, upload_checksum=True,
        url=stack.b.url + path)
    assert on_b.offset == CHUNK  # B's HEAD says where A got to
    on_b.upload()

    def saved() -> bool:
        status = browser.get(stack.a, path)
        return status.status_code == 200 and status.json()["state"] == "saved"
    _wait_for(saved, "the upload put together by a consumer", {}, stack.logs)

    def stored():
        upload = db.session.scalar(select(ResumableUpload).where(
            ResumableUpload.uuid == uuid.UUID(path.rsplit("/", 1)[1])))
        versions = db.session.scalars(select(DocumentVersion).join(Document).join(Case)
                                      .where(Case.uuid == upload.case.uuid)).all()
        return (upload.state, len(upload.pieces), [(str(v.uuid), v.sha256) for v in versions])
    state, pieces, versions = stack.query(stored)
    assert state is UploadState.SAVED
    assert pieces == -(-SIZE // CHUNK)  # no piece twice, none missing
    assert len(versions) == 1
    version_uuid, sha256 = versions[0]
    assert sha256 == hashlib.sha256(data).hexdigest()
    download = browser.get(stack.a, f"/cases/{case_uuid}/versions/{version_uuid}/download")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == sha256

    # The pieces came through both instances: the first through A, the rest through B.
    patches = [log.read_text().count(f'"method": "PATCH", "path": "{path}"')
               for log in (stack.a.log, stack.b.log)]
    assert patches == [1, pieces - 1]
