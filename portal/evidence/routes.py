"""Evidence pages: list, upload, versions, download, withdraw and purge."""
from __future__ import annotations

import uuid
from typing import Iterator

from babel.lists import format_list
from flask import (Blueprint, Response, abort, flash, g, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from portal.errors import ServiceError, render_error
from portal.evidence import downloads, multipart, services
from portal.evidence.files import ALLOWED_TYPES, EXTENSIONS, content_disposition
from portal.evidence.forms import PurgeForm, WithdrawForm
from portal.evidence.uploader import resumable_uploads
from portal.extensions import csrf
from portal.cases import sections
from portal.forms_common import distinct_ids, failed_form, keep_failed
from portal.cases.permissions import get_case_or_404
from portal.cases.sections import Section
from portal.evidence.permissions import (can_purge, can_withdraw, get_document_or_404,
                                         get_version_or_404, visible_documents, visible_versions)
from portal.storage import StorageError

bp = Blueprint("evidence", __name__)
bp.add_app_template_global(resumable_uploads, "resumable_uploads")
# The case page links to the documents (and, for those who may read it, the
# case's audit trail); the section needs nothing but the page's own facts.
sections.offer(bp, Section("documents", _l("Documents"), order=50, client_order=35,
                           template="evidence/_case_links.html",
                           context=lambda case, user, page: {}))


@bp.app_template_filter("type_label")
def type_label(content_type: str) -> str:
    """``application/pdf`` -> ``PDF``, for people."""
    return ALLOWED_TYPES.get(content_type, content_type)


def upload_form_context(case) -> dict:
    """What the upload form shows: limits, accepted types and a fresh
    submission id (a resubmitted form is stored once)."""
    return {"limits": services.limits(case), "submission_id": uuid.uuid4(),
            "types": list(dict.fromkeys(ALLOWED_TYPES.values())),
            "extensions": list(dict.fromkeys(f".{ext}" for spellings in EXTENSIONS.values()
                                             for ext in spellings))}


@bp.route("/cases/<case_uuid>/documents")
def list_documents(case_uuid: str):
    """The case's documents the user may see, and the upload form with its limits."""
    case = get_case_or_404(case_uuid, current_user)
    return render_template("evidence/documents.html", case=case,
                           documents=visible_documents(current_user, case),
                           **upload_form_context(case))


@bp.route("/cases/<case_uuid>/documents/<document_uuid>")
def show_document(case_uuid: str, document_uuid: str):
    """A document's versions, with replace, withdraw and (admins) purge."""
    case = get_case_or_404(case_uuid, current_user)
    return _document_page(case, get_document_or_404(case, document_uuid, current_user))


def _document_page(case, document):
    """The page of ``document``; also shown again by the purge route when
    its form has errors (``keep_failed``), the errors beside the reason."""
    versions = visible_versions(current_user, case, document)
    purging = can_purge(current_user)
    # One purge form per version, each with ids of its own.
    purge_forms = {v.uuid: distinct_ids(f"version-{v.uuid}", {
        "purge": PurgeForm(formdata=None)})["purge"] for v in versions} if purging else {}
    # The language switch of the page shown again from the purge route comes back here.
    g.page_path = url_for("evidence.show_document", case_uuid=case.uuid,
                          document_uuid=document.uuid)
    page = render_template("evidence/document.html", case=case, document=document,
                           versions=versions, can_withdraw=can_withdraw, can_purge=purging,
                           purge_forms=purge_forms, failed_form=failed_form(),
                           **upload_form_context(case))
    # Recorded once the page is made: the commit would expire what it reads.
    downloads.record_view(current_user, case, document)
    return page


@bp.route("/cases/<case_uuid>/documents", methods=["POST"])
@csrf.exempt  # checked from the streamed body: reading request.form would spool files to disk
def upload_documents(case_uuid: str):
    """Store each file of the form as a new document."""
    case = get_case_or_404(case_uuid, current_user)
    return receive_upload(case, None) or \
        redirect(url_for("evidence.list_documents", case_uuid=case.uuid), code=303)


@bp.route("/cases/<case_uuid>/documents/<document_uuid>/versions", methods=["POST"])
@csrf.exempt  # as above
def upload_version(case_uuid: str, document_uuid: str):
    """Store the file of the form as a new version of the document (replacing
    a wrong file keeps the old one)."""
    case = get_case_or_404(case_uuid, current_user)
    document = get_document_or_404(case, document_uuid, current_user)
    return receive_upload(case, document) or \
        redirect(url_for("evidence.show_document", case_uuid=case.uuid,
                         document_uuid=document.uuid), code=303)


UNREADABLE = _l("The upload could not be read to the end: it broke off or was damaged on the "
                "way. Any file not listed as uploaded was not saved; please try again.")


def read_streamed_form() -> tuple[dict[str, str], Iterator[multipart.FilePart]]:
    """The fields before the first file of the streamed multipart body and an
    iterator over its files, with the CSRF token checked before any file is
    read. Aborts with 400 when the body is no multipart form; raises
    ``multipart.BadBody`` when it turns out malformed."""
    boundary = request.mimetype_params.get("boundary", "").encode()
    if request.mimetype != "multipart/form-data" or not boundary:
        abort(400)
    fields, files = multipart.read_form(request.stream, boundary)
    try:
        validate_csrf(fields.get("csrf_token"))
    except ValidationError as error:
        raise CSRFError(str(error)) from error
    return fields, files


def receive_upload(case, document, document_request=None):
    """Store the streamed form's files (as versions of ``document``, or as
    answers to ``document_request``) and flash what became of each.
    Returns an error page when the body was no well-formed form, else None."""
    try:
        fields, files = read_streamed_form()
    except multipart.BadBody:
        return render_error(400, UNREADABLE)
    report = services.store_uploads(current_user, case, files,
                                    _uuid_or_none(fields.get("submission_id")), document,
                                    request=document_request)
    return report_upload(report)


def report_upload(report: services.UploadReport, files_required: bool = True):
    """Flash what became of each file of ``report``; return the error page
    for a body that broke off or was malformed, else None."""
    if files_required and not report.results and not report.over_limit \
            and report.broken is None:
        flash(_("Please choose at least one file."), "error")
    # Flashed messages show on the page that follows: the documents page, or
    # the error page when the body broke off.
    for result in report.results:
        if result.error:
            flash(_("%(name)s was not saved: %(reason)s", name=result.filename,
                    reason=result.error), "error")
        elif result.duplicate:
            flash(_("%(name)s was already received.", name=result.filename), "info")
        else:
            flash(_("%(name)s was uploaded.", name=result.filename), "success")
    if report.over_limit:
        flash(_over_limit_message(report), "error")
    if isinstance(report.broken, multipart.TooManyParts):
        return render_error(413, _("This upload has too many parts, so it was not read to the "
                                   "end. Any file not listed as uploaded was not saved."))
    if report.broken is not None:
        return render_error(400, UNREADABLE)
    return None


def _over_limit_message(report: services.UploadReport) -> str:
    names = format_list(report.over_limit_names, locale=get_locale())
    if report.over_limit <= len(report.over_limit_names):
        # Translators: %(names)s lists every file that was not saved.
        return ngettext("%(num)d more file was not saved, because one upload can carry at "
                        "most %(limit)d files: %(names)s. Please upload it again.",
                        "%(num)d more files were not saved, because one upload can carry at "
                        "most %(limit)d files: %(names)s. Please upload them again.",
                        report.over_limit, limit=services.MAX_FILES_PER_FORM, names=names)
    # Translators: %(names)s lists the first few of the files that were not saved.
    return ngettext("%(num)d more file was not saved, because one upload can carry at most "
                    "%(limit)d files. Among them: %(names)s. Please upload it again.",
                    "%(num)d more files were not saved, because one upload can carry at most "
                    "%(limit)d files. Among them: %(names)s. Please upload them again.",
                    report.over_limit, limit=services.MAX_FILES_PER_FORM, names=names)


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/download")
def download_version(case_uuid: str, version_uuid: str):
    """Stream the decrypted file as an attachment; never rendered inline."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    try:
        chunks = downloads.open_download(current_user, case, version)
    except downloads.NotCleared as error:
        return render_error(403, error.message)
    except ServiceError as error:
        return render_error(410, error.message)
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


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/withdraw", methods=["POST"])
def withdraw_version(case_uuid: str, version_uuid: str):
    """The uploader withdraws their own file; the firm keeps it."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    if not WithdrawForm().validate_on_submit():
        # Not from the confirmation's button: nothing is withdrawn without it.
        flash(_("Nothing was withdrawn. Open “Withdraw this file…” and confirm."), "error")
        return redirect(url_for("evidence.show_document", case_uuid=case.uuid,
                                document_uuid=version.document.uuid), code=303)
    try:
        services.withdraw(current_user, case, version)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("%(name)s was withdrawn.", name=version.filename), "success")
    return redirect(url_for("evidence.list_documents", case_uuid=case.uuid), code=303)


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/purge", methods=["POST"])
def purge_version(case_uuid: str, version_uuid: str):
    """Admins delete a stored file for good, with a reason."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    if not can_purge(current_user):
        abort(403)
    form = PurgeForm()
    if not form.validate_on_submit():
        keep_failed(f"version-{version.uuid}-purge", form)
        return _document_page(case, version.document)
    try:
        removed = services.purge(current_user, case, version, form.reason.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The file was purged.") if removed else
              _("The file was marked as purged; the document store will delete it at the "
                "next reconcile."), "success")
    return redirect(url_for("evidence.show_document", case_uuid=case.uuid,
                            document_uuid=version.document.uuid), code=303)
