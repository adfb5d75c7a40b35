"""Outages during uploads and downloads: the user hears within seconds,
and nothing is shown as available without its object.

These tests stop or freeze (SIGSTOP) a SeaweedFS server of their own
mid-upload, so the shared server of the suite is never disturbed. Nothing
here measures time: a request that must not hang runs in a thread while the
store stays frozen, and the test asserts that it came back at all (see
``finishes``) and with what.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from portal import create_app
from portal.dev.embedded_s3 import EmbeddedS3, free_port
from portal.evidence.reconcile import reconcile
from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD, PortalClient
from tests.test_upload_rules import wait_for, writes_held
from tests.uploads import PDF, Interrupted, flashes, pattern, upload, versions

MiB = 1 << 20
STORAGE_DOWN = "The document store is not answering right now"
# Seconds after which a request is taken as hung. The store's timeouts (3 s
# to connect, 6 s to read, 2 attempts, a 3 s abort) end any wait within about
# half a minute even with parts in flight; botocore's defaults (a 60 s read
# timeout, 5 attempts) would hold a frozen store for five minutes or more.
HUNG = 120


def finishes(action):
    """Return ``action()``, run in a thread; fail if it has not returned
    after ``HUNG`` seconds (a request waiting on a frozen store for ever)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = action()
        except BaseException as error:  # re-raised in the test below
            outcome["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HUNG)
    assert not thread.is_alive(), \
        f"still waiting after {HUNG} s: the store's timeouts did not end the wait"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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
def test_store_failing_mid_upload_gives_a_clear_error_and_keeps_nothing(
        base_config, fragile_s3, signed_in, failure):
    app = portal_on(base_config, fragile_s3.app_config())
    browser, case = signed_in
    client = browser(app)
    url = f"/cases/{case.uuid}/documents"  # loaded here: the request runs in a thread
    act = fragile_s3.pause if failure == "freeze" else fragile_s3.process.kill
    body = Interrupted(48 * MiB, after=20 * MiB, act=act)
    try:
        # A frozen store stays frozen until the user has had their answer.
        response = finishes(lambda: upload(client, url, [("scan.pdf", body)]))
    finally:
        if failure == "freeze":
            fragile_s3.resume()
    assert body.acted_at is not None  # the store did fail mid-upload
    assert response.status_code == 303
    (flash,) = flashes(client.get(response.headers["Location"]).text)
    assert flash.startswith("scan.pdf was not saved: " + STORAGE_DOWN)
    assert versions() == []
    if failure == "freeze":
        # Back from the freeze: the aborted (or abandoned) multipart upload
        # must not survive a reconcile, and no object appeared.
        with app.app_context():
            reconcile(repair=True, grace=timedelta(0))
            storage = app.extensions["storage"]
            assert list(storage.pending_uploads("cases/")) == []
            assert list(storage.list_objects("cases/")) == []


def test_store_down_before_upload_gives_a_clear_error(base_config, signed_in):
    app = portal_on(base_config, {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    browser, case = signed_in
    client = browser(app)
    url = f"/cases/{case.uuid}/documents"
    response = finishes(lambda: upload(client, url, [("a.pdf", [PDF])]))
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


def test_database_failing_after_the_object_is_stored_leaves_no_orphan(
        app, base_config, signed_in):
    """The database really fails between storing the object and writing its
    row. PostgreSQL: the upload's connection is terminated while it waits to
    write the row. SQLite: another connection holds the database locked from
    the end of the file on, past the app's busy timeout."""
    browser, case = signed_in
    url = f"/cases/{case.uuid}/documents"
    storage = app.extensions["storage"]
    if db.engine.dialect.name == "postgresql":
        client = browser(app)
        stored_when_killed: list = []

        def kill_the_writer(held):
            pids = wait_for(held.waiting, "the upload to wait to write its row")
            stored_when_killed.extend(o.key for o in storage.list_objects("cases/"))
            held.terminate(pids)

        with writes_held(app) as held:
            killer = threading.Thread(target=kill_the_writer, args=(held,), daemon=True)
            killer.start()
            response = upload(client, url, [("a.pdf", [PDF])])
            killer.join(HUNG)
        assert len(stored_when_killed) == 1  # the object was complete when the database went
    else:
        path = make_url(base_config["SQLALCHEMY_DATABASE_URI"]).database
        locker = sqlite3.connect(path, isolation_level=None)
        # A short busy timeout, so the app gives up on the lock at once.
        locked_app = portal_on(base_config, {"SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True, "connect_args": {"timeout": 0.2}}})
        client = browser(locked_app)
        body = Interrupted(3 * MiB, after=2 * MiB, act=lambda: locker.execute("BEGIN EXCLUSIVE"))
        try:
            response = upload(client, url, [("a.pdf", body)])
        finally:
            locker.rollback()
            locker.close()
        assert body.acted_at is not None
    assert response.status_code == 503
    assert "briefly unavailable" in response.text
    assert versions() == []
    assert list(storage.list_objects("cases/")) == []
    assert list(storage.pending_uploads("cases/")) == []


def test_download_from_a_frozen_store_is_a_clear_503_not_an_integrity_alarm(
        base_config, fragile_s3, signed_in):
    app = portal_on(base_config, fragile_s3.app_config())
    browser, case = signed_in
    client = browser(app)
    upload(client, f"/cases/{case.uuid}/documents", [("a.pdf", pattern(3 * MiB, head=PDF))])
    (version,) = versions()
    link = f"/cases/{case.uuid}/versions/{version.uuid}/download"
    fragile_s3.pause()
    try:
        response = finishes(lambda: client.get(link))  # answered while the store is frozen
    finally:
        fragile_s3.resume()
    assert response.status_code == 503 and "not answering right now" in response.text
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "document.integrity_failed")) is None


def test_a_resumable_upload_survives_the_store_going_down(base_config, fragile_s3, signed_in):
    """A piece sent while the store is down is refused with a clear 503 and
    the pieces before it stay; a file finished while the store is down waits
    and is saved by the sweep once the store is back. Nothing is lost."""
    from portal.models import ResumableUpload, UploadState
    from portal.models.types import utcnow
    from portal.uploads import services
    from tests.tus import Tus

    app = portal_on(base_config, fragile_s3.app_config())
    browser, case = signed_in
    tus = Tus(browser(app))
    data = b"".join(pattern(600_000, head=PDF))
    location = tus.create(f"/cases/{case.uuid}/documents", len(data)).headers["Location"]
    assert tus.patch(location, 0, data[:200_000]).status_code == 204
    fragile_s3.stop(timeout=2)
    down = finishes(lambda: tus.patch(location, 200_000, data[200_000:400_000]))
    assert down.status_code == 503 and STORAGE_DOWN in down.text
    fragile_s3.start()
    assert tus.head(location).headers["Upload-Offset"] == "200000"
    assert tus.patch(location, 200_000, data[200_000:400_000]).status_code == 204

    # The last piece is stored, then the store stops before the job puts it together.
    with app.app_context():
        real_assemble = services.assemble

        def assemble_with_store_down(upload_id):
            fragile_s3.stop(timeout=2)
            real_assemble(upload_id)
        services.assemble = assemble_with_store_down
        try:
            assert finishes(lambda: tus.patch(location, 400_000, data[400_000:])
                            ).status_code == 204
        finally:
            services.assemble = real_assemble
        db.session.expire_all()
        upload = db.session.scalar(select(ResumableUpload))
        assert upload.state is UploadState.SAVING and versions() == []
        fragile_s3.start()
        upload.expires_at = utcnow() - timedelta(seconds=1)  # its job's grace is over
        db.session.commit()
        services.sweep()
        db.session.expire_all()
        upload = db.session.scalar(select(ResumableUpload))
        assert upload.state is UploadState.SAVED
        got = tus.client.get(f"/cases/{case.uuid}/versions/{upload.version.uuid}/download")
        assert got.data == data
