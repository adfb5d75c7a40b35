"""Storage hygiene: the hourly job that aborts multipart uploads left
unfinished, and the weekly report to the admins of what reconcile finds.

S3 cannot be told an upload started yesterday, nor an object was stored an
hour ago: the tests pass an age threshold of zero for "old enough", and
leave the default (a day, an hour) for "too recent".
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal import jobs
from portal.evidence import reconcile, tasks
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Purpose, Role, StoredObject
from portal.models.types import utcnow

REPAIR = "flask reconcile-storage --repair"


def start_upload(app) -> str:
    """Start a multipart upload under a case's prefix and leave it
    unfinished (no part, never completed); returns its upload id."""
    writer = app.extensions["storage"].writer(f"cases/{uuid.uuid4()}/{uuid.uuid4()}", 5 << 20)
    writer.uploader.shutdown()
    return writer.upload_id


def pending(app) -> set[str]:
    return {u.upload_id for u in app.extensions["storage"].pending_uploads("cases/")}


def put_orphan(app) -> str:
    """An object where a stored object would be, with no row expecting it."""
    storage = app.extensions["storage"]
    key = f"cases/{uuid.uuid4()}/{uuid.uuid4()}"
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=b"ciphertext without a row")
    return key


def add_row(case, attorney, with_object: bool = False, app=None) -> StoredObject:
    """A stored-object row (and, ``with_object``, the object it expects)."""
    object_uuid = uuid.uuid4()
    row = StoredObject(uuid=object_uuid, key=f"cases/{case.uuid}/{object_uuid}", size=3,
                       sha256="0" * 64, content_type="application/pdf", case=case,
                       stored_by=attorney, purpose=Purpose.DOCUMENT_VERSION,
                       stored_at=utcnow() - timedelta(minutes=5))
    db.session.add(row)
    db.session.commit()
    if with_object:
        storage = app.extensions["storage"]
        storage.client.put_object(Bucket=storage.bucket, Key=row.key, Body=b"ciphertext")
    return row


def audit_details(action: str) -> list[dict]:
    return [e.details for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.sequence))]


def outbox_rows() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture()
def firm(make_user):
    """Two active admins (one reads Spanish), a deactivated admin, an
    attorney and a staff member."""
    return {"admin": make_user(Role.ADMIN), "admin_es": make_user(Role.ADMIN, language="es"),
            "former_admin": make_user(Role.ADMIN, active=False),
            "attorney": make_user(Role.ATTORNEY), "staff": make_user(Role.STAFF)}


def test_both_jobs_are_registered_and_scheduled(app):
    assert "portal.evidence.tasks" in jobs.TASK_MODULES

    def due(*when) -> set[str]:
        return {task.name for task in jobs.huey.read_periodic(datetime(*when))}
    # Hourly, at 25 past; weekly, Mondays (4 January 2027 is one) at 04:40 UTC.
    for hour in (0, 4, 13, 23):
        assert "abort_stale_uploads" in due(2027, 1, 4, hour, 25)
    assert "abort_stale_uploads" not in due(2027, 1, 4, 13, 26)
    assert "report_storage_to_admins" in due(2027, 1, 4, 4, 40)
    for later in ((2027, 1, 5, 4, 40), (2027, 1, 4, 5, 40), (2027, 1, 4, 4, 41)):
        assert "report_storage_to_admins" not in due(*later)


# --- the hourly job: unfinished uploads ---------------------------------------

def test_an_upload_unfinished_for_longer_than_the_threshold_is_aborted(app):
    first, second = start_upload(app), start_upload(app)
    assert pending(app) == {first, second}
    assert reconcile.abort_stale_uploads(older_than=timedelta(0)) == 2
    assert pending(app) == set()
    assert audit_details("storage.uploads_aborted") == [{"count": 2}]
    # Nothing left: the next run aborts nothing and records nothing.
    assert reconcile.abort_stale_uploads(older_than=timedelta(0)) == 0
    assert audit_details("storage.uploads_aborted") == [{"count": 2}]


def test_an_upload_started_less_than_a_day_ago_is_left_alone(app):
    upload = start_upload(app)
    assert reconcile.abort_stale_uploads() == 0
    tasks.abort_stale_uploads.call_local()  # the job itself: the same default of a day
    assert pending(app) == {upload}
    assert audit_details("storage.uploads_aborted") == []


# --- the weekly job: the report to the admins ------------------------------------

def test_a_disagreement_is_emailed_once_to_each_active_admin_in_their_language(
        app, firm, make_case, mailbox):
    case = make_case(attorney=firm["attorney"])
    orphans = [put_orphan(app) for _ in range(3)]
    add_row(case, firm["attorney"])  # its object is missing
    add_row(case, firm["attorney"], with_object=True, app=app)  # in agreement: not counted
    uploads = {start_upload(app), start_upload(app)}

    report = reconcile.report_to_admins(grace=timedelta(0))

    assert not report.clean and not report.repaired
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        [firm["admin"].email, firm["admin_es"].email])
    assert {(m.recipient, m.language, m.template) for m in outbox_rows()} == {
        (firm["admin"].email, "en", "storage_report"),
        (firm["admin_es"].email, "es", "storage_report")}
    for message in mailbox.messages:
        body = message.get_content()
        # The counts in their order (orphans, missing, stale), whatever the language.
        assert re.findall(r"\d+", body) == ["3", "1", "2"]
        assert REPAIR in body
    (english,) = [m for m in mailbox.messages if m["To"] == firm["admin"].email]
    (spanish,) = [m for m in mailbox.messages if m["To"] == firm["admin_es"].email]
    # Written in Spanish: its greeting is already translated ("Hola,").
    assert not spanish.get_content().startswith("Hello,")
    body = english.get_content()
    assert body.startswith("Hello,")
    assert "Stored files with no record in the database: 3" in body
    assert "Records in the database whose file is missing from storage: 1" in body
    assert "Uploads started and never finished: 2" in body
    assert audit_details("storage.reconcile_reported") == [
        {"orphans": 3, "missing": 1, "stale": 2}]
    # Only a report: nothing was deleted, aborted or marked.
    stored = {o.key for o in app.extensions["storage"].list_objects("cases/")}
    assert set(orphans) <= stored and pending(app) == uploads
    assert audit_details("storage.reconciled") == []


def test_nothing_is_sent_when_bucket_and_database_agree(app, firm, make_case, mailbox):
    case = make_case(attorney=firm["attorney"])
    add_row(case, firm["attorney"], with_object=True, app=app)
    assert reconcile.report_to_admins(grace=timedelta(0)).clean
    tasks.report_storage_to_admins.call_local()  # the job itself
    assert mailbox.messages == [] and outbox_rows() == []
    assert audit_details("storage.reconcile_reported") == []


def test_the_weekly_job_leaves_objects_younger_than_the_grace_alone(app, firm, mailbox):
    put_orphan(app)  # may be an upload finishing right now
    start_upload(app)
    assert reconcile.report_to_admins().clean  # the default grace: an hour
    tasks.report_storage_to_admins.call_local()
    assert mailbox.messages == [] and outbox_rows() == []
    assert audit_details("storage.reconcile_reported") == []
