"""The agenda: every dated item of the open cases a person works on.

One query: ``portal.cases.deadlines`` joined to the cases the person may
open, with the case and the document request or USCIS deadline each row
stands for loaded in the same row, filtered and ordered in SQL. The page
splits the ordered list into overdue, the next days and later; the calendar
feed (``portal.agenda.ics``) writes the same items.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy import case as sql_case

from portal.agenda.permissions import can_use_agenda
from portal.cases.deadlines import KINDS, LABELS, deadlines
from portal.cases.permissions import visible_cases
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseDeadline, CaseMembership, DocumentRequest, Role, User
from portal.i18n import local_now

# How far ahead the page and the feed look (overdue items are listed too), and
# how many items they list at most: settings (AGENDA_DAYS, FEED_DAYS,
# AGENDA_MAX_ITEMS), so a firm-wide agenda at ten thousand cases stays a page.
# "Next 7 days": today and the seven days after it.
SOON_DAYS = 7

USCIS_KINDS = ("rfe_response", "biometrics", "interview")

@dataclass(frozen=True)
class AgendaItem:
    """One dated item: ``kind`` (``deadlines.KINDS``), the day it falls on,
    its case, and the request or USCIS deadline it stands for (if any)."""

    kind: str
    due_on: date
    item_id: int
    case: Case
    document_request: DocumentRequest | None = None
    deadline: CaseDeadline | None = None

    @property
    def starts_at(self) -> datetime | None:
        """The appointment's time (UTC), or None for an all-day item."""
        return self.deadline.starts_at if self.deadline is not None else None

    @property
    def label(self) -> str:
        """What it is, for the signed-in firm: a document by its request's title."""
        if self.kind == "document" and self.document_request is not None:
            title, kind = self.document_request.display_title, self.document_request.kind
            if kind == "questionnaire":
                # Translators: an agenda item; %(title)s is the title of a questionnaire.
                return _("Answers due: %(title)s", title=title)
            if kind == "signature":
                # Translators: an agenda item; %(title)s is the title of a document to sign.
                return _("Signature due: %(title)s", title=title)
            # Translators: an agenda item; %(title)s is the title of the document request.
            return _("Document due: %(title)s", title=title)
        return str(LABELS[self.kind])

    @property
    def private_label(self) -> str:
        """What it is, naming no one and no document (for the calendar feed)."""
        return str(LABELS[self.kind])

    def how_far(self, now: datetime, today: date) -> str:
        """"in 3 weeks", "2 days ago", "today": from ``now`` for an
        appointment with a time, else in days from ``today`` (the viewer's)."""
        if self.starts_at is not None:
            return format_timedelta(self.starts_at - now, add_direction=True)
        days = (self.due_on - today).days
        if days == 0:
            # Translators: how far away an agenda item is, when it falls on today.
            return _("today")
        return format_timedelta(timedelta(days=days), granularity="day", add_direction=True)


@dataclass(frozen=True)
class Agenda:
    """The page's sections, each ordered by day (appointments by time)."""

    now: datetime
    today: date
    overdue: list[AgendaItem]
    soon: list[AgendaItem]
    later: list[AgendaItem]
    days: int  # how far ahead it looks
    more: bool = False  # items beyond the most it lists were left out


def _case_ids(user: User, member: User | None):
    """The open cases ``user`` may see, narrowed to those whose team
    ``member`` is on, when given."""
    cases = visible_cases(user)
    if member is not None:
        on_team = select(CaseMembership.case_id).where(CaseMembership.user_id == member.id)
        cases = cases.where(Case.id.in_(on_team))
    return cases.with_only_columns(Case.id)


def attorneys() -> list[User]:
    """The active attorneys, by name: the firm-wide agenda narrows to one's cases."""
    return list(db.session.scalars(select(User).where(
        User.role == Role.ATTORNEY, User.active.is_(True)).order_by(User.name, User.id)))


def items_for(user: User, until: date, member: User | None = None,
              limit: int | None = None) -> tuple[list[AgendaItem], bool]:
    """The dated items up to ``until`` (overdue ones included) of the open
    cases ``user`` works on (``visible_cases``; with ``member``, those whose
    team that person is on), by day, all-day items before the day's
    appointments, those by time; at most ``limit`` (AGENDA_MAX_ITEMS), and
    whether more were left out. One query.

    Raises ``ServiceError`` when ``user`` has no agenda (``can_use_agenda``).
    """
    limit = limit or current_app.config["AGENDA_MAX_ITEMS"]
    if not can_use_agenda(user):
        raise ServiceError(_l("You do not have permission to do that."))
    rows = deadlines().subquery("deadlines")
    kind_order = sql_case({kind: position for position, kind in enumerate(KINDS)},
                          value=rows.c.kind)
    query = (select(rows.c.kind, rows.c.due_on, rows.c.item_id, Case, DocumentRequest,
                    CaseDeadline)
             .select_from(rows)
             .join(Case, Case.id == rows.c.case_id)
             .outerjoin(DocumentRequest, and_(rows.c.kind == "document",
                                              DocumentRequest.id == rows.c.item_id))
             .outerjoin(CaseDeadline, and_(rows.c.kind.in_(USCIS_KINDS),
                                           CaseDeadline.id == rows.c.item_id))
             .where(rows.c.case_id.in_(_case_ids(user, member)), rows.c.due_on <= until)
             .order_by(rows.c.due_on, CaseDeadline.starts_at.nulls_first(), kind_order,
                       Case.reference, rows.c.item_id)
             .limit(limit + 1))
    items = [AgendaItem(kind, due_on, item_id, case, document_request, deadline)
             for kind, due_on, item_id, case, document_request, deadline
             in db.session.execute(query)]
    return items[:limit], len(items) > limit


def agenda(user: User, now: datetime, member: User | None = None) -> Agenda:
    """``user``'s agenda at ``now`` (UTC), in sections by ``user``'s own
    today: overdue, the next ``SOON_DAYS`` days, later up to AGENDA_DAYS;
    with ``member``, only the cases whose team that person is on.

    Raises ``ServiceError`` when ``user`` has no agenda.
    """
    today = local_now(user, now).date()
    days = current_app.config["AGENDA_DAYS"]
    items, more = items_for(user, today + timedelta(days=days), member)
    soon_until = today + timedelta(days=SOON_DAYS)
    return Agenda(now=now, today=today,
                  overdue=[i for i in items if i.due_on < today],
                  soon=[i for i in items if today <= i.due_on <= soon_until],
                  later=[i for i in items if i.due_on > soon_until], days=days, more=more)


def feed_items(user: User, now: datetime) -> list[AgendaItem]:
    """What ``user``'s calendar feed holds at ``now``: the agenda's items,
    overdue and up to FEED_DAYS ahead, at most AGENDA_MAX_ITEMS of them.

    Raises ``ServiceError`` when ``user`` has no agenda.
    """
    until = local_now(user, now).date() + timedelta(days=current_app.config["FEED_DAYS"])
    return items_for(user, until)[0]
