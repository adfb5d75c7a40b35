"""The firm's own face: its name and logo in the header, its address, phone,
office hours and privacy notice in the footer and on ``/privacy``, each in the
reader's language (``portal.firm.profile`` reads and checks them).

The profile is read once at start-up, and its name becomes ``FIRM_NAME``, so
the header, emails and authenticator apps all show the same name.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

import config as settings
from portal.firm.profile import FirmProfile, ProfileError, load_profile, read_logo


def build_profile(config) -> FirmProfile:
    """The profile ``config`` describes: the file of ``FIRM_PROFILE`` if set (its
    name, else ``FIRM_NAME``), else just ``FIRM_NAME``; and the logo of
    ``FIRM_LOGO`` when the file names none.

    Raises ``ProfileError`` naming the setting, the file and what is wrong.
    """
    name = config.get("FIRM_NAME")
    fallback_name = name if name and name != settings.DEFAULT_FIRM_NAME else None
    profile = FirmProfile(name=fallback_name)
    if config.get("FIRM_PROFILE"):
        try:
            profile = load_profile(config["FIRM_PROFILE"], tuple(config["LANGUAGES"]),
                                   fallback_name)
        except ProfileError as error:
            raise ProfileError(f"PORTAL_FIRM_PROFILE {error}") from None
    if profile.logo is None and config.get("FIRM_LOGO"):
        try:
            profile = replace(profile, logo=read_logo(Path(config["FIRM_LOGO"])))
        except ProfileError as error:
            raise ProfileError(f"PORTAL_FIRM_LOGO {error}") from None
    return profile


def profile_problem(config) -> str | None:
    """Why the firm's profile or logo cannot be used, in one sentence; None if it can."""
    try:
        build_profile(config)
    except ProfileError as error:
        return str(error)
    return None


def current_profile() -> FirmProfile:
    """The running app's firm profile."""
    return current_app.extensions["firm"]


def init_app(app: Flask) -> None:
    """Read the profile and offer it to every template as ``firm`` (and
    ``firm_name``, which says "Client portal" when no name is set).

    Raises ``RuntimeError`` for a profile or logo that cannot be used, in any
    environment (production names it among its other refusals first).
    """
    try:
        profile = build_profile(app.config)
    except ProfileError as error:
        raise RuntimeError(f"Refusing to start: {error}") from None
    app.extensions["firm"] = profile
    if profile.name:
        app.config["FIRM_NAME"] = profile.name

    @app.context_processor
    def firm_context() -> dict:
        return {"firm": profile, "firm_name": profile.name or _l("Client portal")}
