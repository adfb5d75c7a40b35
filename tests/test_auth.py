"""Sign-in, sign-out, throttling and server-side sessions."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, UserSession
from tests.conftest import PASSWORD
from tests.forms import comparable

WRONG = "The email or password is not correct."


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_correct_password_signs_in_and_lands_on_dashboard(client, make_user):
    user = make_user("client")
    response = client.submit("/login", {"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert audit_actions() == ["auth.login"]


def test_unknown_email_and_wrong_password_answer_the_same(client, make_user):
    user = make_user("client")
    wrong_password = client.submit("/login", {"email": user.email, "password": "nope-nope-nope"})
    unknown_email = client.submit("/login", {"email": "nobody@example.org", "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 200
    assert WRONG in wrong_password.text and WRONG in unknown_email.text
    # Same page apart from the CSRF tokens and the echoed email.
    strip = lambda r, email: comparable(r.text.replace(email, ""))
    assert strip(wrong_password, user.email) == strip(unknown_email, "nobody@example.org")
    assert audit_actions() == ["auth.login_failed", "auth.login_failed"]
    assert client.get("/").status_code == 302


def test_deactivated_account_cannot_sign_in(client, make_user):
    user = make_user("client", active=False)
    response = client.submit("/login", {"email": user.email, "password": PASSWORD})
    assert WRONG in response.text
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def client_from(app, address: str):
    """A browser of its own at ``address`` (the limits key on the client address)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def test_failed_logins_are_throttled_per_account_and_address(app, client, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "3 per 10 minutes"
    user = make_user("client")
    for _ in range(3):
        assert client.submit("/login", {"email": user.email, "password": "bad"}).status_code == 200
    blocked = client.submit("/login", {"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    # Another account from the same address is not affected by this account's limit.
    other = make_user("client")
    assert client.submit("/login", {"email": other.email, "password": PASSWORD}).status_code == 302


def test_owner_signs_in_from_another_address_while_an_attacker_is_throttled(app, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "3 per 10 minutes"
    user = make_user("client")
    attacker = client_from(app, "198.51.100.66")
    for _ in range(3):
        attacker.submit("/login", {"email": user.email, "password": "guess-guess-guess"})
    assert attacker.submit("/login", {"email": user.email,
                                      "password": "another-guess"}).status_code == 429
    owner = client_from(app, "203.0.113.10")
    assert owner.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    assert owner.get("/").status_code == 200


def test_sprayer_over_many_accounts_from_one_address_is_stopped(app, make_user):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 10 minutes"
    users = [make_user("client") for _ in range(5)]
    sprayer = client_from(app, "198.51.100.7")
    for user in users[:4]:
        assert sprayer.submit("/login", {"email": user.email, "password": "Winter2026!"}
                              ).status_code == 200
    # Each account saw one attempt only; the address is what gets stopped.
    assert sprayer.submit("/login", {"email": users[4].email, "password": PASSWORD}
                          ).status_code == 429
    assert client_from(app, "203.0.113.20").submit(
        "/login", {"email": users[4].email, "password": PASSWORD}).status_code == 302


def test_slow_per_account_limit_stops_guessing_from_many_addresses(app, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "2 per 10 minutes"
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "5 per day"
    user = make_user("client")
    for n in range(5):  # one or two guesses per address stay under the per-address limits
        guesser = client_from(app, f"198.51.100.{n + 1}")
        assert guesser.submit("/login", {"email": user.email, "password": f"guess-{n}"}
                              ).status_code == 200
    fresh = client_from(app, "198.51.100.200")
    assert fresh.submit("/login", {"email": user.email, "password": "guess-6"}).status_code == 429
    # Other accounts are not affected.
    other = make_user("client")
    assert fresh.submit("/login", {"email": other.email, "password": PASSWORD}).status_code == 302


def test_owner_on_a_known_device_signs_in_while_strangers_exhausted_the_account(app, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per day"
    user = make_user("client")
    owner = client_from(app, "203.0.113.10")
    owner.submit("/login", {"email": user.email, "password": PASSWORD})
    assert owner.get_cookie("device").http_only
    owner.submit("/logout")
    for n in range(3):
        client_from(app, f"198.51.100.{n + 1}").submit(
            "/login", {"email": user.email, "password": f"guess-{n}"})
    stranger = client_from(app, "198.51.100.99")
    assert stranger.submit("/login", {"email": user.email, "password": PASSWORD}
                           ).status_code == 429
    owner.environ_base["REMOTE_ADDR"] = "203.0.113.77"  # travelling: a new address
    assert owner.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302


def test_a_device_cookie_of_another_account_or_a_forged_one_buys_nothing(app, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per day"
    victim, attacker_account = make_user("client"), make_user("client")
    attacker = client_from(app, "198.51.100.1")
    attacker.submit("/login", {"email": attacker_account.email, "password": PASSWORD})
    attacker.submit("/logout")  # keeps a genuine device cookie, for the wrong account
    forged = client_from(app, "198.51.100.2")
    forged.set_cookie("device", "eyJhIjoiYSIsImQiOiJkIn0.forged.signature")
    for n, browser in enumerate((attacker, forged)):
        browser.environ_base["REMOTE_ADDR"] = f"198.51.100.{10 + n}"
        assert browser.submit("/login", {"email": victim.email, "password": "guess"}
                              ).status_code == 200
    for browser in (attacker, forged):
        browser.environ_base["REMOTE_ADDR"] = "198.51.100.50"
        assert browser.submit("/login", {"email": victim.email, "password": "guess"}
                              ).status_code == 429


def test_empty_or_malformed_email_forms_never_throttle_anyone(app, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "2 per 10 minutes"
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    pest = client_from(app, "198.51.100.9")
    for email in ("", " ", "not-an-email", "still not one", "@", "not-an-email"):
        assert pest.submit("/login", {"email": email, "password": "x"}).status_code == 200
    bystander = client_from(app, "203.0.113.30")
    for email in ("", "not-an-email"):
        assert bystander.submit("/login", {"email": email, "password": "x"}).status_code == 200
    user = make_user("client")
    assert bystander.submit("/login", {"email": user.email, "password": PASSWORD}
                            ).status_code == 302


def test_successful_logins_do_not_count_against_the_limit(app, client, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "2 per 10 minutes"
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    user = make_user("client")
    for _ in range(4):
        assert client.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
        client.submit("/logout")


def test_refused_attempts_do_not_use_up_the_per_account_limit(app, make_user):
    """An attacker who keeps posting after a 429 must not burn the owner's budget."""
    # Flask-Limiter checks the finest window first; this order makes the
    # per-account limit pass its check before the per-account-and-address one refuses.
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "2 per day"
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "4 per 10 minutes"
    user = make_user("client")
    attacker = client_from(app, "198.51.100.66")
    statuses = [attacker.submit("/login", {"email": user.email, "password": "guess"}).status_code
                for _ in range(10)]
    assert statuses == [200, 200] + [429] * 8
    owner = client_from(app, "203.0.113.10")
    assert owner.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302


def test_sign_in_starts_a_new_session(client, make_user):
    user = make_user("client")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before sign-in"
    client.submit("/login", {"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["sid"]


def test_logout_ends_the_session_server_side_so_a_copied_cookie_fails(app, client, make_user):
    user = make_user("client")
    client.submit("/login", {"email": user.email, "password": PASSWORD})
    stolen = client.get_cookie("session").value
    client.submit("/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    ended = db.session.scalar(select(UserSession))
    assert ended.ended_at is not None


def test_login_form_without_csrf_token_is_refused_and_signs_nobody_in(client, make_user):
    user = make_user("client")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.text
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_next_parameter_cannot_redirect_off_site(client, make_user):
    user = make_user("client")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.submit(f"/login?next={target}", {"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/"
        client.submit("/logout")
    response = client.submit("/login?next=/account", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/account"


def test_pages_require_sign_in_and_redirect_to_login(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # no inline allowance
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # production only


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user("client")
    response = client.submit("/login", {"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_profile_changes_language_and_time_zone(client, make_user, login_as):
    user = make_user("client")
    login_as(user)
    response = client.submit("/account", {"name": "Ana M.", "language": "es",
                                          "timezone": "America/Caracas"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.language, user.timezone) == ("Ana M.", "es", "America/Caracas")
    assert "Configuración" in client.get("/account").text or '<html lang="es"' in client.get("/account").text


def test_profile_rejects_unknown_time_zone_and_changes_nothing(client, make_user, login_as):
    user = make_user("client")
    login_as(user)
    response = client.submit("/account", {"name": "X", "language": "en", "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    db.session.refresh(user)
    assert user.timezone == "UTC" and user.name != "X"
