"""Forms of the case pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from portal.auth.forms import email_field, language_choices
from portal.models.case import CaseRole


class InviteForm(FlaskForm):
    """Invite a client or sponsor to a case by email."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = email_field()
    case_role = SelectField(_l("Role in this case"), choices=[
        (CaseRole.CLIENT.value, _l("Client")), (CaseRole.SPONSOR.value, _l("Sponsor"))])
    language = SelectField(_l("Language of the invitation email"), choices=language_choices)
