"""Dashboards and the case page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from portal.case_types import get_case_type
from portal.cases import services
from portal.cases.forms import InviteForm
from portal.cases.invitations import InviteOutcome, invite_to_case
from portal.cases.permissions import (can_manage_case, can_see_internal_notes,
                                      can_see_case_story, get_case_or_404, visible_members)
from portal.errors import ServiceError
from portal.models.case import CaseRole, UrgencyFlag
from portal.requests.queue import case_summaries
from portal.requests.routes import case_panel
from portal.requests.services import today_for

bp = Blueprint("cases", __name__)


@bp.route("/")
def dashboard():
    """The signed-in user's cases: a sortable table for the firm, cards for
    clients and sponsors."""
    sort = request.args.get("sort", "urgency")
    if sort not in services.SORTS:
        sort = "urgency"
    flag = None
    if request.args.get("flag"):
        try:
            flag = UrgencyFlag(request.args["flag"])
        except ValueError:
            abort(400)
    include_closed = request.args.get("closed") == "1"
    cases = services.dashboard_cases(current_user, sort, flag, include_closed)
    if not current_user.is_firm:
        return render_template("cases/my_cases.html", cases=cases,
                               progress=services.progress, get_case_type=get_case_type,
                               can_see_story=can_see_case_story)
    return render_template("cases/firm_dashboard.html", cases=cases, sort=sort, flag=flag,
                           flags=list(UrgencyFlag), include_closed=include_closed,
                           progress=services.progress, get_case_type=get_case_type,
                           summaries=case_summaries(cases), today=today_for(current_user))


@bp.route("/cases/<case_uuid>")
def show_case(case_uuid: str):
    """One case: its stage on the progress line, its people and its timeline."""
    case = get_case_or_404(case_uuid, current_user)
    case_type = get_case_type(case.case_type)
    return render_template("cases/case.html", case=case, case_type=case_type,
                           stage=case_type.stage(case.stage), progress=services.progress(case),
                           can_manage=can_manage_case(current_user, case),
                           show_internal=can_see_internal_notes(current_user),
                           show_story=can_see_case_story(current_user, case),
                           members=visible_members(current_user, case),
                           **case_panel(current_user, case))


@bp.route("/cases/<case_uuid>/invite", methods=["GET", "POST"])
def invite_member(case_uuid: str):
    """Invite a client or sponsor to the case (the firm only)."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_manage_case(current_user, case):
        abort(403)
    form = InviteForm(language=str(get_locale()))
    if form.validate_on_submit():
        try:
            outcome = invite_to_case(current_user, case, form.email.data, form.name.data,
                                     CaseRole(form.case_role.data), form.language.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            if outcome is InviteOutcome.INVITED:
                flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            else:
                flash(_("%(email)s already has an account and was added to the case.",
                        email=form.email.data), "success")
            return redirect(url_for("cases.show_case", case_uuid=case.uuid))
    return render_template("cases/invite.html", case=case, form=form)
