"""Forms of the case pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, FieldList, Form, FormField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Email, InputRequired, Optional
from wtforms.widgets import HiddenInput

from portal.auth.forms import email_field, language_choices
from portal.forms_common import max_length
from portal.models.case import CaseRole


class InviteForm(FlaskForm):
    """Invite a client or sponsor to a case by email."""

    name = StringField(_l("Full name"), validators=[DataRequired(), max_length(200)])
    email = email_field()
    case_role = SelectField(_l("Role in this case"), choices=[
        (CaseRole.CLIENT.value, _l("Client")), (CaseRole.SPONSOR.value, _l("Sponsor"))])
    language = SelectField(_l("Language of the invitation email"), choices=language_choices)


class _CaseChangeForm(FlaskForm):
    """A change to a case, made against the ``version`` the person saw."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class StageForm(_CaseChangeForm):
    """Move the case to another stage of its type (choices set by the route)."""

    stage = SelectField(_l("Move the case to"), validators=[DataRequired()])
    client_text = TextAreaField(_l("Message to the client (optional)"),
                                description=_l("Shown on the client's timeline under the new stage."),
                                validators=[max_length(4000)])
    internal_note = TextAreaField(_l("Internal note (optional, the firm only)"),
                                  validators=[max_length(4000)])


class CloseForm(_CaseChangeForm):
    """Close or reopen the case with a reason."""

    reason = TextAreaField(_l("Reason (the firm only)"),
                           validators=[DataRequired(), max_length(4000)])
    client_text = TextAreaField(_l("Message to the client (optional)"),
                                validators=[max_length(4000)])


class NoteForm(FlaskForm):
    """A timeline entry: to the client, or for the firm alone."""

    audience = RadioField(_l("Who reads it"), default="client", choices=[
        ("client", _l("The client (they are notified)")),
        ("firm", _l("The firm only"))])
    client_text = TextAreaField(_l("What the client reads"), validators=[max_length(4000)])
    internal_note = TextAreaField(_l("Internal note (the firm only)"),
                                  validators=[max_length(4000)])


# --- opening a case and editing its details ----------------------------------
# Choices of the country, attorney and flag fields are set by the route (the
# country names are in the reader's language); the service refuses values
# not on the lists with a message of its own.

class _CaseDetailsForm(FlaskForm):
    """What the firm says about a case."""

    title = StringField(_l("Title"), validators=[DataRequired(), max_length(200)],
                        description=_l("The firm and the client see it; sponsors never do."))
    beneficiary_name = StringField(_l("Beneficiary's full name"),
                                   validators=[DataRequired(), max_length(200)])
    beneficiary_country = SelectField(_l("Beneficiary's country"), validators=[DataRequired()],
                                      validate_choice=False)
    # Labelled in the template by the flags' one label map (``flag_label``).
    flags = SelectMultipleField(_l("Urgency"), validate_choice=False)
    attorney = SelectField(_l("Assigned attorney"), validators=[DataRequired()],
                           validate_choice=False)


class PersonRowForm(Form):
    """A sponsor to invite; a row left empty is ignored (no CSRF of its
    own: the enclosing form carries it)."""

    name = StringField(_l("Full name"), validators=[Optional(), max_length(200)])
    email = EmailField(_l("Email"), validators=[
        Optional(), max_length(254),
        Email(check_deliverability=False, message=_l("Enter a valid email address."))])
    language = SelectField(_l("Language of the invitation email"), choices=language_choices)


SPONSOR_ROWS = 3


class OpenCaseForm(_CaseDetailsForm):
    """Open a case and invite its client and sponsors, in one step."""

    case_type = SelectField(_l("Type of case"), validators=[DataRequired()],
                            validate_choice=False)
    client_name = StringField(_l("Client's full name"),
                              validators=[DataRequired(), max_length(200)])
    client_email = email_field(_l("Client's email"))
    client_language = SelectField(_l("Language of the invitation email"),
                                  choices=language_choices)
    sponsors = FieldList(FormField(PersonRowForm), min_entries=SPONSOR_ROWS,
                         max_entries=SPONSOR_ROWS)
    keep_me = BooleanField(
        _l("Keep me on the case team"),
        description=_l("If you assign another attorney, the case leaves your list once it is "
                       "open unless you tick this."))


class EditCaseForm(_CaseChangeForm, _CaseDetailsForm):
    """Change a case's details and its attorney, against the version seen."""

    keep_previous = BooleanField(_l("Keep the attorney before on the case team"))
    handover_reason = StringField(
        _l("Why the case changes attorney"), validators=[max_length(500)],
        description=_l("Needed only when you choose another attorney. Kept in the audit trail."))


# --- the case team ------------------------------------------------------------

class TeamAddForm(FlaskForm):
    """Put one of the firm's attorneys or staff on the case (choices set by the route)."""

    person = SelectField(_l("Add to the case team"), validators=[DataRequired()],
                         validate_choice=False)
    reason = StringField(_l("Why"), validators=[DataRequired(), max_length(500)],
                         description=_l("Kept in the audit trail."))


class TeamRemoveForm(FlaskForm):
    """Take someone off the case team, saying why."""

    reason = StringField(_l("Why"), validators=[DataRequired(), max_length(500)],
                         description=_l("Kept in the audit trail."))
