"""Second factors in a real browser, as production serves them: over TLS
through nginx at https://portal.test:<port>, whose certificate chromium
trusts (WebAuthn refuses an IP address as relying party, and a page with a
certificate error).

An attorney without a factor is sent to the security page, sets up an
authenticator app from the key shown on the page, keeps her recovery codes,
signs in again with a code, adds a passkey (chromium's virtual authenticator,
through the DevTools protocol) and signs in with it. A Spanish client on a
phone adds a passkey and signs in with it. The pages are saved at phone and
desktop width in tests/browser/screenshots/.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from flask_babel import force_locale, gettext
from sqlalchemy import select

from portal.auth import recovery
from portal.auth.services import create_user
from portal.extensions import db
from portal.models import AuditEvent, Passkey, RecoveryCode, Role, User
from tests.browser import production
from tests.browser.accessibility import check_accessibility
from tests.browser.servers import Portal
from tests.browser.signin import SIGN_IN, enter_code, enter_password, remember_app, sign_in

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ATTORNEY = "sofia.castro@firm.example"  # seeded without any second factor
PASSKEY_NAME = "Work laptop"
# A platform authenticator with a screen lock, as a phone or laptop has:
# it keeps the passkey and verifies the person (the portal requires it).
VIRTUAL_AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                         "hasUserVerification": True, "isUserVerified": True,
                         "automaticPresenceSimulation": True}
FACTOR_ACTIONS = ("auth.second_factor_added", "auth.second_factor_used",
                  "auth.second_factor_failed", "auth.recovery_codes_created",
                  "auth.recovery_code_used")


@pytest.fixture(scope="module")
def people(production_portal: Portal):
    """An attorney with a password and no second factor, and a client who
    reads Spanish with a case of her own: (attorney email, client email)."""
    app = production_portal.app
    with app.app_context():
        create_user(ATTORNEY, "Sofía Castro", Role.ATTORNEY, production_portal.client_password)
        db.session.remove()
    client_email, case_uuid = production.add_spanish_client_case(
        app, production_portal.client_password)
    yield ATTORNEY, client_email
    production.empty_case_folder(app, case_uuid)
    app.extensions["jobs"].storage.flush_all()  # notices queued for no consumer


def _watch(page) -> list[str]:
    """What goes wrong in the page: script errors, console errors (CSP
    violations among them), failed requests to the portal."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" or "Content Security Policy" in m.text else None)
    return problems


def _screenshot(page, name: str) -> None:
    """Save the page at phone and desktop width, for people to look at; at
    phone width nothing may be wider than the screen. The page is left at
    the width it had."""
    SCREENSHOTS.mkdir(exist_ok=True)
    before = page.viewport_size
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        if width == "phone":
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"{name}: {widths[0]} px wide on a {widths[1]} px phone"
        check_accessibility(page)  # at each width: the layouts differ
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size(before)


def _spanish(app, message: str) -> str:
    """``message`` as the portal shows it in Spanish (English until translated)."""
    with app.test_request_context(), force_locale("es"):
        return gettext(message)


def _add_virtual_authenticator(context, page) -> tuple:
    """Chromium's virtual authenticator for ``page``, through the DevTools
    protocol: (CDP session, authenticator id)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    return cdp, added["authenticatorId"]


def _credentials(cdp, authenticator_id: str) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def _sign_out(page, base: str, label: str = "Sign out") -> None:
    page.get_by_role("button", name=label).click()
    page.wait_for_url(f"{base}/login")


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _factor_events(user: User) -> list[tuple[str, str | None, str | None]]:
    """(action, method, ip address) of ``user``'s second-factor audit rows, in order."""
    return [(e.action, (e.details or {}).get("method"), e.ip_address) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == user.id,
                                 AuditEvent.action.in_(FACTOR_ACTIONS)).order_by(AuditEvent.id))]


def _is_trusted(page) -> None:
    """The page is a secure context with WebAuthn. That it loaded at all
    shows chromium trusts the certificate: no certificate error is ignored
    (``conftest.launch``), as a real authenticator would refuse one."""
    assert page.evaluate("window.isSecureContext && !!window.PublicKeyCredential")


def test_attorney_sets_up_an_app_then_a_passkey_and_signs_in_with_each(
        production_portal: Portal, people, browser):
    from playwright.sync_api import expect  # only where the browser tests can run

    portal, base = production_portal, production_portal.base_url
    attorney, _client = people
    page = browser.new_page()
    problems = _watch(page)

    # Password only: the firm requires a second factor, so the security page it is.
    sign_in(page, base, attorney, portal.client_password, lands_on="/account/security")
    _is_trusted(page)
    expect(page.locator("h1")).to_have_text("Sign-in security")
    expect(page.locator("p.todo")).to_contain_text("Your firm requires a second factor")
    page.goto(f"{base}/")  # the dashboard is not open to her yet
    expect(page).to_have_url(f"{base}/account/security")
    _screenshot(page, "second-factor-1-security-required")

    # The authenticator app: she types the key shown under the QR code into her app.
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page).to_have_url(f"{base}/account/security/app")
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("p.secret code").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", secret), secret
    _screenshot(page, "second-factor-2-app-setup")
    phone_app = remember_app(base, attorney, secret.replace(" ", ""))
    page.get_by_label("Code from the app").fill(phone_app.code())
    page.get_by_role("button", name="Turn on").click()

    # Ten recovery codes, shown once, and as a text file to keep.
    expect(page).to_have_url(f"{base}/account/security/recovery-codes")
    expect(page.locator(".flash.success")).to_contain_text("Your authenticator app is set up.")
    codes = page.locator("ul.recovery-codes li code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes), codes
    _screenshot(page, "second-factor-3-recovery-codes")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as a text file").click()
    assert download.value.suggested_filename == "recovery-codes.txt"
    kept = Path(download.value.path()).read_text().splitlines()
    assert kept[0] == f"Recovery codes for {attorney}. Each works once.", kept
    assert [line for line in kept[1:] if line] == codes
    page.get_by_role("button", name="I have saved my codes").click()
    expect(page).to_have_url(f"{base}/account/security")
    expect(page.get_by_text("On: you type a code from your app when you sign in.")).to_be_visible()
    expect(page.get_by_text("10 unused recovery codes left.")).to_be_visible()
    page.goto(f"{base}/account/security/recovery-codes")  # not shown a second time
    expect(page).to_have_url(f"{base}/account/security")
    with portal.app.app_context():
        user = _user(attorney)
        assert user.totp_secret_sealed is not None and user.totp_last_step == phone_app.last_step
        hashes = set(db.session.scalars(select(RecoveryCode.code_hash).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))))
        assert hashes == {recovery._hash(user, recovery.normalize(c)) for c in codes}
        db.session.remove()

    # Signing in again: the password, then the code her app shows now.
    _sign_out(page, base)
    enter_password(page, base, attorney, portal.client_password)
    expect(page).to_have_url(f"{base}/login/verify")
    expect(page.locator("h1")).to_have_text("Confirm it's you")
    expect(page.locator("[data-passkey-button]")).to_have_count(0)  # no passkey yet
    _screenshot(page, "second-factor-4-code-step")
    enter_code(page, base, phone_app)
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("h1")).not_to_have_text("Sign-in security")

    # A passkey, made by chromium's virtual authenticator (a laptop's screen lock).
    cdp, authenticator_id = _add_virtual_authenticator(browser, page)
    page.goto(f"{base}/account/security")
    page.get_by_label("Name of this passkey").fill(PASSKEY_NAME)
    page.get_by_role("button", name="Add a passkey").click()
    listed = page.locator("ul.factor-list li")
    expect(listed).to_have_count(1)  # the page reloaded with it
    expect(listed).to_contain_text(PASSKEY_NAME)
    expect(listed).to_contain_text("not used yet")
    expect(page.locator("[data-passkey-error]")).to_be_hidden()
    expect(page.get_by_text("10 unused recovery codes left.")).to_be_visible()  # no new ones
    (credential,) = _credentials(cdp, authenticator_id)
    assert credential["rpId"] == "portal.test" and credential["isResidentCredential"]
    with portal.app.app_context():
        (passkey,) = db.session.scalars(select(Passkey).where(
            Passkey.user_id == _user(attorney).id)).all()
        assert passkey.name == PASSKEY_NAME and passkey.last_used_at is None
        assert passkey.credential_id == base64.b64decode(credential["credentialId"])
        db.session.remove()

    # Signing in with the password, then the passkey.
    _sign_out(page, base)
    enter_password(page, base, attorney, portal.client_password)
    expect(page).to_have_url(f"{base}/login/verify")
    expect(page.get_by_role("heading", name="Or type a code")).to_be_visible()
    _screenshot(page, "second-factor-5-code-step-with-passkey")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Open a case")).to_be_visible()  # the firm's own menu: she is in
    assert _credentials(cdp, authenticator_id)[0]["signCount"] >= 1

    # The security page tells when the passkey was last used.
    page.goto(f"{base}/account/security")
    with portal.app.app_context():
        user = _user(attorney)
        passkey = db.session.scalar(select(Passkey).where(Passkey.user_id == user.id))
        assert passkey.last_used_at is not None and passkey.sign_count >= 1
        used_on = format_date(passkey.last_used_at.astimezone(ZoneInfo(user.timezone)), "medium",
                              locale="en")
        events = _factor_events(user)
        db.session.remove()
    expect(page.locator("ul.factor-list li")).to_contain_text(f"last used {used_on}")
    _screenshot(page, "second-factor-6-security-with-both")
    assert [(action, method) for action, method, _ip in events] == [
        ("auth.second_factor_added", "totp"), ("auth.recovery_codes_created", None),
        ("auth.second_factor_used", "totp"), ("auth.second_factor_added", "passkey"),
        ("auth.second_factor_used", "passkey")], events
    assert {ip for _action, _method, ip in events} == {"127.0.0.1"}, events
    assert not problems, problems


def test_spanish_client_on_a_phone_adds_a_passkey_and_signs_in_with_it(
        production_portal: Portal, people, phone_browser_es):
    from playwright.sync_api import expect

    portal, base = production_portal, production_portal.base_url
    _attorney, client = people
    es = lambda message: _spanish(portal.app, message)
    page = phone_browser_es.new_page()
    problems = _watch(page)
    cdp, authenticator_id = _add_virtual_authenticator(phone_browser_es, page)

    sign_in(page, base, client, portal.client_password, SIGN_IN["es"])
    _is_trusted(page)
    page.goto(f"{base}/account")
    page.get_by_role("link", name=es("Manage sign-in security")).click()
    expect(page).to_have_url(f"{base}/account/security")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text(es("Sign-in security"))
    expect(page.locator("p.todo")).to_have_count(0)  # a client may choose
    _screenshot(page, "second-factor-es-1-security")

    # Her first passkey, her phone's screen lock: it comes with recovery codes.
    register = page.locator("form[data-passkey-register]")
    register.get_by_label(es("Name of this passkey")).fill("Mi teléfono")
    register.get_by_role("button", name=es("Add a passkey")).click()
    expect(page).to_have_url(f"{base}/account/security/recovery-codes")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    _screenshot(page, "second-factor-es-2-recovery-codes")
    page.get_by_role("button", name=es("I have saved my codes")).click()
    expect(page).to_have_url(f"{base}/account/security")
    expect(page.locator("ul.factor-list li")).to_contain_text("Mi teléfono")
    _screenshot(page, "second-factor-es-3-security-with-passkey")

    # Next time: the password, then the passkey, in Spanish.
    _sign_out(page, base, "Cerrar sesión")
    enter_password(page, base, client, portal.client_password, SIGN_IN["es"])
    expect(page).to_have_url(f"{base}/login/verify")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    button = page.locator("[data-passkey-button]")
    expect(button).to_have_text(es("Use a passkey"))
    expect(page.locator("input[autocomplete=one-time-code]")).to_be_visible()  # or a recovery code
    _screenshot(page, "second-factor-es-4-passkey-step")
    button.click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("main")).to_contain_text("Permiso humanitario para Jorge Rivas")

    (credential,) = _credentials(cdp, authenticator_id)
    with portal.app.app_context():
        user = _user(client)
        (passkey,) = db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)).all()
        assert passkey.name == "Mi teléfono" and passkey.last_used_at is not None
        assert passkey.credential_id == base64.b64decode(credential["credentialId"])
        assert user.totp_secret_sealed is None and recovery.remaining(user) == 10
        events = _factor_events(user)
        db.session.remove()
    assert [(action, method) for action, method, _ip in events] == [
        ("auth.second_factor_added", "passkey"), ("auth.recovery_codes_created", None),
        ("auth.second_factor_used", "passkey")], events
    assert not problems, problems
