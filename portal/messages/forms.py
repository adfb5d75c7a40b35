"""The message form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import DataRequired

from portal.forms_common import max_length
from portal.messages.services import MAX_BODY


class MessageForm(FlaskForm):
    """A message; ``client_key`` is new on each page, so sending the same
    page twice stores one message."""

    body = TextAreaField(_l("Your message"), validators=[
        DataRequired(message=_l("Write a message first.")),
        # The service's limit, said with the count typed (the service says it without).
        max_length(MAX_BODY, message=_l("A message may have at most %(max)s characters (you "
                                        "typed %(count)s); attach a longer text as a "
                                        "document."))])
    internal = BooleanField(_l("Internal note: the firm only, never the client or a sponsor"))
    client_key = HiddenField(validators=[DataRequired(), max_length(64)])
