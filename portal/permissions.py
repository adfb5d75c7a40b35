"""Who may see or do what. Routes reach cases only through this module.

Object-level denials answer 404, exactly like a missing object, so a guessed
UUID tells nothing. Function-level denials (a client on an admin page) answer
403: those pages are no secret.
"""
from __future__ import annotations

import uuid
from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.extensions import db
from portal.models import (Case, CaseMembership, Document, DocumentVersion, Role, User,
                           VersionStatus)
from portal.models.case import CaseRole


def visible_cases(user: User) -> Select:
    """A query of every case ``user`` may open.

    Admins and staff see all cases; attorneys the cases assigned to them or
    that they were added to; clients and sponsors the cases they belong to.
    """
    query = select(Case)
    if user.role in (Role.ADMIN, Role.STAFF):
        return query
    member_of = select(CaseMembership.case_id).where(CaseMembership.user_id == user.id)
    if user.role is Role.ATTORNEY:
        return query.where(or_(Case.assigned_attorney_id == user.id, Case.id.in_(member_of)))
    return query.where(Case.id.in_(member_of))


def parse_uuid(value: str) -> uuid.UUID:
    """Return ``value`` as a UUID; aborts with 404 when it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        abort(404)


def get_case_or_404(case_uuid: str | uuid.UUID, user: User) -> Case:
    """Return the case ``case_uuid`` if ``user`` may open it.

    Raises 404 when the case is missing *or* not the user's; both are
    recorded in the audit trail.
    """
    wanted = parse_uuid(case_uuid)
    case = db.session.scalar(visible_cases(user).where(Case.uuid == wanted))
    if case is None:
        hidden = db.session.scalar(select(Case).where(Case.uuid == wanted))
        _deny(user, hidden, "case.access_denied", str(wanted), hidden is not None)
    return case


def case_role(user: User, case: Case) -> CaseRole | None:
    """The role ``user`` holds in ``case``, or None when not a member."""
    for membership in case.memberships:
        if membership.user_id == user.id:
            return membership.role
    return None


def can_manage_case(user: User, case: Case) -> bool:
    """True if ``user`` may run the case: invite people, and later request
    documents and move the stage. Admins, staff, the assigned attorney and
    attorneys added to the case."""
    if user.role in (Role.ADMIN, Role.STAFF):
        return True
    if user.role is Role.ATTORNEY:
        return case.assigned_attorney_id == user.id or case_role(user, case) is not None
    return False


def can_see_timeline(user: User, case: Case) -> bool:
    """The timeline tells the client's story; a sponsor sees only the stage."""
    return user.is_firm or case_role(user, case) is CaseRole.CLIENT


def visible_members(user: User, case: Case) -> list[CaseMembership]:
    """The people of ``case`` that ``user`` may see listed: everyone for the
    firm and the client; a sponsor sees the firm's people and themselves."""
    if can_see_timeline(user, case):
        return list(case.memberships)
    return [m for m in case.memberships if m.user_id == user.id or m.user.is_firm]


def can_see_internal_notes(user: User) -> bool:
    """Internal notes are for the firm only, never clients or sponsors."""
    return user.is_firm


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


# --- evidence ----------------------------------------------------------------

def can_see_version(user: User, case: Case, version: DocumentVersion) -> bool:
    """The firm sees every version, withdrawn and purged ones as records; the
    client sees the case's available versions; a sponsor only their own."""
    if user.is_firm:
        return True
    if version.status is not VersionStatus.AVAILABLE:
        return False
    if case_role(user, case) is CaseRole.SPONSOR:
        return version.uploaded_by_id == user.id
    return True


def visible_versions(user: User, case: Case, document: Document) -> list[DocumentVersion]:
    """The versions of ``document`` that ``user`` may see, oldest first."""
    return [v for v in document.versions if can_see_version(user, case, v)]


def visible_documents(user: User, case: Case) -> list[tuple[Document, list[DocumentVersion]]]:
    """Documents of ``case``, newest first, each with the versions ``user``
    may see; documents with none are left out."""
    documents = db.session.scalars(
        select(Document).where(Document.case_id == case.id)
        .options(selectinload(Document.versions)).order_by(Document.created_at.desc())).all()
    pairs = ((d, visible_versions(user, case, d)) for d in documents)
    return [(document, versions) for document, versions in pairs if versions]


def get_document_or_404(case: Case, document_uuid: str, user: User) -> Document:
    """A document of ``case`` that ``user`` may see; 404 otherwise (audited)."""
    wanted = parse_uuid(document_uuid)
    document = db.session.scalar(select(Document).where(Document.uuid == wanted,
                                                        Document.case_id == case.id))
    if document is None or not visible_versions(user, case, document):
        _deny(user, case, "document.access_denied", str(wanted), document is not None)
    return document


def get_version_or_404(case: Case, version_uuid: str, user: User) -> DocumentVersion:
    """A version in ``case`` that ``user`` may see; 404 otherwise (audited)."""
    wanted = parse_uuid(version_uuid)
    version = db.session.scalar(select(DocumentVersion).join(Document).where(
        DocumentVersion.uuid == wanted, Document.case_id == case.id))
    if version is None or not can_see_version(user, case, version):
        _deny(user, case, "version.access_denied", str(wanted), version is not None)
    return version


def _deny(user: User, case: Case | None, action: str, target: str | None, exists: bool) -> None:
    """404, audited whether or not the object exists: a guess at someone
    else's object and a guess at nothing cost the same work, so the answer's
    timing cannot tell them apart. ``exists`` is kept for the firm's eyes."""
    audit.record(action, actor=user, case=case, target=target, exists=exists)
    db.session.commit()
    abort(404)


def can_withdraw(user: User, version: DocumentVersion) -> bool:
    """Only the person who uploaded a version may withdraw it, while it is available."""
    return version.uploaded_by_id == user.id and version.status is VersionStatus.AVAILABLE


def can_purge(user: User) -> bool:
    """Purging deletes the stored file for good: admins only."""
    return user.role is Role.ADMIN
