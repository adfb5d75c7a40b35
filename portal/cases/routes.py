"""Dashboards and the case page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.case_types import case_types, get_case_type
from portal.cases import invitations, lifecycle, page, sections, stages, team
from portal.cases.changes import apply_change
from portal.cases.dashboard import BadQuery, DashboardQuery, firm_dashboard, member_cases
from portal.cases.countries import country_choices
from portal.cases.forms import (CloseForm, EditCaseForm, InviteForm, NoteForm, OpenCaseForm,
                                StageForm, TeamAddForm, TeamRemoveForm)
from portal.cases.invitations import InviteOutcome, invite_to_case
from portal.cases.permissions import (can_manage_case, can_open_case, can_see_case_story,
                                      case_role, get_case_or_404, get_invitation_or_404)
from portal.errors import ServiceError
from portal.forms_common import failed_form
from portal.i18n import today_for
from portal.models import Role
from portal.models.case import CaseRole, UrgencyFlag

bp = Blueprint("cases", __name__)
sections.offer(bp, *page.SECTIONS)


@bp.route("/")
def dashboard():
    """The signed-in user's cases: for the firm a searchable, filtered,
    sorted table a page at a time; cards for clients and sponsors. What other
    features show of each case (documents, unread messages) comes from
    ``sections.facts_for``."""
    if not current_user.is_firm:
        cases = member_cases(current_user)
        return render_template("cases/my_cases.html", cases=cases,
                               facts=sections.facts_for(current_user, cases, ("unread",)),
                               get_case_type=get_case_type, can_see_story=can_see_case_story)
    try:
        wanted = DashboardQuery.from_args(request.args)
    except BadQuery:
        abort(400)
    today = today_for(current_user)
    board = firm_dashboard(current_user, wanted, today)
    return render_template("cases/firm_dashboard.html", board=board, today=today,
                           facts=sections.facts_for(current_user, [r.case for r in board.rows],
                                                    ("documents", "unread")),
                           flags=list(UrgencyFlag), get_case_type=get_case_type)


@bp.route("/cases/<case_uuid>")
def show_case(case_uuid: str):
    """One case, as the sections every feature offers (``sections``), in
    the reader's order: for the firm a page to jump about in; for a client or
    sponsor what they must do first."""
    return render_case(get_case_or_404(case_uuid, current_user))


def render_case(case):
    """The case page of ``case`` for the signed-in user; also shown again,
    by the route a form of it posts to, when that form has errors
    (``changes.show_again``)."""
    role = case_role(current_user, case)
    facts = {"case": case, "case_type": get_case_type(case.case_type),
             "can_manage": can_manage_case(current_user, case),
             "show_story": can_see_case_story(current_user, case),
             "case_role": role.value if role else "", "today": today_for(current_user)}
    shown, context = sections.page_sections(case, current_user, facts)
    # The language switch of a page shown again from a POST-only route comes back here.
    g.page_path = url_for("cases.show_case", case_uuid=case.uuid)
    return render_template("cases/case.html", sections=shown,
                           failed_form=failed_form(),  # once every form is made
                           **context)


def _managed_case(case_uuid: str):
    """The case, for a change only the firm's people on it may make."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_manage_case(current_user, case):
        abort(403)
    return case


@bp.route("/cases/<case_uuid>/stage", methods=["POST"])
def move_stage(case_uuid: str):
    """Move the case to another stage, with a message to the client."""
    case = _managed_case(case_uuid)
    form = StageForm()
    form.stage.choices = [(s.key, s.title) for s in get_case_type(case.case_type).stages]
    form.stage.validate_choice = False  # the service refuses a stage of another type
    return apply_change(case, form, lambda: stages.move_stage(
        current_user, case, form.stage.data, form.version.data,
        form.client_text.data, form.internal_note.data), key="case-stage_form")


@bp.route("/cases/<case_uuid>/close", methods=["POST"])
def close_case(case_uuid: str):
    """Close the case with a reason, or reopen a closed one."""
    case = _managed_case(case_uuid)
    form = CloseForm()
    action = stages.reopen_case if case.closed_on else stages.close_case
    return apply_change(case, form, lambda: action(current_user, case, form.version.data,
                                             form.reason.data, form.client_text.data),
                        key="case-close_form")


@bp.route("/cases/<case_uuid>/events", methods=["POST"])
def add_note(case_uuid: str):
    """Add an entry to the timeline: for the client, or the firm alone."""
    case = _managed_case(case_uuid)
    form = NoteForm()
    for_client = form.audience.data == "client"
    return apply_change(case, form, lambda: stages.add_note(
        current_user, case, form.client_text.data, form.internal_note.data, for_client),
        done=None if for_client else _l("Saved. Only the firm sees this note."),
        key="case-note_form")


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
            flash(_invite_message(outcome, form.email.data), "success")
            return redirect(url_for("cases.show_case", case_uuid=case.uuid))
    return render_template("cases/invite.html", case=case, form=form)


def _invite_message(outcome: InviteOutcome, email: str) -> str:
    """What the firm is told after inviting ``email`` (or inviting them again)."""
    # The email leaves through the outbox: say it is on its way, not that it went.
    if outcome is InviteOutcome.INVITED:
        return _("The invitation to %(email)s is on its way. The People panel shows when it "
                 "has gone out.", email=email)
    if outcome is InviteOutcome.RESENT:
        return _("A new invitation to %(email)s is on its way. The earlier link no longer "
                 "works.", email=email)
    return _("%(email)s already has an account and was added to the case.", email=email)


# --- opening a case, its details, its pending invitations --------------------

def _detail_choices(form, case=None) -> None:
    """The lists of the details form: countries named in the reader's
    language, the firm's active attorneys (and the case's own, if no longer
    active), and the urgency flags (labelled by the template)."""
    choose = [("", _("Choose…"))]
    form.beneficiary_country.choices = choose + country_choices(get_locale())
    people = lifecycle.attorneys()
    if case is not None and case.assigned_attorney and case.assigned_attorney not in people:
        people.insert(0, case.assigned_attorney)
    form.attorney.choices = choose + [(str(user.uuid), user.name) for user in people]
    form.flags.choices = [(flag.value, flag) for flag in UrgencyFlag]


def _details(form) -> lifecycle.CaseDetails:
    return lifecycle.CaseDetails(form.title.data or "", form.beneficiary_name.data or "",
                                 form.beneficiary_country.data or "", form.flags.data or [],
                                 form.attorney.data or "")


@bp.route("/cases/new", methods=["GET", "POST"])
def open_case():
    """Open a case and invite its client and sponsors, in one form (the firm only)."""
    if not can_open_case(current_user):
        abort(403)
    language = str(get_locale())
    form = OpenCaseForm(client_language=language)
    if request.method == "GET":
        for row in form.sponsors:
            row.language.data = language
        if current_user.role is Role.ATTORNEY:
            form.attorney.data = str(current_user.uuid)
    _detail_choices(form)
    form.case_type.choices = [("", _("Choose…"))] + [(key, kind.name)
                                                     for key, kind in case_types().items()]
    if form.validate_on_submit():
        try:
            case = lifecycle.open_case(
                current_user, form.case_type.data, _details(form),
                lifecycle.Invitee(form.client_name.data, form.client_email.data,
                                  form.client_language.data),
                [lifecycle.Invitee(row.form.name.data or "", row.form.email.data or "",
                                   row.form.language.data) for row in form.sponsors],
                keep_me=form.keep_me.data)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(_("Case %(reference)s is open. The people you named were invited (anyone "
                    "who already had an account was added at once).", reference=case.reference),
                  "success")
            # An attorney may open a case for a colleague and stay off its team.
            if can_manage_case(current_user, case):
                return redirect(url_for("cases.show_case", case_uuid=case.uuid), code=303)
            return _handed_over(case, _(
                "It is in the hands of %(attorney)s. You are not on its team, so it is not "
                "among your cases.", attorney=case.assigned_attorney.name))
    elif request.method == "POST":
        flash(_("The case was not opened: please correct what is marked below."), "error")
    return render_template("cases/open.html", form=form)


@bp.route("/cases/<case_uuid>/edit", methods=["GET", "POST"])
def edit_case(case_uuid: str):
    """Change a case's title, beneficiary, urgency flags and attorney."""
    case = _managed_case(case_uuid)
    if request.method == "GET":
        form = EditCaseForm(version=case.version, title=case.title,
                            beneficiary_name=case.beneficiary_name,
                            beneficiary_country=case.beneficiary_country,
                            flags=[flag.value for flag in case.urgency],
                            attorney=str(case.assigned_attorney.uuid)
                            if case.assigned_attorney else "")
    else:
        form = EditCaseForm()
    _detail_choices(form, case)
    if form.validate_on_submit():
        try:
            changed = lifecycle.edit_case(
                current_user, case, form.version.data, _details(form),
                lifecycle.Handover(form.keep_previous.data, form.handover_reason.data or ""))
        except stages.CaseChanged as error:
            flash(error.message, "error")
            return redirect(url_for("cases.edit_case", case_uuid=case.uuid), code=303)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            if not can_manage_case(current_user, case):
                return _handed_over(case, _(
                    "Case %(reference)s is now in the hands of %(attorney)s. You are no longer "
                    "on its team, so it has left your list.", reference=case.reference,
                    attorney=case.assigned_attorney.name))
            flash(_("The case details were saved.") if changed
                  else _("Nothing was changed."), "success")
            return redirect(url_for("cases.show_case", case_uuid=case.uuid), code=303)
    elif request.method == "POST":
        flash(_("Nothing was saved: please correct what is marked below."), "error")
    return render_template("cases/edit.html", case=case, form=form)


@bp.route("/cases/<case_uuid>/invitations/<invitation_uuid>/resend", methods=["POST"])
def resend_invitation(case_uuid: str, invitation_uuid: str):
    """Email a pending invitation again with a new link; the old one stops working."""
    case = _managed_case(case_uuid)
    invitation = get_invitation_or_404(case, invitation_uuid, current_user)
    try:
        outcome = invitations.resend_invitation(current_user, case, invitation)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_invite_message(outcome, invitation.email), "success")
    return redirect(url_for("cases.show_case", case_uuid=case.uuid, _anchor="people-heading"),
                    code=303)


@bp.route("/cases/<case_uuid>/invitations/<invitation_uuid>/revoke", methods=["POST"])
def revoke_invitation(case_uuid: str, invitation_uuid: str):
    """Withdraw a pending invitation: its link stops working."""
    case = _managed_case(case_uuid)
    invitation = get_invitation_or_404(case, invitation_uuid, current_user)
    try:
        invitations.revoke_invitation(current_user, case, invitation)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The invitation to %(email)s was withdrawn. Its link no longer works.",
                email=invitation.email), "success")
    return redirect(url_for("cases.show_case", case_uuid=case.uuid, _anchor="people-heading"),
                    code=303)


def _handed_over(case, message: str):
    """Where someone lands who just gave a case away and can no longer open
    it: their list, told what happened (not the 404 of the case's page)."""
    flash(message, "success")
    return redirect(url_for("cases.dashboard"), code=303)


# --- the case team -----------------------------------------------------------

@bp.route("/cases/<case_uuid>/team", methods=["POST"])
def add_team_member(case_uuid: str):
    """Put one of the firm's attorneys or staff on the case, saying why."""
    case = _managed_case(case_uuid)
    form = TeamAddForm()

    def change():
        return team.add_member(current_user, case, form.person.data, form.reason.data)

    return apply_change(case, form, change, anchor="team-heading",
                        done=_("The case team was changed."), key="case-team_form")


@bp.route("/cases/<case_uuid>/team/<uuid:user_uuid>/remove", methods=["POST"])
def remove_team_member(case_uuid: str, user_uuid):
    """Take someone off the case team, saying why; they lose access at once."""
    case = _managed_case(case_uuid)
    form = TeamRemoveForm()
    response = apply_change(case, form, lambda: team.remove_member(
        current_user, case, user_uuid, form.reason.data), anchor="team-heading",
        done=_("The case team was changed."), key=f"team-{user_uuid}-remove")
    if not can_manage_case(current_user, case):  # they took themselves off
        return _handed_over(case, _("You are no longer on the team of case %(reference)s.",
                                    reference=case.reference))
    return response
