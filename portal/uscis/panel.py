"""What the case page shows of USCIS tracking, to whom (``uscis_section``).

The client reads plain facts: the receipt number, USCIS's latest status,
upcoming appointments in their own time zone, an open RFE's deadline, the
decision, and the parole period with the time left. The firm reads the same
with every appointment, the expedite requests and the forms. A sponsor
sees nothing of it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_timedelta
from flask_babel import gettext as _
from sqlalchemy import select

from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, CaseDeadline, Decision, ExpediteRequest, TimelineEvent, User
from portal.models.case import UrgencyFlag
from portal.forms_common import distinct_ids
from portal.i18n import local_now
from portal.uscis import appointments, expedite, forms, rfe
from portal.uscis.decision import PAROLED, reparole_file_by
from portal.uscis.labels import (DEADLINE_LABELS, DECISION_LABELS, EXPEDITE_ANSWERS,
                                 EXPEDITE_LABELS)
from portal.cases.permissions import can_see_internal_notes


@dataclass(frozen=True)
class LatestStatus:
    """USCIS's latest recorded status, in the reader's language."""

    title: str
    on: date


@dataclass(frozen=True)
class ParolePeriod:
    """The parole period as the reader sees it on their day."""

    entry_on: date | None
    ends_on: date
    file_by: date
    days_left: int
    time_left: str  # "in 3 months", in the reader's language; "" once ended or today


@dataclass
class Panel:
    """The USCIS panel's content for one reader."""

    receipt_number: str | None
    status: LatestStatus | None
    appointments: list[CaseDeadline]
    rfe: CaseDeadline | None
    rfe_received: date | None
    decision: Decision | None
    decided_on: date | None
    parole: ParolePeriod | None
    expedites: list[ExpediteRequest] | None = None  # the firm only
    forms: dict = field(default_factory=dict)  # the firm only, on an open case
    # Per appointment not attended (by UUID): its "attended" form, and for one
    # with a time its "edit" and "remove" forms, as ``forms``.
    appointment_forms: dict = field(default_factory=dict)
    # Per pending expedite request (by UUID): the form of USCIS's answer.
    expedite_forms: dict = field(default_factory=dict)
    today: date | None = None
    labels: dict = field(default_factory=lambda: {
        "deadline": DEADLINE_LABELS, "decision": DECISION_LABELS, "expedite": EXPEDITE_LABELS,
        "answers": [(o.value, EXPEDITE_LABELS[o]) for o in EXPEDITE_ANSWERS],
        "grounds": list(UrgencyFlag)})  # labelled by the templates' flag_label

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to tell the client yet."""
        return not (self.receipt_number or self.status or self.appointments or self.rfe
                    or self.decision or self.parole)


def latest_status(case: Case) -> LatestStatus | None:
    """The latest USCIS status recorded for ``case``, its title translated."""
    data = db.session.scalar(select(TimelineEvent.data).where(
        TimelineEvent.case_id == case.id, TimelineEvent.kind == "uscis.status")
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()).limit(1))
    return LatestStatus(_(data["title"]), date.fromisoformat(data["on"])) if data else None


def parole_period(case: Case, today: date) -> ParolePeriod | None:
    """The case's parole period seen from ``today``, or None."""
    if case.parole_ends_on is None:
        return None
    left = case.parole_ends_on - today
    return ParolePeriod(case.parole_entry_on, case.parole_ends_on, reparole_file_by(case),
                        left.days,
                        format_timedelta(left, granularity="day", add_direction=True)
                        if left.days > 0 else "")


def _status_choices(case: Case) -> list[tuple[str, str]]:
    case_type = get_case_type(case.case_type)
    choices = [("", _("Choose…"))]
    for status in case_type.uscis_statuses:
        if status.stage and case_type.has_stage(status.stage):
            # Translators: a USCIS status and the stage it moves the case to.
            label = _("%(status)s → %(stage)s", status=_(status.title),
                      stage=case_type.stage(status.stage).title)
        else:
            label = _(status.title)
        choices.append((status.title, label))
    return choices


def _on_your_clock(form) -> None:
    # The time is typed on the attorney's clock: say which, as the reader knows it.
    form.at.description = _("Your time zone: %(zone)s.", zone=appointments.zone_name())


def _appointment_forms(user: User, case: Case, listed: list[CaseDeadline], today: date) -> dict:
    """The forms of each listed appointment not attended: "attended", and
    for one with a time "edit" (filled in with its kind, place, and day and
    time on ``user``'s clock) and "remove"."""
    zone = local_now(user).tzinfo
    found = {}
    for appointment in listed:
        if appointment.met_on is not None:
            continue
        own = {"attended": forms.AttendedForm(formdata=None, on=today)}
        if appointment.starts_at is not None:
            local = appointment.starts_at.astimezone(zone)
            own["edit"] = forms.EditAppointmentForm(
                formdata=None, version=case.version, kind=appointment.kind.value,
                day=local.date(), at=local.time().replace(second=0, microsecond=0),
                place=appointment.place)
            _on_your_clock(own["edit"])
            own["remove"] = forms.RemoveAppointmentForm(formdata=None, version=case.version)
        found[appointment.uuid] = distinct_ids(f"uscis-{appointment.uuid}", own)
    return found


def _expedite_forms(listed: list[ExpediteRequest], today: date) -> dict:
    """The form of USCIS's answer to each pending expedite request."""
    return {e.uuid: distinct_ids(f"expedite-{e.uuid}", {
        "outcome": forms.ExpediteOutcomeForm(formdata=None, outcome_on=today)})["outcome"]
        for e in listed if e.outcome.value == "pending"}


def _forms(case: Case, today: date) -> dict:
    """The firm's forms, each against the case's current version."""
    version = {"version": case.version, "formdata": None}
    appointment = forms.AppointmentForm(formdata=None)
    _on_your_clock(appointment)
    status_form = forms.StatusForm(**version)
    status_form.status.choices = _status_choices(case)
    case_type = get_case_type(case.case_type)
    return distinct_ids("uscis", {
        "receipt": forms.ReceiptForm(**version),
        "status": status_form if case_type.uscis_statuses else None,
        "appointment": appointment,
        "rfe": forms.RfeForm(**version),
        "rfe_answered": forms.RfeAnsweredForm(sent_on=today, **version),
        "decision": forms.DecisionForm(**version),
        "parole": (forms.ParoleForm(**version)
                   if case_type.has_stage(PAROLED) or case.parole_ends_on else None),
        "expedite": forms.ExpediteForm(requested_on=today, formdata=None),
    })


def uscis_section(case: Case, user: User, page: Mapping) -> dict | None:
    """The case page's section (``portal.cases.sections``) for
    ``templates/uscis/_panel.html``: ``{"uscis": Panel}`` for the firm and
    the client, None for anyone else."""
    # The USCIS facts are the client's story: the firm and the client, never a sponsor.
    if not page["show_story"]:
        return None
    today = page["today"]
    firm = can_see_internal_notes(user)  # expedite grounds and notes are the firm's papers
    open_rfe = rfe.open_rfe(case)
    panel = Panel(
        receipt_number=case.receipt_number,
        status=latest_status(case),
        appointments=appointments.appointments(case, upcoming_only=not firm),
        rfe=open_rfe,
        rfe_received=rfe.received_on(open_rfe) if open_rfe else None,
        decision=case.decision,
        decided_on=case.decided_on,
        parole=parole_period(case, today),
        today=today,
    )
    if firm:
        panel.expedites = expedite.expedite_requests(case)
    if page["can_manage"] and case.closed_on is None:
        panel.forms = _forms(case, today)
        panel.appointment_forms = _appointment_forms(user, case, panel.appointments, today)
        panel.expedite_forms = _expedite_forms(panel.expedites or [], today)
    return {"uscis": panel}
