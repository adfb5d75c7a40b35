"""Firm accounts: the admin page and the ``flask create-user`` command."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.auth import reset
from portal.dev.embedded_s3 import free_port
from portal.errors import ServiceError
from portal.questionnaires import services as questionnaires
from portal.extensions import db
from portal.models import (AuditEvent, DocumentRequest, DocumentVersion, Invitation, OutboxMessage,
                           PasswordReset, RequestState, Role, User)
from tests.conftest import PASSWORD


def test_admin_invites_an_attorney_who_signs_up(app, client, login_as, make_user, mailbox):
    login_as(make_user("admin"))
    response = client.submit("/admin/users/new", {"name": "New Lawyer", "email": "lawyer@firm.org",
                                                  "role": "attorney", "language": "en"})
    assert response.status_code == 302
    (link,) = mailbox.links(mailbox.messages[-1])
    newcomer = app.test_client()
    newcomer.get(link.replace("http://portal.test", ""))
    done = newcomer.submit("/invitation", {"name": "New Lawyer", "password": "brass-heron-autumn-9x",
                                           "confirm": "brass-heron-autumn-9x"})
    assert done.headers["Location"] == "/"
    user = db.session.scalar(select(User).where(User.email == "lawyer@firm.org"))
    assert user.role is Role.ATTORNEY


def test_email_already_in_use_is_refused(client, login_as, make_user, mailbox):
    login_as(make_user("admin"))
    taken = make_user("client")
    response = client.submit("/admin/users/new", {"name": "X", "email": taken.email,
                                                  "role": "staff", "language": "en"})
    assert response.status_code == 200
    assert "already exists" in response.text
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    assert mailbox.messages == []


def test_admin_sees_the_account_list(client, login_as, make_user):
    admin = make_user("admin")
    login_as(admin)
    page = client.get("/admin/users").text
    assert admin.email in page


def test_cli_creates_the_first_admin(runner):
    result = runner.invoke(args=["create-user", "--email", "Boss@Firm.org", "--name", "Boss",
                                 "--password", "granite-falcon-meadow-21"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "boss@firm.org"))
    assert user.role is Role.ADMIN and user.password_hash.startswith("$argon2id$")


def test_cli_refuses_weak_password_and_duplicates(runner, make_user):
    weak = runner.invoke(args=["create-user", "--email", "a@firm.org", "--name", "A",
                               "--password", "password"])
    assert weak.exit_code != 0 and "at least 12" in weak.output
    taken = make_user("staff")
    dup = runner.invoke(args=["create-user", "--email", taken.email, "--name", "A",
                              "--password", "granite-falcon-meadow-21"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_seed_demo_creates_the_demo_firm_once(runner):
    first = runner.invoke(args=["seed-demo"])
    assert "Demo firm created." in first.output and "attorney@demo.example" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert "already present" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 9
    # A newcomer sees the request workflow at once: one request in every state,
    # the answered ones with real files in the store; the seed sends no mail.
    states = set(db.session.scalars(select(DocumentRequest.state)))
    assert states == set(RequestState) - {RequestState.DECLINED}  # nobody refused to sign
    # The first case's intake: the questionnaire half answered, the letter waiting to be signed.
    questionnaire = db.session.scalar(select(DocumentRequest).where(
        DocumentRequest.kind == "questionnaire"))
    done = questionnaires.read(questionnaires.response_of(questionnaire))["done"]
    assert questionnaire.state is RequestState.REQUESTED and len(done) == 3
    letter = db.session.scalar(select(DocumentRequest).where(DocumentRequest.kind == "signature"))
    assert letter.state is RequestState.REQUESTED and letter.sign_version.downloadable
    answered = db.session.scalars(select(DocumentVersion).where(
        DocumentVersion.request_id.is_not(None))).all()
    assert len(answered) == 3 and all(v.downloadable for v in answered)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- password reset links sent by an admin --------------------------------------

def test_admin_sends_a_client_a_reset_link_that_works(app, client, login_as, make_user,
                                                     mailbox):
    admin, user = make_user("admin"), make_user("client")
    login_as(admin)
    page = client.get("/admin/users").text
    assert f'action="/admin/users/{user.uuid}/password-reset"' in page
    assert f'action="/admin/users/{admin.uuid}/password-reset"' not in page  # admins: self-service
    response = client.submit(f"/admin/users/{user.uuid}/password-reset")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert f"was sent to {user.email}" in client.get("/admin/users").text
    (message,) = mailbox.messages
    assert message["To"] == user.email and f"{app.config['FIRM_NAME']} sent you this link" in message.get_content()
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "auth.password_reset_requested"))
    assert event.actor_id == admin.id and event.target == str(user.uuid)
    assert db.session.scalar(select(PasswordReset.requested_by_id)) == admin.id

    (link,) = mailbox.links(message)
    person = app.test_client()
    person.get(link.replace("http://portal.test", ""))
    new = "saffron-glacier-tandem-violin-8"
    assert person.submit("/reset", {"password": new, "confirm": new}).status_code == 302
    assert person.submit("/login", {"email": user.email, "password": new}).status_code == 302


def test_only_admins_may_send_reset_links(app, make_user, mailbox):
    target = make_user("client")
    for role in ("staff", "attorney", "client", "sponsor"):
        browser = app.test_client()
        browser.submit("/login", {"email": make_user(role).email, "password": PASSWORD})
        assert browser.submit(f"/admin/users/{target.uuid}/password-reset").status_code == 403
    assert mailbox.messages == []
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_no_reset_link_for_admin_or_deactivated_accounts(client, login_as, make_user, mailbox):
    login_as(make_user("admin"))
    other_admin, gone = make_user("admin"), make_user("sponsor", active=False)
    client.submit(f"/admin/users/{other_admin.uuid}/password-reset")
    assert "reset their own password from the sign-in page" in client.get("/admin/users").text
    client.submit(f"/admin/users/{gone.uuid}/password-reset")
    assert "deactivated, so no link was sent" in client.get("/admin/users").text
    assert mailbox.messages == []
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_reset_link_for_an_unknown_account_is_404(client, login_as, make_user):
    login_as(make_user("admin"))
    assert client.submit("/admin/users/7d5a1b7e-0000-4000-8000-000000000000/password-reset"
                         ).status_code == 404


def test_a_reset_link_sent_while_mail_is_down_waits_in_the_outbox(app, client, login_as,
                                                                 make_user, mailbox):
    login_as(make_user("admin"))
    user = make_user("client")
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    client.submit(f"/admin/users/{user.uuid}/password-reset")
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 1
    page = client.get("/admin/outbox").text
    assert user.email in page and "Will be tried again" in page and mailbox.messages == []


def test_the_reset_link_service_itself_refuses_non_admins(make_user):
    with pytest.raises(ServiceError):
        reset.send_reset_link(make_user("staff"), make_user("client"))
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 0
