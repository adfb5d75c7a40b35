"""The audit trail: ``record()`` adds an entry to the caller's transaction,
chained by hash to the entry before it.

Services call it before their single commit, so the entry and the change it
describes land together or not at all.

Tamper evidence: a row's ``content_hash`` is the SHA-256 of its content and
of the previous row's hash, so altering, deleting or inserting a row breaks
the chain there (``verify()``, run by ``flask audit verify``). Someone able
to rewrite the whole table can recompute the whole chain; the head hash
logged every day (``portal.audit_trail.tasks``) and kept elsewhere catches that.

Entries join the chain when their transaction commits (``_chain``): the
rest of the transaction is flushed, then the chain's lock taken, the head
read and the entries inserted after it, and the lock is held until the
commit. Two writers can never build on the same head (a fork), and since
the chain's lock is the last lock a transaction takes, its holder never
waits for another writer, who might be waiting for the chain (a deadlock).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import has_request_context, request
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.orm import Session, SessionTransaction

from portal.extensions import db
from portal.models import AuditEvent, Case, User
from portal.models.types import utcnow

GENESIS = "0" * 64  # the previous hash of the first row
# Key of the PostgreSQL advisory lock that serializes writers of the chain
# (any constant of our own; "audit" in ASCII).
CHAIN_LOCK = 0x6175646974
_PENDING = "portal.audit.pending"  # session.info: entries waiting for the commit


def record(action: str, *, actor: User | None = None, case: Case | None = None,
           target: str | None = None, ip_address: str | None = None,
           **details) -> AuditEvent:
    """Add an audit entry for ``action`` (``noun.verb``) to the session's
    transaction: written, chained, when it commits; forgotten if it rolls back.

    ``details`` must never hold a password, token or document content, and
    must be plain JSON (strings, numbers, booleans, lists, dicts).
    ``ip_address`` is the request's unless given (a job acting on a request's behalf).
    """
    actor_id = actor.id if actor is not None and getattr(actor, "id", None) else None
    event = AuditEvent(
        occurred_at=utcnow(),  # when it happened; its place in the chain is the commit's
        action=action,
        actor_id=actor_id,
        case_id=case.id if case is not None else None,
        target=target,
        ip_address=ip_address or (request.remote_addr if has_request_context() else None),
        details=details,
    )
    db.session.info.setdefault(_PENDING, []).append(event)
    return event


# --- the chain -------------------------------------------------------------

def content_hash(previous_hash: str, occurred_at: datetime, actor_id: int | None, action: str,
                 case_id: int | None, target: str | None, ip_address: str | None,
                 details: dict) -> str:
    """SHA-256 (hex) of a row's content and the hash of the row before it.

    The id is left out (it is allocated before the chain order is known);
    the time is written in UTC with microseconds, and the whole content as
    one JSON array with sorted keys, so no field can bleed into the next.
    Changing this changes every hash: it is the chain's file format
    (migration 0013 keeps a frozen copy).
    """
    if occurred_at.tzinfo is None:  # SQLite gives UTC back without its zone
        occurred_at = occurred_at.replace(tzinfo=timezone.utc)
    when = occurred_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [previous_hash, when, actor_id, action, case_id, target, ip_address, details]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hash_of(row, previous_hash: str) -> str:
    return content_hash(previous_hash, row.occurred_at, row.actor_id, row.action, row.case_id,
                        row.target, row.ip_address, row.details or {})


def _lock_chain(connection: Connection, rows: list[AuditEvent]) -> None:
    """Make this transaction the chain's only writer until it ends."""
    if connection.dialect.name == "postgresql":
        # The inserts' foreign key checks lock the rows they point at (KEY
        # SHARE); taken now, before the chain's lock, so that its holder
        # never waits for a writer holding one of them (an upload locks its case).
        for model, ids in ((User, {r.actor_id for r in rows}), (Case, {r.case_id for r in rows})):
            if ids - {None}:
                connection.execute(select(model.id).where(model.id.in_(ids - {None}))
                                   .with_for_update(read=True, key_share=True))
        # Held until commit or rollback: a concurrent writer waits here, then
        # (READ COMMITTED) reads the head this transaction committed.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    elif connection.dialect.name == "sqlite":
        # A write that changes nothing, to take SQLite's database write lock
        # *before* the head is read: pysqlite only begins a transaction at
        # the first write, so a bare SELECT would read outside of it.
        connection.execute(text("UPDATE audit_events SET id = id WHERE 0"))


@event.listens_for(Session, "before_commit")
def _chain(session: Session) -> None:
    """Insert the transaction's entries after the chain's head, in the order
    they were recorded."""
    rows = session.info.get(_PENDING)
    if not rows or session.in_nested_transaction():
        return  # a savepoint's release: the entries wait for the transaction's commit
    session.flush()  # everything else first: the chain's lock is the last one taken
    del session.info[_PENDING]
    connection = session.connection()
    _lock_chain(connection, rows)
    head = connection.execute(select(AuditEvent.sequence, AuditEvent.content_hash)
                              .order_by(AuditEvent.sequence.desc()).limit(1)).first()
    sequence, previous = head if head is not None else (0, GENESIS)
    for row in rows:
        sequence += 1
        row.sequence, row.previous_hash = sequence, previous
        row.content_hash = previous = _hash_of(row, previous)
    session.add_all(rows)
    session.flush()


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (or committed): not a savepoint's end
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, flush_context, instances) -> None:
    """Refuse changes to rows already written, and rows that skip ``record``."""
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise RuntimeError("audit events are append-only: none is ever deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise RuntimeError("audit events are append-only: none is ever changed")
    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.sequence is None:
            raise RuntimeError("audit events are written through portal.audit.record")


# --- checking it -----------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """The first broken link: the row it is found at, and why."""

    id: int
    sequence: int
    occurred_at: datetime
    action: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: rows walked, the head hash, the first break."""

    rows: int
    head: str
    broken: Break | None


_CHAIN_COLUMNS = (AuditEvent.id, AuditEvent.sequence, AuditEvent.occurred_at,
                  AuditEvent.actor_id, AuditEvent.action, AuditEvent.case_id, AuditEvent.target,
                  AuditEvent.ip_address, AuditEvent.details, AuditEvent.previous_hash,
                  AuditEvent.content_hash)


def chain_rows(chunk: int = 1000) -> Iterator:
    """Every row in chain order, fetched ``chunk`` rows at a time (keyset on
    the sequence: memory stays flat however long the trail)."""
    query = select(*_CHAIN_COLUMNS).order_by(AuditEvent.sequence).limit(chunk)
    rows = db.session.execute(query).all()
    while rows:
        yield from rows
        rows = db.session.execute(query.where(AuditEvent.sequence > rows[-1].sequence)).all()


def verify(chunk: int = 1000) -> ChainReport:
    """Walk the chain in order, recomputing every hash; stop at the first
    broken link. The last rows deleted cannot be seen from the chain alone:
    compare the head with the one logged daily for that."""
    previous_row, previous, before_previous, count = None, GENESIS, None, 0
    for row in chain_rows(chunk):
        problem = None
        if row.sequence != count + 1:
            problem = (row, f"row missing or inserted: sequence {row.sequence} follows "
                            f"{count} (rows before it were deleted, or it was inserted)")
        elif row.previous_hash != previous:
            if previous_row is not None and row.previous_hash == before_previous:
                problem = (previous_row, "row inserted: the row after it links to the row "
                                         "before it")
            else:
                problem = (row, "previous link wrong: its previous hash is not the hash of the "
                                "row before it (that row was altered or rows are missing)")
        elif _hash_of(row, row.previous_hash) != row.content_hash:
            if previous_row is not None and _hash_of(row, before_previous) == row.content_hash:
                # Its link was rewritten to point at the row before, which
                # its hash (covering the link) shows was not there.
                problem = (previous_row, "row inserted: the row after it was chained to the "
                                         "row before it")
            else:
                problem = (row, "content altered: its content or its link to the row before "
                                "no longer matches its hash")
        if problem:
            where, reason = problem
            return ChainReport(count, previous, Break(where.id, where.sequence, where.occurred_at,
                                                      where.action, reason))
        previous_row, before_previous, previous = row, previous, row.content_hash
        count += 1
    return ChainReport(count, previous, None)


def head() -> tuple[int, str]:
    """How many rows the trail holds, and the hash of its last one."""
    count = db.session.scalar(select(func.count()).select_from(AuditEvent))
    last = db.session.scalar(select(AuditEvent.content_hash)
                             .order_by(AuditEvent.sequence.desc()).limit(1))
    return count, last or GENESIS
