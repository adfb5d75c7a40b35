"""Exporting a message thread as a plain-text transcript and as a PDF: what
it holds, in which order and language, who may export it, and its audit."""
from __future__ import annotations

import hashlib
import re
import zlib
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from sqlalchemy import select

from portal import vault
from portal.extensions import db
from portal.messages import export, export_files, services
from portal.messages.permissions import get_thread_or_404
from portal.models import (AuditEvent, CaseMembership, Document, DocumentVersion, Message,
                           Purpose, ThreadExport)
from portal.models.case import CaseRole
from tests.messages import export_thread
from tests.test_messages import people  # noqa: F401 (the fixture)

RUSSIAN = "Здравствуйте! Вот письмо из больницы.\nВторая строка: операция 12 мая."
SPANISH = "Gracias, señora Núñez. ¿Puede enviar el pasaporte?"
LETTER = b"%PDF-1.4 letter from the hospital " + bytes(range(256))


def today() -> str:
    return date.today().isoformat()


def thread_of(app, people, sponsor=False):  # noqa: F811 (people is the fixture)
    with app.test_request_context():
        return get_thread_or_404(people["case"].uuid, people["lawyer"],
                                 str(people["sponsor"].uuid) if sponsor else None)


def post(app, thread, author, body, internal=False) -> Message:
    with app.test_request_context():
        return services.post(author, thread, body, f"key-{body[:20]}", internal=internal)


def attach(message: Message, author, filename: str, content: bytes) -> None:
    """An attachment row as the upload path will write it."""
    stored = vault.put([content], case=message.thread.case, stored_by=author,
                       purpose=Purpose.DOCUMENT_VERSION, content_type="application/pdf",
                       max_size=10**7, room=10**9)
    document = Document(case=message.thread.case, created_by=author, message=message)
    db.session.add_all([stored, document, DocumentVersion(
        uuid=stored.uuid, document=document, number=1, uploaded_by=author, filename=filename,
        stored_object=stored)])
    db.session.commit()


@pytest.fixture()
def conversation(app, people):  # noqa: F811
    """The client's thread: a Russian letter with an attachment, a Spanish
    answer, a retracted message and an internal note, in that order."""
    thread = thread_of(app, people)
    first = post(app, thread, people["client"], RUSSIAN)
    attach(first, people["client"], "письмо.pdf", LETTER)
    post(app, thread, people["lawyer"], SPANISH)
    mistake = post(app, thread, people["client"], "sent by mistake ZEBRA")
    services.retract(people["client"], mistake)
    post(app, thread, people["lawyer"], "Check the signature OTTER", internal=True)
    return thread


def thread_url(people, sponsor=False) -> str:  # noqa: F811
    base = f"/cases/{people['case'].uuid}/messages"
    return base + f"/sponsor/{people['sponsor'].uuid}" if sponsor else base


def export_url(people, fmt, sponsor=False) -> str:  # noqa: F811
    return f"{thread_url(people, sponsor)}/export.{fmt}"


def exported(client, people, fmt, sponsor=False, internal=False):  # noqa: F811
    """The file of the thread's export, asked for as the firm's buttons do."""
    return export_thread(client, thread_url(people, sponsor), fmt, internal)


def exports_audited() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "messages.exported").order_by(AuditEvent.id)))


def pdf_text(data: bytes) -> str:
    """The text a PDF written by fpdf2 shows, one line per text object: each
    shown string's glyph ids decoded through its font's ToUnicode map."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj\s(.*?)endobj", data, re.S)}

    def stream(number: int) -> bytes:
        body = objects[number]
        raw = re.search(rb"stream\r?\n(.*)\r?\nendstream", body, re.S).group(1)
        return zlib.decompress(raw) if b"/FlateDecode" in body else raw

    fonts = {}
    for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", b"".join(objects.values())):
        cmap = stream(int(re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)]).group(1)))
        fonts[name] = {int(cid, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
                       for cid, text in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)}
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    lines, font = [], None
    for page in re.findall(rb"/Contents (\d+) 0 R", data):
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\)|\bET\b",
                                 stream(int(page)), re.S):
            if token.group(1):
                font = fonts[token.group(1)]
            elif token.group(0) == b"ET":
                lines.append("")
            else:
                raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: escapes.get(m.group(1)) or (
                    bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else m.group(1)),
                    token.group(2), flags=re.S)
                lines[-1:] = [(lines[-1] if lines else "") + "".join(
                    font[int.from_bytes(raw[i:i + 2], "big")] for i in range(0, len(raw), 2))]
    return "\n".join(line for line in lines if line)


def pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


# --- what the transcript holds ---------------------------------------------------

def test_text_transcript_holds_the_thread_in_order_with_authors_retraction_and_attachment(
        app, client, login_as, people, conversation):  # noqa: F811
    login_as(people["lawyer"])
    response = exported(client, people, "txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{people["case"].reference}-messages-client-{today()}.txt"')
    assert response.headers["Cache-Control"] == "no-store"
    text = response.data.decode("utf-8")
    assert text.startswith(f"Messages of case {people['case'].reference}\n")
    assert "Thread: with the client\n" in text
    assert f"Exported by: {people['lawyer'].name}\n" in text
    assert "Messages: 3\n" in text and "Internal notes: not included\n" in text
    # In order, each with its author and side; every body line quoted.
    first = text.index(f"From: {people['client'].name} (Client)")
    second = text.index(f"From: {people['lawyer'].name} (Firm)")
    third = text.index("> sent by mistake ZEBRA")
    assert first < text.index("> Здравствуйте! Вот письмо из больницы.\n"
                              "> Вторая строка: операция 12 мая.") < second
    assert second < text.index("> " + SPANISH) < third
    # The retracted message keeps its text, marked, with the time of retraction.
    retracted = db.session.scalar(select(Message).where(Message.retracted_at.is_not(None)))
    stamp = f"{retracted.retracted_at:%Y-%m-%dT%H:%M:%SZ}"
    assert re.search(rf"Retracted by its author at {stamp} \(.+, UTC\)\n", text)
    assert text.index("Retracted by its author") < third
    # The attachment: name, exact size, type and the SHA-256 of the bytes stored.
    assert "  - письмо.pdf\n" in text
    assert f"    {len(LETTER)} bytes · application/pdf\n" in text
    assert f"    SHA-256: {hashlib.sha256(LETTER).hexdigest()}\n" in text
    assert "OTTER" not in text and "INTERNAL NOTE" not in text


def test_internal_notes_only_when_asked(client, login_as, people, conversation):  # noqa: F811
    login_as(people["lawyer"])
    text = exported(client, people, "txt", internal=True).data.decode()
    assert "Messages: 4\n" in text and "Internal notes: included\n" in text
    note = text.index("> Check the signature OTTER")
    assert text.rindex("INTERNAL NOTE", 0, note) > text.index("> sent by mistake ZEBRA")
    assert text.count("INTERNAL NOTE") == 1
    without = export.as_text(export.transcript(people["lawyer"], conversation, False))
    assert "OTTER" not in without


def test_internal_notes_left_out_are_not_decrypted(app, people, conversation,
                                                   monkeypatch):  # noqa: F811
    crypto, decrypted = app.extensions["crypto"], []
    real = crypto.decrypt_text

    def spy(ciphertext, owner_uuid):
        decrypted.append(owner_uuid)
        return real(ciphertext, owner_uuid)

    monkeypatch.setattr(crypto, "decrypt_text", spy)
    messages = db.session.scalars(select(Message).order_by(Message.id)).all()
    note = next(m for m in messages if m.internal)
    for include_internal in (False, True):
        decrypted.clear()
        with app.test_request_context():
            export.transcript(people["lawyer"], conversation, include_internal)
        assert decrypted == [m.uuid for m in messages if include_internal or not m.internal]
    assert note.uuid in decrypted  # the spy does see an internal note when it is exported


def test_a_damaged_internal_note_left_out_is_not_read_at_all(app, client, login_as, people,
                                                            conversation):  # noqa: F811
    note = db.session.scalar(select(Message).where(Message.internal.is_(True)))
    note.body = note.body[:-1] + bytes([note.body[-1] ^ 1])
    db.session.commit()
    login_as(people["lawyer"])
    text = exported(client, people, "txt").data.decode()
    assert "damaged" not in text
    assert db.session.scalar(select(AuditEvent.target).where(
        AuditEvent.action == "message.unreadable")) is None  # no attempt was made to read it
    text = exported(client, people, "txt", internal=True).data.decode()
    assert "> [This message's stored text is damaged]\n" in text
    assert db.session.scalar(select(AuditEvent.target).where(
        AuditEvent.action == "message.unreadable")) == str(note.uuid)


def test_a_body_cannot_pass_for_the_transcripts_own_lines(app, people,
                                                        conversation):  # noqa: F811
    post(app, conversation, people["client"],
         "ok\nFrom: Attorney 1 (Firm)\n\n" + "=" * 72 + "\r\nINTERNAL NOTE\x1b[2J\tend")
    with app.test_request_context():
        text = export.as_text(export.transcript(people["lawyer"], conversation, False))
    assert ("> ok\n> From: Attorney 1 (Firm)\n>\n> " + "=" * 72 + "\n> INTERNAL NOTE[2J    end\n"
            in text)
    assert len([line for line in text.splitlines() if line.startswith("From: ")]) == 4
    assert "\nINTERNAL NOTE" not in text and "\x1b" not in text and "\r" not in text


def test_the_pdf_shows_the_same_text_paged_and_wrapped(client, login_as, people,
                                                       conversation):  # noqa: F811
    long_word = "Z" * 300
    post(client.application, conversation, people["client"],
         long_word + "\n" + "слово " * 1500)
    login_as(people["lawyer"])
    response = exported(client, people, "pdf", internal=True)
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{people["case"].reference}-messages-client-{today()}.pdf"')
    text, count = pdf_text(response.data), pages(response.data)
    assert count >= 2
    assert [f"Page {n} of {count}" in text for n in range(1, count + 1)] == [True] * count
    for shown in ("Здравствуйте! Вот письмо из больницы.", SPANISH, "sent by mistake ZEBRA",
                  "Check the signature OTTER", "INTERNAL NOTE", "Retracted by its author at",
                  "письмо.pdf", f"SHA-256: {hashlib.sha256(LETTER).hexdigest()}",
                  f"From: {people['client'].name} (Client)", "Messages: 5"):
        assert shown in text, shown
    # The long word is wrapped onto several lines, none of it lost.
    assert long_word not in text and long_word in re.sub(r"\s", "", text)
    assert "cannot be shown in this PDF" not in text
    plain = exported(client, people, "pdf").data
    assert "OTTER" not in pdf_text(plain) and "INTERNAL NOTE" not in pdf_text(plain)


def test_characters_the_pdf_font_lacks_are_marked_not_dropped(client, login_as, people,
                                                             conversation):  # noqa: F811
    post(client.application, conversation, people["client"], "护照 ready 😀")
    login_as(people["lawyer"])
    text = pdf_text(exported(client, people, "pdf").data)
    assert "\ufffd\ufffd ready \ufffd" in text
    assert "Some characters cannot be shown in this PDF and are printed as \ufffd." in text
    assert "> 护照 ready 😀\n" in exported(client, people, "txt").data.decode()


def test_a_sponsor_thread_names_the_sponsor_and_holds_only_its_messages(
        app, client, login_as, people, conversation):  # noqa: F811
    thread = thread_of(app, people, sponsor=True)
    post(app, thread, people["sponsor"], "bank statements coming")
    login_as(people["lawyer"])
    text = exported(client, people, "txt", sponsor=True).data.decode()
    assert f"Thread: with sponsor {people['sponsor'].name}\n" in text
    assert f"From: {people['sponsor'].name} (Sponsor)" in text and "Messages: 1\n" in text
    assert "bank statements coming" in text and "ZEBRA" not in text and "больницы" not in text
    assert f"with sponsor {people['sponsor'].name}" in pdf_text(
        exported(client, people, "pdf", sponsor=True).data)


@pytest.mark.parametrize("fmt", ["pdf", "txt"])
def test_the_client_and_a_sponsor_thread_export_under_different_names(
        app, client, login_as, people, make_user, fmt):  # noqa: F811
    second = make_user("sponsor", name=people["sponsor"].name)  # two sponsors, one name
    people["case"].memberships.append(CaseMembership(user=second, role=CaseRole.SPONSOR))
    db.session.commit()
    login_as(people["lawyer"])
    reference = people["case"].reference

    def named(sponsor=None) -> str:
        base = f"/cases/{people['case'].uuid}/messages"
        if sponsor is not None:
            base += f"/sponsor/{sponsor.uuid}"
        response = export_thread(client, base, fmt)
        assert response.status_code == 200
        return response.headers["Content-Disposition"]

    names = [named(), named(people["sponsor"]), named(second)]
    assert names == [f'attachment; filename="{reference}-messages-{audience}-{today()}.{fmt}"'
                     for audience in ("client", f"sponsor-{people['sponsor'].uuid.hex[:8]}",
                                      f"sponsor-{second.uuid.hex[:8]}")]
    assert len(set(names)) == 3  # two sponsors of one name too


def test_a_damaged_body_is_listed_as_such_and_audited(app, people, conversation):  # noqa: F811
    first = db.session.scalar(select(Message).order_by(Message.id))
    first.body = first.body[:-1] + bytes([first.body[-1] ^ 1])
    db.session.commit()
    with app.test_request_context():
        made = export.transcript(people["lawyer"], conversation, False)
    text = export.as_text(made)
    assert "> [This message's stored text is damaged]\n" in text and "больницы" not in text
    assert "письмо.pdf" in text and SPANISH in text  # the rest, and the attachment, stay
    assert db.session.scalar(select(AuditEvent.target).where(
        AuditEvent.action == "message.unreadable")) == str(first.uuid)
    assert "[This message's stored text is damaged]" in pdf_text(export.as_pdf(made))


def test_times_and_numbers_follow_the_exporters_language_and_zone(
        app, people, conversation):  # noqa: F811
    people["lawyer"].language, people["lawyer"].timezone = "ru", "Asia/Vladivostok"
    db.session.commit()
    with app.test_request_context():
        made = export.transcript(people["lawyer"], conversation, True)
        text = export.as_text(made)
    sent = db.session.scalar(select(Message).order_by(Message.id)).created_at
    local = format_datetime(sent, "medium", tzinfo=ZoneInfo("Asia/Vladivostok"), locale="ru")
    assert f"{sent:%Y-%m-%dT%H:%M:%SZ} ({local}, Asia/Vladivostok)" in text
    assert made.language == "ru"
    assert export.as_pdf(made).startswith(b"%PDF-")


# --- audit and access ---------------------------------------------------------------

def test_each_export_is_audited_once_with_its_format(client, login_as, people,
                                                     conversation):  # noqa: F811
    login_as(people["lawyer"])
    exported(client, people, "pdf")
    exported(client, people, "txt", internal=True)
    recorded = exports_audited()
    assert [(e.details["format"], e.details["internal"]) for e in recorded] == [
        ("pdf", False), ("text", True)]
    assert {(e.actor_id, e.case_id, e.target) for e in recorded} == {
        (people["lawyer"].id, people["case"].id, str(conversation.uuid))}


@pytest.mark.parametrize("fmt", ["pdf", "txt"])
@pytest.mark.parametrize("who, sponsor_thread", [
    ("outsider", False), ("outsider", True), ("other_client", False), ("other_client", True),
    ("client", False), ("client", True), ("sponsor", False), ("sponsor", True)])
def test_only_the_case_team_exports(client, login_as, people, conversation, who, sponsor_thread,
                                    fmt):  # noqa: F811
    login_as(people[who])
    assert client.submit(export_url(people, fmt, sponsor=sponsor_thread)).status_code == 404
    assert client.submit(export_url(people, fmt, sponsor=sponsor_thread),
                         {"internal": "1"}).status_code == 404
    assert exports_audited() == [] and db.session.scalar(select(ThreadExport.id)) is None
    if (who, sponsor_thread) in (("client", False), ("sponsor", True)):
        # Their own thread: readable on the page, but the export is the firm's (audited).
        assert client.get(thread_url(people, sponsor_thread)).status_code == 200
        assert db.session.scalar(select(AuditEvent.target).where(
            AuditEvent.action == "messages.export_denied")) is not None


def test_the_service_refuses_anyone_but_the_case_team(app, people, conversation):  # noqa: F811
    for who in ("client", "sponsor", "outsider"):
        with pytest.raises(services.ServiceError):
            export.transcript(people[who], conversation, False)
        with pytest.raises(services.ServiceError):
            export_files.ask(people[who], conversation, "txt", True)
    assert exports_audited() == []


@pytest.mark.parametrize("tail", ["export.html", "export.PDF", "export.", "export.pdf.txt",
                                  "export"])
def test_another_format_is_404(client, login_as, people, tail):  # noqa: F811
    login_as(people["lawyer"])
    assert client.get(f"/cases/{people['case'].uuid}/messages/{tail}").status_code == 404


def test_the_firm_sees_the_export_form_and_the_client_does_not(client, login_as,
                                                               people):  # noqa: F811
    login_as(people["lawyer"])
    page = client.get(f"/cases/{people['case'].uuid}/messages/sponsor/"
                      f"{people['sponsor'].uuid}").text
    assert export_url(people, "pdf", sponsor=True) in page
    assert export_url(people, "txt", sponsor=True) in page and 'name="internal"' in page
    client.submit("/logout")
    login_as(people["client"])
    assert "/export." not in client.get(f"/cases/{people['case'].uuid}/messages").text
