"""Password hashing (Argon2id via argon2-cffi) and the strength rule.

Strength: at least 12 characters, and not guessable according to zxcvbn,
whose shipped lists include the 30,000 most common leaked passwords.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 256  # beyond this, hashing cost becomes a denial-of-service lever


def _hasher() -> PasswordHasher:
    hasher = current_app.extensions.get("password_hasher")
    if hasher is None:
        cfg = current_app.config
        hasher = PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"],
                                memory_cost=cfg["ARGON2_MEMORY_COST"], parallelism=1)
        current_app.extensions["password_hasher"] = hasher
        # A hash to verify against when the email is unknown, so both failures cost the same.
        current_app.extensions["dummy_hash"] = hasher.hash("not a real password, for timing")
    return hasher


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash``. With no hash (unknown
    user, or no password set yet) a dummy hash is checked so that the answer
    takes as long as a real check."""
    hasher = _hasher()
    try:
        return hasher.verify(stored_hash or current_app.extensions["dummy_hash"], password) \
            and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, user_inputs: list[str]) -> str | None:
    """Why ``password`` is not acceptable, as a message for the user, or None.

    ``user_inputs`` (email, name) count as guessable.
    """
    if len(password) < MIN_LENGTH:
        return _l("Use at least %(count)d characters.", count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("Use at most %(count)d characters.", count=MAX_LENGTH)
    if zxcvbn(password[:100], user_inputs=user_inputs)["score"] < 3:
        return _l("This password is too easy to guess. Try a few unrelated words.")
    return None
