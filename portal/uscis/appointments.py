"""Biometrics appointments and interviews: typed in the attorney's time
zone, kept in UTC, shown to each reader in theirs, with that zone named the
way the reader knows it (``zone_name``)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from babel.dates import get_timezone_location
from flask_babel import format_datetime, get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from portal import audit
from portal.cases import timeline
from portal.cases.stages import commit_change
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseDeadline, DeadlineKind, TimelineEvent, User
from portal.models.types import utcnow
from portal.i18n import local_now
from portal.uscis.changes import check, clean, not_in_future, require_date
from portal.uscis.labels import APPOINTMENT_KINDS

# The timeline events that tell the client of an appointment (the added one, or its change).
_TOLD = ("uscis.appointment", "uscis.appointment_changed")


def zone_name(at: datetime | None = None) -> str:
    """The reader's time zone as a person knows it, in their language: the
    city that names it ("New York", "Nueva York", "Нью-Йорк"), or for a zone
    that names no place (UTC, ``Etc/GMT+5``) its offset from GMT at ``at``
    ("GMT-05:00"). Never the IANA name."""
    zone = get_timezone()  # the reader's (Flask-Babel's selector), UTC when unknown
    key = getattr(zone, "zone", None) or getattr(zone, "key", None) or str(zone)
    # Etc/GMT+5 is five hours *behind* GMT: its "city" would read backwards.
    if "/" in key and not key.startswith("Etc/"):
        return get_timezone_location(zone, locale=get_locale(), return_city=True)
    return format_datetime(at or utcnow(), "ZZZZ")


def _when(actor: User, kind: DeadlineKind | str, day: date | None,
          at: time | None) -> tuple[DeadlineKind, date, datetime]:
    """The kind, the actor's day and the UTC start of an appointment typed
    on the actor's clock; ``ServiceError`` for another kind or a missing
    date or time."""
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
    return kind, day, datetime.combine(day, at, zone).astimezone(timezone.utc)


def _not_passed(starts_at: datetime) -> None:
    if starts_at < utcnow():
        raise ServiceError(_l("This appointment time has already passed. Please check the "
                              "date and time."))


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
    kind, day, starts_at = _when(actor, kind, day, at)
    _not_passed(starts_at)
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


def client_was_told(appointment: CaseDeadline) -> bool:
    """True if the client's timeline told them of ``appointment`` (its
    adding or a change of it), so a change or removal is told there too."""
    told = db.session.scalars(select(TimelineEvent.data).where(
        TimelineEvent.case_id == appointment.case_id, TimelineEvent.kind.in_(_TOLD),
        TimelineEvent.client_visible.is_(True)))
    return any((data or {}).get("deadline") == str(appointment.uuid) for data in told)


def _open_appointment(appointment: CaseDeadline, attended_message) -> None:
    if appointment.kind not in APPOINTMENT_KINDS:
        raise ServiceError(_l("This is not an appointment."))
    if appointment.met_on is not None:
        raise ServiceError(attended_message)


def _touch(case: Case) -> None:
    # The appointment lives in its own table: touch the case row anyway, so the
    # change raises the case's version and a concurrent one is refused.
    flag_modified(case, "title")


def edit_appointment(actor: User, case: Case, appointment: CaseDeadline,
                     seen_version: int | None, kind: DeadlineKind | str, day: date | None,
                     at: time | None, place: str, client_text: str = "",
                     internal_note: str = "") -> TimelineEvent:
    """Change an appointment not yet attended: its kind, its day and time
    (on the actor's clock, as when added) and its place. Audited as
    ``uscis.appointment_updated`` with the names of the fields changed; the
    client is told on their timeline (and by the usual content-free email)
    if they were told of the appointment, or if the firm writes to them.

    Raises ``ServiceError`` for what ``add_appointment`` refuses (a new time
    already past included), an attended appointment, an RFE deadline or a
    change that changes nothing; ``CaseChanged`` if the case changed since
    ``seen_version``.
    """
    check(actor, case, seen_version)
    _open_appointment(appointment, _l("This appointment is marked as attended; it can no "
                                      "longer be changed."))
    kind, day, starts_at = _when(actor, kind, day, at)
    place = clean(place)
    was = {"kind": appointment.kind, "starts_at": appointment.starts_at, "place": appointment.place}
    now = {"kind": kind, "starts_at": starts_at, "place": place}
    changed = [name for name in now if now[name] != was[name]]
    if not changed:
        raise ServiceError(_l("Nothing was changed: the appointment stays as it was."))
    if "starts_at" in changed:
        _not_passed(starts_at)
    client_text = clean(client_text)
    visible = client_was_told(appointment) or bool(client_text)

    def change():
        appointment.kind, appointment.due_on = kind, day
        appointment.starts_at, appointment.place = starts_at, place
        _touch(case)
        audit.record("uscis.appointment_updated", actor=actor, case=case,
                     target=str(appointment.uuid), fields=changed, kind=kind.value,
                     starts_at=starts_at.isoformat())
        return timeline.add_event(
            actor, case, "uscis.appointment_changed", client_text=client_text,
            internal_note=clean(internal_note), client_visible=visible,
            data={"kind": kind.value, "starts_at": starts_at.isoformat(), "place": place,
                  "was": was["starts_at"].isoformat() if was["starts_at"] else None,
                  "changed": changed, "deadline": str(appointment.uuid)})

    return commit_change(case, change)


def remove_appointment(actor: User, case: Case, appointment: CaseDeadline,
                       seen_version: int | None, client_text: str = "",
                       internal_note: str = "") -> TimelineEvent:
    """Remove an appointment not yet attended (cancelled by USCIS, or
    entered by mistake): the row goes, so it leaves the case page, the
    agenda and the calendar feed; the timeline keeps what was said. Audited
    as ``uscis.appointment_removed``; the client is told as for a change.

    Raises ``ServiceError`` for an attended appointment or an RFE deadline;
    ``CaseChanged`` if the case changed since ``seen_version``.
    """
    check(actor, case, seen_version)
    _open_appointment(appointment, _l("This appointment is marked as attended; it stays on "
                                      "the case's record."))
    client_text = clean(client_text)
    visible = client_was_told(appointment) or bool(client_text)

    def change():
        _touch(case)
        audit.record("uscis.appointment_removed", actor=actor, case=case,
                     target=str(appointment.uuid), kind=appointment.kind.value)
        event = timeline.add_event(
            actor, case, "uscis.appointment_removed", client_text=client_text,
            internal_note=clean(internal_note), client_visible=visible,
            data={"kind": appointment.kind.value,
                  "starts_at": appointment.starts_at.isoformat() if appointment.starts_at else None,
                  "deadline": str(appointment.uuid)})
        db.session.delete(appointment)
        return event

    return commit_change(case, change)


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
