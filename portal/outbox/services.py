"""Writing, delivering, sweeping and retrying outbox messages.

A message is written in the caller's transaction and a delivery job is
enqueued once it commits. The job claims the row with a conditional UPDATE
(only one job can move it from pending/retry to sending), sends, then marks
it sent: a second job for the same row finds nothing to claim. A job that
crashes between claim and mark leaves the row 'sending'; once the lease is
over the sweep calls it 'unknown' (it may have gone out) and never resends
it by itself: an admin looks and may retry. Delivery is thus at most once
without an admin, and each message carries one Message-ID on every attempt.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal import audit, crypto, jobs
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import OutboxMessage, OutboxState, Role, User
from portal.models.outbox import RETRYABLE, SENDABLE
from portal.models.types import utcnow

log = logging.getLogger(__name__)
# The most rows one sweep hands to the queue; the next sweep takes the rest.
SWEEP_BATCH = 500
# The most sent messages one statement of a purge redacts, and the most such
# statements (each its own transaction) one run makes; the next run goes on.
PURGE_BATCH = 500
PURGE_BATCHES_PER_RUN = 10
# What a purged message's recipient reads (the column cannot be NULL).
REDACTED_RECIPIENT = ""


def _associated(message_uuid: uuid.UUID) -> bytes:
    """Binds a sealed context to its row: moved to another row, it does not open."""
    return b"portal/outbox/" + message_uuid.bytes


def queue(recipient: str, language: str, kind: str, context: dict) -> OutboxMessage:
    """Add an email of ``kind`` (a template under templates/email/) to the
    session, its ``context`` sealed; it is delivered after the caller commits
    and dropped if the caller rolls back."""
    from portal.outbox import tasks

    message_uuid = uuid.uuid4()
    domain = urlsplit(current_app.config.get("BASE_URL") or "").hostname or "portal.invalid"
    message = OutboxMessage(
        uuid=message_uuid, recipient=recipient, language=language, template=kind,
        sealed_context=crypto.seal(json.dumps(context).encode(), _associated(message_uuid)),
        state=OutboxState.PENDING, attempts=0, next_attempt_at=utcnow(),
        message_id=make_msgid(domain=domain))
    db.session.add(message)
    jobs.after_commit(db.session, tasks.deliver, str(message_uuid))
    return message


def _retry_delay(attempts: int) -> timedelta:
    minutes = current_app.config["OUTBOX_RETRY_MINUTES"]
    return timedelta(minutes=minutes[min(attempts, len(minutes)) - 1])


def deliver(message_uuid: uuid.UUID) -> bool:
    """Send the message if it is still to be sent and no other job has
    claimed it; returns True when this call sent it. A failure is recorded
    on the row (retried later, or 'failed' after ``OUTBOX_MAX_ATTEMPTS``)."""
    now = utcnow()
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.uuid == message_uuid, OutboxMessage.state.in_(SENDABLE))
        .values(state=OutboxState.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()  # the claim is visible to every other job before we send
    if claimed != 1:
        return False
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.uuid == message_uuid))
    mailer = current_app.extensions["mailer"]
    try:
        context = json.loads(crypto.unseal(message.sealed_context, _associated(message.uuid)))
        subject, body = mailer.render(message.template, message.language, context)
        mailer.send(message.recipient, subject, body, message.message_id)
    except Exception as error:  # noqa: BLE001  (whatever failed, the row says so; retried)
        _record_failure(message, error, now)
        return False
    message.state = OutboxState.SENT
    message.sent_at = utcnow()
    message.claimed_at = None
    message.sealed_context = None  # the link in it is of no further use to anyone
    db.session.commit()
    return True


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> None:
    # Never the body or context: only what the server or the socket said.
    message.last_error = f"{type(error).__name__}: {error}"[:500]
    message.claimed_at = None
    if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        message.state = OutboxState.FAILED
    else:
        message.state = OutboxState.RETRY
        message.next_attempt_at = now + _retry_delay(message.attempts)
    log.warning("mail %s not sent (attempt %s): %s", message.uuid, message.attempts,
                message.last_error)
    db.session.commit()


def sweep(now: datetime | None = None) -> int:
    """The periodic job's work: call 'unknown' the messages claimed longer
    than the lease ago (their job died mid-send), and enqueue delivery of the
    messages whose time has come (never enqueued, or waiting to retry).
    Returns how many were enqueued."""
    from portal.outbox import tasks

    now = now or utcnow()
    lease = timedelta(minutes=current_app.config["OUTBOX_LEASE_MINUTES"])
    stuck = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_at < now - lease)
        .values(state=OutboxState.UNKNOWN)
        .execution_options(synchronize_session=False)).rowcount
    if stuck:
        log.error("%s outbox message(s) were being sent when their job died; "
                  "an admin decides whether to send them again", stuck)
    due = db.session.scalars(
        select(OutboxMessage.uuid)
        .where(OutboxMessage.state.in_(SENDABLE), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at).limit(SWEEP_BATCH)).all()
    db.session.commit()
    for message_uuid in due:
        tasks.deliver(str(message_uuid))
    return len(due)


def purge_sent(now: datetime | None = None) -> int:
    """The hourly job's work: forget who got each email sent more than
    ``OUTBOX_KEEP_SENT_DAYS`` days before ``now``. The recipient address
    and the last error (a mail server's reply may quote the address) are
    blanked; the sealed context was wiped at send already (set to NULL
    again all the same). The row stays (kind, language, state, dates,
    Message-ID) for the counts and for whatever shows that an email went
    out, and so does the audit trail. Works in batches of ``PURGE_BATCH``
    rows, at most ``PURGE_BATCHES_PER_RUN`` a run, each committed on its
    own; returns how many messages it purged."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["OUTBOX_KEEP_SENT_DAYS"])
    purged = 0
    for _ in range(PURGE_BATCHES_PER_RUN):
        batch = db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == OutboxState.SENT, OutboxMessage.sent_at < cutoff,
                   OutboxMessage.recipient != REDACTED_RECIPIENT)
            .order_by(OutboxMessage.sent_at).limit(PURGE_BATCH)).all()
        if not batch:
            break
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(batch), OutboxMessage.state == OutboxState.SENT)
            .values(recipient=REDACTED_RECIPIENT, last_error=None, sealed_context=None)
            .execution_options(synchronize_session=False))
        db.session.commit()
        purged += len(batch)
    if purged:
        log.info("forgot the recipients of %s email(s) sent before %s", purged,
                 f"{cutoff:%Y-%m-%d %H:%M}")
    return purged


def retry(actor: User, message: OutboxMessage) -> None:
    """An admin sends a failed (or unknown) message again, from the first
    attempt. Raises ``ServiceError`` if ``actor`` is not an admin or the
    message is not failed or unknown."""
    from portal.outbox import tasks

    if actor.role is not Role.ADMIN:
        raise ServiceError(_l("You do not have permission to do that."))
    if message.state not in RETRYABLE or message.sealed_context is None:
        raise ServiceError(_l("This message is not waiting for a retry."))
    previous = message.state
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.claimed_at = None
    audit.record("outbox.retried", actor=actor, target=str(message.uuid),
                 previous_state=previous.value)
    jobs.after_commit(db.session, tasks.deliver, str(message.uuid))
    db.session.commit()


def backlog(limit: int = 500) -> list[OutboxMessage]:
    """Messages not sent yet (pending, retrying, sending, failed, unknown), newest first."""
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.state != OutboxState.SENT)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)))


def counts() -> dict[OutboxState, int]:
    """How many messages are in each state."""
    rows = db.session.execute(select(OutboxMessage.state, func.count())
                              .group_by(OutboxMessage.state))
    return {state: count for state, count in rows}
