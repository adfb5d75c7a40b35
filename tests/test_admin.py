"""Firm accounts: the admin page and the ``flask create-user`` command."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Invitation, Role, User


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
