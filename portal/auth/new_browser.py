"""The email a person gets when their account is signed in to from a
browser that has not signed in to it before (no known-device cookie for the
account, ``portal.auth.throttle``): if it was not them, they learn at once
and know what to do.

Like every email it carries no case content: only when, and which browser
and system (the IP address is left out: it is often wrong behind a mobile
network and tells a reader of the mail where the person is).
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, request
from flask_babel import force_locale

from portal import notify
from portal.auth import throttle
from portal.auth.session_list import describe
from portal.extensions import db
from portal.models import User
from portal.models.types import utcnow


def notify_new_browser(user: User) -> bool:
    """At sign-in, before the browser is marked as known: queue the
    new-browser email to ``user`` in their language and time zone if this
    browser is not known for their account (committed: an outbox row,
    sent by a job); returns whether it did."""
    if not current_app.config["NEW_BROWSER_EMAIL"] or throttle.is_known_device(user.email):
        return False
    with force_locale(user.language):
        when = format_datetime(utcnow(), "full", tzinfo=ZoneInfo(user.timezone),
                               locale=user.language)
        device = describe(request.headers.get("User-Agent")).label()
    path = current_app.url_map.bind("").build("auth.request_password_reset")
    notify.queue_new_browser(user.email, user.language, when, device, notify.link(path))
    db.session.commit()
    return True
