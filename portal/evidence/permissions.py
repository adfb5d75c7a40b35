"""Who may see, withdraw and purge evidence. Documents and versions are
reached only through the case the user may open (``get_case_or_404``), then
``get_document_or_404`` / ``get_version_or_404`` here."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.cases.permissions import case_role
from portal.extensions import db
from portal.messages.permissions import may_see_message
from portal.models import (Case, Document, DocumentVersion, Message, MessageThread, PreviewState,
                           Role, ScanState, User, VersionStatus)
from portal.models.case import CaseRole
from portal.permissions import deny, parse_uuid


def can_see_version(user: User, case: Case, version: DocumentVersion) -> bool:
    """The firm sees every version, withdrawn and purged ones as records.
    Clients and sponsors see available versions only: a sponsor their own;
    the client theirs and the firm's, but not a sponsor's (tax returns, pay
    stubs and bank statements are the sponsor's and the firm's alone). A
    message's attachment is seen by whoever sees that message, and nobody else."""
    if user.is_firm:
        return True
    if version.status is not VersionStatus.AVAILABLE:
        return False
    message = version.document.message
    if message is not None:
        return may_see_message(user, case, message)
    if version.uploaded_by_id == user.id:
        return True
    if case_role(user, case) is CaseRole.CLIENT:
        return case_role(version.uploaded_by, case) is not CaseRole.SPONSOR
    return False


def may_download(user: User, version: DocumentVersion) -> bool:
    """Whether ``user`` (who may see ``version``) may download it: once the
    scanner cleared it; its uploader also while it is being checked (they
    sent it), but nobody a quarantined one."""
    if version.downloadable:
        return True
    return (version.stored and version.scan_state is ScanState.SCANNING
            and version.uploaded_by_id == user.id)


def may_preview(version: DocumentVersion) -> bool:
    """Previews are made only once the scanner cleared the version."""
    return version.downloadable and version.preview_state is PreviewState.READY


def visible_versions(user: User, case: Case, document: Document) -> list[DocumentVersion]:
    """The versions of ``document`` that ``user`` may see, oldest first."""
    return [v for v in document.versions if can_see_version(user, case, v)]


def visible_documents(user: User, case: Case) -> list[tuple[Document, list[DocumentVersion]]]:
    """Documents of ``case``, newest first, each with the versions ``user``
    may see; documents with none are left out."""
    documents = db.session.scalars(
        select(Document).where(Document.case_id == case.id)
        .options(selectinload(Document.versions).selectinload(DocumentVersion.uploaded_by),
                 # A sent file links to its message in its thread (joined: the sponsor
                 # of a sponsor's thread in the same statement).
                 selectinload(Document.message).selectinload(Message.thread)
                 .joinedload(MessageThread.sponsor))
        .order_by(Document.created_at.desc())).all()
    pairs = ((d, visible_versions(user, case, d)) for d in documents)
    return [(document, versions) for document, versions in pairs if versions]


def get_document_or_404(case: Case, document_uuid: str, user: User) -> Document:
    """A document of ``case`` that ``user`` may see; 404 otherwise (audited)."""
    wanted = parse_uuid(document_uuid)
    document = db.session.scalar(select(Document).where(Document.uuid == wanted,
                                                        Document.case_id == case.id))
    if document is None or not visible_versions(user, case, document):
        deny(user, case, "document.access_denied", str(wanted), document is not None)
    return document


def get_version_or_404(case: Case, version_uuid: str, user: User) -> DocumentVersion:
    """A version in ``case`` that ``user`` may see; 404 otherwise (audited)."""
    wanted = parse_uuid(version_uuid)
    version = db.session.scalar(select(DocumentVersion).join(Document).where(
        DocumentVersion.uuid == wanted, Document.case_id == case.id))
    if version is None or not can_see_version(user, case, version):
        deny(user, case, "version.access_denied", str(wanted), version is not None)
    return version


def can_withdraw(user: User, version: DocumentVersion) -> bool:
    """Only the person who uploaded a version may withdraw it, while it is available."""
    return version.uploaded_by_id == user.id and version.status is VersionStatus.AVAILABLE


def can_purge(user: User) -> bool:
    """Purging deletes the stored file for good: admins only."""
    return user.role is Role.ADMIN
