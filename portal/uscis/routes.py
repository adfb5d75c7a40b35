"""USCIS tracking on the case page: each form posts here, a service records
it, and the person goes back to the case page with what happened."""
from __future__ import annotations

from flask import Blueprint, abort, flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.cases import sections, timeline
from portal.cases.changes import apply_change
from portal.cases.permissions import can_manage_case, get_case_or_404
from portal.cases.sections import Section
from portal.models import Case
from portal.uscis import appointments, decision, expedite, forms, rfe, status
from portal.uscis.headlines import USCIS_HEADLINES
from portal.uscis.panel import uscis_section
from portal.uscis.permissions import get_deadline_or_404, get_expedite_or_404

bp = Blueprint("uscis", __name__)
sections.offer(bp, Section("uscis", _l("USCIS and parole"), order=30, client_order=40,
                           template="uscis/_panel.html", context=uscis_section))
timeline.offer_headlines(bp, USCIS_HEADLINES)
# Pages that show an appointment's time (the case page, the agenda) name the reader's zone.
bp.add_app_template_global(appointments.zone_name, "zone_name")

def _tracked_case(case_uuid: str) -> Case:
    """The case, for a change only its attorney team may make (403 for
    the client and sponsor, 404 for anyone the case is hidden from)."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_manage_case(current_user, case):
        abort(403)
    return case


def _apply(case: Case, form, change, done=None, then=None, *, key: str):
    """``apply_change`` for a form of the panel named ``key`` (``uscis/panel.py``)."""
    return apply_change(case, form, change, done, then, anchor="uscis-heading", key=key)


def _texts(form) -> dict:
    return {"client_text": form.client_text.data or "", "internal_note": form.internal_note.data or ""}


@bp.route("/cases/<case_uuid>/uscis/receipt", methods=["POST"])
def record_receipt(case_uuid: str):
    """Record or replace the receipt number; an unknown service centre is
    saved with a warning."""
    case = _tracked_case(case_uuid)
    form = forms.ReceiptForm()

    def warn(recorded: status.ReceiptRecorded) -> None:
        if not recorded.known_prefix:
            flash(_("%(prefix)s is not a service centre we know; check it.",
                    prefix=recorded.number[:3]), "warning")
    return _apply(case, form, lambda: status.record_receipt(
        current_user, case, form.receipt_number.data, form.version.data, **_texts(form)),
        then=warn, key="uscis-receipt")


@bp.route("/cases/<case_uuid>/uscis/status", methods=["POST"])
def record_status(case_uuid: str):
    """Record a USCIS online case status, moving the case if asked."""
    case = _tracked_case(case_uuid)
    form = forms.StatusForm()
    return _apply(case, form, lambda: status.record_status(
        current_user, case, form.status.data, form.on.data, form.move.data, form.version.data,
        **_texts(form)), key="uscis-status")


@bp.route("/cases/<case_uuid>/uscis/appointments", methods=["POST"])
def add_appointment(case_uuid: str):
    """Add a biometrics appointment or an interview."""
    case = _tracked_case(case_uuid)
    form = forms.AppointmentForm()
    return _apply(case, form, lambda: appointments.add_appointment(
        current_user, case, form.kind.data, form.day.data, form.at.data, form.place.data or "",
        **_texts(form)), key="uscis-appointment")


@bp.route("/cases/<case_uuid>/uscis/appointments/<deadline_uuid>/attended", methods=["POST"])
def mark_attended(case_uuid: str, deadline_uuid: str):
    """Mark an appointment as attended."""
    case = _tracked_case(case_uuid)
    appointment = get_deadline_or_404(case, deadline_uuid, current_user)
    form = forms.AttendedForm()
    return _apply(case, form, lambda: appointments.mark_attended(
        current_user, case, appointment, form.on.data, **_texts(form)),
        done=_("Saved. Only the firm sees this unless you wrote to the client."),
        key=f"uscis-{appointment.uuid}-attended")


def _who_was_told(event) -> None:
    if event.client_visible:
        flash(_("The client sees it on their timeline."), "info")
    else:
        flash(_("Only the firm sees this on the timeline: the client was never told of "
                "this appointment there."), "info")


@bp.route("/cases/<case_uuid>/uscis/appointments/<deadline_uuid>/edit", methods=["POST"])
def edit_appointment(case_uuid: str, deadline_uuid: str):
    """Change an appointment's kind, day, time or place."""
    case = _tracked_case(case_uuid)
    appointment = get_deadline_or_404(case, deadline_uuid, current_user)
    form = forms.EditAppointmentForm()
    return _apply(case, form, lambda: appointments.edit_appointment(
        current_user, case, appointment, form.version.data, form.kind.data, form.day.data,
        form.at.data, form.place.data or "", **_texts(form)),
        done=_("The appointment was changed."), then=_who_was_told,
        key=f"uscis-{appointment.uuid}-edit")


@bp.route("/cases/<case_uuid>/uscis/appointments/<deadline_uuid>/remove", methods=["POST"])
def remove_appointment(case_uuid: str, deadline_uuid: str):
    """Remove an appointment (cancelled, or entered by mistake)."""
    case = _tracked_case(case_uuid)
    appointment = get_deadline_or_404(case, deadline_uuid, current_user)
    form = forms.RemoveAppointmentForm()
    return _apply(case, form, lambda: appointments.remove_appointment(
        current_user, case, appointment, form.version.data, **_texts(form)),
        done=_("The appointment was removed."), then=_who_was_told,
        key=f"uscis-{appointment.uuid}-remove")


@bp.route("/cases/<case_uuid>/uscis/rfe", methods=["POST"])
def record_rfe(case_uuid: str):
    """Record a Request for Evidence and its response deadline."""
    case = _tracked_case(case_uuid)
    form = forms.RfeForm()
    return _apply(case, form, lambda: rfe.record_rfe(
        current_user, case, form.received_on.data, form.respond_by.data, form.version.data,
        **_texts(form)), key="uscis-rfe")


@bp.route("/cases/<case_uuid>/uscis/rfe/<deadline_uuid>/answered", methods=["POST"])
def answer_rfe(case_uuid: str, deadline_uuid: str):
    """Record that the answer to the RFE was sent."""
    case = _tracked_case(case_uuid)
    deadline = get_deadline_or_404(case, deadline_uuid, current_user)
    form = forms.RfeAnsweredForm()
    return _apply(case, form, lambda: rfe.answer_rfe(
        current_user, case, deadline, form.sent_on.data, form.version.data, **_texts(form)),
        key="uscis-rfe_answered")


@bp.route("/cases/<case_uuid>/uscis/decision", methods=["POST"])
def record_decision(case_uuid: str):
    """Record USCIS's decision."""
    case = _tracked_case(case_uuid)
    form = forms.DecisionForm()
    return _apply(case, form, lambda: decision.record_decision(
        current_user, case, form.decision.data or "", form.decided_on.data, form.version.data,
        **_texts(form)), key="uscis-decision")


@bp.route("/cases/<case_uuid>/uscis/parole", methods=["POST"])
def record_parole(case_uuid: str):
    """Record the parole period from the I-94."""
    case = _tracked_case(case_uuid)
    form = forms.ParoleForm()
    return _apply(case, form, lambda: decision.record_parole(
        current_user, case, form.entry_on.data, form.ends_on.data, form.version.data,
        **_texts(form)), key="uscis-parole")


@bp.route("/cases/<case_uuid>/uscis/expedite", methods=["POST"])
def request_expedite(case_uuid: str):
    """Record an expedite request sent to USCIS."""
    case = _tracked_case(case_uuid)
    form = forms.ExpediteForm()
    return _apply(case, form, lambda: expedite.request_expedite(
        current_user, case, form.requested_on.data, form.ground.data or "", form.note.data or "",
        form.client_text.data or ""), key="uscis-expedite")


@bp.route("/cases/<case_uuid>/uscis/expedite/<expedite_uuid>/outcome", methods=["POST"])
def record_expedite_outcome(case_uuid: str, expedite_uuid: str):
    """Record USCIS's answer to an expedite request."""
    case = _tracked_case(case_uuid)
    request = get_expedite_or_404(case, expedite_uuid, current_user)
    form = forms.ExpediteOutcomeForm()
    return _apply(case, form, lambda: expedite.record_outcome(
        current_user, case, request, form.outcome.data or "", form.outcome_on.data,
        **_texts(form)), key=f"expedite-{request.uuid}-outcome")
