"""The firm's dashboard: search, filters, sort orders, pages, counts per
stage, the next deadline of each case and parole periods ending soon, all
within the cases the viewer may see, in a fixed number of queries."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date

from portal.case_types import get_case_type
from portal.cases import dashboard
from portal.cases.dashboard import PER_PAGE, DashboardQuery, firm_dashboard, stage_options
from portal.extensions import db
from portal.models import CaseDeadline, DeadlineKind, DocumentRequest, RequestState, Role
from portal.models.case import UrgencyFlag
from portal.requests.services import today_for
from tests.statements import statements_during
from tests.test_requests import browser


def board(user, **args):
    """The dashboard ``user`` gets for the query string ``args``."""
    return firm_dashboard(user, DashboardQuery.from_args({k: str(v) for k, v in args.items()}),
                          today_for(user))


def refs(result) -> list[str]:
    return [row.case.reference for row in result.rows]


def table_refs(html: str) -> list[str]:
    """The references in the page's case table, in order."""
    table = html.split('<table class="cases stack">', 1)[1] if '<table class="cases stack">' in html else ""
    return re.findall(r'<td [^>]*class="reference"[^>]*><a [^>]*>([^<]+)</a>', table)


@pytest.fixture()
def office(make_user, make_case):
    """An attorney with three open cases and a closed one, another attorney
    with a case whose client and beneficiary share names with the first's,
    and an unassigned case."""
    lawyer = make_user(Role.ATTORNEY, name="Alice Lawyer")
    other = make_user(Role.ATTORNEY, name="Bob Elsewhere")
    maria = make_user(Role.CLIENT, name="Maria Perez")
    john = make_user(Role.CLIENT, name="John Smith")
    sponsor = make_user(Role.SPONSOR, name="Sam Patron")
    cases = {
        "filed": make_case(attorney=lawyer, client=maria, reference="HP-2026-0101",
                           beneficiary_name="Ana Gomez", stage="filed",
                           receipt_number="IOE0912345678"),
        "intake": make_case(attorney=lawyer, client=john, sponsors=[sponsor],
                            reference="HP-2026-0102", beneficiary_name="Boris Ivanov",
                            stage="intake", flags=[UrgencyFlag.LIFE_THREATENING_MEDICAL]),
        "visa": make_case(attorney=lawyer, client=john, reference="VV-2026-0003",
                          case_type="visitor_visa_214b", beneficiary_name="Carla Diaz",
                          stage="gathering_evidence"),
        "closed": make_case(attorney=lawyer, client=maria, reference="HP-2025-0099",
                            beneficiary_name="Dora Closed", stage="closed",
                            closed_on=date(2026, 2, 1)),
        "elsewhere": make_case(attorney=other, client=maria, reference="HP-2026-0104",
                               beneficiary_name="Ana Gomez", stage="filed",
                               receipt_number="IOE0912345679"),
    }
    unassigned = make_case(attorney=other, reference="HP-2026-0105", stage="intake")
    unassigned.assigned_attorney = None
    db.session.commit()
    cases["unassigned"] = unassigned
    return dict(lawyer=lawyer, other=other, maria=maria, john=john, sponsor=sponsor,
                admin=make_user(Role.ADMIN), cases=cases)


# --- search ------------------------------------------------------------------

@pytest.mark.parametrize("q, expected", [
    ("hp-2026-01", ["HP-2026-0101", "HP-2026-0102"]),  # reference prefix, any case
    ("0102", ["HP-2026-0102"]),  # reference, contains
    ("perez", ["HP-2026-0101"]),  # the client's name (the closed case is not open)
    ("MARIA", ["HP-2026-0101"]),
    ("ivanov", ["HP-2026-0102"]),  # the beneficiary's name
    ("  carla   diaz ", ["VV-2026-0003"]),  # spaces tidied
    ("ioe-0912 345 678", ["HP-2026-0101"]),  # the receipt number as people type it
    ("Patron", []),  # a sponsor's name is not the client's
    ("nobody", []),
])
def test_search_finds_reference_client_beneficiary_and_receipt(office, q, expected):
    assert sorted(refs(board(office["lawyer"], q=q))) == expected


def test_search_treats_percent_and_underscore_as_themselves(office, make_case):
    lawyer = office["lawyer"]
    make_case(attorney=lawyer, reference="HP-2026-0201", beneficiary_name="Fund 100% Ruiz")
    make_case(attorney=lawyer, reference="HP-2026-0202", beneficiary_name="Fund 1000 Ruiz")
    make_case(attorney=lawyer, reference="HP-2026-0203", beneficiary_name="Under_score")
    assert refs(board(lawyer, q="100%")) == ["HP-2026-0201"]
    assert refs(board(lawyer, q="%")) == ["HP-2026-0201"]
    assert refs(board(lawyer, q="d_1")) == []  # "_" is not "any character"
    assert refs(board(lawyer, q="under_")) == ["HP-2026-0203"]
    assert refs(board(lawyer, q="\\")) == []


def test_search_box_keeps_what_was_typed(client, login_as, office):
    login_as(office["lawyer"])
    page = client.get("/?q=Ivanov").text
    assert 'value="Ivanov"' in page and table_refs(page) == ["HP-2026-0102"]


# --- filters -----------------------------------------------------------------

def test_filter_by_attorney_and_unassigned(office):
    admin, lawyer = office["admin"], office["lawyer"]
    mine = board(admin, attorney=lawyer.uuid)
    assert sorted(refs(mine)) == ["HP-2026-0101", "HP-2026-0102", "VV-2026-0003"]
    assert refs(board(admin, attorney="unassigned")) == ["HP-2026-0105"]
    # The other attorney's cases, asked for by the first: none of theirs.
    assert refs(board(lawyer, attorney=office["other"].uuid)) == []


def test_filter_by_stage_offers_each_key_once_in_path_order(app, office):
    keys = [o.key for o in stage_options()]
    assert len(keys) == len(set(keys))
    assert keys.index("intake") < keys.index("preparing_application") < keys.index("decision")
    assert keys.index("receipt_received") < keys.index("rfe") < keys.index("decision")
    assert keys[-2:] == ["denied", "closed"]
    # Where the types name a shared key differently, the option shows both names.
    with app.test_request_context():
        titles = {o.key: o.title for o in stage_options()}
    assert titles["intake"] == "Intake"
    parole, visa = (get_case_type(t).stage("decision").title
                    for t in ("humanitarian_parole", "visitor_visa_214b"))
    assert titles["decision"] == (str(parole) if str(parole) == str(visa) else f"{parole} / {visa}")
    admin = office["admin"]
    assert sorted(refs(board(admin, stage="intake"))) == ["HP-2026-0102", "HP-2026-0105"]
    # The same key in both types is one option that finds both.
    assert sorted(refs(board(admin, stage="gathering_evidence"))) == ["VV-2026-0003"]


def test_stage_titles_are_in_the_viewers_language(client, login_as, office):
    office["lawyer"].language = "es"
    db.session.commit()
    login_as(office["lawyer"])
    page = client.get("/").text
    options = re.search(r'<select name="stage".*?</select>', page, re.S).group(0)
    assert "Intake" not in options and options.count('value="intake"') == 1


def test_filter_by_flag(office):
    lawyer = office["lawyer"]
    assert refs(board(lawyer, flag="life_threatening_medical")) == ["HP-2026-0102"]
    assert refs(board(lawyer, flag="child_under_16")) == []


def test_filter_open_closed_or_all(office):
    lawyer = office["lawyer"]
    assert "HP-2025-0099" not in refs(board(lawyer))
    assert refs(board(lawyer, state="closed")) == ["HP-2025-0099"]
    assert len(refs(board(lawyer, state="all"))) == 4


@pytest.mark.parametrize("args", ["flag=made_up", "state=gone", "stage=nowhere",
                                  "attorney=not-a-uuid", "attorney=1"])
def test_a_filter_naming_nothing_is_a_bad_request(client, login_as, office, args):
    login_as(office["lawyer"])
    assert client.get(f"/?{args}").status_code == 400


@pytest.mark.parametrize("args, shown", [
    ("sort=sideways", 3), ("page=abc", 3), ("page=-3", 3), ("page=0", 3), ("page=1.5", 3),
    ("page=99999999999999999999", 3),  # past the last page: the last page
    ("q=" + "x" * 5000, 0),  # cut to 200 characters: still nothing matches
])
def test_odd_sort_page_or_search_gives_a_page_not_an_error(client, login_as, office, args,
                                                           shown):
    login_as(office["lawyer"])
    response = client.get(f"/?{args}")
    assert response.status_code == 200
    assert len(table_refs(response.text)) == shown


# --- sort orders -------------------------------------------------------------

@pytest.fixture()
def ranked(make_user, make_case):
    """Cases whose urgency order is decided by each rule in turn."""
    lawyer = make_user(Role.ATTORNEY)
    F = UrgencyFlag
    cases = {
        # most pressing flag first
        "medical": make_case(attorney=lawyer, reference="R-01", flags=[F.LIFE_THREATENING_MEDICAL]),
        # same top flag: more flags first
        "child_two": make_case(attorney=lawyer, reference="R-02",
                               flags=[F.CHILD_UNDER_16, F.NONPROFIT_INTEREST]),
        # same flags: the earlier next deadline first, then none
        "child_soon": make_case(attorney=lawyer, reference="R-03", flags=[F.CHILD_UNDER_16],
                                opened_on=date(2026, 1, 20)),
        "child_later": make_case(attorney=lawyer, reference="R-04", flags=[F.CHILD_UNDER_16],
                                 opened_on=date(2026, 1, 2)),
        "child_none": make_case(attorney=lawyer, reference="R-05", flags=[F.CHILD_UNDER_16],
                                opened_on=date(2026, 1, 1)),
        # no flag, no deadline: the oldest first, then by reference
        "old": make_case(attorney=lawyer, reference="R-07", opened_on=date(2026, 1, 3)),
        "newer_b": make_case(attorney=lawyer, reference="R-09", opened_on=date(2026, 1, 5)),
        "newer_a": make_case(attorney=lawyer, reference="R-08", opened_on=date(2026, 1, 5)),
        # a lesser flag still comes before no flag at all
        "financial": make_case(attorney=lawyer, reference="R-06", flags=[F.SEVERE_FINANCIAL_LOSS]),
    }
    today = today_for(lawyer)
    db.session.add_all([
        CaseDeadline(case=cases["child_soon"], kind=DeadlineKind.RFE_RESPONSE,
                     due_on=today + timedelta(days=5)),
        DocumentRequest(case=cases["child_later"], addressee=lawyer, title="x",
                        due_on=today + timedelta(days=9), created_by=lawyer),
    ])
    db.session.commit()
    return lawyer, cases


def test_urgency_sort_most_pressing_flag_then_more_flags_then_deadline_then_oldest(ranked):
    lawyer, _ = ranked
    expected = ["R-01", "R-02", "R-03", "R-04", "R-05", "R-06", "R-07", "R-08", "R-09"]
    assert refs(board(lawyer)) == expected
    assert refs(board(lawyer, sort="urgency")) == expected


def test_deadline_sort_earliest_first_cases_without_one_last(ranked):
    lawyer, cases = ranked
    today = today_for(lawyer)
    # Its re-parole file-by day (90 days before the parole end) is day 110.
    cases["old"].parole_ends_on = today + timedelta(days=200)
    db.session.commit()
    result = refs(board(lawyer, sort="deadline"))
    assert result[:3] == ["R-03", "R-04", "R-07"]
    assert result[3:] == ["R-01", "R-02", "R-05", "R-06", "R-08", "R-09"]  # by reference


def test_stage_sort_furthest_along_first_detour_after_its_step(make_user, make_case):
    lawyer = make_user(Role.ATTORNEY)
    for ref, stage in [("S-1", "intake"), ("S-2", "rfe"), ("S-3", "decision"),
                       ("S-4", "receipt_received"), ("S-5", "denied"), ("S-6", "paroled"),
                       ("S-0", "filed")]:
        make_case(attorney=lawyer, reference=ref, stage=stage)
    make_case(attorney=lawyer, reference="V-1", case_type="visitor_visa_214b",
              stage="interview_scheduled")  # position 3 of its own type
    assert refs(board(lawyer, sort="stage")) == [
        "S-5", "S-6", "S-3", "S-2", "S-4", "S-0", "V-1", "S-1"]


def test_reference_and_opened_sorts(ranked):
    lawyer, _ = ranked
    assert refs(board(lawyer, sort="reference")) == [f"R-0{n}" for n in range(1, 10)]
    opened = refs(board(lawyer, sort="opened"))
    assert opened[0] == "R-05" and opened.index("R-08") + 1 == opened.index("R-09")


# --- pages -------------------------------------------------------------------

@pytest.mark.parametrize("n, pages", [(0, 1), (PER_PAGE, 1), (PER_PAGE + 1, 2)])
def test_pages_of_fifty(make_user, make_case, n, pages):
    lawyer = make_user(Role.ATTORNEY)
    for i in range(n):
        make_case(attorney=lawyer, reference=f"P-{i:03d}")
    first = board(lawyer, sort="reference")
    assert (first.total, first.pages, len(first.rows)) == (n, pages, min(n, PER_PAGE))
    last = board(lawyer, sort="reference", page=pages)
    assert len(last.rows) == n - (pages - 1) * PER_PAGE
    beyond = board(lawyer, sort="reference", page=pages + 5)  # shows the last page
    assert beyond.query.page == pages and refs(beyond) == refs(last)


def test_page_links_keep_the_search_filters_and_sort(client, login_as, make_user, make_case):
    lawyer = make_user(Role.ATTORNEY)
    for i in range(PER_PAGE + 3):
        make_case(attorney=lawyer, reference=f"P-{i:03d}", beneficiary_name=f"Pat {i}",
                  flags=[UrgencyFlag.DISABILITY])
    make_case(attorney=lawyer, reference="P-999", beneficiary_name="Someone Else")
    login_as(lawyer)
    page = client.get("/?q=pat&flag=disability&sort=reference").text
    assert table_refs(page) == [f"P-{i:03d}" for i in range(PER_PAGE)]
    assert "Cases 1–50 of 53" in page and "Page 1 of 2" in page and 'rel="prev"' not in page
    link = re.search(r'<a rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert sorted(link.split("?")[1].split("&")) == [
        "flag=disability", "page=2", "q=pat", "sort=reference"]
    second = client.get(link).text
    assert table_refs(second) == ["P-050", "P-051", "P-052"]
    assert "Page 2 of 2" in second and 'rel="next"' not in second
    back = re.search(r'<a rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert "page=" not in back and "q=pat" in back
    assert table_refs(client.get("/?q=pat&sort=reference&page=7").text)[0] == "P-050"
    assert "No cases match." in client.get("/?q=nobody-at-all").text


# --- counts per stage --------------------------------------------------------

def test_counts_per_stage_over_the_search_whatever_the_stage_filter(office, make_case):
    lawyer = office["lawyer"]
    make_case(attorney=lawyer, reference="HP-2026-0110", stage="filed")
    counts = {o.key: n for o, n in board(lawyer).stage_counts}
    assert counts == {"intake": 1, "gathering_evidence": 1, "filed": 2}
    filtered = board(lawyer, stage="filed")
    assert {o.key: n for o, n in filtered.stage_counts} == counts
    assert filtered.total == 2
    searched = board(lawyer, q="gomez", stage="intake")
    assert {o.key: n for o, n in searched.stage_counts} == {"filed": 1}
    assert refs(searched) == [] and searched.total == 0


def test_count_links_set_the_stage_filter(client, login_as, office):
    login_as(office["lawyer"])
    page = client.get("/?q=hp-2026&sort=reference").text
    counts = re.search(r'<nav class="stage-counts".*?</nav>', page, re.S).group(0)
    assert re.search(r"Intake <span class=\"count\">1</span>", counts)
    assert re.search(r"Filed with USCIS <span class=\"count\">1</span>", counts)
    link = re.search(r'href="([^"]*stage=filed[^"]*)"', counts).group(1).replace("&amp;", "&")
    assert "q=hp-2026" in link and "sort=reference" in link
    filtered = client.get(link).text
    assert table_refs(filtered) == ["HP-2026-0101"]
    assert 'aria-current="true">Filed with USCIS' in filtered and "All stages" in filtered


# --- next deadline and parole ending soon ------------------------------------

def test_next_deadline_column_says_when_and_what_overdue_marked(client, login_as, office):
    lawyer, cases = office["lawyer"], office["cases"]
    today = today_for(lawyer)
    db.session.add_all([
        CaseDeadline(case=cases["filed"], kind=DeadlineKind.BIOMETRICS,
                     due_on=today + timedelta(days=3)),
        CaseDeadline(case=cases["filed"], kind=DeadlineKind.RFE_RESPONSE,
                     due_on=today + timedelta(days=1), met_on=today),  # answered: not next
        DocumentRequest(case=cases["intake"], addressee=office["john"], title="Passport",
                        due_on=today - timedelta(days=2), created_by=lawyer),
        DocumentRequest(case=cases["intake"], addressee=office["john"], title="Old",
                        due_on=today - timedelta(days=9), created_by=lawyer,
                        state=RequestState.ACCEPTED),  # done: not owed
    ])
    db.session.commit()
    login_as(lawyer)
    page = client.get("/").text

    def row(ref):
        return next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if ref in r)
    filed, intake, visa = row("HP-2026-0101"), row("HP-2026-0102"), row("VV-2026-0003")
    assert format_date(today + timedelta(days=3), "medium", locale="en") in filed
    assert "Biometrics appointment" in filed and "Overdue" not in filed
    assert format_date(today - timedelta(days=2), "medium", locale="en") in intake
    assert "Document due" in intake and "Overdue" in intake
    assert re.findall(r"<td[^>]*>(.*?)</td>", visa)[-1] == '<span class="muted">—</span>'
    assert "Next due" not in page and "Next deadline" in page


def test_parole_ending_within_120_days_listed_soonest_first(client, login_as, office, make_case):
    lawyer = office["lawyer"]
    today = today_for(lawyer)
    for ref, days, fields in [("PA-120", 120, {}), ("PA-005", 5, {}), ("PA-000", 0, {}),
                              ("PA-121", 121, {}), ("PA-PAST", -1, {}),
                              ("PA-SHUT", 10, {"closed_on": today})]:
        make_case(attorney=lawyer, reference=ref, beneficiary_name=f"Paroled {ref}",
                  stage="paroled", parole_ends_on=today + timedelta(days=days), **fields)
    make_case(attorney=office["other"], reference="PA-THEIRS", stage="paroled",
              parole_ends_on=today + timedelta(days=7))
    result = board(lawyer, q="nothing matches this")  # the list ignores the search
    assert [(i.case.reference, i.days_left) for i in result.parole_soon] == [
        ("PA-000", 0), ("PA-005", 5), ("PA-120", 120)]
    assert result.parole_more == 0
    assert [i.case.reference for i in board(office["admin"]).parole_soon] == [
        "PA-000", "PA-005", "PA-THEIRS", "PA-120"]

    login_as(lawyer)
    page = client.get("/").text
    section = page.split('aria-labelledby="parole-soon-heading"', 1)[1].split("</section>")[0]
    assert re.findall(r">(PA-[^<]+)</a>", section) == ["PA-000", "PA-005", "PA-120"]
    assert "5 days left" in section and "Ends today" in section
    assert format_date(today + timedelta(days=120), "medium", locale="en") in section


def test_parole_list_is_short_and_says_how_many_more(make_user, make_case, monkeypatch):
    lawyer = make_user(Role.ATTORNEY)
    today = today_for(lawyer)
    monkeypatch.setattr(dashboard, "PAROLE_LIST_LIMIT", 2)
    for n in range(5):
        make_case(attorney=lawyer, reference=f"PL-{n}", parole_ends_on=today + timedelta(days=n))
    result = board(lawyer)
    assert [i.case.reference for i in result.parole_soon] == ["PL-0", "PL-1"]
    assert result.parole_more == 3


# --- scope -------------------------------------------------------------------

def test_an_attorney_never_sees_another_attorneys_case(client, login_as, office):
    lawyer, cases = office["lawyer"], office["cases"]
    cases["elsewhere"].parole_ends_on = today_for(lawyer) + timedelta(days=30)
    cases["elsewhere"].flags  # noqa: B018 - loaded before the commit expires it
    db.session.commit()
    result = board(lawyer, q="ana gomez", state="all")
    assert refs(result) == ["HP-2026-0101"]
    assert {o.key: n for o, n in result.stage_counts} == {"filed": 1}
    assert result.parole_soon == []
    assert refs(board(lawyer, q="IOE0912345679")) == []
    login_as(lawyer)
    page = client.get("/?state=all").text
    assert "HP-2026-0104" not in page and "HP-2026-0105" not in page
    # Staff and admins see every case.
    assert "HP-2026-0104" in refs(board(office["admin"], q="ana gomez"))


def test_clients_and_sponsors_get_their_cards_open_first_closed_marked(client, login_as,
                                                                       office):
    login_as(office["maria"])
    page = client.get("/").text
    assert "<table" not in page and 'name="q"' not in page
    cards = re.findall(r'<article class="card( closed)?">.*?<p class="muted">([^ ]+)', page, re.S)
    assert cards == [("", "HP-2026-0104"), ("", "HP-2026-0101"), (" closed", "HP-2025-0099")]
    closed = page.split("HP-2025-0099", 1)[1].split("</article>")[0]
    assert "This case was closed on Feb 1, 2026." in closed and "Now:" not in closed
    client.submit("/logout")
    login_as(office["sponsor"])
    assert re.findall(r'<p class="muted">([^ ]+)', client.get("/").text) == ["HP-2026-0102"]


# --- cost --------------------------------------------------------------------

def _fill(make_user, make_case, lawyer, n: int, start: int = 0) -> None:
    """``n`` cases with a client, a sponsor, flags, requests with due dates,
    a USCIS deadline and a parole end date."""
    today = today_for(lawyer)
    for i in range(start, start + n):
        client = make_user(Role.CLIENT)
        case = make_case(attorney=lawyer, client=client, sponsors=[make_user(Role.SPONSOR)],
                         reference=f"Q-{i:03d}", stage=["intake", "filed", "rfe"][i % 3],
                         flags=list(UrgencyFlag)[:i % 3],
                         parole_ends_on=today + timedelta(days=i * 3))
        db.session.add_all([
            DocumentRequest(case=case, addressee=client, title="Passport",
                            due_on=today + timedelta(days=i - 5), created_by=lawyer),
            DocumentRequest(case=case, addressee=client, title="Photo", created_by=lawyer,
                            state=RequestState.ACCEPTED),
            CaseDeadline(case=case, kind=DeadlineKind.INTERVIEW,
                         due_on=today + timedelta(days=i)),
        ])
    db.session.commit()


@pytest.mark.parametrize("args", ["", "?sort=deadline&q=q-0", "?sort=stage&state=all",
                                  "?sort=reference&page=2"])
def test_the_page_takes_the_same_number_of_queries_for_5_or_60_cases(
        app, make_user, make_case, args):
    lawyer = make_user(Role.ATTORNEY)
    c = browser(app, lawyer)

    def page() -> None:
        assert c.get(f"/{args}").status_code == 200

    def statements_for_page() -> int:
        return statements_during(page)
    _fill(make_user, make_case, lawyer, 5)
    few = statements_for_page()
    _fill(make_user, make_case, lawyer, 55, start=5)  # 60 in all
    assert statements_for_page() == few


def test_an_empty_result_says_what_to_do_next(client, login_as, office):
    login_as(office["lawyer"])
    filtered = client.get("/?q=nobody-at-all").text
    assert "No cases match." in filtered and "Clear the search and filters" in filtered
    unfiltered = client.get("/?state=open").text
    assert "Clear the search and filters" not in unfiltered
