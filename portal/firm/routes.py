"""The firm's logo and its privacy notice: public, the same for everyone."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale

from portal.firm import current_profile

bp = Blueprint("firm", __name__)

# The logo is the operator's file, not a visitor's, but an SVG opened on its own
# is a document on the portal's address: it may style itself, nothing more.
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
A_YEAR = 365 * 24 * 3600


@bp.route("/firm/logo")
def show_logo():
    """The logo read at start-up. Pages link it with its digest in the address
    (``?v=``), so browsers may keep it for a year; 404 without a logo."""
    logo = current_profile().logo
    if logo is None:
        abort(404)
    response = Response(logo.data, content_type=logo.content_type)
    response.set_etag(logo.digest)
    response.cache_control.public = True
    response.cache_control.max_age = A_YEAR
    response.cache_control.immutable = True
    response.headers["Content-Security-Policy"] = LOGO_CSP
    return response.make_conditional(request)


@bp.route("/privacy")
def show_privacy():
    """The firm's privacy notice in the reader's language (English when the
    profile lacks it); 404 without a profile."""
    texts = current_profile().texts_for(get_locale())
    if texts is None:
        abort(404)
    return render_template("firm/privacy.html", texts=texts)
