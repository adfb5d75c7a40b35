"""Email notifications: the only module that talks to the mail server.

Messages never carry case content, only that something waits in the portal
(DOMAIN.md: mail crosses servers the firm does not control). Nothing is sent
from a request: each function below writes an outbox row in the caller's
transaction (``portal.outbox``), and a job sends it after the commit.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from portal.models import OutboxMessage
from portal.outbox import services as outbox

log = logging.getLogger(__name__)

# The subject of each kind of message (its body is templates/email/<kind>.txt).
SUBJECTS = {
    "invitation": _l("Your invitation to the secure client portal"),
    "added_to_case": _l("Something new is waiting in your portal"),
    "password_reset": _l("Choose a new password for the secure client portal"),
    "request_new": _l("Something new is waiting in your portal"),
    "request_returned": _l("Something new is waiting in your portal"),
    "request_submitted": _l("Something new is waiting in your portal"),
    "request_reminder": _l("A reminder from your secure client portal"),
    "case_update": _l("Something new is waiting in your portal"),
    "reparole_reminder": _l("A reminder from your secure client portal"),
    "new_message": _l("You have a new message in your portal"),
    "email_changed": _l("The email of your portal account was changed"),
    "second_factor_reset": _l("The second factor of your portal account was reset"),
    "new_browser": _l("A new sign-in to your secure client portal"),
    "storage_report": _l("The portal's file storage and database disagree"),
}


class Mailer:
    """Sends through the configured SMTP server. Without one (development
    only; production refuses to start) the message is written to the log."""

    def __init__(self, app: Flask):
        self.config = app.config

    def send(self, to: str, subject: str, body: str, message_id: str) -> None:
        """Send one plain-text message; raises ``smtplib.SMTPException`` or
        ``OSError`` when the server refuses or cannot be reached. Every attempt
        at one outbox row carries the same ``message_id``."""
        msg = EmailMessage()
        msg["From"] = self.config["MAIL_FROM"]
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = message_id
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

    def render(self, kind: str, language: str, context: dict) -> tuple[str, str]:
        """The subject and body of a message of ``kind`` in ``language``.
        Every body may name the firm (``firm``): read when the message is
        written, so a queued one names the firm as it is called then."""
        with force_locale(language):
            return str(SUBJECTS[kind]), render_template(
                f"email/{kind}.txt", **{"firm": self.config["FIRM_NAME"], **context})


def init_app(app: Flask) -> None:
    """Attach the mailer to ``app.extensions['mailer']``."""
    app.extensions["mailer"] = Mailer(app)


def link(path: str) -> str:
    """An absolute link to ``path`` on the portal, for emails."""
    return current_app.config["BASE_URL"].rstrip("/") + path


def queue_invitation(email: str, language: str, url: str, days: int,
                     inviter: str) -> OutboxMessage:
    """Tell a new person who invited them (``inviter``, the name of the
    firm's person) and how to set up their account (queued in the caller's
    transaction); returns the outbox row, whose state says whether it went out."""
    return outbox.queue(email, language, "invitation",
                        {"url": url, "days": days, "inviter": inviter})


def queue_added_to_case(email: str, language: str) -> None:
    """Tell an existing user that a new case waits in their portal (queued
    in the caller's transaction)."""
    outbox.queue(email, language, "added_to_case", {"url": link("/")})


def queue_password_reset(email: str, language: str, url: str, minutes: int,
                        by_firm: bool) -> None:
    """Send a link to choose a new password; ``by_firm`` when an admin sent it
    rather than the person asking on the sign-in page (queued in the caller's
    transaction)."""
    outbox.queue(email, language, "password_reset",
                 {"url": url, "minutes": minutes, "by_firm": by_firm})


def queue_email_changed(email: str, language: str) -> None:
    """Tell the old address of an account that it no longer signs in there
    (queued in the caller's transaction)."""
    outbox.queue(email, language, "email_changed", {"url": link("/login")})


def queue_second_factor_reset(email: str, language: str) -> None:
    """Tell a person their second factors were removed by the firm and that
    they will set one up at the next sign-in (queued in the caller's transaction)."""
    outbox.queue(email, language, "second_factor_reset", {"url": link("/login")})


# Notices of document requests: like every message, they say only that
# something waits (never the request's title, a file name or the case).

def queue_request_new(email: str, language: str, url: str) -> None:
    """Tell a client or sponsor that a document is asked of them (queued in
    the caller's transaction)."""
    outbox.queue(email, language, "request_new", {"url": url})


def queue_request_returned(email: str, language: str, url: str) -> None:
    """Tell a client or sponsor that a request needs a new upload (rejected
    or re-opened; queued in the caller's transaction)."""
    outbox.queue(email, language, "request_returned", {"url": url})


def queue_request_submitted(email: str, language: str, url: str) -> None:
    """Tell a member of the attorney team that an upload waits for review
    (queued in the caller's transaction)."""
    outbox.queue(email, language, "request_submitted", {"url": url})


def queue_request_reminder(email: str, language: str, url: str) -> None:
    """Remind a client or sponsor that documents asked of them are due soon
    or overdue (queued in the caller's transaction)."""
    outbox.queue(email, language, "request_reminder", {"url": url})


def queue_case_update(email: str, language: str, url: str) -> None:
    """Tell a client that their case's timeline has news for them (queued
    in the caller's transaction)."""
    outbox.queue(email, language, "case_update", {"url": url})


def queue_reparole_reminder(email: str, language: str, url: str) -> None:
    """Remind the client or the attorney team that a parole period ends
    soon, without saying so (queued in the caller's transaction)."""
    outbox.queue(email, language, "reparole_reminder", {"url": url})


def queue_new_message(email: str, language: str, url: str) -> None:
    """Tell someone a message waits for them, without a word of it (queued
    in the caller's transaction)."""
    outbox.queue(email, language, "new_message", {"url": url})


def queue_new_browser(email: str, language: str, when: str, device: str, url: str) -> None:
    """Tell someone their account was signed in to from a browser new to it:
    ``when`` and ``device`` already written in their language and time zone,
    ``url`` the page to choose a new password (queued in the caller's
    transaction)."""
    outbox.queue(email, language, "new_browser", {"when": when, "device": device, "url": url})


def queue_storage_report(email: str, language: str, orphans: int, missing: int,
                         stale: int) -> None:
    """Tell an admin what the weekly storage check found: how many objects
    have no record, how many records have no object, and how many uploads
    were left unfinished (counts only, never a key or a case; queued in the
    caller's transaction)."""
    outbox.queue(email, language, "storage_report",
                 {"orphans": orphans, "missing": missing, "stale": stale})
