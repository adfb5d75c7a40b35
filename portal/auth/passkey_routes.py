"""Passkey pages: the browser asks for options (a fresh challenge, kept in
this session), makes or uses a passkey, and posts the answer back as JSON.
Registered on the ``auth`` blueprint (``portal.auth.routes`` imports this module).
"""
from __future__ import annotations

import base64
import uuid

from flask import flash, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.auth import passkeys, sessions, throttle
from portal.auth.factor_routes import finish_sign_in, pending_user, show_codes_url
from portal.auth.reauth import confirmation_required
from portal.auth.routes import bp, safe_next
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Passkey

CHALLENGE_KEY = "passkey_challenge"


def _offer(purpose: str, options_and_challenge):
    """Keep the challenge for ``purpose`` in this session and send the options."""
    options, challenge = options_and_challenge
    session[CHALLENGE_KEY] = {"for": purpose, "c": base64.b64encode(challenge).decode()}
    return options, 200, {"Content-Type": "application/json"}


def _take_challenge(purpose: str) -> bytes | None:
    """The challenge offered for ``purpose``, removed: each one answers once."""
    kept = session.pop(CHALLENGE_KEY, None) or {}
    return base64.b64decode(kept["c"]) if kept.get("for") == purpose else None


def _refused(message, status: int = 400):
    return jsonify(error=str(message)), status


# --- adding and removing ---------------------------------------------------------

@bp.route("/account/security/passkeys/options", methods=["POST"])
@confirmation_required
def passkey_options():
    """Options to make a passkey for the signed-in person."""
    return _offer("add", passkeys.registration_options(current_user))


@bp.route("/account/security/passkeys", methods=["POST"])
@confirmation_required
def add_passkey():
    """Keep the passkey the browser made."""
    challenge = _take_challenge("add")
    try:
        data = passkeys.parse(request.get_data())
        if challenge is None:
            raise ServiceError(passkeys.REFUSED)
        codes = passkeys.add(current_user, session.get(sessions.SESSION_KEY), data["credential"],
                             challenge, str(data.get("name", "")))
    except ServiceError as error:
        return _refused(error.message)
    flash(_("Your passkey was added. Any other device signed in to your account was signed "
            "out."), "success")
    if codes:
        return jsonify(redirect=show_codes_url(codes))
    return jsonify(redirect=url_for("auth.security"))


@bp.route("/account/security/passkeys/<uuid:passkey_uuid>/remove", methods=["POST"])
@confirmation_required
def remove_passkey(passkey_uuid: uuid.UUID):
    """Remove one of the person's passkeys."""
    passkey = db.first_or_404(select(Passkey).where(Passkey.uuid == passkey_uuid,
                                                    Passkey.user_id == current_user.id))
    try:
        passkeys.remove(current_user, session.get(sessions.SESSION_KEY), passkey)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The passkey was removed. Any other device signed in to your account was "
                "signed out."), "success")
    return redirect(url_for("auth.security"), code=303)


# --- signing in ----------------------------------------------------------------

@bp.route("/login/passkey/options", methods=["POST"])
def passkey_sign_in_options():
    """Options to answer with a passkey of the person half signed in."""
    user = pending_user()
    if user is None:
        return _refused(_("Please sign in again: the time to confirm ran out."), 401)
    return _offer("sign-in", passkeys.authentication_options(user))


@bp.route("/login/passkey", methods=["POST"])
@throttle.second_factor_limits
def passkey_sign_in():
    """The passkey's answer at sign-in: open the session."""
    user = pending_user()
    challenge = _take_challenge("sign-in")
    if user is None:
        return _refused(_("Please sign in again: the time to confirm ran out."), 401)
    try:
        data = passkeys.parse(request.get_data())
        if challenge is None:
            raise ServiceError(passkeys.REFUSED)
        passkeys.check(user, data["credential"], challenge)
    except ServiceError as error:
        throttle.count_failed_password_check()
        return _refused(error.message)
    response = finish_sign_in(user, "passkey")
    return jsonify(redirect=response.location)


# --- confirming it's you -------------------------------------------------------

@bp.route("/account/confirm/passkey/options", methods=["POST"])
def passkey_confirm_options():
    """Options to confirm it's you with a passkey (with the password)."""
    return _offer("confirm", passkeys.authentication_options(current_user))


@bp.route("/account/confirm/passkey", methods=["POST"])
@throttle.password_change_limits
def passkey_confirm():
    """The password and a passkey's answer: the session is confirmed."""
    challenge = _take_challenge("confirm")
    try:
        data = passkeys.parse(request.get_data())
        if challenge is None:
            raise ServiceError(passkeys.REFUSED)
        passkeys.confirm(current_user, session.get(sessions.SESSION_KEY),
                                     str(data.get("password", "")), data["credential"], challenge)
    except ServiceError as error:
        throttle.count_failed_password_check()
        return _refused(error.message)
    return jsonify(redirect=safe_next(request.args.get("next")))
