"""Stale forms (issue 17, item 2): a decision or a stage change posted from a
page loaded before someone else changed the request or the case is refused,
the person is told it changed meanwhile, and nothing is saved.

Each test loads the page in one reviewer's browser, keeps the form as the
browser would send it, lets a colleague (or the client) change things, then
posts the kept form. Other stale forms are covered elsewhere: a stale reject
(tests/test_requests.py), stage move (tests/test_stages.py), case edit
(tests/test_case_lifecycle.py), USCIS forms (tests/test_uscis.py) and team
removal (tests/test_case_team.py)."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from portal.cases import stages
from portal.extensions import db
from portal.models import (AuditEvent, Case, DocumentRequest, OutboxMessage, RequestState,
                           TimelineEvent)
from portal.requests import services
from tests.conftest import PASSWORD
from tests.forms import form_values
from tests.uploads import PDF, flashes, upload, versions

CASE_CHANGED = ("Someone else changed this case while you were working on it. Nothing was "
                "saved; here is the case as it is now.")


@pytest.fixture()
def people(app, make_user, make_case):
    lawyer, client_user = make_user("attorney"), make_user("client")
    case = make_case(attorney=lawyer, client=client_user, stage="filed")
    return dict(lawyer=lawyer, colleague=make_user("staff"), client=client_user, case=case)


def browser(app, user):
    """A test client of its own, signed in as ``user`` through the real form."""
    session = app.test_client()
    assert session.submit("/login", {"email": user.email,
                                     "password": PASSWORD}).status_code == 302
    return session


def kept_form(page: str, action: str, containing: str = "") -> dict[str, str]:
    """The fields of the form posting to ``action`` (the one holding
    ``containing``) as the browser would send it from ``page``."""
    forms = [f for f in re.findall(r"<form\b[^>]*>.*?</form>", page, re.S)
             if f'action="{action}"' in f and containing in f]
    assert len(forms) == 1, f"{len(forms)} forms post to {action} with {containing!r}"
    return form_values(forms[0])


def told(session, case) -> list[str]:
    """The messages flashed to ``session`` on the case page it lands on."""
    return [html.unescape(t) for t in flashes(session.get(f"/cases/{case.uuid}").text)]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def actions(prefix: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like(f"{prefix}%")).order_by(AuditEvent.id)))


def snapshot(document_request: DocumentRequest) -> tuple:
    """What a decision writes: the request's row, its events, audits and emails."""
    db.session.expire_all()
    row = db.session.get(DocumentRequest, document_request.id)
    return (row.state, row.decided_by_id, row.decided_at, row.rejection_reason,
            [v.id for v in row.versions], count(TimelineEvent), count(OutboxMessage),
            [a for a in actions("request.") if a != "request.decision_conflict"])


# --- document request decisions ------------------------------------------------------

@pytest.fixture()
def asked(app, people):
    """A request to the client, answered with a file: received, waiting for review."""
    case = people["case"]
    document_request = services.create_request(
        people["lawyer"], case, addressee=people["client"], title="Passport bio page",
        instructions="", due_on=None, required=True)
    send_file(app, people, document_request, "passport.pdf")
    return document_request


def send_file(app, people, document_request, name: str) -> None:
    case = people["case"]
    response = upload(browser(app, people["client"]),
                      f"/cases/{case.uuid}/requests/{document_request.uuid}/uploads",
                      [(name, [PDF + name.encode()])])
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(DocumentRequest, document_request.id).state is RequestState.SUBMITTED


def decision_url(case, document_request) -> str:
    return f"/cases/{case.uuid}/requests/{document_request.uuid}/decision"


def stale_decision(app, people, document_request, decision: str) -> tuple:
    """The reviewer's browser and the ``decision`` form of the page it loaded now."""
    case = people["case"]
    reviewer = browser(app, people["lawyer"])
    page = reviewer.get(f"/cases/{case.uuid}").text
    form = kept_form(page, decision_url(case, document_request),
                     f'name="decision" value="{decision}"')
    return reviewer, form


def test_a_stale_accept_after_a_colleague_accepted_and_reopened_accepts_nothing(
        app, people, asked):
    """Accept is taken only from "received, to be reviewed": the request,
    reopened since, waits for a new upload and must not read as accepted."""
    case, colleague = people["case"], people["colleague"]
    reviewer, accept = stale_decision(app, people, asked, "accept")
    services.decide(colleague, case, asked, "accept")
    services.decide(colleague, case, asked, "reopen")
    before = snapshot(asked)
    assert before[0] is RequestState.REQUESTED

    response = reviewer.post(decision_url(case, asked), data=accept)
    assert response.status_code == 303
    assert told(reviewer, case) == ["This request is now waiting for an upload; nothing was "
                                    "changed."]
    assert snapshot(asked) == before
    assert actions("request.decision_conflict") == ["request.decision_conflict"]


def test_a_stale_reopen_after_the_client_sent_a_fresh_file_keeps_it_for_review(
        app, people, asked):
    """Reopen is taken only from "accepted" or "waived": the client's fresh
    upload, waiting for review, must not be thrown back."""
    case, colleague = people["case"], people["colleague"]
    services.decide(colleague, case, asked, "accept")
    reviewer, reopen = stale_decision(app, people, asked, "reopen")
    services.decide(colleague, case, asked, "reopen")
    send_file(app, people, asked, "passport-new.pdf")
    before = snapshot(asked)

    response = reviewer.post(decision_url(case, asked), data=reopen)
    assert response.status_code == 303
    assert told(reviewer, case) == ["This request is now received, to be reviewed; nothing "
                                    "was changed."]
    assert snapshot(asked) == before
    assert [v.filename for v in versions()] == ["passport.pdf", "passport-new.pdf"]
    # The fresh file is still offered for review on the page.
    page = reviewer.get(f"/cases/{case.uuid}").text
    kept_form(page, decision_url(case, asked), 'name="decision" value="accept"')


@pytest.mark.parametrize("first", ["accept", "waive"])
def test_a_stale_waive_after_a_colleague_decided_changes_nothing(app, people, asked, first):
    """Waive is taken only while the request is open: an accepted file, or a
    request already waived, stays as the colleague left it."""
    case = people["case"]
    reviewer, waive = stale_decision(app, people, asked, "waive")
    services.decide(people["colleague"], case, asked, first)
    before = snapshot(asked)

    reviewer.post(decision_url(case, asked), data=waive)
    state = services.STATE_LABELS[before[0]]
    assert told(reviewer, case) == [f"This request is now {state}; nothing was changed."]
    assert snapshot(asked) == before


def test_a_stale_accept_after_a_rejection_and_a_new_upload_does_not_accept_the_unseen_file(
        app, people, asked):
    """The reviewer looked at the first file; a colleague rejected it and the
    client sent another. Accepting from the old page would accept a file
    nobody at the firm has looked at."""
    case = people["case"]
    reviewer, accept = stale_decision(app, people, asked, "accept")
    services.decide(people["colleague"], case, asked, "reject", "The photo page is cut off.")
    send_file(app, people, asked, "passport-retake.pdf")
    before = snapshot(asked)

    reviewer.post(decision_url(case, asked), data=accept)
    assert told(reviewer, case) == ["A new file arrived for this request after you loaded the "
                                    "page; nothing was changed. Look at it before you decide."]
    assert snapshot(asked) == before


def test_a_stale_reject_after_a_colleague_waived_keeps_the_reason_unsaved(app, people, asked):
    case = people["case"]
    reviewer, reject = stale_decision(app, people, asked, "reject")
    services.decide(people["colleague"], case, asked, "waive")
    before = snapshot(asked)

    reviewer.post(decision_url(case, asked), data=dict(reject, reason="The scan is blurry."))
    assert told(reviewer, case) == ["This request is now no longer needed; nothing was changed."]
    assert snapshot(asked) == before and before[3] is None


# --- closing and reopening the case ----------------------------------------------------
# The close form is one form for both: the route closes an open case and
# reopens a closed one, so the version the page was loaded with is all that
# stops a stale "Close" from reopening, or a stale "Reopen" from closing.

def case_state(case: Case) -> tuple:
    db.session.expire_all()
    row = db.session.get(Case, case.id)
    return row.version, row.stage, row.closed_on, count(TimelineEvent), actions("case.")


@pytest.mark.parametrize("colleague_does", ["closes", "moves the stage"])
def test_a_stale_close_form_changes_nothing(app, people, colleague_does):
    case, colleague = people["case"], people["colleague"]
    reviewer = browser(app, people["lawyer"])
    page = reviewer.get(f"/cases/{case.uuid}").text
    assert "Close the case" in page
    close = kept_form(page, f"/cases/{case.uuid}/close")
    if colleague_does == "closes":
        stages.close_case(colleague, case, case.version, "Client withdrew.")
    else:
        stages.move_stage(colleague, case, "receipt_received", case.version)
    before = case_state(case)

    response = reviewer.post(f"/cases/{case.uuid}/close",
                             data=dict(close, reason="Duplicate of another case."))
    assert response.status_code == 303
    assert told(reviewer, case) == [CASE_CHANGED]
    assert case_state(case) == before


@pytest.mark.parametrize("colleague_does", ["reopens", "reopens and closes again"])
def test_a_stale_reopen_form_changes_nothing(app, people, colleague_does):
    case, colleague = people["case"], people["colleague"]
    stages.close_case(colleague, case, case.version, "Client withdrew.")
    reviewer = browser(app, people["lawyer"])
    page = reviewer.get(f"/cases/{case.uuid}").text
    assert "Reopen the case" in page
    reopen = kept_form(page, f"/cases/{case.uuid}/close")
    stages.reopen_case(colleague, case, case.version, "Client came back.")
    if colleague_does == "reopens and closes again":
        stages.close_case(colleague, case, case.version, "Client withdrew again.")
    before = case_state(case)

    response = reviewer.post(f"/cases/{case.uuid}/close",
                             data=dict(reopen, reason="New evidence arrived."))
    assert response.status_code == 303
    assert told(reviewer, case) == [CASE_CHANGED]
    assert case_state(case) == before
