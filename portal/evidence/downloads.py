"""Serving a document version's file: streamed from the vault, decrypted and
SHA-256-checked on the way."""
from __future__ import annotations

from typing import Iterator

from flask_babel import lazy_gettext as _l

from portal import audit, vault
from portal.errors import ServiceError
from portal.evidence.permissions import may_download
from portal.extensions import db
from portal.models import Case, Document, DocumentVersion, User
from portal.scanning import services as scanning
from portal.vault import IntegrityFailure

__all__ = ["IntegrityFailure", "NotCleared", "open_download", "record_integrity_failure",
           "record_view"]


class NotCleared(ServiceError):
    """The scanner has not cleared the file (being checked, or quarantined)."""


def open_download(actor: User, case: Case, version: DocumentVersion) -> Iterator[bytes]:
    """Plaintext of ``version`` as chunks (see ``vault.open``: a missing or
    tampered object is reported before any byte is sent, a longer file that
    fails its SHA-256 breaks off before its last chunk). The download is
    audited once those first checks have passed.

    Raises ``NotCleared`` until the scanner clears it (its uploader may while
    it is being checked), ``ServiceError`` when the file is gone, ``StorageError`` when the
    store is down and ``IntegrityFailure`` when the object is not what was stored.
    """
    if not version.stored:
        raise ServiceError(_l("This file is no longer stored."))
    if not may_download(actor, version):
        if version.scan_state.quarantined:
            raise NotCleared(_l("This file is quarantined: %(why)s.",
                                why=scanning.quarantine_reason(version)))
        raise NotCleared(_l("This file is still being checked for viruses. Please try again "
                            "in a minute."))
    chunks = vault.open(version.stored_object)
    audit.record("document.downloaded", actor=actor, case=case, target=str(version.uuid))
    db.session.commit()
    return chunks


def record_integrity_failure(actor: User, case: Case, version: DocumentVersion) -> None:
    """Put a failed integrity check in the audit trail."""
    audit.record("document.integrity_failed", actor=actor, case=case, target=str(version.uuid))
    db.session.commit()


def record_view(actor: User, case: Case, document: Document) -> None:
    """Put the opening of a document's page (its files' names, sizes and
    uploaders) in the audit trail."""
    audit.record("document.viewed", actor=actor, case=case, target=str(document.uuid))
    db.session.commit()
