"""Moving a case along its stage path, closing and reopening it, and the
firm's own timeline entries.

Each change names the case ``version`` the person saw: if someone else
changed the case since, the change is refused with ``CaseChanged`` rather
than applied on top of theirs. The database enforces the same at the moment
of writing (``Case.version`` is SQLAlchemy's version counter), so of two
requests racing past the first check, one still fails.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from portal import audit
from portal.case_types import get_case_type
from portal.cases import timeline
from portal.cases.permissions import can_manage_case
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, TimelineEvent, User


class CaseChanged(ServiceError):
    """Someone else changed the case after the person loaded the page."""

    def __init__(self):
        super().__init__(_l("Someone else changed this case while you were working on it. "
                            "Nothing was saved; here is the case as it is now."))


def _text(value: str | None) -> str:
    return (value or "").strip()


def _check(actor: User, case: Case, seen_version: int | None) -> None:
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if seen_version is not None and seen_version != case.version:
        raise CaseChanged()


def commit_change(case: Case, change: Callable[[], object]):
    """Run ``change`` (which edits ``case``) and commit; a concurrent change
    to the case rolls everything back and raises ``CaseChanged``."""
    try:
        result = change()
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise CaseChanged() from None
    return result


def move_stage(actor: User, case: Case, to_stage: str, seen_version: int | None,
               client_text: str = "", internal_note: str = "") -> TimelineEvent:
    """Move ``case`` to ``to_stage`` (forward, back, onto a detour or to an
    ending) and tell the client. Entering a closing ending closes the case;
    leaving one reopens it.

    Raises ``ServiceError`` for a stage the case type does not have or the
    stage the case is already at, ``CaseChanged`` after a concurrent change.
    """
    check_move(actor, case, to_stage, seen_version)
    client_text, internal_note = _text(client_text), _text(internal_note)

    def change():
        data = set_stage(actor, case, to_stage)
        return timeline.add_event(actor, case, "stage_changed", client_text=client_text,
                                  internal_note=internal_note, data=data)

    return commit_change(case, change)


def check_move(actor: User, case: Case, to_stage: str, seen_version: int | None) -> None:
    """Refuse a move of ``case`` to ``to_stage`` that may not be made: see ``move_stage``."""
    _check(actor, case, seen_version)
    if not get_case_type(case.case_type).has_stage(to_stage):
        raise ServiceError(_l("This stage is not part of this type of case."))
    if to_stage == case.stage:
        raise ServiceError(_l("The case is already at this stage."))


def set_stage(actor: User, case: Case, to_stage: str) -> dict:
    """Put ``case`` at ``to_stage`` (a stage of its type) and audit it; the
    caller writes the event and commits. Entering a closing ending closes
    the case, leaving one reopens it. Returns ``{"from", "to"}`` for the
    event's data."""
    from_stage = case.stage
    case.stage = to_stage
    case.closed_on = date.today() if get_case_type(case.case_type).stage(to_stage).closes else None
    audit.record("case.stage_changed", actor=actor, case=case, target=str(case.uuid),
                 from_stage=from_stage, to_stage=to_stage)
    return {"from": from_stage, "to": to_stage}


def closing_stage(case: Case) -> str:
    """The key of the ending that closes cases of this type."""
    return next(s.key for s in get_case_type(case.case_type).stages if s.closes)


def close_case(actor: User, case: Case, seen_version: int | None, reason: str,
               client_text: str = "") -> TimelineEvent:
    """Close ``case``; ``reason`` is required and stays with the firm."""
    _check(actor, case, seen_version)
    if case.closed_on is not None:
        raise ServiceError(_l("This case is already closed."))
    reason, client_text = _text(reason), _text(client_text)
    if not reason:
        raise ServiceError(_l("Say why the case is closed."))

    def change():
        from_stage = case.stage
        case.stage = closing_stage(case)
        case.closed_on = date.today()
        audit.record("case.closed", actor=actor, case=case, target=str(case.uuid),
                     from_stage=from_stage)
        return timeline.add_event(actor, case, "case.closed", client_text=client_text,
                                  internal_note=reason, data={"from": from_stage})

    return commit_change(case, change)


def reopen_case(actor: User, case: Case, seen_version: int | None, reason: str,
                client_text: str = "") -> TimelineEvent:
    """Reopen a closed case at the stage it was closed from."""
    _check(actor, case, seen_version)
    if case.closed_on is None:
        raise ServiceError(_l("This case is open."))
    reason, client_text = _text(reason), _text(client_text)
    if not reason:
        raise ServiceError(_l("Say why the case is reopened."))
    back_to = _stage_before_closing(case)

    def change():
        case.stage = back_to
        case.closed_on = None
        audit.record("case.reopened", actor=actor, case=case, target=str(case.uuid),
                     to_stage=back_to)
        return timeline.add_event(actor, case, "case.reopened", client_text=client_text,
                                  internal_note=reason, data={"to": back_to})

    return commit_change(case, change)


def _stage_before_closing(case: Case) -> str:
    """Where the case was before it was last closed; its first step if unknown."""
    closing = closing_stage(case)
    events = db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.case_id == case.id,
                                    TimelineEvent.kind.in_(("case.closed", "stage_changed")))
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()))
    case_type = get_case_type(case.case_type)
    for event in events:
        before = event.data.get("from")
        if before and before != closing and case_type.has_stage(before):
            return before
    return case_type.steps[0].key


def add_note(actor: User, case: Case, client_text: str, internal_note: str,
             for_client: bool) -> TimelineEvent:
    """A timeline entry written by the firm: a message to the client (and
    a notice to them), or a note the firm alone reads."""
    _check(actor, case, None)
    client_text, internal_note = _text(client_text), _text(internal_note)
    if for_client and not client_text:
        raise ServiceError(_l("Write what the client should read."))
    if not for_client and not internal_note:
        raise ServiceError(_l("Write the internal note."))
    event = timeline.add_event(actor, case, "note", client_text=client_text if for_client else "",
                               internal_note=internal_note, client_visible=for_client)
    audit.record("case.note_added", actor=actor, case=case, target=str(case.uuid),
                 for_client=for_client)
    db.session.commit()
    return event
