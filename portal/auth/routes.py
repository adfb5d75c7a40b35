"""Sign-in, sign-out, invitation and password reset links, and the user's
own profile and password."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal import i18n
from portal.auth import factors, reset, services, sessions, throttle
from portal.auth.new_browser import notify_new_browser
from portal.cases import invitations
from portal.auth.forms import (AcceptInvitationForm, ChangePasswordForm, ForgotPasswordForm,
                               LanguageForm, LoginForm, ProfileForm, ResetPasswordForm)
from portal.errors import ServiceError, render_error
from portal.models.types import utcnow

bp = Blueprint("auth", __name__)

INVITATION_KEY = "invitation"
RESET_KEY = "password_reset"


def safe_next(target: str | None, fallback: str = "cases.dashboard") -> str:
    """Follow ``next`` only to a path on this site (no open redirect); else
    go to the endpoint ``fallback``."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for(fallback)


def start(user, new_account: bool = False) -> None:
    """A fresh session for ``user``: nothing from before sign-in survives.
    A browser new to the account is announced by email, unless the account
    was made in it this minute (an accepted invitation)."""
    language = session.get("language")
    session.clear()
    session[sessions.SESSION_KEY] = services.sign_in(
        user, request.remote_addr, request.headers.get("User-Agent"))
    if language:
        session["language"] = language
    login_user(user)
    if not new_account:
        notify_new_browser(user)
    throttle.remember_device(user.email)


@bp.route("/login", methods=["GET", "POST"])
@throttle.sign_in_limits
def login():
    """Show the sign-in form; on a correct email and password, sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("cases.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            target = safe_next(request.args.get("next"))
            if factors.has_second_factor(user):
                return factor_routes.ask_second_factor(user, target)
            start(user)
            return redirect(target)
        throttle.count_failed_password_check()
        # One message for unknown email and wrong password alike, under the
        # password (what a person retypes) and in the page's error summary.
        form.password.errors.append(_("The email or password is not correct."))
    return render_template("auth/login.html", form=form)


@bp.route("/language", methods=["POST"])
def set_language():
    """The language switch of every page: keep the choice in the language
    cookie (it outlives the session), save it to a signed-in person's
    profile, and go back to the page it was made on."""
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            try:
                services.change_language(current_user, form.language.data)
            except ServiceError as error:
                flash(error.message, "error")
        i18n.remember_language(form.language.data)
    fallback = "cases.dashboard" if current_user.is_authenticated else "auth.login"
    return redirect(safe_next(form.next.data, fallback))


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session server-side, so even a copied cookie stops working.
    The language stays: the sign-in page that follows speaks the person's."""
    i18n.remember_language(current_user.language)
    services.sign_out(current_user, session.get(sessions.SESSION_KEY))
    logout_user()
    session.clear()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/invitation/<token>")
def open_invitation(token: str):
    """The emailed link: keep the token in the session and move to a URL
    without it, so it does not linger in history or logs beyond this hit.
    Its pages speak the invitation's language (the switch can change it)."""
    session[INVITATION_KEY] = token
    invitation = invitations.find_invitation(token)
    if invitation is not None:
        i18n.remember_language(invitation.language)
    return redirect(url_for("auth.accept_invitation"), code=303)


@bp.route("/invitation", methods=["GET", "POST"])
def accept_invitation():
    """Set a name and password for an invited account, then land on the case."""
    invitation = invitations.find_invitation(session.get(INVITATION_KEY))
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
            user = invitations.accept_invitation(invitation, form.name.data, form.password.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            start(user, new_account=True)
            flash(_("Welcome! Your account is ready."), "success")
            if invitation.case is not None:
                return redirect(url_for("cases.show_case", case_uuid=invitation.case.uuid))
            return redirect(url_for("cases.dashboard"))
    return render_template("auth/accept_invitation.html", form=form, invitation=invitation)


@bp.route("/forgot-password", methods=["GET", "POST"])
@throttle.reset_request_limits
def request_password_reset():
    """Ask for a reset link. Every address gets the same answer."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.edit_profile"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        reset.request_reset(form.email.data)
        minutes = int(current_app.config["PASSWORD_RESET_TTL"].total_seconds() // 60)
        flash(_("If an account exists for that address, we have sent it a link to choose a new "
                "password. The link works for %(minutes)d minutes. If no email arrives, check "
                "your spam folder or contact your attorney's office.", minutes=minutes), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>")
def open_password_reset(token: str):
    """The emailed link: keep the token in the session and move to a URL
    without it, so it does not linger in history or logs beyond this hit.
    Its page speaks the account's language (the switch can change it)."""
    session[RESET_KEY] = token
    link = reset.find_reset(token)
    if link is not None:
        i18n.remember_language(link.user.language)
    return redirect(url_for("auth.reset_password"), code=303)


def _unusable_reset_link(status: int):
    return render_template("auth/reset_link_invalid.html", status=status), status


@bp.route("/reset", methods=["GET", "POST"])
def reset_password():
    """Choose a new password with a reset link, then sign in as usual."""
    link = reset.find_reset(session.get(RESET_KEY))
    if link is None:
        return _unusable_reset_link(404)
    if not link.is_usable(utcnow()) or not link.user.active:
        return _unusable_reset_link(410)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset.reset_password(link, form.password.data)
        except ServiceError as error:
            form.password.errors.append(error.message)
        else:
            session.pop(RESET_KEY, None)
            flash(_("Your password was changed and you were signed out everywhere. "
                    "Please sign in with your new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, email=link.user.email)


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
    return render_template("auth/profile.html", form=form,
                           password_form=ChangePasswordForm(formdata=None))


@bp.route("/account/password", methods=["POST"])
@throttle.password_change_limits
def change_password():
    """Change the password (the current one is asked again); the user's
    other sessions end, this one stays."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            reset.change_password(current_user, session.get(sessions.SESSION_KEY),
                                  form.current_password.data, form.password.data)
        except reset.WrongPassword as error:
            throttle.count_failed_password_check()
            form.current_password.errors.append(error.message)
        except ServiceError as error:
            form.password.errors.append(error.message)
        else:
            flash(_("Your password was changed. Any other device signed in to your account "
                    "was signed out."), "success")
            return redirect(url_for("auth.edit_profile"))
    return render_template("auth/profile.html", form=ProfileForm(formdata=None, obj=current_user),
                           password_form=form)


# The second-factor and session pages register on this blueprint.
from portal.auth import (factor_routes, passkey_routes,  # noqa: E402,F401  (need bp, start)
                         session_routes)
