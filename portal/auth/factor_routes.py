"""Second factors: the code step of sign-in, the account security page
(authenticator app, recovery codes, passkeys) and confirming it's you.

Registered on the ``auth`` blueprint (``portal.auth.routes`` imports this module).
"""
from __future__ import annotations

import base64
import json
import time

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from portal.auth import factors, recovery, services, sessions, throttle, totp
from portal.auth.forms import AppSetupForm, ConfirmForm, EmailForm, SecondFactorForm
from portal.auth.reauth import confirmation_required
from portal.auth.routes import bp, safe_next, start
from portal.crypto import CryptoError
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Passkey, User

PENDING_KEY = throttle.PENDING_SECOND_FACTOR_KEY
# Between a right password and the code: long enough to find the phone.
PENDING_SECONDS = 5 * 60
APP_SECRET_KEY = "app_secret"  # noqa: S105 - the name of a session key, not a secret
CODES_KEY = "recovery_codes"


# --- sign-in: the code step ----------------------------------------------------

def ask_second_factor(user: User, target: str):
    """After a right password: remember who is half signed in (nothing from
    before survives, as at any sign-in) and ask for their second factor."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    session[PENDING_KEY] = {"user": str(user.uuid), "email": user.email, "next": target,
                            "until": time.time() + PENDING_SECONDS}
    return redirect(url_for("auth.second_factor"))


def pending_user() -> User | None:
    """The person whose password was right, while their code step lasts."""
    pending = session.get(PENDING_KEY) or {}
    if pending.get("until", 0) < time.time():
        return None
    user = db.session.scalar(select(User).where(User.email == pending.get("email")))
    return user if user is not None and str(user.uuid) == pending.get("user") and user.active \
        else None


@bp.route("/login/verify", methods=["GET", "POST"])
@throttle.second_factor_limits
def second_factor():
    """The second step of sign-in: a code from the app, a recovery code, or a passkey."""
    user = pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(_("Please sign in again: the time to enter your code ran out."), "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = factors.check_code(user, form.code.data)
        if method is not None:
            return finish_sign_in(user, method)
        throttle.count_failed_password_check()
        factors.record_failure(user)
        form.code.errors.append(_("That code is not correct, or it was used already. Type "
                                  "the code your app shows now."))
    if user.totp_secret_sealed is None:
        form.code.description = _("One of the recovery codes you saved when you set up your "
                                  "passkey.")
    return render_template("auth/second_factor.html", form=form, user=user,
                           has_app=user.totp_secret_sealed is not None,
                           has_passkey=factors.has_passkey(user))


def finish_sign_in(user: User, method: str):
    """The second factor was right: open the session and go where the person was going."""
    target = session[PENDING_KEY]["next"]
    factors.record_use(user, method)
    start(user)
    if method == "recovery":
        flash(_("You signed in with a recovery code; %(num)d are left. If your phone is lost, "
                "set up a new second factor now.", num=recovery.remaining(user)), "info")
    return redirect(safe_next(target))


# --- the account security page -------------------------------------------------

@bp.route("/account/security")
def security():
    """Second factors: the authenticator app, passkeys, recovery codes."""
    passkeys = db.session.scalars(select(Passkey).where(Passkey.user_id == current_user.id)
                                  .order_by(Passkey.created_at)).all()
    return render_template("auth/security.html", passkeys=passkeys,
                           has_app=current_user.totp_secret_sealed is not None,
                           codes_left=recovery.remaining(current_user),
                           must_set_up=factors.must_set_up(current_user))


def _seal_for_session(key: str, value) -> None:
    # The Flask session is a signed but readable cookie: what it carries is sealed.
    sealed = current_app.extensions["crypto"].encrypt_text(json.dumps(value), current_user.uuid, purpose=key)
    session[key] = base64.b64encode(sealed).decode()


def _unseal_from_session(key: str):
    sealed = session.get(key)
    if not sealed:
        return None
    try:
        return json.loads(current_app.extensions["crypto"].decrypt_text(base64.b64decode(sealed),
                                                            current_user.uuid, purpose=key))
    except (CryptoError, ValueError):
        session.pop(key, None)
        return None


@bp.route("/account/security/app", methods=["GET", "POST"])
@confirmation_required
def setup_app():
    """Set up an authenticator app: scan the QR code (or type the secret),
    then type the first code to show it works."""
    if current_user.totp_secret_sealed is not None:
        return redirect(url_for("auth.security"))
    secret = _unseal_from_session(APP_SECRET_KEY)
    if secret is None:
        secret = totp.new_secret()
        _seal_for_session(APP_SECRET_KEY, secret)
    form = AppSetupForm()
    if form.validate_on_submit():
        try:
            codes = factors.add_totp(current_user, session.get(sessions.SESSION_KEY), secret,
                                     form.code.data)
        except ServiceError as error:
            form.code.errors.append(error.message)
        else:
            session.pop(APP_SECRET_KEY, None)
            flash(_("Your authenticator app is set up. You will type one of its codes each "
                    "time you sign in."), "success")
            return redirect(show_codes_url(codes) if codes else url_for("auth.security"), code=303)
    uri = totp.provisioning_uri(current_user, secret)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    svg = totp.qr_svg(uri)
    qr = Markup(svg)  # noqa: S704  # nosec B704  # segno draws the URI as SVG paths, no text
    return render_template("auth/setup_app.html", form=form, secret=grouped, qr=qr)


@bp.route("/account/security/app/remove", methods=["POST"])
@confirmation_required
def remove_app():
    """Turn off the authenticator app."""
    if current_user.totp_secret_sealed is None:
        return redirect(url_for("auth.security"), code=303)
    try:
        factors.remove_totp(current_user, session.get(sessions.SESSION_KEY))
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The authenticator app was removed. Any other device signed in to your "
                "account was signed out."), "success")
    return redirect(url_for("auth.security"), code=303)


def show_codes_url(codes: list[str]) -> str:
    """Keep new recovery codes (sealed) in this session until the person has
    seen them; returns the page that shows them."""
    _seal_for_session(CODES_KEY, codes)
    return url_for("auth.recovery_codes")


@bp.route("/account/security/recovery-codes")
def recovery_codes():
    """New recovery codes, shown once (until the person says they saved them)."""
    codes = _unseal_from_session(CODES_KEY)
    if codes is None:
        return redirect(url_for("auth.security"))
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.route("/account/security/recovery-codes.txt")
def download_recovery_codes():
    """The codes just made, as a text file to keep somewhere safe."""
    codes = _unseal_from_session(CODES_KEY)
    if codes is None:
        return redirect(url_for("auth.security"))
    text = "\n".join([_("Recovery codes for %(email)s. Each works once.",
                        email=current_user.email), ""] + codes) + "\n"
    return Response(text, mimetype="text/plain",
                    headers={"Content-Disposition": 'attachment; filename="recovery-codes.txt"'})


@bp.route("/account/security/recovery-codes/saved", methods=["POST"])
def recovery_codes_saved():
    """The person kept their codes: they are not shown again."""
    session.pop(CODES_KEY, None)
    return redirect(url_for("auth.security"), code=303)


@bp.route("/account/security/recovery-codes/new", methods=["POST"])
@confirmation_required
def regenerate_recovery_codes():
    """Ten new codes; the old ones stop working."""
    try:
        codes = factors.regenerate_recovery_codes(current_user)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.security"), code=303)
    return redirect(show_codes_url(codes), code=303)


@bp.route("/account/email", methods=["GET", "POST"])
@confirmation_required
def change_email():
    """Change the email one signs in with (after confirming it's you)."""
    form = EmailForm()
    if form.validate_on_submit():
        try:
            services.change_email(current_user, session.get(sessions.SESSION_KEY),
                                  form.email.data)
        except ServiceError as error:
            form.email.errors.append(error.message)
        else:
            flash(_("Your email is now %(email)s. We told your old address about the change.",
                    email=current_user.email), "success")
            return redirect(url_for("auth.edit_profile"), code=303)
    return render_template("auth/change_email.html", form=form)


# --- confirming it's you -------------------------------------------------------

@bp.route("/account/confirm", methods=["GET", "POST"])
@throttle.password_change_limits
def reauthenticate():
    """The password and a factor again, before changing factors or email."""
    form = ConfirmForm()
    has_factor = factors.has_second_factor(current_user)
    if form.validate_on_submit():
        try:
            factors.confirm(current_user, session.get(sessions.SESSION_KEY), form.password.data,
                            form.code.data)
        except factors.WrongCredentials as error:
            throttle.count_failed_password_check()
            form.password.errors.append(error.message)
        else:
            return redirect(safe_next(request.args.get("next")), code=303)
    return render_template("auth/confirm.html", form=form, has_factor=has_factor,
                           has_app=current_user.totp_secret_sealed is not None,
                           has_passkey=factors.has_passkey(current_user))
