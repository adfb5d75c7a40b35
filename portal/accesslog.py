"""gunicorn's access log without the secrets some links carry.

Invitation and password-reset links hold their token in the path
(``/invitation/<token>``, ``/reset/<token>``); the app moves it into the
session at once, but gunicorn has already logged the request line. A
calendar feed's address (``/calendar/<token>.ics``) is its only credential.
This logger writes ``/invitation/[redacted]`` instead, wherever the path
appears (request line, path, referrer). ``gunicorn.conf.py`` installs it;
the development server (``portal.dev.server``) passes its log lines through
the same ``redact``.
"""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

# Prefixes of the public routes whose next path segment is a secret.
SECRET_PATH = re.compile(r"(/(?:invitation|reset|calendar)/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """``text`` with the token of every secret link replaced."""
    return SECRET_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    """gunicorn's logger, with secret path segments removed from every atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
