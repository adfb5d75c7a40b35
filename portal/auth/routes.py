"""Sign-in, sign-out, invitation links and the user's own profile."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.auth import services, sessions
from portal.auth.forms import AcceptInvitationForm, LanguageForm, LoginForm, ProfileForm
from portal.errors import ServiceError, render_error
from portal.extensions import limiter
from portal.models.types import utcnow

bp = Blueprint("auth", __name__)

INVITATION_KEY = "invitation"


def _login_failed(response) -> bool:
    """Only failed sign-ins count against the limits (success redirects)."""
    return response.status_code not in (302, 303)


def _account_key() -> str:
    return "login:" + services.normalize_email(request.form.get("email", ""))


def _safe_next(target: str | None) -> str:
    """Follow ``next`` only to a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("cases.dashboard")


def _start(user) -> None:
    """A fresh session for ``user``: nothing from before sign-in survives."""
    language = session.get("language")
    session.clear()
    session[sessions.SESSION_KEY] = services.sign_in(
        user, request.remote_addr, request.headers.get("User-Agent"))
    if language:
        session["language"] = language
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"],
               deduct_when=_login_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, deduct_when=_login_failed)
def login():
    """Show the sign-in form; on a correct email and password, sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("cases.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start(user)
            return redirect(_safe_next(request.args.get("next")))
        # One message for unknown email and wrong password alike.
        flash(_("The email or password is not correct."), "error")
    return render_template("auth/login.html", form=form, language_form=LanguageForm(
        language=session.get("language")))


@bp.route("/language", methods=["POST"])
def set_language():
    """Choose the language before signing in (kept in the session)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["language"] = form.language.data
    return redirect(url_for("auth.login"))


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session server-side, so even a copied cookie stops working."""
    services.sign_out(current_user, session.get(sessions.SESSION_KEY))
    logout_user()
    session.clear()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/invitation/<token>")
def open_invitation(token: str):
    """The emailed link: keep the token in the session and move to a URL
    without it, so it does not linger in history or logs beyond this hit."""
    session[INVITATION_KEY] = token
    return redirect(url_for("auth.accept_invitation"), code=303)


@bp.route("/invitation", methods=["GET", "POST"])
def accept_invitation():
    """Set a name and password for an invited account, then land on the case."""
    invitation = services.find_invitation(session.get(INVITATION_KEY))
    if invitation is None:
        return render_error(404, _("This invitation link is not valid. Please use the most "
                                   "recent link you received, or ask your attorney for a new one."))
    if not invitation.is_usable(utcnow()):
        return render_error(410, _("This invitation link has expired or was already used. "
                                   "Please ask your attorney for a new one."))
    if current_user.is_authenticated:
        return render_error(403, _("You are signed in with another account. Sign out, then "
                                   "open the invitation link again."))
    form = AcceptInvitationForm(name=invitation.name)
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(invitation, form.name.data, form.password.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            _start(user)
            flash(_("Welcome! Your account is ready."), "success")
            if invitation.case is not None:
                return redirect(url_for("cases.show_case", case_uuid=invitation.case.uuid))
            return redirect(url_for("cases.dashboard"))
    return render_template("auth/accept_invitation.html", form=form, invitation=invitation)


@bp.route("/account", methods=["GET", "POST"])
def edit_profile():
    """The user's own name, language and time zone."""
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.name.data, form.language.data,
                                    form.timezone.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(_("Your settings were saved."), "success")
            return redirect(url_for("auth.edit_profile"))
    return render_template("auth/profile.html", form=form)
