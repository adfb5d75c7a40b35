"""Inviting clients and sponsors to a case, and accepting the emailed link."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.cases import invitations
from portal.dev.embedded_s3 import free_port
from portal.extensions import db
from portal.models import CaseMembership, Invitation, OutboxMessage, OutboxState, User
from portal.models.types import utcnow
from portal.outbox import services as outbox
from tests.conftest import PASSWORD

NEW_PASSWORD = "copper-kettle-winter-garden-3"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def attorney_case(make_user, make_case, login_as):
    attorney = make_user("attorney")
    case = make_case(attorney=attorney, title="Urgent cardiac surgery",
                     beneficiary_name="Rosa Morales")
    login_as(attorney)
    return attorney, case


def invite(client, case, email="new.person@example.org", role="client", language="es"):
    return client.submit(f"/cases/{case.uuid}/invite",
                         {"name": "New Person", "email": email, "case_role": role,
                          "language": language})


def invitation_link(mailbox) -> str:
    (link,) = mailbox.links(mailbox.messages[-1])
    return link.replace("http://portal.test", "")


def test_attorney_invites_a_new_client_who_sets_a_password_and_lands_on_the_case(
        app, client, attorney_case, mailbox):
    _, case = attorney_case
    response = invite(client, case)
    assert response.status_code == 302, response.text
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["To"] == "new.person@example.org"
    body = message.get_content()
    # The email says nothing about the case.
    for secret in (case.title, case.beneficiary_name, case.reference, "parole"):
        assert secret.lower() not in body.lower() and secret.lower() not in message["Subject"].lower()
    # Written in the language the attorney chose for the invitee (Spanish),
    # not the attorney's. (Not "portal in body": every body holds the link.)
    assert message["Subject"] == "Su invitación al portal seguro para clientes"
    assert body.startswith("Hola,") and "Hello" not in body
    link = invitation_link(mailbox)
    assert link.startswith("/invitation/")  # on BASE_URL, nowhere else

    newcomer = app.test_client()
    opened = newcomer.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/invitation"
    form = newcomer.get("/invitation")
    assert "new.person@example.org" in form.text
    done = newcomer.submit("/invitation", {"name": "Nueva Persona", "password": NEW_PASSWORD,
                                           "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == f"/cases/{case.uuid}"
    assert newcomer.get(done.headers["Location"]).status_code == 200
    user = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
    assert user.role.value == "client" and user.language == "es" and user.name == "Nueva Persona"
    assert db.session.scalar(select(CaseMembership).where(CaseMembership.user_id == user.id)).case_id == case.id


def test_invitation_token_is_stored_hashed_only(client, attorney_case, mailbox):
    invite(client, attorney_case[1])
    token = invitation_link(mailbox).rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, url-safe base64
    stored = db.session.scalar(select(Invitation))
    assert token not in (stored.token_hash, stored.email) and len(stored.token_hash) == 64


def test_used_link_cannot_be_used_again(app, client, attorney_case, mailbox):
    invite(client, attorney_case[1], language="en")  # its pages speak its language
    link = invitation_link(mailbox)
    first = app.test_client()
    first.get(link)
    first.submit("/invitation", {"name": "A", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    second = app.test_client()
    second.get(link)
    response = second.get("/invitation")
    assert response.status_code == 410
    assert "expired or was already used" in response.text
    assert count(User) == 2  # the attorney and the one accepted account


def test_expired_link_is_refused_and_creates_nothing(app, client, attorney_case, mailbox):
    invite(client, attorney_case[1])
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    stranger = app.test_client()
    stranger.get(invitation_link(mailbox))
    response = stranger.submit("/invitation", {"name": "A", "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    assert count(User) == 1


def test_newer_invitation_voids_the_older_link(app, client, attorney_case, mailbox):
    invite(client, attorney_case[1])
    old_link = invitation_link(mailbox)
    invite(client, attorney_case[1])
    new_link = invitation_link(mailbox)
    assert old_link != new_link
    old = app.test_client()
    old.get(old_link)
    assert old.get("/invitation").status_code == 410
    new = app.test_client()
    new.get(new_link)
    assert new.get("/invitation").status_code == 200


def test_made_up_link_is_not_found(app):
    stranger = app.test_client()
    stranger.get("/invitation/made-up-token")
    response = stranger.get("/invitation")
    assert response.status_code == 404
    assert "not valid" in response.text


def test_signed_in_user_cannot_accept_someone_elses_invitation(app, client, attorney_case, mailbox,
                                                               make_user):
    invite(client, attorney_case[1])
    link = invitation_link(mailbox)
    other = make_user("client")
    browser = app.test_client()
    browser.submit("/login", {"email": other.email, "password": PASSWORD})
    browser.get(link)
    response = browser.submit("/invitation", {"name": "A", "password": NEW_PASSWORD,
                                              "confirm": NEW_PASSWORD})
    assert response.status_code == 403
    assert db.session.scalar(select(Invitation)).used_at is None


def test_weak_password_is_refused_and_the_link_stays_usable(app, client, attorney_case, mailbox):
    invite(client, attorney_case[1], language="en")  # its pages speak its language
    browser = app.test_client()
    browser.get(invitation_link(mailbox))
    for weak in ("short1!", "password1234"):
        response = browser.submit("/invitation", {"name": "A", "password": weak, "confirm": weak})
        assert response.status_code == 200
        assert "at least 12 characters" in response.text or "too easy to guess" in response.text
    assert count(User) == 1
    assert db.session.scalar(select(Invitation)).used_at is None


def test_existing_client_is_added_at_once_and_told_without_case_content(
        client, attorney_case, make_user, mailbox):
    _, case = attorney_case
    existing = make_user("client", email="ana@example.org")
    response = invite(client, case, email="ANA@example.org", role="sponsor")
    assert response.status_code == 302
    assert count(Invitation) == 0
    membership = db.session.scalar(select(CaseMembership).where(CaseMembership.user_id == existing.id))
    assert membership.role.value == "sponsor"
    body = mailbox.messages[-1].get_content()
    assert case.title not in body and case.reference not in body


def test_inviting_someone_already_in_the_case_changes_nothing(client, attorney_case, make_user,
                                                              mailbox):
    _, case = attorney_case
    existing = make_user("client")
    invite(client, case, email=existing.email)
    response = invite(client, case, email=existing.email)
    assert response.status_code == 200
    assert "already part of the case" in response.text
    assert count(CaseMembership) == 2


def test_firm_email_cannot_be_invited_as_client(client, attorney_case, make_user):
    staff = make_user("staff")
    response = invite(client, attorney_case[1], email=staff.email)
    assert "belongs to a firm account" in response.text
    assert count(CaseMembership) == 1


def test_broken_invite_form_shows_errors_and_sends_nothing(client, attorney_case, mailbox):
    response = client.submit(f"/cases/{attorney_case[1].uuid}/invite",
                             {"name": "", "email": "not-an-email", "case_role": "attorney"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.text
    assert mailbox.messages == [] and count(Invitation) == 0


def test_mail_server_down_saves_the_invitation_and_mails_it_once_when_back(
        app, client, attorney_case, mailbox, smtp_server):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    response = invite(client, attorney_case[1])
    assert response.status_code == 302  # saved: the mail waits in the outbox
    assert count(Invitation) == 1 and mailbox.messages == []
    message = db.session.scalar(select(OutboxMessage))
    assert message.state is OutboxState.RETRY and "Connection refused" in message.last_error

    app.config["MAIL_PORT"] = smtp_server.port
    outbox.sweep(now=utcnow() + timedelta(minutes=2))  # its retry time has come
    outbox.sweep(now=utcnow() + timedelta(minutes=20))  # nothing left to send
    assert [m["To"] for m in mailbox.messages] == ["new.person@example.org"]
    stranger = app.test_client()
    assert stranger.get(invitation_link(mailbox)).status_code == 303


def test_client_cannot_invite(app, make_user, make_case):
    member = make_user("client")
    case = make_case(client=member)
    browser = app.test_client()
    browser.submit("/login", {"email": member.email, "password": PASSWORD})
    response = browser.submit(f"/cases/{case.uuid}/invite",
                              {"name": "X", "email": "x@example.org", "case_role": "sponsor",
                               "language": "en"})
    assert response.status_code == 403
    assert count(Invitation) == 0


# --- what the firm is told of the email, and one pending invitation per email --------

def pending_line(page: str) -> str:
    """The People panel's line of the pending invitation, as read."""
    line = page.split('class="people pending-invitations"')[1].split("</li>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(line)).split())


def test_the_people_panel_says_whether_the_invitation_email_went_out(
        app, client, attorney_case, mailbox, smtp_server):
    _, case = attorney_case
    app.config["MAIL_PORT"] = free_port()  # the mail server is down
    response = invite(client, case)
    page = client.get(response.headers["Location"]).text
    assert ("The invitation to new.person@example.org is on its way. The People panel shows "
            "when it has gone out.") in html.unescape(page)
    assert "email on its way" in pending_line(page)

    db.session.execute(update(OutboxMessage).values(state=OutboxState.FAILED))
    db.session.commit()
    assert ("the email could not be delivered: resend it or check the address"
            in pending_line(client.get(f"/cases/{case.uuid}").text))

    app.config["MAIL_PORT"] = smtp_server.port
    client.submit(f"/cases/{case.uuid}/invitations/"
                  f"{db.session.scalar(select(Invitation.uuid))}/resend")
    assert "email sent" in pending_line(client.get(f"/cases/{case.uuid}").text)
    assert [m["To"] for m in mailbox.messages] == ["new.person@example.org"]


def test_the_database_holds_one_pending_invitation_per_email_and_case(
        app, client, attorney_case, mailbox, monkeypatch):
    """Two people inviting the same address at the same moment: each voided
    nothing (there was nothing yet), and the second is told, not failed."""
    _, case = attorney_case
    invite(client, case)
    monkeypatch.setattr(invitations, "_void_pending", lambda email, case: 0)  # the race
    response = invite(client, case)
    page = html.unescape(client.get(response.headers.get("Location", f"/cases/{case.uuid}")).text
                         if response.status_code == 302 else response.text)
    assert ("Someone else invited this person to the case at the same moment. Nothing more was "
            "sent: the People panel shows the invitation.") in page
    assert count(Invitation) == 1 and len(mailbox.messages) == 1
