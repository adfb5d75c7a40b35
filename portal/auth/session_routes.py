"""The account's signed-in browsers: see them, end one, end all the others.
The views join the ``auth`` blueprint (imported at the end of ``routes``)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal.auth import session_list, sessions
from portal.auth.routes import bp
from portal.errors import ServiceError


@bp.route("/account/sessions")
def list_sessions():
    """The person's open sessions, this browser marked."""
    return render_template("auth/sessions.html", user=current_user,
                           rows=session_list.open_sessions(
                               current_user, session.get(sessions.SESSION_KEY)))


@bp.route("/account/sessions/<session_id>/end", methods=["POST"])
def end_session(session_id: str):
    """End one of the person's other sessions; anything not theirs is a 404."""
    try:
        session_list.end_session(current_user, current_user, session_id,
                                 session.get(sessions.SESSION_KEY))
    except session_list.SessionNotFound:
        abort(404)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("That session has ended. The browser is signed out."), "success")
    return redirect(url_for("auth.list_sessions"), code=303)


@bp.route("/account/sessions/end-others", methods=["POST"])
def end_other_sessions():
    """End every session of the person except this browser's."""
    count = session_list.end_other_sessions(current_user, session.get(sessions.SESSION_KEY))
    flash(ngettext("%(num)d other session has ended.", "%(num)d other sessions have ended.",
                   count) if count else _("There were no other sessions to end."), "success")
    return redirect(url_for("auth.list_sessions"), code=303)
