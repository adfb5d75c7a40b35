"""Fixtures: a real SeaweedFS, a real database (PostgreSQL when
``PORTAL_TEST_DATABASE_URL`` is set, else SQLite), a real SMTP server on
loopback, and factories for users and cases."""
from __future__ import annotations

import os
import re
import secrets
import threading
from contextlib import contextmanager
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.auth import passwords
from portal.crypto import generate_master_key
from portal.dev.embedded_s3 import EmbeddedS3, free_port
from portal.extensions import db as _db
from portal.models import Case, CaseFlag, CaseMembership, Role, User
from portal.models.case import CaseRole
from tests.sealing import seal_files

PASSWORD = "quiet-otter-mountain-river-7"


# --- outside systems -------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS S3 server with signature checking, for the whole run."""
    server = EmbeddedS3(tmp_path_factory.mktemp("s3"), bucket="portal-test")
    server.start()
    yield server
    server.stop()


@contextmanager
def own_database(prefix: str, sqlite_path):
    """A database of its own, dropped afterwards: on the PostgreSQL server
    named by PORTAL_TEST_DATABASE_URL when set, else the SQLite file
    ``sqlite_path``. Yields its URL."""
    server_url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{sqlite_path}"
        return
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The suite's database (see ``own_database``)."""
    with own_database("portal_test", tmp_path_factory.mktemp("db") / "portal.db") as url:
        yield url


@pytest.fixture()
def fresh_url(tmp_path):
    """An empty database of its own, for a migration's test."""
    with own_database("portal_fresh", tmp_path / "fresh.db") as url:
        yield url


class Mailbox(Controller):
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        super().__init__(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def links(self, message: EmailMessage) -> list[str]:
        """Every http(s) link in a message's body."""
        return re.findall(r"https?://\S+", message.get_content())


@pytest.fixture(scope="session")
def smtp_server():
    server = Mailbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def mailbox(smtp_server):
    """The SMTP server, emptied for this test."""
    smtp_server.messages.clear()
    return smtp_server


# --- the app ---------------------------------------------------------------

@pytest.fixture(scope="session")
def base_config(s3_server, database_url, smtp_server):
    """Settings every test app shares; the schema is migrated once."""
    config = {**s3_server.app_config(), "SQLALCHEMY_DATABASE_URI": database_url,
              "MASTER_KEY": generate_master_key(),
              "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port,
              "BASE_URL": "http://portal.test", **seal_files()}
    app = create_app("testing", config)
    with app.app_context():
        upgrade()
    return config


class PortalClient(FlaskClient):
    """Test client that can post forms with a valid CSRF token, as a browser does."""

    def open(self, *args, **kwargs):
        # Each request gets its own app context (its own ``g`` and database
        # session), as in production, even though the test holds one open.
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        for page in ("/account", "/account/security", "/login"):
            response = self.get(page)
            if response.status_code == 200:
                match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                                  r'name="csrf_token" value="([^"]+)"', response.text)
                return match.group(1) or match.group(2)
        raise AssertionError("no page with a CSRF token")

    def submit(self, url: str, data: dict | None = None, **kwargs):
        """POST ``data`` to ``url`` with the session's CSRF token."""
        return self.post(url, data={"csrf_token": self.csrf_token(), **(data or {})}, **kwargs)


@pytest.fixture()
def app(base_config):
    app = create_app("testing", dict(base_config))
    app.test_client_class = PortalClient
    with app.app_context():
        yield app
        _db.session.remove()
        _empty_tables()
        _empty_bucket(app)
        # Each test's app has an engine of its own: close its connections now rather
        # than when it is collected, or PostgreSQL runs out of connection slots.
        _db.engine.dispose()


def _empty_bucket(app) -> None:
    storage = app.extensions["storage"]
    for upload in storage.pending_uploads(""):
        storage.abort_upload(upload.key, upload.upload_id)
    for obj in storage.list_objects(""):
        storage.delete(obj.key)


def _empty_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture()
def client(app) -> PortalClient:
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------

@pytest.fixture()
def make_user(app):
    """make_user(role="client", **fields) -> a saved user with PASSWORD."""
    hashed = passwords.hash_password(PASSWORD)
    counter = iter(range(1, 10_000))

    def make(role: str | Role = Role.CLIENT, **fields) -> User:
        role = Role(role)
        n = next(counter)
        fields.setdefault("email", f"{role.value}{n}@example.org")
        fields.setdefault("name", f"{role.value.title()} {n}")
        user = User(role=role, password_hash=hashed, **fields)
        _db.session.add(user)
        _db.session.commit()
        return user
    return make


@pytest.fixture()
def make_case(app, make_user):
    """make_case(attorney=None, client=None, sponsors=(), **fields) -> a saved case."""
    counter = iter(range(1, 10_000))

    def make(attorney: User | None = None, client: User | None = None, sponsors=(),
             flags=(), **fields) -> Case:
        n = next(counter)
        attorney = attorney or make_user(Role.ATTORNEY)
        fields.setdefault("reference", f"HP-2026-{n:04d}")
        fields.setdefault("case_type", "humanitarian_parole")
        fields.setdefault("title", f"Case {n}")
        fields.setdefault("beneficiary_name", f"Beneficiary {n}")
        fields.setdefault("beneficiary_country", "VE")
        fields.setdefault("stage", "gathering_evidence")
        fields.setdefault("opened_on", date(2026, 1, n % 28 + 1))
        case = Case(assigned_attorney=attorney, flags=[CaseFlag(flag=f) for f in flags], **fields)
        case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY)]
        if client is not None:
            case.memberships.append(CaseMembership(user=client, role=CaseRole.CLIENT))
        case.memberships += [CaseMembership(user=s, role=CaseRole.SPONSOR) for s in sponsors]
        _db.session.add(case)
        _db.session.commit()
        return case
    return make


@pytest.fixture()
def login_as(client):
    """login_as(user) signs the test client in through the real form."""
    def login(user: User, password: str = PASSWORD):
        response = client.submit("/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.text
        return response
    return login


@pytest.fixture()
def as_client(client, login_as, people):
    """The test client signed in as ``people["client"]``, from the ``people``
    fixture of the module that asks (each module says who its case holds)."""
    login_as(people["client"])
    return client
