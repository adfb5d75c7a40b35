"""Requests to USCIS to expedite a case, and their outcome.

The ground and the firm's note stay with the firm; the client's timeline
says only that the firm asked USCIS to go faster, and later what USCIS
answered, since both change what the client can expect.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.cases import timeline
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, ExpediteOutcome, ExpediteRequest, User
from portal.models.case import UrgencyFlag
from portal.uscis.changes import check, clean, not_in_future, require_date
from portal.uscis.labels import EXPEDITE_ANSWERS


def request_expedite(actor: User, case: Case, requested_on: date | None,
                     ground: UrgencyFlag | str, note: str = "",
                     client_text: str = "") -> ExpediteRequest:
    """Record an expedite request sent to USCIS on ``requested_on`` on one
    of the grounds USCIS accepts; ``note`` is the firm's.

    Raises ``ServiceError`` for an unknown ground or a missing or future date.
    """
    check(actor, case)
    try:
        ground = UrgencyFlag(ground)
    except ValueError:
        raise ServiceError(_l("Choose the ground of the expedite request.")) from None
    requested_on = not_in_future(actor, require_date(
        requested_on, _l("Enter the date the expedite request was sent.")))
    note = clean(note)
    expedite = ExpediteRequest(case=case, requested_on=requested_on, ground=ground, note=note,
                               created_by_id=actor.id)
    db.session.add(expedite)
    db.session.flush()
    audit.record("uscis.expedite_requested", actor=actor, case=case, target=str(expedite.uuid),
                 ground=ground.value, requested_on=requested_on.isoformat())
    timeline.add_event(actor, case, "uscis.expedite", client_text=clean(client_text),
                       internal_note=note,
                       data={"on": requested_on.isoformat(), "expedite": str(expedite.uuid)})
    db.session.commit()
    return expedite


def record_outcome(actor: User, case: Case, expedite: ExpediteRequest,
                   outcome: ExpediteOutcome | str, outcome_on: date | None,
                   client_text: str = "", internal_note: str = "") -> ExpediteRequest:
    """Record USCIS's answer (granted or denied, and when) to an expedite request.

    Raises ``ServiceError`` for a request already answered, an outcome that
    is not an answer, or a missing, future or earlier-than-requested date.
    """
    check(actor, case)
    if expedite.outcome is not ExpediteOutcome.PENDING:
        raise ServiceError(_l("USCIS's answer to this expedite request is already recorded."))
    try:
        outcome = ExpediteOutcome(outcome)
    except ValueError:
        outcome = None
    if outcome not in EXPEDITE_ANSWERS:
        raise ServiceError(_l("Choose granted or denied."))
    outcome_on = not_in_future(actor, require_date(outcome_on, _l("Enter the date of USCIS's answer.")))
    if outcome_on < expedite.requested_on:
        raise ServiceError(_l("USCIS cannot answer before the request was sent. Please check "
                              "the date."))
    expedite.outcome, expedite.outcome_on = outcome, outcome_on
    audit.record("uscis.expedite_answered", actor=actor, case=case, target=str(expedite.uuid),
                 outcome=outcome.value, outcome_on=outcome_on.isoformat())
    timeline.add_event(actor, case, "uscis.expedite_outcome", client_text=clean(client_text),
                       internal_note=clean(internal_note),
                       data={"outcome": outcome.value, "on": outcome_on.isoformat(),
                             "expedite": str(expedite.uuid)})
    db.session.commit()
    return expedite


def expedite_requests(case: Case) -> list[ExpediteRequest]:
    """The case's expedite requests, newest first."""
    return list(db.session.scalars(
        select(ExpediteRequest).where(ExpediteRequest.case_id == case.id)
        .order_by(ExpediteRequest.requested_on.desc(), ExpediteRequest.id.desc())))
