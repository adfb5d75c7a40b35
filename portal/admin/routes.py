"""Admin pages: list accounts, invite firm members, send reset links, the mail outbox."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.admin.forms import NewAccountForm
from portal.auth import factors, reset
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
    """Every account, firm first."""
    users = db.session.scalars(select(User).order_by(User.role, User.name)).all()
    with_passkey = set(db.session.scalars(select(Passkey.user_id).distinct()))
    return render_template("admin/users.html", users=users, with_passkey=with_passkey)


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
