"""Message delivery end to end, against real parts: a real ``huey_consumer``
process sends the notices through a real SMTP server on loopback, the
attachment goes to the real S3 store encrypted and comes back whole; a mail
server that is down delays the notice but loses neither it nor the message;
and on PostgreSQL no message text is anywhere in the database in the clear.
"""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from portal import storage
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from portal.models import (Document, DocumentVersion, Message, OutboxMessage, OutboxState,
                           ThreadNotice)
from portal.models.types import utcnow
from portal.outbox import services as outbox
from portal.outbox import tasks
from tests.conftest import PASSWORD
from tests.jobs import consumer_queue, start_consumer, stop, wait_until  # noqa: F401
from tests.messages import post_thread
from tests.uploads import PDF

BODY_MARKER = "KESTREL-8830 my brother's asylum interview"
FILE_MARKER = b"KESTREL-FILE-5521 medical report of Olga"
LETTER = PDF + FILE_MARKER + b"\n%%EOF\n"
# From the catalogs' translations of templates/email/new_message.txt and its subject.
SPANISH = "Tiene un mensaje nuevo"
RUSSIAN = ("новое сообщение", "Войдите")
ENGLISH = "You have a new message"


@pytest.fixture()
def people(make_user, make_case):
    lawyer = make_user("attorney", language="es", name="Marta Quiroga")
    client_user = make_user("client", language="ru", name="Olga Petrovna Smirnova")
    case = make_case(attorney=lawyer, client=client_user, reference="HP-2026-7731",
                     title="Parole for Olga's mother", beneficiary_name="Irina Smirnova")
    return dict(lawyer=lawyer, client=client_user, case=case)


def browser(app, user):
    """A test client of its own, signed in as ``user`` through the real form."""
    session = app.test_client()
    response = session.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return session


def thread_url(case) -> str:
    return f"/cases/{case.uuid}/messages"


def outbox_rows() -> list[OutboxMessage]:
    db.session.commit()  # see what the consumer process committed
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def sent_to(mailbox, email: str) -> list:
    return [m for m in mailbox.messages if m["To"] == email]


def all_sent() -> bool:
    """Every notice written so far has gone out (the consumer is idle)."""
    return all(row.state is OutboxState.SENT for row in outbox_rows())


def readable(message) -> str:
    """Everything a recipient reads of an email: its headers and decoded body."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    return headers + "\n" + message.get_content()


def assert_content_free(message, *secrets: str) -> None:
    seen = readable(message)
    for secret in secrets:
        assert secret not in seen, f"{secret!r} is in the email"


def attachment() -> DocumentVersion:
    db.session.commit()
    return db.session.scalars(select(DocumentVersion).join(Document)
                              .where(Document.message_id.is_not(None))).one()


def raw_object(app, key: str) -> bytes:
    """The object as the bucket holds it, read with a client of our own."""
    config = app.config
    s3 = storage.make_client(config["S3_ENDPOINT_URL"], config["S3_ACCESS_KEY_ID"],
                             config["S3_SECRET_ACCESS_KEY"], config["S3_REGION"])
    return s3.get_object(Bucket=config["S3_BUCKET"], Key=key)["Body"].read()


# --- the round trip, with a real consumer process ---------------------------------

def test_a_message_with_a_file_reaches_each_side_once_in_their_language_without_content(
        app, people, mailbox, consumer_queue, tmp_path):
    case, lawyer, client_user = people["case"], people["lawyer"], people["client"]
    log = tmp_path / "consumer.log"
    consumer = start_consumer(app, consumer_queue, mailbox.port, log)
    try:
        as_client = browser(app, client_user)
        page = html.unescape(post_thread(as_client, thread_url(case), BODY_MARKER,
                                         [("letter.pdf", LETTER)]).text)
        assert BODY_MARKER in page and "letter.pdf" in page
        wait_until(lambda: sent_to(mailbox, lawyer.email), "the notice to the attorney", 45)
        for n in range(3):  # a burst: the attorney was told a moment ago
            post_thread(as_client, thread_url(case), f"and one more thing, {n}", [])
        wait_until(all_sent, "the consumer to send every notice", 45)
        assert [row.recipient for row in outbox_rows()] == [lawyer.email]
        (notice,) = sent_to(mailbox, lawyer.email)

        as_lawyer = browser(app, lawyer)
        page = html.unescape(post_thread(as_lawyer, thread_url(case),
                                         "Recibido, lo presentamos mañana.", []).text)
        assert "Recibido, lo presentamos mañana." in page
        wait_until(lambda: sent_to(mailbox, client_user.email), "the notice to the client", 45)
        wait_until(all_sent, "the consumer to send every notice", 45)
    finally:
        stop(consumer)
    assert sorted(m["To"] for m in mailbox.messages) == sorted([lawyer.email, client_user.email])

    # The attorney's notice: nothing of the message, the case or the client;
    # a link to the portal; in Spanish.
    assert_content_free(notice, "KESTREL", "letter.pdf", "and one more thing", case.reference,
                        case.title, case.beneficiary_name, client_user.name, client_user.email)
    assert mailbox.links(notice) == [f"http://portal.test/cases/{case.uuid}"]
    assert SPANISH in notice["Subject"] and SPANISH in notice.get_content()
    assert ENGLISH not in readable(notice)

    # The client's notice: the same, in Russian.
    (answer,) = sent_to(mailbox, client_user.email)
    assert_content_free(answer, "Recibido", "KESTREL", case.reference, case.title,
                        case.beneficiary_name, client_user.name, lawyer.name)
    assert mailbox.links(answer) == [f"http://portal.test/cases/{case.uuid}"]
    assert RUSSIAN[0] in answer["Subject"]
    assert all(word in answer.get_content() for word in RUSSIAN)
    assert ENGLISH not in readable(answer) and SPANISH not in readable(answer)

    # The attachment: a document of the message, encrypted in the bucket,
    # whole when the attorney downloads it, shown in the thread and the documents.
    version = attachment()
    first = db.session.scalars(select(Message).order_by(Message.id)).first()
    assert version.document.message_id == first.id and first.author_id == client_user.id
    raw = raw_object(app, version.stored_object.key)
    assert raw and FILE_MARKER not in raw and PDF not in raw
    download = as_lawyer.get(f"/cases/{case.uuid}/versions/{version.uuid}/download")
    assert download.status_code == 200 and download.data == LETTER
    link = f"/cases/{case.uuid}/versions/{version.uuid}/download"
    thread = html.unescape(as_lawyer.get(thread_url(case)).text)
    assert BODY_MARKER in thread and "letter.pdf" in thread and link in thread
    documents = html.unescape(as_lawyer.get(f"/cases/{case.uuid}/documents").text)
    assert "letter.pdf" in documents and f"#m-{first.uuid}" in documents


# --- the mail server down --------------------------------------------------------

def test_with_the_mail_server_down_the_message_is_saved_and_its_notice_sent_once_later(
        app, people, mailbox, smtp_server):
    case, lawyer = people["case"], people["lawyer"]
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    as_client = browser(app, people["client"])
    page = html.unescape(post_thread(as_client, thread_url(case), BODY_MARKER, []).text)
    assert BODY_MARKER in page
    (message,) = db.session.scalars(select(Message)).all()
    assert app.extensions["crypto"].decrypt_text(message.body, message.uuid) == BODY_MARKER
    (row,) = outbox_rows()
    assert (row.recipient, row.state, row.attempts) == (lawyer.email, OutboxState.RETRY, 1)
    assert "refused" in row.last_error.lower() and mailbox.messages == []
    assert BODY_MARKER in html.unescape(as_client.get(thread_url(case)).text)

    app.config["MAIL_PORT"] = smtp_server.port  # back up
    later = utcnow() + timedelta(minutes=10)
    assert outbox.sweep(now=later) == 1
    (notice,) = mailbox.messages
    assert notice["To"] == lawyer.email and notice["Message-ID"] == row.message_id
    assert_content_free(notice, "KESTREL", case.reference)
    # Swept again, and again by the periodic job: nothing goes out twice.
    assert outbox.sweep(now=later + timedelta(hours=1)) == 0
    tasks.sweep()
    assert len(mailbox.messages) == 1 and outbox_rows()[0].state is OutboxState.SENT


# --- nothing in the clear in PostgreSQL ------------------------------------------

@pytest.fixture()
def db_is_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("scans PostgreSQL's tables: set PORTAL_TEST_DATABASE_URL to a "
                    "postgresql:// server to run it")


def scan_database() -> dict[str, list[str]]:
    """Every row of every table of the current schema, as PostgreSQL prints it."""
    tables = db.session.scalars(text(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")).all()
    rows = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        rows[table] = db.session.scalars(text(f"SELECT t::text FROM {quoted} t")).all()
    return rows


def found(rows: dict[str, list[str]], needle: str | bytes) -> list[str]:
    """The tables where ``needle`` is, as text or as the hex PostgreSQL
    prints a bytea column in (so a plaintext byte column is caught too)."""
    raw = needle.encode() if isinstance(needle, str) else needle
    forms = [raw.hex()] + ([needle] if isinstance(needle, str) else [])
    return sorted(table for table, texts in rows.items()
                  if any(form in row for row in texts for form in forms))


def test_no_message_text_is_stored_in_the_clear_in_any_table(app, db_is_postgresql, people,
                                                           mailbox):
    case, lawyer, client_user = people["case"], people["lawyer"], people["client"]
    as_client, as_lawyer = browser(app, client_user), browser(app, lawyer)
    post_thread(as_client, thread_url(case), "1 " + BODY_MARKER, [("letter.pdf", LETTER)])
    post_thread(as_lawyer, thread_url(case), "2 " + BODY_MARKER, [])
    post_thread(as_lawyer, thread_url(case), "3 " + BODY_MARKER, [], internal="y")
    post_thread(as_client, thread_url(case), "4 " + BODY_MARKER, [])
    retracted = db.session.scalars(select(Message).order_by(Message.id.desc())).first()
    as_client.submit(f"/cases/{case.uuid}/messages/{retracted.uuid}/retract")
    version = attachment()
    assert as_lawyer.get(f"/cases/{case.uuid}/versions/{version.uuid}/download").data == LETTER
    page = html.unescape(as_lawyer.get(thread_url(case)).text)
    assert all(f"{n} {BODY_MARKER}" in page for n in (1, 2, 3, 4))  # the firm reads all four
    db.session.commit()
    assert db.session.get(Message, retracted.id).retracted_at is not None
    assert db.session.scalars(select(ThreadNotice)).all()
    assert sorted(m["To"] for m in mailbox.messages) == sorted([lawyer.email, client_user.email])

    rows = scan_database()
    assert {"messages", "documents", "outbox_messages", "audit_events"} <= rows.keys()
    assert len(rows["messages"]) == 4
    # The scan reads the rows: what is stored in the clear by design is found,
    # and so is a message body in the hex form the marker is also looked for in.
    assert "cases" in found(rows, case.reference) and "users" in found(rows, lawyer.email)
    assert "document_versions" in found(rows, "letter.pdf")
    assert found(rows, db.session.get(Message, retracted.id).body) == ["messages"]
    # ... and no message text, nor the attachment's content, is anywhere.
    assert found(rows, "KESTREL") == []
    assert found(rows, FILE_MARKER) == []

