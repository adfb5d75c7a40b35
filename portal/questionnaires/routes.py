"""Questionnaire pages: sending one (from the firm's requests section),
answering one section a page, the review page before submitting, the
firm's reading of the answers with corrections, a change with a reason,
and the exports."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from portal.cases import sections
from portal.cases.changes import distinct_ids, show_again
from portal.cases.sections import Section
from portal.cases.countries import country_choices
from portal.cases.permissions import get_case_or_404
from portal.errors import ServiceError
from portal.extensions import db
from portal.i18n import today_for
from portal.models import Case, DocumentRequest, RequestState, User
from portal.models.request import QUESTIONNAIRE
from portal.questionnaires import export, services
from portal.questionnaires.export import answer_text
from portal.questionnaires.answers import ADDRESS_PARTS, Refused, is_shown, read_section
from portal.questionnaires.definitions import Section as QuestionnaireSection
from portal.questionnaires.definitions import for_case_type, get_questionnaire
from portal.questionnaires.forms import NOTE_MAX, ChangeForm, SendForm, VersionForm
from portal.questionnaires.permissions import can_answer, get_questionnaire_or_404
from portal.requests import services as requests
from portal.requests.permissions import can_review, visible_requests

bp = Blueprint("questionnaires", __name__)
bp.add_app_template_global(answer_text, "answer_text")


def send_choices(case: Case) -> list[tuple[str, str]]:
    """Each questionnaire of the case's type with each person it fits."""
    return [(f"{q.key}:{m.user.uuid}", f"{q.title} · {m.user.name}")
            for q in for_case_type(case.case_type) for m in case.memberships
            if services.can_be_sent(q, case, m.user)]


def firm_section(case: Case, user: User, page: Mapping) -> dict | None:
    """The attorney team's questionnaires section of the case page: each
    one sent, its state and answers, and the form to send another. None
    for anyone else (a client or sponsor finds theirs under "What we need
    from you")."""
    if not can_review(user, case):
        return None
    form = SendForm(formdata=None)
    form.pair.choices = send_choices(case)
    return {"questionnaire_requests": [r for r in visible_requests(user, case)
                                       if r.kind == QUESTIONNAIRE],
            "questionnaire_form": distinct_ids("questionnaire", {"send": form})["send"]}


sections.offer(bp, Section("questionnaires", _l("Questionnaires"), order=22,
                           template="questionnaires/_firm_section.html", context=firm_section))


def _back(case: Case):
    return redirect(url_for("cases.show_case", case_uuid=case.uuid), code=303)


@bp.route("/cases/<case_uuid>/questionnaires", methods=["POST"])
def send_questionnaire(case_uuid: str):
    """The attorney team sends a questionnaire to the client or a sponsor."""
    case = get_case_or_404(case_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    form = SendForm()
    form.pair.choices = send_choices(case)
    if not form.validate_on_submit():
        return show_again(case, "questionnaire-send", form)
    key, person_uuid = form.pair.data.split(":", 1)
    person = next(m.user for m in case.memberships if str(m.user.uuid) == person_uuid)
    try:
        services.send(current_user, case, get_questionnaire(key), person, form.due_on.data)
    except ServiceError as error:
        flash(error.message, "error")
    else:
        flash(_("The questionnaire was sent to %(name)s.", name=person.name), "success")
    return _back(case)


def _page(case: Case, req: DocumentRequest):
    """What every answering page needs: the definition, the stored answers
    and which questions may change now."""
    response = services.response_of(req)
    data = services.read(response)
    editable = services.editable_questions(req, data)
    questionnaire = services.questionnaire_of(req)
    return questionnaire, response, data, editable


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>")
def start(case_uuid: str, request_uuid: str):
    """Where the person left off: the first section still to answer, else
    the review page; the firm's people go to their reading of the answers."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_answer(current_user, case, req):
        return redirect(url_for(".answers", case_uuid=case.uuid, request_uuid=req.uuid))
    questionnaire, _response, data, editable = _page(case, req)
    for section in services.sections_to_answer(questionnaire, editable):
        if section.key not in data["done"] or (editable and req.state is RequestState.REJECTED
                                                and _has_open_correction(section, data)):
            return redirect(url_for(".section", case_uuid=case.uuid, request_uuid=req.uuid,
                                    section_key=section.key))
    return redirect(url_for(".summary", case_uuid=case.uuid, request_uuid=req.uuid))


def _has_open_correction(section: QuestionnaireSection, data: dict) -> bool:
    return any(q.key in data["corrections"] for q in section.questions)


def _section_view(case, req, questionnaire, section, response, data, editable, *,
                  values=None, errors=None, rows=None, status=200):
    """Render one section: ``values`` (posted, or the stored answers) and
    ``errors`` by field name; ``rows`` the number of rows of each group."""
    values = data["answers"] if values is None else values
    sections = services.sections_to_answer(questionnaire, editable)
    position = next(i for i, s in enumerate(sections) if s.key == section.key)
    later = sections[position + 1] if position + 1 < len(sections) else None
    rows = rows or {q.key: max(1, len(values.get(q.key) or [])) for q in section.questions
                    if q.is_group}
    return render_template(
        "questionnaires/section.html", case=case, req=req, questionnaire=questionnaire,
        section=section, sections=sections, position=position, later=later,
        values=values, stored=data["answers"], errors=errors or {}, rows=rows,
        corrections=data["corrections"], editable=editable, version=response.version,
        countries=country_choices(get_locale()), address_parts=ADDRESS_PARTS,
        is_shown=is_shown, done=data["done"], hints=_condition_hints(section, editable),
        today_iso=today_for(current_user).isoformat()), status


def _condition_hints(section: QuestionnaireSection, editable: set[str] | None) -> dict[str, str]:
    """For a question shown only after an answer that can be given on the
    same page: which answer it depends on (a script hides it until then;
    without one the hint says when to answer it). A locked answer decides
    on the server, like an earlier section's."""
    own = {q.key: q for q in section.questions
           if editable is None or q.key in editable}
    hints = {}
    for question in section.questions:
        controller = own.get(question.shown_if.question) if question.shown_if else None
        if controller is None:
            continue
        answers = " / ".join(str(_("Yes") if v == "yes" else _("No") if v == "no"
                                 else controller.choice_label(v))
                             for v in question.shown_if.values)
        # Translators: hint above a question that applies only after a given answer.
        hints[question.key] = _("Only if you answered “%(answer)s” to “%(question)s”.",
                                answer=answers, question=controller.label)
    return hints


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>/sections/<section_key>",
          methods=["GET", "POST"])
def section(case_uuid: str, request_uuid: str, section_key: str):
    """One section: its questions, saved with "Save and continue" (the
    next section, or the review page after the last). "Add another" and
    "Remove" rebuild the page with a row more or less, storing nothing."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_answer(current_user, case, req):
        abort(403)
    questionnaire, response, data, editable = _page(case, req)
    try:
        wanted = questionnaire.section(section_key)
    except KeyError:
        abort(404)
    if wanted not in services.sections_to_answer(questionnaire, editable) or editable == set():
        flash(_("These answers were sent to your attorney and cannot be changed now."), "info")
        return redirect(url_for(".summary", case_uuid=case.uuid, request_uuid=req.uuid))
    if request.method == "GET":
        return _section_view(case, req, questionnaire, wanted, response, data, editable)
    action = request.form.get("action", "save")
    if action.startswith(("add:", "remove:")):
        return _rebuild(case, req, questionnaire, wanted, response, data, editable, action)
    try:
        seen = int(request.form.get("version", ""))
    except ValueError:
        seen = None
    try:
        result = services.save_section(current_user, case, req, wanted, request.form, seen,
                                       draft=action == "leave")
    except Refused as refused:
        flash(refused.message, "error")
        return _section_view(case, req, questionnaire, wanted, response, data, editable,
                             status=400)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for(".start", case_uuid=case.uuid, request_uuid=req.uuid))
    if result.errors:
        merged = {**data["answers"], **result.answers}
        return _section_view(case, req, questionnaire, wanted, response, data, editable,
                             values=merged, errors=result.errors, status=400)
    sections = services.sections_to_answer(questionnaire, editable)
    position = sections.index(wanted)
    if position + 1 < len(sections) and action != "leave":
        return redirect(url_for(".section", case_uuid=case.uuid, request_uuid=req.uuid,
                                section_key=sections[position + 1].key), code=303)
    if action == "leave":
        flash(_("Your answers are saved. You can come back to them at any time."), "success")
        return _back(case)
    return redirect(url_for(".summary", case_uuid=case.uuid, request_uuid=req.uuid), code=303)


def _rebuild(case, req, questionnaire, wanted, response, data, editable, action: str):
    """The section again with the posted answers and a row added to or
    removed from a group; nothing is stored until "Save and continue"."""
    try:
        values, rows = _rows_changed(questionnaire, wanted, data, editable, action)
    except Refused as refused:
        flash(refused.message, "error")
        return _section_view(case, req, questionnaire, wanted, response, data, editable,
                             status=400)
    return _section_view(case, req, questionnaire, wanted, response, data, editable,
                         values=values, rows=rows)


def _rows_changed(questionnaire, wanted: QuestionnaireSection, data: dict, editable, action: str):
    """The posted answers, and each group's row count after ``action``
    ("add:<group>" or "remove:<group>:<row>"). Raises ``Refused`` as
    ``read_section`` does; 400 for an action naming no group of the page."""
    result = read_section(questionnaire, wanted, request.form, data["answers"], editable,
                          today_for(current_user), require=False)
    values = {**data["answers"], **result.answers}
    rows = {q.key: max(1, len(values.get(q.key) or [])) for q in wanted.questions if q.is_group}
    verb, _sep, target = action.partition(":")
    key, _sep, index = target.partition(":")
    group = next((q for q in wanted.questions if q.is_group and q.key == key), None)
    if group is None:
        abort(400)
    if verb == "add":
        # One row more than the page showed (blank rows included), up to the limit.
        shown = len({name.split("-")[2] for name in request.form
                     if name.startswith(f"q-{group.key}-")})
        if shown >= group.max_rows:
            flash(ngettext("You can add at most %(num)d row here.",
                           "You can add at most %(num)d rows here.", group.max_rows), "error")
        rows[group.key] = min(group.max_rows, max(shown, len(values.get(group.key) or [])) + 1)
    else:
        kept = list(values.get(group.key) or [])
        if index.isdigit() and int(index) < len(kept):
            kept.pop(int(index))
        values[group.key] = kept
        rows[group.key] = max(1, len(kept))
    return values, rows


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>/review", methods=["GET", "POST"])
def summary(case_uuid: str, request_uuid: str):
    """Every answer before sending, each section with a link to change it;
    sending it is the POST."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_answer(current_user, case, req):
        abort(403)
    questionnaire, response, data, editable = _page(case, req)
    form = VersionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.submit(current_user, case, req)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(_("Thank you. Your answers were sent to your attorney."), "success")
            return _back(case)
    missing = set(services.missing_answers(questionnaire, data["answers"]))
    return render_template("questionnaires/summary.html", case=case, req=req,
                           questionnaire=questionnaire, data=data, editable=editable,
                           missing=missing, form=form, is_shown=is_shown,
                           sections=services.sections_to_answer(questionnaire, editable),
                           request_label=requests.state_label,
                           countries=dict(country_choices(get_locale())))


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>/answers", methods=["GET", "POST"])
def answers(case_uuid: str, request_uuid: str):
    """The firm reads the answers; on a submitted questionnaire it marks
    those that need correcting, with a note each, or accepts them all."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    questionnaire, response, data, _editable = _page(case, req)
    form = VersionForm()
    notes, errors = {}, {}
    if request.method == "POST" and form.validate_on_submit():
        marked = [key for key in questionnaire.questions() if request.form.get(f"fix-{key}")]
        notes = {key: request.form.get(f"note-{key}", "") for key in marked}
        errors = {key: _("Please say what needs correcting: the person will read it.")
                  for key, note in notes.items() if not note.strip()}
        errors.update({key: _("At most %(max)s characters (you typed %(count)s).",
                              max=NOTE_MAX, count=len(note))
                       for key, note in notes.items() if len(note) > NOTE_MAX})
        if not errors:
            try:
                services.review(current_user, case, req, notes, form.version.data)
            except ServiceError as error:
                flash(error.message, "error")
            else:
                flash(_("The answers were sent back for correction.") if notes
                      else _("The answers are accepted."), "success")
                return redirect(url_for(".answers", case_uuid=case.uuid,
                                        request_uuid=req.uuid), code=303)
    history = _history(data)
    return render_template("questionnaires/answers.html", case=case, req=req,
                           questionnaire=questionnaire, data=data, form=form,
                           version=response.version, notes=notes, errors=errors,
                           history=history, is_shown=is_shown,
                           request_label=requests.state_label,
                           countries=dict(country_choices(get_locale()))), 400 if errors else 200


def _history(data: dict) -> list[dict]:
    """The firm's changes, newest first, with who made them (one query)."""
    ids = {entry["by"] for entry in data["history"]}
    names = dict(db.session.execute(db.select(User.id, User.name).where(User.id.in_(ids))).all()
                 ) if ids else {}
    return [{**entry, "name": names.get(entry["by"], "?"), "at": datetime.fromisoformat(entry["at"])}
            for entry in reversed(data["history"])]


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>/answers/<question_key>",
          methods=["GET", "POST"])
def change(case_uuid: str, request_uuid: str, question_key: str):
    """The firm changes one answer, saying why."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    questionnaire, response, data, _editable = _page(case, req)
    if question_key not in questionnaire.questions():
        abort(404)
    wanted = questionnaire.section_of(question_key)
    question = questionnaire.questions()[question_key]
    form = ChangeForm()
    values, errors, status, rows = data["answers"], {}, 200, None
    action = request.form.get("action", "save")
    if request.method == "POST" and action.startswith(("add:", "remove:")):
        values, rows = _rows_changed(questionnaire, wanted, data, {question_key}, action)
    elif request.method == "POST":
        if form.validate_on_submit():
            try:
                result = services.change_answer(current_user, case, req, wanted, request.form,
                                                form.why.data, form.version.data)
            except ServiceError as error:
                flash(error.message, "error")
            else:
                if not result.errors:
                    flash(_("The answer was changed."), "success")
                    return redirect(url_for(".answers", case_uuid=case.uuid,
                                            request_uuid=req.uuid), code=303)
                values, errors = {**data["answers"], **result.answers}, result.errors
        status = 400
    if request.method == "GET":
        form.version.data = response.version
    if rows is None:
        rows = {question.key: max(1, len(values.get(question.key) or []))}
    return render_template("questionnaires/change.html", case=case, req=req,
                           questionnaire=questionnaire, question=question, form=form,
                           values=values, errors=errors, rows=rows,
                           countries=country_choices(get_locale()),
                           address_parts=ADDRESS_PARTS), status


@bp.route("/cases/<case_uuid>/questionnaires/<request_uuid>/answers.<fmt>")
def download(case_uuid: str, request_uuid: str, fmt: str):
    """The answers as a PDF for the case file or as JSON keyed by the USCIS
    form items (audited)."""
    case = get_case_or_404(case_uuid, current_user)
    req = get_questionnaire_or_404(case, request_uuid, current_user)
    if not can_review(current_user, case):
        abort(403)
    if fmt not in ("pdf", "json"):
        abort(404)
    return export.response(current_user, case, req, fmt)
