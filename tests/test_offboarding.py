"""Offboarding: an admin deactivates a person (every session ends, the
calendar link dies, pending invitations and reset links are voided, their
work keeps their name) and may reactivate them; an attorney still assigned
to open cases is held back until the cases have another attorney."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.admin import accounts
from portal.cases import lifecycle
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, Invitation, PasswordReset, Role, User
from portal.models.case import CaseRole
from portal.models.types import utcnow
from tests.conftest import PASSWORD
from tests.messages import post_thread
from tests.test_agenda import create_link
from tests.test_session_list import browser, signed_out, thief_of
from tests.uploads import PDF, upload


def actions(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == name)
                                   .order_by(AuditEvent.id)))


def deactivate(admin_client, user: User, reason: str = ""):
    return admin_client.submit(f"/admin/users/{user.uuid}/deactivate", {"reason": reason})


def reactivate(admin_client, user: User):
    return admin_client.submit(f"/admin/users/{user.uuid}/reactivate")


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


@pytest.fixture()
def admin(app, make_user):
    """An admin's signed-in browser (the admin is ``admin.user``)."""
    user = make_user("admin")
    c = browser(app, user)
    c.user = user
    return c


# --- deactivating ----------------------------------------------------------------

def test_deactivation_ends_every_session_and_copied_cookies_die(app, make_user, admin):
    person = make_user("client")
    phone, laptop = browser(app, person), browser(app, person)
    copy = thief_of(app, phone)
    assert not signed_out(copy)
    bystander = browser(app, make_user("client"))
    response = deactivate(admin, person, "Left the firm's care")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert all(signed_out(c) for c in (phone, laptop, copy))
    assert 'name="password"' in copy.get("/", follow_redirects=True).text  # the sign-in page
    assert not signed_out(bystander) and not signed_out(admin)
    assert fresh(person).active is False
    # The password no longer opens the account.
    again = app.test_client().submit("/login", {"email": person.email, "password": PASSWORD})
    assert again.status_code == 200 and "The email or password is not correct." in again.text
    (event,) = actions("account.deactivated")
    assert (event.actor_id, event.target) == (admin.user.id, str(person.uuid))
    assert event.details["reason"] == "Left the firm's care"
    # Ended, not only refused while inactive: letting them back in revives no old cookie.
    assert reactivate(admin, person).status_code == 303
    assert all(signed_out(c) for c in (phone, laptop, copy))


def test_a_deactivated_persons_calendar_link_is_dead_and_stays_dead_after_reactivation(
        app, make_user, admin):
    staff = make_user("staff")
    path = create_link(browser(app, staff))
    reader = app.test_client()
    assert reader.get(path).status_code == 200
    dead = reader.get("/calendar/not-a-real-token.ics")
    assert deactivate(admin, staff).status_code == 303
    response = reader.get(path)
    assert (response.status_code, response.text) == (404, dead.text)
    assert actions("account.deactivated")[0].details["feed_deleted"] is True
    assert reactivate(admin, staff).status_code == 303
    assert reader.get(path).status_code == 404  # a new link is needed


def test_deactivation_voids_pending_invitations_and_open_reset_links(app, make_user,
                                                                     make_case, admin,
                                                                     mailbox):
    person = make_user("client")
    other_case = make_case()
    pending = Invitation(token_hash="1" * 64, email=person.email, name=person.name,
                         role=Role.CLIENT, case=other_case, case_role=CaseRole.CLIENT,
                         invited_by=other_case.assigned_attorney,
                         expires_at=utcnow() + timedelta(days=7))
    someone_else = Invitation(token_hash="2" * 64, email="else@example.org", name="Else",
                              role=Role.CLIENT, case=other_case, case_role=CaseRole.CLIENT,
                              invited_by=other_case.assigned_attorney,
                              expires_at=utcnow() + timedelta(days=7))
    db.session.add_all([pending, someone_else])
    db.session.commit()
    assert admin.submit(f"/admin/users/{person.uuid}/password-reset").status_code == 303
    (link,) = mailbox.links(mailbox.messages[-1])

    assert deactivate(admin, person).status_code == 303
    assert reactivate(admin, person).status_code == 303  # nothing voided comes back
    db.session.expire_all()
    assert pending.voided_at is not None and someone_else.voided_at is None
    assert db.session.scalar(select(PasswordReset.voided_at)) is not None
    reader = app.test_client()
    reader.get(link.replace("http://portal.test", ""))
    assert reader.get("/reset").status_code == 410
    details = actions("account.deactivated")[0].details
    assert (details["invitations_voided"], details["reset_links_voided"]) == (1, 1)


def test_a_deactivated_persons_work_keeps_their_name(app, make_user, make_case, admin):
    lawyer = make_user("attorney")
    person = make_user("client", name="Marisol Quintero")
    case = make_case(attorney=lawyer, client=person)
    c = browser(app, person)
    post_thread(c, f"/cases/{case.uuid}/messages", "Here is the hospital letter.")
    upload(c, f"/cases/{case.uuid}/documents", [("letter.pdf", [PDF])])
    assert deactivate(admin, person).status_code == 303

    firm = browser(app, lawyer)
    thread = html.unescape(firm.get(f"/cases/{case.uuid}/messages").text)
    message = thread.split('<p class="meta">', 1)[1].split("</li>", 1)[0]
    assert "<strong>Marisol Quintero</strong>" in message
    assert "Here is the hospital letter." in message
    documents = html.unescape(firm.get(f"/cases/{case.uuid}/documents").text)
    assert "letter.pdf" in documents and "uploaded by Marisol Quintero" in documents


# --- who may be deactivated -----------------------------------------------------------

def test_an_attorney_on_open_cases_is_held_back_until_they_are_reassigned(app, make_user,
                                                                         make_case, admin):
    lawyer, successor = make_user("attorney"), make_user("attorney")
    first = make_case(attorney=lawyer, client=make_user("client", name="Rosa Medina"))
    second = make_case(attorney=lawyer, client=make_user("client", name="Ivan Petrov"))
    closed = make_case(attorney=lawyer, closed_on=utcnow().date())
    lawyer_browser = browser(app, lawyer)

    confirm = admin.get(f"/admin/users/{lawyer.uuid}/deactivate")
    text = html.unescape(confirm.text)
    for case, client_name in ((first, "Rosa Medina"), (second, "Ivan Petrov")):
        assert f'<a href="/cases/{case.uuid}/edit">{case.reference}, client {client_name}</a>' \
            in text
    assert closed.reference not in text and 'name="reason"' not in text

    refused = deactivate(admin, lawyer)
    assert refused.status_code == 409 and first.reference in refused.text
    assert fresh(lawyer).active is True and not signed_out(lawyer_browser)
    assert actions("account.deactivated") == []

    admin_user = db.session.get(User, admin.user.id)
    for case in (first, second):
        lifecycle.edit_case(admin_user, case, None, lifecycle.CaseDetails(
            case.title, case.beneficiary_name, case.beneficiary_country, [],
            str(successor.uuid)), lifecycle.Handover(reason="Leaving the firm"))
    assert 'name="reason"' in admin.get(f"/admin/users/{lawyer.uuid}/deactivate").text
    assert deactivate(admin, lawyer).status_code == 303
    assert signed_out(lawyer_browser)


def test_an_admin_cannot_deactivate_themself(app, admin):
    page = admin.get("/admin/users").text
    assert f"/admin/users/{admin.user.uuid}/deactivate" not in page
    response = deactivate(admin, admin.user)
    assert response.status_code == 303
    assert "You cannot deactivate" in html.unescape(admin.get("/admin/users").text)
    assert fresh(admin.user).active is True and not signed_out(admin)
    assert actions("account.deactivated") == []


def test_the_services_refuse_non_admins_and_repeats(app, make_user):
    admin_user, attorney, person = make_user("admin"), make_user("attorney"), make_user("client")
    with app.test_request_context():
        with pytest.raises(ServiceError):
            accounts.deactivate(attorney, person)
        with pytest.raises(ServiceError):
            accounts.deactivate(admin_user, person, "x" * 501)
        accounts.deactivate(admin_user, person)
        with pytest.raises(ServiceError):
            accounts.deactivate(admin_user, person)  # already deactivated
        with pytest.raises(ServiceError):
            accounts.reactivate(attorney, person)
        accounts.reactivate(admin_user, person)
        with pytest.raises(ServiceError):
            accounts.reactivate(admin_user, person)  # already active
    assert len(actions("account.deactivated")) == len(actions("account.reactivated")) == 1


# --- reactivating, and the accounts list ------------------------------------------------

def test_reactivation_lets_the_person_sign_in_again_and_is_audited(app, make_user, admin):
    person = make_user("sponsor")
    deactivate(admin, person, "Asked to pause")
    response = admin.submit(f"/admin/users/{person.uuid}/reactivate", {"reason": "Back"})
    assert response.status_code == 303
    assert fresh(person).active is True
    browser(app, person)  # signs in with their password
    (event,) = actions("account.reactivated")
    assert (event.actor_id, event.target, event.details) == (admin.user.id, str(person.uuid),
                                                            {"reason": "Back"})


def test_the_accounts_list_shows_the_state_and_the_right_button(app, make_user, admin):
    active, gone = make_user("staff"), make_user("client")
    deactivate(admin, gone)
    page = admin.get("/admin/users").text
    active_row = page.split(active.email, 1)[1].split("</tr>", 1)[0]
    gone_row = page.split(gone.email, 1)[1].split("</tr>", 1)[0]
    assert "Active" in active_row and f"/admin/users/{active.uuid}/deactivate" in active_row
    assert "/reactivate" not in active_row
    assert "Deactivated" in gone_row and f"/admin/users/{gone.uuid}/reactivate" in gone_row
    assert "/deactivate" not in gone_row


@pytest.mark.parametrize("role", ["client", "sponsor", "attorney", "staff"])
def test_only_admins_deactivate_or_reactivate(app, make_user, role):
    target = make_user("client")
    c = browser(app, make_user(role))
    assert c.get(f"/admin/users/{target.uuid}/deactivate").status_code == 403
    assert deactivate(c, target).status_code == 403
    assert fresh(target).active is True
    target.active = False
    db.session.commit()
    assert reactivate(c, target).status_code == 403
    assert fresh(target).active is False
