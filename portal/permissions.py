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

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

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
                g.denial_recorded = True
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
    g.denial_recorded = True
    abort(404)


def record_denial(status: int) -> None:
    """Put a signed-in person's 403 or 404 from a page in the trail as
    ``access.denied`` with the path (and the case it names, if any), unless
    the check that refused already recorded it (``deny``, ``roles_required``).

    Addresses that match no page and public pages are left alone, so a 404
    costs anonymous visitors and scanners no extra work (the person is only
    looked at where ``require_login`` has loaded them already).
    """
    from portal.security import PUBLIC_ENDPOINTS  # security imports the auth feature

    if (request.url_rule is None or request.endpoint in PUBLIC_ENDPOINTS
            or g.get("denial_recorded") or not current_user.is_authenticated):
        return
    db.session.rollback()  # nothing the refused request left pending is kept
    audit.record("access.denied", actor=current_user, case=_case_in_path(),
                 target=request.path[:100], status=status, method=request.method,
                 endpoint=request.endpoint)
    db.session.commit()
    g.denial_recorded = True


def _case_in_path() -> Case | None:
    """The case the refused address names, so the case's own trail shows it."""
    try:
        wanted = uuid.UUID(str((request.view_args or {}).get("case_uuid")))
    except ValueError:
        return None
    return db.session.scalar(select(Case).where(Case.uuid == wanted))
