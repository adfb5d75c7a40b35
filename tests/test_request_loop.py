"""The whole document-request loop with real parts: S3 (SeaweedFS), a
loopback SMTP server and a real ``huey_consumer`` process delivering the
outbox. The attorney sends the parole checklist, the sponsor and the client
answer, a wrong file is rejected and replaced, reminders go out with a
moved clock, and no email says anything about the case."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from portal import jobs
from portal.extensions import db
from portal.models import DocumentRequest, OutboxMessage, OutboxState, RequestState, Role
from portal.requests.reminders import send_reminders
from tests.conftest import PASSWORD
from tests.forms import form_values
from tests.jobs import consumer_queue, start_consumer, stop, wait_until  # noqa: F401
from tests.uploads import PDF, upload

I134 = "Form I-134 with tax return and proof of income and assets"
PASSPORT = "Passport or national ID of the beneficiary"


def signed_in(app, user):
    c = app.test_client()
    assert c.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return c


def delivered(mailbox, count: int) -> list:
    """Wait until the consumer has sent ``count`` emails in all; return them."""
    def done():
        db.session.commit()  # see what the consumer committed
        return len(mailbox.messages) >= count and not db.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.state != OutboxState.SENT).limit(1))
    wait_until(done, f"{count} emails")
    assert len(mailbox.messages) == count  # and not one more
    return list(mailbox.messages)


def test_the_whole_loop_with_real_s3_smtp_and_consumer(app, make_user, make_case, mailbox,
                                                      consumer_queue, tmp_path):  # noqa: F811
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT, language="es", timezone="America/Caracas")
    sponsor = make_user(Role.SPONSOR, timezone="America/New_York")
    case = make_case(attorney=attorney, client=client, sponsors=[sponsor],
                     title="Cardiac surgery for Rosa", beneficiary_name="Rosa Morales")
    consumer = start_consumer(app, consumer_queue, mailbox.port, tmp_path / "consumer.log")
    try:
        # The attorney sends the proposed checklist as it is, due in ten days.
        firm = signed_in(app, attorney)
        page = firm.get(f"/cases/{case.uuid}/requests/checklist").text
        form = {k: v for k, v in form_values(page).items() if k != "csrf_token"}
        due = date.today() + timedelta(days=10)
        assert firm.submit(f"/cases/{case.uuid}/requests/checklist",
                           {**form, "due_on_all": due.isoformat()}).status_code == 303
        assert sorted(m["To"] for m in delivered(mailbox, 2)) == sorted([client.email,
                                                                         sponsor.email])

        # The sponsor sees only their I-134 request, and uploads to it.
        backer = signed_in(app, sponsor)
        page = backer.get(f"/cases/{case.uuid}").text
        assert "I-134" in page and PASSPORT not in page and "Cardiac" not in page
        i134 = db.session.scalar(select(DocumentRequest).where(DocumentRequest.title == I134))
        assert upload(backer, f"/cases/{case.uuid}/requests/{i134.uuid}/uploads",
                      [("tax-return-2025.pdf", [PDF])]).status_code == 303

        # The client uploads a wrong file for the passport; the attorney rejects it.
        family = signed_in(app, client)
        passport = db.session.scalar(select(DocumentRequest).where(
            DocumentRequest.title == PASSPORT))
        upload(family, f"/cases/{case.uuid}/requests/{passport.uuid}/uploads",
               [("selfie.pdf", [PDF])])
        reason = "Es una foto suya, no del pasaporte de Rosa."
        assert firm.submit(f"/cases/{case.uuid}/requests/{passport.uuid}/decision",
                           {"decision": "reject", "reason": reason}).status_code == 303
        # Two submissions told the attorney; the rejection told the client.
        mails = delivered(mailbox, 5)
        assert [m["To"] for m in mails[2:]].count(attorney.email) == 2
        assert mails[4]["To"] == client.email

        # The client reads the reason in Spanish and uploads again; the attorney accepts.
        page = family.get(f"/cases/{case.uuid}").text
        assert "Su abogado necesita un archivo nuevo:" in page and reason in page
        upload(family, f"/cases/{case.uuid}/requests/{passport.uuid}/uploads",
               [("pasaporte-rosa.pdf", [PDF])])
        assert firm.submit(f"/cases/{case.uuid}/requests/{passport.uuid}/decision",
                           {"decision": "accept"}).status_code == 303
        db.session.expire_all()
        assert passport.state is RequestState.ACCEPTED
        assert [v.filename for v in passport.versions] == ["selfie.pdf", "pasaporte-rosa.pdf"]
        page = family.get(f"/cases/{case.uuid}").text
        assert "1 de 10 documentos necesarios aceptados" in page
        assert "tax-return-2025.pdf" not in page  # the sponsor's file stays the sponsor's
        delivered(mailbox, 6)  # the second submission told the attorney

        # Reminders with a moved clock (the hourly job's body, run here at
        # chosen times): three days before the due date the client, who owes
        # eight documents, gets one email; the sponsor, whose file waits for
        # review, gets none. A second run that day sends nothing.
        def noon(day: date) -> datetime:
            return datetime.combine(day, time(16, 0), tzinfo=timezone.utc)
        assert send_reminders(noon(due - timedelta(days=3))) == 1
        assert send_reminders(noon(due - timedelta(days=3))) == 0
        assert send_reminders(noon(due - timedelta(days=2))) == 0
        assert send_reminders(noon(due - timedelta(days=1))) == 1
        assert send_reminders(noon(due + timedelta(days=1))) == 1
        mails = delivered(mailbox, 9)
        assert [m["To"] for m in mails[6:]] == [client.email] * 3
        wait_until(lambda: jobs.huey.pending_count() == 0, "an empty queue")
    finally:
        stop(consumer)

    # No email says what the case, a request or a file is.
    secrets = [case.reference, case.title, "Rosa", "I-134", "Passport", "Pasaporte", "selfie",
               "tax-return", "pasaporte-rosa", reason]
    for message in mailbox.messages:
        text = message["Subject"] + message.get_content()
        assert not [s for s in secrets if s in text], text
