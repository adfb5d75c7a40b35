"""Forms of the account pages."""
from __future__ import annotations

import zoneinfo
from functools import cache

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Optional

from portal.forms_common import max_length
from portal.i18n import LANGUAGE_NAMES


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone, sorted, for a select box."""
    return [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones())
            if "/" in tz or tz == "UTC"]


def language_choices() -> list[tuple[str, str]]:
    """The shipped languages, each named in itself."""
    return list(LANGUAGE_NAMES.items())


def email_field(label=None) -> EmailField:
    """An email input validated for syntax (no DNS look-up)."""
    return EmailField(label or _l("Email"), validators=[
        DataRequired(), max_length(254),
        Email(check_deliverability=False, message=_l("Enter a valid email address."))])


NEW_PASSWORD_HINT = _l("At least 12 characters. A few unrelated words are easy to remember "
                       "and hard to guess.")


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), max_length(254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), max_length(256)])


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your full name"), validators=[DataRequired(), max_length(200)])
    password = PasswordField(_l("Choose a password"),
                             validators=[DataRequired(), max_length(256)],
                             description=NEW_PASSWORD_HINT)
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), max_length(256),
        EqualTo("password", message=_l("The two passwords do not match."))])


class ForgotPasswordForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), max_length(256)],
                             description=NEW_PASSWORD_HINT)
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), max_length(256),
        EqualTo("password", message=_l("The two passwords do not match."))])


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), max_length(256)])


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), max_length(200)])
    language = SelectField(_l("Language"), choices=language_choices)
    timezone = SelectField(_l("Time zone"), choices=timezone_choices)


class LanguageForm(FlaskForm):
    """The language switch of every page (templates/_language_switch.html):
    one button per language, and the page to go back to."""

    language = SelectField(_l("Language"), choices=language_choices)
    next = HiddenField()


CODE_HINT = _l("The 6-digit code your authenticator app shows now, or one of your recovery codes.")


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), max_length(40)],
                       description=CODE_HINT)


class ConfirmForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), max_length(256)])
    code = StringField(_l("Code"), validators=[Optional(), max_length(40)], description=CODE_HINT)


class AppSetupForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), max_length(20)],
                       description=_l("Type the 6-digit code the app shows for this account."))


class EmailForm(FlaskForm):
    email = email_field(_l("New email"))
