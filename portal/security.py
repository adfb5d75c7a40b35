"""Deny by default, server-side sessions and security headers for every response."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.auth import factors, sessions
from portal.extensions import login_manager

# The only endpoints reachable without signing in. Everything else, including
# every endpoint added later, requires a signed-in user.
PUBLIC_ENDPOINTS = frozenset({
    "static",
    "health.healthz",
    "health.livez",
    # Prometheus: the bearer token is the credential, checked by the view (404 without it).
    "metrics.show_metrics",
    "auth.login",
    "auth.open_invitation",
    "auth.accept_invitation",
    "auth.set_language",
    "auth.request_password_reset",
    "auth.open_password_reset",
    "auth.reset_password",
    # The code step of sign-in: the password was right, the session not open yet.
    "auth.second_factor",
    "auth.passkey_sign_in_options",
    "auth.passkey_sign_in",
    # The secret address is the credential: calendar apps cannot sign in.
    "agenda.calendar_feed",
    # The firm's logo (on the sign-in page) and its privacy notice (linked under every page).
    "firm.show_logo",
    "firm.show_privacy",
})

# Public files, the same for everyone, that set their own Cache-Control.
CACHEABLE_ENDPOINTS = frozenset({"static", "firm.show_logo"})

# What a firm member without a second factor may still reach (in production
# they must set one up before anything else).
SET_UP_ENDPOINTS = frozenset({
    "auth.security", "auth.setup_app", "auth.recovery_codes", "auth.download_recovery_codes",
    "auth.recovery_codes_saved", "auth.reauthenticate", "auth.logout",
    "auth.passkey_options", "auth.add_passkey", "auth.passkey_confirm_options",
    "auth.passkey_confirm",
})

CSP = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"


def require_login():
    """Before each request: anything not public needs a signed-in user."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if sessions.is_passive():
            # A page asking on its own (a thread's poll): no redirect for it to
            # follow; it reloads, and the person meets the sign-in page and why.
            return jsonify(signed_in=False), 401
        return login_manager.unauthorized()
    if request.endpoint not in SET_UP_ENDPOINTS and factors.must_set_up(current_user):
        # The security page says why the person is there.
        return redirect(url_for("auth.security"))
    return None


def set_headers(response):
    """After each request: the security headers of SECURITY.md."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    # same-origin: nothing leaves for other sites, and Flask-WTF's HTTPS check
    # gets the same-origin Referer it needs (no-referrer made every POST fail).
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint not in CACHEABLE_ENDPOINTS or response.status_code >= 400:
        # Authenticated pages must not be kept by the browser or a proxy; public
        # pages carry a CSRF token tied to the session, so they are not cached either
        # (nor is an error page, which may be a signed-in person's).
        headers["Cache-Control"] = "no-store"
    if current_app.config["HSTS"]:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


@login_manager.user_loader
def load_user(user_id: str):
    """Flask-Login: the user only while their server-side session is open."""
    return sessions.load(user_id, session.get(sessions.SESSION_KEY))


def init_app(app: Flask) -> None:
    """Install the login requirement and the security headers."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = None  # our own server-side sessions replace it
    app.before_request(require_login)
    app.after_request(set_headers)
