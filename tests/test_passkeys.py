"""Passkeys: registering one, signing in with it as the second factor, and
the answers that must be refused (another account's, a replayed challenge,
another origin, no user verification, a sign count that went back)."""
from __future__ import annotations

import json

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Passkey, Role
from tests.authenticators import UP, SoftPasskey, challenge_of
from tests.conftest import PASSWORD, PortalClient


def post_json(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json",
                       headers={"X-CSRFToken": client.csrf_token()})


def register(client, authenticator, name="My phone", **answer):
    options = post_json(client, "/account/security/passkeys/options").get_json()
    return post_json(client, "/account/security/passkeys",
                     {"name": name, "credential": authenticator.create(options, **answer)})


def with_passkey(app, user):
    """A client that signed in with a password, registered a passkey and signed out."""
    browser = PortalClient(app, use_cookies=True)
    browser.submit("/login", {"email": user.email, "password": PASSWORD})
    authenticator = SoftPasskey()
    assert register(browser, authenticator).status_code == 200
    browser.submit("/logout")
    return authenticator


def password_step(client, user):
    response = client.submit("/login", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/login/verify")


def sign_in_options(client):
    return post_json(client, "/login/passkey/options").get_json()


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_passkey_is_registered_named_and_listed(client, login_as, make_user):
    user = make_user(Role.CLIENT)
    login_as(user)
    options = post_json(client, "/account/security/passkeys/options").get_json()
    assert options["rp"]["id"] == "portal.test"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    response = post_json(client, "/account/security/passkeys",
                         {"name": "Pixel", "credential": SoftPasskey().create(options)})
    assert response.get_json()["redirect"].endswith("/account/security/recovery-codes")
    passkey = db.session.scalar(select(Passkey))
    assert passkey.user_id == user.id and passkey.name == "Pixel"
    page = client.get("/account/security")
    assert "Pixel" in page.text and "not used yet" in page.text


def test_registration_without_user_verification_or_from_elsewhere_is_refused(
        client, login_as, make_user):
    login_as(make_user(Role.CLIENT))
    assert register(client, SoftPasskey(), flags=UP | 0x40).status_code == 400
    assert register(client, SoftPasskey(), origin="https://portal.test.evil.example").status_code \
        == 400
    assert db.session.scalar(select(Passkey)) is None


def test_a_registration_answer_works_once(client, login_as, make_user):
    login_as(make_user(Role.CLIENT))
    options = post_json(client, "/account/security/passkeys/options").get_json()
    answer = SoftPasskey().create(options)
    assert post_json(client, "/account/security/passkeys", {"credential": answer}).status_code == 200
    again = post_json(client, "/account/security/passkeys", {"credential": answer})
    assert again.status_code == 400
    assert db.session.query(Passkey).count() == 1


def test_signing_in_with_a_passkey(app, client, make_user):
    user = make_user(Role.CLIENT)
    authenticator = with_passkey(app, user)
    password_step(client, user)
    assert "Use a passkey" in client.get("/login/verify").text
    answer = authenticator.get(sign_in_options(client))
    response = post_json(client, "/login/passkey", {"credential": answer})
    assert response.status_code == 200 and response.get_json()["redirect"] == "/"
    assert signed_in(client)
    passkey = db.session.scalar(select(Passkey))
    assert passkey.sign_count == 1 and passkey.last_used_at is not None


def test_a_replayed_assertion_is_refused(app, client, make_user):
    user = make_user(Role.CLIENT)
    authenticator = with_passkey(app, user)
    password_step(client, user)
    answer = authenticator.get(sign_in_options(client))
    assert post_json(client, "/login/passkey", {"credential": answer}).status_code == 200
    client.submit("/logout")

    thief = PortalClient(app, use_cookies=True)
    password_step(thief, user)
    sign_in_options(thief)  # a fresh challenge the old answer does not sign
    assert post_json(thief, "/login/passkey", {"credential": answer}).status_code == 400
    assert not signed_in(thief)


def test_an_answer_is_used_once_even_in_its_own_session(app, client, make_user):
    user = make_user(Role.CLIENT)
    authenticator = with_passkey(app, user)
    password_step(client, user)
    answer = authenticator.get(sign_in_options(client), flags=UP)  # no user verification
    assert post_json(client, "/login/passkey", {"credential": answer}).status_code == 400
    # The challenge went with the first answer: a good signature over it now fails too.
    again = authenticator.get(challenge_of(answer))
    assert post_json(client, "/login/passkey", {"credential": again}).status_code == 400
    assert not signed_in(client)


def test_another_accounts_passkey_is_refused(app, client, make_user):
    victim, mallory = make_user(Role.CLIENT), make_user(Role.CLIENT)
    with_passkey(app, victim)
    mallorys = with_passkey(app, mallory)
    password_step(client, victim)
    answer = mallorys.get(sign_in_options(client))
    assert post_json(client, "/login/passkey", {"credential": answer}).status_code == 400
    assert not signed_in(client)


def test_an_assertion_made_for_another_origin_is_refused(app, client, make_user):
    user = make_user(Role.CLIENT)
    authenticator = with_passkey(app, user)
    password_step(client, user)
    answer = authenticator.get(sign_in_options(client), origin="https://portal-test.example")
    assert post_json(client, "/login/passkey", {"credential": answer}).status_code == 400
    assert not signed_in(client)


def test_a_sign_count_that_goes_back_is_refused(app, client, make_user):
    user = make_user(Role.CLIENT)
    authenticator = with_passkey(app, user)
    password_step(client, user)
    post_json(client, "/login/passkey", {"credential": authenticator.get(sign_in_options(client))})
    client.submit("/logout")
    password_step(client, user)
    clone = authenticator.get(sign_in_options(client), count_up=False)  # a copied key
    assert post_json(client, "/login/passkey", {"credential": clone}).status_code == 400
    assert not signed_in(client)
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "auth.second_factor_failed")) is not None


def test_passkey_sign_in_needs_the_password_first(client, app, make_user):
    user = make_user(Role.CLIENT)
    with_passkey(app, user)
    assert post_json(client, "/login/passkey/options").status_code == 401


def test_removing_a_passkey(app, client, login_as, make_user):
    user = make_user(Role.CLIENT)
    login_as(user)
    register(client, SoftPasskey())
    passkey = db.session.scalar(select(Passkey))
    response = client.submit(f"/account/security/passkeys/{passkey.uuid}/remove")
    assert response.status_code == 303
    assert db.session.scalar(select(Passkey)) is None


def test_nobody_removes_another_persons_passkey(app, client, login_as, make_user):
    owner = make_user(Role.CLIENT)
    with_passkey(app, owner)
    passkey = db.session.scalar(select(Passkey))
    login_as(make_user(Role.CLIENT))
    assert client.submit(f"/account/security/passkeys/{passkey.uuid}/remove").status_code == 404
    assert db.session.scalar(select(Passkey)) is not None
