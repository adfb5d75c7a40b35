"""The audit trail is a hash chain: one line however many write at once,
checked by ``flask audit verify``, its head logged daily; and what the
trail must hold (views, downloads, refused access) is recorded.

Each test fails when the rule it names is removed from portal/audit.py,
portal/permissions.py or portal/evidence.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, insert, select, update

from portal import audit, create_app, jobs
from portal.audit_trail import tasks
from portal.extensions import db
from portal.models import AuditEvent, Case, DocumentVersion
from tests.conftest import PASSWORD
from tests.messages import post_thread
from tests.uploads import PDF, upload

events = AuditEvent.__table__


def chain() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.sequence)))


def actions(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.sequence)))


def assert_one_unbroken_line(expected_rows: int) -> None:
    """Sequences 1..n, each row linked to the one before, no two rows on
    the same predecessor, every hash recomputed."""
    rows = chain()
    assert len(rows) == expected_rows
    assert [row.sequence for row in rows] == list(range(1, expected_rows + 1))
    assert [row.previous_hash for row in rows] == [audit.GENESIS] + [r.content_hash
                                                                     for r in rows[:-1]]
    assert len({row.previous_hash for row in rows}) == expected_rows  # no fork
    report = audit.verify()
    assert report.broken is None and report.rows == expected_rows
    assert report.head == rows[-1].content_hash


# --- the chain -----------------------------------------------------------------

def test_events_are_chained_in_the_order_they_are_recorded(app, make_user):
    lawyer = make_user("attorney")
    audit.record("test.first", actor=lawyer, target="one", n=1)
    audit.record("test.second", target="two", nested={"b": [1, 2], "a": "ü"})
    db.session.commit()
    audit.record("test.third")
    db.session.commit()

    rows = chain()
    assert [row.action for row in rows] == ["test.first", "test.second", "test.third"]
    assert_one_unbroken_line(3)
    first = rows[0]
    # The hash covers the content and the link, and not the id.
    assert first.content_hash == audit.content_hash(
        audit.GENESIS, first.occurred_at, lawyer.id, "test.first", None, "one", None, {"n": 1})


def test_a_time_set_before_the_commit_is_the_one_hashed(app):
    """(The calendar feed dates its fetches itself.)"""
    when = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    audit.record("test.dated").occurred_at = when
    db.session.commit()
    (row,) = chain()
    assert row.occurred_at == when
    assert audit.verify().broken is None


def test_audit_rows_cannot_be_changed_or_deleted_through_the_session(app):
    audit.record("test.kept", n=1)
    db.session.commit()
    (row,) = chain()
    row.target = "changed"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, row.id))
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert_one_unbroken_line(1)


def _write_at_once(app, writers: int, each: int) -> list[str]:
    """``writers`` threads, released together, each committing ``each``
    transactions of one or two events (holding each open a moment after
    its flush, to widen any race). Returns the errors they met."""
    start = threading.Barrier(writers)
    errors: list[str] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                start.wait(30)
                for i in range(each):
                    audit.record("test.concurrent", target=f"{n}-{i}", writer=n)
                    if i % 3 == 0:
                        audit.record("test.concurrent", target=f"{n}-{i}b", writer=n)
                    db.session.flush()
                    time.sleep(0.002)
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # reported by the test
            errors.append(repr(error))
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


WRITERS, EACH = 8, 25
ROWS = WRITERS * (EACH + len(range(0, EACH, 3)))


postgresql_only = pytest.mark.skipif(
    not os.environ.get("PORTAL_TEST_DATABASE_URL"),
    reason="needs PostgreSQL (set PORTAL_TEST_DATABASE_URL): its writers run in parallel, "
           "and only the advisory lock keeps them in line")


@postgresql_only
def test_eight_writers_at_once_never_fork_the_chain_on_postgresql(app):
    assert db.engine.dialect.name == "postgresql"
    assert _write_at_once(app, WRITERS, EACH) == []
    assert_one_unbroken_line(ROWS)


def _view(case) -> None:
    audit.record("test.viewed", case=case)


def _edit(case) -> None:
    case.title = "Changed meanwhile"  # flushed at the commit: waits for the row
    audit.record("test.viewed")


@postgresql_only
@pytest.mark.parametrize("work", [_view, _edit], ids=["entry about the case", "case changed"])
def test_a_writer_waiting_for_a_locked_case_does_not_hold_the_chain_on_postgresql(
        app, make_case, work):
    """An upload locks its case's row, then records. A transaction that
    records about that case (its insert checks the case row) or changes it,
    committed meanwhile, must wait for the row before it takes the chain's
    lock: the other way round, each would wait for the other."""
    case_id = make_case().id
    locked = threading.Event()
    errors: list[str] = []

    def run(step) -> None:
        try:
            with app.app_context():
                step(db.session.get(Case, case_id))
                db.session.commit()
                db.session.remove()
        except Exception as error:  # reported by the test
            errors.append(repr(error))
            locked.set()

    def upload(case) -> None:
        db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
        locked.set()
        time.sleep(0.5)  # the other transaction commits meanwhile
        audit.record("test.uploaded", case=case)

    def meanwhile(case) -> None:
        locked.wait(10)
        work(case)
    threads = [threading.Thread(target=run, args=(step,)) for step in (upload, meanwhile)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [row.action for row in chain()] == ["test.uploaded", "test.viewed"]
    assert_one_unbroken_line(2)


def test_eight_writers_at_once_never_fork_the_chain_on_sqlite(base_config, tmp_path):
    """SQLite serializes writers by its database lock, provided the head is
    read once this transaction holds it (pysqlite begins late)."""
    app = create_app("testing", {**base_config,
                                 "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/chain.db"})
    with app.app_context():
        upgrade()
        try:
            assert _write_at_once(app, WRITERS, EACH) == []
            assert_one_unbroken_line(ROWS)
        finally:
            db.session.remove()
            db.engine.dispose()


# --- flask audit verify ----------------------------------------------------------

@pytest.fixture()
def scenario(app, client, login_as, make_user, make_case):
    """A morning at the firm: a mistyped password, the client signs in,
    uploads her passport and writes; the attorney signs in, opens the
    document and downloads it."""
    lawyer, client_user = make_user("attorney"), make_user("client")
    case = make_case(attorney=lawyer, client=client_user)
    client.submit("/login", {"email": client_user.email, "password": "not-" + PASSWORD})
    login_as(client_user)
    upload(client, f"/cases/{case.uuid}/documents", [("passport.pdf", [PDF])])
    post_thread(client, f"/cases/{case.uuid}/messages", "The passport is uploaded.")
    client.submit("/logout")
    login_as(lawyer)
    version = db.session.scalar(select(DocumentVersion))
    assert client.get(f"/cases/{case.uuid}/documents/{version.document.uuid}").status_code == 200
    assert client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download").data == PDF
    recorded = {row.action for row in chain()}
    assert {"auth.login_failed", "auth.login", "document.uploaded", "message.posted",
            "auth.logout", "document.viewed", "document.downloaded"} <= recorded
    return chain()


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_verify_passes_on_an_untouched_trail(scenario, runner):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"Audit chain intact: {len(scenario)} rows, "
                                     f"head {scenario[-1].content_hash}.")


def test_verify_on_an_empty_trail_passes_with_the_genesis_head(app, runner):
    result = verify(runner)
    assert result.exit_code == 0
    assert f"0 rows, head {audit.GENESIS}" in result.output


def _broken_at(runner, row_id: int, action: str, why: str) -> None:
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"Broken at row {row_id} " in result.output
    assert action in result.output and why in result.output


def test_verify_names_a_row_whose_details_were_altered(scenario, runner):
    altered = next(row for row in scenario if row.action == "document.downloaded")
    db.session.execute(update(events).where(events.c.id == altered.id)
                       .values(details={"note": "nothing happened"}))
    db.session.commit()
    _broken_at(runner, altered.id, "document.downloaded", "content altered")


def test_verify_names_a_row_whose_hash_was_recomputed_after_a_change(scenario, runner):
    """Rewriting a row and its own hash breaks the next row's link."""
    altered, after = scenario[3], scenario[4]
    forged = audit.content_hash(altered.previous_hash, altered.occurred_at, altered.actor_id,
                                "auth.logout", altered.case_id, altered.target,
                                altered.ip_address, altered.details)
    db.session.execute(update(events).where(events.c.id == altered.id)
                       .values(action="auth.logout", content_hash=forged))
    db.session.commit()
    _broken_at(runner, after.id, after.action, "previous link wrong")


def test_verify_names_the_gap_left_by_a_deleted_row(scenario, runner):
    deleted, after = scenario[2], scenario[3]
    db.session.execute(delete(events).where(events.c.id == deleted.id))
    db.session.commit()
    _broken_at(runner, after.id, after.action, "row missing")


@pytest.mark.parametrize("repair_next_link", [False, True])
def test_verify_names_a_forged_row_inserted_into_the_chain(scenario, runner, repair_next_link):
    """A forger who knows the format puts a row between two others, renumbers
    the rest and hashes the row correctly; a careful one also points the next
    row's link at it. The next row's own hash covers its link: found both ways."""
    before, after = scenario[2], scenario[3]
    # Make room (two steps: a unique index is checked row by row on PostgreSQL).
    db.session.execute(update(events).where(events.c.sequence > before.sequence)
                       .values(sequence=-events.c.sequence))
    db.session.execute(update(events).where(events.c.sequence < 0)
                       .values(sequence=1 - events.c.sequence))
    when = before.occurred_at + timedelta(microseconds=1)
    details = {"note": "downloaded by the client herself"}
    digest = audit.content_hash(before.content_hash, when, None, "document.downloaded",
                                before.case_id, None, "203.0.113.9", details)
    forged_id = db.session.execute(insert(events).values(
        sequence=before.sequence + 1, occurred_at=when, actor_id=None,
        action="document.downloaded", case_id=before.case_id, target=None,
        ip_address="203.0.113.9", details=details, previous_hash=before.content_hash,
        content_hash=digest).returning(events.c.id)).scalar_one()
    if repair_next_link:
        db.session.execute(update(events).where(events.c.id == after.id)
                           .values(previous_hash=digest))
    db.session.commit()
    _broken_at(runner, forged_id, "document.downloaded", "row inserted")


# --- the daily head ------------------------------------------------------------

def test_the_daily_job_logs_the_chain_head(app, caplog):
    assert "portal.audit_trail.tasks" in jobs.TASK_MODULES
    # The consumer runs it once a day, at 03:15 UTC.
    assert "log_chain_head" in {task.name for task in jobs.huey.read_periodic(
        datetime(2027, 1, 4, 3, 15))}
    for hour, minute in ((3, 16), (4, 15), (15, 15)):
        assert "log_chain_head" not in {task.name for task in jobs.huey.read_periodic(
            datetime(2027, 1, 4, hour, minute))}
    for n in range(3):
        audit.record("test.logged", n=n)
    db.session.commit()
    head = chain()[-1].content_hash
    with caplog.at_level(logging.INFO, logger="portal"):
        tasks.log_chain_head()  # enqueued, and run at once in the tests' immediate mode
    assert f"audit chain head: 3 rows, {head}" in caplog.messages


# --- what the trail holds ----------------------------------------------------------

@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, sponsor = make_user("attorney"), make_user("client"), make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor])
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case)


def test_opening_a_document_and_downloading_an_attachment_are_recorded(
        app, client, login_as, people):
    case = people["case"]
    login_as(people["client"])
    post_thread(client, f"/cases/{case.uuid}/messages", "The letter.",
                [("letter.pdf", PDF + b"letter")])
    client.submit("/logout")
    login_as(people["lawyer"])
    version = db.session.scalar(select(DocumentVersion))
    client.get(f"/cases/{case.uuid}/documents/{version.document.uuid}")
    client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    (viewed,) = actions("document.viewed")
    (downloaded,) = actions("document.downloaded")
    for row in (viewed, downloaded):
        assert (row.actor_id, row.case_id) == (people["lawyer"].id, case.id)
    assert viewed.target == str(version.document.uuid)
    assert downloaded.target == str(version.uuid)


@pytest.mark.parametrize("who, method, path, status", [
    ("client", "POST", "/cases/{case}/stage", 403),  # the firm's change
    ("sponsor", "GET", "/cases/{case}/audit", 403),
    ("client", "GET", "/cases/not-a-uuid", 404),  # refused before any lookup
])
def test_a_signed_in_persons_refusal_on_a_page_is_recorded_with_its_path(
        app, client, login_as, people, who, method, path, status):
    case = people["case"]
    login_as(people[who])
    path = path.format(case=case.uuid)
    response = client.submit(path) if method == "POST" else client.get(path)
    assert response.status_code == status
    (denied,) = actions("access.denied")
    assert (denied.actor_id, denied.target) == (people[who].id, path)
    assert denied.details["status"] == status and denied.details["method"] == method
    # A refusal on a case's page is on that case's trail.
    assert denied.case_id == (case.id if "not-a-uuid" not in path else None)


def test_a_refusal_already_recorded_is_not_recorded_twice(app, client, login_as, people,
                                                           make_user):
    login_as(make_user("client"))
    assert client.get(f"/cases/{people['case'].uuid}").status_code == 404
    assert len(actions("case.access_denied")) == 1
    assert actions("access.denied") == []


def test_anonymous_and_unknown_addresses_leave_no_trace(app, client, login_as, people):
    assert client.get("/no-such-page").status_code == 404
    assert client.get("/reset").status_code == 404  # a public page's own 404
    assert chain() == []
    login_as(people["client"])
    before = len(chain())
    assert client.get("/no-such-page").status_code == 404  # no page: nothing was refused
    assert len(chain()) == before
    assert actions("access.denied") == []

