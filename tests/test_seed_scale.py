"""``flask seed-scale`` (portal/dev/scale.py) at a tiny scale: it writes the
counts its plan promises, the messages read through the thread page, the
audit chain verifies, storage and database agree, and it refuses production
and a database that already holds cases."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import audit, create_app
from portal.dev import scale
from portal.evidence.reconcile import reconcile
from portal.extensions import db
from portal.models import (AuditEvent, Case, CaseDeadline, DocumentRequest, DocumentVersion,
                           Message, MessageThread, ObjectState, RequestState, Role, StoredObject,
                           User, VersionStatus)
from portal.models.message import CLIENT_THREAD
from portal.models.types import utcnow
from tests.test_config import COMPLETE

SCALE, OBJECTS = 0.002, 2


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture()
def seeded(runner):
    """The firm at ``SCALE``, seeded through the command line; its plan."""
    result = runner.invoke(args=["seed-scale", "--scale", str(SCALE), "--objects", str(OBJECTS)])
    assert result.exit_code == 0, result.output
    assert scale.PASSWORD in result.output and scale.email(Role.CLIENT, 1) in result.output
    return scale.Plan.for_scale(SCALE, OBJECTS)


def heavy_case() -> Case:
    client = db.session.scalar(select(User).where(User.email == scale.email(Role.CLIENT, 1)))
    return db.session.scalar(select(Case).where(Case.memberships.any(user_id=client.id)))


def test_seed_scale_writes_what_its_plan_says(app, seeded):
    plan = seeded
    for role, planned in ((Role.ADMIN, plan.admins), (Role.ATTORNEY, plan.attorneys),
                          (Role.STAFF, plan.staff), (Role.CLIENT, plan.clients),
                          (Role.SPONSOR, plan.sponsors)):
        assert count(User, User.role == role) == planned, role
    assert count(Case) == plan.cases
    assert count(DocumentRequest) == plan.requests
    assert count(CaseDeadline) == plan.deadlines
    assert count(DocumentVersion) == plan.versions
    assert count(Message) == plan.messages
    assert count(AuditEvent) == plan.audit_rows + 1  # and the seed's own record
    # The shapes the benchmark measures: the heavy case's long client thread and
    # its sponsors' threads, and the review queue and overdue list have work.
    case = heavy_case()
    threads = dict(db.session.execute(
        select(MessageThread.audience, func.count(Message.id)).join(Message)
        .where(MessageThread.case_id == case.id).group_by(MessageThread.audience)).all())
    assert threads.pop(CLIENT_THREAD) == plan.heavy_thread
    assert list(threads.values()) == [plan.sponsor_thread_length] * plan.sponsor_threads
    assert count(DocumentRequest, DocumentRequest.state == RequestState.SUBMITTED) > 0
    assert count(DocumentRequest, DocumentRequest.state == RequestState.REQUESTED,
                 DocumentRequest.due_on < utcnow().date()) > 0


def test_seeded_files_are_real_or_marked_missing_so_reconcile_is_clean(app, seeded):
    stored = count(StoredObject, StoredObject.state == ObjectState.STORED)
    assert stored == seeded.objects == len(list(app.extensions["storage"].list_objects("cases/")))
    assert count(DocumentVersion, DocumentVersion.status == VersionStatus.MISSING) \
        == seeded.versions - seeded.objects
    assert reconcile(grace=timedelta(0)).clean


def test_seeded_messages_read_through_the_thread_page(app, seeded, client):
    attorney = scale.email(Role.ATTORNEY, 1)
    response = client.submit("/login", {"email": attorney, "password": scale.PASSWORD})
    assert response.status_code == 302
    page = client.get(f"/cases/{heavy_case().uuid}/messages")
    assert page.status_code == 200
    text = html.unescape(page.text)
    shown = [s for sentences in scale.SENTENCES.values() for s in sentences if s in text]
    assert len(shown) >= 2
    # Every body on the page decrypted (a failure would be audited as unreadable).
    assert count(AuditEvent, AuditEvent.action == "message.unreadable") == 0


def test_seeded_audit_chain_verifies(app, seeded):
    report = audit.verify()
    assert report.broken is None
    assert report.rows == seeded.audit_rows + 1
    last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1))
    assert last.action == "dev.scale_seeded"


def test_seed_scale_refuses_a_database_with_cases(app, runner, make_case):
    make_case()
    users = count(User)
    result = runner.invoke(args=["seed-scale", "--scale", str(SCALE), "--objects", "0"])
    assert result.exit_code == 1
    assert "already holds cases" in result.output
    assert count(User) == users and count(Case) == 1


def test_seed_scale_is_never_offered_nor_run_in_production():
    app = create_app("production", COMPLETE)
    result = app.test_cli_runner().invoke(args=["seed-scale", "--scale", "0.001"])
    assert result.exit_code != 0 and "No such command" in result.output
    with app.app_context(), pytest.raises(scale.Refused, match="never runs in production"):
        scale.seed(SCALE, objects=0)
