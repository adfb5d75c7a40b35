"""Password reset by email, and password change on the account page."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.auth import reset
from portal.dev.embedded_s3 import free_port
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, OutboxState, PasswordReset, User, UserSession
from portal.models.types import utcnow
from tests.conftest import PASSWORD
from tests.jobs import pending_jobs, queued_jobs, run_jobs

NEW_PASSWORD = "lantern-orchard-pebble-cinema-4"
SAME_ANSWER = "If an account exists for that address, we have sent it a link"
EXPIRED = "This link has expired or was already used."


def ask_for_link(app, email: str, address: str = "192.0.2.1"):
    """Ask for a reset link from a browser of its own (jobs run at once in tests)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser.submit("/forgot-password", {"email": email})


def reset_path(mailbox, message=None) -> str:
    (link,) = mailbox.links(message or mailbox.messages[-1])
    assert link.startswith("http://portal.test/reset/")
    return link.replace("http://portal.test", "")


def choose_password(app, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    """Open the emailed link in a fresh browser and submit a new password."""
    browser = app.test_client()
    opened = browser.get(path)
    if opened.status_code != 303:
        return opened
    assert opened.headers["Location"] == "/reset"  # the token leaves the address bar at once
    return browser.submit("/reset", {"password": password,
                                     "confirm": password if confirm is None else confirm})


def signs_in(app, user: User, password: str) -> bool:
    return app.test_client().submit("/login", {"email": user.email, "password": password}
                                    ).status_code == 302


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- reset by email ----------------------------------------------------------

def test_sign_in_page_offers_the_reset(client):
    page = client.get("/login").text
    assert 'href="/forgot-password"' in page and "Forgot your password?" in page


def test_forgotten_password_is_reset_through_the_emailed_link(app, make_user, mailbox):
    user = make_user("client")
    response = ask_for_link(app, user.email.upper())
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    (message,) = mailbox.messages
    assert message["To"] == user.email
    assert "expires in 30 minutes" in message.get_content()
    path = reset_path(mailbox)

    browser = app.test_client()
    assert browser.get(path).headers["Location"] == "/reset"
    form = browser.get("/reset")
    assert form.status_code == 200 and user.email in form.text
    done = browser.submit("/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    # Reset never signs in: the person signs in as usual (a second factor will apply then).
    assert browser.get("/").status_code == 302
    assert "Please sign in with your new password" in browser.get("/login").text
    assert signs_in(app, user, NEW_PASSWORD) and not signs_in(app, user, PASSWORD)
    assert actions()[:2] == ["auth.password_reset_requested", "auth.password_reset"]


def test_the_link_carries_256_random_bits_of_which_only_the_hash_is_stored(app, make_user,
                                                                        mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    token = reset_path(mailbox).rsplit("/", 1)[1]
    assert len(token) >= 43  # secrets.token_urlsafe(32)
    stored = db.session.scalar(select(PasswordReset))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(db.session.scalars(select(AuditEvent.details)).all())


def test_unknown_and_known_email_get_the_same_answer_and_only_the_owner_gets_mail(
        app, make_user, mailbox):
    user = make_user("client")
    known, unknown = ask_for_link(app, user.email), ask_for_link(app, "nobody@example.org")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    browser = app.test_client()
    for email in (user.email, "nobody@example.org"):
        browser.submit("/forgot-password", {"email": email})
        assert SAME_ANSWER in browser.get("/login").text
    assert {m["To"] for m in mailbox.messages} == {user.email}
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 2


def test_every_request_enqueues_one_job_and_does_no_mail_work_itself(app, make_user, mailbox):
    """Known or unknown address, the request does the same: one job each; the
    link and its email are made by the job, after the answer."""
    user = make_user("client")
    with queued_jobs(app):
        for email in (user.email, "nobody@example.org"):
            assert app.test_client().submit("/forgot-password",
                                            {"email": email}).status_code == 302
        assert pending_jobs() == ["email_reset_link"] * 2
        assert mailbox.messages == []
        assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        run_jobs()
    assert [m["To"] for m in mailbox.messages] == [user.email]
    assert db.session.scalar(select(OutboxMessage.state)) is OutboxState.SENT


def test_a_mail_server_failure_does_not_tell_that_the_account_exists(app, make_user):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    user = make_user("client")
    known, unknown = ask_for_link(app, user.email), ask_for_link(app, "nobody@example.org")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]


def test_the_email_is_in_the_users_language_and_holds_no_case_content(app, make_user,
                                                                      make_case, mailbox):
    user = make_user("client", language="es")
    case = make_case(client=user, title="Urgent cardiac surgery", beneficiary_name="Rosa Morales")
    ask_for_link(app, user.email)
    (message,) = mailbox.messages
    body = message.get_content()
    assert body.startswith("Hola,")
    for secret in (case.title, case.beneficiary_name, case.reference):
        assert secret not in body and secret not in message["Subject"]


def test_deactivated_account_gets_no_link(app, make_user, mailbox):
    user = make_user("client", active=False)
    assert ask_for_link(app, user.email).status_code == 302
    assert db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "auth.password_reset_requested")) == {"sent": False}
    # The job checks again (deactivated between request and job).
    reset.email_new_link(user.email)
    assert mailbox.messages == []
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_link_issued_before_deactivation_no_longer_works(app, make_user, mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    db.session.commit()
    before = user.password_hash
    assert choose_password(app, reset_path(mailbox)).status_code == 410
    with pytest.raises(ServiceError):  # the service refuses too, whoever calls it
        reset.reset_password(db.session.scalar(select(PasswordReset)), NEW_PASSWORD)
    db.session.refresh(user)
    assert user.password_hash == before
    assert db.session.scalar(select(PasswordReset.used_at)) is None


def test_the_link_works_only_once(app, make_user, mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    path = reset_path(mailbox)
    assert choose_password(app, path).status_code == 302
    again = choose_password(app, path, "a-different-but-strong-passphrase-9")
    assert again.status_code == 410 and EXPIRED in again.text
    assert 'href="/forgot-password"' in again.text
    assert signs_in(app, user, NEW_PASSWORD)


def test_the_link_expires_after_the_configured_minutes(app, make_user, mailbox):
    app.config["PASSWORD_RESET_TTL"] = timedelta(minutes=30)
    user = make_user("client")
    ask_for_link(app, user.email)
    link = db.session.scalar(select(PasswordReset))
    assert link.expires_at - link.created_at == pytest.approx(timedelta(minutes=30),
                                                              abs=timedelta(seconds=5))
    db.session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    expired = choose_password(app, reset_path(mailbox))
    assert expired.status_code == 410 and 'href="/forgot-password"' in expired.text
    assert signs_in(app, user, PASSWORD)


def test_a_newer_link_voids_the_older_one(app, make_user, mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    ask_for_link(app, user.email)
    older, newer = (reset_path(mailbox, m) for m in mailbox.messages)
    assert choose_password(app, older).status_code == 410
    assert choose_password(app, newer).status_code == 302


def test_an_unknown_link_is_refused_with_a_way_to_ask_again(client):
    client.get("/reset/made-up-token")
    response = client.get("/reset")
    assert response.status_code == 404 and 'href="/forgot-password"' in response.text


def test_a_weak_password_is_refused_and_the_link_stays_usable(app, make_user, mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    path = reset_path(mailbox)
    weak = choose_password(app, path, "password1234")
    assert weak.status_code == 200 and "too easy to guess" in weak.text
    mismatch = choose_password(app, path, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert mismatch.status_code == 200 and "do not match" in mismatch.text
    assert signs_in(app, user, PASSWORD)
    assert choose_password(app, path).status_code == 302


def test_reset_ends_every_session_of_the_account(app, make_user, mailbox):
    user = make_user("client")
    signed_in = app.test_client()
    signed_in.submit("/login", {"email": user.email, "password": PASSWORD})
    ask_for_link(app, user.email)
    choose_password(app, reset_path(mailbox))
    assert signed_in.get("/").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.ended_at.is_(None))) == 0


def test_reset_requests_are_throttled_per_email(app, make_user, mailbox):
    app.config["PASSWORD_RESET_LIMIT_PER_EMAIL"] = "2 per hour"
    user, other = make_user("client"), make_user("client")
    for n in range(2):
        assert ask_for_link(app, user.email, f"192.0.2.{n + 1}").status_code == 302
    assert ask_for_link(app, user.email, "192.0.2.9").status_code == 429
    # The last link sent stays valid, and other addresses are not affected.
    assert choose_password(app, reset_path(mailbox)).status_code == 302
    assert ask_for_link(app, other.email, "192.0.2.9").status_code == 302
    # Unknown addresses are throttled alike, so a 429 tells nothing either.
    for n in range(2):
        ask_for_link(app, "nobody@example.org", f"192.0.2.{n + 1}")
    assert ask_for_link(app, "nobody@example.org", "192.0.2.9").status_code == 429


def test_reset_requests_are_throttled_per_address(app, make_user):
    app.config["PASSWORD_RESET_LIMIT_PER_ADDRESS"] = "2 per hour"
    users = [make_user("client") for _ in range(3)]
    assert [ask_for_link(app, u.email, "192.0.2.50").status_code for u in users] == [302, 302, 429]
    assert ask_for_link(app, users[2].email, "192.0.2.51").status_code == 302


def test_empty_reset_forms_do_not_throttle_anyone(app, make_user):
    app.config["PASSWORD_RESET_LIMIT_PER_EMAIL"] = "1 per hour"
    app.config["PASSWORD_RESET_LIMIT_PER_ADDRESS"] = "1 per hour"
    for email in ("", "", "not-an-email"):
        assert ask_for_link(app, email, "192.0.2.60").status_code == 200
    assert ask_for_link(app, make_user("client").email, "192.0.2.60").status_code == 302


# --- password change -----------------------------------------------------------

def change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.submit("/account/password", {"current_password": current, "password": new,
                                               "confirm": new if confirm is None else confirm})


def test_password_change_keeps_this_session_and_ends_the_others(app, client, make_user,
                                                                login_as, mailbox):
    user = make_user("client")
    phone = app.test_client()
    phone.submit("/login", {"email": user.email, "password": PASSWORD})
    ask_for_link(app, user.email)  # an open reset link, which the change voids
    login_as(user)
    assert 'action="/account/password"' in client.get("/account").text
    response = change(client, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert phone.get("/").status_code == 302
    assert choose_password(app, reset_path(mailbox), "yet-another-strong-phrase-77"
                           ).status_code == 410
    assert signs_in(app, user, NEW_PASSWORD) and not signs_in(app, user, PASSWORD)
    assert "account.password_changed" in actions()


def test_wrong_current_password_changes_nothing(app, client, make_user, login_as):
    user = make_user("client")
    login_as(user)
    phone = app.test_client()
    phone.submit("/login", {"email": user.email, "password": PASSWORD})
    before = user.password_hash
    response = change(client, "not-my-password")
    assert response.status_code == 200
    assert "Your current password is not correct. Nothing was changed." in response.text
    db.session.refresh(user)
    assert user.password_hash == before
    assert phone.get("/").status_code == 200
    assert "account.password_change_failed" in actions()


def test_wrong_current_passwords_count_as_failed_sign_ins(app, client, make_user, login_as):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = "2 per 10 minutes"
    user = make_user("client")
    login_as(user)
    assert [change(client, "guess-one").status_code, change(client, "guess-two").status_code] \
        == [200, 200]
    assert change(client, PASSWORD).status_code == 429
    assert app.test_client().submit("/login", {"email": user.email, "password": PASSWORD}
                                    ).status_code == 429


def test_weak_or_mismatched_new_password_is_refused(client, make_user, login_as):
    user = make_user("client")
    login_as(user)
    weak = change(client, PASSWORD, "password1234")
    assert weak.status_code == 200 and "too easy to guess" in weak.text
    mismatch = change(client, PASSWORD, NEW_PASSWORD, confirm="something-else-entirely-5")
    assert mismatch.status_code == 200 and "do not match" in mismatch.text
    before = user.password_hash
    db.session.refresh(user)
    assert user.password_hash == before


def test_of_two_submits_racing_with_one_link_only_one_wins(app, make_user, mailbox):
    user = make_user("client")
    ask_for_link(app, user.email)
    link = db.session.scalar(select(PasswordReset))
    assert link.is_usable(utcnow())
    # The other submit commits first, on a connection of its own; this one
    # still holds the link as it was loaded.
    with db.engine.begin() as other:
        other.execute(update(PasswordReset).values(used_at=utcnow()))
    with pytest.raises(ServiceError):
        reset.reset_password(link, NEW_PASSWORD)
    assert signs_in(app, user, PASSWORD)
