"""The case timeline: writing events, and wording them for the reader.

An event stores what happened (``kind`` and ``data``), not a sentence: the
sentence is made when the page is shown, in the reader's language. What the
firm writes to the client (``client_text``) and to itself (``internal_note``)
is kept as written.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from portal import notify
from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, TimelineEvent, User
from portal.models.case import CaseRole


def add_event(actor: User | None, case: Case, kind: str, *, client_text: str = "",
              internal_note: str = "", data: dict | None = None,
              client_visible: bool = True, notify_clients: bool = True) -> TimelineEvent:
    """Add an event to ``case``'s timeline; the caller commits.

    An event meant for the client (``client_visible``) queues a notice to
    each client of the case, saying only that something new waits, unless
    the caller sends one of its own (``notify_clients=False``).
    """
    event = TimelineEvent(case=case, kind=kind, stage=case.stage, actor=actor,
                          client_text=(client_text or "").strip(),
                          internal_note=(internal_note or "").strip(),
                          data=data or {}, client_visible=client_visible)
    db.session.add(event)
    if client_visible and notify_clients:
        for membership in case.memberships:
            if membership.role is CaseRole.CLIENT and membership.user.active:
                notify.queue_case_update(membership.user.email, membership.user.language,
                                         notify.link(f"/cases/{case.uuid}"))
    return event


def events_for(user: User, case: Case) -> list[TimelineEvent]:
    """The events ``user`` may read, newest first: all of them for the
    firm, those meant for the client otherwise."""
    query = (select(TimelineEvent).where(TimelineEvent.case_id == case.id)
             .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()))
    if not user.is_firm:
        query = query.where(TimelineEvent.client_visible.is_(True))
    return list(db.session.scalars(query))


def visited_stages(case: Case) -> set[str]:
    """Every stage the case has been at, from its history."""
    rows = db.session.execute(select(TimelineEvent.stage, TimelineEvent.data)
                              .where(TimelineEvent.case_id == case.id))
    visited = {case.stage}
    for stage, data in rows:
        visited.update(key for key in (stage, (data or {}).get("from")) if key)
    return visited


def _date(value: str | None) -> str:
    return format_date(date.fromisoformat(value), "medium") if value else ""


def _stage_title(case: Case, key: str | None) -> str:
    case_type = get_case_type(case.case_type)
    return str(case_type.stage(key).title) if key and case_type.has_stage(key) else ""


# What each kind of event says, in the reader's language. Other features word
# their own kinds (``offer_headlines``); kinds nobody words (document
# requests) carry their sentence in ``client_text``.
HEADLINES = {
    "case.opened": lambda e: _("The case was opened."),
    "case.closed": lambda e: _("The case was closed."),
    "case.reopened": lambda e: _("The case was reopened."),
    "stage_changed": lambda e: _("The case moved to: %(stage)s.",
                                 stage=_stage_title(e.case, e.stage)),
}
OFFERED = "timeline_headlines"  # app.extensions: the headlines other features offered


def offer_headlines(bp: Blueprint, headlines: dict) -> None:
    """Let the feature of ``bp`` word its own kinds of events (``uscis.*``):
    ``headlines`` maps a kind to a function of the event that returns its
    sentence. Registered on each app ``bp`` is registered on."""
    bp.record_once(lambda state: state.app.extensions.setdefault(OFFERED, {}).update(headlines))


def headline(event: TimelineEvent) -> str:
    """The standard sentence for ``event`` in the reader's language, or ""."""
    describe = HEADLINES.get(event.kind) or current_app.extensions.get(OFFERED, {}).get(event.kind)
    return describe(event) if describe else ""
