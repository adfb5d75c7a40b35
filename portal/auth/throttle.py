"""Throttling of password guesses and reset requests (Flask-Limiter).

Wrong passwords count in three buckets: the account from one address (so an
attacker elsewhere cannot lock the owner out), the address (a sprayer over
many accounts), and, more slowly, the account from anywhere (a guesser spread
over many addresses). A wrong current password on the account page counts in
the same two account buckets as a wrong sign-in (shared scopes, same keys).
Only real failed password checks count: not successes, not empty or malformed
forms, and not requests the limiter has already refused with 429 (else an
attacker blocked at one address would keep using up the account's budget).

The slow per-account limit could still be spent by attackers on many
addresses. So a browser that has signed in to the account before (it holds a
signed "known device" cookie for that account, OWASP's device cookies) gets a
per-account budget of its own: the owner's usual browser keeps working while
strangers exhaust the shared one. A stolen device cookie buys no more than
one more such budget.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flask import after_this_request, current_app, g, request, session
from flask_limiter.util import get_remote_address
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.auth.services import normalize_email
from portal.extensions import limiter

# Enough to tell an address from an empty or mistyped field: only forms that
# could name an account count against an account's buckets.
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+")
KNOWN_DEVICE_LIFETIME = timedelta(days=90)


def count_failed_password_check() -> None:
    """Mark this request as a failed password check, to be counted once answered."""
    g.password_check_failed = True


def _password_check_failed(response) -> bool:
    return g.get("password_check_failed", False)


def _form_email() -> str | None:
    """The email of the posted form, normalized, if it could name an account."""
    email = normalize_email(request.form.get("email", ""))
    return email if len(email) <= 254 and EMAIL_SHAPE.fullmatch(email) else None


def _no_account_named() -> bool:
    return _form_email() is None


def _signed_in_email() -> str:
    return current_user.email


# --- known devices -----------------------------------------------------------

def _device_cookie_name() -> str:
    # The __Host- prefix (Secure, whole site, no Domain) wherever cookies are Secure.
    return "__Host-device" if current_app.config["SESSION_COOKIE_SECURE"] else "device"


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="portal.known-device")


def _account_tag(email: str) -> str:
    # Keyed, so the cookie does not show (or let anyone confirm) whose account it is.
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


def remember_device(email: str) -> None:
    """After a successful sign-in: mark this browser as known for ``email``."""
    value = _device_serializer().dumps({"a": _account_tag(email), "d": secrets.token_hex(16)})

    @after_this_request
    def set_cookie(response):
        response.set_cookie(_device_cookie_name(), value, path="/",
                            max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()),
                            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                            samesite="Lax")
        return response


def _known_device(email: str) -> str | None:
    """The id of this browser if it signed in to ``email``'s account before."""
    cookie = request.cookies.get(_device_cookie_name())
    if not cookie:
        return None
    try:
        payload = _device_serializer().loads(
            cookie, max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not hmac.compare_digest(str(payload.get("a")),
                                                                _account_tag(email)):
        return None
    return str(payload.get("d"))


def is_known_device(email: str) -> bool:
    """True if this browser holds a valid known-device cookie for ``email``'s
    account (it signed in to it before, within ``KNOWN_DEVICE_LIFETIME``)."""
    return _known_device(email) is not None


def _per_account_bucket(account):
    """The per-account key: the account's shared bucket, or a known device's own."""
    def key() -> str:
        email = account()
        device = _known_device(email)
        return f"{email}|device:{device}" if device else email
    return key


def _setting(name: str):
    return lambda: current_app.config[name]


def _account_limits(view, account, exempt_when=None):
    view = limiter.shared_limit(
        _setting("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"), scope="login-account-address",
        key_func=lambda: f"{account()}|{get_remote_address()}", methods=["POST"],
        exempt_when=exempt_when, deduct_when=_password_check_failed)(view)
    return limiter.shared_limit(
        _setting("LOGIN_LIMIT_PER_ACCOUNT"), scope="login-account",
        key_func=_per_account_bucket(account),
        methods=["POST"], exempt_when=exempt_when, deduct_when=_password_check_failed)(view)


def sign_in_limits(view):
    """Decorator for the sign-in form: per address, per account and address,
    per account (the account named by the form's email)."""
    view = _account_limits(view, _form_email, exempt_when=_no_account_named)
    return limiter.limit(_setting("LOGIN_LIMIT_PER_ADDRESS"), methods=["POST"],
                         deduct_when=_password_check_failed)(view)


# Where the sign-in's code step keeps who is half signed in (set by
# ``portal.auth.factor_routes``).
PENDING_SECOND_FACTOR_KEY = "second_factor"


def _pending_email() -> str | None:
    return (session.get(PENDING_SECOND_FACTOR_KEY) or {}).get("email")


def second_factor_limits(view):
    """Decorator for the code step of sign-in: a wrong code counts in the
    same buckets as a wrong password (per account and address, per account,
    per address), so knowing the password buys no extra guesses."""
    view = _account_limits(view, _pending_email, exempt_when=lambda: _pending_email() is None)
    return limiter.limit(_setting("LOGIN_LIMIT_PER_ADDRESS"), methods=["POST"],
                         deduct_when=_password_check_failed)(view)


def password_change_limits(view):
    """Decorator for the password change: the signed-in account's buckets."""
    return _account_limits(view, _signed_in_email)


def _reset_requested(response) -> bool:
    # Counted once accepted (the form redirects), not when refused or re-shown.
    return response.status_code in (302, 303)


def reset_request_limits(view):
    """Decorator for reset requests: per address and per email address. The
    per-email limit applies to unknown addresses alike (a 429 tells nothing),
    and once reached, the last link sent stays the valid one. Empty or
    malformed forms are re-shown, never accepted, so they count nowhere."""
    view = limiter.limit(_setting("PASSWORD_RESET_LIMIT_PER_EMAIL"), methods=["POST"],
                         key_func=lambda: f"reset:{_form_email()}",
                         deduct_when=_reset_requested)(view)
    return limiter.limit(_setting("PASSWORD_RESET_LIMIT_PER_ADDRESS"), methods=["POST"],
                         deduct_when=_reset_requested)(view)
