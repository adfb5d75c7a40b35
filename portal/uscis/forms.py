"""Forms of the USCIS panel. Each is posted from the case page; a form
that changes the case row carries the ``version`` the person saw."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, IntegerField, RadioField, SelectField,
                     StringField, TextAreaField, TimeField)
from wtforms.validators import DataRequired, InputRequired, Optional
from wtforms.widgets import HiddenInput

from portal.forms_common import max_length
from portal.models import Decision
from portal.models.case import UrgencyFlag
from portal.uscis.labels import (APPOINTMENT_KINDS, DEADLINE_LABELS, DECISION_LABELS,
                                 EXPEDITE_ANSWERS, EXPEDITE_LABELS)

# Optional validators: a missing date reaches the service, whose message says which.
_DATE = [Optional()]


class _EventForm(FlaskForm):
    """What every USCIS entry may carry: words for the client, a note for the firm."""

    client_text = TextAreaField(_l("Message to the client (optional)"),
                                validators=[max_length(4000)])
    internal_note = TextAreaField(_l("Internal note (optional, the firm only)"),
                                  validators=[max_length(4000)])


class _VersionedForm(_EventForm):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class ReceiptForm(_VersionedForm):
    """Record or replace the receipt number."""

    receipt_number = StringField(_l("Receipt number"), validators=[max_length(40)],
                                 description=_l("Three letters and ten digits, as on the "
                                                "receipt notice, e.g. IOE0912345678."))


class StatusForm(_VersionedForm):
    """A USCIS online case status (choices, from the case type, set by the route)."""

    status = SelectField(_l("USCIS case status"), validate_choice=False)
    on = DateField(_l("Date of the status"), validators=_DATE)
    move = BooleanField(_l("Also move the case to the stage shown next to the status"),
                        default=True)


class AppointmentForm(_EventForm):
    """A biometrics appointment or an interview, on the attorney's clock."""

    kind = SelectField(_l("Appointment"), validate_choice=False,
                       choices=[(k.value, DEADLINE_LABELS[k]) for k in APPOINTMENT_KINDS])
    day = DateField(_l("Date"), validators=_DATE)
    at = TimeField(_l("Time (your time zone)"), validators=[Optional()])
    place = StringField(_l("Place (optional)"), validators=[max_length(200)])


class EditAppointmentForm(AppointmentForm, _VersionedForm):
    """A change to an appointment, on the attorney's clock (the panel fills
    in its current values), against the case version the person saw."""


class RemoveAppointmentForm(_VersionedForm):
    """Removing an appointment: the box is the confirmation, ticked by hand."""

    confirm = BooleanField(_l("Yes, remove this appointment"), validators=[DataRequired(
        # Translators: shown when the box confirming an appointment's removal was not ticked.
        message=_l("Tick the box to confirm that the appointment should be removed."))])


class AttendedForm(_EventForm):
    """The appointment took place."""

    on = DateField(_l("Date it took place"), validators=_DATE)


class RfeForm(_VersionedForm):
    """A Request for Evidence and its response deadline."""

    received_on = DateField(_l("Received on"), validators=_DATE)
    respond_by = DateField(_l("Response deadline"), validators=_DATE)


class RfeAnsweredForm(_VersionedForm):
    """The answer to the RFE was sent."""

    sent_on = DateField(_l("Answer sent on"), validators=_DATE)


class DecisionForm(_VersionedForm):
    """USCIS's decision."""

    decision = RadioField(_l("Decision"), validate_choice=False,
                          choices=[(d.value, DECISION_LABELS[d]) for d in Decision])
    decided_on = DateField(_l("Date of the decision"), validators=_DATE)


class ParoleForm(_VersionedForm):
    """The parole period from the I-94."""

    entry_on = DateField(_l("Date of entry (I-94)"), validators=_DATE)
    ends_on = DateField(_l("Parole end date (I-94)"), validators=_DATE)


class ExpediteForm(FlaskForm):
    """An expedite request sent to USCIS (ground labels come from the
    template's ``flag_label``, the one label map of urgency flags)."""

    requested_on = DateField(_l("Sent to USCIS on"), validators=_DATE)
    ground = SelectField(_l("Ground"), validate_choice=False,
                         choices=[(f.value, f.value) for f in UrgencyFlag])
    note = TextAreaField(_l("Internal note (optional, the firm only)"),
                         validators=[max_length(4000)])
    client_text = TextAreaField(_l("Message to the client (optional)"),
                                validators=[max_length(4000)])


class ExpediteOutcomeForm(_EventForm):
    """USCIS's answer to an expedite request."""

    outcome = RadioField(_l("USCIS's answer"), validate_choice=False,
                         choices=[(o.value, EXPEDITE_LABELS[o]) for o in EXPEDITE_ANSWERS])
    outcome_on = DateField(_l("Date of the answer"), validators=_DATE)
