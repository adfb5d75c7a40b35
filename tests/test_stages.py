"""Moving a case along its path, closing and reopening it, and the firm's
timeline entries: what the client sees, what only the firm sees, and who may."""
from __future__ import annotations

import html
import threading

import pytest
from sqlalchemy import func, select, update

from portal.cases import stages
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, Case, OutboxMessage, TimelineEvent


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, sponsor = make_user("attorney"), make_user("client"), make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor], stage="filed")
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case)


def page(client, case) -> str:
    return html.unescape(client.get(f"/cases/{case.uuid}").text)


def move(client, case, to: str, version: int | None = None, **fields):
    return client.submit(f"/cases/{case.uuid}/stage",
                         {"stage": to, "version": case.version if version is None else version,
                          **fields}, follow_redirects=True)


def path_states(text: str) -> list[tuple[str, str]]:
    """(stage title, state) of the path on a case page, in order."""
    import re
    path = text[text.index('<ol class="path">'):text.index("</ol>", text.index('<ol class="path">'))]
    return [(name.strip(), state.split()[0]) for state, name in
            re.findall(r'<li class="([^"]+)"[^>]*>.*?<span class="name">([^<]+)</span>', path, re.S)]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_attorney_moves_the_stage_and_the_client_reads_it_with_what_comes_next(
        client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    response = move(client, case, "receipt_received", client_text="USCIS has your request.",
                    internal_note="Receipt came by mail on Monday.")
    assert "Saved. The client sees it on their timeline." in html.unescape(response.text)
    client.submit("/logout")

    login_as(people["client"])
    text = page(client, case)
    states = path_states(text)
    assert ("Filed with USCIS", "done") in states and ("Receipt notice received", "current") in states
    assert states[-1] == ("Paroled", "ahead")
    assert "The case moved to: Receipt notice received." in text
    assert "USCIS has your request." in text
    assert "Receipt came by mail on Monday." not in text  # the firm's note stays with the firm
    assert "no published processing time" in text  # what happens next, in the client's words
    # The client was told something is new, without content.
    (notice,) = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == people["client"].email))
    assert notice.template == "case_update"  # a notice that says only "something new waits"


def test_client_reads_stage_and_what_to_do_in_spanish_linked_to_their_requests(
        client, login_as, people):
    from flask_babel import force_locale

    from portal.case_types import get_case_type
    from portal.requests.services import create_request

    case = people["case"]
    stages.move_stage(people["lawyer"], case, "gathering_evidence", case.version)
    people["client"].language = "es"
    db.session.commit()
    login_as(people["client"])
    stage = get_case_type(case.case_type).stage("gathering_evidence")
    with force_locale("es"):
        title, todo = str(stage.title), str(stage.todo)
    assert todo != str(stage.todo)  # the catalog has it in Spanish
    text = page(client, case)
    assert (title, "current") in path_states(text) and todo in text
    assert 'href="#needed-heading"' not in text  # nothing asked of them yet

    create_request(people["lawyer"], case, addressee=people["client"], title="Pasaporte",
                   instructions="", due_on=None, required=True)
    assert 'href="#needed-heading"' in page(client, case)


def test_rfe_sends_the_case_on_a_detour_and_back(app, people):
    case, lawyer = people["case"], people["lawyer"]
    for to in ("receipt_received", "rfe", "receipt_received"):
        stages.move_stage(lawyer, case, to, case.version)
    kinds = db.session.scalars(select(TimelineEvent.data).where(
        TimelineEvent.kind == "stage_changed").order_by(TimelineEvent.id)).all()
    assert [d["to"] for d in kinds] == ["receipt_received", "rfe", "receipt_received"]
    assert case.stage == "receipt_received" and case.closed_on is None


def test_denied_case_path_ends_at_denied_with_nothing_ahead(client, login_as, people):
    case, lawyer = people["case"], people["lawyer"]
    stages.move_stage(lawyer, case, "receipt_received", case.version)
    stages.move_stage(lawyer, case, "denied", case.version)
    login_as(people["client"])
    states = path_states(page(client, case))
    assert states[-1] == ("Denied", "current")
    assert ("Receipt notice received", "done") in states
    assert not [s for s in states if s[1] == "ahead"]


def test_sponsor_sees_the_path_but_not_the_story(client, login_as, people):
    case = people["case"]
    stages.move_stage(people["lawyer"], case, "receipt_received", case.version,
                      client_text="Good news for the family.")
    login_as(people["sponsor"])
    text = page(client, case)
    assert ("Receipt notice received", "current") in path_states(text)
    assert "Good news for the family." not in text and "What happens next" not in text
    assert "Timeline" not in text


def test_a_stage_of_another_case_type_is_refused_and_nothing_changes(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    response = move(client, case, "interview_scheduled")  # a visitor-visa stage
    assert "This stage is not part of this type of case." in html.unescape(response.text)
    db.session.refresh(case)
    assert case.stage == "filed" and count(TimelineEvent) == 0


def test_client_and_sponsor_cannot_move_the_stage_or_write_to_the_timeline(client, login_as,
                                                                          people):
    case = people["case"]
    for who in ("client", "sponsor"):
        login_as(people[who])
        assert move(client, case, "paroled").status_code == 403
        assert client.submit(f"/cases/{case.uuid}/events",
                             {"audience": "client", "client_text": "hi"}).status_code == 403
        assert client.submit(f"/cases/{case.uuid}/close",
                             {"reason": "x", "version": case.version}).status_code == 403
        client.submit("/logout")
    db.session.refresh(case)
    assert case.stage == "filed" and count(TimelineEvent) == 0


def test_two_attorneys_moving_at_once_one_wins_the_other_is_told(client, login_as, people,
                                                                 make_user):
    case = people["case"]
    seen = case.version
    stages.move_stage(make_user("staff"), case, "receipt_received", seen)  # the first one wins
    login_as(people["lawyer"])
    response = move(client, case, "rfe", version=seen)  # the second saw the old page
    assert "Someone else changed this case while you were working on it." in html.unescape(
        response.text)
    db.session.refresh(case)
    assert case.stage == "receipt_received" and count(TimelineEvent) == 1


def test_a_race_past_the_version_check_is_still_refused_by_the_database(app, people):
    """Both read version N; the other writer commits between our check and our write."""
    case, lawyer = people["case"], people["lawyer"]
    seen = case.version
    original = stages.timeline.add_event

    def meanwhile(*args, **kwargs):
        # Another request moves the case in its own connection while ours is mid-change.
        def other():
            with app.app_context():
                db.session.execute(update(Case).where(Case.id == case.id)
                                   .values(stage="rfe", version=Case.version + 1))
                db.session.commit()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return original(*args, **kwargs)

    stages.timeline.add_event = meanwhile
    try:
        with pytest.raises(stages.CaseChanged):
            stages.move_stage(lawyer, case, "receipt_received", seen)
    finally:
        stages.timeline.add_event = original
    db.session.expire_all()
    assert db.session.get(Case, case.id).stage == "rfe" and count(TimelineEvent) == 0


def test_close_needs_a_reason_and_reopen_returns_to_the_stage_it_left(client, login_as, people):
    case = people["case"]
    login_as(people["lawyer"])
    url = f"/cases/{case.uuid}/close"
    response = client.submit(url, {"version": case.version, "reason": ""}, follow_redirects=True)
    assert "This field is required." in response.text
    db.session.refresh(case)
    assert case.closed_on is None

    response = client.submit(url, {"version": case.version, "reason": "Client withdrew.",
                                   "client_text": "We closed your case as you asked."},
                             follow_redirects=True)
    db.session.refresh(case)
    assert case.closed_on is not None and case.stage == "closed"
    assert "This case was closed on" in html.unescape(response.text)
    assert "Reopen the case" in response.text

    client.submit(url, {"version": case.version, "reason": "Client came back."})
    db.session.refresh(case)
    assert case.closed_on is None and case.stage == "filed"
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.in_(("case.closed", "case.reopened"))).order_by(AuditEvent.id)).all()
    assert actions == ["case.closed", "case.reopened"]
    client.submit("/logout")
    login_as(people["client"])
    text = page(client, case)
    assert "We closed your case as you asked." in text and "The case was reopened." in text
    assert "Client withdrew." not in text and "Client came back." not in text


def test_moving_to_closed_closes_the_case_and_moving_out_reopens_it(app, people):
    case, lawyer = people["case"], people["lawyer"]
    stages.move_stage(lawyer, case, "closed", case.version)
    assert case.closed_on is not None
    stages.move_stage(lawyer, case, "paroled", case.version)
    assert case.closed_on is None


def test_firm_note_is_hidden_from_the_client_and_a_client_note_notifies_them(client, login_as,
                                                                           people):
    case = people["case"]
    login_as(people["lawyer"])
    url = f"/cases/{case.uuid}/events"
    client.submit(url, {"audience": "firm", "internal_note": "Call the hospital on Friday."})
    assert count(OutboxMessage) == 0
    client.submit(url, {"audience": "client", "client_text": "We spoke to the consulate."})
    assert [m.recipient for m in db.session.scalars(select(OutboxMessage))] == [
        people["client"].email]
    response = client.submit(url, {"audience": "client", "client_text": "  "},
                             follow_redirects=True)
    assert "Write what the client should read." in html.unescape(response.text)
    firm_page = page(client, case)
    assert "Call the hospital on Friday." in firm_page and "Firm only" in firm_page
    # Newest first.
    assert firm_page.index("We spoke to the consulate.") < firm_page.index(
        "Call the hospital on Friday.")
    client.submit("/logout")
    login_as(people["client"])
    text = page(client, case)
    assert "We spoke to the consulate." in text and "Call the hospital on Friday." not in text
    assert "Firm only" not in text and text.count("<time ") == 1


def test_services_refuse_people_who_do_not_run_the_case(app, people, make_user):
    case = people["case"]
    for outsider in (people["client"], people["sponsor"], make_user("attorney")):
        with pytest.raises(ServiceError):
            stages.move_stage(outsider, case, "paroled", case.version)
        with pytest.raises(ServiceError):
            stages.add_note(outsider, case, "x", "", True)
    assert case.stage == "filed"


def test_every_field_on_the_firms_case_page_has_an_id_of_its_own(client, login_as, people):
    """Several forms share field names; each label must still point at its own field."""
    import re
    login_as(people["lawyer"])
    text = client.get(f"/cases/{people['case'].uuid}").text
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) > 20
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
