"""The firm's view across cases: submissions waiting for a decision,
overdue requests, and each case's completeness for the dashboard.

Each list is one query over the cases the user may open (``visible_cases``),
the summaries two grouped ones, never a query per case: the firm has hundreds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager

from portal.cases.permissions import visible_cases
from portal import paging
from portal.extensions import db
from portal.models import (Case, DocumentRequest, DocumentVersion, QuestionnaireResponse,
                           RequestState, User)
from portal.models.request import OWED_STATES
from portal.requests import services


@dataclass(frozen=True)
class ReviewItem:
    """A submitted request, its case, when its newest file arrived, and that
    file (its virus check and preview say whether it can be reviewed yet)."""

    request: DocumentRequest
    case: Case
    waiting_since: datetime
    newest: DocumentVersion | None = None


@dataclass(frozen=True)
class OverdueItem:
    """A request still owed past its due date, and by how many of the viewer's days."""

    request: DocumentRequest
    case: Case
    days_late: int


@dataclass(frozen=True)
class CaseSummary:
    """What the dashboard shows of a case's requests: required ones accepted
    (``services.completeness``'s rule) and the earliest due date of those
    still owed by their addressee (so "overdue" means what it does elsewhere)."""

    accepted: int
    required: int
    next_due: date | None


def _visible_case_ids(user: User) -> Select:
    return visible_cases(user).with_only_columns(Case.id)


def _with_case_and_addressee(*columns) -> Select:
    # The addressee is loaded in the same row *into* ``request.addressee``
    # (contains_eager): a row's entity alone is dropped from the session's
    # weak identity map once the list is built, and the template's
    # ``request.addressee`` would then query once per row.
    return (select(DocumentRequest, Case, *columns)
            .join(Case, Case.id == DocumentRequest.case_id)
            .join(User, User.id == DocumentRequest.addressee_id)
            .options(contains_eager(DocumentRequest.addressee)))


def to_review(user: User, page: int = 1) -> paging.Page:
    """Submitted requests in the cases ``user`` may open (a file, or a
    questionnaire's answers), the one waiting longest (by its newest upload,
    or when the answers were sent) first, a page at a time."""
    waiting_since = func.coalesce(func.max(DocumentVersion.uploaded_at),
                                  func.max(QuestionnaireResponse.updated_at))
    found = paging.fetch(
        _with_case_and_addressee(waiting_since)
        .outerjoin(DocumentVersion, DocumentVersion.request_id == DocumentRequest.id)
        .outerjoin(QuestionnaireResponse,
                   QuestionnaireResponse.request_id == DocumentRequest.id)
        .where(DocumentRequest.state == RequestState.SUBMITTED,
               DocumentRequest.case_id.in_(_visible_case_ids(user)))
        .group_by(DocumentRequest.id, Case.id, User.id)
        .having(waiting_since.is_not(None))
        .order_by(waiting_since, DocumentRequest.id), page)
    # Each request's newest file, in one more query (versions only grow, so the highest id).
    newest = {version.request_id: version for version in db.session.scalars(
        select(DocumentVersion).where(DocumentVersion.id.in_(
            select(func.max(DocumentVersion.id))
            .where(DocumentVersion.request_id.in_([row[0].id for row in found.items]))
            .group_by(DocumentVersion.request_id))))}
    return paging.Page([ReviewItem(request, case, at, newest.get(request.id))
                        for request, case, at in found.items], page, found.more)


def count_to_review(user: User) -> int:
    """How many requests ``to_review`` lists, with one COUNT (for the nav)."""
    return db.session.scalar(
        select(func.count(DocumentRequest.id))
        .where(DocumentRequest.state == RequestState.SUBMITTED,
               DocumentRequest.case_id.in_(_visible_case_ids(user))))


def overdue(user: User, page: int = 1) -> paging.Page:
    """Requests still owed by their addressee (``services.is_overdue``'s
    rule: a submitted file waits for the firm, in ``to_review``) and due
    before today (``user``'s day), in the cases ``user`` may open, the most
    overdue first, a page at a time."""
    today = services.today_for(user)
    found = paging.fetch(
        _with_case_and_addressee()
        .where(DocumentRequest.state.in_(OWED_STATES), DocumentRequest.due_on < today,
               DocumentRequest.case_id.in_(_visible_case_ids(user)))
        .order_by(DocumentRequest.due_on, DocumentRequest.id), page)
    return paging.Page([OverdueItem(request, case, (today - request.due_on).days)
                        for request, case in found.items], page, found.more)


def case_summaries(cases: list[Case]) -> dict[int, CaseSummary]:
    """A ``CaseSummary`` for each of ``cases``, keyed by case id, in two
    grouped queries whatever the number of cases."""
    ids = [case.id for case in cases]
    done = services.completeness_by_case(ids)
    next_due = dict(db.session.execute(
        select(DocumentRequest.case_id, func.min(DocumentRequest.due_on))
        .where(DocumentRequest.case_id.in_(ids), DocumentRequest.state.in_(OWED_STATES))
        .group_by(DocumentRequest.case_id)).all())
    summaries = {}
    for case_id in ids:
        counts = done.get(case_id, services.Completeness(0, 0))
        summaries[case_id] = CaseSummary(counts.accepted, counts.required, next_due.get(case_id))
    return summaries
