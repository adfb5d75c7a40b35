"""Language and time zone of each request, each person's day, the language
cookie, and the filters that write numbers and sizes in the reader's language."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.units import format_unit
from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_babel import Babel, get_locale, refresh
from flask_login import current_user

from portal.models.types import utcnow

if TYPE_CHECKING:
    from portal.models import User

LANGUAGE_NAMES = {"en": "English", "es": "Español", "ru": "Русский"}
# The language picked with the switch, kept across sign-out and session expiry
# (the session dies with them). Not a secret: it only says how to speak.
LANGUAGE_COOKIE_AGE = timedelta(days=365)
_REMEMBERED = "remembered_language"  # g: the cookie's value from this response on


def remember_language(language: str) -> None:
    """Keep ``language`` in the browser's language cookie (written on this
    response) and speak it for the rest of this request. An unknown
    language is ignored."""
    if language in current_app.config["LANGUAGES"]:
        setattr(g, _REMEMBERED, language)
        refresh()  # a locale already chosen for this request is chosen again


def language_cookie_name() -> str:
    """The language cookie's name: with the __Host- prefix (Secure, whole
    site, no Domain) wherever cookies are Secure, as the session's."""
    return "__Host-language" if current_app.config["SESSION_COOKIE_SECURE"] else "language"


def cookie_language() -> str | None:
    """The language the browser's cookie holds (or will hold, once this
    response sets it), if it is one the portal ships."""
    language = g.get(_REMEMBERED) or request.cookies.get(language_cookie_name())
    return language if language in current_app.config["LANGUAGES"] else None


def _write_language_cookie(response: Response) -> Response:
    language = g.get(_REMEMBERED)
    if language:
        response.set_cookie(language_cookie_name(), language,
                            max_age=int(LANGUAGE_COOKIE_AGE.total_seconds()), path="/",
                            secure=current_app.config["SESSION_COOKIE_SECURE"],
                            httponly=True, samesite="Lax")
    return response


def select_locale() -> str:
    """The signed-in user's language; else the one in the language cookie
    (the switch, an invitation or reset link, or the last sign-out set it);
    else one kept in the session by older versions; else the browser's best
    match among the languages the portal ships."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI speaks the default language
        return languages[0]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    chosen = cookie_language()
    if chosen:
        return chosen
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or languages[0]


def select_timezone() -> str | None:
    """The signed-in user's time zone (times are stored in UTC)."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return None


def local_now(user: User, now: datetime | None = None) -> datetime:
    """``now`` (default: the present) on ``user``'s clock."""
    try:
        zone = ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or utcnow()).astimezone(zone)


def today_for(user: User) -> date:
    """Today's date where ``user`` lives (due dates are the person's days)."""
    return local_now(user).date()


def switch_return_path() -> str | None:
    """Where the language switch brings the person back: this page, unless
    its address carries a secret (an emailed link's token is never echoed
    into a page)."""
    if request.view_args and "token" in request.view_args:
        return None
    if request.url_rule is not None and "GET" not in request.url_rule.methods:
        # A page shown again by the route its form posts to (the form had
        # errors): back to the page's own address, which its view names.
        return g.get("page_path")
    path = request.script_root + request.path
    return f"{path}?{request.query_string.decode('latin-1')}" if request.query_string else path


# Binary multiples, as the upload limits are set; CLDR names them in each
# language ("MB", "МБ") the way people say them.
SIZE_UNITS = (("digital-gigabyte", 1 << 30), ("digital-megabyte", 1 << 20),
              ("digital-kilobyte", 1 << 10))


def filesize(size: int) -> str:
    """A byte count for people in the reader's language: ``1.5 MB``,
    ``1,5 МБ``, ``500 bytes``."""
    locale = get_locale()
    for unit, factor in SIZE_UNITS:
        if size >= factor:
            return format_unit(round(size / factor, 1), unit, length="short", locale=locale)
    return format_unit(size, "digital-byte", length="long", locale=locale)


def init_app(app: Flask, babel: Babel) -> None:
    """Attach Flask-Babel with the portal's selectors, the language cookie
    and the ``filesize`` filter (Flask-Babel adds ``decimalformat`` and the
    date filters)."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.after_request(_write_language_cookie)
    app.jinja_env.globals.update(LANGUAGE_NAMES=LANGUAGE_NAMES, get_locale=get_locale,
                                 switch_return_path=switch_return_path)
    app.jinja_env.filters["filesize"] = filesize
