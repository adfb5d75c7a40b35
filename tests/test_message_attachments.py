"""Message attachments go the evidence path and are seen by the message's
readers only; an open thread gets new messages without a reload."""
from __future__ import annotations

import html
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Document, Message, StoredObject, UserSession
from portal.models.types import utcnow
from tests.messages import export_thread, post_thread, thread_key
from tests.test_messages import count, people, thread_url  # noqa: F401 (fixture)
from tests.uploads import EXE, PDF

LETTER = PDF + b"the hospital letter, page 1\n"


def download(client, case, version):
    return client.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")


def attachment_of(body_marker: str):
    """The first version attached to the message whose author wrote ``body_marker``."""
    document = db.session.scalar(select(Document).where(Document.message_id.is_not(None))
                                 .order_by(Document.id.desc()))
    return document, document.versions[0]


def test_an_attachment_is_stored_encrypted_as_a_document_linked_to_its_message(
        client, login_as, people, app):
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "Here is the letter.",
                                     [("letter.pdf", LETTER)]).text)
    assert "letter.pdf was uploaded." in page and "Here is the letter." in page
    message = db.session.scalars(select(Message)).one()
    document, version = attachment_of("letter")
    assert document.message_id == message.id and version.filename == "letter.pdf"
    raw = app.extensions["storage"].client.get_object(
        Bucket=app.config["S3_BUCKET"], Key=version.storage_key)["Body"].read()
    assert b"hospital letter" not in raw  # encrypted in S3
    client.submit("/logout")

    login_as(people["lawyer"])
    page = client.get(thread_url(people)).text
    assert f"/versions/{version.uuid}/download" in page and "letter.pdf" in page
    assert download(client, people["case"], version).data == LETTER
    documents = client.get(f"/cases/{people['case'].uuid}/documents").text
    assert "letter.pdf" in documents and f"/messages#m-{message.uuid}" in documents
    assert f'id="m-{message.uuid}"' in page


def test_an_attachment_is_named_by_its_detected_type_everywhere(client, login_as, people):
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "The letter, as a PDF.",
                                     [("x.pdf.html", LETTER)]).text)
    assert "x.pdf.html.pdf was uploaded." in page
    _document, version = attachment_of("letter")
    assert (version.filename, version.content_type) == ("x.pdf.html.pdf", "application/pdf")
    assert re.search(r">x\.pdf\.html\.pdf</a>", page) and ">x.pdf.html<" not in page
    assert download(client, people["case"], version).headers["Content-Disposition"] == (
        "attachment; filename=\"x.pdf.html.pdf\"; filename*=UTF-8''x.pdf.html.pdf")
    client.submit("/logout")
    login_as(people["lawyer"])
    transcript = export_thread(client, thread_url(people), "txt").data.decode()
    assert "  - x.pdf.html.pdf\n" in transcript


def test_a_refused_file_is_named_and_the_message_is_still_sent(client, login_as, people):
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "Two files.",
                                     [("setup.exe", EXE), ("letter.pdf", LETTER)]).text)
    assert "setup.exe was not saved: This kind of file is not accepted." in page
    assert "letter.pdf was uploaded." in page and "Two files." in page
    assert count(Message) == 1 and count(Document) == 1


def test_a_file_over_the_case_quota_is_refused_and_the_message_kept(client, login_as, people,
                                                                    app):
    app.config["CASE_QUOTA_BYTES"] = len(LETTER) - 1
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "Too big for the case.",
                                     [("letter.pdf", LETTER)]).text)
    assert "letter.pdf was not saved: This file does not fit in the case's remaining storage" \
        in page
    assert count(Message) == 1 and count(Document) == 0 and count(StoredObject) == 0


def test_the_same_form_sent_twice_stores_one_message_and_each_file_once(client, login_as,
                                                                       people):
    login_as(people["client"])
    key = thread_key(client, thread_url(people))
    post_thread(client, thread_url(people), "Once.", [("letter.pdf", LETTER)], key=key)
    page = html.unescape(post_thread(client, thread_url(people), "Once.",
                                     [("letter.pdf", LETTER)], key=key).text)
    assert "letter.pdf was already received." in page
    assert count(Message) == 1 and count(Document) == 1 and count(StoredObject) == 1


def test_a_closed_case_takes_no_message_and_stores_no_file(client, login_as, people):
    people["case"].closed_on = utcnow().date()
    db.session.commit()
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "Late.",
                                     [("letter.pdf", LETTER)],
                                     key="typed-before-it-closed").text)
    assert "This case is closed" in page
    assert count(Message) == 0 and count(StoredObject) == 0


def test_an_empty_message_with_a_file_keeps_nothing_and_says_why(client, login_as, people):
    login_as(people["client"])
    page = html.unescape(post_thread(client, thread_url(people), "  ",
                                     [("letter.pdf", LETTER)]).text)
    assert "Write a message first." in page
    assert count(Message) == 0 and count(StoredObject) == 0


# --- who sees an attachment ------------------------------------------------------------

def test_the_firms_file_to_a_sponsor_is_the_sponsors_and_not_the_clients(client, login_as,
                                                                          people):
    login_as(people["lawyer"])
    post_thread(client, thread_url(people, sponsor=True), "The I-134 to sign.",
                [("i134.pdf", LETTER)])
    _document, version = attachment_of("i134")
    client.submit("/logout")
    login_as(people["sponsor"])
    assert download(client, people["case"], version).status_code == 200
    assert "i134.pdf" in client.get(f"/cases/{people['case'].uuid}/documents").text
    client.submit("/logout")
    login_as(people["client"])
    assert download(client, people["case"], version).status_code == 404
    assert "i134.pdf" not in client.get(f"/cases/{people['case'].uuid}/documents").text


def test_the_clients_file_stays_out_of_the_sponsors_reach(client, login_as, people):
    login_as(people["client"])
    post_thread(client, thread_url(people), "My medical letter.", [("medical.pdf", LETTER)])
    _document, version = attachment_of("medical")
    client.submit("/logout")
    for outsider in ("sponsor", "outsider", "other_client"):
        login_as(people[outsider])
        assert download(client, people["case"], version).status_code == 404, outsider
        client.submit("/logout")


def test_an_internal_notes_file_is_the_firms_alone(client, login_as, people):
    login_as(people["lawyer"])
    post_thread(client, thread_url(people), "Draft of our reply.", [("draft.pdf", LETTER)],
                internal="y")
    _document, version = attachment_of("draft")
    client.submit("/logout")
    login_as(people["client"])
    assert download(client, people["case"], version).status_code == 404
    assert "draft.pdf" not in client.get(thread_url(people)).text


def test_a_retracted_messages_file_is_hidden_from_the_other_side(client, login_as, people):
    login_as(people["lawyer"])
    post_thread(client, thread_url(people), "Wrong client, sorry.", [("other.pdf", LETTER)])
    message = db.session.scalars(select(Message)).one()
    _document, version = attachment_of("other")
    client.submit(f"/cases/{people['case'].uuid}/messages/{message.uuid}/retract")
    assert download(client, people["case"], version).status_code == 200  # the firm keeps it
    client.submit("/logout")
    login_as(people["client"])
    assert download(client, people["case"], version).status_code == 404


# --- new messages without a reload ----------------------------------------------------

def poll_url(people) -> str:
    return f"/cases/{people['case'].uuid}/messages/poll"


def test_the_open_page_gets_only_the_newer_messages_and_they_count_as_read(
        client, login_as, people, app):
    from portal.messages import services
    from portal.messages.permissions import get_thread_or_404
    login_as(people["client"])
    page = client.get(thread_url(people)).text
    assert f'data-poll-url="{poll_url(people)}"' in page
    # No inline script: every script element loads a file (the CSP allows no other).
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", page))
    with app.test_request_context():
        thread = get_thread_or_404(people["case"].uuid, people["client"])
        first = services.post(people["lawyer"], thread, "First answer.", "k1")
        services.post(people["lawyer"], thread, "Second answer.", "k2")
    unread = services.unread(people["client"], [people["case"].id])
    assert unread == {people["case"].id: 2}
    data = client.get(f"{poll_url(people)}?after={first.uuid}").get_json()
    assert data["count"] == 1 and "Second answer." in data["html"]
    assert "First answer." not in data["html"]
    assert services.unread(people["client"], [people["case"].id]) == {}
    assert client.get(f"{poll_url(people)}?after={first.uuid}").get_json()["count"] == 1
    assert client.get(poll_url(people)).get_json()["count"] == 2


def test_the_poll_says_until_when_the_other_side_has_read(client, login_as, people, app):
    from portal.messages import services
    from portal.messages.permissions import get_thread_or_404
    login_as(people["lawyer"])
    with app.test_request_context():
        thread = get_thread_or_404(people["case"].uuid, people["lawyer"])
        mine = services.post(people["lawyer"], thread, "Please sign the form.", "k1")
    assert client.get(poll_url(people)).get_json()["read_until"] is None
    with app.test_request_context():
        services.mark_read(people["client"], thread)  # the client opens the thread
    read_until = client.get(poll_url(people)).get_json()["read_until"]
    assert datetime.fromisoformat(read_until) >= mine.created_at


def test_polling_does_not_keep_an_idle_session_alive(client, login_as, people):
    login_as(people["client"])
    earlier = utcnow() - timedelta(minutes=5)
    db.session.execute(update(UserSession).values(last_seen_at=earlier))
    db.session.commit()
    assert client.get(poll_url(people)).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(UserSession.last_seen_at)) == earlier
    client.get(thread_url(people))  # the person does something: that counts
    db.session.expire_all()
    assert db.session.scalar(select(UserSession.last_seen_at)) > earlier


@pytest.mark.parametrize("who", ["sponsor", "outsider", "other_client"])
def test_strangers_to_the_thread_get_404_from_its_poll(client, login_as, people, who):
    login_as(people[who])
    assert client.get(poll_url(people)).status_code == 404


def test_a_poll_after_the_session_ran_out_says_401_and_the_reload_says_why(client, login_as,
                                                                           people, app):
    login_as(people["client"])
    app.config["SESSION_IDLE_TIMEOUT"] = timedelta(minutes=5)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    response = client.get(poll_url(people))
    assert response.status_code == 401 and response.get_json() == {"signed_in": False}
    # The page reloads (messages.js): the sign-in page tells why, once.
    page = client.get(thread_url(people), follow_redirects=True).text
    assert "Your session ended after a period of inactivity." in html.unescape(page)


def test_with_the_store_down_the_message_is_kept_and_the_file_named_as_not_saved(
        base_config, people):
    from portal.dev.embedded_s3 import free_port
    from tests.conftest import PASSWORD
    from tests.test_evidence_faults import STORAGE_DOWN, portal_on
    app = portal_on(base_config, {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    client = app.test_client()
    client.submit("/login", {"email": people["client"].email, "password": PASSWORD})
    page = html.unescape(post_thread(client, thread_url(people), "The letter, attached.",
                                     [("letter.pdf", LETTER)]).text)
    assert "letter.pdf was not saved: " + STORAGE_DOWN in page
    assert "The letter, attached." in page
    assert count(Message) == 1 and count(Document) == 0 and count(StoredObject) == 0


def test_a_message_without_the_csrf_token_is_refused_either_way(client, login_as, people):
    """The thread's routes check the token themselves (the streamed form's
    before any file is read): a forged form stores nothing."""
    login_as(people["client"])
    key = thread_key(client, thread_url(people))
    plain = client.post(thread_url(people), data={"body": "forged", "client_key": key})
    streamed = client.post(thread_url(people), content_type="multipart/form-data",
                           data={"body": "forged", "client_key": key,
                                 "files": [(io.BytesIO(LETTER), "letter.pdf")]})
    assert plain.status_code == streamed.status_code == 400
    assert count(Message) == 0 and count(StoredObject) == 0
