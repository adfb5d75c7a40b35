"""The reader's language in a real browser, over TLS through nginx with
production settings: an invitation in Russian opens in Russian in a browser
set to English, through the set-up of the account and the sign-out; a client
whose profile says Spanish reads Spanish from the first page after sign-in to
the sign-in page after sign-out; and the language switch of the sign-in page
holds across a reload. Every expected string is the catalog's own msgstr
(portal/translations/<language>/LC_MESSAGES/messages.po)."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.cases import invitations
from portal.extensions import db
from portal.models import Case, CaseMembership, User
from portal.models.case import CaseRole
from tests.browser import production
from tests.browser.accessibility import check_accessibility
from tests.browser.conftest import _browser_context
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, sign_in
from tests.browser.test_requests_es import ATTORNEY, _no_horizontal_scroll
from tests.jobs import wait_until

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
FIRM = "Reyes & Okafor Immigration Law"  # the demo profile's name (portal/dev/demo_firm.toml)
ATTORNEY_NAME = "Laura Méndez"  # who invites: the attorney of production.add_people_and_case
RU_EMAIL = "ivan.petrov@example.org"
RU_NAME = "Иван Петров"
RU_PASSWORD = "сирень маяк полночь гавань 47"
RU_TITLE = "Гуманитарный пароль для Марии Петровой"
# The Russian catalog's msgstr of each msgid used below.
RU = {
    "Your invitation to the secure client portal":
        "Ваше приглашение в защищённый портал для клиентов",
    "Hello,": "Здравствуйте,",
    "%(inviter)s of %(firm)s invited you...":
        f"{ATTORNEY_NAME} из юридической фирмы «{FIRM}» приглашает вас на защищённый портал "
        "для клиентов. Чтобы установить пароль и войти, откройте эту ссылку:",
    "The link can be used once and expires in %(days)s days...":
        "Ссылкой можно воспользоваться только один раз; срок её действия — {days} дн. "
        "Если вы не ожидали этого письма, просто не обращайте на него внимания.",
    "Set up your account": "Настройте свою учётную запись",
    "Your account will use the email address %(email)s.":
        f"Для вашей учётной записи будет использоваться адрес электронной почты {RU_EMAIL}.",
    "Your full name": "Ваше полное имя",
    "Choose a password": "Придумайте пароль",
    "Repeat the password": "Повторите пароль",
    "Create my account": "Создать учётную запись",
    "Language": "Язык",
    "Welcome! Your account is ready.": "Добро пожаловать! Ваша учётная запись готова.",
    "Where your case stands": "На каком этапе ваше дело",
    "Sign out": "Выйти",
    "You have been signed out.": "Вы вышли из системы.",
    "Sign in": "Войти",
    "Email": "Электронная почта",
    "Password": "Пароль",
}
# The Spanish catalog's msgstr of each msgid used below.
ES = {
    "My cases": "Mis casos",
    "Where your case stands": "Estado de su caso",
    "Sign out": "Cerrar sesión",
    "You have been signed out.": "Ha cerrado sesión.",
    "Sign in": "Iniciar sesión",
    "Secure client portal of %(firm)s": f"Portal seguro para clientes de {FIRM}",
    "Language": "Idioma",
}
# Latin-script words a Russian page may show: the firm's name and address (the
# same in every language), the attorney's name, the case reference's prefix,
# the agency's name, the switch's names of the other languages, and the legal
# term the catalog gives beside the case type's name ("Humanitarian parole":
# "Гуманитарный пароль (humanitarian parole)", as the forms call it).
LATIN_ON_RUSSIAN_PAGES = {"Reyes", "Okafor", "Immigration", "Law", "Wilshire", "Blvd", "Suite",
                          "Los", "Angeles", "CA", "Laura", "Méndez", "HP", "USCIS", "English",
                          "Español", "humanitarian", "parole"}


@pytest.fixture(scope="module", autouse=True)
def _clean_queue(production_portal: Portal):
    yield
    # Notices queued after the consumer stopped: leave nothing in the machine's Redis.
    production_portal.app.extensions["jobs"].storage.flush_all()


@pytest.fixture(scope="module")
def russian_invitation(production_portal: Portal, smtp_server):
    """A case of the attorney's, and an invitation to it, in Russian, for a
    new client, made in-process through the service as the People panel
    would; returns (case uuid, the emailed invitation) once the job consumer
    has delivered it."""
    app = production_portal.app
    with app.app_context():
        attorney = db.session.scalar(select(User).where(User.email == ATTORNEY))
        case = Case(reference="HP-2026-0071", case_type="humanitarian_parole", title=RU_TITLE,
                    beneficiary_name="Мария Петрова", beneficiary_country="RU", stage="intake",
                    opened_on=date.today(), assigned_attorney=attorney)
        case.memberships = [CaseMembership(user=attorney, role=CaseRole.ATTORNEY)]
        db.session.add(case)
        db.session.commit()
        outcome = invitations.invite_to_case(attorney, case, RU_EMAIL, RU_NAME, CaseRole.CLIENT,
                                             "ru")
        assert outcome is invitations.InviteOutcome.INVITED
        case_uuid = str(case.uuid)
        db.session.remove()
    wait_until(lambda: _mail_to(smtp_server, RU_EMAIL), "the Russian invitation email")
    (mail,) = _mail_to(smtp_server, RU_EMAIL)
    return case_uuid, mail


def _mail_to(smtp_server, email: str) -> list:
    return [m for m in list(smtp_server.messages) if m["To"] == email]


def _screenshot(page, name: str) -> None:
    """Save the page at phone and desktop width under screenshots/lang-*,
    checked with axe-core at each; the page is left at phone width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        check_accessibility(page)  # at each width: the layouts differ
        page.screenshot(path=SCREENSHOTS / f"lang-{name}-{width}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["phone"])


def _latin_words(page) -> list[str]:
    """Words in Latin script on the page (its text, title, and the names
    and hints only a screen reader or a pointer shows) that no Russian page
    should have: English that escaped translation. Email addresses and
    links are not words."""
    shown = page.evaluate("""() => [document.title, document.body.innerText,
        ...[...document.querySelectorAll('[aria-label],[title],[alt],[placeholder]')]
          .flatMap(e => ['aria-label', 'title', 'alt', 'placeholder']
                        .map(a => e.getAttribute(a)).filter(Boolean))].join(' ')""")
    shown = re.sub(r"\S+@\S+|https?://\S+", " ", shown)
    latin = "A-Za-z\u00c0-\u024f"  # with the accented letters (Español, Méndez)
    return sorted(set(re.findall(f"[{latin}][{latin}'’]+", shown)) - LATIN_ON_RUSSIAN_PAGES)


def _speaks(page, language: str) -> None:
    """The page is in ``language``: ``<html lang>``, and the switch marks it
    (alone) as the current one."""
    from playwright.sync_api import expect

    names = {"en": "English", "es": "Español", "ru": "Русский"}
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("form.language-switch button[aria-current=true]")).to_have_text(
        [names[language]])


def _language_cookie(context) -> str | None:
    """The value of the browser's language cookie for the portal."""
    for cookie in context.cookies():
        if cookie["name"] == "__Host-language":
            assert cookie["secure"] and cookie["path"] == "/", cookie
            return cookie["value"]
    return None


def test_a_russian_invitation_opens_in_russian_in_an_english_browser(
        production_portal: Portal, russian_invitation, smtp_server, browser_prerequisites,
        tls_certificate, tmp_path):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    case_uuid, mail = russian_invitation
    days = portal.app.config["INVITATION_TTL"].days

    # The email is Russian, names the firm and the attorney, and nothing of the case.
    assert mail["Subject"] == RU["Your invitation to the secure client portal"]
    body = mail.get_content()
    assert body.startswith(RU["Hello,"]), body
    assert RU["%(inviter)s of %(firm)s invited you..."] in body, body
    assert RU["The link can be used once and expires in %(days)s days..."].format(
        days=days) in body, body
    assert RU_TITLE not in body and "HP-2026-0071" not in body
    (link,) = smtp_server.links(mail)
    assert link.startswith(f"{base}/invitation/")

    with _browser_context(tmp_path, locale="en-US", viewport=VIEWPORTS["phone"],
                          is_mobile=True, has_touch=True) as browser:
        page = browser.new_page()
        # The browser asks for English, and gets it where nothing says otherwise.
        page.goto(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

        # The invitation's link: the set-up page is Russian.
        page.goto(link)
        assert page.url == f"{base}/invitation"  # the token left the address bar
        check_accessibility(page)
        _speaks(page, "ru")
        expect(page).to_have_title(f"{RU['Set up your account']} · {FIRM}")
        expect(page.get_by_role("heading", level=1)).to_have_text(RU["Set up your account"])
        expect(page.locator("main")).to_contain_text(
            RU["Your account will use the email address %(email)s."])
        expect(page.locator("#language-switch-label")).to_have_text(RU["Language"])
        expect(page.get_by_label(RU["Your full name"], exact=True)).to_have_value(RU_NAME)
        expect(page.get_by_label(RU["Choose a password"], exact=True)).to_be_visible()
        expect(page.get_by_label(RU["Repeat the password"], exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=RU["Create my account"], exact=True)
               ).to_be_visible()
        assert not _latin_words(page), (page.url, _latin_words(page))
        _no_horizontal_scroll(page)
        _screenshot(page, "1-invitation-ru")

        # Set up the account: signed in, on the case, still in Russian.
        page.get_by_label(RU["Choose a password"], exact=True).fill(RU_PASSWORD)
        page.get_by_label(RU["Repeat the password"], exact=True).fill(RU_PASSWORD)
        page.get_by_role("button", name=RU["Create my account"], exact=True).click()
        page.wait_for_url(f"{base}/cases/{case_uuid}")
        check_accessibility(page)
        _speaks(page, "ru")
        expect(page.locator(".flash.success")).to_have_text(
            RU["Welcome! Your account is ready."])
        expect(page.get_by_role("heading", level=1)).to_have_text(RU_TITLE)
        expect(page.get_by_role("heading", name=RU["Where your case stands"])).to_be_visible()
        assert not _latin_words(page), (page.url, _latin_words(page))
        _no_horizontal_scroll(page)
        _screenshot(page, "2-signed-in-ru")
        with portal.app.app_context():
            assert db.session.scalar(select(User.language).where(User.email == RU_EMAIL)) == "ru"
            db.session.remove()

        # Sign out: told so in Russian, on a Russian sign-in page.
        page.get_by_role("button", name=RU["Sign out"], exact=True).click()
        page.wait_for_url(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "ru")
        expect(page.locator(".flash.info")).to_have_text(RU["You have been signed out."])
        expect(page.get_by_role("heading", level=1)).to_have_text(RU["Sign in"])
        expect(page.get_by_label(RU["Email"], exact=True)).to_be_visible()
        expect(page.get_by_label(RU["Password"], exact=True)).to_be_visible()
        assert not _latin_words(page), (page.url, _latin_words(page))
        assert _language_cookie(browser) == "ru"
        _no_horizontal_scroll(page)
        _screenshot(page, "3-signed-out-ru")


def test_signing_out_keeps_the_spanish_of_the_clients_profile(
        production_portal: Portal, browser_prerequisites, tls_certificate, tmp_path):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    email, case_uuid = production.add_spanish_client_case(portal.app, portal.client_password)
    with _browser_context(tmp_path, locale="en-US", viewport=VIEWPORTS["phone"]) as browser:
        page = browser.new_page()
        # An English sign-in page (the browser's language), then her own language.
        sign_in(page, base, email, portal.client_password, SIGN_IN["en"])
        _speaks(page, "es")
        expect(page.get_by_role("heading", level=1)).to_have_text(ES["My cases"])
        page.goto(f"{base}/cases/{case_uuid}")
        check_accessibility(page)
        _speaks(page, "es")
        expect(page.get_by_role("heading", name=ES["Where your case stands"])).to_be_visible()
        _no_horizontal_scroll(page)
        _screenshot(page, "4-signed-in-es")
        # Signed in, her profile speaks: the browser holds no language of its own yet.
        assert _language_cookie(browser) is None

        page.get_by_role("button", name=ES["Sign out"], exact=True).click()
        page.wait_for_url(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "es")
        expect(page.locator(".flash.info")).to_have_text(ES["You have been signed out."])
        expect(page.get_by_role("heading", level=1)).to_have_text(ES["Sign in"])
        assert _language_cookie(browser) == "es"
        _no_horizontal_scroll(page)
        _screenshot(page, "5-signed-out-es")

        # The sign-in page that follows stays Spanish: the cookie sign-out wrote.
        page.goto(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "es")
        expect(page.locator(".flash")).to_have_count(0)
        expect(page.locator("p.welcome")).to_have_text(ES["Secure client portal of %(firm)s"])
        sign_in(page, base, email, portal.client_password, SIGN_IN["es"])
        _speaks(page, "es")


def test_the_switch_on_the_sign_in_page_turns_it_spanish_for_good(
        production_portal: Portal, browser_prerequisites, tls_certificate, tmp_path):
    from playwright.sync_api import expect

    base = production_portal.base_url
    with _browser_context(tmp_path, locale="en-US", viewport=VIEWPORTS["phone"]) as browser:
        page = browser.new_page()
        page.goto(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "en")
        assert _language_cookie(browser) is None

        switch = page.locator("form.language-switch")
        switch.get_by_role("button", name="Español", exact=True).click()
        page.wait_for_url(f"{base}/login")
        check_accessibility(page)
        _speaks(page, "es")
        expect(page.get_by_role("heading", level=1)).to_have_text(ES["Sign in"])
        expect(page.locator("#language-switch-label")).to_have_text(ES["Language"])
        for label in SIGN_IN["es"][:2]:
            expect(page.get_by_label(label, exact=True)).to_be_visible()
        assert _language_cookie(browser) == "es"
        _no_horizontal_scroll(page)
        _screenshot(page, "6-switched-es")

        page.reload()
        check_accessibility(page)
        _speaks(page, "es")
        expect(page.get_by_role("heading", level=1)).to_have_text(ES["Sign in"])
        expect(page.get_by_role("button", name=ES["Sign in"], exact=True)).to_be_visible()
