"""Error pages, and the exception services raise for a broken business rule."""
from __future__ import annotations

import logging

from flask import Flask, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, InterfaceError

from portal.extensions import db, login_manager
from portal.permissions import record_denial

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the rules refuse. ``message`` is shown to the user as is
    (already translated or lazy)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You do not have permission to do that."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This page does not accept that kind of request."),
    413: _l("What you sent is too large."),
    429: _l("Too many attempts. Please wait a few minutes, then try again."),
    500: _l("Something went wrong on our side. Nothing you sent was saved twice; please try again."),
    503: _l("The portal is briefly unavailable. Nothing was changed; please try again in a few minutes."),
}


# A heading in plain words and what the person can do next, per status.
TITLES = {
    400: _l("That did not work"),
    403: _l("This is not open to you"),
    404: _l("Page not found"),
    405: _l("That did not work"),
    413: _l("Too large"),
    429: _l("Please wait a moment"),
    500: _l("Something went wrong"),
    503: _l("The portal is briefly unavailable"),
}
NEXT_STEPS = {
    403: _l("If you think you should see this, ask your attorney's office."),
    404: _l("Check the link, or start again from your list of cases. A link from an email "
            "may have been replaced by a newer one."),
    413: _l("Send a smaller file, or several smaller ones. The upload form says how large "
            "a file may be."),
    429: _l("This protects your account from people guessing passwords. Nothing is wrong "
            "with your account."),
    500: _l("If it happens again, tell your attorney's office what you were doing."),
    503: _l("Your files and messages are safe. Please try again in a few minutes."),
}


def render_error(status: int, message=None):
    """The error page for ``status`` with ``message`` (or the default one),
    a plain heading and what the person can do next."""
    return render_template("errors/error.html", status=status,
                           title=TITLES.get(status, TITLES[500]),
                           message=message or MESSAGES.get(status, MESSAGES[500]),
                           next_step=NEXT_STEPS.get(status)), status


def _refused(status: int):
    """A 403 or 404 page; a signed-in person's refusal is audited first."""
    record_denial(status)
    return render_error(status)


def init_app(app: Flask) -> None:
    """Register the handlers: plain pages, never a stack trace."""
    for status in (400, 405, 413, 429):
        app.register_error_handler(status, lambda e, s=status: render_error(s))
    for status in (403, 404):
        app.register_error_handler(status, lambda e, s=status: _refused(s))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, _l("This form has expired or was sent without its security "
                                    "token. Please reload the page and try again."))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(error):
        # The driver's own words ("database is locked", "connection refused"),
        # never the statement: its parameters may be a client's data.
        said = str(getattr(error, "orig", "")).partition("\n")[0]
        log.error("database unavailable: %s: %s", error.__class__.__name__, said)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001, S110 - the connection is gone; nothing to roll back
            pass
        # Render as anonymous: loading the user would need the database again.
        g._login_user = login_manager.anonymous_user()
        return render_error(503)

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_error(500)
