"""The firm opens a case (reference, attorney, client and sponsors invited in
one step), edits its details, reassigns it, and manages pending invitations."""
from __future__ import annotations

import html
import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from portal.cases import lifecycle
from portal.cases.references import allocate
from portal.cases.stages import CaseChanged
from portal.extensions import db
from portal.models import (AuditEvent, Case, CaseMembership, Invitation, OutboxMessage,
                           ReferenceCounter, TimelineEvent, User)
from portal.models.case import CaseRole, UrgencyFlag
from portal.models.types import utcnow
from tests.conftest import PASSWORD
from tests.forms import form_values

NEW_PASSWORD = "copper-kettle-winter-garden-3"
YEAR = utcnow().year  # references carry the current UTC year


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def flashes(page: str) -> list[str]:
    return [html.unescape(re.sub(r"\s+", " ", m)) for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>',
                                                        page, re.S)]


def opening(lawyer: User, **changes) -> dict:
    """A filled "Open a case" form: a parole case for Rosa, her daughter as
    client and one sponsor."""
    data = {"case_type": "humanitarian_parole", "title": "Urgent cardiac surgery",
            "beneficiary_name": "Rosa Morales", "beneficiary_country": "VE",
            "flags": ["life_threatening_medical", "family_reunification"],
            "attorney": str(lawyer.uuid),
            "client_name": "Ana Morales", "client_email": "ana@example.org",
            "client_language": "es",
            "sponsors-0-name": "Luis Morales", "sponsors-0-email": "luis@example.org",
            "sponsors-0-language": "es",
            "sponsors-1-name": "", "sponsors-1-email": "", "sponsors-1-language": "en",
            "sponsors-2-name": "", "sponsors-2-email": "", "sponsors-2-language": "en"}
    data.update(changes)
    return data


@pytest.fixture()
def attorney(make_user, login_as):
    lawyer = make_user("attorney", name="Maria Lopez")
    login_as(lawyer)
    return lawyer


def invitation_link(message) -> str:
    (link,) = re.findall(r"https?://\S+", message.get_content())
    return link.replace("http://portal.test", "")


def link_page(app, link: str):
    """What a person opening ``link`` sees."""
    browser = app.test_client()
    browser.get(link)
    return browser.get("/invitation")


# --- references ----------------------------------------------------------------

def test_references_count_per_prefix_and_year_with_four_digits_or_more(app):
    assert [allocate("HP", 2026) for _ in range(3)] == ["HP-2026-0001", "HP-2026-0002",
                                                         "HP-2026-0003"]
    assert allocate("VV", 2026) == "VV-2026-0001"
    assert allocate("HP", 2027) == "HP-2027-0001"
    db.session.commit()
    counter = db.session.get(ReferenceCounter, ("HP", 2026))
    counter.last = 9999
    db.session.commit()
    assert allocate("HP", 2026) == "HP-2026-10000"


def test_a_rolled_back_opening_gives_its_number_back(app):
    allocate("HP", 2026)
    db.session.rollback()
    assert allocate("HP", 2026) == "HP-2026-0001"


def test_numbers_taken_by_hand_are_skipped(app, make_case):
    make_case(reference="HP-2026-0001")
    make_case(reference="HP-2026-0002")
    assert allocate("HP", 2026) == "HP-2026-0003"


def test_cases_opened_at_once_get_distinct_consecutive_references(app, make_user):
    """Eight people press "Open" together, each in a request (an app context
    and database session) of their own."""
    actors = [make_user("attorney").id for _ in range(8)]
    start = threading.Barrier(len(actors))
    results, errors = [], []

    def open_one(n: int, actor_id: int):
        with app.app_context():
            try:
                actor = db.session.get(User, actor_id)
                details = lifecycle.CaseDetails(f"Case {n}", f"Person {n}", "VE", [],
                                                str(actor.uuid))
                client = lifecycle.Invitee(f"Client {n}", f"client{n}@example.org", "en")
                start.wait(timeout=10)
                case = lifecycle.open_case(actor, "humanitarian_parole", details, client)
                results.append(case.reference)
            except Exception as error:  # reported below, with the thread's number
                errors.append(f"{n}: {error!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=open_one, args=(n, actor_id))
               for n, actor_id in enumerate(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [f"HP-{YEAR}-{n:04d}" for n in range(1, 9)]
    assert count(Case) == 8 and db.session.get(ReferenceCounter, ("HP", YEAR)).last == 8


# --- opening a case ---------------------------------------------------------------

def test_attorney_opens_a_case_and_its_client_and_sponsor_are_invited(app, client, attorney,
                                                                      mailbox):
    page = client.get("/cases/new")
    assert page.status_code == 200
    values = form_values(page.text)
    assert values["attorney"] == str(attorney.uuid)  # an attorney opens for themself by default
    response = client.submit("/cases/new", opening(attorney))
    case = db.session.scalar(select(Case))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/cases/{case.uuid}"
    shown = client.get(response.headers["Location"]).text
    assert f"Case HP-{YEAR}-0001 is open." in flashes(shown)[0]
    assert "Urgent cardiac surgery" in shown and "Life-threatening medical" in shown

    assert case.reference == f"HP-{YEAR}-0001" and case.stage == "intake"  # the first step
    assert (case.title, case.beneficiary_name, case.beneficiary_country) == (
        "Urgent cardiac surgery", "Rosa Morales", "VE")
    assert set(case.urgency) == {UrgencyFlag.LIFE_THREATENING_MEDICAL,
                                 UrgencyFlag.FAMILY_REUNIFICATION}
    assert case.assigned_attorney_id == attorney.id
    assert [(m.user_id, m.role) for m in case.memberships] == [(attorney.id, CaseRole.ATTORNEY)]
    invited = {(i.email, i.name, i.case_role, i.language)
               for i in db.session.scalars(select(Invitation))}
    assert invited == {("ana@example.org", "Ana Morales", CaseRole.CLIENT, "es"),
                       ("luis@example.org", "Luis Morales", CaseRole.SPONSOR, "es")}
    (event,) = db.session.scalars(select(TimelineEvent))
    assert event.kind == "case.opened" and event.client_visible
    (opened,) = audits("case.opened")
    assert opened.actor_id == attorney.id and opened.target == str(case.uuid)
    # One email each, the invitation (in Spanish), and nothing about the case in it.
    assert sorted(m["To"] for m in mailbox.messages) == ["ana@example.org", "luis@example.org"]
    for message in mailbox.messages:
        assert message["Subject"] == "Su invitación al portal seguro para clientes"
        for secret in ("cardiac", "Rosa", case.reference):
            assert secret not in message.get_content() and secret not in message["Subject"]

    # The client's link lands them on the case, as its client.
    ana = next(m for m in mailbox.messages if m["To"] == "ana@example.org")
    newcomer = app.test_client()
    newcomer.get(invitation_link(ana))
    done = newcomer.submit("/invitation", {"name": "Ana Morales", "password": NEW_PASSWORD,
                                           "confirm": NEW_PASSWORD})
    assert done.headers["Location"] == f"/cases/{case.uuid}"
    assert "Urgent cardiac surgery" in newcomer.get(done.headers["Location"]).text


def test_an_existing_client_is_added_at_once_and_gets_one_email(client, attorney, make_user,
                                                                mailbox):
    ana = make_user("client", email="ana@example.org", language="es")
    client.submit("/cases/new", opening(attorney, **{"sponsors-0-name": "",
                                                     "sponsors-0-email": ""}))
    case = db.session.scalar(select(Case))
    assert {(m.user_id, m.role) for m in case.memberships} == {
        (attorney.id, CaseRole.ATTORNEY), (ana.id, CaseRole.CLIENT)}
    assert count(Invitation) == 0
    # Told once that a case waits ("added to a case"), not also of the timeline's first event.
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]
    assert count(OutboxMessage) == 1
    assert db.session.scalar(select(OutboxMessage.template)) == "added_to_case"


def test_countries_are_named_in_the_viewers_language_and_sorted(app, client, make_user, login_as):
    login_as(make_user("staff", language="es"))
    page = client.get("/cases/new").text
    select_html = re.search(r'<select[^>]*name="beneficiary_country".*?</select>', page, re.S)[0]
    options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_html)
    codes = [code for code, _name in options if code]
    names = dict(options)
    assert names["DE"] == "Alemania" and names["US"] == "Estados Unidos"
    assert all(len(code) == 2 and code.isalpha() for code in codes)
    assert "EU" not in names and "ZZ" not in names and "UN" not in names
    assert len(codes) > 240
    # Sorted by name as a reader expects: accents do not send a name to the end.
    order = [names[code] for code in codes]
    assert order.index("Alemania") < order.index("Bélgica") < order.index("Brasil")
    assert order.index("Islandia") < order.index("Japón")
    # Staff have no case of their own: nobody is preselected.
    assert form_values(page).get("attorney", "") == ""


@pytest.mark.parametrize("changes, message", [
    ({"beneficiary_country": "XX"}, "Choose the beneficiary's country from the list."),
    ({"attorney": str(uuid.uuid4())}, "Choose one of the firm's attorneys."),
    ({"case_type": "tourist_visa"}, "Choose a type of case."),
    ({"sponsors-0-email": "ANA@example.org"}, "ana@example.org is given twice."),
    ({"sponsors-1-name": "Half a row"}, "Give each sponsor's name and email, or leave the row empty."),
    ({"client_email": "firm@example.org"}, "firm@example.org belongs to a firm account."),
    ({"sponsors-2-email": "not-an-email", "sponsors-2-name": "X"}, "Enter a valid email address."),
    ({"title": ""}, "This field is required."),
])
def test_bad_input_is_refused_with_everything_typed_kept_and_nothing_saved(
        client, attorney, make_user, mailbox, changes, message):
    make_user("staff", email="firm@example.org")
    inactive = make_user("attorney", active=False)
    data = opening(attorney, **changes)
    response = client.submit("/cases/new", data)
    assert response.status_code == 200
    assert message in html.unescape(response.text)
    kept = form_values(response.text)
    for name in ("title", "beneficiary_name", "client_name", "client_email", "sponsors-0-name",
                 "sponsors-0-email", "sponsors-1-name", "sponsors-2-email"):
        assert kept[name] == data[name], name
    assert re.search(r'value="family_reunification" checked', response.text)
    assert count(Case) == 0 and count(Invitation) == 0 and count(OutboxMessage) == 0
    assert count(TimelineEvent) == 0 and audits("case.opened") == []
    assert db.session.scalar(select(func.max(ReferenceCounter.last))) in (None, 0)
    assert mailbox.messages == []
    # The list offers active attorneys only.
    assert str(inactive.uuid) not in response.text


def test_an_inactive_attorney_or_a_client_cannot_be_assigned(client, attorney, make_user):
    for person in (make_user("attorney", active=False), make_user("client")):
        response = client.submit("/cases/new", opening(attorney, attorney=str(person.uuid)))
        assert "Choose one of the firm's attorneys." in html.unescape(response.text)
    assert count(Case) == 0


def test_clients_and_sponsors_cannot_open_a_case(app, make_user, attorney):
    for role in ("client", "sponsor"):
        person = make_user(role)
        browser = app.test_client()
        browser.submit("/login", {"email": person.email, "password": PASSWORD})
        assert browser.get("/cases/new").status_code == 403
        assert browser.submit("/cases/new", opening(attorney)).status_code == 403
        assert "Open a case" not in browser.get("/").text
    assert count(Case) == 0 and count(Invitation) == 0


def test_firm_users_see_the_open_a_case_link(client, attorney):
    assert '<a href="/cases/new">Open a case</a>' in client.get("/").text


def test_staff_opening_for_an_attorney_lands_on_the_case(client, make_user, login_as):
    lawyer = make_user("attorney")
    login_as(make_user("staff"))
    response = client.submit("/cases/new", opening(lawyer))
    case = db.session.scalar(select(Case))
    assert response.headers["Location"] == f"/cases/{case.uuid}"
    assert case.assigned_attorney_id == lawyer.id


def test_attorney_opening_for_a_colleague_is_sent_to_the_dashboard(client, attorney, make_user):
    colleague = make_user("attorney")
    response = client.submit("/cases/new", opening(attorney, attorney=str(colleague.uuid)))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "is open" in flashes(client.get("/").text)[0]


# --- editing details and reassigning --------------------------------------------------

@pytest.fixture()
def case(make_case, attorney, make_user):
    return make_case(attorney=attorney, client=make_user("client"), title="Heart surgery",
                     beneficiary_name="Rosa Morales", beneficiary_country="VE",
                     flags=[UrgencyFlag.URGENT_HUMANITARIAN])


def test_edit_page_shows_the_case_as_it_is(client, case):
    page = client.get(f"/cases/{case.uuid}")
    assert f'href="/cases/{case.uuid}/edit"' in page.text
    values = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    assert (values["title"], values["beneficiary_name"], values["beneficiary_country"],
            values["flags"], values["version"]) == (
        "Heart surgery", "Rosa Morales", "VE", "urgent_humanitarian", str(case.version))
    assert values["attorney"] == str(case.assigned_attorney.uuid)


def test_edit_saves_details_and_audits_field_names_not_values(client, case, mailbox):
    before_version = case.version
    values = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    values.update(title="Cardiac surgery, second opinion", beneficiary_country="CO",
                  flags=["child_under_16"])
    response = client.submit(f"/cases/{case.uuid}/edit", values)
    assert response.status_code == 303 and response.headers["Location"] == f"/cases/{case.uuid}"
    assert "The case details were saved." in flashes(client.get(response.headers["Location"]).text)
    db.session.refresh(case)
    assert (case.title, case.beneficiary_country, case.urgency) == (
        "Cardiac surgery, second opinion", "CO", [UrgencyFlag.CHILD_UNDER_16])
    assert case.version == before_version + 1
    (updated,) = audits("case.updated")
    assert updated.details["fields"] == ["title", "beneficiary_country", "flags"]
    assert "Cardiac" not in str(updated.details) and "CO" not in str(updated.details)
    # The firm's business: nothing on the client's timeline, no email.
    assert count(TimelineEvent) == 0 and mailbox.messages == [] and audits("case.reassigned") == []


def test_saving_unchanged_details_changes_nothing(client, case):
    version = case.version
    values = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    response = client.submit(f"/cases/{case.uuid}/edit", values)
    assert "Nothing was changed." in flashes(client.get(response.headers["Location"]).text)
    db.session.expire_all()
    assert audits("case.updated") == [] and db.session.get(Case, case.id).version == version


def test_reassigning_makes_the_new_attorney_a_member_and_is_audited(app, client, case, attorney,
                                                                   make_user):
    colleague = make_user("attorney")
    values = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    values.update(attorney=str(colleague.uuid), handover_reason="Parental leave")
    client.submit(f"/cases/{case.uuid}/edit", values)
    db.session.refresh(case)
    assert case.assigned_attorney_id == colleague.id
    assert db.session.scalar(select(CaseMembership.role).where(
        CaseMembership.case_id == case.id, CaseMembership.user_id == colleague.id)) is CaseRole.ATTORNEY
    (reassigned,) = audits("case.reassigned")
    assert reassigned.details == {"from_user": str(attorney.uuid), "to_user": str(colleague.uuid),
                                  "previous_kept": False, "reason": "Parental leave"}
    assert audits("case.updated") == []  # no detail changed
    browser = app.test_client()
    browser.submit("/login", {"email": colleague.email, "password": PASSWORD})
    assert browser.get(f"/cases/{case.uuid}").status_code == 200


def test_a_stale_form_is_refused_and_nothing_saved(client, case):
    stale = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    first = dict(stale, title="Changed by someone else")
    client.submit(f"/cases/{case.uuid}/edit", first)
    response = client.submit(f"/cases/{case.uuid}/edit", dict(stale, title="My change"))
    assert response.status_code == 303 and response.headers["Location"] == f"/cases/{case.uuid}/edit"
    page = client.get(response.headers["Location"]).text
    assert "Someone else changed this case while you were working on it." in page
    assert form_values(page)["title"] == "Changed by someone else"  # the case as it is now
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Changed by someone else"
    assert len(audits("case.updated")) == 1


def test_a_change_racing_past_the_version_check_is_refused_by_the_database(app, case, attorney):
    """Both requests loaded version 1; the other one committed first. The
    flags live in another table, yet the case row's version still decides."""
    seen = case.version
    with db.engine.begin() as conn:  # the other request's commit
        conn.execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id})
    details = lifecycle.CaseDetails(case.title, case.beneficiary_name, "VE",
                                    ["urgent_humanitarian", "disability"], str(attorney.uuid))
    with pytest.raises(CaseChanged):
        lifecycle.edit_case(attorney, case, seen, details)
    db.session.expire_all()
    assert [f.flag for f in db.session.get(Case, case.id).flags] == [UrgencyFlag.URGENT_HUMANITARIAN]
    assert audits("case.updated") == []


def test_bad_details_are_refused_with_the_form_kept(client, case):
    values = form_values(client.get(f"/cases/{case.uuid}/edit").text)
    values.update(title="New title", beneficiary_country="XX")
    response = client.submit(f"/cases/{case.uuid}/edit", values)
    assert response.status_code == 200
    assert "Choose the beneficiary's country from the list." in html.unescape(response.text)
    assert form_values(response.text)["title"] == "New title"
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Heart surgery" and audits("case.updated") == []


def test_clients_and_sponsors_cannot_edit(app, make_user, case):
    sponsor = make_user("sponsor")
    db.session.add(CaseMembership(case=case, user=sponsor, role=CaseRole.SPONSOR))
    db.session.commit()
    client_user = next(m.user for m in case.memberships if m.role is CaseRole.CLIENT)
    for person in (client_user, sponsor):
        browser = app.test_client()
        browser.submit("/login", {"email": person.email, "password": PASSWORD})
        assert browser.get(f"/cases/{case.uuid}/edit").status_code == 403
        assert browser.submit(f"/cases/{case.uuid}/edit",
                              {"version": case.version, "title": "X"}).status_code == 403
        assert "/edit" not in browser.get(f"/cases/{case.uuid}").text
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Heart surgery"


# --- pending invitations ----------------------------------------------------------

def invite(client, case, email="new.person@example.org", role="sponsor", language="ru",
           name="New Person"):
    return client.submit(f"/cases/{case.uuid}/invite", {"name": name, "email": email,
                                                        "case_role": role, "language": language})


def test_pending_invitations_are_listed_for_the_firm_only(app, client, case, make_user):
    invite(client, case)
    invite(client, case, email="late@example.org", name="Late Person", role="client")
    late = db.session.scalar(select(Invitation).where(Invitation.email == "late@example.org"))
    late.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page = client.get(f"/cases/{case.uuid}").text
    panel = page[page.index('id="pending-heading"'):]
    assert "New Person" in panel and "new.person@example.org" in panel and "Sponsor" in panel
    assert "waiting since" in panel
    late_row = panel[panel.index("Late Person"):]
    assert late_row.index("expired") < late_row.index("</li>")
    for invitation in db.session.scalars(select(Invitation)):
        assert f"/invitations/{invitation.uuid}/resend" in panel
        assert f"/invitations/{invitation.uuid}/revoke" in panel

    client_user = next(m.user for m in case.memberships if m.role is CaseRole.CLIENT)
    browser = app.test_client()
    browser.submit("/login", {"email": client_user.email, "password": PASSWORD})
    member_page = browser.get(f"/cases/{case.uuid}").text
    assert "new.person@example.org" not in member_page and "/resend" not in member_page


def test_resend_emails_a_new_link_and_the_old_one_stops_working(app, client, case, mailbox):
    invite(client, case)
    old_link = invitation_link(mailbox.messages[-1])
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(minutes=1)  # expired: a resend renews it
    db.session.commit()
    response = client.submit(f"/cases/{case.uuid}/invitations/{invitation.uuid}/resend")
    assert response.status_code == 303
    assert ("A new invitation to new.person@example.org is on its way. The earlier link no "
            "longer works.") in flashes(client.get(f"/cases/{case.uuid}").text)
    new_link = invitation_link(mailbox.messages[-1])
    assert new_link != old_link
    assert mailbox.messages[-1]["To"] == "new.person@example.org"
    # In the invitation's language (Russian), as first sent.
    assert mailbox.messages[-1]["Subject"] == "Ваше приглашение в защищённый портал для клиентов"
    pending = db.session.scalars(select(Invitation).where(Invitation.voided_at.is_(None))).all()
    assert len(pending) == 1 and pending[0].expires_at > utcnow()
    assert (pending[0].name, pending[0].case_role, pending[0].language) == (
        "New Person", CaseRole.SPONSOR, "ru")
    assert link_page(app, old_link).status_code == 410
    assert link_page(app, new_link).status_code == 200
    (resent,) = audits("invitation.resent")
    assert resent.target == "new.person@example.org"


def test_revoked_link_shows_the_expired_page_and_the_person_is_no_longer_listed(
        app, client, case, mailbox):
    invite(client, case)
    link = invitation_link(mailbox.messages[-1])
    invitation = db.session.scalar(select(Invitation))
    response = client.submit(f"/cases/{case.uuid}/invitations/{invitation.uuid}/revoke")
    assert response.status_code == 303
    page = client.get(f"/cases/{case.uuid}").text
    assert ("The invitation to new.person@example.org was withdrawn. Its link no longer works."
            in flashes(page))
    assert 'id="pending-heading"' not in page
    refused = link_page(app, link)  # in the invitation's language (Russian)
    assert refused.status_code == 410 and "истёк, или она уже была использована" in refused.text
    assert len(audits("invitation.revoked")) == 1
    # Revoking or resending it again is refused, and nothing is sent.
    sent = len(mailbox.messages)
    client.submit(f"/cases/{case.uuid}/invitations/{invitation.uuid}/resend")
    assert "already accepted or withdrawn" in client.get(f"/cases/{case.uuid}").text
    assert len(mailbox.messages) == sent and count(Invitation) == 1


def test_an_invitation_of_another_case_is_not_found(client, case, make_case, attorney, mailbox):
    other = make_case(attorney=attorney)
    invite(client, other)
    invitation = db.session.scalar(select(Invitation))
    sent = len(mailbox.messages)
    for action in ("resend", "revoke"):
        response = client.submit(f"/cases/{case.uuid}/invitations/{invitation.uuid}/{action}")
        assert response.status_code == 404
    db.session.refresh(invitation)
    assert invitation.voided_at is None and len(mailbox.messages) == sent
    assert count(Invitation) == 1 and len(audits("invitation.access_denied")) == 2


def test_clients_cannot_resend_or_revoke(app, client, case, mailbox):
    invite(client, case)
    invitation = db.session.scalar(select(Invitation))
    client_user = next(m.user for m in case.memberships if m.role is CaseRole.CLIENT)
    browser = app.test_client()
    browser.submit("/login", {"email": client_user.email, "password": PASSWORD})
    for action in ("resend", "revoke"):
        assert browser.submit(
            f"/cases/{case.uuid}/invitations/{invitation.uuid}/{action}").status_code == 403
    db.session.refresh(invitation)
    assert invitation.voided_at is None and count(Invitation) == 1


def test_inviting_a_pending_email_again_resends(app, client, case, mailbox):
    invite(client, case)
    old_link = invitation_link(mailbox.messages[-1])
    response = invite(client, case, email="NEW.person@example.org", language="en")
    assert response.status_code == 302
    assert ("A new invitation to NEW.person@example.org is on its way. The earlier link no "
            "longer works.") in flashes(client.get(f"/cases/{case.uuid}").text)
    pending = db.session.scalars(select(Invitation).where(Invitation.voided_at.is_(None))).all()
    assert len(pending) == 1 and pending[0].language == "en"  # as typed the second time
    assert link_page(app, old_link).status_code == 410
    assert link_page(app, invitation_link(mailbox.messages[-1])).status_code == 200
    assert len(audits("invitation.created")) == 1 and len(audits("invitation.resent")) == 1


def test_resending_to_someone_who_has_an_account_since_adds_them(client, case, make_user,
                                                                 mailbox):
    invite(client, case)
    invitation = db.session.scalar(select(Invitation))
    person = make_user("sponsor", email="new.person@example.org")
    client.submit(f"/cases/{case.uuid}/invitations/{invitation.uuid}/resend")
    assert db.session.scalar(select(CaseMembership.role).where(
        CaseMembership.user_id == person.id)) is CaseRole.SPONSOR
    db.session.refresh(invitation)
    assert invitation.voided_at is not None  # the link would only have said "sign in"
    assert mailbox.messages[-1]["To"] == "new.person@example.org"


# --- the demo ---------------------------------------------------------------------

def test_a_case_opened_after_the_demo_seed_follows_its_references(runner, client, login_as):
    runner.invoke(args=["seed-demo"])
    references = set(db.session.scalars(select(Case.reference)))
    assert references == {f"HP-{YEAR}-0001", f"HP-{YEAR}-0002", f"HP-{YEAR}-0003",
                          f"HP-{YEAR}-0004", f"HP-{YEAR}-0005", f"VV-{YEAR}-0001"}
    # The counters know them (not only the unique backstop).
    assert db.session.get(ReferenceCounter, ("HP", YEAR)).last == 5
    assert db.session.get(ReferenceCounter, ("VV", YEAR)).last == 1
    maria = db.session.scalar(select(User).where(User.email == "attorney@demo.example"))
    login_as(maria, "harbor-lantern-violet-42")
    client.submit("/cases/new", opening(maria, client_email="someone.new@example.org"))
    assert f"HP-{YEAR}-0006" in set(db.session.scalars(select(Case.reference)))


def test_the_invitation_lookup_itself_refuses_who_may_not_manage_the_case(
        app, client, case, attorney, make_user):
    """The rule holds in the lookup, not only in the routes that call it."""
    from werkzeug.exceptions import NotFound

    from portal.cases.permissions import get_invitation_or_404
    invite(client, case)
    invitation = db.session.scalar(select(Invitation))
    client_user = make_user("client")
    with app.test_request_context():
        assert get_invitation_or_404(case, invitation.uuid, attorney) == invitation
        with pytest.raises(NotFound):
            get_invitation_or_404(case, invitation.uuid, client_user)
