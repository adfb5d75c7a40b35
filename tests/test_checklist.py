"""The case type's checklist: proposed per person, edited and sent in one
step, read by each person in their own language."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, DocumentRequest, OutboxMessage, Role, TimelineEvent
from tests.conftest import PASSWORD
from portal.requests import services
from tests.forms import form_values
from tests.uploads import PDF, upload

I134 = "Form I-134 with tax return and proof of income and assets"
PASSPORT = "Passport or national ID of the beneficiary"
# The Spanish catalog's wording of PASSPORT (a template item is stored in English).
PASSPORT_ES = "Pasaporte o documento nacional de identidad del beneficiario"


@pytest.fixture()
def parole(app, make_user, make_case):
    """A parole case with its attorney, a Spanish-speaking client and two sponsors."""
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es")
    sponsors = [make_user(Role.SPONSOR), make_user(Role.SPONSOR)]
    case = make_case(attorney=attorney, client=client, sponsors=sponsors)
    return {"attorney": attorney, "client": client, "sponsors": sponsors, "case": case}


def signed_in(app, user):
    c = app.test_client()
    assert c.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return c


def rows(values: dict[str, str]) -> list[dict[str, str]]:
    """The checklist rows of a page's form values, in order."""
    count = 1 + max(int(k.split("-")[1]) for k in values if k.startswith("rows-"))
    return [{field: values.get(f"rows-{i}-{field}", "")
             for field in ("include", "title", "instructions", "addressee", "due_on", "required")}
            for i in range(count)]


def as_form(rows_: list[dict[str, str]], **extra) -> dict[str, str]:
    data = dict(extra)
    for i, row in enumerate(rows_):
        data.update({f"rows-{i}-{k}": v for k, v in row.items() if v})
    return data


def open_checklist(c, case):
    page = c.get(f"/cases/{case.uuid}/requests/checklist")
    assert page.status_code == 200
    return page, rows(form_values(page.text))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_proposal_asks_each_sponsor_for_their_own_i134(app, parole):
    attorney = signed_in(app, parole["attorney"])
    case_page = attorney.get(f"/cases/{parole['case'].uuid}").text
    assert "Start collecting" in case_page
    _page, proposed = open_checklist(attorney, parole["case"])
    i134 = [r for r in proposed if r["title"] == I134]
    assert sorted(r["addressee"] for r in i134) == sorted(str(s.uuid) for s in parole["sponsors"])
    client_rows = [r for r in proposed if r["title"] and r["title"] != I134]
    assert len(client_rows) == 9
    assert {r["addressee"] for r in client_rows} == {str(parole["client"].uuid)}
    assert all(r["include"] and r["required"] for r in i134 + client_rows)
    blanks = [r for r in proposed if not r["title"]]
    assert len(blanks) == 3


def test_a_case_without_sponsor_leaves_the_i134_unticked_with_a_note(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY)
    case = make_case(attorney=attorney, client=make_user(Role.CLIENT))
    page, proposed = open_checklist(signed_in(app, attorney), case)
    (i134,) = [r for r in proposed if r["title"] == I134]
    assert not i134["include"] and not i134["addressee"]
    assert "Nobody on the case can provide this yet" in page.text


def test_sending_the_edited_checklist_in_one_step(app, parole, mailbox):
    case, client = parole["case"], parole["client"]
    attorney = signed_in(app, parole["attorney"])
    _page, proposed = open_checklist(attorney, case)
    due = (date.today() + timedelta(days=14)).isoformat()
    for row in proposed:
        if row["title"] and row["title"] not in (PASSPORT, I134):
            row["include"] = ""  # dropped
    edited = next(r for r in proposed if r["title"] == PASSPORT)
    edited["due_on"] = (date.today() + timedelta(days=5)).isoformat()
    # A one-off in a blank row, optional, in the attorney's own words.
    blank = next(r for r in proposed if not r["title"])
    blank.update(title="Fotos de la familia juntos", instructions="Dos o tres, de cualquier año.",
                 required="")
    response = attorney.submit(f"/cases/{case.uuid}/requests/checklist",
                               as_form(proposed, due_on_all=due))
    assert response.status_code == 303

    sent = {(r.title, r.addressee_id): r for r in db.session.scalars(select(DocumentRequest))}
    assert set(sent) == {(PASSPORT, client.id), ("Fotos de la familia juntos", client.id)} | {
        (I134, s.id) for s in parole["sponsors"]}
    assert sent[(PASSPORT, client.id)].due_on == date.today() + timedelta(days=5)
    assert sent[(I134, parole["sponsors"][0].id)].due_on.isoformat() == due
    assert sent[("Fotos de la familia juntos", client.id)].required is False
    # One email per person, however many requests they got; one audit record per request.
    recipients = [m.recipient for m in db.session.scalars(select(OutboxMessage))]
    assert sorted(recipients) == sorted([client.email] + [s.email for s in parole["sponsors"]])
    assert count(AuditEvent, AuditEvent.action == "request.created") == 4
    # One timeline entry the client reads, in Spanish.
    (event,) = db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.kind == "request.created"))
    assert event.client_text == "Su abogado pidió 2 documentos."

    # The client reads the template item in Spanish and the one-off as typed, on the case
    # page and on the request's own page (with its instructions and the upload form).
    family = signed_in(app, client)
    page = family.get(f"/cases/{case.uuid}").text
    assert PASSPORT_ES in page and PASSPORT not in page
    assert "Fotos de la familia juntos" in page
    photos = sent[("Fotos de la familia juntos", client.id)]
    page = family.get(f"/cases/{case.uuid}/requests/{photos.uuid}/upload").text
    assert "Fotos de la familia juntos" in page and "Dos o tres, de cualquier año." in page

    # Sent items are proposed again unticked, marked as already asked.
    page, again = open_checklist(attorney, case)
    assert not next(r for r in again if r["title"] == PASSPORT)["include"]
    assert "Already asked of" in page.text


@pytest.mark.parametrize("fault, message", [
    ("past_due", "The due date is in the past"),
    ("nobody", "Please choose who must provide it."),
])
def test_one_bad_row_sends_nothing_and_says_which(app, parole, mailbox, fault, message):
    case = parole["case"]
    attorney = signed_in(app, parole["attorney"])
    _page, proposed = open_checklist(attorney, case)
    if fault == "past_due":
        proposed[4]["due_on"] = (date.today() - timedelta(days=1)).isoformat()
    else:
        proposed[4]["addressee"] = ""
    response = attorney.submit(f"/cases/{case.uuid}/requests/checklist", as_form(proposed))
    assert response.status_code == 200
    assert message in response.text
    # The error sits on the fifth row, and the attorney's edits are kept.
    fifth = response.text.split("Document 5")[1].split("Document 6")[0]
    assert message in fifth
    assert rows(form_values(response.text))[4]["title"] == proposed[4]["title"]
    assert count(DocumentRequest) == 0 and count(OutboxMessage) == 0


def test_nothing_ticked_is_refused(app, parole):
    attorney = signed_in(app, parole["attorney"])
    _page, proposed = open_checklist(attorney, parole["case"])
    for row in proposed:
        row["include"] = ""
    response = attorney.submit(f"/cases/{parole['case'].uuid}/requests/checklist",
                               as_form(proposed))
    assert response.status_code == 200 and "Nothing was selected to send." in response.text
    assert count(DocumentRequest) == 0


@pytest.mark.parametrize("who", ["client", "sponsor"])
def test_clients_and_sponsors_cannot_send_a_checklist(app, parole, who):
    user = parole["client"] if who == "client" else parole["sponsors"][0]
    c = signed_in(app, user)
    assert c.get(f"/cases/{parole['case'].uuid}/requests/checklist").status_code == 403
    response = c.submit(f"/cases/{parole['case'].uuid}/requests/checklist",
                        {"rows-0-include": "y", "rows-0-title": "x",
                         "rows-0-addressee": str(user.uuid)})
    assert response.status_code == 403 and count(DocumentRequest) == 0


def test_earlier_files_of_a_request_are_marked_replaced(app, parole):
    case, client = parole["case"], parole["client"]
    request = services.create_request(parole["attorney"], case, addressee=client,
                                      title="Passport bio page", instructions="",
                                      due_on=None, required=True)
    family = signed_in(app, client)
    url = f"/cases/{case.uuid}/requests/{request.uuid}/uploads"
    answer = f"/cases/{case.uuid}/requests/{request.uuid}/upload"  # the request's own page
    upload(family, url, [("first.pdf", [PDF])])
    services.decide(parole["attorney"], case, request, "reject", "Blurred.")
    assert "no aceptado" in line_of("first.pdf", family.get(answer).text)
    upload(family, url, [("second.pdf", [PDF])])
    page = family.get(answer).text
    assert "reemplazado por un archivo más reciente" in line_of("first.pdf", page)
    assert "reemplazado" not in line_of("second.pdf", page)
    # The firm sees the same on its review panel, in its own language.
    page = signed_in(app, parole["attorney"]).get(f"/cases/{case.uuid}").text
    assert "replaced by a newer file" in line_of("first.pdf", page)
    assert "replaced" not in line_of("second.pdf", page)


def line_of(filename: str, page: str) -> str:
    """The list item that names ``filename``."""
    return re.search(rf"<li(?:\s[^>]*)?>((?:(?!</li>).)*{re.escape(filename)}.*?)</li>", page, re.S)[1]


# --- the first checklist at intake --------------------------------------------------

ADVANCE = "Also move the case to “Gathering evidence”"


def only(proposed, *titles):
    """The proposal with only the rows titled ``titles`` ticked."""
    for row in proposed:
        if row["title"] not in titles:
            row["include"] = ""
    return proposed


def test_the_first_checklist_at_intake_moves_the_case_on_with_one_email_each(app, parole):
    case, client = parole["case"], parole["client"]
    case.stage = "intake"
    db.session.commit()
    attorney = signed_in(app, parole["attorney"])
    page, proposed = open_checklist(attorney, case)
    values = form_values(page.text)
    assert ADVANCE in page.text and values["advance"] == "y"  # offered, ticked
    response = attorney.submit(f"/cases/{case.uuid}/requests/checklist",
                               as_form(only(proposed, PASSPORT, I134), advance="y",
                                       version=values["version"]))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(type(case), case.id).stage == "gathering_evidence"
    # The client was asked for a document: that email is the only one they get.
    recipients = sorted(m.recipient for m in db.session.scalars(select(OutboxMessage)))
    assert recipients == sorted([client.email] + [s.email for s in parole["sponsors"]])
    assert count(AuditEvent, AuditEvent.action == "case.stage_changed") == 1
    page = signed_in(app, client).get(f"/cases/{case.uuid}").text
    assert "Suba los documentos que le ha pedido su abogado." in page  # the new stage's to-do
    assert "firme el acuerdo" not in page  # intake's "sign the engagement letter"


def test_unticked_the_case_stays_at_intake(app, parole):
    case = parole["case"]
    case.stage = "intake"
    db.session.commit()
    attorney = signed_in(app, parole["attorney"])
    page, proposed = open_checklist(attorney, case)
    attorney.submit(f"/cases/{case.uuid}/requests/checklist",
                    as_form(only(proposed, PASSPORT), version=form_values(page.text)["version"]))
    db.session.expire_all()
    assert db.session.get(type(case), case.id).stage == "intake"
    assert count(DocumentRequest) == 1


def test_asking_sponsors_only_still_tells_the_client_the_case_moved(app, parole):
    case, client = parole["case"], parole["client"]
    case.stage = "intake"
    db.session.commit()
    attorney = signed_in(app, parole["attorney"])
    page, proposed = open_checklist(attorney, case)
    attorney.submit(f"/cases/{case.uuid}/requests/checklist",
                    as_form(only(proposed, I134), advance="y",
                            version=form_values(page.text)["version"]))
    kinds = {(m.recipient, m.template) for m in db.session.scalars(select(OutboxMessage))}
    assert (client.email, "case_update") in kinds
    assert not any(r == client.email and t == "request_new" for r, t in kinds)


def test_a_stale_checklist_that_moves_the_case_saves_nothing(app, parole):
    case = parole["case"]
    case.stage = "intake"
    db.session.commit()
    attorney = signed_in(app, parole["attorney"])
    page, proposed = open_checklist(attorney, case)
    seen = form_values(page.text)["version"]
    colleague = signed_in(app, parole["attorney"])  # another tab moves the case meanwhile
    colleague.submit(f"/cases/{case.uuid}/stage", {"stage": "preparing_filing",
                                                         "version": seen})
    response = attorney.submit(f"/cases/{case.uuid}/requests/checklist",
                               as_form(only(proposed, PASSPORT), advance="y", version=seen))
    assert "Someone else changed this case while you were working on it." in response.text
    assert count(DocumentRequest) == 0
    db.session.expire_all()
    assert db.session.get(type(case), case.id).stage == "preparing_filing"


def test_past_intake_the_checklist_does_not_offer_to_move_the_case(app, parole):
    page, _rows = open_checklist(signed_in(app, parole["attorney"]), parole["case"])
    assert "Also move the case to" not in page.text
