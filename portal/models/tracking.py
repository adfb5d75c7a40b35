"""What the firm tracks around a case: USCIS deadlines and appointments,
expedite requests, re-parole reminders sent, reference numbers handed out,
and each person's calendar feed."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.case import Case, UrgencyFlag, _enum
from portal.models.types import UTCDateTime, public_id, utcnow
from portal.models.user import User


class DeadlineKind(str, enum.Enum):
    """A date USCIS set for the case."""

    RFE_RESPONSE = "rfe_response"  # answer a Request for Evidence by ``due_on``
    BIOMETRICS = "biometrics"  # appointment at ``starts_at``
    INTERVIEW = "interview"  # appointment at ``starts_at``


class CaseDeadline(db.Model):
    """An RFE response deadline or an appointment. ``due_on`` is the day it
    falls on (for an appointment, in the firm's calendar: the day of
    ``starts_at``); ``met_on`` is set when the RFE was answered or the
    appointment attended, which takes it off the agenda."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[DeadlineKind] = mapped_column(_enum(DeadlineKind))
    due_on: Mapped[date] = mapped_column(index=True)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    met_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()


class ExpediteOutcome(str, enum.Enum):
    """Where an expedite request stands."""

    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"


class ExpediteRequest(db.Model):
    """A request to USCIS to expedite the case, on one of DOMAIN.md's grounds."""

    __tablename__ = "expedite_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = public_id()
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_on: Mapped[date]
    ground: Mapped[UrgencyFlag] = mapped_column(_enum(UrgencyFlag))
    outcome: Mapped[ExpediteOutcome] = mapped_column(_enum(ExpediteOutcome),
                                                     default=ExpediteOutcome.PENDING)
    outcome_on: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()


class ParoleReminder(db.Model):
    """A re-parole reminder that went out: one row per case, lead time and
    parole end date, so each is sent exactly once (a new end date after
    re-parole starts a new series)."""

    __tablename__ = "parole_reminders"
    __table_args__ = (UniqueConstraint("case_id", "parole_ends_on", "days_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    parole_ends_on: Mapped[date]
    days_before: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferenceCounter(db.Model):
    """The last reference number handed out per prefix and year
    (``HP-2026-0042``); incremented in one UPDATE so two cases opened at
    once never get the same one."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CalendarFeed(db.Model):
    """A person's secret iCalendar feed address. Only the SHA-256 of its
    token is kept; deleting the row revokes the address."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
