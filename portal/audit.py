"""The audit trail: ``record()`` adds an entry to the caller's transaction.

Services call it before their single commit, so the entry and the change it
describes land together or not at all.
"""
from __future__ import annotations

from flask import has_request_context, request

from portal.extensions import db
from portal.models import AuditEvent, Case, User


def record(action: str, *, actor: User | None = None, case: Case | None = None,
           target: str | None = None, **details) -> AuditEvent:
    """Add an audit entry for ``action`` (``noun.verb``) to the session.

    ``details`` must never hold a password, token or document content.
    """
    actor_id = actor.id if actor is not None and getattr(actor, "id", None) else None
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        case_id=case.id if case is not None else None,
        target=target,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details,
    )
    db.session.add(event)
    return event
