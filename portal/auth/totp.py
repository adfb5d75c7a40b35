"""Authenticator-app codes (TOTP, RFC 6238, by pyotp).

The secret is sealed with the portal's texts keyset, bound to the person
(``purpose="totp"``), so neither a database dump nor another row's
ciphertext gives it away. A code is good for its 30-second step and one step
either side, and once: the step of the last accepted code is stored and the
database refuses to go back to it, even for two requests racing.
"""
from __future__ import annotations

import hmac
import re
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import or_, update

from portal.extensions import db
from portal.models import User
from portal.models.types import utcnow

STEP_SECONDS = 30
CODE = re.compile(r"\d{6}")


def new_secret() -> str:
    """A fresh random secret (160 bits, base32), not yet saved anywhere."""
    return pyotp.random_base32(32)


def seal(user: User, secret: str) -> bytes:
    """``secret`` encrypted for ``user``."""
    return current_app.extensions["crypto"].encrypt_text(secret, user.uuid, purpose="totp")


def unseal(user: User, sealed: bytes) -> str:
    """The secret ``seal`` made for ``user``."""
    return current_app.extensions["crypto"].decrypt_text(sealed, user.uuid, purpose="totp")


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email,
                                               issuer_name=current_app.config["FIRM_NAME"])


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG, drawn here (no outside service).
    With a viewBox and no fixed size (the page's CSS sizes it), so a long
    address's larger code shrinks to a phone's width instead of overflowing."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                 title="QR", omitsize=True)


def normalize(code: str) -> str:
    """A typed code without the spaces and dashes people put in."""
    return re.sub(r"[\s-]", "", code or "")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step (current, previous or next) whose code is ``code``, or None."""
    code = normalize(code)
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_code(user: User, code: str) -> bool:
    """True if ``code`` is a current code of ``user``'s app not used before;
    its step becomes the last used one. The caller commits."""
    if user.totp_secret_sealed is None:
        return False
    step = matching_step(unseal(user, user.totp_secret_sealed), code)
    if step is None:
        return False
    # One statement decides: two requests with the same code cannot both win.
    claimed = db.session.execute(
        update(User).where(User.id == user.id,
                           or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
    db.session.expire(user, ["totp_last_step"])
    return claimed == 1


def enable(user: User, secret: str, code: str) -> bool:
    """Save ``secret`` for ``user`` if ``code`` proves their app has it.
    The caller audits and commits."""
    step = matching_step(secret, code)
    if step is None:
        return False
    user.totp_secret_sealed = seal(user, secret)
    user.totp_last_step = step
    user.totp_added_at = utcnow()
    return True


def disable(user: User) -> None:
    """Forget ``user``'s authenticator app. The caller audits and commits."""
    user.totp_secret_sealed = None
    user.totp_last_step = None
    user.totp_added_at = None
