"""The message threads of a case: read, write (with attachments), poll,
retract, mute, and export (asked for here, prepared by a job)."""
from __future__ import annotations

import secrets
from collections.abc import Mapping

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect,
                   render_template, request, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from portal.auth.sessions import passive
from portal.cases import sections
from portal.cases.permissions import get_case_or_404
from portal.cases.sections import CaseFacts, Section
from portal.errors import ServiceError, render_error
from portal.evidence import multipart
from portal.evidence.routes import UNREADABLE, read_streamed_form, report_upload, \
    upload_form_context
from portal.extensions import csrf, db
from portal.messages import services
from portal.messages import export_files
from portal.messages.forms import MessageForm
from portal.messages.permissions import (can_export, get_thread_or_404, may_read,
                                         sponsor_audience)
from portal.messages.text import as_html
from portal.models import Case, Message, MessageThread, ThreadExport, User
from portal.models.case import CaseRole
from portal.models.message import CLIENT_THREAD
from portal.models.types import utcnow
from portal.permissions import deny, parse_uuid
from portal.storage import StorageError
from portal.vault import IntegrityFailure

bp = Blueprint("messages", __name__)
bp.add_app_template_filter(as_html, "message_html")


def messages_section(case: Case, user: User, page: Mapping) -> dict | None:
    """The case page's links to the threads ``user`` may read, each with its
    unread count (``messages/_case_links.html``); None when there is none."""
    sponsors = [m.user for m in case.memberships if m.role is CaseRole.SPONSOR
                and may_read(user, case, sponsor_audience(m.user))]
    with_client = may_read(user, case, CLIENT_THREAD)
    if not (with_client or sponsors):
        return None
    return {"threads": {"client": with_client, "sponsors": sponsors},
            "unread_by_thread": services.unread(user, [case.id], by=MessageThread.audience)}


sections.offer(
    bp,
    Section("messages", _l("Messages"), order=55, client_order=30,
            template="messages/_case_links.html", context=messages_section),
    # The unread badge of each case in the lists of cases.
    CaseFacts("unread", lambda user, cases: services.unread(user, [c.id for c in cases])),
)


def _thread_url(thread, endpoint: str = "thread") -> str:
    if thread.sponsor is not None:
        return url_for(f"messages.sponsor_{endpoint}", case_uuid=thread.case.uuid,
                       sponsor_uuid=thread.sponsor.uuid)
    return url_for(f"messages.client_{endpoint}", case_uuid=thread.case.uuid)


@bp.app_template_global()
def message_url(message: Message) -> str:
    """The link to ``message`` in its thread (from the case's documents)."""
    return f"{_thread_url(message.thread)}#m-{message.uuid}"


def _item_context(thread) -> dict:
    """What rendering one message needs (the page and the polled fragment)."""
    return dict(thread=thread, case=thread.case, now=utcnow(),
                retract_until=services.RETRACT_WINDOW,
                read_until=services.read_by_other_side(thread, current_user))


def _message_of(thread, wanted: str | None) -> Message | None:
    """The message of ``thread`` that ``wanted`` (a UUID from the address)
    names; None without one, 404 for one not of this thread."""
    if not wanted:
        return None
    message = db.session.scalar(select(Message).where(Message.uuid == parse_uuid(wanted),
                                                      Message.thread_id == thread.id))
    if message is None:
        abort(404)
    return message


def _page(thread, form: MessageForm):
    """The newest page of the thread, or with ``?before=<message uuid>`` the
    page of messages before that one (no polling there: new messages
    belong to the newest page)."""
    form.client_key.data = secrets.token_urlsafe(24)
    muted = current_user.is_firm and services.is_muted(current_user, thread.case)
    before = _message_of(thread, request.args.get("before"))
    messages, earlier = services.page_of(current_user, thread, before)
    exports = export_files.recent(current_user, thread) if can_export(
        current_user, thread.case) else []
    return render_template("messages/thread.html", form=form, muted=muted,
                           messages=messages, earlier=earlier, before=before, exports=exports,
                           thread_url=_thread_url(thread),
                           poll_url=_thread_url(thread, "poll") if before is None else "",
                           poll_seconds=current_app.config["MESSAGE_POLL_SECONDS"],
                           **_item_context(thread),
                           **upload_form_context(thread.case))


def _show(thread):
    """The thread page: post a message (and its files) from its form, or show
    it and mark it read. A form with files is read as a stream: the message
    is checked and stored before any file is read, then each file goes the
    evidence path."""
    files = iter(())
    if request.method == "POST" and request.mimetype == "multipart/form-data":
        try:
            fields, files = read_streamed_form()  # checks the CSRF token
        except multipart.BadBody:
            return render_error(400, UNREADABLE)
        form = MessageForm(formdata=MultiDict(fields), meta={"csrf": False})
    else:
        if request.method == "POST":
            csrf.protect()  # as for every other form (the route is exempt for the streamed one)
        form = MessageForm()
    if form.is_submitted() and form.validate():
        try:
            _message, report = services.post_with_files(
                current_user, thread, form.body.data, form.client_key.data, files,
                internal=bool(form.internal.data) and current_user.is_firm)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            return report_upload(report, files_required=False) or \
                redirect(_thread_url(thread) + "#latest", code=303)
    # A form with errors is shown again, each error beside its field and in the summary.
    if not form.is_submitted():
        services.mark_read(current_user, thread)
    return _page(thread, form)


# Exempt from the automatic CSRF check, which would read request.form and so
# spool a streamed form's files to disk: _show checks the token itself.
@bp.route("/cases/<case_uuid>/messages", methods=["GET", "POST"])
@csrf.exempt
def client_thread(case_uuid: str):
    """The thread between the client and the case's attorney team."""
    return _show(get_thread_or_404(case_uuid, current_user))


@bp.route("/cases/<case_uuid>/messages/sponsor/<sponsor_uuid>", methods=["GET", "POST"])
@csrf.exempt
def sponsor_thread(case_uuid: str, sponsor_uuid: str):
    """The thread between one sponsor and the case's attorney team."""
    return _show(get_thread_or_404(case_uuid, current_user, sponsor_uuid))


def _poll(thread):
    """The messages after ``?after=<message uuid>`` as HTML list items for
    the open page to append (shown, so marked read), and until when the
    other side has read the thread."""
    after = _message_of(thread, request.args.get("after"))
    shown = services.shown_to(current_user, thread, after=after)
    context = _item_context(thread)
    # Nothing new is the usual answer: no template to render then.
    html = render_template("messages/_items.html", messages=shown, **context) if shown else ""
    if shown:
        # After rendering: marking read commits, which would expire what was
        # loaded for the items and load it again message by message.
        services.mark_read(current_user, thread)
    # Until when the other side has read: the page marks one's own messages "Read".
    read_until = context["read_until"].isoformat() if context["read_until"] else None
    response = jsonify(html=html, count=len(shown), read_until=read_until)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<case_uuid>/messages/poll")
@passive
def client_poll(case_uuid: str):
    """New messages of the client's thread, for the open page (JavaScript)."""
    return _poll(get_thread_or_404(case_uuid, current_user))


@bp.route("/cases/<case_uuid>/messages/sponsor/<sponsor_uuid>/poll")
@passive
def sponsor_poll(case_uuid: str, sponsor_uuid: str):
    """New messages of a sponsor's thread, for the open page (JavaScript)."""
    return _poll(get_thread_or_404(case_uuid, current_user, sponsor_uuid))


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


def _ask_export(thread, fmt: str):
    """Ask for the thread as a file (the firm only: others get the audited
    404); a job prepares it while the person waits on its page."""
    if not can_export(current_user, thread.case):
        deny(current_user, thread.case, "messages.export_denied", str(thread.uuid), True)
    csrf.protect()
    try:
        export = export_files.ask(current_user, thread, fmt, request.form.get("internal") == "1")
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(_thread_url(thread), code=303)
    return redirect(url_for("messages.export_page", case_uuid=thread.case.uuid,
                            export_uuid=export.uuid), code=303)


@bp.route("/cases/<case_uuid>/messages/export.<any(pdf, txt):fmt>", methods=["POST"])
@csrf.exempt  # checked in _ask_export, after the access check (a stranger gets the 404)
def client_export(case_uuid: str, fmt: str):
    """Ask for the client's thread as a PDF or plain-text transcript; the
    form's ``internal=1`` includes the firm's internal notes."""
    return _ask_export(get_thread_or_404(case_uuid, current_user), fmt)


@bp.route("/cases/<case_uuid>/messages/sponsor/<sponsor_uuid>/export.<any(pdf, txt):fmt>",
          methods=["POST"])
@csrf.exempt  # checked in _ask_export, after the access check
def sponsor_export(case_uuid: str, sponsor_uuid: str, fmt: str):
    """Ask for one sponsor's thread as a PDF or plain-text transcript."""
    return _ask_export(get_thread_or_404(case_uuid, current_user, sponsor_uuid), fmt)


def _export_or_404(case_uuid: str, export_uuid: str) -> ThreadExport:
    """The export ``export_uuid`` of case ``case_uuid``, if the current
    person asked for it and still reaches the case: an export holds what
    its asker may read, so no one else fetches it."""
    case = get_case_or_404(case_uuid, current_user)
    export = db.session.scalar(
        select(ThreadExport).join(ThreadExport.thread)
        .where(ThreadExport.uuid == parse_uuid(export_uuid), MessageThread.case_id == case.id))
    if export is None or export.requested_by_id != current_user.id:
        deny(current_user, case, "messages.export_denied", str(export_uuid), export is not None)
    return export


@bp.route("/cases/<case_uuid>/exports/<export_uuid>")
def export_page(case_uuid: str, export_uuid: str):
    """Where an export stands: being prepared (the page asks every few
    seconds), ready with its link, failed, or expired."""
    export = _export_or_404(case_uuid, export_uuid)
    return render_template("messages/export.html", export=export, case=export.thread.case,
                           expired=export_files.is_expired(export),
                           thread_url=_thread_url(export.thread))


@bp.route("/cases/<case_uuid>/exports/<export_uuid>/state")
@passive
def export_state(case_uuid: str, export_uuid: str):
    """The export's state as JSON, for the page's script."""
    export = _export_or_404(case_uuid, export_uuid)
    response = jsonify(state=export.state.value)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<case_uuid>/exports/<export_uuid>/file")
def export_file(case_uuid: str, export_uuid: str):
    """The export's file, while it lasts; never rendered as a page."""
    export = _export_or_404(case_uuid, export_uuid)
    try:
        chunks = export_files.open_file(current_user, export)
    except export_files.Expired as error:
        return render_error(410, error.message)
    except ServiceError as error:
        return render_error(409, error.message)
    except StorageError:
        return render_error(503, _("The document store is not answering right now. Please "
                                   "try again in a few minutes."))
    except IntegrityFailure:
        return render_error(500, _("This file could not be verified, so it was not sent. "
                                   "The firm has been told."))
    stored = export.stored_object
    response = Response(chunks, content_type=stored.content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(stored.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "no-store"
    # Message text is the writers': never rendered as a page of the portal.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
