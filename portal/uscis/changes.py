"""What every USCIS change shares: who may make it, on which case, against
which version of it, and how a USCIS event moves the case along its path.

A change that edits the case row names the ``version`` the person saw, as
stage moves do (``portal.cases.stages``); ``stages.commit_change`` turns a
concurrent write into ``CaseChanged`` at commit time.
"""
from __future__ import annotations

from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.case_types import get_case_type
from portal.cases import stages
from portal.cases.permissions import can_manage_case
from portal.cases.stages import CaseChanged
from portal.errors import ServiceError
from portal.models import Case, User
from portal.i18n import today_for


def clean(value: str | None) -> str:
    """``value`` without surrounding blanks ("" for None)."""
    return (value or "").strip()


def check(actor: User, case: Case, seen_version: int | None = None) -> None:
    """Refuse a change by someone who does not run the case, to a closed
    case, or (given ``seen_version``) to a case changed since it was loaded.

    Raises ``ServiceError`` or ``CaseChanged``.
    """
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if case.closed_on is not None:
        raise ServiceError(_l("This case is closed. Reopen it before recording news from USCIS."))
    if seen_version is not None and seen_version != case.version:
        raise CaseChanged()


def require_date(day: date | None, message) -> date:
    """``day``, or ``ServiceError(message)`` when it is missing."""
    if day is None:
        raise ServiceError(message)
    return day


def not_in_future(actor: User, day: date) -> date:
    """``day`` if it is not after the actor's today: what USCIS did, or the
    firm sent, has happened already (a mistyped year is caught here)."""
    if day > today_for(actor):
        raise ServiceError(_("%(date)s is in the future. Please check the date.",
                             date=format_date(day, "long")))
    return day


def move_to(actor: User, case: Case, to_stage: str | None) -> dict:
    """Move ``case`` to ``to_stage`` as part of a USCIS change (the caller
    commits) and return ``{"from": ..., "to": ...}`` for the event's data,
    or ``{}`` when the case stays (already there, no stage given, or a stage
    its type lacks)."""
    if not to_stage or to_stage == case.stage or not get_case_type(case.case_type).has_stage(to_stage):
        return {}
    return stages.set_stage(actor, case, to_stage)
