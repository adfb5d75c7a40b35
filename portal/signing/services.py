"""Signature rules: the firm asks a person to sign a PDF of the case; the
person reads it, confirms who they are, consents to sign electronically and
types their name; the portal adds a signature page and seals the whole with
the firm's certificate (``portal.signing.seal``), and stores the sealed copy
as a new version of the document. Or the person declines, with a reason.

What makes the signature hold (ESIGN Act, UETA): intent (the typed name and
the button), consent to electronic records (the ticked consent, whose
words go on the signature page), attribution (the person's own account,
their password and second factor again at the moment of signing, their
address and browser on the page and in the audit trail), and a copy they
keep (the sealed copy is theirs to download). The SHA-256 of the original
when it was sent is kept on the request: a document changed since, in the
store or on the page the person read, is not signed.

A form USCIS wants signed by hand is asked as an ordinary document request
("print, sign and upload the signed pages") that names the document.
"""
from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import date
from pathlib import PurePath

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import audit, notify, vault
from portal.auth import factors, passwords
from portal.cases.permissions import case_role
from portal.errors import ServiceError
from portal.evidence import services as evidence
from portal.extensions import db
from portal.i18n import today_for
from portal.models import (Case, DocumentRequest, DocumentVersion, Purpose, RequestState, User,
                           VersionStatus)
from portal.models.case import CaseRole
from portal.models.request import DOCUMENT, SIGNATURE
from portal.models.types import utcnow
from portal.requests import services as requests
from portal.requests.permissions import can_review
from portal.signing import seal

# Larger letters and forms are asked to be printed and signed by hand.
MOST_BYTES = 25 * 1024 * 1024
# Translators: the consent a person ticks before signing; it is printed on the signature page.
CONSENT = _l("I agree to sign this document electronically and to receive it electronically. "
             "My typed name is my signature and has the same effect as my handwritten one. "
             "I can ask the firm for a paper copy instead, and I can download and keep a copy "
             "of the signed document.")


class AlreadySigned(ServiceError):
    """The request was signed or declined already (perhaps in another tab)."""


class DocumentChanged(ServiceError):
    """The document is not the one sent for signing: refused, nothing signed."""


def can_sign(user: User, request: DocumentRequest) -> bool:
    """Only the person asked signs: a signature is their own act (a
    relative may upload for the client, but not sign for them)."""
    return request.kind == SIGNATURE and request.addressee_id == user.id


def sign_version(request: DocumentRequest) -> DocumentVersion | None:
    """The version a signature or print-and-sign request is about."""
    return request.sign_version


def signable(version: DocumentVersion) -> bool:
    """Whether ``version`` may be sent for signing in the portal: an
    available, cleared PDF small enough to seal in a request."""
    return (version.status is VersionStatus.AVAILABLE and version.downloadable
            and version.content_type == "application/pdf" and version.size <= MOST_BYTES)


def signed_copies(case: Case) -> set[int]:
    """The ids of the case's sealed copies (one query)."""
    return set(db.session.scalars(select(DocumentRequest.signed_version_id).where(
        DocumentRequest.case_id == case.id, DocumentRequest.signed_version_id.is_not(None))))


def is_signed_copy(version: DocumentVersion) -> bool:
    """Whether ``version`` is a sealed copy (it cannot be sealed again)."""
    return db.session.scalar(select(DocumentRequest.id).where(
        DocumentRequest.signed_version_id == version.id).limit(1)) is not None


def ask(actor: User, case: Case, person: User, version: DocumentVersion, title: str,
        due_on: date | None, by_hand: bool = False) -> DocumentRequest:
    """Ask ``person`` to sign ``version`` in the portal, or (``by_hand``) to
    print it, sign it and upload the signed pages. Raises ``ServiceError``
    (nothing saved) when ``actor`` is not on the attorney team, the person
    is not the client or a sponsor, the document is not a signable PDF of
    this case, or the due date is past."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if case_role(person, case) not in (CaseRole.CLIENT, CaseRole.SPONSOR):
        raise ServiceError(_l("A request goes to the client or a sponsor of this case."))
    if version.document.case_id != case.id or not signable(version):
        raise ServiceError(_l("Only a PDF of this case that passed the virus check can be "
                              "sent for signing."))
    if is_signed_copy(version):
        raise ServiceError(_l("This is a signed copy, sealed against change. Send the "
                              "original document for another signature."))
    if due_on is not None and due_on < today_for(actor):
        raise ServiceError(_l("The due date is in the past. Please choose a later date."))
    title = title.strip() or PurePath(version.filename).stem
    request = DocumentRequest(case=case, addressee=person, title=title[:200], due_on=due_on,
                              required=True, created_by=actor, state=RequestState.REQUESTED,
                              sign_version=version, sign_sha256=version.sha256)
    if by_hand:
        with force_locale(person.language):
            request.instructions = _("Print the document, sign it by hand where it asks for "
                                     "your signature, and upload a photo or scan of every "
                                     "signed page.")
        request.kind = DOCUMENT
    else:
        request.kind = SIGNATURE
    db.session.add(request)
    db.session.flush()
    audit.record("signature.asked", actor=actor, case=case, target=str(request.uuid),
                 version=str(version.uuid), sha256=version.sha256, by_hand=by_hand,
                 addressee=str(person.uuid))
    # Translators: a timeline entry; %(title)s is the document's title.
    requests.record_event(actor, case, request, "signature.asked",
                          lambda: _("Your attorney asked you to sign %(title)s.", title=title),
                          f"Signature asked of {person.name}"
                          f" ({'by hand' if by_hand else 'in the portal'}).")
    notify.queue_request_new(person.email, person.language, requests.case_link(case))
    db.session.commit()
    return request


def _same_name(typed: str, name: str) -> bool:
    """Whether the typed name is the account's name, whatever the case,
    accents' encoding or spacing."""
    def tidy(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return bool(typed.strip()) and tidy(typed) == tidy(name)


def _has_app(user: User) -> bool:
    return user.totp_secret_sealed is not None


def _confirm_identity(user: User, session_token: str | None, password: str, code: str) -> None:
    """The password again, and the second factor where the person has an
    authenticator app (a person with passkeys only confirms with one on the
    confirmation page just before: ``needs_passkey_confirmation``)."""
    if _has_app(user) or not factors.has_second_factor(user):
        factors.confirm(user, session_token, password, code)
        return
    if not passwords.verify_password(user.password_hash, password):
        audit.record("auth.reauthentication_failed", actor=user, reason="password")
        db.session.commit()
        raise factors.WrongCredentials(_l("The password or code is not correct."))
    if not factors.recently_confirmed(session_token):
        raise factors.WrongCredentials(_l("Please confirm it's you with your passkey, then "
                                          "sign."))


def needs_passkey_confirmation(user: User) -> bool:
    """Whether the person confirms with a passkey (no authenticator app)."""
    return not _has_app(user) and factors.has_second_factor(user)


def sign(actor: User, case: Case, request: DocumentRequest, *, typed_name: str, consent: bool,
         seen_sha256: str, password: str, code: str, session_token: str | None,
         address: str | None, user_agent: str) -> DocumentVersion:
    """Sign ``request`` as ``actor``: see the module docstring. Returns the
    sealed copy's version. Raises ``ServiceError`` (nothing signed) for a
    missing consent or a name that is not the account's, ``WrongCredentials``
    for a wrong password or code, ``AlreadySigned`` when it is no longer
    waiting for a signature, ``DocumentChanged`` when the document differs
    from the one sent (or the one the page showed), ``StorageError`` when the
    store is down (the request waits again)."""
    if not can_sign(actor, request):
        raise ServiceError(_l("This document is for someone else to sign."))
    if request.state is not RequestState.REQUESTED:
        raise AlreadySigned(_l("This document was already signed or declined."))
    if not consent:
        raise ServiceError(_l("Please tick the box to agree to sign electronically."))
    if not _same_name(typed_name, actor.name):
        raise ServiceError(_l("Please type your full name exactly as it is on your account: "
                              "%(name)s.", name=actor.name))
    _confirm_identity(actor, session_token, password, code)
    original = request.sign_version
    if seen_sha256 != request.sign_sha256 or original.sha256 != request.sign_sha256:
        _refuse_changed(actor, case, request)
    try:
        content = b"".join(vault.open(original.stored_object))
    except vault.IntegrityFailure:  # altered in the store
        _refuse_changed(actor, case, request)
    if hashlib.sha256(content).hexdigest() != request.sign_sha256:
        _refuse_changed(actor, case, request)
    _claim(request)
    try:
        version = _seal_and_store(actor, case, request, original, content, typed_name.strip(),
                                  address, user_agent)
    except BaseException:
        db.session.rollback()
        _release(request)
        raise
    request.state, request.decided_by, request.decided_at = RequestState.ACCEPTED, actor, utcnow()
    request.signed_version = version
    version.request_id = request.id
    audit.record("signature.signed", actor=actor, case=case, target=str(request.uuid),
                 ip_address=address, original_sha256=request.sign_sha256,
                 signed_version=str(version.uuid), signed_sha256=version.sha256)
    title = request.display_title
    # Translators: a timeline entry; %(title)s is the document's title.
    requests.record_event(actor, case, request, "signature.signed",
                          lambda: _("%(title)s was signed.", title=title))
    for member in requests.attorney_team(case):
        notify.queue_request_submitted(member.email, member.language, requests.case_link(case))
    db.session.commit()
    return version


def _refuse_changed(actor: User, case: Case, request: DocumentRequest) -> None:
    audit.record("signature.document_changed", actor=actor, case=case, target=str(request.uuid))
    db.session.commit()
    raise DocumentChanged(_l("This document changed after it was sent for signing, so it "
                             "cannot be signed. Your attorney has been told; please wait for "
                             "a new request."))


def _claim(request: DocumentRequest) -> None:
    """Take the request for this signature (committed): of two signatures
    at once, one claims it and the other is refused."""
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request.id, DocumentRequest.state == RequestState.REQUESTED)
        .values(state=RequestState.SUBMITTED)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if moved != 1:
        raise AlreadySigned(_l("This document was already signed or declined."))


def _release(request: DocumentRequest) -> None:
    """Give the request back when the signed copy could not be stored."""
    db.session.execute(update(DocumentRequest)
                       .where(DocumentRequest.id == request.id,
                              DocumentRequest.state == RequestState.SUBMITTED)
                       .values(state=RequestState.REQUESTED)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _labels() -> dict[str, str]:
    """The signature page's words, in the current language."""
    return {
        "heading": _("Electronic signature"),
        "signer": _("Signed by"),
        "signed_at": _("Signed at"),
        "address": _("Internet address"),
        "browser": _("Browser"),
        "sha256": _("SHA-256 of the document as sent for signing"),
        "request": _("Signature request"),
        "document": _("Document"),
        "consent": _("Consent to sign electronically"),
        "footer": _("This page was added by the firm's client portal when the document was "
                    "signed. The firm's digital seal on this file shows in a PDF reader whether "
                    "anything changed after signing."),
    }


def _seal_and_store(actor: User, case: Case, request: DocumentRequest,
                    original: DocumentVersion, content: bytes, name: str,
                    address: str | None, user_agent: str) -> DocumentVersion:
    """The original with its signature page, sealed, stored as the next
    version of the same document."""
    with force_locale(actor.language):
        details = seal.SignatureDetails(
            signer_name=name, signed_at=utcnow(), ip_address=address or "",
            user_agent=user_agent[:500], original_sha256=request.sign_sha256,
            request_id=str(request.uuid), document_title=request.display_title,
            consent_text=str(CONSENT), labels=_labels())
        signed = seal.seal(seal.with_signature_page(content, details), seal_key(),
                           reason=_("Signed by %(name)s", name=name))
    room = evidence.limits(case).remaining
    if len(signed) > room:
        raise ServiceError(evidence.no_room(room))
    stored = vault.put([signed], case=case, stored_by=actor, purpose=Purpose.DOCUMENT_VERSION,
                       content_type="application/pdf", max_size=len(signed), room=room)
    result = evidence.record_stored(actor, case, stored,
                                    filename=f"{PurePath(original.filename).stem}-signed.pdf",
                                    submission_id=uuid.uuid4(), document=original.document,
                                    address=address)
    if result.error:
        raise ServiceError(result.error)
    return result.version


def decline(actor: User, case: Case, request: DocumentRequest, reason: str) -> None:
    """The person declines to sign, saying why (the firm reads it)."""
    if not can_sign(actor, request):
        raise ServiceError(_l("This document is for someone else to sign."))
    if not reason.strip():
        raise ServiceError(_l("Please say why you do not sign: your attorney will read it."))
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request.id, DocumentRequest.state == RequestState.REQUESTED)
        .values(state=RequestState.DECLINED, rejection_reason=reason.strip(),
                decided_by_id=actor.id, decided_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        raise AlreadySigned(_l("This document was already signed or declined."))
    audit.record("signature.declined", actor=actor, case=case, target=str(request.uuid))
    title = request.display_title
    requests.record_event(actor, case, request, "signature.declined",
                          lambda: _("You declined to sign %(title)s.", title=title),
                          f"Reason: {reason.strip()}")
    for member in requests.attorney_team(case):
        notify.queue_request_submitted(member.email, member.language, requests.case_link(case))
    db.session.commit()
    db.session.refresh(request)


def seal_key() -> seal.SealKey:
    """The firm's seal, loaded once per process from the configured files."""
    key = current_app.extensions.get("seal_key")
    if key is None:
        key = seal.load_seal_key(current_app.config["SIGNING_CERT"],
                                 current_app.config["SIGNING_KEY"])
        current_app.extensions["seal_key"] = key
    return key
