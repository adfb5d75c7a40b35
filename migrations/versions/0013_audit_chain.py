"""audit chain: every audit event chained to the one before it by SHA-256,
in a gap-free sequence of its own

Revision ID: 0013
Revises: 0012

The rows already there are chained in id order (the order they were
written in until now), a thousand at a time.
"""
import hashlib
import json
from datetime import timezone

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
CHAIN_LOCK = 0x6175646974  # portal.audit.CHAIN_LOCK
CHUNK = 1000

events = sa.table("audit_events", sa.column("id", sa.Integer),
                  sa.column("occurred_at", sa.DateTime(timezone=True)),
                  sa.column("actor_id", sa.Integer), sa.column("action", sa.String),
                  sa.column("case_id", sa.Integer), sa.column("target", sa.String),
                  sa.column("ip_address", sa.String), sa.column("details", sa.JSON),
                  sa.column("sequence", sa.BigInteger), sa.column("previous_hash", sa.String),
                  sa.column("content_hash", sa.String))


def _content_hash(previous_hash, row):
    """A frozen copy of ``portal.audit.content_hash`` (the chain's format)."""
    occurred_at = row.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=timezone.utc)
    when = occurred_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [previous_hash, when, row.actor_id, row.action, row.case_id, row.target,
               row.ip_address, row.details or {}]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _chain_existing_rows(conn):
    if conn.dialect.name == "postgresql":
        # Writers of the new code wait for the chain to be complete.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    previous, sequence, last_id = GENESIS, 0, None
    while True:
        query = sa.select(events).order_by(events.c.id).limit(CHUNK)
        if last_id is not None:
            query = query.where(events.c.id > last_id)
        rows = conn.execute(query).all()
        if not rows:
            return
        updates = []
        for row in rows:
            sequence += 1
            digest = _content_hash(previous, row)
            updates.append({"row_id": row.id, "new_sequence": sequence,
                            "new_previous": previous, "new_hash": digest})
            previous = digest
        conn.execute(events.update().where(events.c.id == sa.bindparam("row_id"))
                     .values(sequence=sa.bindparam("new_sequence"),
                             previous_hash=sa.bindparam("new_previous"),
                             content_hash=sa.bindparam("new_hash")), updates)
        last_id = rows[-1].id


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('previous_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
    _chain_existing_rows(op.get_bind())
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('sequence', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('previous_hash', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.alter_column('content_hash', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.create_index('ix_audit_events_sequence', ['sequence'], unique=True)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_sequence')
        batch_op.drop_column('content_hash')
        batch_op.drop_column('previous_hash')
        batch_op.drop_column('sequence')
