"""Cases, who belongs to them, their urgency flags and their timeline."""
from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


class CaseRole(str, enum.Enum):
    """What a person is in one case."""

    CLIENT = "client"
    SPONSOR = "sponsor"
    ATTORNEY = "attorney"
    STAFF = "staff"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=32,
                values_callable=lambda members: [m.value for m in members])


class UrgencyFlag(str, enum.Enum):
    """Grounds for urgency (DOMAIN.md), most pressing first: the order is the
    sort order of the attorney's dashboard."""

    LIFE_THREATENING_MEDICAL = "life_threatening_medical"
    CHILD_UNDER_16 = "child_under_16"
    URGENT_HUMANITARIAN = "urgent_humanitarian"
    DISABILITY = "disability"
    FAMILY_REUNIFICATION = "family_reunification"
    SEVERE_FINANCIAL_LOSS = "severe_financial_loss"
    USCIS_ERROR = "uscis_error"
    US_GOVERNMENT_INTEREST = "us_government_interest"
    NONPROFIT_INTEREST = "nonprofit_interest"


class Decision(str, enum.Enum):
    """USCIS's decision on the request."""

    APPROVED = "approved"
    DENIED = "denied"


def normalise_receipt(text: str | None) -> str:
    """A USCIS receipt number as ``Case.receipt_number`` holds it: upper
    case, without the spaces and dashes people type (``ioe-0912 345`` ->
    ``IOE0912345``). The rules of a whole number are ``portal.uscis.receipts``'."""
    return re.sub(r"[\s\-]", "", text or "").upper()


class Case(db.Model):
    """A matter the firm handles for a client. ``case_type`` and ``stage`` are
    keys into the case-type definitions (``portal/case_types``).

    ``version`` counts changes to the row: SQLAlchemy adds it to every UPDATE,
    so of two people changing the same case at once the second is refused
    (``StaleDataError``) instead of silently overwriting the first.
    """

    __tablename__ = "cases"
    # The audit trail's case filter compares references case-insensitively
    # (upper); without this the planner guesses how many cases match and
    # walks the whole trail instead of the case's own rows.
    __table_args__ = (Index("ix_cases_reference_upper", func.upper(text("reference"))),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    case_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    beneficiary_name: Mapped[str] = mapped_column(String(200))
    beneficiary_country: Mapped[str] = mapped_column(String(2))  # ISO 3166 alpha-2
    assigned_attorney_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    receipt_number: Mapped[str | None] = mapped_column(String(13))
    opened_on: Mapped[date] = mapped_column(default=date.today)
    closed_on: Mapped[date | None]
    decision: Mapped[Decision | None] = mapped_column(_enum(Decision))
    decided_on: Mapped[date | None]
    parole_entry_on: Mapped[date | None]  # from the I-94
    parole_ends_on: Mapped[date | None] = mapped_column(index=True)  # from the I-94
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}

    assigned_attorney: Mapped[User | None] = relationship()
    memberships: Mapped[list[CaseMembership]] = relationship(
        back_populates="case", cascade="all, delete-orphan")
    flags: Mapped[list[CaseFlag]] = relationship(
        back_populates="case", cascade="all, delete-orphan",
        order_by="CaseFlag.flag")
    events: Mapped[list[TimelineEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan",
        order_by="TimelineEvent.occurred_at")

    @property
    def urgency(self) -> list[UrgencyFlag]:
        """The case's urgency flags, most pressing first."""
        order = list(UrgencyFlag)
        return sorted((f.flag for f in self.flags), key=order.index)


class CaseFlag(db.Model):
    """One urgency flag on a case (a row each, so lists filter on an index)."""

    __tablename__ = "case_flags"
    __table_args__ = (UniqueConstraint("case_id", "flag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    flag: Mapped[UrgencyFlag] = mapped_column(_enum(UrgencyFlag), index=True)

    case: Mapped[Case] = relationship(back_populates="flags")


class CaseMembership(db.Model):
    """A person's place in a case; the only way a client or sponsor reaches it."""

    __tablename__ = "case_memberships"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[CaseRole] = mapped_column(_enum(CaseRole))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="memberships")
    # Loaded with the memberships in one statement: every page that lists a
    # case's people or checks a role reads them.
    user: Mapped[User] = relationship(lazy="selectin")


class TimelineEvent(db.Model):
    """Something that happened in a case.

    ``kind`` and ``data`` say what happened, and the page words it in the
    reader's language (``portal.cases.timeline``). ``client_text`` is what
    the firm wrote to the client; ``internal_note`` is for the firm only.
    An event that is not ``client_visible`` is the firm's alone.
    """

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    client_text: Mapped[str] = mapped_column(Text, default="")
    internal_note: Mapped[str] = mapped_column(Text, default="")
    client_visible: Mapped[bool] = mapped_column(default=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
