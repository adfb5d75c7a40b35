"""Scanning on the pages: a version's state for the page that waits on it,
and the firm's actions on a quarantined file."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.cases.permissions import get_case_or_404
from portal.errors import ServiceError
from portal.evidence.forms import ReleaseForm
from portal.evidence.permissions import get_version_or_404, may_download
from portal.requests.permissions import can_review
from portal.scanning import services

bp = Blueprint("scanning", __name__)
bp.add_app_template_global(services.label, "scan_label")
bp.add_app_template_global(may_download, "may_download")


def _back(case, version):
    return redirect(url_for("evidence.show_document", case_uuid=case.uuid,
                            document_uuid=version.document.uuid), code=303)


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/scan")
def scan_state(case_uuid: str, version_uuid: str):
    """Where the check of a version stands, for the page showing it (it asks
    again while the file is being checked)."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    return jsonify(state=version.scan_state.value, label=services.label(version),
                   downloadable=may_download(current_user, version))


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/ask-again", methods=["POST"])
def ask_for_new_upload(case_uuid: str, version_uuid: str):
    """The firm asks the uploader of a quarantined file for a new one."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    try:
        services.ask_for_new_upload(current_user, case, version)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("%(name)s was asked for a new copy.", name=version.uploaded_by.name), "success")
    return _back(case, version)


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/release", methods=["POST"])
def release(case_uuid: str, version_uuid: str):
    """An admin opens a file the scanner could not check, saying why."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    if not services.can_release(current_user):
        abort(403)
    form = ReleaseForm()
    if not form.validate_on_submit():
        flash(_("Please give the reason for releasing this file."), "error")
        return _back(case, version)
    try:
        services.release(current_user, case, version, form.reason.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("%(name)s was released.", name=version.filename), "success")
    return _back(case, version)


@bp.app_context_processor
def scanning_banner() -> dict:
    """Why the firm's pages warn about scanning (off, or failing): a callable,
    so its query runs only where base.html shows the banner."""
    return {"scanning_trouble": lambda: services.trouble(current_app.config)}
