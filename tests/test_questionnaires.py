"""Questionnaires: the shipped definitions load and follow the rules; the
firm sends one like a request; the person answers a section a page (saved
encrypted, errors tied to fields, crafted posts refused whole); the firm
reviews, asks for corrections that reopen exactly those answers, accepts
(locking them), changes one with a reason, and exports PDF and JSON."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (AuditEvent, DocumentRequest, OutboxMessage, QuestionnaireResponse,
                           RequestState, Role)
from portal.questionnaires import definitions, services
from portal.questionnaires.definitions import Question, get_questionnaire, questionnaires
from tests.conftest import PASSWORD

BENEFICIARY = "hp_beneficiary"


def signed_in(app, user):
    browser = app.test_client()
    assert browser.submit("/login", {"email": user.email,
                                     "password": PASSWORD}).status_code == 302
    return browser


@pytest.fixture()
def people(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es")
    sponsor = make_user(Role.SPONSOR)
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor], stage="intake")
    return {"attorney": attorney, "client": client, "sponsor": sponsor, "case": case}


def send(app, people, key=BENEFICIARY, to="client") -> DocumentRequest:
    firm = signed_in(app, people["attorney"])
    pair = f"{key}:{people[to].uuid}"
    due = (date.today() + timedelta(days=7)).isoformat()
    response = firm.submit(f"/cases/{people['case'].uuid}/questionnaires",
                           {"pair": pair, "due_on": due})
    assert response.status_code == 303, response.text
    return db.session.scalar(select(DocumentRequest).where(
        DocumentRequest.questionnaire_key == key, DocumentRequest.addressee == people[to]))


def sample(question: Question, n: int = 0) -> dict[str, str]:
    """Form fields answering ``question`` well, named as the page names them."""
    name = f"q-{question.key}"
    if question.is_group:
        fields = {}
        for field in question.fields:
            for part, value in sample(field).items():
                fields[part.replace(f"q-{field.key}", f"{name}-0-{field.key}")] = value
        return fields
    values = {"text": f"Answer {n}", "long_text": "A longer answer.\nOn two lines.",
              "date": "1980-05-17" if question.date_rule != "future"
              else (date.today() + timedelta(days=30)).isoformat(),
              "yes_no": "yes", "country": "VE", "phone": "+58 212 555 0101",
              "email": "rosa@example.org", "number": "3", "money": "25,000.50"}
    if question.type == "address":
        return {f"{name}-street": "Calle 5 #12", f"{name}-city": "Caracas",
                f"{name}-country": "VE"}
    if question.type == "choice":
        return {name: question.choices[0].value}
    return {name: values[question.type]}


def section_post(section, answers: dict | None = None) -> dict[str, str]:
    """Good answers to every question of ``section`` that applies given the
    sample answers (a yes/no is "yes", a choice its first option)."""
    chosen = {q.key: sample(q).get(f"q-{q.key}") for s in _all_sections() for q in s.questions}
    form = {}
    for n, question in enumerate(section.questions):
        condition = question.shown_if
        if condition is None or chosen.get(condition.question) in condition.values:
            form.update(sample(question, n))
    form.update(answers or {})
    return form


def _all_sections():
    return [s for q in questionnaires().values() for s in q.sections]


def section_url(case, req, section_key: str) -> str:
    return f"/cases/{case.uuid}/questionnaires/{req.uuid}/sections/{section_key}"


def stored(req) -> dict:
    db.session.expire_all()
    return services.read(services.response_of(req))


def answer_everything(browser, case, req) -> None:
    for section in get_questionnaire(req.questionnaire_key).sections:
        response = browser.submit(section_url(case, req, section.key), section_post(section))
        assert response.status_code == 303, (section.key, response.text[:3000])


# --- the definitions ------------------------------------------------------------

def test_the_shipped_questionnaires_load_and_cover_both_case_types():
    found = questionnaires()
    assert {(q.case_type, q.addressed_to) for q in found.values()} >= {
        ("humanitarian_parole", "client"), ("humanitarian_parole", "sponsor"),
        ("visitor_visa_214b", "client")}
    beneficiary = found[BENEFICIARY]
    types = {q.type for q in beneficiary.questions().values()}
    assert {"group", "date", "yes_no", "country"} <= types
    assert any(q.shown_if for q in beneficiary.questions().values())
    assert any(q.form_item and q.form_item.startswith("I-131")
               for q in beneficiary.questions().values())


@pytest.mark.parametrize("broken, why", [
    ('type = "colour"', "unknown type"),
    ('type = "text"\nshown_if = { question = "later", equals = "yes" }', "shown_if"),
    ('type = "group"\nmax_rows = 500\n[[sections.questions.fields]]\nkey = "f"\ntype = "text"\n'
     'label = "F"', "max_rows"),
])
def test_a_definition_breaking_a_rule_is_refused(tmp_path, broken, why):
    path = tmp_path / "broken.toml"
    path.write_text('key = "broken"\ncase_type = "humanitarian_parole"\naddressed_to = "client"\n'
                    'title = "T"\n[[sections]]\nkey = "one"\ntitle = "One"\n'
                    f'[[sections.questions]]\nkey = "first"\nlabel = "First"\n{broken}\n'
                    '[[sections.questions]]\nkey = "later"\ntype = "yes_no"\nlabel = "L"\n')
    with pytest.raises(ValueError, match=why):
        definitions._load(path)


# --- sending --------------------------------------------------------------------

def test_the_attorney_sends_it_like_a_request_and_the_client_sees_it_first(app, people):
    req = send(app, people)
    assert req.kind == "questionnaire" and req.state is RequestState.REQUESTED
    assert db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.recipient == people["client"].email)) is not None
    page = signed_in(app, people["client"]).get(f"/cases/{people['case'].uuid}").text
    needed = page[page.index('id="needed-heading"'):]
    assert f"/questionnaires/{req.uuid}" in needed
    assert "Responder las preguntas" in needed or "Answer the questions" in needed
    # The stage's "what you need to do" points at the list.
    assert 'href="#needed-heading"' in page


def test_a_questionnaire_goes_only_to_the_person_it_is_for(app, people):
    firm = signed_in(app, people["attorney"])
    case = people["case"]
    # The supporter's questionnaire is not offered for the client, and is refused if posted.
    response = firm.submit(f"/cases/{case.uuid}/questionnaires",
                           {"pair": f"hp_supporter:{people['client'].uuid}"})
    assert response.status_code == 200 and "Not a valid choice" in response.text
    with pytest.raises(Exception, match="not for this person"):
        services.send(people["attorney"], case, get_questionnaire("hp_supporter"),
                      people["client"], None)
    # Another case type's questionnaire does not fit this case.
    with pytest.raises(Exception, match="not for this person"):
        services.send(people["attorney"], case, get_questionnaire("vv_applicant"),
                      people["client"], None)
    assert db.session.scalar(select(DocumentRequest.id)) is None


def test_nobody_but_the_person_and_the_firm_team_reads_the_answers(app, people, make_user,
                                                                   make_case):
    req = send(app, people)
    case = people["case"]
    outsider_client = make_user(Role.CLIENT)
    make_case(client=outsider_client)
    other_attorney = make_user(Role.ATTORNEY)
    for person in (people["sponsor"], outsider_client):
        browser = signed_in(app, person)
        for path in ("", "/review", f"/sections/{get_questionnaire(BENEFICIARY).sections[0].key}",
                     "/answers", "/answers.json"):
            response = browser.get(f"/cases/{case.uuid}/questionnaires/{req.uuid}{path}")
            assert response.status_code == 404, (person.role, path)
    # The sponsor's page does not list the client's questionnaire at all.
    assert str(req.uuid) not in signed_in(app, people["sponsor"]).get(
        f"/cases/{case.uuid}").text
    # The client sees that a sponsor was sent a questionnaire, never the sponsor's answers.
    supporter = send(app, people, "hp_supporter", to="sponsor")
    client = signed_in(app, people["client"])
    for path in ("", "/review", "/sections/identity"):
        assert client.get(f"/cases/{case.uuid}/questionnaires/{supporter.uuid}{path}"
                          ).status_code == 404, path
    # A firm member off the case's team does not read it either.
    assert signed_in(app, other_attorney).get(
        f"/cases/{case.uuid}/questionnaires/{req.uuid}/answers").status_code == 404
    # The client does not reach the firm's review or exports.
    client = signed_in(app, people["client"])
    assert client.get(f"/cases/{case.uuid}/questionnaires/{req.uuid}/answers").status_code == 403
    assert client.get(
        f"/cases/{case.uuid}/questionnaires/{req.uuid}/answers.pdf").status_code == 403


# --- answering ------------------------------------------------------------------

def test_a_section_saves_encrypted_and_the_person_comes_back_where_they_left(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    client = signed_in(app, people["client"])
    first, second = questionnaire.sections[0], questionnaire.sections[1]
    page = client.get(section_url(case, req, first.key)).text
    # Translators' progress line: "1 de 7 secciones" in Spanish.
    assert f"1 de {len(questionnaire.sections)} secciones" in page
    form = section_post(first, {f"q-{first.questions[0].key}": "Morales Pérez"})
    response = client.submit(section_url(case, req, first.key), form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(section_url(case, req, second.key))
    assert stored(req)["answers"][first.questions[0].key] == "Morales Pérez"
    raw = db.session.scalar(select(QuestionnaireResponse.data))
    assert "Morales".encode() not in raw and "Pérez".encode() not in raw
    # Leaving and coming back: the start link opens the first section not yet saved.
    again = client.get(f"/cases/{case.uuid}/questionnaires/{req.uuid}")
    assert again.headers["Location"].endswith(section_url(case, req, second.key))
    # The saved answer is on the page again.
    assert "Morales Pérez" in client.get(section_url(case, req, first.key)).text


def test_a_draft_kept_for_later_may_leave_answers_empty_but_not_wrong(app, people):
    req = send(app, people)
    case, first = people["case"], get_questionnaire(BENEFICIARY).sections[0]
    client = signed_in(app, people["client"])
    name = first.questions[0].key
    response = client.submit(section_url(case, req, first.key),
                             {f"q-{name}": "Morales", "action": "leave"})
    assert response.status_code == 303
    data = stored(req)
    assert data["answers"][name] == "Morales" and first.key not in data["done"]


def test_a_missing_required_answer_keeps_the_section_and_says_which(app, people):
    req = send(app, people)
    case, first = people["case"], get_questionnaire(BENEFICIARY).sections[0]
    required = next(q for q in first.questions if q.required and not q.shown_if)
    form = section_post(first)
    form[f"q-{required.key}"] = ""
    before = db.session.scalar(select(QuestionnaireResponse.version))
    response = signed_in(app, people["client"]).submit(section_url(case, req, first.key), form)
    assert response.status_code == 400
    assert f'href="#q-{required.key}' in response.text  # the summary links to the field
    assert f'id="q-{required.key}-error"' in response.text
    assert f'aria-describedby="q-{required.key}-hint q-{required.key}-error"' in response.text \
        or f'aria-describedby="q-{required.key}-error"' in response.text
    db.session.expire_all()
    assert db.session.scalar(select(QuestionnaireResponse.version)) == before


@pytest.mark.parametrize("day, message", [
    (lambda: (date.today() + timedelta(days=1)).isoformat(), "no puede estar en el futuro"),
    (lambda: "2023-02-30", "no existe"),
    (lambda: "17/05/1980", "año-mes-día"),
])
def test_a_date_of_birth_in_the_future_or_impossible_is_refused(app, people, day, message):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    birth = next(q for q in questionnaire.questions().values()
                 if q.type == "date" and q.date_rule == "past")
    section = questionnaire.section_of(birth.key)
    form = section_post(section, {f"q-{birth.key}": day()})
    response = signed_in(app, people["client"]).submit(section_url(case, req, section.key), form)
    assert response.status_code == 400 and message in response.text
    assert stored(req)["answers"] == {}


def test_a_crafted_post_answering_another_page_or_questionnaire_is_refused_whole(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    first, last = questionnaire.sections[0], questionnaire.sections[-1]
    client = signed_in(app, people["client"])
    supporter_question = next(key for key in get_questionnaire("hp_supporter").questions()
                              if key not in questionnaire.questions())
    for extra in ({f"q-{last.questions[0].key}": "x"}, {f"q-{supporter_question}": "x"},
                  {f"q-{first.questions[0].key}-street": "x"}):
        response = client.submit(section_url(case, req, first.key),
                                 {**section_post(first), **extra})
        assert response.status_code == 400, extra
        assert "no coincide con el cuestionario" in response.text
    assert stored(req)["answers"] == {}


def test_a_repeating_group_states_its_limit_and_refuses_more_rows(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    group = next(q for q in questionnaire.questions().values() if q.is_group)
    section = questionnaire.section_of(group.key)
    client = signed_in(app, people["client"])
    page = client.get(section_url(case, req, section.key)).text
    # Controlled groups are shown only after their answer: answer it first.
    form = section_post(section)
    field = group.fields[0]
    rows = {f"q-{group.key}-{n}-{field.key}": f"Row {n}" for n in range(500)}
    response = client.submit(section_url(case, req, section.key), {**form, **rows})
    assert response.status_code == 400
    assert f"{group.max_rows}" in response.text and "como máximo" in response.text
    assert group.key not in stored(req)["answers"]
    assert f"Puede añadir hasta {group.max_rows}" in page or str(group.max_rows) in page


def test_add_another_row_stores_nothing_and_keeps_what_was_typed(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    group = next(q for q in questionnaire.questions().values() if q.is_group)
    section = questionnaire.section_of(group.key)
    form = {**section_post(section), "action": f"add:{group.key}"}
    response = signed_in(app, people["client"]).submit(section_url(case, req, section.key), form)
    assert response.status_code == 200
    assert f'name="q-{group.key}-1-{group.fields[0].key}"' in response.text
    assert "Answer 0" in response.text or "Row" in response.text or "value=" in response.text
    assert stored(req)["answers"] == {}


def test_an_answer_to_a_question_that_does_not_apply_is_refused(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    # A question whose condition is an answer on the same page.
    dependent = next(q for s in questionnaire.sections for q in s.questions
                     if q.shown_if and q.shown_if.question in {o.key for o in s.questions}
                     and not q.is_group)
    section = questionnaire.section_of(dependent.key)
    controller = questionnaire.questions()[dependent.shown_if.question]
    other = "no" if controller.type == "yes_no" else next(
        c.value for c in controller.choices if c.value not in dependent.shown_if.values)
    form = section_post(section, {f"q-{controller.key}": other, f"q-{dependent.key}": "x"})
    form.update(sample(dependent))
    response = signed_in(app, people["client"]).submit(section_url(case, req, section.key), form)
    assert response.status_code == 400 and "no corresponde" in response.text
    assert stored(req)["answers"] == {}


# --- submitting and the review loop ---------------------------------------------

def test_the_whole_loop_submit_correct_one_answer_accept_and_change(app, people, mailbox):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    client, firm = signed_in(app, people["client"]), signed_in(app, people["attorney"])
    base = f"/cases/{case.uuid}/questionnaires/{req.uuid}"
    # Sending before answering says what is missing.
    assert "Faltan " in client.submit(f"{base}/review", {}).text
    answer_everything(client, case, req)
    assert client.submit(f"{base}/review", {}).status_code == 303
    db.session.refresh(req)
    assert req.state is RequestState.SUBMITTED
    # Submitted: the person can no longer change anything.
    first = questionnaire.sections[0]
    assert client.submit(section_url(case, req, first.key),
                         section_post(first)).status_code == 302
    # The firm's queue lists it; the attorney asks for one correction.
    assert f"{base}/answers" in firm.get("/requests").text
    target = first.questions[0]
    version = db.session.scalar(select(QuestionnaireResponse.version))
    response = firm.submit(f"{base}/answers", {"version": version, f"fix-{target.key}": "1",
                                               f"note-{target.key}": "Use the passport spelling"})
    assert response.status_code == 303
    db.session.refresh(req)
    assert req.state is RequestState.REJECTED
    # Exactly that answer reopens: its section is offered, another answer there is refused.
    assert client.get(base).headers["Location"].endswith(section_url(case, req, first.key))
    page = client.get(section_url(case, req, first.key)).text
    assert "Use the passport spelling" in page and f'name="q-{target.key}"' in page
    locked = first.questions[1]
    assert f'name="q-{locked.key}"' not in page
    refused = client.submit(section_url(case, req, first.key),
                            {f"q-{target.key}": "MORALES", f"q-{locked.key}": "changed"})
    assert refused.status_code == 400
    assert client.submit(section_url(case, req, first.key),
                         {f"q-{target.key}": "MORALES"}).status_code == 303
    assert client.submit(f"{base}/review", {}).status_code == 303
    # Accepted: everything locks.
    version = db.session.scalar(select(QuestionnaireResponse.version))
    assert firm.submit(f"{base}/answers", {"version": version}).status_code == 303
    db.session.refresh(req)
    assert req.state is RequestState.ACCEPTED
    assert stored(req)["answers"][target.key] == "MORALES"
    # A later change by the firm is kept with who and why, and audited.
    version = db.session.scalar(select(QuestionnaireResponse.version))
    response = firm.submit(f"{base}/answers/{target.key}",
                           {"version": version, f"q-{target.key}": "Morales",
                            "why": "Client phoned: typo"})
    assert response.status_code == 303
    data = stored(req)
    assert data["answers"][target.key] == "Morales"
    assert data["history"][-1]["why"] == "Client phoned: typo"
    assert data["history"][-1]["by"] == people["attorney"].id
    assert "Client phoned: typo" in firm.get(f"{base}/answers").text
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"questionnaire.sent", "questionnaire.submitted", "questionnaire.corrections_asked",
            "questionnaire.accepted", "questionnaire.answer_changed"} <= actions


def test_a_reopened_answer_whose_condition_is_locked_is_shown_without_the_script_hint(app,
                                                                                   people):
    """A question that applies only after an answer on its page, reopened
    alone: the locked answer decides on the server, so the page shows the
    question plainly (no data-shown-if for the script to hide it by)."""
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    client, firm = signed_in(app, people["client"]), signed_in(app, people["attorney"])
    base = f"/cases/{case.uuid}/questionnaires/{req.uuid}"
    answer_everything(client, case, req)
    assert client.submit(f"{base}/review", {}).status_code == 303
    section = next(s for s in questionnaire.sections
                   if any(q.shown_if and q.shown_if.question in {o.key for o in s.questions}
                          for q in s.questions))
    dependent = next(q for q in section.questions if q.shown_if
                     and q.shown_if.question in {o.key for o in section.questions}
                     and not q.is_group and q.type == "text")
    version = db.session.scalar(select(QuestionnaireResponse.version))
    assert firm.submit(f"{base}/answers", {"version": version, f"fix-{dependent.key}": "1",
                                           f"note-{dependent.key}": "Check it"}
                       ).status_code == 303
    page = client.get(section_url(case, req, section.key)).text
    assert f'name="q-{dependent.key}"' in page
    assert "data-shown-if" not in page
    assert client.submit(section_url(case, req, section.key),
                         {f"q-{dependent.key}": "X1234567"}).status_code == 303
    assert stored(req)["answers"][dependent.key] == "X1234567"


def test_a_change_without_a_reason_is_refused(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    target = questionnaire.sections[0].questions[0]
    version = db.session.scalar(select(QuestionnaireResponse.version))
    response = signed_in(app, people["attorney"]).submit(
        f"/cases/{case.uuid}/questionnaires/{req.uuid}/answers/{target.key}",
        {"version": version, f"q-{target.key}": "X", "why": ""})
    assert response.status_code == 400
    assert stored(req)["answers"] == {}


def test_the_exports_are_keyed_by_form_items_and_audited(app, people):
    req = send(app, people)
    case, questionnaire = people["case"], get_questionnaire(BENEFICIARY)
    answer_everything(signed_in(app, people["client"]), case, req)
    firm = signed_in(app, people["attorney"])
    base = f"/cases/{case.uuid}/questionnaires/{req.uuid}"
    exported = json.loads(firm.get(f"{base}/answers.json").data)
    item = next(q for q in questionnaire.questions().values()
                if q.form_item and q.type == "text" and not q.shown_if)
    assert exported["items"][item.form_item][item.key] == stored(req)["answers"][item.key]
    assert exported["case"] == case.reference
    pdf = firm.get(f"{base}/answers.pdf")
    assert pdf.data.startswith(b"%PDF") and "attachment" in pdf.headers["Content-Disposition"]
    formats = [e.details.get("format") for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "questionnaire.exported"))]
    assert sorted(formats) == ["json", "pdf"]
