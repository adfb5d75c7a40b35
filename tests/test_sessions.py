"""Server-side sessions end: after an idle limit, after an absolute limit, at
sign-out (wherever the cookie was copied) and when the account is deactivated."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal.auth import sessions
from portal.extensions import db
from portal.models import AuditEvent, User, UserSession
from portal.models.types import utcnow
from tests.conftest import PASSWORD

IDLE = "Your session ended after a period of inactivity."
TIME_LIMIT = "Your session reached its time limit and has ended."


def move_session_back(**ago: timedelta) -> None:
    """Pretend the user's open sessions were created / last seen ``ago``."""
    now = utcnow()
    db.session.execute(update(UserSession).where(UserSession.ended_at.is_(None))
                       .values(**{column: now - delta for column, delta in ago.items()}))
    db.session.commit()


def assert_sent_to_sign_in(client, path: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert message in client.get(response.headers["Location"]).text


def test_session_idle_past_the_limit_ends_even_with_a_valid_cookie(client, make_user, login_as):
    login_as(make_user("client"))
    move_session_back(last_seen_at=timedelta(minutes=31))
    assert_sent_to_sign_in(client, "/", IDLE)
    ended = db.session.scalar(select(UserSession))
    assert ended.ended_at is not None
    assert db.session.scalar(select(AuditEvent.details)
                             .where(AuditEvent.action == "auth.session_expired")) == {
        "reason": "idle"}
    # Ended for good: coming back does not revive it.
    assert client.get("/").status_code == 302


def test_session_within_the_idle_limit_keeps_working(client, make_user, login_as):
    login_as(make_user("client"))
    move_session_back(last_seen_at=timedelta(minutes=29))
    assert client.get("/").status_code == 200
    # The request counts as activity.
    assert utcnow() - db.session.scalar(select(UserSession.last_seen_at)) < timedelta(minutes=1)


def test_idle_limit_follows_the_setting(app, client, make_user, login_as):
    app.config["SESSION_IDLE_TIMEOUT"] = timedelta(minutes=5)
    login_as(make_user("client"))
    move_session_back(last_seen_at=timedelta(minutes=6))
    assert_sent_to_sign_in(client, "/", IDLE)


def test_session_older_than_the_absolute_limit_ends_although_active(client, make_user, login_as):
    login_as(make_user("client"))
    move_session_back(created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(0))
    assert_sent_to_sign_in(client, "/account", TIME_LIMIT)
    assert db.session.scalar(select(UserSession)).ended_at is not None


def test_a_flash_message_re_signing_the_cookie_does_not_extend_the_session(client, make_user,
                                                                          login_as):
    user = make_user("client")
    login_as(user)
    move_session_back(created_at=timedelta(hours=11, minutes=59))
    # Saving the profile flashes a message, so the cookie is signed and sent anew.
    saved = client.submit("/account", {"name": "Ana", "language": "en", "timezone": "UTC"})
    assert saved.status_code == 302 and "Set-Cookie" in saved.headers
    move_session_back(created_at=timedelta(hours=12, minutes=1))
    assert_sent_to_sign_in(client, "/account", TIME_LIMIT)


def test_a_copied_cookie_dies_at_sign_out_while_another_session_stays_open(app, make_user):
    user = make_user("client")
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        assert browser.submit("/login", {"email": user.email, "password": PASSWORD}
                              ).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", laptop.get_cookie("session").value)
    assert thief.get("/").status_code == 200  # the copy works while the session is open
    laptop.submit("/logout")
    assert thief.get("/").status_code == 302
    assert phone.get("/").status_code == 200  # the user's other session is untouched


def test_a_deactivated_user_loses_an_open_session_at_the_next_request(client, make_user,
                                                                      login_as):
    user = make_user("client")
    login_as(user)
    assert client.get("/").status_code == 200
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    # The session store itself refuses it (not only Flask-Login's is_active check).
    with client.session_transaction() as cookie:
        assert sessions.load(str(user.uuid), cookie[sessions.SESSION_KEY]) is None
