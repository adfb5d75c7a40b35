"""Forms of the evidence pages (the upload form itself is read as a stream)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import AnyOf, DataRequired

from portal.forms_common import max_length


class WithdrawForm(FlaskForm):
    """Withdraw one's own upload: the button of the confirmation step."""

    confirmed = HiddenField(validators=[AnyOf(["yes"])])


class PurgeForm(FlaskForm):
    """Admins: delete a stored file for good, saying why."""

    reason = TextAreaField(_l("Reason for purging"), validators=[
        DataRequired(message=_l("Please give the reason for purging.")), max_length(1000)])


class ReleaseForm(FlaskForm):
    """Admins: open a file the scanner could not check, saying why."""

    reason = TextAreaField(_l("Why it is safe to open"), validators=[
        DataRequired(message=_l("Please give the reason for releasing this file.")),
        max_length(1000)])
