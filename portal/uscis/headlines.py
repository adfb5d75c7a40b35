"""How the timeline words each USCIS event, in the reader's language (merged
into ``portal.cases.timeline.HEADLINES``). Dates are formatted when read;
an appointment's time in the reader's own time zone."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import format_date, format_time
from flask_babel import gettext as _

from portal.case_types import get_case_type
from portal.models import TimelineEvent


def _date(value: str | None) -> str:
    return format_date(date.fromisoformat(value), "long") if value else ""


def _moved(event: TimelineEvent, sentence: str) -> str:
    """``sentence``, followed by where the case moved if the event moved it."""
    to = (event.data or {}).get("to")
    case_type = get_case_type(event.case.case_type)
    if not to or not case_type.has_stage(to):
        return sentence
    return " ".join((sentence, _("The case moved to: %(stage)s.",
                                 stage=case_type.stage(to).title)))


def _receipt(e: TimelineEvent) -> str:
    return _("USCIS receipt number recorded: %(number)s.", number=e.data["number"])


def _status(e: TimelineEvent) -> str:
    # Translators: %(status)s is USCIS's own case-status title, e.g. "Case Was Received".
    return _moved(e, _("USCIS case status on %(date)s: %(status)s.",
                       date=_date(e.data["on"]), status=_(e.data["title"])))


def _when(value: str) -> str:
    starts_at = datetime.fromisoformat(value)  # shown on the reader's clock
    # Translators: an appointment's day and time, e.g. "July 15, 2027 at 3:30 PM".
    return _("%(date)s at %(time)s", date=format_date(starts_at, "long"),
             time=format_time(starts_at, "short"))


def _appointment(e: TimelineEvent) -> str:
    when = _when(e.data["starts_at"])
    place = e.data.get("place")
    if e.data["kind"] == "interview":
        return (_("USCIS interview: %(when)s at %(place)s.", when=when, place=place) if place
                else _("USCIS interview: %(when)s.", when=when))
    return (_("Biometrics appointment: %(when)s at %(place)s.", when=when, place=place) if place
            else _("Biometrics appointment: %(when)s.", when=when))


def _appointment_changed(e: TimelineEvent) -> str:
    when, place = _when(e.data["starts_at"]), e.data.get("place")
    if e.data["kind"] == "interview":
        return (_("The USCIS interview has changed: it is now on %(when)s at %(place)s.",
                  when=when, place=place) if place
                else _("The USCIS interview has changed: it is now on %(when)s.", when=when))
    return (_("The biometrics appointment has changed: it is now on %(when)s at %(place)s.",
              when=when, place=place) if place
            else _("The biometrics appointment has changed: it is now on %(when)s.", when=when))


def _appointment_removed(e: TimelineEvent) -> str:
    if not e.data.get("starts_at"):
        return (_("The USCIS interview is no longer scheduled.") if e.data["kind"] == "interview"
                else _("The biometrics appointment is no longer scheduled."))
    when = _when(e.data["starts_at"])
    if e.data["kind"] == "interview":
        return _("The USCIS interview of %(when)s is no longer scheduled.", when=when)
    return _("The biometrics appointment of %(when)s is no longer scheduled.", when=when)


def _attended(e: TimelineEvent) -> str:
    if e.data["kind"] == "interview":
        return _("The USCIS interview took place on %(date)s.", date=_date(e.data["on"]))
    return _("The biometrics appointment took place on %(date)s.", date=_date(e.data["on"]))


def _rfe(e: TimelineEvent) -> str:
    return _moved(e, _("USCIS asked for more evidence (a Request for Evidence received on "
                       "%(received)s). The answer is due by %(deadline)s.",
                       received=_date(e.data["received"]), deadline=_date(e.data["respond_by"])))


def _rfe_answered(e: TimelineEvent) -> str:
    return _moved(e, _("The answer to USCIS's Request for Evidence was sent on %(date)s.",
                       date=_date(e.data["sent_on"])))


def _decision(e: TimelineEvent) -> str:
    if e.data["decision"] == "approved":
        return _moved(e, _("USCIS approved the request on %(date)s.", date=_date(e.data["on"])))
    return _moved(e, _("USCIS denied the request on %(date)s.", date=_date(e.data["on"])))


def _parole(e: TimelineEvent) -> str:
    return _moved(e, _("Parole period recorded from the I-94: entry on %(entry)s; the parole "
                       "ends on %(end)s.", entry=_date(e.data["entry"]), end=_date(e.data["ends"])))


def _expedite(e: TimelineEvent) -> str:
    return _("Your attorney asked USCIS on %(date)s to decide the case faster (an expedite "
             "request).", date=_date(e.data["on"]))


def _expedite_outcome(e: TimelineEvent) -> str:
    if e.data["outcome"] == "granted":
        return _("USCIS agreed on %(date)s to expedite the case.", date=_date(e.data["on"]))
    return _("USCIS declined on %(date)s to expedite the case.", date=_date(e.data["on"]))


USCIS_HEADLINES = {
    "uscis.receipt": _receipt,
    "uscis.status": _status,
    "uscis.appointment": _appointment,
    "uscis.appointment_changed": _appointment_changed,
    "uscis.appointment_removed": _appointment_removed,
    "uscis.appointment_attended": _attended,
    "uscis.rfe": _rfe,
    "uscis.rfe_answered": _rfe_answered,
    "uscis.decision": _decision,
    "uscis.parole": _parole,
    "uscis.expedite": _expedite,
    "uscis.expedite_outcome": _expedite_outcome,
}
