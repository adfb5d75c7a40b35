"""The tus 1.0 endpoints (core, creation, termination, checksum, expiration)
and the status the uploader polls once a file is in."""
from __future__ import annotations

from datetime import timezone
from email.utils import format_datetime

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.uploads import services, targets, tus

bp = Blueprint("uploads", __name__)


def _answer(status: int, text=None, upload=None) -> Response:
    """A tus response: plain text for the person (the uploader shows it),
    the protocol's headers, never cached."""
    response = Response(str(text) if text else "", status=status,
                        content_type="text/plain; charset=utf-8")
    response.headers["Tus-Resumable"] = tus.VERSION
    response.headers["Cache-Control"] = "no-store"
    if upload is not None:
        response.headers["Upload-Offset"] = str(upload.offset)
        response.headers["Upload-Length"] = str(upload.length)
        response.headers["Upload-Expires"] = format_datetime(
            upload.expires_at.astimezone(timezone.utc), usegmt=True)
    return response


@bp.errorhandler(tus.BadHeader)
def _bad_header(error: tus.BadHeader):
    return _answer(400, _("The upload could not be read: %(error)s", error=str(error)))


@bp.errorhandler(services.Refused)
def _refused(error: services.Refused):
    return _answer(error.status, error.message)


@bp.errorhandler(services.BrokenOff)
def _broken_off(error: services.BrokenOff):
    return _answer(400)  # nobody is listening any more


def _require_version() -> Response | None:
    if request.headers.get("Tus-Resumable") != tus.VERSION:
        response = _answer(412)
        response.headers["Tus-Version"] = tus.VERSION
        return response
    return None


@bp.route("/uploads", methods=["OPTIONS"], provide_automatic_options=False)
def describe():
    """What this server supports."""
    response = _answer(204)
    response.headers.update({"Tus-Version": tus.VERSION, "Tus-Extension": tus.EXTENSIONS,
                             "Tus-Checksum-Algorithm": tus.CHECKSUM_ALGORITHMS,
                             "Tus-Max-Size": str(current_app.config["UPLOAD_MAX_FILE_BYTES"])})
    return response


@bp.route("/uploads", methods=["POST"])
def create():
    """Start an upload to the target of the form its metadata names."""
    if (wrong := _require_version()) is not None:
        return wrong
    if "Upload-Length" not in request.headers:  # no deferred length: limits are checked now
        raise tus.BadHeader("Upload-Length is required")
    length = tus.offset(request.headers.get("Upload-Length"), "Upload-Length")
    meta = tus.metadata(request.headers.get("Upload-Metadata"))
    try:
        target = targets.resolve(current_user, meta.get("form", ""), meta.get("client_key", ""))
    except targets.NoTarget as error:
        return _answer(409 if error.message else 404, error.message)
    upload = services.create(current_user, target, meta.get("filename", ""), length)
    response = _answer(201, upload=upload)
    response.headers["Location"] = url_for("uploads.resume", upload_uuid=upload.uuid)
    return response


@bp.route("/uploads/<upload_uuid>", methods=["GET", "HEAD"])
def resume(upload_uuid: str):
    """HEAD: how far the upload got (tus). GET: where it stands, as JSON,
    for the page that waits for it to be saved."""
    upload = services.get_own_or_404(current_user, upload_uuid)
    if request.method == "HEAD":
        if (wrong := _require_version()) is not None:
            return wrong
        services.check_open(upload)
        return _answer(200, upload=upload)
    response = jsonify(services.status(upload))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/uploads/<upload_uuid>", methods=["PATCH"])
def receive(upload_uuid: str):
    """Store the body as the next piece of the upload."""
    upload = services.get_own_or_404(current_user, upload_uuid)
    if (wrong := _require_version()) is not None:
        return wrong
    if request.mimetype != tus.PATCH_TYPE:
        return _answer(415)
    offset = tus.offset(request.headers.get("Upload-Offset"))
    checksum = tus.checksum(request.headers.get("Upload-Checksum"))
    services.receive(current_user, upload, offset, request.stream, checksum)
    return _answer(204, upload=services.get_own_or_404(current_user, upload_uuid))


@bp.route("/uploads/<upload_uuid>", methods=["DELETE"])
def terminate(upload_uuid: str):
    """The client gives the upload up: its pieces are deleted."""
    upload = services.get_own_or_404(current_user, upload_uuid)
    if (wrong := _require_version()) is not None:
        return wrong
    services.terminate(upload)
    return _answer(204)
