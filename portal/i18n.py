"""Language and time zone of each request."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user


def select_locale() -> str:
    """The signed-in user's language; else the one picked on the sign-in page;
    else the browser's best match among the languages the portal ships."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI speaks the default language
        return languages[0]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or languages[0]


def select_timezone() -> str | None:
    """The signed-in user's time zone (times are stored in UTC)."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return None


LANGUAGE_NAMES = {"en": "English", "es": "Español", "ru": "Русский"}


def init_app(app: Flask, babel: Babel) -> None:
    """Attach Flask-Babel with the portal's selectors."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals.update(LANGUAGE_NAMES=LANGUAGE_NAMES, get_locale=get_locale)
