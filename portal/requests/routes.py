"""Document request pages: their sections of the case page, creating a
request, the page to answer one, uploading to it, and the attorney's decisions."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from portal import audit, paging
from portal.case_types import get_case_type
from portal.cases import sections
from portal.cases.permissions import get_case_or_404
from portal.cases.sections import CaseFacts, Section
from portal.cases.changes import distinct_ids, show_again
from portal.errors import ServiceError
from portal.evidence.permissions import can_see_version
from portal.evidence.routes import receive_upload, upload_form_context
from portal.extensions import csrf, db
from portal.models import Case, DocumentRequest, RequestState, User
from portal.models.case import CaseRole
from portal.models.request import DOCUMENT, SIGNATURE
from portal.requests import checklist, queue, services
from portal.requests.forms import ChecklistForm, DecisionForm, RequestForm
from portal.requests.permissions import (can_review, can_upload_to, get_request_or_404,
                                         visible_requests)

bp = Blueprint("requests", __name__)


def _addressees(case: Case) -> list[tuple[str, str]]:
    return [(str(m.user.uuid), m.user.name) for m in case.memberships
            if m.role in (CaseRole.CLIENT, CaseRole.SPONSOR)]


def _addressee(case: Case, user_uuid: str) -> User | None:
    """The case member with ``user_uuid`` (the service checks they are a
    client or sponsor); None when nobody on the case has it."""
    return next((m.user for m in case.memberships if str(m.user.uuid) == user_uuid), None)


def review_section(case: Case, user: User, page: Mapping) -> dict | None:
    """The attorney team's section of the case page (``requests/_review.html``):
    every request with its files and the decisions, the checklist, and the
    form to ask for another. None for anyone else."""
    if not can_review(user, case):
        return None
    form = RequestForm(formdata=None)
    form.addressee.choices = _addressees(case)
    # Questionnaires and signatures have sections of their own.
    requests = [r for r in visible_requests(user, case, with_files=True) if r.kind == DOCUMENT]
    # The reason of a rejection, for each request with a file to decide on.
    decisions = {r.uuid: distinct_ids(f"request-{r.uuid}", {
        "decision": DecisionForm(formdata=None)})["decision"]
        for r in requests if r.state is RequestState.SUBMITTED}
    return {"request_label": services.state_label,
            "is_overdue": lambda r: services.is_overdue(r, user),
            "review_requests": requests,
            "request_form": distinct_ids("request", {"new": form})["new"],
            "decision_forms": decisions, "completeness": services.completeness(case)}


def _most_pressing(user: User):
    """Sort key: overdue first, then those whose file was not accepted, then
    by due date (those without one last); otherwise in the order asked."""
    def key(document_request: DocumentRequest):
        return (not services.is_overdue(document_request, user),
                document_request.state is not RequestState.REJECTED,
                document_request.due_on or date.max)
    return key


def needed_section(case: Case, user: User, page: Mapping) -> dict | None:
    """A client's or sponsor's section of the case page
    (``requests/_what_we_need.html``): a line for each request they still
    owe, each with one upload action (the page of ``answer_request``), and
    those they answered, folded away; for the client also the requests of
    others in the case and the case's completeness. None for the firm."""
    if user.is_firm:
        return None
    requests = visible_requests(user, case)
    # A signature is the addressee's own act; anything else a client may answer for a client.
    mine = [r for r in requests if (r.addressee_id == user.id if r.kind == SIGNATURE
                                    else can_upload_to(user, case, r))]
    return {"request_label": services.state_label,
            "is_overdue": lambda r: services.is_overdue(r, user),
            "needed_requests": sorted((r for r in mine if r.is_owed), key=_most_pressing(user)),
            "done_requests": [r for r in mine if not r.is_owed],
            "other_requests": [r for r in requests if r not in mine],
            "uploads": (upload_form_context(case)
                        if any(r.is_open and r.kind == DOCUMENT for r in mine) else None),
            "completeness": (services.completeness(case)
                             if page["case_role"] == CaseRole.CLIENT.value else None)}


sections.offer(
    bp,
    # The firm reviews after the overview; a client or sponsor starts with what they owe.
    Section("requests", _l("Requests"), order=20, template="requests/_review.html",
            context=review_section),
    Section("needed", _l("What we need from you"), order=20, client_order=10,
            template="requests/_what_we_need.html", context=needed_section),
    # The dashboard's "Documents" column: required requests accepted, the next due date.
    CaseFacts("documents", lambda user, cases: queue.case_summaries(cases)),
)


def _back(case: Case):
    return redirect(url_for("cases.show_case", case_uuid=case.uuid), code=303)


@bp.route("/cases/<case_uuid>/requests", methods=["POST"])
def create_request(case_uuid: str):
    """The attorney team asks the client or a sponsor for a document."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    form = RequestForm()
    form.addressee.choices = _addressees(case)
    if not form.validate_on_submit():
        return show_again(case, "request-new", form)
    addressee = _addressee(case, form.addressee.data)
    try:
        services.create_request(current_user, case, addressee=addressee,
                                title=form.title.data, instructions=form.instructions.data or "",
                                due_on=form.due_on.data, required=form.required.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The request was sent to %(name)s.", name=addressee.name), "success")
    return _back(case)


# Blank rows under the proposal, for documents the type's checklist lacks.
BLANK_ROWS = 3


def _proposed_rows(form: ChecklistForm, case: Case) -> dict[int, str]:
    """Fill ``form`` with the proposal; return a note for rows left unticked."""
    notes = {}
    for index, proposal in enumerate(checklist.propose(case)):
        if proposal.addressee is None:
            notes[index] = _("Nobody on the case can provide this yet: invite them first, or "
                             "choose someone else.")
        elif proposal.already_asked:
            notes[index] = _("Already asked of %(name)s.", name=proposal.addressee.name)
        form.rows.append_entry({
            "include": proposal.addressee is not None and not proposal.already_asked,
            "title": proposal.title, "instructions": proposal.instructions,
            "addressee": str(proposal.addressee.uuid) if proposal.addressee else "",
            "required": True})
    client = next((uuid for uuid, _name in _addressees(case)), "")
    for _blank in range(BLANK_ROWS):
        form.rows.append_entry({"include": True, "addressee": client, "required": True})
    return notes


def _rows_to_send(form: ChecklistForm, case: Case) -> tuple[list[int], list, bool]:
    """The ticked rows with a title, as requests to send, and whether a row
    names nobody on the case (its error is put beside its "who" field)."""
    positions, items, invalid = [], [], False
    for index, row in enumerate(form.rows):
        if not (row.include.data and (row.title.data or "").strip()):
            continue
        addressee = _addressee(case, row.addressee.data or "")
        if addressee is None:
            row.addressee.errors.append(_("Please choose who must provide it."))
            invalid = True
            continue
        positions.append(index)
        items.append(services.NewRequest(addressee, row.title.data, row.instructions.data or "",
                                         row.due_on.data or form.due_on_all.data,
                                         row.required.data))
    return positions, items, invalid


@bp.route("/cases/<case_uuid>/requests/checklist", methods=["GET", "POST"])
def send_checklist(case_uuid: str):
    """The attorney team edits the case type's proposed checklist (drop,
    change, add, set due dates) and sends it in one step."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    form = ChecklistForm()
    notes = _proposed_rows(form, case) if request.method == "GET" else {}
    next_step = _step_after_intake(case)
    if request.method == "GET":
        form.version.data = case.version
    choices = [("", _("Choose…"))] + _addressees(case)
    for row in form.rows:
        row.addressee.choices = choices
    if form.validate_on_submit():
        positions, items, invalid = _rows_to_send(form, case)
        if not invalid:
            # Offered when the page was loaded (its version came with it): if the
            # case moved meanwhile, the service refuses the stale form.
            move_to = (_second_step(case).key
                       if form.advance.data and form.version.data is not None else None)
            try:
                sent = services.send_requests(current_user, case, items, move_to,
                                              form.version.data)
            except services.InvalidItem as error:
                # The service's word on a whole row: under its legend, in the summary.
                form.rows[positions[error.item]].form.form_errors.append(error.message)
            except ServiceError as error:
                flash(error.message, "error")
            else:
                flash(ngettext("%(num)d request was sent.", "%(num)d requests were sent.",
                               len(sent)), "success")
                if move_to:
                    flash(_("The case moved to “%(stage)s”.", stage=_second_step(case).title),
                          "success")
                return _back(case)
    return render_template("requests/checklist.html", case=case, form=form, notes=notes,
                           next_step=next_step, case_type=get_case_type(case.case_type))


def _second_step(case: Case):
    """The step after the first on the case type's usual way through, if any."""
    steps = get_case_type(case.case_type).steps
    return steps[1] if len(steps) > 1 else None


def _step_after_intake(case: Case):
    """The step after the first, while the case is at its type's first step:
    the first checklist offers to move the case there, so the client is no
    longer told to finish the intake while being asked for documents."""
    if case.stage == get_case_type(case.case_type).steps[0].key:
        return _second_step(case)
    return None


@bp.route("/cases/<case_uuid>/requests/<request_uuid>/upload")
def answer_request(case_uuid: str, request_uuid: str):
    """The page to answer one request: what is asked, by when, the files
    sent for it so far, and the upload form. Who may see it is who may
    upload (``upload_to_request``): a request the person may not see is a
    404, one addressed to someone else a 403; a closed one sends them back
    to the case page, told why."""
    case = get_case_or_404(case_uuid, current_user)
    document_request = get_request_or_404(case, request_uuid, current_user)
    try:
        services.check_upload(current_user, case, document_request)
    except services.RequestClosed as refused:
        if not can_upload_to(current_user, case, document_request):
            abort(403)
        flash(refused.message, "info")
        return _back(case)
    return render_template(
        "requests/answer.html", case=case, req=document_request,
        versions=[v for v in document_request.versions
                  if can_see_version(current_user, case, v)],
        request_label=services.state_label,
        overdue=services.is_overdue(document_request, current_user),
        **upload_form_context(case))


@bp.route("/cases/<case_uuid>/requests/<request_uuid>/uploads", methods=["POST"])
@csrf.exempt  # checked from the streamed body, as for every upload
def upload_to_request(case_uuid: str, request_uuid: str):
    """The addressee answers a request with a file (a new evidence version)."""
    case = get_case_or_404(case_uuid, current_user)
    document_request = get_request_or_404(case, request_uuid, current_user)
    try:
        # Before any byte of the body is read: a refused upload stores nothing.
        services.check_upload(current_user, case, document_request)
    except services.RequestClosed as refused:
        audit.record("request.upload_refused", actor=current_user, case=case,
                     target=str(document_request.uuid), state=document_request.state.value)
        db.session.commit()
        if not can_upload_to(current_user, case, document_request):
            abort(403)
        flash(refused.message, "error")
        return _back(case)
    return receive_upload(case, None, document_request) or _back(case)


@bp.route("/cases/<case_uuid>/requests/<request_uuid>/decision", methods=["POST"])
def decide_request(case_uuid: str, request_uuid: str):
    """Accept, reject (with a reason), waive or re-open a request."""
    case = get_case_or_404(case_uuid, current_user)
    document_request = get_request_or_404(case, request_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    form = DecisionForm()
    if not form.validate_on_submit():
        # Shown again with the reason's error beside it (missing, or too long).
        return show_again(case, f"request-{document_request.uuid}-decision", form)
    try:
        services.decide(current_user, case, document_request, form.decision.data,
                        form.reason.data or "", form.seen.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The request is now %(state)s.",
                state=services.state_label(document_request)), "success")
    return _back(case)


@bp.route("/requests")
def review_queue():
    """The firm's queue across its cases: files waiting for a decision, the
    longest waiting first, and overdue requests."""
    if not current_user.is_firm:
        abort(404)  # clients and sponsors must not learn the page exists
    return render_template("requests/queue.html",
                           to_review=queue.to_review(current_user, paging.number("review")),
                           overdue=queue.overdue(current_user, paging.number("overdue")))


@bp.app_context_processor
def review_count() -> dict:
    """The nav's count of files to review: a callable, so the COUNT runs
    only where base.html shows the link (the firm's pages)."""
    return {"review_count": lambda: queue.count_to_review(current_user)}
