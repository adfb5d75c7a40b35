"""Single-use links that let a person set a password and join the portal."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case, CaseRole
from portal.models.outbox import OutboxMessage
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import Role, User


PENDING = "used_at IS NULL AND voided_at IS NULL"


class Invitation(db.Model):
    """An invitation for one email address. Only the SHA-256 of the token is
    stored. ``case`` is set when the person is invited to a case, empty when an
    admin creates a firm account."""

    __tablename__ = "invitations"
    # One pending invitation per email and case, held by the database too: two
    # people inviting the same address at the same moment cannot both succeed.
    __table_args__ = (Index("uq_invitations_pending", "email", "case_id", unique=True,
                            postgresql_where=text(PENDING), sqlite_where=text(PENDING)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16,
             values_callable=lambda roles: [r.value for r in roles]))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    case_role: Mapped[CaseRole | None] = mapped_column(
        Enum(CaseRole, native_enum=False, length=16,
             values_callable=lambda roles: [r.value for r in roles]))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The email carrying the link, so the firm sees whether it went out.
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))

    case: Mapped[Case | None] = relationship()
    invited_by: Mapped[User] = relationship()
    outbox_message: Mapped[OutboxMessage | None] = relationship()

    def is_usable(self, now: datetime) -> bool:
        """True while the link is neither used, voided nor expired."""
        return self.used_at is None and self.voided_at is None and now < self.expires_at
