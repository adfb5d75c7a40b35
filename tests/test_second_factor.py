"""Second factors: an authenticator app (TOTP), recovery codes, the code
step of sign-in, the firm's duty to have one, and confirming it's you."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from portal.auth import totp
from portal.crypto import CryptoError
from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, Role, User, UserSession
from portal.models.types import utcnow
from tests.conftest import PASSWORD, PortalClient

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code_at(offset_steps: int = 0, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def with_app(user: User, secret: str = SECRET) -> User:
    """Give ``user`` an authenticator app directly (no steps used yet)."""
    user.totp_secret_sealed = totp.seal(user, secret)
    db.session.commit()
    return user


def password_step(client, user, address="10.0.0.1"):
    return client.submit("/login", {"email": user.email, "password": PASSWORD},
                         environ_base={"REMOTE_ADDR": address})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- setting up an app ---------------------------------------------------------

def test_setting_up_an_app_needs_a_first_code_and_gives_recovery_codes_once(
        client, login_as, make_user):
    user = make_user(Role.CLIENT)
    login_as(user)
    page = client.get("/account/security/app")
    assert "<svg" in page.text and "qrline" in page.text
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1).replace(" ", "")

    wrong = client.submit("/account/security/app", {"code": "000000"})
    assert "That code is not correct" in wrong.text
    db.session.refresh(user)
    assert user.totp_secret_sealed is None

    done = client.submit("/account/security/app", {"code": code_at(secret=secret)})
    assert done.headers["Location"].endswith("/account/security/recovery-codes")
    db.session.refresh(user)
    assert user.totp_secret_sealed is not None and secret.encode() not in user.totp_secret_sealed
    assert totp.unseal(user, user.totp_secret_sealed) == secret

    shown = client.get("/account/security/recovery-codes")
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", shown.text)
    assert len(codes) == 10
    download = client.get("/account/security/recovery-codes.txt")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert all(code in download.text for code in codes)
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(code in h for code in codes for h in stored)

    client.submit("/account/security/recovery-codes/saved")
    again = client.get("/account/security/recovery-codes")
    assert again.status_code == 302 and codes[0] not in client.get("/account/security").text
    assert "10 unused recovery codes left" in client.get("/account/security").text
    assert "auth.second_factor_added" in actions()


def test_the_secret_opens_only_for_its_own_person(app, make_user):
    owner, other = make_user(), make_user()
    sealed = totp.seal(owner, SECRET)
    assert totp.unseal(owner, sealed) == SECRET
    with pytest.raises(CryptoError):
        totp.unseal(other, sealed)


# --- the code step of sign-in --------------------------------------------------

def test_a_right_password_alone_does_not_sign_in_someone_with_an_app(client, make_user):
    user = with_app(make_user())
    response = password_step(client, user)
    assert response.headers["Location"].endswith("/login/verify")
    assert not signed_in(client)
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == user.id)) is None

    done = client.submit("/login/verify", {"code": code_at()})
    assert done.status_code == 302 and signed_in(client)
    assert "auth.second_factor_used" in actions()


def test_a_code_is_good_once_and_only_near_its_time(client, app, make_user):
    user = with_app(make_user())
    password_step(client, user)
    used = code_at()
    assert client.submit("/login/verify", {"code": used}).status_code == 302
    client.submit("/logout")

    replay = PortalClient(app, use_cookies=True)
    password_step(replay, user)
    refused = replay.submit("/login/verify", {"code": used})
    assert refused.status_code == 200 and "That code is not correct" in refused.text
    assert replay.submit("/login/verify", {"code": code_at(-2)}).status_code == 200
    assert not signed_in(replay)
    assert "auth.second_factor_failed" in actions()
    # The next step's code is within the window, and newer than the one used.
    assert replay.submit("/login/verify", {"code": code_at(+1)}).status_code == 302


def test_a_code_from_two_steps_ago_is_refused(client, make_user):
    user = with_app(make_user())  # no code used yet: only the time window refuses it
    password_step(client, user)
    assert client.submit("/login/verify", {"code": code_at(-2)}).status_code == 200
    assert client.submit("/login/verify", {"code": code_at(+2)}).status_code == 200
    assert not signed_in(client)


def test_the_previous_step_is_still_accepted(client, make_user):
    user = with_app(make_user())
    password_step(client, user)
    assert client.submit("/login/verify", {"code": code_at(-1)}).status_code == 302


def test_six_wrong_codes_are_throttled_but_the_owner_elsewhere_gets_in(client, app, make_user):
    user = with_app(make_user())
    password_step(client, user, "203.0.113.9")
    statuses = [client.submit("/login/verify", {"code": "123456"},
                              environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429

    owner = PortalClient(app, use_cookies=True)
    password_step(owner, user, "198.51.100.7")
    done = owner.submit("/login/verify", {"code": code_at()},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert done.status_code == 302 and signed_in(owner)


def test_a_recovery_code_signs_in_once(client, app, login_as, make_user):
    user = make_user()
    login_as(user)
    client.get("/account/security/app")
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", client.get("/account/security/app").text)
    client.submit("/account/security/app",
                  {"code": code_at(secret=secret.group(1).replace(" ", ""))})
    code = re.search(r"<code>([a-z2-9-]{14})</code>",
                     client.get("/account/security/recovery-codes").text).group(1)
    client.submit("/logout")

    first = PortalClient(app, use_cookies=True)
    password_step(first, user)
    assert first.submit("/login/verify", {"code": code.upper().replace("-", " ")}).status_code == 302
    assert "9 unused recovery codes left" in first.get("/account/security").text
    assert "auth.recovery_code_used" in actions()

    second = PortalClient(app, use_cookies=True)
    password_step(second, user)
    assert second.submit("/login/verify", {"code": code}).status_code == 200
    assert not signed_in(second)


def test_the_code_step_expires(client, make_user, monkeypatch):
    user = with_app(make_user())
    password_step(client, user)
    later = time.time() + 6 * 60
    monkeypatch.setattr("portal.auth.factor_routes.time.time", lambda: later)
    response = client.submit("/login/verify", {"code": code_at()})
    assert response.headers["Location"].endswith("/login")
    assert not signed_in(client)


# --- nothing bypasses the factor ---------------------------------------------------

def test_a_password_reset_ends_at_the_code_step(client, make_user, mailbox):
    user = with_app(make_user())
    client.submit("/forgot-password", {"email": user.email})
    link = mailbox.links(mailbox.messages[-1])[0]
    client.get(link.replace("http://portal.test", ""))
    new = "a brand new long passphrase 42"
    client.submit("/reset", {"password": new, "confirm": new})
    assert not signed_in(client)
    response = client.submit("/login", {"email": user.email, "password": new})
    assert response.headers["Location"].endswith("/login/verify")
    assert not signed_in(client)


# --- the firm must have one -----------------------------------------------------

@pytest.fixture()
def required(app):
    app.config["SECOND_FACTOR_REQUIRED_FOR_FIRM"] = True


@pytest.mark.parametrize("role", [Role.ATTORNEY, Role.STAFF, Role.ADMIN])
def test_the_firm_sees_nothing_before_setting_up_a_factor(client, login_as, make_user, required,
                                                          role):
    user = make_user(role)
    login_as(user)
    for page in ("/", "/account", "/agenda", "/admin/users"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].endswith("/account/security"), page
    page = client.get("/account/security")
    assert "Your firm requires a second factor" in page.text
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", client.get("/account/security/app").text)
    client.submit("/account/security/app", {"code": code_at(secret=secret.group(1).replace(" ", ""))})
    assert client.get("/").status_code == 200


def test_clients_are_offered_a_factor_not_forced(client, login_as, make_user, required):
    login_as(make_user(Role.CLIENT))
    assert client.get("/").status_code == 200
    page = client.get("/account/security")
    assert "A second factor keeps your account safe" in page.text
    assert "Your firm requires" not in page.text


def test_the_firm_cannot_remove_its_last_factor(client, login_as, make_user, required):
    user = with_app(make_user(Role.ATTORNEY))
    password_step(client, user)
    client.submit("/login/verify", {"code": code_at()})
    response = client.submit("/account/security/app/remove", follow_redirects=True)
    assert "Add another one before removing this one" in response.text
    db.session.refresh(user)
    assert user.totp_secret_sealed is not None


# --- confirming it's you --------------------------------------------------------

def _signed_in_with_app(client, user):
    password_step(client, user)
    assert client.submit("/login/verify", {"code": code_at()}).status_code == 302


def _age_confirmation(user, minutes=6):
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(reauthenticated_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def test_removing_a_factor_needs_the_password_and_a_code_again(client, make_user):
    user = with_app(make_user())
    _signed_in_with_app(client, user)
    _age_confirmation(user)
    response = client.submit("/account/security/app/remove",
                             headers={"Referer": "http://localhost/account/security"})
    assert "/account/confirm" in response.headers["Location"]
    db.session.refresh(user)
    assert user.totp_secret_sealed is not None

    wrong = client.submit("/account/confirm?next=/account/security",
                          {"password": PASSWORD, "code": "000000"})
    assert "not correct" in wrong.text
    no_code = client.submit("/account/confirm?next=/account/security", {"password": PASSWORD})
    assert "not correct" in no_code.text
    time.sleep(0)  # the sign-in used this step's code; the next step's is still good
    ok = client.submit("/account/confirm?next=/account/security",
                       {"password": PASSWORD, "code": code_at(+1)})
    assert ok.headers["Location"].endswith("/account/security")
    client.submit("/account/security/app/remove")
    db.session.refresh(user)
    assert user.totp_secret_sealed is None
    assert db.session.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id)) is None


def test_adding_a_factor_long_after_sign_in_asks_for_the_password(client, login_as, make_user):
    user = make_user()
    login_as(user)
    _age_confirmation(user)
    response = client.get("/account/security/app")
    assert "/account/confirm" in response.headers["Location"]
    client.submit("/account/confirm", {"password": PASSWORD})
    assert client.get("/account/security/app").status_code == 200


def test_a_new_factor_signs_out_other_devices(client, app, login_as, make_user):
    user = make_user()
    other = PortalClient(app, use_cookies=True)
    other.submit("/login", {"email": user.email, "password": PASSWORD})
    login_as(user)
    page = client.get("/account/security/app")
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1).replace(" ", "")
    client.submit("/account/security/app", {"code": code_at(secret=secret)})
    assert signed_in(client) and not signed_in(other)


# --- the admin's reset -------------------------------------------------------------

def test_an_admin_resets_a_lost_factor(client, app, login_as, make_user, mailbox):
    person = with_app(make_user(Role.CLIENT, language="es"))
    theirs = PortalClient(app, use_cookies=True)
    _signed_in_with_app(theirs, person)
    admin = make_user(Role.ADMIN)
    login_as(admin)
    response = client.submit(f"/admin/users/{person.uuid}/second-factor/reset")
    assert response.headers["Location"].endswith("/admin/users")
    db.session.refresh(person)
    assert person.totp_secret_sealed is None
    assert not signed_in(theirs)
    mail = mailbox.messages[-1]
    assert mail["To"] == person.email
    # In their language, and saying nothing of any case.
    assert "segundo factor" in mail.get_content() and "second factor" not in mail.get_content()
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "auth.second_factor_reset"))
    assert event.actor_id == admin.id and event.target == person.email
    # Now a password alone signs them in again, to set a factor up.
    assert password_step(PortalClient(app, use_cookies=True), person).headers[
        "Location"].endswith("/")


def test_only_admins_reset_factors(client, login_as, make_user):
    person = with_app(make_user(Role.CLIENT))
    login_as(make_user(Role.ATTORNEY))
    assert client.submit(f"/admin/users/{person.uuid}/second-factor/reset").status_code == 403
    db.session.refresh(person)
    assert person.totp_secret_sealed is not None


# --- changing the email ---------------------------------------------------------

def test_changing_the_email_needs_confirmation_and_tells_the_old_address(
        client, app, login_as, make_user, mailbox):
    user = make_user()
    other = PortalClient(app, use_cookies=True)
    password_step(other, user)
    login_as(user)
    _age_confirmation(user)
    asked = client.get("/account/email")
    assert "/account/confirm" in asked.headers["Location"]
    client.submit("/account/confirm", {"password": "not the password at all"})
    assert client.get("/account/email").status_code == 302  # a wrong password confirms nothing

    client.submit("/account/confirm", {"password": PASSWORD})
    taken = make_user().email
    assert "Another account already uses" in client.submit("/account/email",
                                                           {"email": taken}).text
    old = user.email
    response = client.submit("/account/email", {"email": "New.Address@Example.org"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.email == "new.address@example.org"
    assert mailbox.messages[-1]["To"] == old
    assert not signed_in(other) and signed_in(client)


def test_an_invitation_for_an_existing_account_leads_to_the_code_step(
        client, app, login_as, make_user, make_case, mailbox):
    attorney = make_user(Role.ATTORNEY)
    case = make_case(attorney=attorney)
    login_as(attorney)
    client.submit(f"/cases/{case.uuid}/invite", {"name": "Ana", "email": "ana@example.org",
                                                 "case_role": "client", "language": "en"})
    link = mailbox.links(mailbox.messages[-1])[0].replace("http://portal.test", "")
    # Meanwhile Ana's account came to exist, with an authenticator app.
    ana = with_app(make_user(Role.CLIENT, email="ana@example.org"))
    newcomer = PortalClient(app, use_cookies=True)
    newcomer.get(link)
    refused = newcomer.submit("/invitation", {"name": "Ana", "password": "x" * 20,
                                              "confirm": "x" * 20})
    assert "already exists" in refused.text and not signed_in(newcomer)
    assert password_step(newcomer, ana).headers["Location"].endswith("/login/verify")
    assert not signed_in(newcomer)


def test_a_reset_without_a_factor_changes_nothing(client, app, login_as, make_user):
    person = make_user(Role.CLIENT)
    theirs = PortalClient(app, use_cookies=True)
    password_step(theirs, person)
    login_as(make_user(Role.ADMIN))
    page = client.submit(f"/admin/users/{person.uuid}/second-factor/reset", follow_redirects=True)
    assert "has no second factor to reset" in page.text
    assert signed_in(theirs)
