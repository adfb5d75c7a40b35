"""The firm's dashboard: search, filters, sort orders, counts per stage and
pages of cases, each done by the database.

The firm has thousands of cases, so nothing here loads a case it does not
show: the counts are one GROUP BY, the page one ordered query with LIMIT, and
what a row shows of its case a fixed number of queries over that page's ids.
Everything starts from ``visible_cases(user)`` and only ever narrows it.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.case_types import DETOUR, ENDING, CaseType, Stage, case_types
from portal.cases.deadlines import KINDS, deadlines, next_deadline_by_case
from portal.cases.permissions import visible_cases
from portal.extensions import db
from portal.models import Case, CaseFlag, CaseMembership, Role, User
from portal.models.case import CaseRole, UrgencyFlag, normalise_receipt

PER_PAGE = 50
SORTS = ("urgency", "stage", "deadline", "reference", "opened")
STATES = ("open", "closed", "all")
UNASSIGNED = "unassigned"
MAX_SEARCH = 200  # characters of a search kept; names and references are shorter
PAROLE_WINDOW_DAYS = 120  # the "parole ends within 120 days"
PAROLE_LIST_LIMIT = 20


# What the "Next deadline" column says of each kind of ``deadlines.KINDS``.
DEADLINE_LABELS = {
    # Translators: dashboard, next deadline: a document request's due date.
    "document": _l("Document due"),
    # Translators: dashboard, next deadline: the day the answer to a USCIS Request for Evidence is due.
    "rfe_response": _l("RFE response due"),
    "biometrics": _l("Biometrics appointment"),
    "interview": _l("Interview"),
    # Translators: dashboard, next deadline: the day the beneficiary's parole period ends.
    "parole_end": _l("Parole ends"),
    # Translators: dashboard, next deadline: the day the re-parole request should be filed by.
    "reparole_file_by": _l("File re-parole by"),
}


class BadQuery(ValueError):
    """A filter in the address names nothing that exists (the page says 400
    rather than silently showing every case as if it matched)."""


# --- the stages of every case type, in path order --------------------------

def path_order(case_type: CaseType) -> list[Stage]:
    """The type's stages as a case goes through them: the steps in order,
    each detour right after the step it leaves from, the endings last."""
    ordered: list[Stage] = []
    for step in case_type.steps:
        ordered.append(step)
        ordered += [s for s in case_type.stages if s.kind == DETOUR and s.returns_to == step.key]
    return ordered + [s for s in case_type.stages if s.kind == ENDING]


@dataclass(frozen=True)
class StageOption:
    """A stage key the filter offers (one per key, whichever types share it)."""

    key: str
    title: LazyString


@cache
def stage_options() -> tuple[StageOption, ...]:
    """Every stage key of every case type, once, in path order: a key only
    one type has goes right after the stage that precedes it in that type.
    Where types name a key differently the title shows each name
    ("Approved / Decision"); lazy, so in the reader's language."""
    keys: list[str] = []
    titles: dict[str, list] = {}
    for case_type in case_types().values():
        after = -1
        for stage in path_order(case_type):
            if stage.key in keys:
                after = keys.index(stage.key)
            else:
                after += 1
                keys.insert(after, stage.key)
            titles.setdefault(stage.key, []).append(stage.title)
    return tuple(StageOption(key, LazyString(_joined, titles[key])) for key in keys)


def _joined(titles: list) -> str:
    return " / ".join(dict.fromkeys(str(title) for title in titles))


def _stage_rank():
    """SQL: the case's stage's position in its own type's path order."""
    return case(*[(and_(Case.case_type == type_key, Case.stage == stage.key), position)
                  for type_key, case_type in case_types().items()
                  for position, stage in enumerate(path_order(case_type))], else_=-1)


# --- what the address asks for ---------------------------------------------

@dataclass(frozen=True)
class DashboardQuery:
    """The search, filters, sort order and page the firm member asked for."""

    q: str = ""
    attorney: str = ""  # an attorney's UUID, UNASSIGNED, or "" for anyone
    stage: str = ""
    flag: UrgencyFlag | None = None
    state: str = "open"
    sort: str = "urgency"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DashboardQuery:
        """Read the query string. An unknown sort or a page that is not a
        positive number falls back to the default; a filter that names
        nothing raises ``BadQuery``."""
        attorney = args.get("attorney", "").strip()
        if attorney and attorney != UNASSIGNED:
            try:
                attorney = str(uuid.UUID(attorney))
            except ValueError:
                raise BadQuery("attorney") from None
        stage = args.get("stage", "").strip()
        if stage and stage not in {o.key for o in stage_options()}:
            raise BadQuery("stage")
        try:
            flag = UrgencyFlag(args["flag"]) if args.get("flag") else None
        except ValueError:
            raise BadQuery("flag") from None
        state = args.get("state") or "open"
        if state not in STATES:
            raise BadQuery("state")
        sort = args.get("sort", "urgency")
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        return cls(q=" ".join(args.get("q", "").split())[:MAX_SEARCH], attorney=attorney,
                   stage=stage, flag=flag, state=state,
                   sort=sort if sort in SORTS else "urgency", page=page)

    def args(self, **changes) -> dict[str, str | int]:
        """The query string for this query with ``changes``, defaults left
        out (for links that keep the other parameters)."""
        wanted = replace(self, **changes)
        values = {"q": wanted.q, "attorney": wanted.attorney, "stage": wanted.stage,
                  "flag": wanted.flag.value if wanted.flag else "",
                  "state": "" if wanted.state == "open" else wanted.state,
                  "sort": "" if wanted.sort == "urgency" else wanted.sort,
                  "page": "" if wanted.page == 1 else wanted.page}
        return {key: value for key, value in values.items() if value}


def _escape_like(text: str) -> str:
    """``text`` for a LIKE pattern in which ``%`` and ``_`` are themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(text: str):
    """SQL: the case's reference, client's name, beneficiary's name or
    receipt number contains ``text`` (case-insensitive)."""
    pattern = f"%{_escape_like(text)}%"
    clients = (select(CaseMembership.case_id)
               .join(User, User.id == CaseMembership.user_id)
               .where(CaseMembership.role == CaseRole.CLIENT,
                      User.name.ilike(pattern, escape="\\")))
    found = [Case.reference.ilike(pattern, escape="\\"),
             Case.beneficiary_name.ilike(pattern, escape="\\"),
             Case.id.in_(clients)]
    if receipt := normalise_receipt(text):  # "ioe-0912 345" finds IOE0912345678
        found.append(Case.receipt_number.ilike(f"%{_escape_like(receipt)}%", escape="\\"))
    return or_(*found)


def _filtered(user: User, wanted: DashboardQuery, by_stage: bool = True) -> Select:
    """The cases ``user`` may see that match the search and filters (the
    stage filter left out unless ``by_stage``)."""
    query = visible_cases(user)
    if wanted.q:
        query = query.where(_search(wanted.q))
    if wanted.attorney == UNASSIGNED:
        query = query.where(Case.assigned_attorney_id.is_(None))
    elif wanted.attorney:
        query = query.where(Case.assigned_attorney_id == select(User.id).where(
            User.uuid == uuid.UUID(wanted.attorney)).scalar_subquery())
    if wanted.flag is not None:
        query = query.where(Case.id.in_(
            select(CaseFlag.case_id).where(CaseFlag.flag == wanted.flag)))
    if wanted.state == "open":
        query = query.where(Case.closed_on.is_(None))
    elif wanted.state == "closed":
        query = query.where(Case.closed_on.is_not(None))
    if by_stage and wanted.stage:
        query = query.where(Case.stage == wanted.stage)
    return query


def _nulls_last(column) -> tuple:
    # NULLS LAST spelled so that SQLite and PostgreSQL order alike.
    return case((column.is_(None), 1), else_=0), column


def _ordered(query: Select, sort: str) -> Select:
    """``query`` in ``sort`` order, ending with the case id so pages are stable."""
    if sort in ("urgency", "deadline"):
        due = next_deadline_by_case().subquery()
        query = query.outerjoin(due, due.c.case_id == Case.id)
    if sort == "urgency":
        rank = case(*[(CaseFlag.flag == flag, i) for i, flag in enumerate(UrgencyFlag)])
        flags = (select(CaseFlag.case_id, func.min(rank).label("rank"),
                        func.count().label("flags"))
                 .group_by(CaseFlag.case_id).subquery())
        query = query.outerjoin(flags, flags.c.case_id == Case.id)
        order = (func.coalesce(flags.c.rank, len(UrgencyFlag)),
                 func.coalesce(flags.c.flags, 0).desc(), *_nulls_last(due.c.next_due),
                 Case.opened_on, Case.reference)
    elif sort == "deadline":
        order = (*_nulls_last(due.c.next_due), Case.reference)
    elif sort == "stage":
        order = (_stage_rank().desc(), Case.reference)
    elif sort == "opened":
        order = (Case.opened_on, Case.reference)
    else:
        order = (Case.reference,)
    return query.order_by(*order, Case.id)


# --- the page --------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """A case on the page, and the earliest dated thing it owes. What other
    features show of it (documents accepted, unread messages) comes from
    ``sections.facts_for``."""

    case: Case
    next_due: date | None
    next_kind: str | None  # one of ``deadlines.KINDS``

    @property
    def next_label(self) -> LazyString | None:
        """What the next deadline is, in the reader's language."""
        return DEADLINE_LABELS.get(self.next_kind) if self.next_kind else None


@dataclass(frozen=True)
class ParoleItem:
    """An open case whose parole ends soon."""

    case: Case
    days_left: int


@dataclass(frozen=True)
class Dashboard:
    """What the firm's dashboard shows for one query."""

    query: DashboardQuery  # its ``page`` is the page shown (an overshoot becomes the last)
    rows: list[Row]
    total: int
    pages: int
    stage_counts: list[tuple[StageOption, int]]  # stages with matching cases, in path order
    parole_soon: list[ParoleItem]
    parole_more: int  # parole endings within the window beyond the list
    attorneys: list[User]

    @property
    def stage_options(self) -> tuple[StageOption, ...]:
        """The stage filter's choices."""
        return stage_options()

    @property
    def first(self) -> int:
        """The position of the page's first case among all that match (1-based)."""
        return (self.query.page - 1) * PER_PAGE + 1


def firm_dashboard(user: User, wanted: DashboardQuery, today: date) -> Dashboard:
    """The page of cases ``user`` may see that ``wanted`` asks for, with the
    counts per stage (over the search and filters, whatever the stage filter)
    and the open cases whose parole ends within ``PAROLE_WINDOW_DAYS`` of
    ``today``. A fixed number of queries, whatever the number of cases."""
    counts = dict(db.session.execute(
        _filtered(user, wanted, by_stage=False)
        .with_only_columns(Case.stage, func.count(Case.id)).group_by(Case.stage)).all())
    total = counts.get(wanted.stage, 0) if wanted.stage else sum(counts.values())
    pages = max(1, -(-total // PER_PAGE))
    wanted = replace(wanted, page=min(wanted.page, pages))
    cases = list(db.session.scalars(
        _ordered(_filtered(user, wanted), wanted.sort)
        .options(selectinload(Case.flags), joinedload(Case.assigned_attorney))
        .limit(PER_PAGE).offset((wanted.page - 1) * PER_PAGE)))
    parole_soon, parole_total = _parole_ending_soon(user, today)
    return Dashboard(
        query=wanted, rows=_rows(cases), total=total, pages=pages,
        stage_counts=[(o, counts[o.key]) for o in stage_options() if counts.get(o.key)],
        parole_soon=parole_soon, parole_more=parole_total - len(parole_soon),
        attorneys=list(db.session.scalars(
            select(User).where(User.role == Role.ATTORNEY).order_by(User.name, User.id))))


def _rows(cases: list[Case]) -> list[Row]:
    """Each case with its next deadline (one query)."""
    owed = deadlines().subquery()
    kind_rank = case(*[(owed.c.kind == kind, i) for i, kind in enumerate(KINDS)])
    first: dict[int, tuple[date, str]] = {}
    for case_id, kind, due_on in db.session.execute(
            select(owed.c.case_id, owed.c.kind, owed.c.due_on)
            .where(owed.c.case_id.in_([c.id for c in cases]))
            .order_by(owed.c.due_on, kind_rank)):
        first.setdefault(case_id, (due_on, kind))
    return [Row(c, *first.get(c.id, (None, None))) for c in cases]


def _parole_ending_soon(user: User, today: date) -> tuple[list[ParoleItem], int]:
    """Open cases ``user`` may see whose parole ends from ``today`` to
    ``PAROLE_WINDOW_DAYS`` later, soonest first (at most
    ``PAROLE_LIST_LIMIT``), and how many there are in all."""
    rows = db.session.execute(
        visible_cases(user).add_columns(func.count().over())
        .where(Case.closed_on.is_(None),
               Case.parole_ends_on.between(today, today + timedelta(days=PAROLE_WINDOW_DAYS)))
        .order_by(Case.parole_ends_on, Case.reference, Case.id)
        .limit(PAROLE_LIST_LIMIT)).all()
    items = [ParoleItem(c, (c.parole_ends_on - today).days) for c, _ in rows]
    return items, rows[0][1] if rows else 0


def member_cases(user: User) -> list[Case]:
    """A client's or sponsor's cases for their cards: open ones first
    (newest first), then the closed ones."""
    return list(db.session.scalars(visible_cases(user).order_by(
        case((Case.closed_on.is_(None), 0), else_=1), Case.opened_on.desc(), Case.id.desc())
        # Each card asks the person's role in its case.
        .options(selectinload(Case.memberships))))
