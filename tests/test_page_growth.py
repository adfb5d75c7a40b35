"""Pages that must not grow with the rows behind them: a long thread, a long
review queue, many accounts; a case's documents, the page to answer a
request, the thread's poll, the mail outbox, the calendar feed and the
dashboard of a client or sponsor. Each page is counted (SQL statements) on a
small and a large fixture, and the lists page; a count that grows names the
statement that repeated."""
from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import insert

from portal.agenda import feeds
from portal.extensions import db
from portal.messages import services as messages
from portal.models import (CaseDeadline, CaseMembership, DeadlineKind, Document,
                           DocumentRequest, DocumentVersion, MessageThread, ObjectState,
                           OutboxMessage, OutboxState, Preview, PreviewState, Purpose,
                           QuestionnaireResponse, RequestState, ScanState, StoredObject,
                           VersionStatus)
from portal.models.case import CaseRole
from portal.models.request import QUESTIONNAIRE
from portal.models.types import utcnow
from portal.paging import PAGE_SIZE
from tests.conftest import PASSWORD
from tests.statements import statements_during, statements_of


def signed_in(app, user):
    browser = app.test_client()
    assert browser.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user = make_user("attorney"), make_user("client")
    admin = make_user("admin")
    return dict(lawyer=lawyer, client=client_user, admin=admin,
                case=make_case(attorney=lawyer, client=client_user))


def write(app, people, count: int, start: int = 0) -> None:
    """``count`` messages in the client's thread, alternating sides."""
    with app.test_request_context():
        thread = db.session.scalar(db.select(MessageThread).where(
            MessageThread.case_id == people["case"].id)) or MessageThread(
            case=people["case"], audience="client")
        db.session.add(thread)
        for n in range(start, start + count):
            author = people["client"] if n % 2 else people["lawyer"]
            messages.post(author, thread, f"Message number {n}", f"key-{n}")


def shown_numbers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"Message number (\d+)", page)]


def test_a_long_thread_shows_its_newest_page_at_the_cost_of_a_short_one(app, people):
    url = f"/cases/{people['case'].uuid}/messages"
    browser = signed_in(app, people["client"])
    write(app, people, 3)
    few = statements_during(lambda: browser.get(url))
    write(app, people, PAGE_SIZE + 10, start=3)
    page = None

    def load():
        nonlocal page
        page = browser.get(url).text
    # Each message decrypts with the keyset the request read once, not per message.
    assert statements_during(load) == few
    total = PAGE_SIZE + 13
    assert shown_numbers(page) == list(range(total - PAGE_SIZE, total))
    earlier = re.search(r'href="([^"]*\?before=[^"]+)">Earlier messages', page).group(1)
    assert "data-poll-url" in page
    older = browser.get(earlier.replace("&amp;", "&")).text
    assert shown_numbers(older) == list(range(0, total - PAGE_SIZE))
    # The page of older messages links back and does not poll (new ones belong to the newest).
    assert "Newest messages" in older and "Earlier messages" not in older
    assert "data-poll-url" not in older


def test_a_message_of_another_thread_names_no_page(app, people, make_user, make_case):
    other = make_case(attorney=people["lawyer"], client=make_user("client"))
    write(app, people, 2)
    with app.test_request_context():
        thread = MessageThread(case=other, audience="client")
        db.session.add(thread)
        foreign = messages.post(people["lawyer"], thread, "Elsewhere", "k")
    browser = signed_in(app, people["client"])
    url = f"/cases/{people['case'].uuid}/messages"
    assert browser.get(f"{url}?before={foreign.uuid}").status_code == 404
    assert browser.get(f"{url}/poll?after={foreign.uuid}").status_code == 404


def submit_answers(people, make_user, make_case, count: int) -> None:
    """``count`` questionnaires waiting for review, each in a case of its own
    (the queue's rows: request, case, addressee)."""
    for n in range(count):
        client_user = make_user("client")
        case = make_case(attorney=people["lawyer"], client=client_user)
        request = DocumentRequest(case=case, addressee=client_user, title="Intake",
                                  created_by=people["lawyer"], kind=QUESTIONNAIRE,
                                  questionnaire_key="hp_beneficiary",
                                  state=RequestState.SUBMITTED,
                                  due_on=date.today() + timedelta(days=3))
        db.session.add_all([request, QuestionnaireResponse(
            request=request, data=b"", updated_by_id=client_user.id,
            updated_at=utcnow() - timedelta(minutes=count - n))])
    db.session.commit()


def test_the_review_queue_pages_and_costs_the_same_however_long(app, people, make_user,
                                                                make_case):
    browser = signed_in(app, people["lawyer"])
    submit_answers(people, make_user, make_case, 2)
    few = statements_during(lambda: browser.get("/requests"))
    submit_answers(people, make_user, make_case, PAGE_SIZE + 5)
    page = None

    def load():
        nonlocal page
        page = browser.get("/requests").text
    assert statements_during(load) == few
    assert page.count("Read the answers") == PAGE_SIZE
    following = browser.get("/requests?review=2&overdue=1").text
    assert following.count("Read the answers") == 7 and 'rel="prev"' in following
    # Nonsense page numbers are the first page.
    assert browser.get("/requests?review=-3").text.count("Read the answers") == PAGE_SIZE


def test_the_accounts_page_pages_searches_and_costs_the_same_however_many(app, people,
                                                                          make_user):
    browser = signed_in(app, people["admin"])
    few = statements_during(lambda: browser.get("/admin/users"))
    made = [make_user("client") for _ in range(PAGE_SIZE + 5)]
    page = None

    def load():
        nonlocal page
        page = browser.get("/admin/users").text
    assert statements_during(load) == few
    assert page.count("Signed-in devices") == PAGE_SIZE and 'rel="next"' in page
    wanted = made[7]
    found = browser.get(f"/admin/users?q={wanted.email.upper()}").text
    assert wanted.email in found and found.count("Signed-in devices") == 1
    assert "No account matches." in browser.get("/admin/users?q=%25").text


# --- counting, and saying what grew --------------------------------------------

def shape(sql: str) -> str:
    """``sql`` with each list of bound parameters as one (``IN (?, ?)`` is ``IN (…)``)."""
    return re.sub(r"\((?:\s*(?:\?|%\(\w+\)s|\$\d+)(?:::\w+)?\s*,?)+\)", "(…)", sql)


def assert_no_growth(few: list[str], many: list[str]) -> None:
    """The large fixture's page sent no more statements than the small one's;
    else the failure shows those it sent more often."""
    grown = Counter(map(shape, many)) - Counter(map(shape, few))
    assert len(many) <= len(few), f"{len(few)} -> {len(many)} statements; repeated: " + \
        "\n".join(f"{n}x {sql}" for sql, n in grown.most_common(3))


def _insert(model, rows: list[dict]) -> list[int]:
    """``rows`` written in one executemany; their ids, in the order given."""
    table = model.__table__
    if not rows:
        return []
    return list(db.session.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))


def _objects(case, people_ids: list[int], purpose=Purpose.DOCUMENT_VERSION) -> list[int]:
    """A stored-object row for each of ``people_ids`` (who stored it): rows
    only, as the list pages never open the bucket."""
    rows = []
    for person in people_ids:
        object_uuid = uuid.uuid4()
        rows.append({"uuid": object_uuid, "key": f"cases/{case.uuid}/{object_uuid}",
                     "size": 40_000, "sha256": hashlib.sha256(object_uuid.bytes).hexdigest(),
                     "content_type": "application/pdf", "case_id": case.id,
                     "stored_by_id": person, "stored_at": utcnow(), "purpose": purpose,
                     "state": ObjectState.STORED})
    return _insert(StoredObject, rows)


SCANS = (ScanState.CLEAN, ScanState.SCANNING, ScanState.CLEAN, ScanState.INFECTED,
         ScanState.UNSCANNED, ScanState.FAILED)


def file_documents(case, uploaders: list, count: int, versions: int, start: int = 0,
                   requests: list | None = None, messages_of: list | None = None) -> None:
    """``count`` documents of ``case`` (named ``doc-<n>``), each with up to
    ``versions`` versions (``doc-<n>-v<k>.pdf``), the n-th uploaded by
    ``uploaders[n % len]``, in every scan state, some withdrawn, some with a
    preview page; the n-th answers ``requests[n % len]`` and (every third)
    is attached to ``messages_of[n % len]`` when given. Bulk inserts."""
    now = utcnow()
    documents = [{"uuid": uuid.uuid4(), "case_id": case.id,
                  "created_by_id": uploaders[n % len(uploaders)].id,
                  "created_at": now - timedelta(hours=1000 - n),
                  "message_id": (messages_of[n % len(messages_of)].id
                                 if messages_of and n % 3 == 0 else None)}
                 for n in range(start, start + count)]
    document_ids = _insert(Document, documents)
    plan = [(n, document_id, number)
            for n, document_id in zip(range(start, start + count), document_ids, strict=True)
            for number in range(1, 1 + (1 if versions == 1 else 1 + n % versions))]
    objects = _objects(case, [uploaders[n % len(uploaders)].id for n, _, _ in plan])
    rows = []
    for (n, document_id, number), object_id in zip(plan, objects, strict=True):
        scan = SCANS[(n + number) % len(SCANS)]
        rows.append({"uuid": uuid.uuid4(), "document_id": document_id, "number": number,
                     "uploaded_by_id": uploaders[n % len(uploaders)].id,
                     "uploaded_at": now - timedelta(hours=1000 - n, minutes=10 - number),
                     "filename": f"doc-{n}-v{number}.pdf", "stored_object_id": object_id,
                     "status": (VersionStatus.WITHDRAWN if n % 7 == 6 and number == 1
                                else VersionStatus.AVAILABLE),
                     "scan_state": scan,
                     "preview_state": PreviewState.READY if scan.cleared else PreviewState.PENDING,
                     "request_id": requests[n % len(requests)].id if requests else None})
    version_ids = _insert(DocumentVersion, rows)
    shown = [(version_id, row) for version_id, row in zip(version_ids, rows, strict=True)
             if row["preview_state"] is PreviewState.READY]
    pages = _objects(case, [row["uploaded_by_id"] for _, row in shown], Purpose.PREVIEW)
    if pages:
        _insert(Preview, [{"version_id": version_id, "page": 1, "stored_object_id": page}
                          for (version_id, _), page in zip(shown, pages, strict=True)])
    db.session.commit()


@pytest.fixture()
def crowd(make_user, make_case):
    """A case with an attorney, a second attorney and staff on its team, a
    client, a relative (a second client) and a sponsor; its client thread
    and the sponsor's thread, each with a message."""
    lawyer, client_user = make_user("attorney"), make_user("client")
    sponsor = make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor])
    second, staff, relative = make_user("attorney"), make_user("staff"), make_user("client")
    db.session.add_all([CaseMembership(case=case, user=second, role=CaseRole.ATTORNEY),
                        CaseMembership(case=case, user=staff, role=CaseRole.STAFF),
                        CaseMembership(case=case, user=relative, role=CaseRole.CLIENT)])
    threads = [MessageThread(case=case, audience="client"),
               MessageThread(case=case, audience=messages.sponsor_audience(sponsor),
                             sponsor=sponsor)]
    db.session.add_all(threads)
    db.session.commit()
    notes = [messages.post(lawyer, thread, "Here it is", f"note-{n}")
             for n, thread in enumerate(threads)]
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, second=second, staff=staff,
                relative=relative, case=case, messages=notes)


def cards(page: str) -> list[str]:
    """The file names the documents page lists, in order."""
    return re.findall(r'<li class="card">\s*<a href="[^"]+">([^<]+)</a>', page)


def documents_page_costs(app, crowd, reader: str, uploaders: list[str],
                         threads: int) -> tuple[list[str], list[str]]:
    """The statements of the documents page as ``reader`` sees it with two
    documents (one by the attorney, one by the client sent with a message in
    the client's thread), then with 30 more of 1 to 4 versions by
    ``uploaders``, some answering requests, every third sent with a message
    of the first ``threads`` threads."""
    case, url = crowd["case"], f"/cases/{crowd['case'].uuid}/documents"
    browser = signed_in(app, crowd[reader])
    page = None

    def load():
        nonlocal page
        response = browser.get(url)
        assert response.status_code == 200
        page = response.text
    file_documents(case, [crowd["client"], crowd["lawyer"]], 2, 1,
                   messages_of=crowd["messages"][:1])
    load()  # the first page after signing in also touches the session
    few = statements_of(load)
    assert cards(page) == ["doc-1-v1.pdf", "doc-0-v1.pdf"]
    asked = [DocumentRequest(case=case, addressee=crowd[who], title=f"Proof {who}",
                             created_by=crowd["lawyer"], state=RequestState.SUBMITTED)
             for who in ("client", "relative", "sponsor")]
    db.session.add_all(asked)
    db.session.commit()
    file_documents(case, [crowd[who] for who in uploaders], 30, 4, start=2, requests=asked,
                   messages_of=crowd["messages"][:threads])
    many = statements_of(load)
    listed = cards(page)
    # The newest first, by its latest version; the client sees neither a sponsor's
    # file, nor one sent in the sponsor's thread, nor one whose only version is withdrawn.
    assert listed[0] == "doc-31-v4.pdf" and listed[-1] == "doc-0-v1.pdf"
    hidden = {f"doc-{n}" for n in range(2, 32)
              if uploaders[n % len(uploaders)] == "sponsor" or (n % 3 == 0 and n % threads == 1)
              or (n % 4 == 0 and n % 7 == 6)} if reader == "client" else set()
    assert {name.split("-v")[0] for name in listed} == {f"doc-{n}" for n in range(32)} - hidden
    return few, many


@pytest.mark.parametrize("reader", ["lawyer", "client"])
def test_the_documents_page_costs_the_same_for_2_or_30_documents(app, crowd, reader):
    few, many = documents_page_costs(app, crowd, reader, ["lawyer", "client"], threads=1)
    assert_no_growth(few, many)
    assert len(many) == len(few)


@pytest.mark.parametrize("reader", ["lawyer", "client"])
def test_the_documents_page_costs_the_same_whoever_uploaded_them(app, crowd, reader):
    everyone = ["lawyer", "client", "sponsor", "second", "staff", "relative"]
    few, many = documents_page_costs(app, crowd, reader, everyone, threads=2)
    assert_no_growth(few, many)


def send_files(case, document_request, people: list, count: int, start: int = 0) -> None:
    """``count`` more files sent for ``document_request`` (``answer-<n>.pdf``),
    by ``people`` in turn: versions of the one document its uploads go to,
    as uploads make them; every fifth withdrawn by its sender."""
    document_id = db.session.scalar(
        db.select(DocumentVersion.document_id).where(
            DocumentVersion.request_id == document_request.id).limit(1))
    if document_id is None:
        (document_id,) = _insert(Document, [{"uuid": uuid.uuid4(), "case_id": case.id,
                                             "created_by_id": people[0].id,
                                             "created_at": utcnow(), "message_id": None}])
    senders = [people[n % len(people)] for n in range(start, start + count)]
    objects = _objects(case, [person.id for person in senders])
    _insert(DocumentVersion, [
        {"uuid": uuid.uuid4(), "document_id": document_id, "number": n + 1,
         "uploaded_by_id": person.id, "uploaded_at": utcnow() + timedelta(seconds=n),
         "filename": f"answer-{n}.pdf", "stored_object_id": object_id,
         "status": VersionStatus.WITHDRAWN if n % 5 == 4 else VersionStatus.AVAILABLE,
         "scan_state": SCANS[n % len(SCANS)], "preview_state": PreviewState.PENDING,
         "request_id": document_request.id}
        for n, person, object_id in zip(range(start, start + count), senders, objects,
                                        strict=True)])
    db.session.commit()


def test_the_page_to_answer_a_request_costs_the_same_for_2_or_24_files(app, crowd):
    """The client's page for one request, with the files the client and a
    relative sent for it so far: two in a case of two requests, then 24 in
    a case of 30."""
    case, client_user = crowd["case"], crowd["client"]
    asked = [DocumentRequest(case=case, addressee=client_user if n % 3 else crowd["sponsor"],
                             title=f"Proof {n}", created_by=crowd["lawyer"],
                             state=RequestState.SUBMITTED, due_on=date.today() + timedelta(n))
             for n in range(2)]
    db.session.add_all(asked)
    db.session.commit()
    wanted = asked[1]
    url = f"/cases/{case.uuid}/requests/{wanted.uuid}/upload"
    browser = signed_in(app, client_user)
    page = None

    def load():
        nonlocal page
        response = browser.get(url)
        assert response.status_code == 200
        page = response.text
    send_files(case, wanted, [client_user, crowd["relative"]], 2)
    load()  # the first page after signing in also touches the session
    few = statements_of(load)
    assert re.findall(r"answer-\d+\.pdf", page) == ["answer-0.pdf", "answer-1.pdf"]
    more = [DocumentRequest(case=case, addressee=client_user if n % 3 else crowd["sponsor"],
                            title=f"Proof {n}", created_by=crowd["lawyer"],
                            state=RequestState.REQUESTED) for n in range(2, 30)]
    db.session.add_all(more)
    db.session.commit()
    send_files(case, more[0], [client_user], 3)
    send_files(case, wanted, [client_user, crowd["relative"]], 22, start=2)
    many = statements_of(load)
    # Every file but the withdrawn ones (the 5th, 10th...), oldest first.
    shown = [int(n) for n in re.findall(r"answer-(\d+)\.pdf", page)]
    assert shown == [n for n in range(24) if n % 5 != 4]
    assert "Proof 1" in page and "Upload a file for this request" in page
    assert_no_growth(few, many)
    assert len(many) == len(few)


def poll_answer(browser, url: str) -> dict:
    response = browser.get(url)
    assert response.status_code == 200
    return response.get_json()


def test_the_thread_poll_costs_the_same_for_2_or_40_new_messages(app, crowd):
    """The client's open thread page asks for what came after its newest
    message: two new ones, then forty (from three people of the firm, some
    with files)."""
    case, client_user = crowd["case"], crowd["client"]
    thread = crowd["messages"][0].thread
    browser = signed_in(app, client_user)
    seen = messages.post(client_user, thread, "Seen already", "seen")
    url = f"/cases/{case.uuid}/messages/poll?after={seen.uuid}"
    answer = None

    def load():
        nonlocal answer
        answer = poll_answer(browser, url)

    def write_from(authors: list, count: int, start: int) -> list:
        return [messages.post(authors[n % len(authors)], thread, f"Message number {n}",
                              f"new-{n}") for n in range(start, start + count)]
    attach_to = write_from([crowd["lawyer"]], 2, 0)
    file_documents(case, [crowd["lawyer"]], 1, 1, messages_of=attach_to)
    load()  # the first poll after signing in also touches the session
    few = statements_of(load)
    assert answer["count"] == 2 and shown_numbers(answer["html"]) == [0, 1]
    assert "doc-0-v1.pdf" in answer["html"]
    attach_to = write_from([crowd["lawyer"], crowd["second"], crowd["staff"]], 38, 2)
    file_documents(case, [crowd["lawyer"], crowd["staff"]], 30, 2, start=1,
                   messages_of=attach_to)
    many = statements_of(load)
    # The poll answers with every message after the one named: no bound.
    assert answer["count"] == 40 and shown_numbers(answer["html"]) == list(range(40))
    assert "doc-30-v1.pdf" in answer["html"]
    assert_no_growth(few, many)
    assert len(many) == len(few)


def outbox_rows(count: int, start: int = 0) -> None:
    """``count`` emails in the outbox (``person<n>@example.org``), in turn
    waiting, retrying, failed, of unknown fate and sent. Bulk inserts."""
    states = (OutboxState.PENDING, OutboxState.RETRY, OutboxState.FAILED, OutboxState.UNKNOWN,
              OutboxState.SENT)
    now = utcnow()
    _insert(OutboxMessage, [
        {"uuid": uuid.uuid4(), "recipient": f"person{n}@example.org", "language": "en",
         "template": ("invitation", "password_reset", "added_to_case")[n % 3],
         "sealed_context": None, "state": states[n % len(states)], "attempts": n % 4,
         "next_attempt_at": now + timedelta(minutes=n), "claimed_at": None,
         "last_error": f"421 try later ({n})" if n % 5 in (1, 2, 3) else None,
         "message_id": f"<{uuid.uuid4()}@portal.test>", "created_at": now + timedelta(seconds=n),
         "sent_at": now if n % 5 == 4 else None}
        for n in range(start, start + count)])
    db.session.commit()


def test_the_outbox_page_costs_the_same_for_5_or_120_emails(app, people):
    browser = signed_in(app, people["admin"])
    page = None

    def load():
        nonlocal page
        response = browser.get("/admin/outbox")
        assert response.status_code == 200
        page = response.text
    outbox_rows(5)
    load()
    few = statements_of(load)
    assert page.count("Send again") == 2 and "person4@example.org" not in page  # sent
    outbox_rows(115, start=5)
    many = statements_of(load)
    # Every one not sent (96 of 120), the newest first; failed and unknown ones offer a retry.
    listed = re.findall(r"<td[^>]*>(person\d+)@example\.org</td>", page)
    assert len(listed) == 96 and listed[0] == "person118" and listed[-1] == "person0"
    assert page.count("Send again") == 48 and "421 try later (117)" in page
    assert_no_growth(few, many)
    assert len(many) == len(few)


def feed_url_of(app, user) -> str:
    with app.test_request_context():
        token = feeds.issue_feed(user)
    return f"/calendar/{token}.ics"


def dated_cases(make_user, make_case, lawyer, count: int, start: int = 0) -> None:
    """``count`` open cases of ``lawyer`` (``FEED-<n>``), each with a
    parole end, a request due, an RFE response due and a biometrics
    appointment ahead, and one closed case whose dates the feed leaves out."""
    today = date.today()
    for n in range(start, start + count):
        client_user = make_user("client")
        case = make_case(attorney=lawyer, client=client_user, reference=f"FEED-{n:03d}",
                         parole_ends_on=today + timedelta(days=40 + n))
        db.session.add_all([
            DocumentRequest(case=case, addressee=client_user, title="Passport",
                            created_by=lawyer, due_on=today + timedelta(days=n - 3)),
            CaseDeadline(case=case, kind=DeadlineKind.RFE_RESPONSE,
                         due_on=today + timedelta(days=20 + n)),
            CaseDeadline(case=case, kind=DeadlineKind.BIOMETRICS,
                         due_on=today + timedelta(days=5 + n),
                         starts_at=utcnow() + timedelta(days=5 + n))])
    make_case(attorney=lawyer, reference=f"SHUT-{start}", closed_on=today,
              parole_ends_on=today + timedelta(days=9))
    db.session.commit()


def test_the_calendar_feed_costs_the_same_for_1_or_25_cases(app, people, make_user, make_case):
    lawyer = people["lawyer"]
    url = feed_url_of(app, lawyer)
    reader = app.test_client()  # a calendar app: nobody signed in
    calendar = None

    def load():
        nonlocal calendar
        response = reader.get(url)
        assert response.status_code == 200 and response.mimetype == "text/calendar"
        calendar = Calendar.from_ical(response.data)
    dated_cases(make_user, make_case, lawyer, 1)
    load()  # the day's first fetch is also recorded in the trail
    few = statements_of(load)
    # The case of the people fixture has no dates; FEED-000's four, and its re-parole day.
    assert len(calendar.walk("VEVENT")) == 5
    dated_cases(make_user, make_case, lawyer, 24, start=1)
    many = statements_of(load)
    summaries = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert len(summaries) == 125 and "FEED-024: Biometrics appointment" in summaries
    assert not any(s.startswith("SHUT-") for s in summaries)
    assert_no_growth(few, many)
    assert len(many) == len(few)


def member_dashboard(app, person) -> tuple[Callable[[], str], Callable[[], None]]:
    """The dashboard ``person`` last got, and the call that gets it again."""
    browser = signed_in(app, person)
    page = None

    def load():
        nonlocal page
        response = browser.get("/")
        assert response.status_code == 200
        page = response.text
    return (lambda: page), load


def test_a_clients_dashboard_costs_the_same_however_busy_the_case(app, crowd):
    """The client's card of their case, with an unread count: one message,
    request and document, then 40, 30 and 30."""
    case, client_user = crowd["case"], crowd["client"]
    db.session.add(DocumentRequest(case=case, addressee=client_user, title="Passport",
                                   created_by=crowd["lawyer"]))
    db.session.commit()
    file_documents(case, [client_user], 1, 1)
    page, load = member_dashboard(app, client_user)
    load()  # the first page after signing in also touches the session
    few = statements_of(load)
    assert "Case 1" in page() and "1 unread message" in page()
    thread = crowd["messages"][0].thread
    for n in range(40):
        messages.post(crowd[("lawyer", "second", "staff")[n % 3]], thread, f"Update {n}",
                      f"update-{n}")
    db.session.add_all([DocumentRequest(case=case, addressee=client_user, title=f"Proof {n}",
                                        created_by=crowd["lawyer"]) for n in range(30)])
    db.session.commit()
    file_documents(case, [client_user, crowd["lawyer"]], 30, 3, start=1)
    many = statements_of(load)
    assert page().count('<article class="card') == 1 and "41 unread messages" in page()
    assert_no_growth(few, many)
    assert len(many) == len(few)


@pytest.mark.parametrize("role", ["client", "sponsor"])
def test_a_members_dashboard_costs_the_same_for_1_or_12_cases(app, make_user, make_case, role):
    person = make_user(role)
    page, load = member_dashboard(app, person)

    def join(count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            make_case(**({"client": person} if role == "client" else {"sponsors": [person]}),
                      reference=f"MINE-{n:03d}")
    join(1)
    load()  # the first page after signing in also touches the session
    few = statements_of(load)
    assert "MINE-000" in page()
    join(11, start=1)
    many = statements_of(load)
    assert page().count('<article class="card') == 12 and "MINE-011" in page()
    assert_no_growth(few, many)
