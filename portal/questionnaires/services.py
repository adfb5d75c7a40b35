"""Questionnaire rules: send one, save a section, submit, the firm's review
(corrections or acceptance) and the firm's later change of an answer.

The answers and the review live in one encrypted JSON document per request
(``QuestionnaireResponse``)::

    {"answers": {question: answer}, "done": [section keys saved],
     "corrections": {question: the firm's note}, "locked": bool,
     "history": [{"question", "by" (user id), "at", "why"}]}

The person answers every question while the request is ``requested``;
after a review only the answers the firm reopened (``corrections``), the
others being accepted and locked; once the whole questionnaire is accepted
nothing, and only the firm may change an answer, saying why (audited, and
kept in ``history``). Each write raises ``version`` with a conditional
UPDATE, so a save that raced another is refused and nothing is lost.
"""
from __future__ import annotations

import json
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from portal import audit, notify
from portal.cases.permissions import case_role
from portal.errors import ServiceError
from portal.extensions import db
from portal.i18n import today_for
from portal.models import Case, DocumentRequest, QuestionnaireResponse, RequestState, User
from portal.models.request import QUESTIONNAIRE
from portal.models.types import utcnow
from portal.questionnaires.answers import SectionAnswers, is_empty, is_shown, read_section
from portal.questionnaires.definitions import Questionnaire, Section, get_questionnaire
from portal.questionnaires.permissions import can_answer
from portal.requests import services as requests
from portal.requests.permissions import can_review

PURPOSE = "answers"


class Changed(ServiceError):
    """Someone else saved the answers first: look again, nothing was lost."""


def _empty() -> dict:
    return {"answers": {}, "done": [], "corrections": {}, "locked": False, "history": []}


def response_of(request: DocumentRequest) -> QuestionnaireResponse:
    """The response row of a questionnaire request."""
    return db.session.scalar(select(QuestionnaireResponse)
                             .where(QuestionnaireResponse.request_id == request.id))


def read(response: QuestionnaireResponse) -> dict:
    """The decrypted answers document (see the module docstring)."""
    crypto = current_app.extensions["crypto"]
    return json.loads(crypto.decrypt_text(response.data, response.uuid, PURPOSE))


def _write(response: QuestionnaireResponse, data: dict, actor: User) -> None:
    """Store ``data`` if nobody wrote since ``response`` was read (the caller
    commits); raises ``Changed`` otherwise."""
    crypto = current_app.extensions["crypto"]
    sealed = crypto.encrypt_text(json.dumps(data, ensure_ascii=False), response.uuid, PURPOSE)
    moved = db.session.execute(
        update(QuestionnaireResponse)
        .where(QuestionnaireResponse.id == response.id,
               QuestionnaireResponse.version == response.version)
        .values(data=sealed, version=response.version + 1, updated_at=utcnow(),
                updated_by_id=actor.id)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        raise Changed(_l("These answers were changed by someone else a moment ago. Nothing "
                         "was lost: please look at them again."))
    db.session.refresh(response)


def questionnaire_of(request: DocumentRequest) -> Questionnaire:
    """The definition a questionnaire request was sent from."""
    return get_questionnaire(request.questionnaire_key)


# --- sending -----------------------------------------------------------------

def can_be_sent(questionnaire: Questionnaire, case: Case, person: User) -> bool:
    """Whether ``questionnaire`` fits ``case``'s type and ``person``'s role in it."""
    role = case_role(person, case)
    return (questionnaire.case_type == case.case_type
            and role is not None and role.value == questionnaire.addressed_to)


def send(actor: User, case: Case, questionnaire: Questionnaire, person: User,
         due_on: date | None) -> DocumentRequest:
    """Send ``questionnaire`` to ``person`` like a document request: the
    person's "what we need", the agenda and reminders show it, and they get
    the new-request email. Raises ``ServiceError`` (nothing saved) when
    ``actor`` is not on the attorney team, the questionnaire does not fit
    the case or the person, the due date is past, or the person already has
    it open."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if not can_be_sent(questionnaire, case, person):
        raise ServiceError(_l("This questionnaire is not for this person in this case."))
    if due_on is not None and due_on < today_for(actor):
        raise ServiceError(_l("The due date is in the past. Please choose a later date."))
    already = db.session.scalar(select(DocumentRequest.id).where(
        DocumentRequest.case_id == case.id, DocumentRequest.addressee_id == person.id,
        DocumentRequest.questionnaire_key == questionnaire.key,
        DocumentRequest.state.in_((RequestState.REQUESTED, RequestState.SUBMITTED,
                                   RequestState.REJECTED))).limit(1))
    if already is not None:
        raise ServiceError(_l("%(name)s already has this questionnaire to answer.",
                              name=person.name))
    request = DocumentRequest(case=case, addressee=person, title=questionnaire.source_title,
                              instructions=questionnaire.source_intro, due_on=due_on,
                              required=True, created_by=actor, state=RequestState.REQUESTED,
                              kind=QUESTIONNAIRE, questionnaire_key=questionnaire.key)
    db.session.add(request)
    db.session.flush()
    response = QuestionnaireResponse(request=request, updated_by_id=actor.id, data=b"")
    db.session.add(response)
    db.session.flush()
    crypto = current_app.extensions["crypto"]
    response.data = crypto.encrypt_text(json.dumps(_empty()), response.uuid, PURPOSE)
    audit.record("questionnaire.sent", actor=actor, case=case, target=str(request.uuid),
                 questionnaire=questionnaire.key, addressee=str(person.uuid))
    # Translators: a timeline entry; %(title)s is the questionnaire's title.
    requests.record_event(actor, case, request, "questionnaire.sent",
                          lambda: _("Your attorney sent you questions to answer: %(title)s.",
                                    title=request.display_title),
                          f"Questionnaire {questionnaire.key} sent to {person.name}.")
    notify.queue_request_new(person.email, person.language, requests.case_link(case))
    db.session.commit()
    return request


# --- answering ---------------------------------------------------------------

def editable_questions(request: DocumentRequest, data: dict) -> set[str] | None:
    """The questions the person may change now: all (None) before the
    first submission, those the firm reopened after a review, none while
    it waits for review or once it is accepted."""
    if request.state is RequestState.REQUESTED and not data["locked"]:
        return None
    if request.state is RequestState.REJECTED:
        return set(data["corrections"])
    return set()


def sections_to_answer(questionnaire: Questionnaire, editable: set[str] | None) -> list[Section]:
    """The sections with something to answer now, in order."""
    if editable is None:
        return list(questionnaire.sections)
    return [s for s in questionnaire.sections if any(q.key in editable for q in s.questions)]


def save_section(actor: User, case: Case, request: DocumentRequest, section: Section,
                 form: MultiDict, seen_version: int | None, draft: bool = False
                 ) -> SectionAnswers:
    """Check and store the post of one section. Returns what was read: with
    ``errors`` nothing was stored. A ``draft`` (saved to finish later) may
    leave required answers empty, and the section is not counted as done.
    Raises ``Refused`` for a post the page
    could not have sent, ``ServiceError`` when ``actor`` may not answer now,
    and ``Changed`` when the answers changed since ``seen_version``."""
    if not can_answer(actor, case, request):
        raise ServiceError(_l("This questionnaire is addressed to someone else."))
    response = response_of(request)
    data = read(response)
    editable = editable_questions(request, data)
    if editable is not None and not editable:
        raise ServiceError(_l("These answers were sent to your attorney and cannot be "
                              "changed now."))
    if seen_version is not None and seen_version != response.version:
        raise Changed(_l("These answers were changed by someone else a moment ago. Nothing "
                         "was lost: please look at them again."))
    result = read_section(questionnaire_of(request), section, form, data["answers"], editable,
                          today_for(actor), require=not draft)
    if result.errors:
        return result
    data["answers"].update(result.answers)
    if not draft and section.key not in data["done"]:
        data["done"].append(section.key)
    _write(response, data, actor)
    audit.record("questionnaire.saved", actor=actor, case=case, target=str(request.uuid),
                 section=section.key)
    db.session.commit()
    return result


def missing_answers(questionnaire: Questionnaire, answers: dict) -> list[str]:
    """The required questions that apply and have no answer, by key."""
    return [q.key for q in questionnaire.questions().values()
            if q.required and is_shown(q, answers) and is_empty(answers.get(q.key))]


def submit(actor: User, case: Case, request: DocumentRequest) -> None:
    """Send the answers to the firm for review. Raises ``ServiceError`` when
    a required answer is missing (``missing_answers``) or the request is
    not waiting for the person's answers."""
    if not can_answer(actor, case, request):
        raise ServiceError(_l("This questionnaire is addressed to someone else."))
    if request.state not in (RequestState.REQUESTED, RequestState.REJECTED):
        raise ServiceError(_l("These answers were already sent to your attorney."))
    response = response_of(request)
    data = read(response)
    missing = missing_answers(questionnaire_of(request), data["answers"])
    if missing:
        raise ServiceError(ngettext("%(num)d required answer is missing.",
                                    "%(num)d required answers are missing.", len(missing)))
    data["corrections"] = {}
    data["locked"] = True
    _write(response, data, actor)
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == request.id,
               DocumentRequest.state.in_((RequestState.REQUESTED, RequestState.REJECTED)))
        .values(state=RequestState.SUBMITTED)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        raise ServiceError(_l("These answers were already sent to your attorney."))
    audit.record("questionnaire.submitted", actor=actor, case=case, target=str(request.uuid))
    # Translators: a timeline entry; %(title)s is the questionnaire's title.
    requests.record_event(actor, case, request, "questionnaire.submitted",
                          lambda: _("Answers were sent for %(title)s.",
                                    title=request.display_title))
    for member in requests.attorney_team(case):
        notify.queue_request_submitted(member.email, member.language, requests.case_link(case))
    db.session.commit()
    db.session.refresh(request)


# --- the firm's review ----------------------------------------------------------

def review(actor: User, case: Case, request: DocumentRequest, corrections: dict[str, str],
           seen_version: int) -> None:
    """The firm's review of submitted answers: with ``corrections``
    (question -> note the person reads) those answers reopen and the rest
    lock; without, the whole questionnaire is accepted. Raises
    ``ServiceError`` when ``actor`` may not review, the answers are not
    waiting for review, a question is unknown or a note is empty, and
    ``Changed`` when they changed since ``seen_version``."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if request.state is not RequestState.SUBMITTED:
        raise ServiceError(_l("These answers are not waiting for review."))
    questions = questionnaire_of(request).questions()
    if any(key not in questions for key in corrections):
        raise ServiceError(_l("This form does not match the questionnaire. Nothing was saved."))
    if any(not note.strip() for note in corrections.values()):
        raise ServiceError(_l("Please say what needs correcting: the person will read it."))
    response = response_of(request)
    if seen_version != response.version:
        raise Changed(_l("These answers were changed by someone else a moment ago. Nothing "
                         "was lost: please look at them again."))
    data = read(response)
    data["corrections"] = {key: note.strip() for key, note in corrections.items()}
    _write(response, data, actor)
    target = RequestState.REJECTED if corrections else RequestState.ACCEPTED
    request.state, request.decided_by, request.decided_at = target, actor, utcnow()
    request.rejection_reason = None
    title = request.display_title
    if corrections:
        audit.record("questionnaire.corrections_asked", actor=actor, case=case,
                     target=str(request.uuid), questions=sorted(corrections))
        text = lambda: ngettext(  # noqa: E731
            "Your attorney asked you to correct %(num)d answer in %(title)s.",
            "Your attorney asked you to correct %(num)d answers in %(title)s.",
            len(corrections), title=title)
        notify.queue_request_returned(request.addressee.email, request.addressee.language,
                                      requests.case_link(case))
    else:
        audit.record("questionnaire.accepted", actor=actor, case=case, target=str(request.uuid))
        text = lambda: _("Your attorney accepted your answers to %(title)s.",  # noqa: E731
                         title=title)
    requests.record_event(actor, case, request, "questionnaire.reviewed", text)
    db.session.commit()


def change_answer(actor: User, case: Case, request: DocumentRequest, section: Section,
                  form: MultiDict, why: str, seen_version: int) -> SectionAnswers:
    """The firm changes one answer of ``section`` (the form holds one
    question's fields), saying ``why``: kept with who and when, audited
    (the question, never the answer). Returns what was read; with
    ``errors`` nothing was stored."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if not why.strip():
        raise ServiceError(_l("Please say why you change this answer."))
    response = response_of(request)
    if seen_version != response.version:
        raise Changed(_l("These answers were changed by someone else a moment ago. Nothing "
                         "was lost: please look at them again."))
    keys = {name[2:].split("-")[0] for name in form if name.startswith("q-")}
    own = {q.key for q in section.questions}
    if len(keys) != 1 or not keys <= own:
        raise ServiceError(_l("This form does not match the questionnaire. Nothing was saved."))
    data = read(response)
    result = read_section(questionnaire_of(request), section, form, data["answers"], keys,
                          today_for(actor))
    if result.errors:
        return result
    (key,) = keys
    data["answers"].update(result.answers)
    data["history"].append({"question": key, "by": actor.id, "at": utcnow().isoformat(),
                            "why": why.strip()})
    _write(response, data, actor)
    audit.record("questionnaire.answer_changed", actor=actor, case=case,
                 target=str(request.uuid), question=key)
    db.session.commit()
    return result
