"""Case rules: what a dashboard lists and in which order."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, CaseFlag, User
from portal.models.case import UrgencyFlag
from portal.cases.permissions import visible_cases

SORTS = ("urgency", "stage", "reference", "opened")
_FLAG_ORDER = list(UrgencyFlag)


@dataclass(frozen=True)
class Progress:
    """Where a case stands on its type's progress line."""

    number: int  # 1-based
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.number / self.total)


def progress(case: Case) -> Progress:
    """The position of the case's stage among its type's stages."""
    case_type = get_case_type(case.case_type)
    return Progress(case_type.stage_index(case.stage) + 1, len(case_type.stages))


def urgency_key(case: Case) -> tuple:
    """Sort key: most pressing flag first, then more flags first, then oldest."""
    ranks = [_FLAG_ORDER.index(f) for f in case.urgency]
    return (min(ranks, default=len(_FLAG_ORDER)), -len(ranks), case.opened_on, case.reference)


def dashboard_cases(user: User, sort: str = "urgency", flag: UrgencyFlag | None = None,
                    include_closed: bool = False) -> list[Case]:
    """The cases ``user`` may see, filtered by ``flag``, in ``sort`` order.

    Ordering by urgency or by stage depends on the case type's definitions,
    so it happens here rather than in SQL.
    """
    query = visible_cases(user).options(
        selectinload(Case.flags), selectinload(Case.assigned_attorney))
    if flag is not None:
        query = query.where(Case.id.in_(select(CaseFlag.case_id).where(CaseFlag.flag == flag)))
    if not include_closed:
        query = query.where(Case.closed_on.is_(None))
    cases = list(db.session.scalars(query))
    keys = {
        "urgency": urgency_key,
        "stage": lambda c: (-progress(c).percent, c.reference),
        "reference": lambda c: c.reference,
        "opened": lambda c: (c.opened_on, c.reference),
    }
    return sorted(cases, key=keys.get(sort, urgency_key))
