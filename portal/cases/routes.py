"""Dashboards and the case page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.case_types import get_case_type
from portal.cases import services, stages, timeline
from portal.cases.forms import CloseForm, InviteForm, NoteForm, StageForm
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
        return render_template("cases/my_cases.html", cases=cases, get_case_type=get_case_type,
                               can_see_story=can_see_case_story)
    return render_template("cases/firm_dashboard.html", cases=cases, sort=sort, flag=flag,
                           flags=list(UrgencyFlag), include_closed=include_closed,
                           get_case_type=get_case_type, summaries=case_summaries(cases), today=today_for(current_user))


@bp.route("/cases/<case_uuid>")
def show_case(case_uuid: str):
    """One case: where it stands on its path, its people and its timeline."""
    case = get_case_or_404(case_uuid, current_user)
    case_type = get_case_type(case.case_type)
    can_manage = can_manage_case(current_user, case)
    show_story = can_see_case_story(current_user, case)
    forms = _manage_forms(case, case_type) if can_manage else {}
    return render_template("cases/case.html", case=case, case_type=case_type,
                           stage=case_type.stage(case.stage),
                           path=case_type.path(case.stage, timeline.visited_stages(case)),
                           can_manage=can_manage,
                           show_internal=can_see_internal_notes(current_user),
                           show_story=show_story,
                           events=timeline.events_for(current_user, case) if show_story else [],
                           headline=timeline.headline,
                           members=visible_members(current_user, case),
                           **forms, **case_panel(current_user, case))


def _manage_forms(case, case_type) -> dict:
    """The firm's forms on the case page, each against the case's current version."""
    stage_form = StageForm(version=case.version, formdata=None)
    stage_form.stage.choices = [(s.key, s.title) for s in case_type.stages if s.key != case.stage]
    return {"stage_form": stage_form, "close_form": CloseForm(version=case.version, formdata=None),
            "note_form": NoteForm(formdata=None)}


def _managed_case(case_uuid: str):
    """The case, for a change only the firm's people on it may make."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_manage_case(current_user, case):
        abort(403)
    return case


def _apply(case, form, change, done=None):
    """Run ``change`` if ``form`` is valid and flash ``done``, or what went
    wrong; then go back to the case page."""
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("cases.show_case", case_uuid=case.uuid))
    try:
        change()
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(done or _("Saved. The client sees it on their timeline."), "success")
    return redirect(url_for("cases.show_case", case_uuid=case.uuid))


@bp.route("/cases/<case_uuid>/stage", methods=["POST"])
def move_stage(case_uuid: str):
    """Move the case to another stage, with a message to the client."""
    case = _managed_case(case_uuid)
    form = StageForm()
    form.stage.choices = [(s.key, s.title) for s in get_case_type(case.case_type).stages]
    form.stage.validate_choice = False  # the service refuses a stage of another type
    return _apply(case, form, lambda: stages.move_stage(
        current_user, case, form.stage.data, form.version.data,
        form.client_text.data, form.internal_note.data))


@bp.route("/cases/<case_uuid>/close", methods=["POST"])
def close_case(case_uuid: str):
    """Close the case with a reason, or reopen a closed one."""
    case = _managed_case(case_uuid)
    form = CloseForm()
    action = stages.reopen_case if case.closed_on else stages.close_case
    return _apply(case, form, lambda: action(current_user, case, form.version.data,
                                             form.reason.data, form.client_text.data))


@bp.route("/cases/<case_uuid>/events", methods=["POST"])
def add_note(case_uuid: str):
    """Add an entry to the timeline: for the client, or the firm alone."""
    case = _managed_case(case_uuid)
    form = NoteForm()
    for_client = form.audience.data == "client"
    return _apply(case, form, lambda: stages.add_note(
        current_user, case, form.client_text.data, form.internal_note.data, for_client),
        done=None if for_client else _l("Saved. Only the firm sees this note."))


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
