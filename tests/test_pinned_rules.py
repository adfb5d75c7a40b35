"""Rules the code holds that no other test pinned (issue 17, item 2): each
test here fails when its rule is removed or loosened by a one-line change.
Message notices at most once per person and thread per quarter hour; a
receipt number of exactly three letters and ten digits; and services that
refuse on their own, whoever calls them (not only through the form)."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal.cases import invitations, stages
from portal.errors import ServiceError
from portal.evidence import services as evidence
from portal.extensions import db
from portal.models import (AuditEvent, Case, Invitation, Message, ObjectState, OutboxMessage,
                           StoredObject, TimelineEvent, VersionStatus)
from portal.models.case import CaseRole
from portal.uscis import receipts
from tests.conftest import PASSWORD
from tests.uploads import PDF, flashes, upload, versions


@pytest.fixture()
def people(make_user, make_case):
    lawyer, client_user, sponsor = make_user("attorney"), make_user("client"), make_user("sponsor")
    case = make_case(attorney=lawyer, client=client_user, sponsors=[sponsor], stage="filed")
    return dict(lawyer=lawyer, client=client_user, sponsor=sponsor, case=case,
                outsider=make_user("attorney"))


def browser(app, user):
    """A test client of its own, signed in as ``user`` through the real form."""
    session = app.test_client()
    assert session.submit("/login", {"email": user.email,
                                     "password": PASSWORD}).status_code == 302
    return session


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def actions(prefix: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like(f"{prefix}%"))))


def fresh(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


# --- 3. one message notice per person and thread per quarter hour ------------------

def test_message_notices_go_once_per_quarter_hour_not_per_five_nor_per_thirty_minutes(
        app, people, mailbox, monkeypatch):
    """Posts at 0, +10, +14 and +16 minutes: the attorney hears of the first and
    the last only. A window of 5 (or anything up to 14) minutes sends a second
    notice at +10 or +14; one of 30 (or more than 16) sends none at +16."""
    start = datetime.now(timezone.utc)
    clock = [start]
    monkeypatch.setattr("portal.messages.services.utcnow", lambda: clock[0])
    as_client = browser(app, people["client"])
    url = f"/cases/{people['case'].uuid}/messages"

    def post_at(minutes: int) -> list[str]:
        clock[0] = start + timedelta(minutes=minutes)
        page = as_client.get(url).text
        key = re.search(r'name="client_key" type="hidden" value="([^"]+)"', page).group(1)
        response = as_client.submit(url, {"body": f"At +{minutes} minutes.", "client_key": key})
        assert response.status_code in (302, 303), response.status_code
        return [m["To"] for m in mailbox.messages]

    lawyer = people["lawyer"].email
    assert post_at(0) == [lawyer]
    assert post_at(10) == [lawyer]  # within the quarter hour: no second notice
    assert post_at(14) == [lawyer]
    assert post_at(16) == [lawyer, lawyer]  # a quarter hour after the first: a second one
    assert count(Message) == 4  # every message was stored, notified or not


# --- 4. a receipt number: three letters and exactly ten digits ---------------------

NINE_DIGITS, TEN_DIGITS, ELEVEN_DIGITS = "IOE091234567", "IOE0912345678", "IOE09123456789"


@pytest.mark.parametrize("number, well_formed", [
    (TEN_DIGITS, True),
    (NINE_DIGITS, False),  # the likeliest typo: a digit left out
    (ELEVEN_DIGITS, False),  # one digit too many (a prefix match would take it)
    ("EAC26123456789", False),
    ("IO0912345678", False),  # two letters
    ("IOEX0912345678", False),  # four letters
])
def test_a_receipt_number_has_exactly_three_letters_and_ten_digits(number, well_formed):
    assert receipts.is_well_formed(number) is well_formed


@pytest.mark.parametrize("typed", [NINE_DIGITS, "IOE-091-234-567", ELEVEN_DIGITS])
def test_a_receipt_number_of_nine_or_eleven_digits_is_refused_and_nothing_saved(
        client, login_as, people, typed):
    case = people["case"]
    version = case.version
    login_as(people["lawyer"])
    response = client.submit(f"/cases/{case.uuid}/uscis/receipt",
                             {"version": version, "receipt_number": typed}, follow_redirects=True)
    told = [html.unescape(text) for text in flashes(response.text)]
    assert told == ["A USCIS receipt number is three letters and ten digits, for example "
                    "IOE0912345678. Please check the receipt notice."]
    case = fresh(case)
    assert case.receipt_number is None and case.version == version
    assert count(TimelineEvent) == 0 and actions("uscis.") == []


# --- 5. services refuse on their own, whoever calls them ---------------------------

@pytest.fixture()
def uploaded(app, people):
    """A file the client uploaded to the case (stored for real in S3)."""
    response = upload(browser(app, people["client"]), f"/cases/{people['case'].uuid}/documents",
                      [("passport.pdf", [PDF])])
    assert response.status_code == 303
    (version,) = versions()
    return version


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_purge_called_directly_without_a_reason_is_refused_and_deletes_nothing(
        app, make_user, people, uploaded, reason):
    with pytest.raises(ServiceError, match="Please give the reason for purging."):
        evidence.purge(make_user("admin"), people["case"], uploaded, reason)
    db.session.rollback()
    version = db.session.get(type(uploaded), uploaded.id)
    assert version.status is VersionStatus.AVAILABLE and version.status_reason in (None, "")
    assert db.session.get(StoredObject, version.stored_object.id).state is not ObjectState.DELETED
    keys = [o.key for o in app.extensions["storage"].list_objects("cases/")]
    assert keys == [version.storage_key]
    assert actions("document.purged") == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_close_and_reopen_called_directly_without_a_reason_are_refused(people, reason):
    case, lawyer = people["case"], people["lawyer"]
    with pytest.raises(ServiceError, match="Say why the case is closed."):
        stages.close_case(lawyer, case, case.version, reason, "We closed your case.")
    case = fresh(case)
    assert (case.closed_on, case.stage) == (None, "filed")
    assert count(TimelineEvent) == 0 and actions("case.") == []

    stages.close_case(lawyer, case, case.version, "Client withdrew.")
    version = fresh(case).version
    with pytest.raises(ServiceError, match="Say why the case is reopened."):
        stages.reopen_case(lawyer, fresh(case), version, reason, "Welcome back.")
    case = fresh(case)
    assert case.closed_on is not None and case.stage == "closed" and case.version == version
    assert actions("case.") == ["case.closed"] and count(TimelineEvent) == 1


def nobody_invited() -> None:
    db.session.rollback()
    assert count(Invitation) == 0 and count(OutboxMessage) == 0
    assert actions("invitation.") == [] and actions("case.member_added") == []


@pytest.mark.parametrize("who", ["outsider", "client", "sponsor"])
def test_inviting_to_a_case_one_may_not_manage_is_refused_by_the_service(people, who):
    case = people["case"]
    with pytest.raises(ServiceError, match="You do not have permission to do that."):
        invitations.invite_to_case(people[who], case, "new.person@example.org", "New Person",
                                   CaseRole.SPONSOR, "en")
    nobody_invited()
    assert len(fresh(case).memberships) == 3


@pytest.mark.parametrize("who", ["outsider", "client", "sponsor"])
@pytest.mark.parametrize("act", ["resend_invitation", "revoke_invitation"])
def test_resending_or_revoking_an_invitation_one_may_not_manage_is_refused(people, who, act):
    case = people["case"]
    invitations.invite_to_case(people["lawyer"], case, "new.person@example.org", "New Person",
                               CaseRole.SPONSOR, "en")
    (invitation,) = db.session.scalars(select(Invitation)).all()
    mails = count(OutboxMessage)
    with pytest.raises(ServiceError, match="You do not have permission to do that."):
        getattr(invitations, act)(people[who], case, invitation)
    db.session.rollback()
    (still,) = db.session.scalars(select(Invitation)).all()
    assert still.id == invitation.id and still.voided_at is None and still.used_at is None
    assert count(OutboxMessage) == mails
    assert actions("invitation.") == ["invitation.created"]


@pytest.mark.parametrize("act", ["resend_invitation", "revoke_invitation"])
def test_an_invitation_of_another_case_is_refused_under_a_case_one_manages(
        people, make_case, act):
    """The lawyer manages both cases; the invitation is the other case's."""
    case, lawyer = people["case"], people["lawyer"]
    other = make_case(attorney=lawyer)
    invitations.invite_to_case(lawyer, other, "new.person@example.org", "New Person",
                               CaseRole.SPONSOR, "en")
    (invitation,) = db.session.scalars(select(Invitation)).all()
    with pytest.raises(ServiceError, match="You do not have permission to do that."):
        getattr(invitations, act)(lawyer, case, invitation)
    db.session.rollback()
    (still,) = db.session.scalars(select(Invitation)).all()
    assert still.voided_at is None and still.case_id == other.id
    assert actions("invitation.") == ["invitation.created"]
