"""``confirmation_required``: changing a second factor, the recovery codes or
the email needs the password and a factor again within the last five minutes
(ASVS 7.5.1), so a stolen session alone cannot take the account over."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _

from portal.auth import factors, sessions


def confirmation_required(view):
    """Send a person who has not confirmed it's them lately to do so first.
    A page comes back to itself afterwards; a form's action goes back to the
    page it was sent from, where the person presses the button again."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not factors.recently_confirmed(session.get(sessions.SESSION_KEY)):
            back = request.full_path if request.method == "GET" else _referring_path()
            if request.method != "GET":
                flash(_("Please confirm it's you, then try again."), "info")
            return redirect(url_for("auth.reauthenticate", next=back))
        return view(*args, **kwargs)
    return wrapper


def _referring_path() -> str:
    """The path of the page a form was sent from (the Referer is same-origin
    by the portal's policy), or the account security page."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path
    return url_for("auth.security")
