"""A Spanish-speaking client on a phone answers a document request: over
TLS through nginx, in chromium at 390 px, the case page leads with "Lo que
necesitamos de usted", a line per request with one "Subir" link to the
request's own page; the client uploads there, the attorney rejects the file
with a reason, the client reads it on the case page and uploads again."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime
from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, DocumentRequest, DocumentVersion, RequestState, User
from portal.requests import services
from tests.browser import production
from tests.browser.accessibility import check_accessibility
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.uploading import upload
from tests.uploads import PDF

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
CARACAS = ZoneInfo("America/Caracas")
ATTORNEY = "attorney@firm.example"
TITLE = "Página de datos del pasaporte"
INSTRUCTIONS = "Fotografíe la página con su foto y sus datos, entera y sin reflejos."
REASON = "La foto está cortada: no se ve el número del pasaporte. Envíe la página completa."
# English the page must not show to a client who reads Spanish.
ENGLISH = ("What we need from you", "Upload a file for this request", "Due by", "Upload",
           "waiting for an upload", "received, to be reviewed", "a new upload is needed",
           "Your attorney needs a new file", "was uploaded", "sent on", "required documents",
           "Done (", "Send another file", "Messages with your attorney", "Open the documents")


@pytest.fixture(scope="module")
def spanish_case(production_portal: Portal):
    """The client in Spanish, her case, and one request the attorney made
    in-process through the service: (client email, case uuid, request uuid, due date)."""
    app = production_portal.app
    email, case_uuid = production.add_spanish_client_case(app, production_portal.client_password)
    due = date.today() + timedelta(days=12)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.uuid == uuid.UUID(case_uuid)))
        client = db.session.scalar(select(User).where(User.email == email))
        document_request = services.create_request(
            _attorney(), case, addressee=client, title=TITLE, instructions=INSTRUCTIONS,
            due_on=due, required=True)
        request_uuid = str(document_request.uuid)
        db.session.remove()
    yield email, case_uuid, request_uuid, due
    production.empty_case_folder(app, case_uuid)
    # The notices queued for no consumer: leave nothing in the machine's Redis.
    app.extensions["jobs"].storage.flush_all()


def _attorney() -> User:
    return db.session.scalar(select(User).where(User.email == ATTORNEY))


def _request(request_uuid: str) -> DocumentRequest:
    return db.session.scalar(select(DocumentRequest).where(
        DocumentRequest.uuid == uuid.UUID(request_uuid)))


def _pdf(label: str) -> bytes:
    """A PDF the portal's type check accepts, different for each ``label``
    (the same bytes twice would be 'already received')."""
    return PDF + f"% {label}\n".encode()


def _screenshot(page, name: str) -> None:
    """Save the page at phone and desktop width, for people to look at;
    the page is left at phone width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        check_accessibility(page)  # at each width: the layouts differ
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["phone"])


def _upload_from(page, link, name: str, content: bytes) -> None:
    """Open the uploader from a request's "Subir" link, check it names the
    request in Spanish, send ``content`` and wait for the case page it reloads."""
    from playwright.sync_api import expect
    link.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Archivo para la solicitud «{TITLE}».")
    # The window fades in: let it finish before anything looks at its colours.
    page.evaluate("() => Promise.all(document.getAnimations().map(a => a.finished))")
    _screenshot(page, "requests-es-uploader-" + name.removesuffix(".pdf"))
    upload(page, dialog, [(name, content)])


def _english_on(page) -> list[str]:
    main_text = page.locator("main").inner_text()
    return [s for s in ENGLISH if s in main_text]


def _no_horizontal_scroll(page) -> None:
    """Nothing on the page is wider than the phone's screen."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


def _sent_on(app, version_name: str) -> str:
    """How the page should say when ``version_name`` arrived: Spanish, Caracas time."""
    with app.app_context():
        version = db.session.scalar(select(DocumentVersion).where(
            DocumentVersion.filename == version_name))
        shown = format_datetime(version.uploaded_at, "medium", tzinfo=CARACAS, locale="es")
        db.session.remove()
    return f"{version_name}, enviado el {shown}"


def test_spanish_client_on_a_phone_answers_a_request_and_a_rejection(
        production_portal: Portal, spanish_case, phone_browser_es):
    from playwright.sync_api import expect  # only where the browser tests can run

    portal, base = production_portal, production_portal.base_url
    email, case_uuid, request_uuid, due = spanish_case
    page = phone_browser_es.new_page()

    # The browser speaks Spanish, so the sign-in page does too.
    sign_in(page, base, email, portal.client_password, SIGN_IN["es"])

    case_page = f"{base}/cases/{case_uuid}"
    page.goto(case_page)
    # "What we need from you" first, then where the case stands, in Spanish.
    expect(page.locator("main h2").nth(0)).to_have_text("Lo que necesitamos de usted")
    expect(page.locator("main h2").nth(1)).to_have_text("Estado de su caso")
    line = page.locator(f"#request-{request_uuid}")
    expect(line.locator(".needed-title")).to_have_text(TITLE)
    expect(line.locator(".due")).to_have_text(
        f"Fecha límite: {format_date(due, 'long', locale='es')}")
    expect(page.locator(".progress-line")).to_have_text("0 de 1 documentos necesarios aceptados")
    # One upload action per line, no upload form on the case page.
    upload_link = line.get_by_role("link", name="Subir", exact=True)
    expect(upload_link).to_have_attribute(
        "data-upload-form", f"/cases/{case_uuid}/requests/{request_uuid}/uploads")
    expect(page.locator("main form.upload")).to_have_count(0)
    _no_horizontal_scroll(page)
    _screenshot(page, "requests-es-1-before-upload")

    # "Subir" opens the uploader for that request, over the case page.
    _upload_from(page, upload_link, "pasaporte.pdf", _pdf("first scan"))
    assert page.url == case_page
    # Answered: nothing is owed; the request is folded away under "Done".
    expect(page.locator(".needed-list")).to_have_count(0)
    done = page.locator("details.done-requests")
    done.locator("summary").click()
    expect(done.locator("summary")).to_have_text("Completados (1)")
    expect(done.locator(f"#request-{request_uuid} .state")).to_have_text(
        "recibido, pendiente de revisión")
    _screenshot(page, "requests-es-3-after-upload")
    # The request's own page (where the link leads without JavaScript): what is asked,
    # by when, the files sent, and the upload form.
    page.goto(f"{case_page}/requests/{request_uuid}/upload")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".instructions")).to_have_text(INSTRUCTIONS)
    expect(page.locator(".versions li")).to_have_text([_sent_on(portal.app, "pasaporte.pdf")])
    _no_horizontal_scroll(page)
    _screenshot(page, "requests-es-2-request-page")
    page.goto(case_page)

    # The attorney rejects the file, in-process, as the review page would.
    with portal.app.app_context():
        services.decide(_attorney(), _request(request_uuid).case, _request(request_uuid),
                        "reject", REASON)
        db.session.remove()

    page.reload()
    expect(line.locator(".rejection")).to_have_text(
        f"Su abogado necesita un archivo nuevo: {REASON}")
    assert not _english_on(page), page.locator("main").inner_text()
    _no_horizontal_scroll(page)
    _screenshot(page, "requests-es-4-after-rejection")
    # The request's own page says why, in Spanish.
    page.goto(f"{case_page}/requests/{request_uuid}/upload")
    expect(page.locator("article .state")).to_have_text("se necesita un archivo nuevo")
    expect(page.get_by_text("Suba un archivo nuevo aquí abajo.")).to_be_visible()
    assert not _english_on(page), page.locator("main").inner_text()
    _no_horizontal_scroll(page)
    _screenshot(page, "requests-es-5-request-page-rejected")
    page.goto(case_page)
    _upload_from(page, line.get_by_role("link", name="Subir", exact=True),
                 "pasaporte-completo.pdf", _pdf("whole page"))
    expect(page.locator(".rejection")).to_have_count(0)
    expect(page.locator(f"details.done-requests #request-{request_uuid} .state")).to_have_text(
        "recibido, pendiente de revisión")
    _screenshot(page, "requests-es-6-uploaded-again")
    page.goto(f"{case_page}/requests/{request_uuid}/upload")
    expect(page.locator(".versions li").last).to_have_text(
        _sent_on(portal.app, "pasaporte-completo.pdf"))
    with portal.app.app_context():
        answered = _request(request_uuid)
        assert answered.state is RequestState.SUBMITTED
        assert [v.filename for v in answered.versions] == ["pasaporte.pdf",
                                                           "pasaporte-completo.pdf"]
        db.session.remove()


def test_attorney_reviews_from_the_queue_and_sends_the_checklist(
        production_portal: Portal, spanish_case, browser):
    """After the client's answer above: the attorney finds it in the firm's
    queue, accepts it, then sends the parole checklist from the case page."""
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    _email, case_uuid, request_uuid, _due = spanish_case
    page = browser.new_page()
    sign_in(page, base, ATTORNEY, portal.client_password, SIGN_IN["en"])

    page.get_by_role("link", name="To review (1)").click()
    row = page.get_by_role("region", name="To review").locator("tbody tr").first
    expect(row).to_contain_text("HP-2026-0057")
    expect(row).to_contain_text(TITLE)
    _screenshot(page, "requests-attorney-1-queue")
    row.get_by_role("link", name="HP-2026-0057").click()
    card = page.locator(f"#request-{request_uuid}")
    expect(card.locator(".versions li").first).to_contain_text("replaced by a newer file")
    card.get_by_role("button", name="Accept").click()
    page.wait_for_load_state()
    expect(card.locator(".state")).to_have_text("accepted")
    expect(page.get_by_role("link", name="To review (0)")).to_be_visible()

    page.get_by_role("link", name="Add documents from the checklist").click()
    rows = page.locator("fieldset.checklist-row")
    expect(rows.first.get_by_label("What is needed")).to_have_value(
        "Passport or national ID of the beneficiary")
    # Keep the first two documents, drop the others, set one due date for all.
    for index in range(2, rows.count()):
        box = rows.nth(index).get_by_label("Ask for this")
        if box.is_checked():
            box.uncheck()
    due = date.today() + timedelta(days=20)
    page.get_by_label("Due date for every document without its own (optional)").fill(
        due.isoformat())
    _no_horizontal_scroll_at(page, VIEWPORTS["phone"])
    _screenshot(page, "requests-attorney-2-checklist")
    page.get_by_role("button", name="Send the checked requests").click()
    page.wait_for_load_state()
    expect(page.get_by_text("2 requests were sent.")).to_be_visible()
    with portal.app.app_context():
        sent = db.session.scalars(select(DocumentRequest).where(
            DocumentRequest.title != TITLE)).all()
        assert sorted(r.due_on for r in sent) == [due, due]
        db.session.remove()
    _screenshot(page, "requests-attorney-3-sent")


def _no_horizontal_scroll_at(page, size) -> None:
    """The page fits a screen of ``size`` (then returns to desktop width)."""
    page.set_viewport_size(size)
    _no_horizontal_scroll(page)
    page.set_viewport_size(VIEWPORTS["desktop"])
