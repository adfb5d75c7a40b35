"""The receipt number and USCIS's online case statuses, as the firm records them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l

from portal import audit
from portal.case_types import get_case_type
from portal.cases import timeline
from portal.cases.stages import commit_change
from portal.errors import ServiceError
from portal.models import Case, TimelineEvent, User
from portal.uscis import receipts
from portal.uscis.changes import check, clean, move_to, not_in_future, require_date


@dataclass(frozen=True)
class ReceiptRecorded:
    """A receipt number saved; ``known_prefix`` is False for a service
    centre the firm does not know (saved, but worth a second look)."""

    number: str
    known_prefix: bool


def record_receipt(actor: User, case: Case, typed: str, seen_version: int | None,
                   client_text: str = "", internal_note: str = "") -> ReceiptRecorded:
    """Record or replace the case's USCIS receipt number, as typed (dashes
    and spaces are dropped). The client sees it on their timeline.

    Raises ``ServiceError`` for a missing or malformed number or the one
    already recorded (nothing is saved), ``CaseChanged`` after a concurrent change.
    """
    check(actor, case, seen_version)
    number = receipts.normalise(typed)
    if not number:
        raise ServiceError(_l("Enter the receipt number."))
    if not receipts.is_well_formed(number):
        raise ServiceError(_l("A USCIS receipt number is three letters and ten digits, for "
                              "example IOE0912345678. Please check the receipt notice."))
    if number == case.receipt_number:
        raise ServiceError(_l("This receipt number is already recorded."))
    known = receipts.has_known_prefix(number)

    def change():
        previous = case.receipt_number
        case.receipt_number = number
        audit.record("uscis.receipt_recorded", actor=actor, case=case, target=str(case.uuid),
                     number=number, previous=previous, known_prefix=known)
        timeline.add_event(actor, case, "uscis.receipt", client_text=clean(client_text),
                           internal_note=clean(internal_note),
                           data={"number": number, "previous": previous})

    commit_change(case, change)
    return ReceiptRecorded(number, known)


def record_status(actor: User, case: Case, title: str, on: date | None, move: bool,
                  seen_version: int | None, client_text: str = "",
                  internal_note: str = "") -> TimelineEvent:
    """Record a USCIS online case status (one of the case type's titles,
    kept as USCIS words it) and its date; with ``move``, the case moves in
    the same commit to the stage the status leads to.

    Raises ``ServiceError`` for a title the case type does not list or a
    missing or future date, ``CaseChanged`` after a concurrent change.
    """
    status = get_case_type(case.case_type).status(title or "")
    moves = move and status is not None and status.stage not in (None, case.stage)
    # The version matters only when the case row changes with the event.
    check(actor, case, seen_version if moves else None)
    if status is None:
        raise ServiceError(_l("Choose one of the USCIS statuses of this type of case."))
    on = not_in_future(actor, require_date(on, _l("Enter the date of the status.")))

    def change():
        moved = move_to(actor, case, status.stage) if moves else {}
        audit.record("uscis.status_recorded", actor=actor, case=case, target=str(case.uuid),
                     title=status.title, on=on.isoformat(), **moved)
        return timeline.add_event(actor, case, "uscis.status", client_text=clean(client_text),
                                  internal_note=clean(internal_note),
                                  data={"title": status.title, "on": on.isoformat(), **moved})

    return commit_change(case, change)
