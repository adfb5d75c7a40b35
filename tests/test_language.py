"""The reader's language from the first click: the switch on every page, a
choice that outlives the session and sign-out, emailed links that open in
their own language, numbers and sizes written the reader's way, emails that
name the firm, and catalogs that may not ship fuzzy or stale."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from flask_babel import force_locale
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from portal.extensions import db
from portal.i18n import filesize
from portal.messages.forms import MessageForm
from portal.models import AuditEvent, User
from tests.catalogs import catalog_problems, template_drift
from tests.conftest import PASSWORD
from tests.test_second_factor import password_step, with_app
from tests.test_sessions import move_session_back

ENGLISH_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}


def switch_of(page: str) -> str:
    """The language switch's form on ``page``."""
    match = re.search(r'<form method="post" action="/language".*?</form>', page, re.S)
    assert match, "no language switch on the page"
    return match.group(0)


def back_to(page: str) -> str | None:
    """Where the page's language switch goes back to."""
    match = re.search(r'name="next" value="([^"]*)"', switch_of(page))
    return match.group(1) if match else None


def choose(client, language: str, page: str, **kwargs):
    """Press ``language`` on the switch of ``page`` (a GET of it first, as a browser)."""
    shown = client.get(page, headers=ENGLISH_BROWSER)
    return client.submit("/language", {"language": language, "next": back_to(shown.text) or ""},
                         headers=ENGLISH_BROWSER, **kwargs)


def lang_of(page: str) -> str:
    return re.search(r'<html lang="(\w+)"', page).group(1)


def language_cookie(response) -> str | None:
    """The language cookie ``response`` sets, as its Set-Cookie header."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(("language=", "__Host-language=")):
            return header
    return None


# --- the switch ---------------------------------------------------------------

def test_every_kind_of_page_carries_the_switch_with_each_language_named_in_itself(
        app, client, make_user):
    anonymous_pages = {"/login": 200, "/forgot-password": 200, "/reset": 404,
                       "/invitation": 404, "/no-such-page": 404}
    for path, status in anonymous_pages.items():
        response = client.get(path, headers=ENGLISH_BROWSER)
        assert response.status_code == status, path
        switch = switch_of(response.text)
        assert 'name="csrf_token"' in switch, path
        for code, name in (("en", "English"), ("es", "Español"), ("ru", "Русский")):
            assert f'name="language" value="{code}" lang="{code}"' in switch and name in switch
        # The page's own language is marked, and only it.
        assert switch.count('aria-current="true"') == 1
        assert 'value="en" lang="en" aria-current="true"' in switch
        assert 'aria-labelledby="language-switch-label"' in switch
    # The second-factor step, and a signed-in page.
    assert password_step(client, with_app(make_user("client"))).status_code == 302
    assert "Русский" in switch_of(client.get("/login/verify").text)
    other = app.test_client()
    other.submit("/login", {"email": make_user("client", language="ru").email,
                            "password": PASSWORD})
    assert 'value="ru" lang="ru" aria-current="true"' in switch_of(other.get("/").text)


def test_the_switch_never_echoes_an_address_that_carries_a_secret(client):
    token = "A" * 43  # a calendar feed's address is its credential
    page = client.get(f"/calendar/{token}.ics", headers=ENGLISH_BROWSER)
    assert page.status_code == 404 and back_to(page.text) is None and token not in page.text


def test_the_sign_in_page_has_no_language_form_of_its_own(client):
    page = client.get("/login").text
    assert page.count('action="/language"') == 1 and "Change language" not in page


def test_the_switch_goes_back_to_the_page_it_was_pressed_on(client):
    page = client.get("/login?next=/account", headers=ENGLISH_BROWSER).text
    assert back_to(page) == "/login?next=/account"
    response = client.submit("/language", {"language": "es", "next": back_to(page)},
                             headers=ENGLISH_BROWSER)
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/account"
    shown = client.get(response.headers["Location"], headers=ENGLISH_BROWSER).text
    assert lang_of(shown) == "es" and "¿Olvidó su contraseña?" in shown
    forgot = choose(client, "ru", "/forgot-password")
    assert forgot.headers["Location"] == "/forgot-password"
    assert lang_of(client.get("/forgot-password", headers=ENGLISH_BROWSER).text) == "ru"


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/login", "https://evil.example",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_the_switch_never_leads_off_the_site(client, target):
    response = client.submit("/language", {"language": "es", "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert language_cookie(response)  # the choice still counts


def test_a_choice_on_the_sign_in_page_outlives_sign_out_and_the_session(
        app, client, make_user, login_as):
    response = choose(client, "es", "/login")  # from an English browser
    cookie = language_cookie(response)
    assert cookie.startswith("language=es;")
    for attribute in ("Max-Age=31536000", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http here; see the Secure test below
    page = client.get("/login", headers=ENGLISH_BROWSER).text
    assert lang_of(page) == "es" and "Iniciar sesión" in page
    # In and out again (a Spanish reader's account): the flash and the page in Spanish.
    login_as(make_user("client", language="es"))
    out = client.submit("/logout", headers=ENGLISH_BROWSER)
    page = client.get(out.headers["Location"], headers=ENGLISH_BROWSER).text
    assert "Ha cerrado sesión." in page and lang_of(page) == "es"
    # The session goes too (expired, the browser closed): the language stays.
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"])
    page = client.get("/login", headers=ENGLISH_BROWSER).text
    assert lang_of(page) == "es" and "Iniciar sesión" in page


def test_a_choice_without_the_csrf_token_is_refused(client):
    response = client.post("/language", data={"language": "ru", "next": "/login"})
    assert response.status_code == 400 and language_cookie(response) is None


def test_a_signed_in_switch_saves_the_language_to_the_profile_and_audits_it(
        client, make_user, login_as):
    user = make_user("client", language="en")
    login_as(user)
    response = choose(client, "es", "/account")
    assert response.headers["Location"] == "/account"
    assert language_cookie(response).startswith("language=es;")
    db.session.expire_all()
    assert db.session.get(User, user.id).language == "es"
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "account.profile_updated"))
    assert event.actor_id == user.id and event.details == {"language": "es"}
    assert lang_of(client.get("/account").text) == "es"


# --- sign-out and session expiry ---------------------------------------------------

def test_signing_out_keeps_the_persons_language(client, make_user, login_as):
    login_as(make_user("client", language="es"))  # from an English browser, no choice made
    response = client.submit("/logout", headers=ENGLISH_BROWSER)
    assert language_cookie(response).startswith("language=es;")
    page = client.get(response.headers["Location"], headers=ENGLISH_BROWSER).text
    assert "Ha cerrado sesión." in page and lang_of(page) == "es"


def test_a_session_that_expires_tells_so_in_the_persons_language(client, make_user, login_as):
    login_as(make_user("client", language="ru"))
    move_session_back(last_seen_at=timedelta(minutes=31))
    response = client.get("/", headers=ENGLISH_BROWSER)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"], headers=ENGLISH_BROWSER).text
    assert "Ваш сеанс завершён из-за длительного бездействия." in page and lang_of(page) == "ru"


# --- emailed links -------------------------------------------------------------

def test_an_invitation_opens_in_its_language_until_the_person_switches(
        app, client, make_user, make_case, login_as, mailbox):
    attorney = make_user("attorney", language="en")
    case = make_case(attorney=attorney)
    login_as(attorney)
    client.submit(f"/cases/{case.uuid}/invite", {"name": "Иван Петров", "email": "ivan@example.org",
                                                "case_role": "client", "language": "ru"})
    (link,) = mailbox.links(mailbox.messages[-1])
    invitee = app.test_client()
    opened = invitee.get(link.replace("http://portal.test", ""), headers=ENGLISH_BROWSER)
    assert opened.status_code == 303 and language_cookie(opened).startswith("language=ru;")
    page = invitee.get("/invitation", headers=ENGLISH_BROWSER).text
    assert lang_of(page) == "ru" and "Настройте свою учётную запись" in page
    assert back_to(page) == "/invitation"
    # The person reads English after all: one press, and the same page follows.
    switched = invitee.submit("/language", {"language": "en", "next": "/invitation"},
                              headers=ENGLISH_BROWSER)
    assert switched.headers["Location"] == "/invitation"
    assert "Set up your account" in invitee.get("/invitation", headers=ENGLISH_BROWSER).text


def reset_link(app, user, mailbox) -> str:
    app.test_client().submit("/forgot-password", {"email": user.email})
    (link,) = mailbox.links(mailbox.messages[-1])
    return link


def test_a_reset_link_opens_in_the_accounts_language(app, make_user, mailbox):
    link = reset_link(app, make_user("client", language="es"), mailbox)
    browser = app.test_client()
    opened = browser.get(link.replace("http://portal.test", ""), headers=ENGLISH_BROWSER)
    assert opened.status_code == 303 and opened.headers["Location"] == "/reset"
    page = browser.get("/reset", headers=ENGLISH_BROWSER).text
    assert lang_of(page) == "es" and "Elija una nueva contraseña" in page
    # The token never reaches the page, not even as the switch's way back.
    assert back_to(page) == "/reset" and link.rsplit("/", 1)[1] not in page


def test_the_language_cookie_is_secure_where_the_session_cookie_is(app, make_user, mailbox):
    link = reset_link(app, make_user("client", language="ru"), mailbox)
    app.config["SESSION_COOKIE_SECURE"] = True
    opened = app.test_client().get(link.replace("http://portal.test", ""))
    cookie = language_cookie(opened)
    assert cookie.startswith("__Host-language=ru;") and "; Secure" in cookie and "Path=/" in cookie


# --- emails --------------------------------------------------------------------

FIRM = "Bufete López & Asociados"


def test_the_invitation_names_the_firm_and_the_attorney_in_the_invitees_language(
        app, client, make_user, make_case, login_as, mailbox):
    app.config["FIRM_NAME"] = FIRM
    attorney = make_user("attorney", name="María López", language="en")
    case = make_case(attorney=attorney)
    login_as(attorney)
    client.submit(f"/cases/{case.uuid}/invite", {"name": "Ana Ruiz", "email": "ana@example.org",
                                                "case_role": "client", "language": "es"})
    message = mailbox.messages[-1]
    body = message.get_content()
    assert f"María López, de {FIRM}, le ha enviado una invitación al portal seguro" in body
    assert "bufete de abogados" not in body and "law firm" not in body
    assert case.title not in body and case.reference not in message["Subject"]


def test_every_notice_names_the_firm_instead_of_your_law_firm(
        app, client, make_user, make_case, login_as, mailbox):
    app.config["FIRM_NAME"] = FIRM
    attorney = make_user("attorney")
    existing = make_user("sponsor", email="luis@example.org", language="ru")
    case = make_case(attorney=attorney)
    login_as(attorney)
    client.submit(f"/cases/{case.uuid}/invite", {"name": "Luis", "email": existing.email,
                                                "case_role": "sponsor", "language": "ru"})
    body = mailbox.messages[-1].get_content()  # "added to a case": an existing account
    assert f"юридической фирмы «{FIRM}»" in body and "вашей юридической фирмы" not in body


def test_an_invitation_queued_before_inviters_were_named_still_renders(app):
    mailer = app.extensions["mailer"]
    app.config["FIRM_NAME"] = FIRM
    with app.test_request_context():
        _, body = mailer.render("invitation", "en", {"url": "http://portal.test/x", "days": 7})
    assert f"You have been invited to the secure client portal of {FIRM}." in body


# --- numbers and sizes -----------------------------------------------------------

@pytest.mark.parametrize("language, size, shown", [
    ("en", 1_572_864, "1.5 MB"), ("es", 1_572_864, "1,5 MB"), ("ru", 1_572_864, "1,5 МБ"),
    ("en", 500 * (1 << 20), "500 MB"), ("ru", 20 * (1 << 30), "20 ГБ"),
    ("en", 500, "500 bytes"), ("ru", 3, "3 байта"), ("es", 2048, "2 kB")])
def test_sizes_are_written_the_readers_way(app, language, size, shown):
    with app.test_request_context(), force_locale(language):
        assert filesize(size) == shown


@pytest.mark.parametrize("language, shown", [("en", "10,000"), ("es", "10.000"),
                                              ("ru", "10\xa0000")])
def test_the_message_limit_is_written_the_readers_way(app, language, shown):
    # The limit is said when a message is refused for it, with the count typed.
    with app.test_request_context(), force_locale(language):
        form = MessageForm(formdata=MultiDict({"body": "x" * 10_001, "client_key": "k"}),
                           meta={"csrf": False})
        assert not form.validate()
        assert f" {shown} " in form.body.errors[0]


# --- the catalogs ------------------------------------------------------------------

def _round_trip(catalog: Catalog) -> Catalog:
    """``catalog`` written as a .po file and read back, as the test reads the real ones."""
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    buffer.seek(0)
    return read_po(buffer)


def _small_catalogs(flags=()) -> tuple[Catalog, Catalog]:
    template = Catalog()
    template.add("Sign in")
    template.add("Hello %(name)s")
    catalog = Catalog(locale="es", fuzzy=False)
    catalog.add("Sign in", "Iniciar sesión")
    catalog.add("Hello %(name)s", "Hola %(name)s", flags=flags)
    return _round_trip(template), _round_trip(catalog)


def test_a_fuzzy_entry_fails_the_catalog_check():
    template, clean = _small_catalogs()
    assert catalog_problems(clean, template) == []
    template, fuzzy = _small_catalogs(flags=["fuzzy"])
    assert catalog_problems(fuzzy, template) == ["fuzzy 'Hello %(name)s'"]


def test_a_missing_untranslated_or_misplaced_entry_fails_the_catalog_check():
    template, catalog = _small_catalogs()
    template.add("Sign out")
    catalog.get("Sign in").string = ""
    catalog.get("Hello %(name)s").string = "Hola %(nombre)s"
    problems = catalog_problems(catalog, template)
    assert any(p.startswith("missing ('Sign out'") for p in problems)
    assert "untranslated 'Sign in'" in problems
    assert any(p.startswith("placeholders of 'Hello %(name)s'") for p in problems)


def test_a_template_behind_or_ahead_of_the_source_is_caught():
    template, _ = _small_catalogs()
    source = Catalog()
    source.add("Sign in")
    source.add("Choose a language")
    new, gone = template_drift(template, source)
    assert new == {("Choose a language", None)} and gone == {("Hello %(name)s", None)}
