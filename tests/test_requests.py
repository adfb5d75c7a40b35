"""Document requests: the attorney asks, the client and sponsors upload,
the attorney accepts or rejects; notices go through the outbox."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (AuditEvent, DocumentRequest, DocumentVersion, OutboxMessage,
                           RequestState, Role, StoredObject, TimelineEvent)
from portal.requests import services
from tests.conftest import PASSWORD
from tests.uploads import PDF, flashes, upload


@pytest.fixture()
def people(app, make_user, make_case):
    """A case with an assigned attorney, a client (in Spanish) and two sponsors."""
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es", timezone="America/Caracas")
    sponsor = make_user(Role.SPONSOR)
    other_sponsor = make_user(Role.SPONSOR)
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor, other_sponsor],
                     title="Surgery for Ana")
    return {"attorney": attorney, "client": client, "sponsor": sponsor,
            "other_sponsor": other_sponsor, "case": case}


def browser(app, user):
    c = app.test_client()
    response = c.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return c


def ask(c, case, addressee, title, **extra):
    data = {"title": title, "instructions": "Please send all pages.",
            "addressee": str(addressee.uuid), "required": "y", **extra}
    return c.submit(f"/cases/{case.uuid}/requests", data)


def request_named(title) -> DocumentRequest:
    return db.session.scalar(select(DocumentRequest).where(DocumentRequest.title == title))


def decide(c, case, req, decision, reason=""):
    return c.submit(f"/cases/{case.uuid}/requests/{req.uuid}/decision",
                    {"decision": decision, "reason": reason})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_request_loop_from_asking_to_accepting(app, people, mailbox):
    case = people["case"]
    attorney = browser(app, people["attorney"])
    assert ask(attorney, case, people["sponsor"], "I-134 with tax returns").status_code == 303
    assert ask(attorney, case, people["client"], "Passport bio page",
               due_on=(date.today() + timedelta(days=10)).isoformat()).status_code == 303
    to_sponsor, to_client = request_named("I-134 with tax returns"), request_named("Passport bio page")
    assert {m["To"] for m in mailbox.messages} == {people["sponsor"].email, people["client"].email}

    # The sponsor sees only their own request, and uploads to it.
    sponsor = browser(app, people["sponsor"])
    page = sponsor.get(f"/cases/{case.uuid}").text
    assert "What we need from you" in page and "I-134 with tax returns" in page
    assert "Passport bio page" not in page and "Surgery for Ana" not in page
    assert upload(sponsor, f"/cases/{case.uuid}/requests/{to_sponsor.uuid}/uploads",
                  [("tax-return-2025.pdf", [PDF])]).status_code == 303
    # The client uploads a wrong file.
    client = browser(app, people["client"])
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads",
           [("wrong-scan.pdf", [PDF])])
    db.session.expire_all()
    assert to_sponsor.state is RequestState.SUBMITTED and to_client.state is RequestState.SUBMITTED
    assert [v.filename for v in to_client.versions] == ["wrong-scan.pdf"]
    # The client sees that the sponsor's request exists, not the sponsor's file.
    client_page = client.get(f"/cases/{case.uuid}").text
    assert "tax-return-2025.pdf" not in client_page
    # Each submission told the attorney team (the assigned attorney).
    assert sum(m["To"] == people["attorney"].email for m in mailbox.messages) == 2

    # The attorney rejects the client's file with a reason; the client reads it.
    assert decide(attorney, case, to_client, "reject", "The photo page is cut off.").status_code == 303
    db.session.expire_all()
    assert to_client.state is RequestState.REJECTED
    page = client.get(f"/cases/{case.uuid}").text
    assert "The photo page is cut off." in page
    # The client uploads again; the rejected file stays visible to the firm.
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads",
           [("passport-full.pdf", [PDF])])
    db.session.expire_all()
    assert to_client.state is RequestState.SUBMITTED
    assert [v.filename for v in to_client.versions] == ["wrong-scan.pdf", "passport-full.pdf"]
    assert len({v.document_id for v in to_client.versions}) == 1  # versions of one document
    firm_page = attorney.get(f"/cases/{case.uuid}").text
    assert "wrong-scan.pdf" in firm_page and "passport-full.pdf" in firm_page

    decide(attorney, case, to_client, "accept")
    db.session.expire_all()
    assert to_client.state is RequestState.ACCEPTED and to_client.decided_by == people["attorney"]
    # Translated catalogs may not hold the sentence yet: match its numbers.
    page = client.get(f"/cases/{case.uuid}").text
    assert re.search(r'class="progress-line">[^<]*\b1\b[^<]*\b2\b', page)

    # Every change is on the timeline and in the audit trail.
    kinds = db.session.scalars(select(TimelineEvent.kind)).all()
    assert kinds.count("request.created") == 2 and "request.reject" in kinds
    assert "request.accept" in kinds
    actions = db.session.scalars(select(AuditEvent.action)).all()
    for action in ("request.created", "request.submitted", "request.reject", "request.accept"):
        assert action in actions
    # The sponsor's request is the firm's business: nothing about it reaches the client's timeline.
    client_texts = " ".join(db.session.scalars(select(TimelineEvent.client_text)))
    assert "I-134" not in client_texts and "Passport bio page" in client_texts
    # Nor an empty entry: the client's timeline lists only what is meant for them.
    hidden = db.session.scalars(select(TimelineEvent).where(
        TimelineEvent.client_visible.is_(False))).all()
    assert hidden and all(e.client_text == "" for e in hidden)
    assert client.get(f"/cases/{case.uuid}").text.count("<time ") == (
        db.session.scalar(select(func.count()).select_from(TimelineEvent)) - len(hidden))

    # Mail went through the outbox, and no body names a request or a file.
    assert count(OutboxMessage) == len(mailbox.messages) == 6
    for message in mailbox.messages:
        body = message.get_content()
        for secret in ("I-134", "Passport", "passport", "wrong-scan", "tax-return",
                       "Surgery", "cut off", case.reference):
            assert secret not in body and secret not in message["Subject"]
    rejection_notice = [m for m in mailbox.messages if m["To"] == people["client"].email][-1]
    assert mailbox.links(rejection_notice) == [f"http://portal.test/cases/{case.uuid}"]


@pytest.fixture()
def asked(app, people):
    """Two requests made through the service: one to the client, one to the sponsor."""
    case = people["case"]
    to_client = services.create_request(people["attorney"], case, addressee=people["client"],
                                        title="Medical records", instructions="", due_on=None,
                                        required=True)
    to_sponsor = services.create_request(people["attorney"], case, addressee=people["sponsor"],
                                         title="Pay stubs", instructions="", due_on=None,
                                         required=True)
    return to_client, to_sponsor


def stored_counts():
    return count(DocumentVersion), count(StoredObject)


@pytest.mark.parametrize("decision", ["accept", "waive"])
def test_upload_to_a_closed_request_is_refused_and_stores_nothing(app, people, asked, decision):
    case, (to_client, _) = people["case"], asked
    client = browser(app, people["client"])
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads", [("a.pdf", [PDF])])
    attorney = browser(app, people["attorney"])
    decide(attorney, case, to_client, decision)
    before = stored_counts()
    response = upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads",
                      [("b.pdf", [PDF])])
    assert response.status_code == 303
    # Refused before the body is read, with the request's state named, in the client's Spanish.
    state = {"accept": "aceptado", "waive": "ya no es necesario"}[decision]
    assert f"en estado «{state}», así que no admite más archivos" in \
        " ".join(flashes(client.get(f"/cases/{case.uuid}").text))
    assert "request.upload_refused" in db.session.scalars(select(AuditEvent.action)).all()
    assert stored_counts() == before
    assert len(list(app.extensions["storage"].list_objects(""))) == before[1] == 1


def test_upload_to_someone_elses_request_is_refused_and_stores_nothing(app, people, asked):
    case, (to_client, to_sponsor) = people["case"], asked
    # The other sponsor cannot even see the first sponsor's request.
    other = browser(app, people["other_sponsor"])
    assert upload(other, f"/cases/{case.uuid}/requests/{to_sponsor.uuid}/uploads",
                  [("x.pdf", [PDF])]).status_code == 404
    # The sponsor cannot see the client's request.
    sponsor = browser(app, people["sponsor"])
    assert upload(sponsor, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads",
                  [("x.pdf", [PDF])]).status_code == 404
    # The client sees the sponsor's request but cannot answer it.
    client = browser(app, people["client"])
    assert upload(client, f"/cases/{case.uuid}/requests/{to_sponsor.uuid}/uploads",
                  [("x.pdf", [PDF])]).status_code == 403
    # Nor does the firm upload in the person's name.
    attorney = browser(app, people["attorney"])
    assert upload(attorney, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads",
                  [("x.pdf", [PDF])]).status_code == 403
    assert stored_counts() == (0, 0)
    db.session.expire_all()
    assert to_sponsor.state is RequestState.REQUESTED and to_client.state is RequestState.REQUESTED
    denied = db.session.scalars(select(AuditEvent.action)).all()
    assert denied.count("request.access_denied") == 2


def test_sponsor_sees_only_requests_addressed_to_them(app, people, asked):
    case = people["case"]
    other = browser(app, people["other_sponsor"])
    page = other.get(f"/cases/{case.uuid}").text
    assert "Pay stubs" not in page and "Medical records" not in page
    assert "Nothing is needed from you right now." in page


def test_rejection_without_a_reason_changes_nothing(app, people, asked):
    case, (to_client, _) = people["case"], asked
    client = browser(app, people["client"])
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads", [("a.pdf", [PDF])])
    attorney = browser(app, people["attorney"])
    # The case page is shown again, the error beside the reason (tests/test_form_errors.py).
    refused = decide(attorney, case, to_client, "reject", "   ")
    assert refused.status_code == 200
    assert f'id="request-{to_client.uuid}-decision-reason-error"' in refused.text
    assert "Please say why the file is rejected" in refused.text
    db.session.expire_all()
    assert to_client.state is RequestState.SUBMITTED and to_client.rejection_reason is None


def test_due_date_in_the_past_is_refused(app, people):
    case = people["case"]
    attorney = browser(app, people["attorney"])
    ask(attorney, case, people["client"], "Old", due_on=(date.today() - timedelta(days=2)).isoformat())
    assert count(DocumentRequest) == 0 and count(OutboxMessage) == 0


def test_client_and_sponsor_cannot_create_or_decide_requests(app, people, asked):
    case, (to_client, to_sponsor) = people["case"], asked
    client = browser(app, people["client"])
    assert ask(client, case, people["client"], "Self-made").status_code == 403
    assert decide(client, case, to_client, "waive").status_code == 403
    sponsor = browser(app, people["sponsor"])
    assert ask(sponsor, case, people["sponsor"], "Self-made").status_code == 403
    assert decide(sponsor, case, to_sponsor, "waive").status_code == 403
    assert count(DocumentRequest) == 2
    db.session.expire_all()
    assert to_client.state is RequestState.REQUESTED and to_sponsor.state is RequestState.REQUESTED


def test_services_refuse_people_outside_the_attorney_team(app, people, asked):
    case, (to_client, _) = people["case"], asked
    for outsider in (people["client"], people["sponsor"]):
        with pytest.raises(services.ServiceError):
            services.create_request(outsider, case, addressee=people["client"], title="X",
                                    instructions="", due_on=None, required=True)
        with pytest.raises(services.ServiceError):
            services.decide(outsider, case, to_client, "waive")
    db.session.rollback()
    assert count(DocumentRequest) == 2
    assert db.session.get(DocumentRequest, to_client.id).state is RequestState.REQUESTED


def test_request_goes_only_to_the_client_or_a_sponsor_of_the_case(app, people, make_user):
    stranger = make_user(Role.CLIENT)
    with pytest.raises(services.ServiceError):
        services.create_request(people["attorney"], people["case"], addressee=stranger,
                                title="X", instructions="", due_on=None, required=True)
    with pytest.raises(services.ServiceError):
        services.create_request(people["attorney"], people["case"], addressee=people["attorney"],
                                title="X", instructions="", due_on=None, required=True)
    assert count(DocumentRequest) == 0


def test_two_reviewers_deciding_at_once_one_wins_the_other_is_told(app, people, asked,
                                                                   make_user):
    case, (to_client, _) = people["case"], asked
    client = browser(app, people["client"])
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads", [("a.pdf", [PDF])])
    # Both reviewers have the page with the submitted request open.
    first, second = browser(app, people["attorney"]), browser(app, make_user(Role.STAFF))
    assert "Reject" in first.get(f"/cases/{case.uuid}").text
    assert "Reject" in second.get(f"/cases/{case.uuid}").text
    decide(first, case, to_client, "accept")
    decide(second, case, to_client, "reject", "Blurry")
    told = " ".join(flashes(second.get(f"/cases/{case.uuid}").text))
    assert "This request is now accepted; nothing was changed." in told
    db.session.expire_all()
    assert to_client.state is RequestState.ACCEPTED and to_client.rejection_reason is None
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("request.accept") == 1 and "request.reject" not in actions
    assert "request.decision_conflict" in actions


def test_waived_request_can_be_reopened_and_answered(app, people, asked):
    case, (to_client, _) = people["case"], asked
    attorney = browser(app, people["attorney"])
    decide(attorney, case, to_client, "waive")
    decide(attorney, case, to_client, "reopen")
    db.session.expire_all()
    assert to_client.state is RequestState.REQUESTED
    client = browser(app, people["client"])
    upload(client, f"/cases/{case.uuid}/requests/{to_client.uuid}/uploads", [("a.pdf", [PDF])])
    db.session.expire_all()
    assert to_client.state is RequestState.SUBMITTED


def test_overdue_request_is_marked_for_the_person(app, people, asked):
    case, (to_client, _) = people["case"], asked
    to_client.due_on = date.today() - timedelta(days=3)  # set directly: creation refuses past dates
    db.session.commit()
    page = browser(app, people["client"]).get(f"/cases/{case.uuid}").text
    assert 'class="due overdue"' in page


def test_a_request_of_another_case_is_404_under_this_case_address(app, people, asked,
                                                                    make_case, make_user):
    """The attorney of both cases asks for case A's request under case B's
    address: 404, as for a request that does not exist, and audited."""
    to_client, _ = asked
    other_case = make_case(attorney=people["attorney"], client=make_user(Role.CLIENT))
    attorney = browser(app, people["attorney"])
    wrong = f"/cases/{other_case.uuid}/requests/{to_client.uuid}/decision"
    assert attorney.submit(wrong, {"decision": "waive"}).status_code == 404
    assert db.session.get(DocumentRequest, to_client.id).state is RequestState.REQUESTED
    assert attorney.submit(f"/cases/{people['case'].uuid}/requests/{to_client.uuid}/decision",
                           {"decision": "waive"}).status_code == 303


def test_an_attorney_not_on_the_case_cannot_run_it_through_the_services(app, people, asked,
                                                                        make_user):
    """Routes already 404 for such an attorney; the services refuse on their own too."""
    to_client, _ = asked
    outsider = make_user(Role.ATTORNEY)
    with pytest.raises(services.ServiceError):
        services.create_request(outsider, people["case"], addressee=people["client"],
                                title="X", instructions="", due_on=None, required=True)
    with pytest.raises(services.ServiceError):
        services.decide(outsider, people["case"], to_client, "waive")
    db.session.rollback()
    assert count(DocumentRequest) == 2
    assert db.session.get(DocumentRequest, to_client.id).state is RequestState.REQUESTED
