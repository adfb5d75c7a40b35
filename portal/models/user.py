"""People who can sign in, and their server-side sessions."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, public_id, utcnow


class Role(str, enum.Enum):
    """A user's role in the firm's portal, which decides what they may do."""

    ADMIN = "admin"
    ATTORNEY = "attorney"
    STAFF = "staff"
    CLIENT = "client"
    SPONSOR = "sponsor"

    @property
    def is_firm(self) -> bool:
        """True for the firm's own people (admin, attorney, staff)."""
        return self in FIRM_ROLES


FIRM_ROLES = frozenset({Role.ADMIN, Role.ATTORNEY, Role.STAFF})


class User(UserMixin, db.Model):
    """An account. ``password_hash`` is empty until an invitation is accepted."""

    __tablename__ = "users"
    # The accounts page's order (firm roles first, then by name), a page at a time.
    __table_args__ = (Index("ix_users_role_name", "role", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16,
             values_callable=lambda roles: [r.value for r in roles]))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The authenticator app's secret, sealed with the texts keyset bound to this
    # user (``portal.auth.totp``), and the last 30-second step a code was
    # accepted for: a code is good once.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    totp_added_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[UserSession]] = relationship(back_populates="user")

    def get_id(self) -> str:
        """Flask-Login's handle on the user: the public UUID, never the row id."""
        return str(self.uuid)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_firm(self) -> bool:
        """True for admins, attorneys and staff."""
        return self.role.is_firm

    def __repr__(self) -> str:
        return f"<User {self.uuid} {self.role.value}>"


class UserSession(db.Model):
    """A signed-in browser. The cookie holds a random id; only its hash is kept,
    so ending the row here ends the session wherever the cookie was copied."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person last proved who they are here (password and, if they
    # have one, a second factor): sign-in or the "confirm it's you" page.
    # Changing a factor or the email needs this within the last 5 minutes.
    reauthenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="sessions")
