"""Forms of document requests (the upload form itself is read as a stream)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, FieldList, Form, FormField, HiddenField,
                     IntegerField, SelectField, StringField, TextAreaField)
from wtforms.validators import AnyOf, DataRequired, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms_common import max_length

TITLE_MAX = 200  # the column's size
INSTRUCTIONS_MAX = 4000
REASON_MAX = 2000


class RequestForm(FlaskForm):
    """The attorney asks one person on the case for a document."""

    title = StringField(_l("What is needed"), validators=[DataRequired(), max_length(TITLE_MAX)])
    instructions = TextAreaField(_l("Instructions for the person"),
                                 validators=[Optional(), max_length(INSTRUCTIONS_MAX)])
    # Choices (UUIDs of the case's client and sponsors) are set by the route.
    addressee = SelectField(_l("Who must provide it"), validators=[DataRequired()])
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])
    required = BooleanField(_l("Required for the filing"), default=True)


class DecisionForm(FlaskForm):
    """Accept, reject (with a reason the person reads), waive or re-open."""

    decision = HiddenField(validators=[AnyOf(
        ("accept", "reject", "waive", "reopen"),
        message=_l("Please choose what to do with this request."))])
    # The newest file the reviewer saw ("" for none): a decision is on that file.
    seen = HiddenField()
    reason = TextAreaField(_l("Reason (the person will read it)"),
                           validators=[max_length(REASON_MAX)])

    def validate_reason(self, field) -> None:
        """A rejection says why (the service checks it too)."""
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError(_l("Please say why the file is rejected: the person will "
                                     "read it."))


class ChecklistRowForm(Form):
    """One row of the checklist the attorney sends (no CSRF of its own:
    the enclosing form carries it)."""

    include = BooleanField(_l("Ask for this"))
    title = StringField(_l("What is needed"), validators=[Optional(), max_length(TITLE_MAX)])
    instructions = TextAreaField(_l("Instructions for the person"),
                                 validators=[Optional(), max_length(INSTRUCTIONS_MAX)])
    # Choices (UUIDs of the case's client and sponsors) are set by the route.
    addressee = SelectField(_l("Who must provide it"), validate_choice=False)
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])
    required = BooleanField(_l("Required for the filing"))


class ChecklistForm(FlaskForm):
    """The proposed checklist, edited, plus a few blank rows for one-offs."""

    rows = FieldList(FormField(ChecklistRowForm), max_entries=60)
    due_on_all = DateField(_l("Due date for every document without its own (optional)"),
                           validators=[Optional()])
    # Offered while the case is at its first step (the route words the label).
    advance = BooleanField(default=True)
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
