"""The audit browser: admins page through the whole trail (newest first,
keyset pages of 50) with filters and export it as CSV; the attorneys who run
a case read that case's trail. Who may open which page is in the access
matrix (tests/test_access_matrix.py)."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from portal import audit
from portal.audit_trail import services
from portal.extensions import db
from portal.models import AuditEvent
from tests.statements import statements_during


@pytest.fixture()
def firm(app, make_user, make_case):
    """An admin in New York, an attorney running case A (not B), staff, and
    A's client."""
    admin = make_user("admin", timezone="America/New_York")
    lawyer, other, client_user = make_user("attorney"), make_user("attorney"), make_user("client")
    case_a = make_case(attorney=lawyer, client=client_user, reference="HP-2026-0101")
    case_b = make_case(attorney=other, reference="HP-2026-0202")
    return dict(admin=admin, lawyer=lawyer, client=client_user, staff=make_user("staff"),
                a=case_a, b=case_b)


def signed_in(app, user):
    browser = app.test_client()
    browser.submit("/login", {"email": user.email, "password": "quiet-otter-mountain-river-7"})
    return browser


def targets(page: str) -> list[str]:
    """The test events' targets, in the order the page lists them."""
    return re.findall(r"<td[^>]*>(t-\d+)</td>", page)


def older_link(page: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)">Older</a>', page)
    return html.unescape(found.group(1)) if found else None


def record_many(count: int, **fields) -> None:
    for n in range(count):
        audit.record("test.event", target=f"t-{n}", n=n, **fields)
    db.session.commit()


def test_the_trail_is_shown_newest_first_fifty_a_page(app, firm):
    record_many(120, actor=firm["lawyer"], case=firm["a"])
    browser = signed_in(app, firm["admin"])
    seen, url = [], "/admin/audit"
    while url:
        page = browser.get(url).text
        assert len(targets(page)) <= services.PAGE_SIZE
        seen.append(targets(page))
        url = older_link(page)
    # Pages of 50, 50 and 20 (the admin's sign-in sits above the first), nothing twice.
    assert [len(p) for p in seen] == [49, 50, 21]
    assert sum(seen, []) == [f"t-{n}" for n in reversed(range(120))]


def test_a_row_shows_when_who_what_case_target_address_and_details(app, firm):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        audit.record("document.downloaded", actor=firm["lawyer"], case=firm["a"],
                     target="t-1", size=12).occurred_at = datetime(2026, 3, 1, 3, 0,
                                                                  tzinfo=timezone.utc)
        db.session.commit()
    page = html.unescape(signed_in(app, firm["admin"]).get("/admin/audit").text)
    row = re.search(r"<tr>(?:(?!</tr>).)*t-1(?:(?!</tr>).)*</tr>", page, re.S).group(0)
    # 03:00 UTC is the evening before in New York, the admin's clock.
    assert "Feb 28, 2026, 10:00:00" in row
    for shown in (firm["lawyer"].name, firm["lawyer"].email, "document.downloaded",
                  "HP-2026-0101", "198.51.100.7", "size=12"):
        assert shown in row


def test_filters_narrow_the_trail(app, firm):
    audit.record("document.viewed", actor=firm["lawyer"], case=firm["a"], target="t-1")
    audit.record("document.downloaded", actor=firm["client"], case=firm["a"], target="t-2")
    audit.record("document.downloaded", actor=firm["lawyer"], case=firm["b"], target="t-3")
    audit.record("auth.login", actor=firm["lawyer"], target="t-4")
    db.session.commit()
    # New York's 28 February ends at 05:00 UTC on 1 March.
    for when, target in ((datetime(2026, 3, 1, 4, 59, tzinfo=timezone.utc), "t-5"),
                         (datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc), "t-6")):
        audit.record("case.updated", case=firm["b"], target=target).occurred_at = when
    db.session.commit()
    browser = signed_in(app, firm["admin"])

    def shown(query: str) -> list[str]:
        response = browser.get("/admin/audit?" + query)
        assert response.status_code == 200
        return targets(response.text)
    assert shown("person=" + firm["lawyer"].email.upper()) == ["t-4", "t-3", "t-1"]
    assert shown("case=hp-2026-0101") == ["t-2", "t-1"]
    assert shown("action=document.") == ["t-3", "t-2", "t-1"]
    assert shown("action=document.downloaded&case=HP-2026-0202") == ["t-3"]
    assert shown("action=doc%25") == []  # a prefix, not a pattern
    assert shown("since=2026-02-28&until=2026-02-28") == ["t-5"]
    assert shown("since=2026-03-01&until=2026-03-01") == ["t-6"]
    assert browser.get("/admin/audit?since=yesterday").status_code == 400


def test_the_older_link_keeps_the_filters(app, firm):
    record_many(60, actor=firm["lawyer"])
    record_many(5, actor=firm["client"])
    browser = signed_in(app, firm["admin"])
    first = browser.get("/admin/audit?person=" + firm["lawyer"].email).text
    assert len(targets(first)) == 50
    rest = targets(browser.get(older_link(first)).text)
    assert rest == [f"t-{n}" for n in reversed(range(10))]


@pytest.mark.parametrize("args", ["", "?action=test.&case=HP-2026-0101", "?before=1000"])
def test_a_page_takes_the_same_number_of_statements_for_10_or_300_events(app, firm, args):
    browser = signed_in(app, firm["admin"])

    def page() -> None:
        assert browser.get("/admin/audit" + args).status_code == 200
    record_many(10, actor=firm["lawyer"], case=firm["a"])
    few = statements_during(page)
    record_many(290, actor=firm["client"], case=firm["a"])
    assert statements_during(page) == few


def test_the_export_streams_the_filtered_trail_in_chunks_and_is_audited(
        app, firm, monkeypatch):
    monkeypatch.setattr(services, "EXPORT_CHUNK", 4)  # several chunks from a few rows
    record_many(10, actor=firm["lawyer"], case=firm["a"])
    record_many(3, actor=firm["client"], case=firm["b"])
    response = signed_in(app, firm["admin"]).get(
        "/admin/audit.csv?case=HP-2026-0101&before=5")  # a page's start does not cut it
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="audit-trail-\d{4}-\d\d-\d\d\.csv"',
                        response.headers["Content-Disposition"])
    heading, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert heading[:3] == ["Sequence", "When (UTC)", "Person"]
    assert [row[6] for row in rows] == [f"t-{n}" for n in reversed(range(10))]
    stored = {e.sequence: e.content_hash for e in db.session.scalars(select(AuditEvent))}
    assert all(row[9] == stored[int(row[0])] for row in rows)  # checkable against the chain
    (exported,) = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "audit.exported"))
    assert exported.actor_id == firm["admin"].id
    assert exported.details == {"filters": {"case": "HP-2026-0101"}}


def test_the_export_never_hands_a_spreadsheet_a_formula(app, firm):
    # What someone typed as their email at the sign-in page lands in the trail.
    audit.record("auth.login_failed", target='=HYPERLINK("http://evil.example","x")')
    audit.record("auth.login_failed", target="@SUM(1)")
    db.session.commit()
    text = signed_in(app, firm["admin"]).get("/admin/audit.csv?action=auth.login_failed")
    rows = list(csv.reader(io.StringIO(text.get_data(as_text=True))))[1:]
    assert [row[6] for row in rows] == ["'@SUM(1)", "'=HYPERLINK(\"http://evil.example\",\"x\")"]


def test_an_attorney_reads_the_trail_of_the_case_they_run_only(app, firm):
    audit.record("document.viewed", actor=firm["client"], case=firm["a"], target="t-1")
    audit.record("document.viewed", actor=firm["client"], case=firm["b"], target="t-2")
    audit.record("auth.login", actor=firm["client"], target="t-3")
    db.session.commit()
    browser = signed_in(app, firm["lawyer"])
    case_page = browser.get(f"/cases/{firm['a'].uuid}").text
    assert f'href="/cases/{firm["a"].uuid}/audit"' in case_page
    page = browser.get(f"/cases/{firm['a'].uuid}/audit").text
    assert targets(page) == ["t-1"]
    assert "Audit trail of HP-2026-0101" in page
    # Another case's reference in the address changes nothing.
    assert targets(browser.get(f"/cases/{firm['a'].uuid}/audit?case=HP-2026-0202").text) == [
        "t-1"]
    assert browser.get(f"/cases/{firm['b'].uuid}/audit").status_code == 404


@pytest.mark.parametrize("who", ["client", "staff"])
def test_the_case_page_links_the_trail_only_for_those_who_may_read_it(app, firm, who):
    page = signed_in(app, firm[who]).get(f"/cases/{firm['a'].uuid}").text
    assert f"/cases/{firm['a'].uuid}/audit" not in page


def test_the_accounts_page_links_the_audit_trail(app, firm):
    assert 'href="/admin/audit"' in signed_in(app, firm["admin"]).get("/admin/users").text
