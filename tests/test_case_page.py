"""The case page as sections each feature offers (``portal.cases.sections``):
a client's page leads with one line per request they owe and one upload
action each (the upload form is on the request's own page); what they
answered is folded away; the firm's page has links to its sections and its
forms folded behind buttons; the page's work does not grow with the requests;
and ``portal.cases`` imports none of the features it shows."""
from __future__ import annotations

import ast
import html
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import DocumentRequest, RequestState, Role
from tests.conftest import PASSWORD
from tests.statements import statements_during
from tests.uploads import PDF, flashes, upload

CASES_PACKAGE = Path(__file__).resolve().parent.parent / "portal" / "cases"
# The features the case page gathers: they build on portal.cases, never the reverse.
FEATURES_ABOVE = ("portal.requests", "portal.uscis", "portal.messages", "portal.evidence",
                  "portal.agenda", "portal.audit_trail", "portal.admin", "portal.questionnaires",
                  "portal.signing")
FIRM_SECTIONS = ("overview", "requests", "questionnaires", "signatures", "uscis", "people",
                 "documents", "messages", "timeline")


def signed_in(app, user):
    browser = app.test_client()
    response = browser.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return browser


def ask(case, addressee, title, by, state=RequestState.REQUESTED, **fields) -> DocumentRequest:
    """A request saved directly (creation refuses past due dates, which these tests need)."""
    request = DocumentRequest(case=case, addressee=addressee, title=title, created_by=by,
                              state=state, **fields)
    db.session.add(request)
    db.session.commit()
    return request


def part(page: str, start: str, end: str) -> str:
    """The page from the first ``start`` to the next ``end`` ("" if absent)."""
    if start not in page:
        return ""
    rest = page.split(start, 1)[1]
    return rest.split(end, 1)[0]


@pytest.fixture()
def people(make_user, make_case):
    attorney = make_user(Role.ATTORNEY, name="Alice Lawyer")
    client = make_user(Role.CLIENT, name="Carmen Rios")
    sponsor = make_user(Role.SPONSOR, name="Sam Patron")
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor],
                     title="Surgery for Elena")
    return {"attorney": attorney, "client": client, "sponsor": sponsor, "case": case}


@pytest.fixture()
def asked(people):
    """Requests of every kind: three owed by the client (one overdue, one
    whose file was rejected), three answered, and one for the sponsor."""
    case, client, by = people["case"], people["client"], people["attorney"]
    past = date.today() - timedelta(days=3)
    return {
        "passport": ask(case, client, "Passport bio page", by,
                        due_on=date.today() + timedelta(days=9)),
        "letter": ask(case, client, "Hospital letter", by, due_on=past),
        "photo": ask(case, client, "Family photo", by, state=RequestState.REJECTED,
                     rejection_reason="The faces are cut off."),
        "birth": ask(case, client, "Birth certificate", by, state=RequestState.SUBMITTED),
        "marriage": ask(case, client, "Marriage certificate", by, state=RequestState.ACCEPTED),
        "extra": ask(case, client, "Extra letters", by, state=RequestState.SUBMITTED,
                     required=False),
        "i134": ask(case, people["sponsor"], "Form I-134", by),
    }


def test_the_client_page_has_one_upload_link_per_open_request_and_no_upload_form(
        app, people, asked):
    case = people["case"]
    page = signed_in(app, people["client"]).get(f"/cases/{case.uuid}").text
    needed = part(page, '<ul class="needed-list">', "</ul>")
    links = re.findall(r'<a class="button primary" href="([^"]+)" data-upload-form="([^"]+)" '
                       r'data-upload-title="([^"]+)"', needed)
    owed = [asked["letter"], asked["photo"], asked["passport"]]  # overdue, rejected, then by date
    assert links == [(f"/cases/{case.uuid}/requests/{r.uuid}/upload",
                      f"/cases/{case.uuid}/requests/{r.uuid}/uploads", r.title) for r in owed]
    assert needed.count(">Upload</a>") == 3
    # No upload form on the case page, and the long hint of accepted types is not repeated.
    assert "<form" not in part(page, 'id="needed-heading"', "</section>")
    assert 'type="file"' not in page and "multipart/form-data" not in page
    assert "Accepted: " not in page
    # The line says what is late and why a file came back.
    letter = part(needed, f'id="request-{asked["letter"].uuid}"', "</li>")
    assert "Overdue" in letter and "Due by" in letter
    assert "The faces are cut off." in part(needed, f'id="request-{asked["photo"].uuid}"', "</li>")
    assert "Overdue" not in part(needed, f'id="request-{asked["passport"].uuid}"', "</li>")


def test_answered_requests_are_folded_away_with_their_state(app, people, asked):
    page = signed_in(app, people["client"]).get(f"/cases/{people['case'].uuid}").text
    done = part(page, '<details class="done-requests">', "</details>")
    assert "Done (3)" in done
    for key, state in (("birth", "received, to be reviewed"), ("marriage", "accepted"),
                       ("extra", "received, to be reviewed")):
        line = part(done, f'id="request-{asked[key].uuid}"', "</li>")
        assert asked[key].title in line and state in line
    # A file received but not reviewed yet may still be replaced, from the request's page.
    assert "Send another file" in part(done, f'id="request-{asked["birth"].uuid}"', "</li>")
    assert "Send another file" not in part(done, f'id="request-{asked["marriage"].uuid}"', "</li>")
    needed = part(page, '<ul class="needed-list">', "</ul>")
    for key in ("birth", "marriage", "extra"):
        assert asked[key].title not in needed
    # The client sees that the sponsor was asked for something, not what they sent.
    assert "Form I-134" in part(page, '<ul class="requests-others">', "</ul>")
    assert re.search(r'class="progress-line">[^<]*\b1\b[^<]*\b6\b', page)


def test_a_client_page_leads_with_what_we_need_then_where_the_case_stands(app, people, asked):
    page = signed_in(app, people["client"]).get(f"/cases/{people['case'].uuid}").text
    order = ["needed-heading", "stage-heading", "messages-heading", "documents-heading",
             "uscis-heading", "timeline-heading", "people-heading"]
    positions = [page.index(f'id="{heading}"') for heading in order]
    assert positions == sorted(positions)
    assert 'class="case-nav"' not in page  # a short page: no links to its parts


def test_the_sponsor_sees_only_their_own_request_and_its_upload_link(app, people, asked):
    case = people["case"]
    page = signed_in(app, people["sponsor"]).get(f"/cases/{case.uuid}").text
    needed = part(page, '<ul class="needed-list">', "</ul>")
    assert "Form I-134" in needed and needed.count(">Upload</a>") == 1
    for key in ("passport", "letter", "photo", "birth", "marriage"):
        assert asked[key].title not in page
    assert "Surgery for Elena" not in page and 'id="timeline-heading"' not in page
    assert 'id="uscis-heading"' not in page


def test_the_request_page_shows_the_request_and_its_upload_form(app, people, asked):
    case, passport = people["case"], asked["passport"]
    passport.instructions = "The page with the photo, whole and without glare."
    db.session.commit()
    client = signed_in(app, people["client"])
    url = f"/cases/{case.uuid}/requests/{passport.uuid}/upload"
    assert upload(client, f"/cases/{case.uuid}/requests/{passport.uuid}/uploads",
                  [("first-scan.pdf", [PDF])]).status_code == 303
    page = client.get(url).text
    assert "<h1>Passport bio page</h1>" in page
    assert "The page with the photo, whole and without glare." in page
    assert "Due by" in page and "first-scan.pdf, sent on" in page
    form = part(page, '<form method="post" action="/cases/', "</form>")
    assert f'action="/cases/{case.uuid}/requests/{passport.uuid}/uploads"' in page
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in form
    assert page.count("Accepted: ") == 1  # the long hint, once, here
    # After the upload the person is back on the case page, as before.
    response = upload(client, f"/cases/{case.uuid}/requests/{passport.uuid}/uploads",
                      [("second-scan.pdf", [PDF + b"% 2\n"])])
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{case.uuid}")


def test_the_request_page_of_a_closed_request_sends_the_person_back(app, people, asked):
    case, accepted = people["case"], asked["marriage"]
    client = signed_in(app, people["client"])
    response = client.get(f"/cases/{case.uuid}/requests/{accepted.uuid}/upload")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{case.uuid}")
    said = " ".join(html.unescape(f) for f in flashes(client.get(f"/cases/{case.uuid}").text))
    assert "This request is accepted, so it takes no more files." in said


def test_the_request_page_is_for_those_who_may_upload_to_it(app, people, asked, make_user):
    case = people["case"]
    url = f"/cases/{case.uuid}/requests/{{}}/upload"
    sponsor = signed_in(app, people["sponsor"])
    assert sponsor.get(url.format(asked["passport"].uuid)).status_code == 404
    assert sponsor.get(url.format(asked["i134"].uuid)).status_code == 200
    # The client sees that the sponsor's request exists, but does not answer it.
    assert signed_in(app, people["client"]).get(url.format(asked["i134"].uuid)).status_code == 403
    # The firm does not upload in the person's name.
    assert signed_in(app, people["attorney"]).get(
        url.format(asked["passport"].uuid)).status_code == 403
    stranger = signed_in(app, make_user(Role.CLIENT))
    assert stranger.get(url.format(asked["passport"].uuid)).status_code == 404
    assert app.test_client().get(url.format(asked["passport"].uuid)).status_code == 302


def test_the_firm_page_links_to_each_section_and_folds_its_forms(app, people, asked):
    page = signed_in(app, people["attorney"]).get(f"/cases/{people['case'].uuid}").text
    nav = part(page, '<nav class="case-nav" aria-label="Parts of this case">', "</nav>")
    assert re.findall(r'href="#([a-z]+)"', nav) == list(FIRM_SECTIONS)
    for key in FIRM_SECTIONS:
        assert page.count(f'id="{key}"') == 1
    # Every form of the case's own controls waits behind its button, closed.
    for label in ("Move the stage", "Close the case", "Add to the timeline", "Ask for a document",
                  "Record the receipt number", "Add an appointment"):
        assert re.search(r'<details class="fold[^"]*">\s*<summary class="button">'
                         + re.escape(label), page), label
    assert "<details class=\"fold\" open" not in page
    assert 'class="needed-list"' not in page  # the client's list is the client's


@pytest.mark.parametrize("reader", ["attorney", "client"])
def test_the_case_page_costs_the_same_with_3_or_30_requests(app, people, reader):
    case, client, by = people["case"], people["client"], people["attorney"]
    browser, uploader = signed_in(app, people[reader]), signed_in(app, client)
    states = (RequestState.REQUESTED, RequestState.REJECTED, RequestState.ACCEPTED)

    def add(first: int, last: int) -> None:
        for n in range(first, last):
            request = ask(case, client if n % 4 else people["sponsor"], f"Document {n}", by,
                          state=states[n % 3], due_on=date.today() - timedelta(days=n % 2),
                          required=bool(n % 5))
            if n % 3 == 1 and request.addressee == client:  # a file, waiting for a decision
                upload(uploader, f"/cases/{case.uuid}/requests/{request.uuid}/uploads",
                       [(f"scan-{n}.pdf", [PDF + f"% {n}\n".encode()])])

    def page() -> None:
        assert browser.get(f"/cases/{case.uuid}").status_code == 200

    # Each count is of a second page in a row: the first after signing in or
    # after the uploads also reloads what they left expired.
    add(0, 3)
    page()
    few = statements_during(page)
    add(3, 30)
    assert db.session.scalar(select(func.count(DocumentRequest.id))) == 30
    page()
    assert statements_during(page) == few


def _imported_modules(source: Path) -> set[str]:
    """Every module ``source`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_portal_cases_imports_none_of_the_features_it_shows():
    reaching_up = {f"{path.name}: {module}" for path in CASES_PACKAGE.rglob("*.py")
                   for module in _imported_modules(path)
                   if module.startswith(FEATURES_ABOVE)}
    assert not reaching_up, reaching_up
    # Nor through anything it imports: loaded alone, portal.cases loads none of them.
    code = ("import sys, portal.cases.routes, portal.cases.dashboard, portal.cases.page; "
            f"print([m for m in sys.modules if m.startswith({FEATURES_ABOVE!r})])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=CASES_PACKAGE.parent.parent, check=True).stdout.strip()
    assert loaded == "[]"
