"""Outages during uploads and downloads: the user hears within seconds,
and nothing is shown as available without its object.

These tests stop or freeze (SIGSTOP) a SeaweedFS server of their own
mid-upload, so the shared server of the suite is never disturbed.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.embedded_s3 import EmbeddedS3, free_port
from portal.evidence import services
from portal.evidence.reconcile import reconcile
from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD, PortalClient
from tests.uploads import PDF, Interrupted, flashes, pattern, upload, versions

MiB = 1 << 20
STORAGE_DOWN = "The document store is not answering right now"


@pytest.fixture()
def fragile_s3(tmp_path):
    server = EmbeddedS3(tmp_path / "s3", bucket="fragile")
    server.start()
    yield server
    server.stop(timeout=2)


def portal_on(base_config, s3_config: dict):
    app = create_app("testing", {**base_config, **s3_config})
    app.test_client_class = PortalClient
    return app


@pytest.fixture()
def signed_in(make_user, make_case):
    """(make a signed-in browser on an app, the case) for a client."""
    user = make_user("client")
    case = make_case(client=user)

    def browser(app):
        client = app.test_client()
        client.submit("/login", {"email": user.email, "password": PASSWORD})
        return client
    return browser, case


@pytest.mark.parametrize("failure", ["freeze", "kill"])
def test_store_failing_mid_upload_gives_a_clear_error_fast_and_keeps_nothing(
        base_config, fragile_s3, signed_in, failure):
    app = portal_on(base_config, fragile_s3.app_config())
    browser, case = signed_in
    client = browser(app)
    act = fragile_s3.pause if failure == "freeze" else fragile_s3.process.kill
    body = Interrupted(48 * MiB, after=20 * MiB, act=act)
    response = upload(client, f"/cases/{case.uuid}/documents", [("scan.pdf", body)])
    waited = time.monotonic() - body.acted_at
    assert response.status_code == 303
    assert waited < 20, f"the user waited {waited:.1f} s"
    (flash,) = flashes(client.get(response.headers["Location"]).text)
    assert flash.startswith("scan.pdf was not saved: " + STORAGE_DOWN)
    assert versions() == []
    if failure == "freeze":
        # Back from the freeze: the aborted (or abandoned) multipart upload
        # must not survive a reconcile, and no object appeared.
        fragile_s3.resume()
        with app.app_context():
            reconcile(repair=True, grace=timedelta(0))
            storage = app.extensions["storage"]
            assert list(storage.pending_uploads("cases/")) == []
            assert list(storage.list_objects("cases/")) == []


def test_store_down_before_upload_answers_within_seconds(base_config, signed_in):
    app = portal_on(base_config, {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    browser, case = signed_in
    client = browser(app)
    started = time.monotonic()
    response = upload(client, f"/cases/{case.uuid}/documents", [("a.pdf", [PDF])])
    assert time.monotonic() - started < 20
    (flash,) = flashes(client.get(response.headers["Location"]).text)
    assert STORAGE_DOWN in flash
    assert versions() == []


def test_download_with_the_store_down_is_a_clear_503(app, base_config, signed_in):
    browser, case = signed_in
    client = browser(app)
    upload(client, f"/cases/{case.uuid}/documents", [("a.pdf", [PDF])])
    (version,) = versions()
    down = browser(portal_on(base_config, {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}))
    response = down.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert response.status_code == 503
    assert "not answering right now" in response.text


def test_database_failing_after_the_object_is_stored_leaves_no_orphan(app, signed_in, monkeypatch):
    browser, case = signed_in
    client = browser(app)

    def fail(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))
    monkeypatch.setattr(services.audit, "record", fail)
    response = upload(client, f"/cases/{case.uuid}/documents", [("a.pdf", [PDF])])
    assert response.status_code == 503
    assert "briefly unavailable" in response.text
    monkeypatch.undo()
    assert versions() == []
    assert list(app.extensions["storage"].list_objects("cases/")) == []


def test_download_from_a_frozen_store_is_a_clear_503_not_an_integrity_alarm(
        base_config, fragile_s3, signed_in):
    app = portal_on(base_config, fragile_s3.app_config())
    browser, case = signed_in
    client = browser(app)
    upload(client, f"/cases/{case.uuid}/documents", [("a.pdf", pattern(3 * MiB, head=PDF))])
    (version,) = versions()
    fragile_s3.pause()
    started = time.monotonic()
    response = client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert time.monotonic() - started < 20
    assert response.status_code == 503 and "not answering right now" in response.text
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "document.integrity_failed")) is None
