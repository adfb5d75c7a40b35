"""What every feature's access rules share. Each feature keeps its own rules
in its ``permissions.py`` (``portal.cases.permissions``,
``portal.evidence.permissions``): ``can_*`` predicates that name who may and
end in ``return False``, and ``get_*_or_404`` lookups.

Object-level denials answer 404, exactly like a missing object, so a guessed
UUID tells nothing. Function-level denials (a client on an admin page) answer
403: those pages are no secret.
"""
from __future__ import annotations

import uuid
from functools import wraps

from flask import abort
from flask_login import current_user

from portal import audit
from portal.extensions import db
from portal.models import Case, Role, User


def parse_uuid(value: str) -> uuid.UUID:
    """Return ``value`` as a UUID; aborts with 404 when it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        abort(404)


def roles_required(*roles: Role):
    """Decorator: the signed-in user must hold one of ``roles`` (else 403)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                audit.record("access.denied", actor=current_user, target=view.__name__)
                db.session.commit()
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def deny(user: User, case: Case | None, action: str, target: str | None, exists: bool) -> None:
    """404, audited whether or not the object exists: a guess at someone
    else's object and a guess at nothing cost the same work, so the answer's
    timing cannot tell them apart. ``exists`` is kept for the firm's eyes."""
    audit.record(action, actor=user, case=case, target=target, exists=exists)
    db.session.commit()
    abort(404)
