"""USCIS's decision on the request, and the parole period that follows an approval."""
from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import audit
from portal.case_types import get_case_type
from portal.cases import timeline
from portal.cases.stages import commit_change
from portal.errors import ServiceError
from portal.models import Case, Decision, TimelineEvent, User
from portal.uscis.changes import check, clean, move_to, not_in_future, require_date

# Where each decision takes a case: the approval step, or the ending for a
# denial (a type without such a stage stays where it is).
DECISION_STAGES = {Decision.APPROVED: "decision", Decision.DENIED: "denied"}
PAROLED = "paroled"


def _later_step(case: Case, stage_key: str) -> bool:
    """True if the case is already at a step after ``stage_key``: news that
    arrives late must not send it back along the path."""
    keys = [s.key for s in get_case_type(case.case_type).steps]
    return (case.stage in keys and stage_key in keys
            and keys.index(case.stage) > keys.index(stage_key))


def record_decision(actor: User, case: Case, decision: Decision | str, decided_on: date | None,
                    seen_version: int | None, client_text: str = "",
                    internal_note: str = "") -> TimelineEvent:
    """Record USCIS's decision and its date (replacing an earlier entry):
    an approval moves the case to the approval step, a denial to the denied
    ending. The client is told.

    Raises ``ServiceError`` for an unknown decision, a missing or future
    date, or the decision already recorded; ``CaseChanged`` after a
    concurrent change.
    """
    check(actor, case, seen_version)
    try:
        decision = Decision(decision)
    except ValueError:
        raise ServiceError(_l("Choose approved or denied.")) from None
    decided_on = not_in_future(actor, require_date(decided_on, _l("Enter the date of the decision.")))
    if case.decision is decision and case.decided_on == decided_on:
        raise ServiceError(_l("This decision is already recorded."))
    target = DECISION_STAGES[decision]

    def change():
        moved = {} if _later_step(case, target) else move_to(actor, case, target)
        case.decision, case.decided_on = decision, decided_on
        audit.record("uscis.decision_recorded", actor=actor, case=case, target=str(case.uuid),
                     decision=decision.value, decided_on=decided_on.isoformat(), **moved)
        return timeline.add_event(actor, case, "uscis.decision", client_text=clean(client_text),
                                  internal_note=clean(internal_note),
                                  data={"decision": decision.value,
                                        "on": decided_on.isoformat(), **moved})

    return commit_change(case, change)


def record_parole(actor: User, case: Case, entry_on: date | None, ends_on: date | None,
                  seen_version: int | None, client_text: str = "",
                  internal_note: str = "") -> TimelineEvent:
    """Record the parole period from the I-94 (entry date and parole end
    date) and move the case to Paroled. A new end date after a re-parole
    starts a new series of reminders.

    Raises ``ServiceError`` for a missing date, a future entry, an end not
    after the entry, or the period already recorded; ``CaseChanged`` after
    a concurrent change.
    """
    check(actor, case, seen_version)
    entry_on = not_in_future(actor, require_date(entry_on, _l("Enter the date of entry from the I-94.")))
    ends_on = require_date(ends_on, _l("Enter the parole end date from the I-94."))
    if ends_on <= entry_on:
        raise ServiceError(_l("The parole end date must come after the date of entry. Please "
                              "check both dates on the I-94."))
    if (case.parole_entry_on, case.parole_ends_on) == (entry_on, ends_on):
        raise ServiceError(_l("This parole period is already recorded."))

    def change():
        previous = case.parole_ends_on
        moved = move_to(actor, case, PAROLED)
        case.parole_entry_on, case.parole_ends_on = entry_on, ends_on
        audit.record("uscis.parole_recorded", actor=actor, case=case, target=str(case.uuid),
                     entry_on=entry_on.isoformat(), ends_on=ends_on.isoformat(),
                     previous_end=previous.isoformat() if previous else None, **moved)
        return timeline.add_event(actor, case, "uscis.parole", client_text=clean(client_text),
                                  internal_note=clean(internal_note),
                                  data={"entry": entry_on.isoformat(), "ends": ends_on.isoformat(),
                                        **moved})

    return commit_change(case, change)


def reparole_file_by(case: Case) -> date | None:
    """The day by which a re-parole request should be filed, or None."""
    if case.parole_ends_on is None:
        return None
    return case.parole_ends_on - timedelta(days=current_app.config["REPAROLE_FILE_DAYS_BEFORE"])
