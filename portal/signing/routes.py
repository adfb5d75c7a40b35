"""Signature pages: the firm's section of the case page with its request
form, the page where the person reads and signs (or declines), and the
document and its preview pages as that person may open them."""
from __future__ import annotations

from collections.abc import Mapping

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal import vault
from portal.auth import factors, sessions
from portal.cases import sections
from portal.cases.changes import distinct_ids, show_again
from portal.cases.permissions import get_case_or_404
from portal.cases.sections import Section
from portal.errors import ServiceError, render_error
from portal.evidence import downloads
from portal.evidence.files import content_disposition
from portal.extensions import db
from portal.models import Case, Document, DocumentRequest, DocumentVersion, User
from portal.models.case import CaseRole
from portal.permissions import deny, parse_uuid
from portal.requests import services as requests
from portal.requests.permissions import can_review, get_request_or_404
from portal.signing import services
from portal.signing.forms import BY_HAND, AskForm, DeclineForm, SignForm
from portal.storage import StorageError

bp = Blueprint("signing", __name__)


def _people(case: Case) -> list[tuple[str, str]]:
    return [(str(m.user.uuid), m.user.name) for m in case.memberships
            if m.role in (CaseRole.CLIENT, CaseRole.SPONSOR)]


def _documents(case: Case) -> list[tuple[str, str]]:
    """The newest version of each document of the case that can be signed
    (two queries, however many documents)."""
    documents = db.session.scalars(db.select(Document).where(Document.case_id == case.id,
                                                             Document.message_id.is_(None))
                                   .options(selectinload(Document.versions))
                                   .order_by(Document.created_at.desc())).all()
    # A signed copy cannot be sealed again: its document offers its original.
    copies = services.signed_copies(case)
    newest = [next((v for v in reversed(d.versions) if v.id not in copies), None)
              for d in documents]
    return [(str(v.uuid), v.filename) for v in newest if v is not None and services.signable(v)]


def firm_section(case: Case, user: User, page: Mapping) -> dict | None:
    """The attorney team's signatures section: what was sent for signing
    (in the portal, or by hand), its state and signed copy, and the form to
    ask for another. None for anyone else."""
    if not can_review(user, case):
        return None
    form = AskForm(formdata=None)
    form.person.choices = _people(case)
    form.document.choices = _documents(case)
    # Each with its document and signed copy in the same few queries, however many.
    asked = db.session.scalars(
        db.select(DocumentRequest)
        .where(DocumentRequest.case_id == case.id, DocumentRequest.sign_version_id.is_not(None))
        .options(selectinload(DocumentRequest.addressee),
                 selectinload(DocumentRequest.sign_version),
                 selectinload(DocumentRequest.signed_version))
        .order_by(DocumentRequest.created_at, DocumentRequest.id)).all()
    return {"signature_requests": asked,
            "signature_form": distinct_ids("signature", {"ask": form})["ask"]}


sections.offer(bp, Section("signatures", _l("Signatures"), order=24,
                           template="signing/_firm_section.html", context=firm_section))


def _back(case: Case):
    return redirect(url_for("cases.show_case", case_uuid=case.uuid), code=303)


@bp.route("/cases/<case_uuid>/signatures", methods=["POST"])
def ask(case_uuid: str):
    """The attorney team asks a person to sign a document."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    form = AskForm()
    form.person.choices = _people(case)
    form.document.choices = _documents(case)
    if not form.validate_on_submit():
        return show_again(case, "signature-ask", form)
    person = next(m.user for m in case.memberships if str(m.user.uuid) == form.person.data)
    version = db.session.scalar(db.select(DocumentVersion).where(
        DocumentVersion.uuid == parse_uuid(form.document.data)))
    try:
        services.ask(current_user, case, person, version, form.title.data or "",
                     form.due_on.data, by_hand=form.how.data == BY_HAND)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The request was sent to %(name)s.", name=person.name), "success")
    return _back(case)


def _own_request(case_uuid: str, request_uuid: str) -> tuple[Case, DocumentRequest]:
    """The case and a signature request of it addressed to the signed-in
    person; 404 for anyone else (the firm reads it on the case page)."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_request_or_404(case, request_uuid, current_user)
    if not services.can_sign(current_user, req):
        deny(current_user, case, "signature.access_denied", str(req.uuid), True)
    return case, req


@bp.route("/cases/<case_uuid>/signatures/<request_uuid>", methods=["GET", "POST"])
def sign(case_uuid: str, request_uuid: str):
    """Read the document, then sign it (consent, typed name, password and
    code again); once signed, the sealed copy to download."""
    case, req = _own_request(case_uuid, request_uuid)
    form, decline_form = SignForm(), DeclineForm(formdata=None)
    status = 200
    if request.method == "POST" and req.state.value == "requested":
        if form.validate_on_submit():
            try:
                services.sign(current_user, case, req, typed_name=form.typed_name.data,
                              consent=form.consent.data, seen_sha256=form.sha256.data or "",
                              password=form.password.data, code=form.code.data or "",
                              session_token=session.get(sessions.SESSION_KEY),
                              address=request.remote_addr,
                              user_agent=request.headers.get("User-Agent", ""))
            except factors.WrongCredentials as wrong:
                form.password.errors.append(wrong.message)
            except StorageError:
                return render_error(503, _("The document store is not answering right now. "
                                           "Nothing was signed; please try again in a few "
                                           "minutes."))
            except ServiceError as error:
                flash(error.message, "error")
                return redirect(url_for(".sign", case_uuid=case.uuid, request_uuid=req.uuid),
                                code=303)
            else:
                flash(_("Thank you. The document is signed; you can download your copy below."),
                      "success")
                return redirect(url_for(".sign", case_uuid=case.uuid, request_uuid=req.uuid),
                                code=303)
        status = 400
    form.sha256.data = req.sign_sha256
    form.password.data = ""
    original = req.sign_version
    return render_template(
        "signing/sign.html", case=case, req=req, form=form, decline_form=decline_form,
        original=original, pages=original.previews if original.preview_state.value == "ready"
        else [], consent=services.CONSENT, request_label=requests.state_label,
        has_app=current_user.totp_secret_sealed is not None,
        passkey_only=services.needs_passkey_confirmation(current_user),
        confirmed=factors.recently_confirmed(session.get(sessions.SESSION_KEY))), status


@bp.route("/cases/<case_uuid>/signatures/<request_uuid>/decline", methods=["POST"])
def decline(case_uuid: str, request_uuid: str):
    """The person declines to sign, with a reason."""
    case, req = _own_request(case_uuid, request_uuid)
    form = DeclineForm()
    if not form.validate_on_submit():
        flash(_("Please say why you do not sign: your attorney will read it."), "error")
        return redirect(url_for(".sign", case_uuid=case.uuid, request_uuid=req.uuid), code=303)
    try:
        services.decline(current_user, case, req, form.reason.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("You declined to sign. Your attorney has been told."), "success")
    return _back(case)


@bp.route("/cases/<case_uuid>/signatures/<request_uuid>/document")
def original(case_uuid: str, request_uuid: str):
    """The document to sign, as its signer may download it (a sponsor does
    not otherwise see the firm's files)."""
    case, req = _own_request(case_uuid, request_uuid)
    version = req.sign_version
    try:
        chunks = downloads.open_download(current_user, case, version)
    except ServiceError as error:
        return render_error(403, error.message)
    except StorageError:
        return render_error(503, _("The document store is not answering right now. Please "
                                   "try again in a few minutes."))
    except downloads.IntegrityFailure:
        downloads.record_integrity_failure(current_user, case, version)
        return render_error(500, _("This file could not be verified, so it was not sent. "
                                   "The firm has been told."))
    response = Response(chunks, mimetype=version.content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(version.size)
    response.headers["Content-Disposition"] = content_disposition(version.filename,
                                                                  version.content_type)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.route("/cases/<case_uuid>/signatures/<request_uuid>/pages/<int:page>.png")
def page_image(case_uuid: str, request_uuid: str, page: int):
    """One preview page of the document to sign (PNG pixels only)."""
    case, req = _own_request(case_uuid, request_uuid)
    version = req.sign_version
    found = [p for p in version.previews if p.page == page] if version.downloadable else []
    if not found:
        return render_error(404)
    try:
        body = b"".join(vault.open(found[0].stored_object))
    except StorageError:
        return render_error(503, _("The document store is not answering right now. Please "
                                   "try again in a few minutes."))
    except vault.IntegrityFailure:
        return render_error(500, _("This preview could not be verified, so it was not shown."))
    response = Response(body, mimetype="image/png")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response

