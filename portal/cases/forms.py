"""Forms of the case pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from portal.auth.forms import email_field, language_choices
from portal.models.case import CaseRole


class InviteForm(FlaskForm):
    """Invite a client or sponsor to a case by email."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
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
                                validators=[Length(max=4000)])
    internal_note = TextAreaField(_l("Internal note (optional, the firm only)"),
                                  validators=[Length(max=4000)])


class CloseForm(_CaseChangeForm):
    """Close or reopen the case with a reason."""

    reason = TextAreaField(_l("Reason (the firm only)"),
                           validators=[DataRequired(), Length(max=4000)])
    client_text = TextAreaField(_l("Message to the client (optional)"),
                                validators=[Length(max=4000)])


class NoteForm(FlaskForm):
    """A timeline entry: to the client, or for the firm alone."""

    audience = RadioField(_l("Who reads it"), default="client", choices=[
        ("client", _l("The client (they are notified)")),
        ("firm", _l("The firm only"))])
    client_text = TextAreaField(_l("What the client reads"), validators=[Length(max=4000)])
    internal_note = TextAreaField(_l("Internal note (the firm only)"),
                                  validators=[Length(max=4000)])
