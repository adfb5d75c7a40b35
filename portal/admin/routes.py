"""Admin pages: list accounts and invite firm members."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.admin.forms import NewAccountForm
from portal.auth.services import create_firm_account
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Role, User
from portal.permissions import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@roles_required(Role.ADMIN)
def list_users():
    """Every account, firm first."""
    users = db.session.scalars(select(User).order_by(User.role, User.name)).all()
    return render_template("admin/users.html", users=users)


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
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            return redirect(url_for("admin.list_users"))
    return render_template("admin/new_user.html", form=form)
