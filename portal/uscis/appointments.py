"""Biometrics appointments and interviews: typed in the attorney's time
zone, kept in UTC, shown to each reader in theirs."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.cases import timeline
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseDeadline, DeadlineKind, User
from portal.models.types import utcnow
from portal.requests.services import local_now
from portal.uscis.changes import check, clean, not_in_future, require_date
from portal.uscis.labels import APPOINTMENT_KINDS


def add_appointment(actor: User, case: Case, kind: DeadlineKind | str, day: date | None,
                    at: time | None, place: str, client_text: str = "",
                    internal_note: str = "") -> CaseDeadline:
    """Add a biometrics appointment or interview at ``day`` ``at`` o'clock
    on the actor's clock (stored in UTC; ``due_on`` is that local day). The
    client is told and sees it in their own time zone.

    Raises ``ServiceError`` for another kind, a missing date or time, or a
    time already past.
    """
    check(actor, case)
    try:
        kind = DeadlineKind(kind)
    except ValueError:
        kind = None
    if kind not in APPOINTMENT_KINDS:
        raise ServiceError(_l("Choose a biometrics appointment or an interview."))
    day = require_date(day, _l("Enter the date of the appointment."))
    if at is None:
        raise ServiceError(_l("Enter the time of the appointment."))
    zone = local_now(actor).tzinfo  # the actor's time zone (UTC if theirs is unknown)
    starts_at = datetime.combine(day, at, zone).astimezone(timezone.utc)
    if starts_at < utcnow():
        raise ServiceError(_l("This appointment time has already passed. Please check the "
                              "date and time."))
    place = clean(place)
    deadline = CaseDeadline(case=case, kind=kind, due_on=day, starts_at=starts_at, place=place,
                            created_by_id=actor.id)
    db.session.add(deadline)
    db.session.flush()  # its UUID, for the event
    audit.record("uscis.appointment_added", actor=actor, case=case, target=str(deadline.uuid),
                 kind=kind.value, starts_at=starts_at.isoformat())
    timeline.add_event(actor, case, "uscis.appointment", client_text=clean(client_text),
                       internal_note=clean(internal_note),
                       data={"kind": kind.value, "starts_at": starts_at.isoformat(),
                             "place": place, "deadline": str(deadline.uuid)})
    db.session.commit()
    return deadline


def mark_attended(actor: User, case: Case, appointment: CaseDeadline, on: date | None,
                  client_text: str = "", internal_note: str = "") -> CaseDeadline:
    """Record that the appointment took place on ``on``, which takes it off
    the agenda. The event is the firm's alone unless it writes to the client.

    Raises ``ServiceError`` for an RFE deadline, an appointment already
    marked, or a day before the appointment's.
    """
    check(actor, case)
    if appointment.kind not in APPOINTMENT_KINDS:
        raise ServiceError(_l("This is not an appointment."))
    if appointment.met_on is not None:
        raise ServiceError(_l("This appointment is already marked as attended."))
    on = not_in_future(actor, require_date(on, _l("Enter the date the appointment took place.")))
    if on < appointment.due_on:
        raise ServiceError(_l("An appointment cannot take place before its day."))
    appointment.met_on = on
    client_text = clean(client_text)
    audit.record("uscis.appointment_attended", actor=actor, case=case,
                 target=str(appointment.uuid), on=on.isoformat())
    timeline.add_event(actor, case, "uscis.appointment_attended", client_text=client_text,
                       internal_note=clean(internal_note), client_visible=bool(client_text),
                       data={"kind": appointment.kind.value, "on": on.isoformat(),
                             "deadline": str(appointment.uuid)})
    db.session.commit()
    return appointment


def appointments(case: Case, upcoming_only: bool = False) -> list[CaseDeadline]:
    """The case's appointments, soonest first; with ``upcoming_only``, those
    not attended whose time has not passed."""
    query = (select(CaseDeadline).where(CaseDeadline.case_id == case.id,
                                        CaseDeadline.kind.in_(APPOINTMENT_KINDS))
             .order_by(CaseDeadline.starts_at, CaseDeadline.id))
    if upcoming_only:
        query = query.where(CaseDeadline.met_on.is_(None), CaseDeadline.starts_at >= utcnow())
    return list(db.session.scalars(query))
