"""Every endpoint × every role has a decided outcome.

The matrix is generated from ``app.url_map``: an endpoint added without an
entry in EXPECTED fails the suite, so nobody ships a route whose access was
never decided.
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from portal import create_app, notify
from portal.auth import session_list
from portal.dev import demo
from portal.messages import export_files, services as messages
from portal.questionnaires import services as questionnaires
from portal.questionnaires.definitions import get_questionnaire
from portal.signing import services as signing
from portal.requests import services as requests
from portal.extensions import db
from portal.models import DocumentVersion, OutboxMessage, OutboxState, Role
from portal.models import CaseDeadline, DeadlineKind, ExpediteRequest
from portal.models import DocumentRequest, Invitation, Message, MessageThread, ResumableUpload, UserSession
from portal.models import ThreadExport
from portal.models.case import CaseRole, UrgencyFlag
from portal.models.request import QUESTIONNAIRE, SIGNATURE
from portal.models.types import utcnow
from tests.conftest import PASSWORD, PortalClient
from tests.jobs import queued_jobs
from tests.uploads import real_pdf, upload

ROLES = ("anonymous", "client", "sponsor", "attorney", "other_attorney", "staff", "admin")
SIGNED_IN = ROLES[1:]
LOGIN = 302  # redirected to the sign-in page


def outcome(anonymous=LOGIN, **per_role) -> dict[str, int]:
    """Expected status for each role; ``default`` fills roles not named."""
    default = per_role.pop("default", None)
    result = {"anonymous": anonymous}
    result.update({role: per_role.get(role, default) for role in SIGNED_IN})
    return result


EXPECTED = {
    ("health.healthz", "GET"): outcome(200, default=200),
    ("health.livez", "GET"): outcome(200, default=200),
    # Prometheus metrics: only for a bearer token, never a session; off (404) without
    # PORTAL_METRICS_TOKEN, as here (tests/test_metrics.py tries the token).
    ("metrics.show_metrics", "GET"): outcome(404, default=404),
    # The firm's logo and privacy notice: public, the same for everyone.
    ("firm.show_logo", "GET"): outcome(200, default=200),
    ("firm.show_privacy", "GET"): outcome(200, default=200),
    ("auth.login", "GET"): outcome(200, default=302),  # signed-in users go to their dashboard
    ("auth.login", "POST"): outcome(200, default=302),  # empty form: re-shown with errors
    ("auth.set_language", "POST"): outcome(302, default=302),
    ("auth.logout", "POST"): outcome(default=302),
    ("auth.open_invitation", "GET"): outcome(303, default=303),
    ("auth.accept_invitation", "GET"): outcome(404, default=404),  # no invitation in session
    ("auth.accept_invitation", "POST"): outcome(404, default=404),
    # Signed-in users change their password on the account page instead.
    ("auth.request_password_reset", "GET"): outcome(200, default=302),
    ("auth.request_password_reset", "POST"): outcome(200, default=302),  # empty form re-shown
    ("auth.open_password_reset", "GET"): outcome(303, default=303),
    ("auth.reset_password", "GET"): outcome(404, default=404),  # no real link in the session
    ("auth.reset_password", "POST"): outcome(404, default=404),
    ("auth.change_password", "POST"): outcome(default=200),  # empty form re-shown with errors
    ("auth.edit_profile", "GET"): outcome(default=200),
    ("auth.edit_profile", "POST"): outcome(default=302),  # fields left out keep their values
    # Second factors. The code step without a right password first: back to sign-in.
    ("auth.second_factor", "GET"): outcome(302, default=302),
    ("auth.second_factor", "POST"): outcome(302, default=302),
    ("auth.passkey_sign_in_options", "POST"): outcome(401, default=401),
    ("auth.passkey_sign_in", "POST"): outcome(401, default=401),
    ("auth.security", "GET"): outcome(default=200),
    ("auth.setup_app", "GET"): outcome(default=200),
    ("auth.setup_app", "POST"): outcome(default=200),  # no code: re-shown with the error
    ("auth.remove_app", "POST"): outcome(default=303),
    ("auth.recovery_codes", "GET"): outcome(default=302),  # none just made: the security page
    ("auth.download_recovery_codes", "GET"): outcome(default=302),
    ("auth.recovery_codes_saved", "POST"): outcome(default=303),
    ("auth.regenerate_recovery_codes", "POST"): outcome(default=303),  # no factor: refused
    ("auth.reauthenticate", "GET"): outcome(default=200),
    ("auth.reauthenticate", "POST"): outcome(default=200),
    ("auth.passkey_options", "POST"): outcome(default=200),
    ("auth.add_passkey", "POST"): outcome(default=400),  # no answer to a challenge
    ("auth.remove_passkey", "POST"): outcome(default=404),  # nobody's passkey
    ("auth.passkey_confirm_options", "POST"): outcome(default=200),
    ("auth.passkey_confirm", "POST"): outcome(default=400),
    ("auth.change_email", "GET"): outcome(default=200),
    ("auth.change_email", "POST"): outcome(default=200),  # no address: re-shown with the error
    # The client has no second factor: refused, the accounts page says so.
    ("admin.reset_second_factor", "POST"): outcome(default=403, admin=303),
    # Everyone's own signed-in devices. The session named in the URL is the client's other
    # one (the uploader's): the client ends it; for anyone else it is not theirs, a 404.
    ("auth.list_sessions", "GET"): outcome(default=200),
    ("auth.end_session", "POST"): outcome(default=404, client=303),
    ("auth.end_other_sessions", "POST"): outcome(default=303),
    ("cases.dashboard", "GET"): outcome(default=200),
    ("cases.show_case", "GET"): outcome(default=200, other_attorney=404),
    ("cases.invite_member", "GET"): outcome(client=403, sponsor=403, attorney=200,
                                            other_attorney=404, staff=200, admin=200),
    ("cases.invite_member", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                             other_attorney=404, staff=200, admin=200),
    # Running the case is the firm's: posted empty, the case page is shown again (200) with
    # the form's errors beside its fields; a valid change redirects (303).
    ("cases.move_stage", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                          other_attorney=404, staff=200, admin=200),
    ("cases.close_case", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                          other_attorney=404, staff=200, admin=200),
    # The case team: posted empty, the case page is shown again with the form's errors.
    ("cases.add_team_member", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                               other_attorney=404, staff=200, admin=200),
    ("cases.remove_team_member", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                                  other_attorney=404, staff=200, admin=200),
    ("cases.add_note", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                        other_attorney=404, staff=303, admin=303),
    # Opening a case is the firm's; posted empty, the form is re-shown with its errors.
    ("cases.open_case", "GET"): outcome(default=200, client=403, sponsor=403),
    ("cases.open_case", "POST"): outcome(default=200, client=403, sponsor=403),
    ("cases.edit_case", "GET"): outcome(client=403, sponsor=403, attorney=200,
                                        other_attorney=404, staff=200, admin=200),
    ("cases.edit_case", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                         other_attorney=404, staff=200, admin=200),
    # The case's pending invitation; once resent (routes run in order) the revoke of the
    # old one is refused with a message on the case page.
    ("cases.resend_invitation", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                                 other_attorney=404, staff=303, admin=303),
    ("cases.revoke_invitation", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                                 other_attorney=404, staff=303, admin=303),
    ("evidence.list_documents", "GET"): outcome(default=200, other_attorney=404),
    # The client's document: not the sponsor's to see.
    ("evidence.show_document", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    # Posted without a multipart body: refused once the case is found.
    ("evidence.upload_documents", "POST"): outcome(default=400, other_attorney=404),
    ("evidence.upload_version", "POST"): outcome(default=400, sponsor=404, other_attorney=404),
    ("evidence.download_version", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    # Posted without the confirmation: nothing withdrawn, the document page says why.
    ("evidence.withdraw_version", "POST"): outcome(default=303, sponsor=404, other_attorney=404),
    ("evidence.purge_version", "POST"): outcome(default=403, sponsor=404,
                                                other_attorney=404,
                                                # no reason given: nothing purged, the
                                                # document page shown again with the error
                                                admin=200),
    # A version's virus check: whoever sees the version. Asking for a new copy of a quarantined
    # file is the attorney team's (this one is not quarantined: the page says so); releasing
    # one the scanner could not check is an admin's (no reason given: nothing released).
    ("scanning.scan_state", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    ("scanning.ask_for_new_upload", "POST"): outcome(default=303, client=403, sponsor=404,
                                                     other_attorney=404),
    ("scanning.release", "POST"): outcome(default=403, sponsor=404, other_attorney=404,
                                          admin=303),
    # A version's preview: whoever sees the version.
    ("previews.show_preview", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    ("previews.preview_page", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    # The request is addressed to the client; the firm reviews, the client answers, the
    # sponsor may not see it. An empty form: the case page shown again with its errors.
    ("requests.create_request", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                                 other_attorney=404, staff=200, admin=200),
    # Posted without a multipart body: refused once the request is found and the
    # poster may answer it; the firm does not upload in the person's name.
    ("requests.upload_to_request", "POST"): outcome(default=403, client=400, sponsor=404,
                                                    other_attorney=404),
    # The page to answer the request: the same people as the upload it posts to.
    ("requests.answer_request", "GET"): outcome(default=403, client=200, sponsor=404,
                                                other_attorney=404),
    ("requests.decide_request", "POST"): outcome(client=403, sponsor=404, attorney=200,
                                                 other_attorney=404, staff=200, admin=200),
    # The proposed checklist; posted empty, nothing is selected and the form is re-shown.
    ("requests.send_checklist", "GET"): outcome(client=403, sponsor=403, attorney=200,
                                                other_attorney=404, staff=200, admin=200),
    ("requests.send_checklist", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                                 other_attorney=404, staff=200, admin=200),
    # The firm's queue across its cases; clients and sponsors must not learn it exists.
    ("requests.review_queue", "GET"): outcome(default=200, client=404, sponsor=404),
    # Questionnaires: the firm sends and reads; only the person asked (the client here)
    # answers; a sponsor does not learn the client's exists; posted empty, a form is
    # shown again with its errors.
    ("questionnaires.send_questionnaire", "POST"): outcome(client=403, sponsor=403,
                                                           attorney=200, other_attorney=404,
                                                           staff=200, admin=200),
    # Where the person left off; the firm goes on to its reading of the answers.
    ("questionnaires.start", "GET"): outcome(default=302, sponsor=404, other_attorney=404),
    ("questionnaires.section", "GET"): outcome(default=403, client=200, sponsor=404,
                                               other_attorney=404),
    ("questionnaires.section", "POST"): outcome(default=403, client=400, sponsor=404,
                                                other_attorney=404),
    ("questionnaires.summary", "GET"): outcome(default=403, client=200, sponsor=404,
                                               other_attorney=404),
    ("questionnaires.summary", "POST"): outcome(default=403, client=200, sponsor=404,
                                                other_attorney=404),
    ("questionnaires.answers", "GET"): outcome(default=200, client=403, sponsor=404,
                                               other_attorney=404),
    ("questionnaires.answers", "POST"): outcome(default=200, client=403, sponsor=404,
                                                other_attorney=404),
    ("questionnaires.change", "GET"): outcome(default=200, client=403, sponsor=404,
                                              other_attorney=404),
    ("questionnaires.change", "POST"): outcome(default=400, client=403, sponsor=404,
                                               other_attorney=404),
    ("questionnaires.download", "GET"): outcome(default=200, client=403, sponsor=404,
                                                other_attorney=404),
    # Signatures: the firm asks; only the person asked reads, signs or declines (the
    # firm reads the request on the case page: 404 here).
    ("signing.ask", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                     other_attorney=404, staff=200, admin=200),
    ("signing.sign", "GET"): outcome(default=404, client=200),
    ("signing.sign", "POST"): outcome(default=404, client=400),
    ("signing.decline", "POST"): outcome(default=404, client=303),
    ("signing.original", "GET"): outcome(default=404, client=200),
    ("signing.page_image", "GET"): outcome(default=404, client=200),
    # The firm's agenda and its calendar link; clients and sponsors must not learn they exist.
    # Creating the link answers with the one page that shows it.
    ("agenda.show_agenda", "GET"): outcome(default=200, client=404, sponsor=404),
    ("agenda.issue_feed", "POST"): outcome(default=200, client=404, sponsor=404),
    ("agenda.revoke_feed", "POST"): outcome(default=303, client=404, sponsor=404),
    # Public (the secret address is the credential); a wrong token is a plain 404 for everyone.
    ("agenda.calendar_feed", "GET"): outcome(404, default=404),
    # USCIS tracking is the case's attorney team's; posted empty, nothing is saved: a form
    # whose own checks fail (a missing version) is shown again on the case page (200), one
    # the service refuses (no date) is flashed on it after a redirect (303).
    ("uscis.record_receipt", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                              other_attorney=404, staff=200, admin=200),
    ("uscis.record_status", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                             other_attorney=404, staff=200, admin=200),
    ("uscis.add_appointment", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                               other_attorney=404, staff=303, admin=303),
    ("uscis.mark_attended", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                             other_attorney=404, staff=303, admin=303),
    ("uscis.edit_appointment", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                                other_attorney=404, staff=200, admin=200),
    ("uscis.remove_appointment", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                                  other_attorney=404, staff=200, admin=200),
    ("uscis.record_rfe", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                          other_attorney=404, staff=200, admin=200),
    ("uscis.answer_rfe", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                          other_attorney=404, staff=200, admin=200),
    ("uscis.record_decision", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                               other_attorney=404, staff=200, admin=200),
    ("uscis.record_parole", "POST"): outcome(client=403, sponsor=403, attorney=200,
                                             other_attorney=404, staff=200, admin=200),
    ("uscis.request_expedite", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                                other_attorney=404, staff=303, admin=303),
    ("uscis.record_expedite_outcome", "POST"): outcome(client=403, sponsor=403, attorney=303,
                                                       other_attorney=404, staff=303,
                                                       admin=303),
    # The client's thread: the client and the attorney team; the sponsor has a thread of their
    # own and must not learn what the client writes. Posted empty: the page shows the error.
    ("messages.client_thread", "GET"): outcome(default=200, sponsor=404, other_attorney=404),
    ("messages.client_thread", "POST"): outcome(default=200, sponsor=404, other_attorney=404),
    ("messages.sponsor_thread", "GET"): outcome(default=200, client=404, other_attorney=404),
    ("messages.sponsor_thread", "POST"): outcome(default=200, client=404, other_attorney=404),
    # New messages for the open page: the same readers as the thread.
    # Signed out, a poll gets 401, not a redirect: the page reloads to the sign-in page.
    ("messages.client_poll", "GET"): outcome(401, default=200, sponsor=404, other_attorney=404),
    ("messages.sponsor_poll", "GET"): outcome(401, default=200, client=404, other_attorney=404),
    # The client's own message: they retract it; the team is told only its author may.
    ("messages.retract", "POST"): outcome(default=303, sponsor=404, other_attorney=404),
    # Muting emails about a case's messages is the firm's; a client must not miss the firm.
    ("messages.mute", "POST"): outcome(default=303, client=403, sponsor=403, other_attorney=404),
    # A thread exported as a file (PDF here) is the firm's record: the client and the sponsor
    # read their own thread on the page, and get the 404 of a hidden object here. Asking
    # leads to the export's page (a job prepares it).
    ("messages.client_export", "POST"): outcome(default=303, client=404, sponsor=404,
                                                other_attorney=404),
    ("messages.sponsor_export", "POST"): outcome(default=303, client=404, sponsor=404,
                                                 other_attorney=404),
    # An export (the attorney's) is its asker's alone: the rest of the firm too gets the 404.
    ("messages.export_page", "GET"): outcome(default=404, attorney=200),
    ("messages.export_state", "GET"): outcome(401, default=404, attorney=200),  # as a poll
    ("messages.export_file", "GET"): outcome(default=404, attorney=200),
    # Resumable uploads: started by anyone signed in (the form they stand in for decides the
    # rest; without the tus header, 412); an upload is its uploader's alone, even to the firm.
    ("uploads.create", "POST"): outcome(default=412),
    ("uploads.resume", "GET"): outcome(default=404, client=200),
    ("uploads.receive", "PATCH"): outcome(default=404, client=412),
    ("uploads.terminate", "DELETE"): outcome(default=404, client=412),
    ("admin.list_users", "GET"): outcome(default=403, admin=200),
    ("admin.new_user", "GET"): outcome(default=403, admin=200),
    ("admin.new_user", "POST"): outcome(default=403, admin=200),
    # For the case's client: the link is emailed and the admin sent back to the list.
    ("admin.send_password_reset", "POST"): outcome(default=403, admin=303),
    ("admin.list_outbox", "GET"): outcome(default=403, admin=200),
    # A failed email: sent again, and the admin sent back to the outbox page.
    ("admin.retry_message", "POST"): outcome(default=403, admin=303),
    # The audit trail is the admins'; a case's trail is also its attorneys' (staff run cases
    # but do not read who looked at what).
    ("audit_trail.list_events", "GET"): outcome(default=403, admin=200),
    ("audit_trail.export_events", "GET"): outcome(default=403, admin=200),
    ("audit_trail.case_events", "GET"): outcome(client=403, sponsor=403, attorney=200,
                                                other_attorney=404, staff=403, admin=200),
    # Anyone's sessions, and offboarding, are the admins'. The person is the case's client;
    # deactivated (no reason needed), then reactivated, each sending the admin back to the list.
    ("admin.list_user_sessions", "GET"): outcome(default=403, admin=200),
    ("admin.end_user_session", "POST"): outcome(default=403, admin=303),
    ("admin.end_user_sessions", "POST"): outcome(default=403, admin=303),
    ("admin.deactivate_user", "GET"): outcome(default=403, admin=200),
    ("admin.deactivate_user", "POST"): outcome(default=403, admin=303),
    ("admin.reactivate_user", "POST"): outcome(default=403, admin=303),
}

URL_ARGS = {"token": "not-a-real-token"}


def routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route of the app, static excluded."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    return found


ROUTES = routes()


def test_every_route_has_a_decided_outcome():
    undecided = [(e, m) for e, m, _ in ROUTES if (e, m) not in EXPECTED]
    assert undecided == [], f"add these to EXPECTED: {undecided}"
    stale = set(EXPECTED) - {(e, m) for e, m, _ in ROUTES}
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"


@pytest.fixture(scope="module")
def base_config(base_config):
    """The matrix's apps show the demo firm's profile, so its logo and privacy pages exist."""
    return {**base_config, "FIRM_PROFILE": str(demo.FIRM_PROFILE), "PREVIEWS": "on"}


@pytest.fixture()
def world(app, make_user, make_case):
    """One case with a client, a sponsor and an assigned attorney, plus
    outsiders; the client has uploaded one document."""
    people = {role: make_user(role) for role in ("client", "sponsor", "staff", "admin")}
    people["attorney"] = make_user(Role.ATTORNEY)
    people["other_attorney"] = make_user(Role.ATTORNEY)
    case = make_case(attorney=people["attorney"], client=people["client"],
                     sponsors=[people["sponsor"]])
    uploader = app.test_client()
    uploader.submit("/login", {"email": people["client"].email, "password": PASSWORD})
    # A PDF with a page, so that its preview exists.
    upload(uploader, f"/cases/{case.uuid}/documents", [("passport.pdf", [real_pdf()])])
    version = db.session.scalar(select(DocumentVersion))
    with queued_jobs(app):
        notify.queue_added_to_case(people["client"].email, "en")
        db.session.commit()
        request = requests.create_request(people["attorney"], case, addressee=people["client"],
                                          title="Passport", instructions="", due_on=None,
                                          required=True)
    # A questionnaire and a signature request for the client, for the routes of those kinds.
    questionnaires.send(people["attorney"], case, get_questionnaire("hp_beneficiary"),
                        people["client"], None)
    signing.ask(people["attorney"], case, people["client"], version, "Engagement letter", None)
    # A USCIS deadline and an expedite request, for the routes that name one.
    db.session.add_all([CaseDeadline(case=case, kind=DeadlineKind.RFE_RESPONSE,
                                     due_on=date(2026, 9, 1)),
                        ExpediteRequest(case=case, requested_on=date(2026, 5, 1),
                                        ground=UrgencyFlag.URGENT_HUMANITARIAN)])
    # A pending invitation to the case, for the routes that name one.
    db.session.add(Invitation(token_hash="0" * 64, email="invited@example.org", name="Invited",
                              role=Role.CLIENT, case=case, case_role=CaseRole.CLIENT,
                              invited_by=people["attorney"],
                              expires_at=utcnow() + timedelta(days=7)))
    # A message of the client in the client's thread, for the routes that name one.
    with app.test_request_context():
        thread = MessageThread(case=case, audience="client")
        db.session.add(thread)
        messages.post(people["client"], thread, "hello", "world-key")
        # An export of it the attorney asked for (ready: jobs run at once here).
        export_files.ask(people["attorney"], thread, "txt", False)
    # A resumable upload of the client's, begun, for the routes that name one.
    db.session.add(ResumableUpload(case=case, uploaded_by=people["client"], filename="scan.pdf",
                                   length=10, expires_at=utcnow() + timedelta(days=1)))
    db.session.execute(update(OutboxMessage).values(state=OutboxState.FAILED))
    db.session.commit()
    return people, case, version, request


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, world, role):
    people, case, version, request = world
    client: PortalClient = app.test_client()
    if role != "anonymous":
        client.submit("/login", {"email": people[role].email,
                                 "password": PASSWORD})
    # The client's first session (the uploader's), for the routes that name one.
    session_id = session_list.public_id(db.session.scalar(select(UserSession)
                                                          .order_by(UserSession.id)))
    # Each kind's routes name a request of that kind.
    of_kind = {blueprint: str(db.session.scalar(select(DocumentRequest.uuid).where(
        DocumentRequest.kind == kind))) for blueprint, kind in (
            ("questionnaires", QUESTIONNAIRE), ("signing", SIGNATURE))}
    failures = []
    for endpoint, method, rule in ROUTES:
        rule = rule.replace("<request_uuid>", of_kind.get(endpoint.split(".")[0],
                                                          str(request.uuid)))
        url = (rule.replace("<case_uuid>", str(case.uuid)).replace("<token>", URL_ARGS["token"])
               .replace("<document_uuid>", str(version.document.uuid))
               .replace("<version_uuid>", str(version.uuid))
               .replace("<section_key>", "identity").replace("<question_key>", "family_name")
               .replace("<fmt>", "json")
               .replace("<deadline_uuid>", str(db.session.scalar(select(CaseDeadline.uuid))))
               .replace("<expedite_uuid>", str(db.session.scalar(select(ExpediteRequest.uuid))))
               .replace("<invitation_uuid>", str(db.session.scalar(
                   select(Invitation.uuid).order_by(Invitation.id))))
               .replace("<uuid:user_uuid>", str(people["client"].uuid))
               .replace("<sponsor_uuid>", str(people["sponsor"].uuid))
               .replace("<session_id>", session_id)
               .replace("<any(pdf, txt):fmt>", "pdf").replace("<int:page>", "1")
               .replace("<uuid:passkey_uuid>", str(uuid.uuid4()))
               .replace("<upload_uuid>", str(db.session.scalar(select(ResumableUpload.uuid))))
               .replace("<message_uuid>", str(db.session.scalar(select(Message.uuid))))
               .replace("<export_uuid>", str(db.session.scalar(
                   select(ThreadExport.uuid).order_by(ThreadExport.id))))
               .replace("<uuid:message_uuid>", str(db.session.scalar(select(OutboxMessage.uuid)))))
        if method == "GET":
            response = client.get(url)
        else:
            response = client.open(url, method=method,
                                   data={"csrf_token": client.csrf_token()})
        expected = EXPECTED[(endpoint, method)][role]
        if response.status_code != expected:
            failures.append(f"{method} {url} ({endpoint}): {response.status_code} != {expected}")
        if endpoint == "auth.logout" and role != "anonymous":
            client.submit("/login", {"email": people[role].email,
                                     "password": PASSWORD})
    assert not failures, "\n".join(failures)
