"""Case rules: what a dashboard lists and in which order."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, CaseFlag, User
from portal.models.case import UrgencyFlag
from portal.cases.permissions import visible_cases

SORTS = ("urgency", "stage", "reference", "opened")
_FLAG_ORDER = list(UrgencyFlag)


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
        "stage": lambda c: (-[s.key for s in get_case_type(c.case_type).stages].index(c.stage),
                            c.reference),
        "reference": lambda c: c.reference,
        "opened": lambda c: (c.opened_on, c.reference),
    }
    return sorted(cases, key=keys.get(sort, urgency_key))
