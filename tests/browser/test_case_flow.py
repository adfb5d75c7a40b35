"""Running a case, as the people meet it: over TLS through nginx, production
settings, PostgreSQL. The attorney opens a parole case and invites the
client; the client accepts on a phone, switches to Spanish and sees where the
case stands, what happens next and what to do; the attorney records the
receipt number (typed with dashes) and moves the stage; the client sees both.
The tests run in order and share the case."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, OutboxMessage, OutboxState
from tests.jobs import wait_until
from tests.browser.conftest import _browser_context, launch
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.uploading import add_files
from tests.browser.test_requests_es import ATTORNEY, VIEWPORTS, _no_horizontal_scroll, _screenshot
from tests.uploads import PDF

CLIENT_EMAIL = "carmen.rios@example.org"
CLIENT_NAME = "Carmen Ríos"
TITLE = "Parole for Elena Ríos: heart surgery in Houston"
MESSAGE = "USCIS recibió la solicitud de Elena. Le avisaremos en cuanto haya noticias."
# English the client reading Spanish must not meet on her case page.
ENGLISH = ("Where your case stands", "What happens next", "What we need from you", "Timeline",
           "The case moved to", "receipt number", "Receipt number", "Your case at USCIS",
           "Your upcoming appointments", "Biometrics appointment", "The case was opened",
           "People", "Documents", "Approved", "Paroled", "time)")
APPOINTMENT_DAY = date.today() + timedelta(days=12)
SHARED: dict[str, str] = {}  # what one step leaves for the next: case uuid, reference, link


@pytest.fixture(scope="module", autouse=True)
def _clean_queue(production_portal: Portal):
    yield
    # The notices queued for no consumer: leave nothing in the machine's Redis.
    production_portal.app.extensions["jobs"].storage.flush_all()


@pytest.fixture()
def phone(browser_prerequisites, tls_certificate, tmp_path):
    """A phone's chromium (390 px, touch) in English, in Caracas."""
    with _browser_context(tmp_path, timezone_id="America/Caracas", viewport=VIEWPORTS["phone"],
                          is_mobile=True, has_touch=True) as context:
        yield context


def _in_spanish(app, text_of) -> str:
    """What ``text_of()`` gives in Spanish (a stage's title, its next step...)."""
    with app.test_request_context(), force_locale("es"):
        return str(text_of())


def _stage(key: str):
    return get_case_type("humanitarian_parole").stage(key)


def test_attorney_opens_a_case_and_invites_the_client(production_portal: Portal, browser):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    page = browser.new_page()
    sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
    page.get_by_role("link", name="Open a case").click()
    page.get_by_label("Type of case").select_option(label="Humanitarian parole")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Beneficiary's full name").fill("Elena Ríos")
    page.get_by_label("Beneficiary's country").select_option("VE")
    page.get_by_label("Life-threatening medical").check()
    page.get_by_label("Client's full name").fill(CLIENT_NAME)
    page.get_by_label("Client's email").fill(CLIENT_EMAIL)
    _screenshot(page, "case-1-open-form")
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.get_by_role("button", name="Open the case and send the invitations").click()

    expect(page.locator("h1")).to_have_text(TITLE)
    reference = page.locator("main p.muted").first.inner_text().split(" · ")[0]
    assert reference.startswith("HP-2026-") or reference.startswith("HP-")
    path = page.locator("ol.path li")
    expect(path.first).to_have_class("current")
    expect(path.first).to_contain_text("Intake")
    people = page.get_by_role("region", name="People")
    expect(people).to_contain_text(CLIENT_NAME)
    expect(people).to_contain_text("waiting since")
    _screenshot(page, "case-2-opened-attorney")
    SHARED["case"] = page.url.rsplit("/", 1)[1]
    SHARED["reference"] = reference

    # The invitation went to the outbox; the job consumer delivers it.
    with portal.app.app_context():
        def sent() -> bool:
            db.session.rollback()  # see what the consumer committed
            return db.session.scalar(select(OutboxMessage.state).where(
                OutboxMessage.recipient == CLIENT_EMAIL,
                OutboxMessage.template == "invitation")) is OutboxState.SENT
        wait_until(sent, "the invitation email")
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        assert case.title == TITLE and case.stage == "intake"
        db.session.remove()


def test_client_accepts_switches_to_spanish_and_sees_where_the_case_stands(
        production_portal: Portal, smtp_server, phone):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    (mail,) = [m for m in smtp_server.messages if m["To"] == CLIENT_EMAIL]
    assert SHARED["reference"] not in mail.get_content() and "Elena" not in mail.get_content()
    (link,) = smtp_server.links(mail)
    page = phone.new_page()
    page.goto(link)
    page.get_by_label("Your full name").fill(CLIENT_NAME)
    page.get_by_label("Choose a password").fill("a long and new passphrase 7")
    page.get_by_label("Repeat the password").fill("a long and new passphrase 7")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("h1")).to_have_text(TITLE)

    page.goto(f"{base}/account")
    page.get_by_role("combobox", name="Language").select_option("es")  # the settings field, not the header switch
    page.get_by_label("Time zone").select_option("America/Caracas")
    page.get_by_role("button", name="Save").click()
    page.goto(f"{base}/cases/{SHARED['case']}")

    intake = _stage("intake")
    expect(page.locator("ol.path li.current .name")).to_have_text(
        _in_spanish(portal.app, lambda: intake.title))
    stage = page.locator("section.stage")
    expect(stage).to_contain_text(_in_spanish(portal.app, lambda: intake.next))
    expect(stage.locator(".todo")).to_contain_text(_in_spanish(portal.app, lambda: intake.todo))
    # The steps ahead are shown, in Spanish, with nothing marked done yet.
    expect(page.locator("ol.path li.ahead .name").last).to_have_text(
        _in_spanish(portal.app, lambda: _stage("paroled").title))
    expect(page.locator("ol.path li.done")).to_have_count(0)
    main = page.locator("main").inner_text()
    for english in ("Where your case stands", "What happens next", "What you need to do",
                    "Timeline", intake.next):
        assert str(english) not in main, english
    _no_horizontal_scroll(page)
    _screenshot(page, "case-3-client-es-intake")


def test_attorney_records_the_receipt_number_and_moves_the_stage(production_portal: Portal,
                                                                 browser):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    page = browser.new_page()
    sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
    page.goto(f"{base}/cases/{SHARED['case']}")

    page.get_by_text("Record the receipt number").click()
    receipt = page.locator("form[action$='/uscis/receipt']")
    receipt.get_by_label("Receipt number").fill("ioe-091-234-5678")
    receipt.get_by_role("button", name="Save the receipt number").click()
    expect(page.locator(".flash.success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("IOE0912345678")

    page.get_by_text("Move the stage").first.click()
    move = page.locator("form[action$='/stage']")
    move.get_by_label("Move the case to").select_option(label="Receipt notice received")
    move.get_by_label("Message to the client (optional)").fill(MESSAGE)
    move.get_by_label("Internal note (optional, the firm only)").fill("Receipt came by post.")
    move.get_by_role("button", name="Move the stage").click()
    expect(page.locator(".flash.success")).to_contain_text("Saved")
    expect(page.locator("ol.path li.current .name")).to_have_text("Receipt notice received")
    expect(page.locator("ol.timeline li").first).to_contain_text(MESSAGE)
    expect(page.locator("ol.timeline li").first).to_contain_text("Receipt came by post.")
    _screenshot(page, "case-4-attorney-moved")

    # A biometrics appointment, typed on the attorney's clock (UTC).
    page.get_by_text("Add an appointment").click()
    appointment = page.locator("form[action$='/uscis/appointments']")
    appointment.get_by_label("Appointment").select_option(label="Biometrics appointment")
    appointment.get_by_label("Date").fill(APPOINTMENT_DAY.isoformat())
    appointment.get_by_label("Time (your time zone)").fill("14:30")
    appointment.get_by_label("Place (optional)").fill("U.S. Embassy, Bogotá")
    appointment.get_by_role("button", name="Add the appointment").click()
    expect(page.locator(".flash.success")).to_be_visible()

    # The dashboard finds the case by its receipt number as people type it.
    page.goto(f"{base}/?q=ioe-0912345678")
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(SHARED["reference"])
    expect(rows.first).to_contain_text("Receipt notice received")
    _screenshot(page, "case-6-dashboard-search")
    page.goto(f"{base}/agenda")
    expect(page.locator("h1")).to_have_text("Agenda")
    expect(page.locator("main")).to_contain_text("Biometrics appointment")
    expect(page.locator("main")).to_contain_text(SHARED["reference"])
    _screenshot(page, "case-7-agenda")
    with portal.app.app_context():
        case = db.session.scalar(select(Case).where(Case.reference == SHARED["reference"]))
        assert case.receipt_number == "IOE0912345678" and case.stage == "receipt_received"
        db.session.remove()


def test_client_sees_the_receipt_number_and_the_new_stage(production_portal: Portal, phone):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    page = phone.new_page()
    sign_in(page, base, CLIENT_EMAIL, "a long and new passphrase 7", SIGN_IN["en"])
    page.goto(f"{base}/cases/{SHARED['case']}")
    received = _stage("receipt_received")
    expect(page.locator("ol.path li.current .name")).to_have_text(
        _in_spanish(portal.app, lambda: received.title))
    expect(page.locator("ol.path li.done")).to_have_count(4)  # intake ... filed
    expect(page.locator("section.stage")).to_contain_text(
        _in_spanish(portal.app, lambda: received.next))
    expect(page.locator("main")).to_contain_text("IOE0912345678")
    # Newest first: the appointment, then the stage move with the attorney's message.
    expect(page.locator("ol.timeline li").nth(1)).to_contain_text(MESSAGE)
    expect(page.locator("main")).not_to_contain_text("Receipt came by post.")
    # The appointment at 14:30 UTC is 10:30 on the client's clock in Caracas.
    expect(page.locator("ul.appointments")).to_contain_text("10:30")
    expect(page.locator("ul.appointments")).to_contain_text("(hora de Caracas)")  # the city, in her language
    main = page.locator("main").inner_text()
    english = [s for s in ENGLISH if s in main]
    assert not english, english
    _no_horizontal_scroll(page)
    _screenshot(page, "case-5-client-es-receipt")

    # She writes to her attorney from the case (secure messaging, issue 10's first part).
    page.get_by_role("link", name="Mensajes con su abogado", exact=True).click()
    page.get_by_label("Su mensaje").fill("¿Necesitan algo más para la cita?\nGracias.")
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("ol.messages li.mine .message-body")).to_have_text(
        "¿Necesitan algo más para la cita?\nGracias.")
    _no_horizontal_scroll(page)
    _screenshot(page, "case-8-client-es-message")


def test_client_writes_with_an_attachment_and_sees_the_answer_without_reloading(
        production_portal: Portal, tmp_path):
    """Issue 10: the client writes with a file from her phone, the attorney
    sees the unread count and answers, the answer appears on her open page."""
    from playwright.sync_api import expect, sync_playwright

    portal, base = production_portal, production_portal.base_url
    letter = PDF + b"% carta del hospital\n"
    with sync_playwright() as playwright:
        phone_es = launch(playwright, tmp_path / "client", viewport=VIEWPORTS["phone"],
                          is_mobile=True, has_touch=True, timezone_id="America/Caracas")
        desktop = launch(playwright, tmp_path / "attorney")
        client = phone_es.new_page()
        sign_in(client, base, CLIENT_EMAIL, "a long and new passphrase 7", SIGN_IN["en"])
        client.goto(f"{base}/cases/{SHARED['case']}/messages")
        client.get_by_label("Su mensaje").fill("Adjunto la carta del hospital.")
        # The file goes through the resumable uploader: the text is sent first, then the
        # file follows it, and the page reloads once the file is saved.
        compose = client.locator("form", has=client.get_by_label("Su mensaje"))
        add_files(compose, [("carta-hospital.pdf", letter)])
        with client.expect_navigation(timeout=60_000):
            client.get_by_role("button", name="Enviar").click()
        mine = client.locator("ol.messages li.mine").last
        expect(mine.locator(".message-body")).to_have_text("Adjunto la carta del hospital.")
        expect(mine.locator("ul.attachments")).to_contain_text("carta-hospital.pdf")
        _no_horizontal_scroll(client)
        _screenshot(client, "case-9-client-es-attachment")

        lawyer = desktop.new_page()
        sign_in(lawyer, base, ATTORNEY, portal.client_password, SIGN_IN["en"])
        row = lawyer.locator("tr", has=lawyer.get_by_role("link", name=SHARED["reference"]))
        expect(row.locator(".badge.unread")).to_have_text("2 unread messages")
        lawyer.goto(f"{base}/cases/{SHARED['case']}/messages")
        with lawyer.expect_download() as download:
            lawyer.get_by_role("link", name="carta-hospital.pdf").click()
        assert Path(download.value.path()).read_bytes() == letter
        lawyer.get_by_label("Your message").fill("Recibida, gracias. La presentamos hoy.")
        lawyer.get_by_role("button", name="Send").click()
        expect(lawyer.locator("ol.messages li.mine").last).to_contain_text("Recibida")
        _screenshot(lawyer, "case-10-attorney-answers")

        # The client's page, never reloaded, shows the answer within a few polls.
        client.set_viewport_size(VIEWPORTS["phone"])
        expect(client.locator("ol.messages li").last).to_contain_text(
            "Recibida, gracias. La presentamos hoy.", timeout=20_000)
        assert client.evaluate("performance.getEntriesByType('navigation').length") == 1
        # ...and the attorney's open page marks her answer "Read", without a reload either.
        expect(lawyer.locator("ol.messages li.mine").last.locator(".read-mark")).to_have_text(
            "Read", timeout=20_000)
        _screenshot(client, "case-11-client-es-answer-arrived")

        # The thread as a PDF for the case file: the page waits while the job consumer lays
        # it out, shows the link once it is ready (without a reload by hand), and it downloads.
        lawyer.get_by_role("button", name="PDF", exact=True).click()
        expect(lawyer.get_by_role("heading", name="Export of messages")).to_be_visible()
        expect(lawyer.get_by_text("Your export is ready.")).to_be_visible(timeout=30_000)
        _screenshot(lawyer, "case-12-attorney-export-ready")
        with lawyer.expect_download() as download:
            lawyer.get_by_role("link", name=re.compile(r"^Download ")).click()
        exported = Path(download.value.path()).read_bytes()
        assert exported.startswith(b"%PDF-") and download.value.suggested_filename.endswith(".pdf")
        phone_es.close()
        desktop.close()
