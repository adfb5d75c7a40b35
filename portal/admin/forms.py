"""Forms of the administration pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from portal.auth.forms import email_field, language_choices
from portal.forms_common import max_length
from portal.models import Role


class NewAccountForm(FlaskForm):
    """Invite an attorney, staff member or admin."""

    name = StringField(_l("Full name"), validators=[DataRequired(), max_length(200)])
    email = email_field()
    role = SelectField(_l("Role"), choices=[(Role.ATTORNEY.value, _l("Attorney")),
                                            (Role.STAFF.value, _l("Staff")),
                                            (Role.ADMIN.value, _l("Admin"))])
    language = SelectField(_l("Language"), choices=language_choices)


class DeactivateForm(FlaskForm):
    """Confirm a deactivation, with an optional reason for the audit trail."""

    reason = StringField(_l("Reason (optional, kept in the audit trail)"),
                         validators=[max_length(500)])
