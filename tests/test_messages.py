"""Secure messaging: the round trip, what each side reads, the rules, and
that no message text is stored in the clear."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from portal.extensions import db
from portal.messages import services
from portal.models import AuditEvent, Message
from portal.models.types import utcnow
from tests.messages import post_thread, thread_key

MARKER = "ZEBRA-4471 the hospital letter"


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, sponsor = make_user("attorney"), make_user("client"), make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor])
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case,
                outsider=make_user("attorney"), other_client=make_user("client"))


def thread_url(people, sponsor=False) -> str:
    case = people["case"]
    if sponsor:
        return f"/cases/{case.uuid}/messages/sponsor/{people['sponsor'].uuid}"
    return f"/cases/{case.uuid}/messages"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_round_trip_client_and_attorney_with_notices_and_nothing_in_the_clear(
        client, login_as, people, mailbox):
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people),
                                     MARKER + "\nsee https://example.org/x.").text)
    assert MARKER in page and 'href="https://example.org/x"' in page
    client.submit("/logout")

    login_as(people["lawyer"])
    page = html.unescape(client.get(thread_url(people)).text)
    assert MARKER in page
    post_thread(client, thread_url(people), "Thank you, we will file it.")
    post_thread(client, thread_url(people), "Check the signature.", internal="y")
    client.submit("/logout")

    login_as(people["client"])
    page = html.unescape(client.get(thread_url(people)).text)
    assert "Thank you, we will file it." in page and "Check the signature." not in page
    # One notice each way; the internal note tells nobody; no email holds the text.
    recipients = sorted(m["To"] for m in mailbox.messages)
    assert recipients == sorted([people["lawyer"].email, people["client"].email])
    for message in mailbox.messages:
        assert "ZEBRA" not in message.get_content() and "Thank you" not in message.get_content()
    # The raw rows hold no message text.
    for table in ("messages", "audit_events", "timeline_events", "outbox_messages"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        assert "ZEBRA" not in repr(rows) and "Thank you" not in repr(rows)


def test_a_burst_of_messages_sends_one_email_per_quarter_hour(app, people, mailbox):
    from portal.messages.permissions import get_thread_or_404
    with app.test_request_context():
        thread = get_thread_or_404(people["case"].uuid, people["client"])
        for n in range(3):
            services.post(people["client"], thread, f"message {n}", f"key-{n}")
        assert [m["To"] for m in mailbox.messages] == [people["lawyer"].email]
        notice = db.session.scalars(select(services.ThreadNotice)).one()
        notice.sent_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
        services.post(people["client"], thread, "later", "key-later")
    assert len(mailbox.messages) == 2


def test_bad_input_script_empty_overlong_and_double_submit(client, login_as, people):
    login_as(people["client"])
    page = post_thread(client, thread_url(people),
                       '<script>alert(1)</script> javascript:alert(2)').text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert "Write a message first." in post_thread(client, thread_url(people), "   ").text
    too_long = post_thread(client, thread_url(people), "x" * (services.MAX_BODY + 1)).text
    assert "at most 10,000 characters" in too_long  # written as the reader writes numbers
    key = thread_key(client, thread_url(people))
    for _ in range(2):
        post_thread(client, thread_url(people), "once", key=key)
    assert count(Message) == 2  # the script one and "once", not twice


def test_only_the_author_retracts_and_only_within_ten_minutes(client, login_as, people):
    login_as(people["client"])
    post_thread(client, thread_url(people), "sent by mistake")
    message = db.session.scalar(select(Message))
    page = html.unescape(client.submit(f"/cases/{people['case'].uuid}/messages/{message.uuid}/retract",
                                       follow_redirects=True).text)
    assert "Message retracted." in page and "sent by mistake" not in page
    client.submit("/logout")
    login_as(people["lawyer"])
    page = html.unescape(client.get(thread_url(people)).text)
    assert "sent by mistake" in page and "the firm keeps the text" in page
    post_thread(client, thread_url(people), "late")
    late = db.session.scalar(select(Message).where(Message.author_id == people["lawyer"].id))
    with pytest.raises(services.ServiceError):
        services.retract(people["lawyer"], late, now=late.created_at + timedelta(minutes=11))
    with pytest.raises(services.ServiceError):
        services.retract(people["client"], late)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "message.retracted")) == 1


def test_sponsor_has_a_thread_of_their_own_and_never_reads_the_clients(client, login_as, people):
    login_as(people["client"])
    post_thread(client, thread_url(people), "about my mother's surgery")
    client.submit("/logout")
    login_as(people["sponsor"])
    assert client.get(thread_url(people)).status_code == 404
    post_thread(client, thread_url(people, sponsor=True), "my bank statements are coming")
    page = html.unescape(client.get(thread_url(people, sponsor=True)).text)
    assert "surgery" not in page and "bank statements" in page
    client.submit("/logout")
    login_as(people["client"])
    assert client.get(thread_url(people, sponsor=True)).status_code == 404


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_strangers_get_404_for_the_thread_and_its_messages(client, login_as, people, who):
    login_as(people[who])
    assert client.get(thread_url(people)).status_code == 404
    assert client.submit(thread_url(people), {"body": "hi", "client_key": "k"}).status_code == 404
    assert count(Message) == 0


def test_a_closed_case_keeps_its_thread_readable_and_takes_no_message(client, login_as, people):
    people["case"].closed_on = utcnow().date()
    db.session.commit()
    login_as(people["client"])
    page = html.unescape(client.submit(thread_url(people), {"body": "hello?", "client_key": "k"},
                                       follow_redirects=True).text)
    assert "no new message can be sent" in page and count(Message) == 0


def test_an_altered_body_shows_an_error_for_that_message_and_the_rest_reads(
        client, login_as, people):
    login_as(people["client"])
    post_thread(client, thread_url(people), "first")
    post_thread(client, thread_url(people), "second")
    first = db.session.scalar(select(Message).order_by(Message.id))
    first.body = first.body[:-1] + bytes([first.body[-1] ^ 1])
    db.session.commit()
    page = html.unescape(client.get(thread_url(people)).text)
    assert "its stored text is damaged" in page and "second" in page
    assert db.session.scalar(select(AuditEvent.target).where(
        AuditEvent.action == "message.unreadable")) == str(first.uuid)


def test_only_the_firm_writes_internal_notes(app, client, login_as, people):
    login_as(people["client"])
    post_thread(client, thread_url(people), "not a secret", internal="y")
    (message,) = db.session.scalars(select(Message)).all()
    assert message.internal is False  # the box is not the client's to tick
    from portal.messages.permissions import get_thread_or_404
    with app.test_request_context():
        thread = get_thread_or_404(people["case"].uuid, people["client"])
        with pytest.raises(services.ServiceError):
            services.post(people["client"], thread, "hidden?", "other-key", internal=True)
    assert count(Message) == 1


def test_unread_counts_move_and_the_sender_sees_when_it_was_read(client, login_as, people):
    case = people["case"]
    login_as(people["client"])
    post_thread(client, thread_url(people), "one")
    post_thread(client, thread_url(people), "two")
    client.submit("/logout")

    login_as(people["lawyer"])
    assert "2 unread messages" in client.get("/").text  # the dashboard
    assert "2 unread messages" in client.get(f"/cases/{case.uuid}").text
    post_thread(client, thread_url(people), "Noted.")
    post_thread(client, thread_url(people), "An internal thought.", internal="y")
    assert "unread message" not in client.get("/").text  # opening the thread read it
    client.submit("/logout")

    login_as(people["client"])
    page = client.get("/").text
    assert "1 unread message" in page  # the answer, not the internal note
    thread = html.unescape(client.get(thread_url(people)).text)
    assert thread.count(">Read<") == 2  # the team opened the thread after both were sent
    assert "unread message" not in client.get(f"/cases/{case.uuid}").text
    client.submit("/logout")

    login_as(people["sponsor"])  # the client's thread is not theirs to count
    assert "unread message" not in client.get("/").text


def test_read_means_read_by_the_other_side_not_a_colleague(client, login_as, people, make_user):
    login_as(people["lawyer"])
    post_thread(client, thread_url(people), "Please send the I-94.")
    client.submit("/logout")
    login_as(make_user("staff"))  # a colleague opens the thread
    client.get(thread_url(people))
    client.submit("/logout")
    login_as(people["lawyer"])
    assert ">Read<" not in client.get(thread_url(people)).text
    client.submit("/logout")
    login_as(people["client"])
    client.get(thread_url(people))
    client.submit("/logout")
    login_as(people["lawyer"])
    assert ">Read<" in client.get(thread_url(people)).text


def test_the_firm_can_mute_a_case_and_a_client_cannot(client, login_as, people, mailbox):
    case = people["case"]
    login_as(people["lawyer"])
    response = client.submit(f"/cases/{case.uuid}/messages/mute", {"muted": "1"},
                             follow_redirects=True)
    assert "You will get no email about this case" in html.unescape(response.text)
    client.submit("/logout")
    login_as(people["client"])
    post_thread(client, thread_url(people), "Are you there?")
    assert mailbox.messages == []  # the muted attorney is not emailed
    assert client.submit(f"/cases/{case.uuid}/messages/mute", {"muted": "1"}).status_code == 403
    client.submit("/logout")
    login_as(people["lawyer"])
    client.submit(f"/cases/{case.uuid}/messages/mute", {"muted": "0"})
    client.submit("/logout")
    login_as(people["client"])
    db.session.execute(text("DELETE FROM thread_notices"))  # past the quarter hour
    db.session.commit()
    post_thread(client, thread_url(people), "Hello again")
    assert [m["To"] for m in mailbox.messages] == [people["lawyer"].email]


def test_a_sponsor_thread_of_someone_not_sponsoring_the_case_is_404(client, login_as, people):
    stranger = "00000000-0000-4000-8000-000000000000"
    for who in ("lawyer", "client"):
        login_as(people[who])
        url = f"/cases/{people['case'].uuid}/messages/sponsor/"
        assert client.get(url + stranger).status_code == 404
        assert client.get(url + str(people["client"].uuid)).status_code == 404  # not a sponsor
        client.submit("/logout")
