"""The mail outbox: every email is a row written with its change, delivered
once by a job, retried with back-off, swept, and shown to admins.

Most tests run jobs in this process; two run a real ``huey_consumer``
process on a SQLite queue and kill it (SIGKILL) mid-job.
"""
from __future__ import annotations

import signal
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from portal import crypto, jobs, notify
from portal.cases.invitations import create_firm_account, invite_to_case
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from portal.models import AuditEvent, Invitation, OutboxMessage, OutboxState, Role
from portal.models.case import CaseRole
from portal.models.types import utcnow
from portal.outbox import services as outbox
from portal.outbox import tasks
from tests.conftest import PASSWORD, Mailbox
from tests.jobs import (consumer_queue, pending_jobs, queued_jobs, run_jobs,  # noqa: F401
                        start_consumer, stop, wait_until)

def messages() -> list[OutboxMessage]:
    db.session.commit()  # see what other sessions and processes committed
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def later(minutes: int):
    return utcnow() + timedelta(minutes=minutes)


def invite_people(make_user, make_case, emails) -> None:
    attorney = make_user("attorney")
    case = make_case(attorney=attorney)
    for email in emails:
        invite_to_case(attorney, case, email, "Someone", CaseRole.CLIENT, "en")


# --- written with the change ---------------------------------------------------

def test_the_email_is_a_row_committed_with_the_invitation_and_sent_after(app, make_user,
                                                                          make_case, mailbox):
    with queued_jobs(app):
        invite_people(make_user, make_case, ["rosa@example.org"])
        (message,) = messages()
        assert message.state is OutboxState.PENDING and message.template == "invitation"
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
        assert mailbox.messages == [] and pending_jobs() == ["deliver"]
        run_jobs()
    (sent,) = mailbox.messages
    assert sent["To"] == "rosa@example.org" and sent["Message-ID"] == message.message_id
    (message,) = messages()
    assert message.state is OutboxState.SENT and message.sent_at and message.attempts == 1


def test_when_the_email_cannot_be_queued_the_change_is_not_saved_either(app, make_user):
    crypto_service = app.extensions["crypto"]
    crypto_service._master_key, crypto_service._master_primitive = None, None  # sealing fails
    with queued_jobs(app):
        with pytest.raises(RuntimeError):
            create_firm_account(make_user("admin"), "new@firm.org", "New", Role.STAFF, "en")
        db.session.rollback()  # as the request's teardown does
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert messages() == [] and pending_jobs() == []


def test_a_rolled_back_change_enqueues_nothing(app):
    with queued_jobs(app):
        notify.queue_added_to_case("ana@example.org", "en")
        db.session.rollback()
        db.session.commit()  # a later commit of the same session
        assert messages() == [] and pending_jobs() == []


# --- secrets sealed ----------------------------------------------------------------

def test_the_link_is_sealed_in_the_row_bound_to_it_and_wiped_once_sent(app, make_user,
                                                                      make_case, mailbox):
    with queued_jobs(app):
        invite_people(make_user, make_case, ["rosa@example.org", "ines@example.org"])
        first, second = messages()
        sealed = first.sealed_context
        assert b"http" not in sealed and b"/invitation/" not in sealed
        # Moved to another row, a sealed context does not open.
        with pytest.raises(crypto.CryptoError):
            crypto.unseal(sealed, outbox._associated(second.uuid))
        run_jobs()
    (link,) = mailbox.links(mailbox.messages[0])
    token = link.rsplit("/", 1)[1]
    assert token.encode() not in sealed
    assert [m.sealed_context for m in messages()] == [None, None]


# --- delivered once ----------------------------------------------------------------

def test_a_second_job_for_the_same_message_sends_nothing(app, mailbox):
    with queued_jobs(app):
        notify.queue_added_to_case("ana@example.org", "es")
        db.session.commit()
        (message,) = messages()
        tasks.deliver(str(message.uuid))  # a duplicate, e.g. from a sweep
        assert run_jobs() == 2
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]
    assert outbox.deliver(message.uuid) is False and len(mailbox.messages) == 1


def test_a_message_claimed_by_another_job_is_left_to_it(app, mailbox):
    with queued_jobs(app):
        notify.queue_added_to_case("ana@example.org", "en")
        db.session.commit()
        (message,) = messages()
        with db.engine.begin() as other_job:  # claims it first, on its own connection
            other_job.execute(update(OutboxMessage).values(state=OutboxState.SENDING,
                                                           claimed_at=utcnow()))
        assert outbox.deliver(message.uuid) is False
    assert mailbox.messages == []


# --- faults: mail server down, crash before enqueue, consumer not running ------------------

def test_mail_down_for_a_while_retries_with_back_off_then_sends_each_once(app, make_user,
                                                                         make_case, mailbox,
                                                                         smtp_server):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    invite_people(make_user, make_case, ["a@example.org", "b@example.org"])
    assert {m.state for m in messages()} == {OutboxState.RETRY}
    assert all(m.next_attempt_at > later(0) for m in messages())
    assert outbox.sweep() == 0  # not yet their time
    outbox.sweep(now=later(2))  # second attempt fails too: wait longer now
    assert [m.attempts for m in messages()] == [2, 2]
    assert all(m.next_attempt_at > later(4) for m in messages())

    app.config["MAIL_PORT"] = smtp_server.port  # back up
    outbox.sweep(now=later(10))
    outbox.sweep(now=later(100))
    assert sorted(m["To"] for m in mailbox.messages) == ["a@example.org", "b@example.org"]
    assert {m.state for m in messages()} == {OutboxState.SENT}


def test_after_the_last_attempt_a_message_is_failed_and_no_longer_tried(app, make_user,
                                                                       make_case, mailbox,
                                                                       smtp_server):
    app.config.update(MAIL_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=2)
    invite_people(make_user, make_case, ["a@example.org"])
    outbox.sweep(now=later(2))
    (message,) = messages()
    assert message.state is OutboxState.FAILED and message.attempts == 2
    app.config["MAIL_PORT"] = smtp_server.port
    assert outbox.sweep(now=later(1000)) == 0 and mailbox.messages == []


def test_a_crash_between_commit_and_enqueue_is_covered_by_the_sweep(app, mailbox):
    with queued_jobs(app):
        notify.queue_added_to_case("ana@example.org", "en")
        db.session.commit()
        jobs.huey.flush()  # the enqueued job is lost, as if the process died first
        assert pending_jobs() == [] and mailbox.messages == []
        tasks.sweep()  # the periodic job, run by the consumer every minute
        run_jobs()
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]


def test_without_a_consumer_the_app_works_and_admins_see_the_backlog(app, client, login_as,
                                                                    make_user, make_case,
                                                                    mailbox):
    with queued_jobs(app):  # nobody runs the queue
        attorney = make_user("attorney")
        case = make_case(attorney=attorney)
        login_as(attorney)
        response = client.submit(f"/cases/{case.uuid}/invite",
                                 {"name": "Rosa", "email": "rosa@example.org",
                                  "case_role": "client", "language": "es"})
        assert response.status_code == 302
        client.post("/logout", data={"csrf_token": client.csrf_token()})
        login_as(make_user("admin"))
        page = client.get("/admin/outbox").text
    assert "rosa@example.org" in page and "Waiting to be sent" in page
    assert mailbox.messages == []


# --- the admin page ------------------------------------------------------------------

def test_admin_sees_a_failed_message_without_its_body_and_retries_it(app, client, login_as,
                                                                    make_user, make_case,
                                                                    mailbox, smtp_server):
    app.config.update(MAIL_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=1)
    invite_people(make_user, make_case, ["rosa@example.org"])
    (message,) = messages()
    assert message.state is OutboxState.FAILED
    admin = make_user("admin")
    login_as(admin)
    page = client.get("/admin/outbox").text
    assert "rosa@example.org" in page and "Failed" in page and "Connection refused" in page
    assert "/invitation/" not in page  # never the body or its link

    app.config["MAIL_PORT"] = smtp_server.port
    response = client.submit(f"/admin/outbox/{message.uuid}/retry")
    assert response.status_code == 303
    assert [m["To"] for m in mailbox.messages] == ["rosa@example.org"]
    assert messages()[0].state is OutboxState.SENT
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.retried"))
    assert event.actor_id == admin.id and event.target == str(message.uuid)
    # Sent: nothing to retry any more.
    client.submit(f"/admin/outbox/{message.uuid}/retry")
    assert "not waiting for a retry" in client.get("/admin/outbox").text
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize("role", ["client", "sponsor", "attorney", "staff"])
def test_only_admins_see_the_outbox_or_retry(app, make_user, make_case, role, mailbox):
    app.config.update(MAIL_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=1)
    invite_people(make_user, make_case, ["rosa@example.org"])
    (message,) = messages()
    browser = app.test_client()
    browser.submit("/login", {"email": make_user(role).email, "password": PASSWORD})
    assert browser.get("/admin/outbox").status_code == 403
    assert browser.submit(f"/admin/outbox/{message.uuid}/retry").status_code == 403
    with pytest.raises(Exception, match="permission"):
        outbox.retry(make_user(role), message)
    assert messages()[0].state is OutboxState.FAILED


# --- a real consumer process, killed mid-job --------------------------------------------

class HeldMailbox(Mailbox):
    """A real SMTP server that holds the first message it receives until released."""

    def __init__(self):
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(60)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture()
def held_mailbox():
    server = HeldMailbox()
    server.start()
    yield server
    server.release.set()
    server.stop()


def test_a_consumer_killed_mid_send_loses_nothing_and_sends_nothing_twice(
        app, consumer_queue, held_mailbox, tmp_path):
    recipients = ["a@example.org", "b@example.org", "c@example.org"]
    for email in recipients:
        notify.queue_added_to_case(email, "en")
    db.session.commit()
    log = tmp_path / "consumer.log"
    first = start_consumer(app, consumer_queue, held_mailbox.port, log)
    try:
        assert held_mailbox.entered.wait(60), log.read_text()
        first.send_signal(signal.SIGKILL)  # mid-send: the server holds the first message
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    held_mailbox.release.set()  # the server had the whole message: it was delivered
    wait_until(lambda: len(held_mailbox.messages) == 1, "the held message")
    states = [m.state for m in messages()]
    assert states == [OutboxState.SENDING, OutboxState.PENDING, OutboxState.PENDING]

    # The lease of the dead job runs out (the clock moved), then a consumer runs again.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.state == OutboxState.SENDING)
                       .values(claimed_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    second = start_consumer(app, consumer_queue, held_mailbox.port, log)
    try:
        tasks.sweep()  # what the consumer's own minute tick would enqueue
        wait_until(lambda: [m.state for m in messages()] == [
            OutboxState.UNKNOWN, OutboxState.SENT, OutboxState.SENT], "the sweep and the sends")
        wait_until(lambda: jobs.huey.pending_count() == 0, "an empty queue")
    finally:
        stop(second)
    # Each person got exactly one email; the one whose send was cut off is
    # 'unknown' (it did go out) and was not resent.
    assert sorted(m["To"] for m in held_mailbox.messages) == recipients


def test_a_real_consumer_makes_the_reset_link_and_sends_it_once(app, consumer_queue,
                                                                held_mailbox, make_user,
                                                                tmp_path):
    user = make_user("client")
    held_mailbox.entered.set()  # hold nothing
    assert app.test_client().submit("/forgot-password", {"email": user.email}).status_code == 302
    assert messages() == []  # the request only enqueued the job
    consumer = start_consumer(app, consumer_queue, held_mailbox.port, tmp_path / "consumer.log")
    try:
        wait_until(lambda: [m.state for m in messages()] == [OutboxState.SENT], "the send")
        wait_until(lambda: jobs.huey.pending_count() == 0, "an empty queue")
    finally:
        stop(consumer)
    (message,) = held_mailbox.messages
    assert message["To"] == user.email and "/reset/" in message.get_content()


# --- sent messages are not kept with their recipient for ever --------------------------

def snapshot(message: OutboxMessage) -> tuple:
    return (message.uuid, message.state, message.template, message.language, message.message_id,
            message.created_at, message.sent_at, message.attempts)


def test_a_month_after_sending_the_recipient_is_forgotten_but_the_row_and_audit_stay(
        app, make_user, make_case, mailbox, smtp_server):
    app.config["MAIL_PORT"] = free_port()  # the first attempt fails: last_error is filled
    invite_people(make_user, make_case, ["rosa@example.org", "ines@example.org"])
    app.config["MAIL_PORT"] = smtp_server.port
    outbox.sweep(now=later(2))
    app.config.update(MAIL_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=1)
    notify.queue_added_to_case("olga@example.org", "en")  # failed: an admin may retry it
    db.session.commit()
    rosa, ines, olga = messages()
    assert [rosa.state, ines.state, olga.state] == [OutboxState.SENT] * 2 + [OutboxState.FAILED]
    assert rosa.last_error and "Connection" in rosa.last_error
    before = [snapshot(m) for m in (rosa, ines)]
    trail = [(e.action, e.target) for e in db.session.scalars(select(AuditEvent)
                                                                 .order_by(AuditEvent.id))]
    assert ("invitation.created", "rosa@example.org") in trail

    assert outbox.purge_sent(now=utcnow() + timedelta(days=29)) == 0
    assert [m.recipient for m in messages()][:2] == ["rosa@example.org", "ines@example.org"]

    assert outbox.purge_sent(now=utcnow() + timedelta(days=31)) == 2
    rosa, ines, olga = messages()
    for message in (rosa, ines):
        assert message.recipient == "" and message.last_error is None
        assert message.sealed_context is None
    assert [snapshot(m) for m in (rosa, ines)] == before  # the row itself stays
    # Not sent: kept whole for the admin, who may send it again.
    assert olga.recipient == "olga@example.org" and olga.sealed_context is not None
    assert olga.last_error
    # The audit trail is append-only: not a row changed or removed.
    assert [(e.action, e.target) for e in db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id))] == trail
    assert outbox.purge_sent(now=utcnow() + timedelta(days=31)) == 0


def test_a_purge_works_in_bounded_batches_oldest_first(app, mailbox, monkeypatch):
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        notify.queue_added_to_case(email, "en")
        db.session.commit()
    for minutes, message in zip((30, 20, 10), messages()):  # sent in that order
        message.sent_at = utcnow() - timedelta(days=40, minutes=minutes)
    db.session.commit()
    monkeypatch.setattr(outbox, "PURGE_BATCH", 2)
    monkeypatch.setattr(outbox, "PURGE_BATCHES_PER_RUN", 1)
    assert outbox.purge_sent() == 2
    assert [m.recipient for m in messages()] == ["", "", "c@example.org"]
    assert outbox.purge_sent() == 1
    assert outbox.purge_sent() == 0
    monkeypatch.setattr(outbox, "PURGE_BATCHES_PER_RUN", 2)
    notify.queue_added_to_case("d@example.org", "en")
    db.session.commit()
    for message in messages():
        message.recipient, message.sent_at = "x@example.org", utcnow() - timedelta(days=40)
    db.session.commit()
    assert outbox.purge_sent() == 4  # two statements of two in one run


def test_the_hourly_job_keeps_sent_recipients_for_the_configured_days(app, mailbox):
    app.config["OUTBOX_KEEP_SENT_DAYS"] = 7
    for email in ("old@example.org", "recent@example.org"):
        notify.queue_added_to_case(email, "en")
        db.session.commit()
    old, recent = messages()
    old.sent_at = utcnow() - timedelta(days=7, hours=1)
    recent.sent_at = utcnow() - timedelta(days=6, hours=23)
    db.session.commit()
    for hour in (0, 13):  # the consumer runs it at twenty past every hour
        assert "purge_sent" in {t.name for t in jobs.huey.read_periodic(datetime(2027, 1, 4,
                                                                                 hour, 20))}
    tasks.purge_sent()  # enqueued, and run at once in the tests' immediate mode
    assert [m.recipient for m in messages()] == ["", "recent@example.org"]
