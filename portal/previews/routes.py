"""Previews: a version's pages as PNG pixels, in a viewer that runs nothing."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_login import current_user

from portal import audit, vault
from portal.cases.permissions import get_case_or_404
from portal.errors import render_error
from portal.evidence.permissions import get_version_or_404, may_preview
from portal.extensions import db
from portal.previews import services
from portal.storage import StorageError
from portal.vault import IntegrityFailure

bp = Blueprint("previews", __name__)
bp.add_app_template_global(services.note, "preview_note")
bp.add_app_template_global(services.PREVIEWABLE, "previewable")
# Pixels and styles from here, nothing else: no script, plugin, form or frame.
VIEWER_CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")


def _previewable(case_uuid: str, version_uuid: str):
    """The case and a version the user may see whose previews are ready; 404
    otherwise, as for any hidden object."""
    case = get_case_or_404(case_uuid, current_user)
    version = get_version_or_404(case, version_uuid, current_user)
    if not may_preview(version):
        audit.record("preview.access_denied", actor=current_user, case=case,
                     target=str(version.uuid))
        db.session.commit()
        return case, None
    return case, version


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/preview")
def show_preview(case_uuid: str, version_uuid: str):
    """The viewer: every preview page of a version, as images."""
    case, version = _previewable(case_uuid, version_uuid)
    if version is None:
        return render_error(404)
    audit.record("document.previewed", actor=current_user, case=case, target=str(version.uuid))
    page = render_template("previews/viewer.html", case=case, version=version,
                           document=version.document, pages=version.previews)
    db.session.commit()
    response = Response(page)
    response.headers["Content-Security-Policy"] = VIEWER_CSP
    return response


@bp.route("/cases/<case_uuid>/versions/<version_uuid>/preview/<int:page>.png")
def preview_page(case_uuid: str, version_uuid: str, page: int):
    """One page's PNG, decrypted from the vault; never anything but an image."""
    case, version = _previewable(case_uuid, version_uuid)
    found = [p for p in version.previews if p.page == page] if version is not None else []
    if not found:
        return render_error(404)
    try:
        body = b"".join(vault.open(found[0].stored_object))
    except StorageError:
        return render_error(503, _("The document store is not answering right now. Please "
                                   "try again in a few minutes."))
    except IntegrityFailure:
        return render_error(500, _("This preview could not be verified, so it was not shown."))
    response = Response(body, mimetype="image/png")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
