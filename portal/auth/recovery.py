"""Recovery codes: ten single-use codes for the day every other factor is lost.

Each code carries 60 random bits, so a salted SHA-256 (the person's UUID as
salt) is enough to keep them unreadable in a dump; a slow password hash would
only make trying ten of them slow for the owner.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import delete, func, select, update

from portal.extensions import db
from portal.models import RecoveryCode, User
from portal.models.types import utcnow

COUNT = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
GROUPS, GROUP_LENGTH = 3, 4
SHAPE = re.compile(rf"[{ALPHABET}]{{{GROUPS * GROUP_LENGTH}}}")


def _hash(user: User, code: str) -> str:
    return hashlib.sha256(user.uuid.bytes + code.encode()).hexdigest()


def normalize(code: str) -> str:
    """A typed code in lower case without spaces or dashes."""
    return re.sub(r"[\s-]", "", code or "").lower()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(raw[i:i + GROUP_LENGTH] for i in range(0, len(raw), GROUP_LENGTH))


def regenerate(user: User) -> list[str]:
    """Replace ``user``'s codes with ten new ones and return them (the only
    time they exist in the clear). The caller audits and commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(user, normalize(c)))
                       for c in codes)
    return codes


def remaining(user: User) -> int:
    """How many unused codes ``user`` has."""
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def use(user: User, code: str) -> bool:
    """True if ``code`` is one of ``user``'s unused codes; it is used up.
    The caller commits."""
    code = normalize(code)
    if not SHAPE.fullmatch(code):
        return False
    wanted = _hash(user, code)
    for row in db.session.scalars(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))):
        if hmac.compare_digest(row.code_hash, wanted):
            # The used_at condition makes a code good once even for two racing requests.
            return db.session.execute(
                update(RecoveryCode).where(RecoveryCode.id == row.id,
                                           RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow()).execution_options(synchronize_session=False)
            ).rowcount == 1
    return False


def remove_all(user: User) -> None:
    """Delete every code of ``user`` (their second factor was reset). The caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
