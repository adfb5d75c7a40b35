"""Forms of signatures: the firm's request, the person's signature and a refusal."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, PasswordField, RadioField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, Optional

from portal.forms_common import max_length

IN_PORTAL, BY_HAND = "portal", "by_hand"


class AskForm(FlaskForm):
    """The attorney asks a person on the case to sign a PDF of the case.
    Choices (people, documents) are set by the route."""

    person = SelectField(_l("Who signs"), validators=[DataRequired()])
    document = SelectField(_l("Document to sign"), validators=[DataRequired()],
                           description=_l("PDFs of this case that passed the virus check."))
    title = StringField(_l("What the person reads it as (optional)"),
                        validators=[Optional(), max_length(200)],
                        description=_l("For example: Engagement letter. Without it, the file's "
                                       "name is used."))
    how = RadioField(_l("How"), default=IN_PORTAL, choices=[
        (IN_PORTAL, _l("Sign in the portal (a sealed signed copy is made)")),
        (BY_HAND, _l("Print, sign by hand and upload the signed pages (forms USCIS wants "
                     "signed in ink)"))])
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])


class SignForm(FlaskForm):
    """The person's signature: consent, their typed name, and who they are again."""

    consent = BooleanField(validators=[DataRequired(_l("Please tick the box to agree to sign "
                                                       "electronically."))])
    typed_name = StringField(_l("Type your full name to sign"),
                             validators=[DataRequired(), max_length(200)])
    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[Optional(), max_length(64)])
    sha256 = HiddenField()


class DeclineForm(FlaskForm):
    """The person declines to sign, saying why."""

    reason = TextAreaField(_l("Why you do not sign (your attorney will read it)"),
                           validators=[DataRequired(), max_length(2000)])
