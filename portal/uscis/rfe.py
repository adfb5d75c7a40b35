"""Requests for Evidence: the deadline USCIS set, the detour the case
takes while the firm answers, and its return once the answer is sent."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.case_types import DETOUR, get_case_type
from portal.cases import timeline
from portal.cases.stages import commit_change
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseDeadline, DeadlineKind, TimelineEvent, User
from portal.uscis.changes import check, clean, move_to, not_in_future, require_date


def detour(case: Case):
    """The case type's Request-for-Evidence detour stage, or None."""
    return next((s for s in get_case_type(case.case_type).stages if s.kind == DETOUR), None)


def open_rfe(case: Case) -> CaseDeadline | None:
    """The RFE the firm has not answered yet, if any."""
    return db.session.scalar(select(CaseDeadline).where(
        CaseDeadline.case_id == case.id, CaseDeadline.kind == DeadlineKind.RFE_RESPONSE,
        CaseDeadline.met_on.is_(None)).order_by(CaseDeadline.id.desc()).limit(1))


def received_on(rfe: CaseDeadline) -> date | None:
    """The day ``rfe`` was received, as its event recorded it (the deadline
    row keeps only the response date)."""
    events = db.session.scalars(select(TimelineEvent.data).where(
        TimelineEvent.case_id == rfe.case_id, TimelineEvent.kind == "uscis.rfe"))
    received = next((data.get("received") for data in events
                     if data.get("deadline") == str(rfe.uuid)), None)
    return date.fromisoformat(received) if received else None


def record_rfe(actor: User, case: Case, received: date | None, respond_by: date | None,
               seen_version: int | None, client_text: str = "",
               internal_note: str = "") -> CaseDeadline:
    """Record a Request for Evidence received on ``received`` to be
    answered by ``respond_by``: a deadline on the agenda, and the case moves
    onto its type's detour (if it has one and is not there already).

    Raises ``ServiceError`` for missing dates, a future receipt, a deadline
    not after the receipt, or an RFE still unanswered; ``CaseChanged`` after
    a concurrent change.
    """
    stage = detour(case)
    moves = stage is not None and case.stage != stage.key
    check(actor, case, seen_version if moves else None)
    received = not_in_future(actor, require_date(
        received, _l("Enter the date the Request for Evidence was received.")))
    respond_by = require_date(respond_by, _l("Enter the response deadline."))
    if respond_by <= received:
        raise ServiceError(_l("The response deadline must come after the day the Request "
                              "for Evidence was received."))
    if open_rfe(case) is not None:
        raise ServiceError(_l("A Request for Evidence is still open. Record its answer first."))

    def change():
        moved = move_to(actor, case, stage.key) if moves else {}
        deadline = CaseDeadline(case=case, kind=DeadlineKind.RFE_RESPONSE, due_on=respond_by,
                                created_by_id=actor.id)
        db.session.add(deadline)
        db.session.flush()
        audit.record("uscis.rfe_recorded", actor=actor, case=case, target=str(deadline.uuid),
                     received=received.isoformat(), respond_by=respond_by.isoformat(), **moved)
        timeline.add_event(actor, case, "uscis.rfe", client_text=clean(client_text),
                           internal_note=clean(internal_note),
                           data={"received": received.isoformat(),
                                 "respond_by": respond_by.isoformat(),
                                 "deadline": str(deadline.uuid), **moved})
        return deadline

    return commit_change(case, change)


def answer_rfe(actor: User, case: Case, rfe: CaseDeadline, sent_on: date | None,
               seen_version: int | None, client_text: str = "",
               internal_note: str = "") -> TimelineEvent:
    """Record that the answer to ``rfe`` was sent on ``sent_on``: the
    deadline is met and a case on the detour returns to the step it left.

    Raises ``ServiceError`` for a deadline that is not an open RFE, a
    missing or future date, or one before the RFE was received;
    ``CaseChanged`` after a concurrent change.
    """
    stage = detour(case)
    moves = stage is not None and case.stage == stage.key
    check(actor, case, seen_version if moves else None)
    if rfe.kind is not DeadlineKind.RFE_RESPONSE or rfe.met_on is not None:
        raise ServiceError(_l("This Request for Evidence is already answered."))
    sent_on = not_in_future(actor, require_date(sent_on, _l("Enter the date the answer was sent.")))
    received = received_on(rfe)
    if received is not None and sent_on < received:
        raise ServiceError(_l("The answer cannot be sent before the Request for Evidence "
                              "was received."))

    def change():
        moved = move_to(actor, case, stage.returns_to) if moves else {}
        rfe.met_on = sent_on
        audit.record("uscis.rfe_answered", actor=actor, case=case, target=str(rfe.uuid),
                     sent_on=sent_on.isoformat(), **moved)
        return timeline.add_event(actor, case, "uscis.rfe_answered",
                                  client_text=clean(client_text),
                                  internal_note=clean(internal_note),
                                  data={"sent_on": sent_on.isoformat(),
                                        "deadline": str(rfe.uuid), **moved})

    return commit_change(case, change)
