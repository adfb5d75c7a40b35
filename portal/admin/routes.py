"""Admin pages: list accounts, invite firm members, send reset links, see and
end a person's sessions, deactivate and reactivate accounts, the mail outbox."""
from __future__ import annotations

import uuid

from flask import (Blueprint, abort, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from portal import paging
from portal.admin import accounts
from portal.admin.forms import DeactivateForm, NewAccountForm
from portal.auth import factors, reset, session_list, sessions
from portal.auth.reauth import confirmation_required
from portal.cases.invitations import create_firm_account
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import OutboxMessage, Passkey, Role, User
from portal.outbox import services as outbox
from portal.permissions import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@roles_required(Role.ADMIN)
def list_users():
    """The accounts, firm first, a page at a time; ``?q=`` finds them by
    name or email."""
    wanted = request.args.get("q", "").strip()[:200]
    found = paging.fetch(accounts.search(wanted), paging.number())
    users = [user for (user,) in found.items]
    with_passkey = set(db.session.scalars(select(Passkey.user_id).distinct().where(
        Passkey.user_id.in_([user.id for user in users]))))
    return render_template("admin/users.html", users=users, found=found, q=wanted,
                           with_passkey=with_passkey)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    """Invite an attorney, staff member or admin by email."""
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            create_firm_account(current_user, form.email.data, form.name.data,
                                Role(form.role.data), form.language.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(_("The invitation to %(email)s is on its way. The outbox shows when it has "
                    "gone out.", email=form.email.data), "success")
            return redirect(url_for("admin.list_users"))
    return render_template("admin/new_user.html", form=form)


@bp.route("/users/<uuid:user_uuid>/password-reset", methods=["POST"])
@roles_required(Role.ADMIN)
def send_password_reset(user_uuid: uuid.UUID):
    """Email a client, sponsor, attorney or staff member a link to choose a new password."""
    user = db.first_or_404(select(User).where(User.uuid == user_uuid))
    try:
        reset.send_reset_link(current_user, user)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("A link to choose a new password was sent to %(email)s.", email=user.email),
              "success")
    return redirect(url_for("admin.list_users"), code=303)


@bp.route("/users/<uuid:user_uuid>/second-factor/reset", methods=["POST"])
@roles_required(Role.ADMIN)
@confirmation_required
def reset_second_factor(user_uuid: uuid.UUID):
    """Remove every second factor of a person who lost them all (after the
    admin checked who they are, outside the portal)."""
    user = db.first_or_404(select(User).where(User.uuid == user_uuid))
    try:
        factors.reset_by_admin(current_user, user)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The second factor of %(email)s was reset and they were signed out everywhere. "
                "They will set up a new one when they next sign in.", email=user.email),
              "success")
    return redirect(url_for("admin.list_users"), code=303)


@bp.route("/outbox")
@roles_required(Role.ADMIN)
def list_outbox():
    """Emails not delivered yet: waiting, retrying, failed, or of unknown fate.
    Recipients are shown (admins manage the accounts); bodies never are."""
    return render_template("admin/outbox.html", messages=outbox.backlog(),
                           counts=outbox.counts())


@bp.route("/outbox/<uuid:message_uuid>/retry", methods=["POST"])
@roles_required(Role.ADMIN)
def retry_message(message_uuid: uuid.UUID):
    """Send a failed or unknown email again."""
    message = db.first_or_404(select(OutboxMessage).where(OutboxMessage.uuid == message_uuid))
    try:
        outbox.retry(current_user, message)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The email to %(email)s will be sent again.", email=message.recipient),
              "success")
    return redirect(url_for("admin.list_outbox"), code=303)


def _person(user_uuid: uuid.UUID) -> User:
    return db.first_or_404(select(User).where(User.uuid == user_uuid))


@bp.route("/users/<uuid:user_uuid>/sessions")
@roles_required(Role.ADMIN)
def list_user_sessions(user_uuid: uuid.UUID):
    """A person's open sessions, each with an End button, and End all."""
    user = _person(user_uuid)
    return render_template("admin/user_sessions.html", user=user,
                           rows=session_list.open_sessions(
                               user, session.get(sessions.SESSION_KEY)
                               if user.id == current_user.id else None))


@bp.route("/users/<uuid:user_uuid>/sessions/<session_id>/end", methods=["POST"])
@roles_required(Role.ADMIN)
def end_user_session(user_uuid: uuid.UUID, session_id: str):
    """End one of a person's sessions."""
    user = _person(user_uuid)
    try:
        session_list.end_session(current_user, user, session_id,
                                 session.get(sessions.SESSION_KEY))
    except session_list.SessionNotFound:
        abort(404)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("That session of %(name)s has ended.", name=user.name), "success")
    return redirect(url_for("admin.list_user_sessions", user_uuid=user.uuid), code=303)


@bp.route("/users/<uuid:user_uuid>/sessions/end-all", methods=["POST"])
@roles_required(Role.ADMIN)
def end_user_sessions(user_uuid: uuid.UUID):
    """End every session of a person."""
    user = _person(user_uuid)
    count = session_list.end_all_sessions(current_user, user)
    flash(ngettext("%(num)d session of %(name)s has ended.",
                   "%(num)d sessions of %(name)s have ended.", count, name=user.name)
          if count else _("%(name)s had no open session.", name=user.name), "success")
    return redirect(url_for("admin.list_user_sessions", user_uuid=user.uuid), code=303)


def _refused(user: User, cases: list):
    """The page that lists the open cases keeping an attorney from leaving
    (409 when it answers an attempt)."""
    return render_template("admin/deactivate.html", user=user, cases=cases,
                           client_names=accounts.client_names, form=None), \
        409 if request.method == "POST" else 200


@bp.route("/users/<uuid:user_uuid>/deactivate", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def deactivate_user(user_uuid: uuid.UUID):
    """Confirm, then deactivate a person (or show why it cannot be done yet)."""
    user = _person(user_uuid)
    form = DeactivateForm()
    try:
        if request.method == "GET":
            accounts.check_deactivation(current_user, user)
        elif form.validate_on_submit():
            accounts.deactivate(current_user, user, form.reason.data)
            flash(_("%(name)s is deactivated and was signed out everywhere.", name=user.name),
                  "success")
            return redirect(url_for("admin.list_users"), code=303)
    except accounts.StillAssigned as refusal:
        return _refused(user, refusal.cases)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.list_users"), code=303)
    return render_template("admin/deactivate.html", user=user, form=form, cases=[])


@bp.route("/users/<uuid:user_uuid>/reactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def reactivate_user(user_uuid: uuid.UUID):
    """Let a deactivated person sign in again."""
    user = _person(user_uuid)
    try:
        accounts.reactivate(current_user, user, request.form.get("reason"))
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("%(name)s can sign in again.", name=user.name), "success")
    return redirect(url_for("admin.list_users"), code=303)
