"""Email notifications: the only module that sends mail.

Messages never carry case content, only that something waits in the portal
(DOMAIN.md: mail crosses servers the firm does not control).
"""
from __future__ import annotations

import logging
import smtplib
import threading
from email.message import EmailMessage

from flask import Flask, after_this_request, current_app, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)
# What a failed send raises: the server refused, or could not be reached.
MAIL_ERRORS = (smtplib.SMTPException, OSError)


class Mailer:
    """Sends through the configured SMTP server. Without one (development
    only; production refuses to start) the message is written to the log."""

    def __init__(self, app: Flask):
        self.config = app.config

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one plain-text message; raises ``smtplib.SMTPException`` or
        ``OSError`` when the server refuses or cannot be reached."""
        msg = EmailMessage()
        msg["From"] = self.config["MAIL_FROM"]
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        if not self.config.get("MAIL_SERVER"):
            log.warning("No mail server configured; mail to %s:\n%s", to, body)
            return
        with smtplib.SMTP(self.config["MAIL_SERVER"], self.config["MAIL_PORT"], timeout=10) as smtp:
            if self.config["MAIL_USE_TLS"]:
                smtp.starttls()
            if self.config.get("MAIL_USERNAME"):
                smtp.login(self.config["MAIL_USERNAME"], self.config["MAIL_PASSWORD"])
            smtp.send_message(msg)


def init_app(app: Flask) -> None:
    """Attach the mailer to ``app.extensions['mailer']``."""
    app.extensions["mailer"] = Mailer(app)


def _send(to: str, language: str, subject, template: str, **context) -> None:
    with force_locale(language):
        body = render_template(f"email/{template}.txt", **context)
        subject = str(subject)
    current_app.extensions["mailer"].send(to, subject, body)


def link(path: str) -> str:
    """An absolute link to ``path`` on the portal, for emails."""
    return current_app.config["BASE_URL"].rstrip("/") + path


def send_invitation(email: str, language: str, url: str, days: int) -> None:
    """Tell a new person how to set up their account."""
    _send(email, language, _l("Your invitation to the secure client portal"),
          "invitation", url=url, days=days)


def send_added_to_case(email: str, language: str) -> None:
    """Tell an existing user that a new case waits in their portal."""
    _send(email, language, _l("Something new is waiting in your portal"),
          "added_to_case", url=link("/"))


def send_password_reset(email: str, language: str, url: str, minutes: int,
                        by_firm: bool) -> None:
    """Send a link to choose a new password; ``by_firm`` when an admin sent it
    rather than the person asking on the sign-in page."""
    _send(email, language, _l("Choose a new password for the secure client portal"),
          "password_reset", url=url, minutes=minutes, by_firm=by_firm)


def send_in_background(send, *args) -> threading.Thread:
    """Call ``send(*args)`` on a thread of its own with the app context, so
    the request neither waits for the mail server nor takes longer when a
    message goes out than when none does (a reset request must not tell
    whether the address has an account). ``send`` may also do the database
    work of the message (with its own session: pass ids and plain values,
    never database objects). Failures are logged: the caller has already
    answered.

    A stop-gap until mail goes through a persistent outbox: a message in
    flight when the process exits is lost, and the person asks again."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                send_quietly(send, *args)
            except Exception:  # nobody else would hear of it on this thread
                log.exception("background notification failed")

    thread = threading.Thread(target=run, name="notify", daemon=True)
    pending = app.extensions.setdefault("notify_threads", [])
    pending[:] = [t for t in pending if t.ident is None or t.is_alive()]
    pending.append(thread)
    if not has_request_context():
        thread.start()
        return thread

    # Started only when the server closes the response, after writing it: a
    # thread running earlier would compete with this request for the
    # interpreter lock and slow the answer exactly when mail is sent.
    @after_this_request
    def start_after_response(response):
        response.call_on_close(thread.start)
        return response
    return thread


def wait_for_background_sends(timeout: float = 30) -> None:
    """Wait until the messages handed to ``send_in_background`` are sent
    (for tests). A thread whose response was never closed has not started
    and is not waited for."""
    for thread in list(current_app.extensions.get("notify_threads", ())):
        if thread.ident is not None:
            thread.join(timeout)


def send_quietly(send, *args) -> bool:
    """Call ``send(*args)`` for a notice that is only a courtesy: a failure
    is logged, not raised, since the change it announces is already saved."""
    try:
        send(*args)
    except MAIL_ERRORS as error:
        log.error("notification not sent: %s", error)
        return False
    return True
