"""The audit trail's pages: the whole trail for admins (and its CSV
export), a case's trail for the attorneys who run the case."""
from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_login import current_user

from portal.audit_trail import services
from portal.audit_trail.permissions import can_see_case_trail
from portal.cases.permissions import get_case_or_404
from portal.models import Role, User
from portal.models.types import utcnow
from portal.permissions import roles_required

bp = Blueprint("audit_trail", __name__)
# The case page shows its link to those who may follow it.
bp.add_app_template_global(can_see_case_trail, "can_see_case_trail")


def _zone(user: User) -> ZoneInfo:
    """The viewer's clock, on which the date filters' days are read."""
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _wanted() -> services.TrailQuery:
    try:
        return services.TrailQuery.from_args(request.args)
    except services.BadQuery:
        abort(400)


@bp.route("/admin/audit")
@roles_required(Role.ADMIN)
def list_events():
    """Every audited event, newest first, a page at a time, with filters."""
    wanted = _wanted()
    return render_template("admin/audit.html", query=wanted, case=None,
                           trail=services.page(wanted, _zone(current_user)))


@bp.route("/admin/audit.csv")
@roles_required(Role.ADMIN)
def export_events():
    """The filtered trail as a CSV file, streamed as it is read (the
    export is itself audited)."""
    lines = services.export(current_user, _wanted(), _zone(current_user))
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="audit-trail-{utcnow():%Y-%m-%d}.csv"')
    return response


@bp.route("/cases/<case_uuid>/audit")
def case_events(case_uuid: str):
    """The trail of one case, for its attorneys (403 for others who may
    open the case, the audited 404 for everyone else)."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_see_case_trail(current_user, case):
        abort(403)
    wanted = replace(_wanted(), case="")  # the case is the page's
    return render_template("admin/audit.html", query=wanted, case=case,
                           trail=services.page(wanted, _zone(current_user), case))
