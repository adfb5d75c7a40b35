"""The security trail: who did what, to which case, when and from where."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One audited action. Rows are only ever inserted (see ``portal.audit``),
    each chained to the one before it: ``sequence`` is the chain's order (1,
    2, 3... without gaps, independent of the order ids were allocated in),
    ``previous_hash`` the ``content_hash`` of row ``sequence - 1``."""

    __tablename__ = "audit_events"
    # The trail's action filter is a prefix match (LIKE 'auth.%'), which a plain
    # index serves only under the C collation; the pattern operator class
    # serves it under any (PostgreSQL; elsewhere a plain index).
    __table_args__ = (Index("ix_audit_events_action_prefix", "action",
                            postgresql_ops={"action": "varchar_pattern_ops"}),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    target: Mapped[str | None] = mapped_column(String(100))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # Set when the row is flushed, under the chain's lock (portal.audit).
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    previous_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
