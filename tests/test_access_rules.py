"""Access rules the matrix cannot see: objects of one case asked for under
another case's address, denials that must leave a trace, and withdrawal of
versions that are no longer available.

Each test fails when the rule it names is removed from portal/cases/permissions.py and portal/evidence/permissions.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, DocumentVersion, VersionStatus
from tests.conftest import PASSWORD
from tests.uploads import PDF, flashes, upload


@pytest.fixture()
def two_cases(app, make_user, make_case):
    """Cases A and B of one attorney, each with a client who uploaded a
    document, and a sponsor in case A."""
    attorney = make_user("attorney")
    people = {"attorney": attorney, "staff": make_user("staff"), "admin": make_user("admin"),
              "client_a": make_user("client"), "client_b": make_user("client"),
              "sponsor_a": make_user("sponsor")}
    cases = {"a": make_case(attorney=attorney, client=people["client_a"],
                            sponsors=[people["sponsor_a"]]),
             "b": make_case(attorney=attorney, client=people["client_b"])}
    for name in ("a", "b"):
        browser = signed_in(app, people[f"client_{name}"])
        upload(browser, f"/cases/{cases[name].uuid}/documents",
               [(f"{name}.pdf", [PDF + name.encode()])])
    versions = {v.filename[0]: v for v in db.session.scalars(select(DocumentVersion))}
    return people, cases, versions


def signed_in(app, user):
    """A fresh browser signed in as ``user``."""
    browser = app.test_client()
    response = browser.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return browser


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


# --- objects are looked up through the case in the address ------------------

@pytest.mark.parametrize("who", ["attorney", "staff", "admin"])
def test_document_and_version_of_case_b_are_404_under_case_a(app, two_cases, who):
    """Someone who may open both cases still gets 404 when B's document or
    version is asked for under A's address: a link can never mix two cases
    (get_document_or_404 / get_version_or_404 filter by the case)."""
    people, cases, versions = two_cases
    browser = signed_in(app, people[who])
    a, b, version_b = cases["a"].uuid, cases["b"].uuid, versions["b"]
    document_b = version_b.document.uuid
    # Under its own case the same user opens both: the 404s below are not
    # about who they are.
    assert browser.get(f"/cases/{b}/documents/{document_b}").status_code == 200
    assert browser.get(f"/cases/{b}/versions/{version_b.uuid}/download").status_code == 200

    assert browser.get(f"/cases/{a}/documents/{document_b}").status_code == 404
    assert browser.get(f"/cases/{a}/versions/{version_b.uuid}/download").status_code == 404
    assert browser.submit(f"/cases/{a}/versions/{version_b.uuid}/withdraw", {"confirmed": "yes"}).status_code == 404
    assert browser.submit(f"/cases/{a}/versions/{version_b.uuid}/purge",
                          {"reason": "wrong case"}).status_code == 404
    replaced = upload(browser, f"/cases/{a}/documents/{document_b}/versions",
                      [("other.pdf", [PDF])])
    assert replaced.status_code == 404
    db.session.refresh(version_b)
    assert version_b.status is VersionStatus.AVAILABLE
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 2


# --- denials of existing hidden objects are audited --------------------------

def test_sponsor_asking_for_the_clients_document_is_denied_and_audited(app, two_cases):
    people, cases, versions = two_cases
    sponsor, case = people["sponsor_a"], cases["a"]
    document = versions["a"].document
    browser = signed_in(app, sponsor)
    assert browser.get(f"/cases/{case.uuid}/documents").status_code == 200  # the case is theirs
    response = browser.get(f"/cases/{case.uuid}/documents/{document.uuid}")
    assert response.status_code == 404
    (denied,) = audit_events("document.access_denied")
    assert (denied.actor_id, denied.case_id, denied.target) == (
        sponsor.id, case.id, str(document.uuid))


@pytest.mark.parametrize("kind", ["case", "document", "version"])
def test_every_kind_of_hidden_object_is_audited_when_denied(app, two_cases, kind):
    """A guess at someone else's case, document or version leaves the same
    trace: who asked, in which case, for what."""
    people, cases, versions = two_cases
    case, version = cases["a"], versions["a"]
    if kind == "case":
        who, url = people["client_b"], f"/cases/{case.uuid}"
    elif kind == "document":
        who, url = people["sponsor_a"], f"/cases/{case.uuid}/documents/{version.document.uuid}"
    else:
        who, url = people["sponsor_a"], f"/cases/{case.uuid}/versions/{version.uuid}/download"
    assert signed_in(app, who).get(url).status_code == 404
    (denied,) = audit_events(f"{kind}.access_denied")
    assert denied.actor_id == who.id and denied.case_id == case.id


@pytest.mark.parametrize("method, url", [("GET", "/admin/users"), ("GET", "/admin/users/new"),
                                         ("POST", "/admin/users/new")])
def test_forbidden_page_is_audited_as_access_denied(app, two_cases, method, url):
    people, _, _ = two_cases
    client = people["client_a"]
    browser = signed_in(app, client)
    response = (browser.get(url) if method == "GET" else
                browser.submit(url, {"email": "x@example.org", "name": "X", "role": "admin"}))
    assert response.status_code == 403
    (denied,) = audit_events("access.denied")
    assert denied.actor_id == client.id


# --- only an available version can be withdrawn --------------------------------

@pytest.mark.parametrize("first", ["withdraw", "purge"])
def test_a_version_no_longer_available_cannot_be_withdrawn_by_its_uploader(app, two_cases, first):
    """The firm still sees withdrawn and purged versions, so their uploader
    can post the withdraw form again; it must change nothing: a purged file
    must never come back as "withdrawn" (a status that claims an object)."""
    people, cases, _ = two_cases
    admin, case = people["admin"], cases["a"]
    browser = signed_in(app, admin)
    upload(browser, f"/cases/{case.uuid}/documents", [("firm-note.pdf", [PDF])])
    version = db.session.scalar(select(DocumentVersion).where(
        DocumentVersion.filename == "firm-note.pdf"))
    if first == "withdraw":
        browser.submit(f"/cases/{case.uuid}/versions/{version.uuid}/withdraw", {"confirmed": "yes"})
        expected = VersionStatus.WITHDRAWN
    else:
        browser.submit(f"/cases/{case.uuid}/versions/{version.uuid}/purge", {"reason": "test"})
        expected = VersionStatus.PURGED
    db.session.refresh(version)
    assert version.status is expected
    changed_at, withdrawals = version.status_changed_at, len(audit_events("document.withdrawn"))

    response = browser.submit(f"/cases/{case.uuid}/versions/{version.uuid}/withdraw", {"confirmed": "yes"})
    assert response.status_code == 303
    (message,) = flashes(browser.get(response.headers["Location"]).text)
    assert message == "This file was already withdrawn or removed."  # not the success notice
    db.session.refresh(version)
    assert version.status is expected and version.status_changed_at == changed_at
    assert len(audit_events("document.withdrawn")) == withdrawals
