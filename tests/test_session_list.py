"""Signed-in devices: the list of one's open sessions, ending one or all the
others (a copied cookie dies with them), the admins' view of anyone's, and
the email sent when a browser new to the account signs in."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from sqlalchemy import select, update

from portal.auth import session_list
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, UserSession
from portal.models.types import utcnow
from tests.conftest import PASSWORD

CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
END_FORM = re.compile(r'action="/account/sessions/([0-9a-f]{32})/end"')


def browser(app, user, agent: str = FIREFOX_LINUX, address: str = "198.51.100.7"):
    """A new test client with its own user agent and address, signed in as ``user``."""
    c = app.test_client()
    c.environ_base.update(HTTP_USER_AGENT=agent, REMOTE_ADDR=address)
    assert c.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return c


def thief_of(app, victim):
    """A second client holding a copy of ``victim``'s cookie jar."""
    thief = app.test_client()
    thief.set_cookie("session", victim.get_cookie("session").value)
    return thief


def signed_out(c) -> bool:
    response = c.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def actions(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == name)
                                   .order_by(AuditEvent.id)))


def page(c, url: str = "/account/sessions") -> str:
    response = c.get(url)
    assert response.status_code == 200
    return html.unescape(response.text)


# --- naming the browser ------------------------------------------------------------

@pytest.mark.parametrize("agent, label", [
    (CHROME_ANDROID, "Chrome 131 on Android"),
    (FIREFOX_LINUX, "Firefox 128 on Linux"),
    (SAFARI_IPHONE, "Safari 17 on iOS"),
    ("", "Unknown browser"),
    (None, "Unknown browser"),
    ("no browser here", "Unknown browser"),
    # Anyone can set a user agent: a name copied out of one is shown only if short and
    # plain (it goes into emails too).
    ("Your account is locked call 5550100 now Bot/1.0", "Unknown browser"),
])
def test_the_browser_and_system_are_named_from_the_user_agent(app, agent, label):
    with app.test_request_context():
        assert session_list.describe(agent).label() == label


# --- the person's own list -------------------------------------------------------

def test_the_list_names_each_browser_its_address_and_marks_this_one(app, make_user):
    user = make_user("client")
    phone = browser(app, user, CHROME_ANDROID, "203.0.113.9")
    laptop = browser(app, user, FIREFOX_LINUX, "198.51.100.7")
    text = page(laptop)
    assert "Chrome 131 on Android" in text and "203.0.113.9" in text
    assert "Firefox 128 on Linux" in text and "198.51.100.7" in text
    assert text.count("This browser") == 1
    # This browser is marked, and only the other one has an End button.
    firefox_card = text.split("Firefox 128 on Linux", 1)[1].split("</li>", 1)[0]
    assert "This browser" in firefox_card and "/end" not in firefox_card
    assert len(END_FORM.findall(text)) == 1
    assert "End all other sessions" in text
    assert "This browser" in page(phone).split("Chrome 131 on Android", 1)[1].split("</li>")[0]


def test_an_unknown_user_agent_is_listed_as_unknown_browser(app, make_user):
    c = browser(app, make_user("client"), agent="")
    assert "Unknown browser" in page(c)


def test_dates_are_shown_in_the_viewers_time_zone(app, make_user):
    user = make_user("client", timezone="Asia/Tokyo")
    c = browser(app, user)
    signed_in = (utcnow() - timedelta(hours=3)).replace(microsecond=0)
    db.session.execute(update(UserSession).values(created_at=signed_in))
    db.session.commit()
    text = page(c)
    tokyo = format_datetime(signed_in, "medium", tzinfo=ZoneInfo("Asia/Tokyo"), locale="en")
    in_utc = format_datetime(signed_in, "medium", tzinfo=ZoneInfo("UTC"), locale="en")
    assert tokyo in text and in_utc not in text


def test_ended_and_expired_sessions_are_not_listed(app, make_user):
    user = make_user("client")
    c = browser(app, user, FIREFOX_LINUX)
    browser(app, user, CHROME_ANDROID).submit("/logout")
    browser(app, user, SAFARI_IPHONE)
    db.session.execute(update(UserSession)
                       .where(UserSession.user_agent == SAFARI_IPHONE)
                       .values(last_seen_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    text = page(c)
    assert "Firefox 128 on Linux" in text
    assert "Chrome 131" not in text and "Safari 17" not in text
    assert END_FORM.findall(text) == []
    assert "End all other sessions" not in text


def test_the_settings_page_links_to_signed_in_devices(app, make_user):
    c = browser(app, make_user("sponsor"))
    assert 'href="/account/sessions"' in c.get("/account").text


# --- ending sessions -----------------------------------------------------------------

def test_ending_a_session_kills_it_and_its_copied_cookie(app, make_user):
    user = make_user("client")
    phone = browser(app, user, CHROME_ANDROID)
    laptop = browser(app, user, FIREFOX_LINUX)
    thief = thief_of(app, phone)
    assert thief.get("/").status_code == 200  # the copy works while the session is open
    (phone_id,) = END_FORM.findall(page(laptop))
    response = laptop.submit(f"/account/sessions/{phone_id}/end")
    assert response.status_code == 303
    assert signed_out(thief) and signed_out(phone)
    assert 'name="password"' in thief.get("/", follow_redirects=True).text  # the sign-in page
    assert not signed_out(laptop)
    assert "Chrome 131" not in page(laptop)
    (event,) = actions("auth.session_ended")
    assert (event.actor_id, event.target) == (user.id, str(user.uuid))
    assert event.details == {"session": phone_id, "by_admin": False}


def test_ending_all_other_sessions_keeps_this_browser(app, make_user):
    user = make_user("attorney")
    others = [browser(app, user, CHROME_ANDROID), browser(app, user, SAFARI_IPHONE)]
    copies = [thief_of(app, other) for other in others]
    laptop = browser(app, user, FIREFOX_LINUX)
    bystander = browser(app, make_user("attorney"))
    assert laptop.submit("/account/sessions/end-others").status_code == 303
    assert "2 other sessions have ended." in page(laptop)
    assert all(signed_out(c) for c in others + copies)
    assert not signed_out(laptop) and not signed_out(bystander)
    (event,) = actions("auth.other_sessions_ended")
    assert (event.actor_id, event.target, event.details) == (user.id, str(user.uuid),
                                                             {"count": 2})


def test_a_person_cannot_end_another_persons_session_by_its_id(app, make_user):
    owner, stranger = make_user("client"), make_user("client")
    owner_browser = browser(app, owner)
    owner_id = session_list.public_id(db.session.scalar(select(UserSession)))
    other = browser(app, stranger)
    assert other.submit(f"/account/sessions/{owner_id}/end").status_code == 404
    assert other.submit("/account/sessions/not-an-id/end").status_code == 404
    assert not signed_out(owner_browser)
    assert actions("auth.session_ended") == []


def test_this_browser_is_signed_out_with_sign_out_not_ended_from_the_list(app, make_user):
    user = make_user("client")
    c = browser(app, user)
    own_id = session_list.public_id(db.session.scalar(select(UserSession)))
    response = c.submit(f"/account/sessions/{own_id}/end", follow_redirects=True)
    assert "This is the browser you are using now" in html.unescape(response.text)
    assert not signed_out(c)


def test_only_the_owner_or_an_admin_may_end_a_session(app, make_user):
    owner, attorney, admin = make_user("client"), make_user("attorney"), make_user("admin")
    browser(app, owner)
    owner_id = session_list.public_id(db.session.scalar(select(UserSession)))
    with app.test_request_context():
        with pytest.raises(ServiceError):
            session_list.end_session(attorney, owner, owner_id)
        with pytest.raises(ServiceError):
            session_list.end_all_sessions(attorney, owner)
        with pytest.raises(ServiceError):
            session_list.end_all_sessions(owner, owner)  # not from the admin page's service
        session_list.end_session(admin, owner, owner_id)
    assert db.session.scalar(select(UserSession.ended_at)) is not None


# --- the admins' view ------------------------------------------------------------------

def test_an_admin_sees_and_ends_anyones_sessions(app, make_user):
    client_user, admin_user = make_user("client"), make_user("admin")
    phone = browser(app, client_user, CHROME_ANDROID)
    laptop = browser(app, client_user, FIREFOX_LINUX)
    copy = thief_of(app, phone)
    admin = browser(app, admin_user)
    accounts = page(admin, "/admin/users")
    assert f'href="/admin/users/{client_user.uuid}/sessions"' in accounts
    text = page(admin, f"/admin/users/{client_user.uuid}/sessions")
    assert "Chrome 131 on Android" in text and "Firefox 128 on Linux" in text
    assert "This browser" not in text  # none of them is the admin's
    phone_card = text.split("Chrome 131 on Android", 1)[1]
    phone_id = re.search(rf'action="/admin/users/{client_user.uuid}/sessions/([0-9a-f]{{32}})/end"',
                         phone_card).group(1)
    assert admin.submit(f"/admin/users/{client_user.uuid}/sessions/{phone_id}/end"
                        ).status_code == 303
    assert signed_out(phone) and signed_out(copy) and not signed_out(laptop)
    (ended,) = actions("auth.session_ended")
    assert (ended.actor_id, ended.target) == (admin_user.id, str(client_user.uuid))
    assert ended.details == {"session": phone_id, "by_admin": True}

    assert admin.submit(f"/admin/users/{client_user.uuid}/sessions/end-all").status_code == 303
    assert signed_out(laptop) and not signed_out(admin)
    (all_ended,) = actions("auth.all_sessions_ended")
    assert (all_ended.actor_id, all_ended.target, all_ended.details) == (
        admin_user.id, str(client_user.uuid), {"count": 1})


def test_an_admin_cannot_end_a_session_of_someone_else_through_another_persons_page(
        app, make_user):
    first, second = make_user("client"), make_user("client")
    browser(app, first)
    first_id = session_list.public_id(db.session.scalar(select(UserSession)))
    admin = browser(app, make_user("admin"))
    assert admin.submit(f"/admin/users/{second.uuid}/sessions/{first_id}/end"
                        ).status_code == 404
    assert db.session.scalar(select(UserSession.ended_at)
                             .where(UserSession.user_id == first.id)) is None


@pytest.mark.parametrize("role", ["client", "sponsor", "attorney", "staff"])
def test_only_admins_reach_anyones_sessions(app, make_user, role):
    target = make_user("client")
    victim = browser(app, target)
    target_id = session_list.public_id(db.session.scalar(select(UserSession)))
    c = browser(app, make_user(role))
    base = f"/admin/users/{target.uuid}/sessions"
    assert c.get(base).status_code == 403
    assert c.submit(f"{base}/{target_id}/end").status_code == 403
    assert c.submit(f"{base}/end-all").status_code == 403
    assert not signed_out(victim)


# --- the new-browser email --------------------------------------------------------------

@pytest.fixture()
def notices(app, mailbox):
    """The new-browser email switched on (the test settings keep it off)."""
    app.config["NEW_BROWSER_EMAIL"] = True
    return mailbox


def test_a_new_browser_gets_one_email_and_a_known_browser_none(app, make_user, make_case,
                                                               notices):
    user = make_user("client", name="Ana Pérez")
    case = make_case(client=user, title="Kidney transplant for Luis")
    c = browser(app, user, CHROME_ANDROID, "203.0.113.9")
    (message,) = notices.messages
    assert message["To"] == user.email
    body = message.get_content()
    assert "Chrome 131 on Android" in body
    assert "http://portal.test/forgot-password" in body and app.config["FIRM_NAME"] in body
    # Content-free: no case, no address.
    for secret in (case.reference, case.title, case.beneficiary_name, "203.0.113.9"):
        assert secret not in body and secret not in message["Subject"]
    c.submit("/logout")
    assert c.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    assert len(notices.messages) == 1  # this browser holds the account's known-device cookie
    browser(app, user, FIREFOX_LINUX)
    assert len(notices.messages) == 2  # another fresh browser is new again


def test_a_browser_known_for_another_account_is_new_for_this_one(app, make_user, notices):
    first, second = make_user("client"), make_user("client")
    c = browser(app, first)
    c.submit("/logout")
    assert c.submit("/login", {"email": second.email, "password": PASSWORD}).status_code == 302
    assert [m["To"] for m in notices.messages] == [first.email, second.email]


def test_the_new_browser_email_speaks_the_persons_language_and_time_zone(app, make_user,
                                                                         notices):
    user = make_user("client", language="es", timezone="America/Caracas")
    browser(app, user, SAFARI_IPHONE)
    (message,) = notices.messages
    body = message.get_content()
    assert body.startswith("Hola,")
    month = format_datetime(utcnow(), "MMMM", tzinfo=ZoneInfo("America/Caracas"), locale="es")
    assert month in body and "(hora de Venezuela)" in body and "Safari 17" in body
    assert db.session.scalar(select(OutboxMessage.language)) == "es"


def test_a_failed_sign_in_sends_no_email(app, make_user, notices):
    user = make_user("client")
    c = app.test_client()
    assert c.submit("/login", {"email": user.email, "password": "wrong-wrong-wrong"}
                    ).status_code == 200
    assert notices.messages == []


def test_an_account_made_from_an_invitation_is_not_announced_as_a_new_browser(
        app, make_user, make_case, notices):
    attorney = make_user("attorney")
    case = make_case(attorney=attorney)
    firm = browser(app, attorney)
    notices.messages.clear()
    firm.submit(f"/cases/{case.uuid}/invite", {"name": "Ana", "email": "ana@example.org",
                                                "case_role": "client", "language": "en"})
    (invitation,) = notices.messages
    newcomer = app.test_client()
    newcomer.get(notices.links(invitation)[0].replace("http://portal.test", ""))
    done = newcomer.submit("/invitation", {"name": "Ana", "password": "a long new passphrase 7",
                                           "confirm": "a long new passphrase 7"})
    assert done.status_code == 302
    assert [m["To"] for m in notices.messages] == ["ana@example.org"]  # the invitation alone
