"""Pages that must not grow with the rows behind them: a long thread, a long
review queue, many accounts. Each page is counted (SQL statements) on a
small and a large fixture, and the lists page."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.extensions import db
from portal.messages import services as messages
from portal.models import DocumentRequest, MessageThread, QuestionnaireResponse, RequestState
from portal.models.request import QUESTIONNAIRE
from portal.models.types import utcnow
from portal.paging import PAGE_SIZE
from tests.conftest import PASSWORD
from tests.statements import statements_during


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
