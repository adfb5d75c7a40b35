"""A parole case from opening to paroled, through the firm's forms: the
client joins from the invitation, the attorney records the receipt, a USCIS
status, an RFE there and back, the approval and the parole period; the
client reads only what was meant for them; each re-parole reminder goes out
exactly once as a moved clock passes 120, 90 and 60 days before the end."""
from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, CaseDeadline, Decision
from portal.uscis.reminders import send_reparole_reminders
from tests.test_case_lifecycle import NEW_PASSWORD, invitation_link, opening

TODAY = date.today()
NOTES = ("Hospital letter is weak; ask Dr. Ruiz again.", "RFE wants the I-134 bank statements.",
         "Approval notice scanned to the file.")


def day(offset: int) -> str:
    """The ISO date ``offset`` days before today (negative: after)."""
    return (TODAY - timedelta(days=offset)).isoformat()


def test_a_parole_case_from_opening_to_paroled_with_its_reparole_reminders(
        app, client, make_user, login_as, mailbox):
    lawyer = make_user("attorney", name="Maria Lopez")
    login_as(lawyer)
    client.submit("/cases/new", opening(lawyer))
    case = db.session.scalar(select(Case))

    # The client joins from the emailed invitation.
    invitation = next(m for m in mailbox.messages if m["To"] == "ana@example.org")
    ana = app.test_client()
    ana.get(invitation_link(invitation))
    ana.submit("/invitation", {"name": "Ana Morales", "password": NEW_PASSWORD,
                               "confirm": NEW_PASSWORD})

    def firm(path: str, data: dict) -> str:
        db.session.expire_all()
        response = client.submit(f"/cases/{case.uuid}/{path}",
                                 {"version": db.session.get(Case, case.id).version, **data},
                                 follow_redirects=True)
        text = html.unescape(response.text)
        assert "Saved" in text, text[text.find('class="flash'):][:300]
        return text

    firm("stage", {"stage": "filed", "client_text": "We sent your request to USCIS.",
                   "internal_note": NOTES[0]})
    firm("uscis/receipt", {"receipt_number": "IOE-091-234-5678"})
    firm("uscis/status", {"status": "Case Was Received", "on": day(60), "move": "y"})
    firm("uscis/rfe", {"received_on": day(50), "respond_by": day(-30),
                       "client_text": "USCIS wants more proof of support.",
                       "internal_note": NOTES[1]})
    rfe = db.session.scalar(select(CaseDeadline))
    firm(f"uscis/rfe/{rfe.uuid}/answered", {"sent_on": day(40)})
    firm("uscis/decision", {"decision": "approved", "decided_on": day(20),
                            "internal_note": NOTES[2]})
    ends_on = TODAY + timedelta(days=200)
    firm("uscis/parole", {"entry_on": day(5), "ends_on": ends_on.isoformat()})

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.stage == "paroled" and case.decision is Decision.APPROVED
    assert case.receipt_number == "IOE0912345678" and case.parole_ends_on == ends_on
    stages = [e.data.get("to") for e in sorted(case.events, key=lambda e: e.id)
              if e.data.get("to")]
    assert stages == ["filed", "receipt_received", "rfe", "receipt_received", "decision",
                      "paroled"]

    # The client reads the story in Spanish, newest first, and none of the firm's notes.
    text = html.unescape(ana.get(f"/cases/{case.uuid}").text)
    assert "IOE0912345678" in text
    assert text.index("USCIS wants more proof of support.") > text.index('<ol class="timeline">')
    assert text.index("USCIS wants more proof of support.") < text.index(
        "We sent your request to USCIS.")
    for note in NOTES:
        assert note not in text
    path = text[text.index('<ol class="path">'):text.index("</ol>", text.index('<ol class="path">'))]
    assert path.count('class="done') == 7 and 'class="current' in path and "ahead" not in path

    # Re-parole reminders: the clock moves a day at a time towards the end.
    mailbox.messages.clear()
    sent_on = {}
    moment = datetime.combine(TODAY, time(12), timezone.utc)
    while moment.date() <= ends_on:
        for run in range(2):  # the job runs hourly; a second run sends nothing more
            before = len(mailbox.messages)
            send_reparole_reminders(moment + timedelta(hours=run))
            if len(mailbox.messages) > before:
                sent_on.setdefault((ends_on - moment.date()).days, []).extend(
                    m["To"] for m in mailbox.messages[before:])
        moment += timedelta(days=1)
    people = sorted([lawyer.email, "ana@example.org"])
    assert {days: sorted(to) for days, to in sent_on.items()} == {
        120: people, 90: people, 60: people}
    assert "luis@example.org" not in str(sent_on)  # the sponsor is not told
