"""Forms of document requests (the upload form itself is read as a stream)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, FieldList, Form, FormField, HiddenField,
                     IntegerField, SelectField, StringField, TextAreaField)
from wtforms.widgets import HiddenInput
from wtforms.validators import AnyOf, DataRequired, Length, Optional


class RequestForm(FlaskForm):
    """The attorney asks one person on the case for a document."""

    title = StringField(_l("What is needed"), validators=[DataRequired(), Length(max=200)])
    instructions = TextAreaField(_l("Instructions for the person"),
                                 validators=[Optional(), Length(max=4000)])
    # Choices (UUIDs of the case's client and sponsors) are set by the route.
    addressee = SelectField(_l("Who must provide it"), validators=[DataRequired()])
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])
    required = BooleanField(_l("Required for the filing"), default=True)


class DecisionForm(FlaskForm):
    """Accept, reject (with a reason the person reads), waive or re-open."""

    decision = HiddenField(validators=[AnyOf(("accept", "reject", "waive", "reopen"))])
    # The newest file the reviewer saw ("" for none): a decision is on that file.
    seen = HiddenField()
    reason = TextAreaField(_l("Reason (the person will read it)"),
                           validators=[Optional(), Length(max=2000)])


class ChecklistRowForm(Form):
    """One row of the checklist the attorney sends (no CSRF of its own:
    the enclosing form carries it)."""

    include = BooleanField(_l("Ask for this"))
    title = StringField(_l("What is needed"), validators=[Optional(), Length(max=200)])
    instructions = TextAreaField(_l("Instructions for the person"),
                                 validators=[Optional(), Length(max=4000)])
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
