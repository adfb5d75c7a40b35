"""Forms of questionnaires that have a fixed shape (the sections' own
fields follow the definition: ``portal.questionnaires.answers`` reads them)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Optional
from wtforms.widgets import HiddenInput

from portal.forms_common import max_length

NOTE_MAX = 2000


class SendForm(FlaskForm):
    """The attorney sends a questionnaire to a person on the case. Choices
    ("<questionnaire key>:<person uuid>", only pairs that fit) are set by the route."""

    pair = SelectField(_l("Questionnaire and who answers it"), validators=[DataRequired()])
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])


class VersionForm(FlaskForm):
    """A form that carries the answers' version it was shown with, so a
    write that raced another is refused (submit, review)."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class ChangeForm(VersionForm):
    """The firm's change of one answer: why, kept with who and when."""

    why = TextAreaField(_l("Why you change this answer"),
                        validators=[DataRequired(), max_length(NOTE_MAX)])
