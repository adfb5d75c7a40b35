"""/healthz, and what users see when the database or object store is down."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from tests.conftest import PASSWORD
from portal.dev.embedded_s3 import free_port


def test_healthz_reports_both_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    # Scanning is off in these tests (tests/test_scanning.py has a scanner).
    assert response.json == {"database": "ok", "storage": "ok", "scanner": "off",
                             "signatures_age_days": None, "status": "ok"}


@pytest.fixture()
def app_with(base_config, tmp_path):
    def make(**overrides):
        return create_app("testing", {**base_config, **overrides})
    return make


def test_healthz_is_503_when_object_store_is_down(app_with):
    app = app_with(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", S3_MAX_ATTEMPTS=1)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"database": "ok", "storage": "unavailable", "scanner": "off",
                             "signatures_age_days": None, "status": "unavailable"}


def test_healthz_is_503_when_database_is_down(app_with, tmp_path):
    app = app_with(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unavailable"


def test_liveness_asks_nothing_so_a_database_outage_restarts_no_app(app_with, tmp_path):
    """Readiness fails with the database; liveness does not (a supervisor
    would restart every app for an outage a restart cannot mend)."""
    app = app_with(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite",
                   S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", S3_MAX_ATTEMPTS=1)
    browser = app.test_client()
    assert browser.get("/readyz").status_code == 503
    live = browser.get("/livez")
    assert live.status_code == 200 and live.json == {"status": "alive"}


def test_database_down_gives_a_plain_503_page(app_with, tmp_path):
    app = app_with(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite",
                   WTF_CSRF_ENABLED=False)
    response = app.test_client().post("/login", data={"email": "a@b.org", "password": "x"})
    assert response.status_code == 503
    assert "briefly unavailable" in response.text
    assert "Traceback" not in response.text and "sqlite" not in response.text.lower()


def test_healthz_checks_a_real_write_not_only_that_the_bucket_answers(app_with, s3_server):
    """A store that answers HEAD but takes no writes (here: an identity that
    may only read) is not ready."""
    reader = s3_server.reader
    app = app_with(S3_ACCESS_KEY_ID=reader.access_key, S3_SECRET_ACCESS_KEY=reader.secret_key)
    app.extensions["storage"].client.head_bucket(Bucket=s3_server.bucket)  # answers fine
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["storage"] == "unavailable"


def test_an_error_page_says_plainly_what_happened_and_what_to_do(client, login_as, make_user):
    login_as(make_user("client"))
    page = client.get("/cases/00000000-0000-0000-0000-000000000000")
    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.text
    assert "start again from your list of cases" in page.text
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403 and "<h1>This is not open to you</h1>" in forbidden.text


def test_an_open_read_elsewhere_does_not_make_a_sign_in_fail(app, client, make_user):
    """SQLite (the embedded default): the job consumer reading the file while
    someone signs in must not make the sign-in's commit fail (write-ahead log)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking only")
    user = make_user("client")
    reader = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database,
                             isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM users").fetchone()  # holds its read open
        response = client.submit("/login", {"email": user.email, "password": PASSWORD})
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert response.status_code == 302
