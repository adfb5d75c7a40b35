"""The message threads of a case."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.errors import ServiceError
from portal.extensions import db
from portal.messages import services
from portal.messages.forms import MessageForm
from portal.cases.permissions import get_case_or_404
from portal.messages.permissions import get_thread_or_404
from portal.messages.text import as_html
from portal.models import Message
from portal.models.types import utcnow
from portal.permissions import deny, parse_uuid

bp = Blueprint("messages", __name__)
bp.add_app_template_filter(as_html, "message_html")


def _thread_url(thread) -> str:
    if thread.sponsor is not None:
        return url_for("messages.sponsor_thread", case_uuid=thread.case.uuid,
                       sponsor_uuid=thread.sponsor.uuid)
    return url_for("messages.client_thread", case_uuid=thread.case.uuid)


def _show(thread):
    """The thread page: post a message from its form, or show it and mark it read."""
    form = MessageForm()
    if form.validate_on_submit():
        try:
            services.post(current_user, thread, form.body.data, form.client_key.data,
                          internal=bool(form.internal.data) and current_user.is_firm)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            return redirect(_thread_url(thread) + "#latest", code=303)
    if form.is_submitted():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
    else:
        services.mark_read(current_user, thread)
    form.client_key.data = secrets.token_urlsafe(24)
    return render_template("messages/thread.html", thread=thread, case=thread.case, form=form,
                           messages=services.shown_to(current_user, thread),
                           retract_until=services.RETRACT_WINDOW, now=utcnow(),
                           read_until=services.read_by_other_side(thread, current_user),
                           muted=current_user.is_firm and services.is_muted(current_user,
                                                                            thread.case))


@bp.route("/cases/<case_uuid>/messages", methods=["GET", "POST"])
def client_thread(case_uuid: str):
    """The thread between the client and the case's attorney team."""
    return _show(get_thread_or_404(case_uuid, current_user))


@bp.route("/cases/<case_uuid>/messages/sponsor/<sponsor_uuid>", methods=["GET", "POST"])
def sponsor_thread(case_uuid: str, sponsor_uuid: str):
    """The thread between one sponsor and the case's attorney team."""
    return _show(get_thread_or_404(case_uuid, current_user, sponsor_uuid))


@bp.route("/cases/<case_uuid>/messages/<message_uuid>/retract", methods=["POST"])
def retract(case_uuid: str, message_uuid: str):
    """Retract one's own message within the first minutes."""
    wanted = parse_uuid(message_uuid)
    message = db.session.scalar(select(Message).where(Message.uuid == wanted))
    sponsor = message.thread.sponsor if message is not None else None
    thread = get_thread_or_404(case_uuid, current_user, str(sponsor.uuid) if sponsor else None)
    if message is None or message.thread_id != thread.id:
        deny(current_user, thread.case, "message.access_denied", str(wanted), message is not None)
    try:
        services.retract(current_user, message)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The message was retracted."), "success")
    return redirect(_thread_url(thread), code=303)


@bp.route("/cases/<case_uuid>/messages/mute", methods=["POST"])
def mute(case_uuid: str):
    """Stop (or resume) one's emails about this case's messages (the firm only)."""
    case = get_case_or_404(case_uuid, current_user)
    if not current_user.is_firm:
        abort(403)
    muted = request.form.get("muted") == "1"
    try:
        services.set_muted(current_user, case, muted)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("You will get no email about this case's messages.") if muted
              else _("You will be emailed again about this case's messages."), "success")
    return redirect(url_for("messages.client_thread", case_uuid=case.uuid), code=303)
