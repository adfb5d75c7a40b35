"""The demo firm that ``make run`` seeds once: people, cases and timelines."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from flask import current_app
from sqlalchemy import delete, select

from portal.auth import passwords
from portal.case_types import get_case_type
from portal.cases.references import allocate
from portal.extensions import db
from portal.models import (Case, CaseDeadline, CaseFlag, CaseMembership, DeadlineKind, Role,
                           TimelineEvent, User)
from portal.models.case import CaseRole, UrgencyFlag

DEMO_PASSWORD = "harbor-lantern-violet-42"
DOMAIN = "demo.example"
# The demo firm's face: a Los Angeles immigration firm's profile (and logo) in
# English, Spanish and Russian, as an operator would write one.
FIRM_PROFILE = Path(__file__).with_name("demo_firm.toml")

PEOPLE = [
    # key, name, role, language, time zone
    ("admin", "Alex Admin", Role.ADMIN, "en", "America/New_York"),
    ("attorney", "Maria Lopez", Role.ATTORNEY, "es", "America/New_York"),
    ("attorney2", "David Chen", Role.ATTORNEY, "en", "America/Chicago"),
    ("paralegal", "Olga Petrova", Role.STAFF, "ru", "America/New_York"),
    ("client", "Ana Morales", Role.CLIENT, "es", "America/Caracas"),
    ("client2", "Ivan Sokolov", Role.CLIENT, "ru", "Europe/Moscow"),
    ("client3", "Grace Mensah", Role.CLIENT, "en", "Africa/Accra"),
    ("sponsor", "Luis Morales", Role.SPONSOR, "es", "America/Los_Angeles"),
    ("sponsor2", "Elena Sokolova", Role.SPONSOR, "ru", "America/New_York"),
]

CASES = [
    # key, type, title, beneficiary, country, attorney, stage, flags, client, sponsors.
    # References come from the counters (portal.cases.references), as for a case
    # opened in the portal: HP-<this year>-0001 for the first, and the next case
    # the firm opens follows on.
    ("cardiac", "humanitarian_parole", "Urgent cardiac surgery", "Rosa Morales", "VE",
     "attorney", "gathering_evidence",
     [UrgencyFlag.LIFE_THREATENING_MEDICAL, UrgencyFlag.URGENT_HUMANITARIAN], "client", ["sponsor"]),
    ("reunification", "humanitarian_parole", "Reunification with mother", "Mikhail Sokolov", "RU",
     "attorney", "receipt_received",
     [UrgencyFlag.CHILD_UNDER_16, UrgencyFlag.FAMILY_REUNIFICATION], "client2", ["sponsor2"]),
    ("funeral", "humanitarian_parole", "Funeral of a parent", "Kwame Mensah", "GH",
     "attorney2", "preparing_filing", [UrgencyFlag.URGENT_HUMANITARIAN], "client3", []),
    ("accident", "humanitarian_parole", "Treatment after an accident", "Pedro Morales", "VE",
     "attorney2", "rfe", [UrgencyFlag.DISABILITY], "client", ["sponsor"]),
    ("graduation", "visitor_visa_214b", "Visit to a daughter's graduation", "Nadia Sokolova",
     "RU", "attorney", "intake", [], "client2", []),
    ("treatment", "humanitarian_parole", "Cancer treatment in Boston", "Abena Mensah", "GH",
     "attorney2", "paroled", [UrgencyFlag.LIFE_THREATENING_MEDICAL], "client3", []),
]

EVENTS = {
    "cardiac": [("intake", 20, "Your consultation took place and the engagement was signed.",
                 "Strong medical evidence; hospital letter expected."),
                ("gathering_evidence", 12, "We sent you the list of documents we need.", "")],
    "reunification": [("intake", 90, "Your consultation took place and the engagement was signed.", ""),
                      ("gathering_evidence", 80, "We sent you the list of documents we need.", ""),
                      ("preparing_filing", 60, "All documents are in. We are preparing the filing.", ""),
                      ("filed", 45, "Your request was sent to USCIS.", "Sent by courier."),
                      ("receipt_received", 30, "USCIS received the request and sent a receipt notice.", "")],
    "funeral": [("intake", 15, "Your consultation took place and the engagement was signed.", ""),
                ("preparing_filing", 3, "All documents are in. We are preparing the filing.",
                 "Waiting for the certified translation.")],
    "accident": [("intake", 150, "Your consultation took place and the engagement was signed.", ""),
                 ("filed", 110, "Your request was sent to USCIS.", ""),
                 ("receipt_received", 95, "USCIS received the request and sent a receipt notice.", ""),
                 ("rfe", 10, "USCIS asked for more evidence. We will tell you what is needed.",
                  "RFE deadline in 84 days.")],
    "graduation": [("intake", 2, "Your consultation is scheduled.", "")],
    "treatment": [("intake", 420, "Your consultation took place and the engagement was signed.", ""),
                  ("filed", 380, "Your request was sent to USCIS.", ""),
                  ("decision", 320, "USCIS approved the request.", ""),
                  ("paroled", 300, "Abena entered the United States on parole.",
                   "I-94 shows one year; plan the re-parole filing.")],
}

# USCIS dates of the demo cases: an answer to an RFE due, an appointment, and a
# parole period ending within 120 days (it shows on the dashboard and the agenda).
RFE_DUE_IN_DAYS = 74
APPOINTMENT_IN_DAYS = 9
PAROLE_ENDS_IN_DAYS = 65


def email_for(key: str) -> str:
    """The demo login email for a person key."""
    return f"{key}@{DOMAIN}"


def seed() -> bool:
    """Create the demo firm unless its admin exists; returns True if created.

    Refuses in production: the demo password is public.
    """
    if current_app.config.get("PORTAL_ENV") == "production":
        raise RuntimeError("The demo firm is never seeded in production.")
    if db.session.scalar(select(User).where(User.email == email_for("admin"))):
        return False
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    users = {key: User(email=email_for(key), name=name, role=role, language=lang, timezone=tz,
                       password_hash=password_hash)
             for key, name, role, lang, tz in PEOPLE}
    db.session.add_all(users.values())
    now = datetime.now(timezone.utc)
    year = now.year  # UTC, as for cases opened in the portal
    cases = {}
    for key, type_, title, beneficiary, country, lawyer, stage, flags, client, sponsors in CASES:
        events = EVENTS[key]
        reference = allocate(get_case_type(type_).reference_prefix, year)
        case = Case(reference=reference, case_type=type_, title=title, beneficiary_name=beneficiary,
                    beneficiary_country=country, assigned_attorney=users[lawyer], stage=stage,
                    opened_on=date.today() - timedelta(days=events[0][1]),
                    receipt_number="IOE0912345678" if stage in ("receipt_received", "rfe") else None,
                    parole_entry_on=date.today() - timedelta(days=300) if stage == "paroled" else None,
                    parole_ends_on=(date.today() + timedelta(days=PAROLE_ENDS_IN_DAYS)
                                    if stage == "paroled" else None),
                    flags=[CaseFlag(flag=f) for f in flags])
        case.memberships = [CaseMembership(user=users[client], role=CaseRole.CLIENT),
                            CaseMembership(user=users[lawyer], role=CaseRole.ATTORNEY)]
        case.memberships += [CaseMembership(user=users[s], role=CaseRole.SPONSOR) for s in sponsors]
        case.events = [TimelineEvent(kind="stage_changed", stage=s, client_text=text,
                                     internal_note=note, actor=users[lawyer],
                                     occurred_at=now - timedelta(days=days))
                       for s, days, text, note in events]
        db.session.add(case)
        cases[key] = case
    db.session.add_all([
        CaseDeadline(case=cases["accident"], kind=DeadlineKind.RFE_RESPONSE,
                     due_on=date.today() + timedelta(days=RFE_DUE_IN_DAYS)),
        CaseDeadline(case=cases["reunification"], kind=DeadlineKind.BIOMETRICS,
                     due_on=date.today() + timedelta(days=APPOINTMENT_IN_DAYS),
                     starts_at=datetime.combine(date.today() + timedelta(days=APPOINTMENT_IN_DAYS),
                                                time(7, 0), timezone.utc),
                     place="U.S. Embassy, Astana"),
    ])
    db.session.commit()
    seed_requests(users, cases[CASES[0][0]])
    seed_intake(users, cases[CASES[0][0]])
    return True


# The first case's evidence checklist, one request in every state:
# (addressee key, title, instructions, due in days or None, required, files, decision, reason)
REQUESTS = [
    # The attorney writes to this Spanish-speaking family in Spanish: requests
    # carry her own words, not catalog text.
    ("client", "Pasaporte de Rosa Morales (página de datos)",
     "Una foto o escaneo nítido de la página con la foto y los datos personales.",
     None, True, ["pasaporte-rosa.pdf"], "accept", ""),
    ("client", "Declaración que explica la emergencia",
     "Por qué Rosa necesita la cirugía en Estados Unidos ahora y cuánto tiempo debe quedarse. "
     "Fírmela.",
     None, True, ["declaracion.pdf"], "reject",
     "La declaración no está firmada. Firme la última página y súbala de nuevo."),
    ("client", "Historia clínica del hospital de cardiología",
     "Diagnóstico, pronóstico y por qué la cirugía no está disponible en Venezuela.",
     None, True, ["informe-cardiologia.pdf"], None, ""),
    ("client", "Partida de nacimiento que muestre su parentesco con Rosa",
     "La suya y la de Rosa, u otro documento que muestre que son familia.",
     7, True, [], None, ""),
    ("sponsor", "Formulario I-134 con su última declaración de impuestos",
     "Firme el I-134 que le enviamos y añada su última declaración federal y tres recibos de sueldo.",
     10, True, [], None, ""),
    ("client", "Cartas de apoyo", "De su médico o de una organización comunitaria, si las tiene.",
     None, False, [], "waive", ""),
]


def _demo_pdf(name: str) -> bytes:
    """A one-page PDF naming the demo file (a real one, so its preview shows it)."""
    from fpdf import FPDF
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=20)
    document.cell(text=f"Demo document: {name}")
    return bytes(document.output())


def _upload(user: User, case: Case, document_request, filename: str):
    """Store a small PDF through the vault as ``user``'s answer to the
    request (or, without one, as a document of the case); returns its version."""
    from portal import vault
    from portal.evidence.services import limits
    from portal.models import Document, DocumentVersion, Purpose, ScanState
    from portal.requests.services import record_submission
    from portal.scanning import services as scanning

    room = limits(case)
    stored = vault.put([_demo_pdf(filename)], case=case, stored_by=user,
                       purpose=Purpose.DOCUMENT_VERSION, content_type="application/pdf",
                       max_size=room.max_file, room=room.remaining)
    # One file a request in the demo: each is a document of its own.
    version = DocumentVersion(uuid=stored.uuid, document=Document(case=case, created_by=user),
                              number=1, uploaded_by=user, filename=filename, stored_object=stored,
                              scan_state=scanning.initial_state())
    db.session.add(version)
    db.session.flush()
    if version.scan_state is not ScanState.SCANNING:
        scanning.after_recording(version)  # stored unscanned: its previews
    if document_request is not None:
        record_submission(user, case, document_request, version)
    db.session.commit()
    if version.scan_state is ScanState.SCANNING:
        # Scanned now, not by a job: the seed goes on to accept some of these files,
        # which the firm may do only once the scanner has cleared them.
        scanning.scan(version.id)
    return version


def seed_requests(users: dict[str, User], case: Case) -> None:
    """The first case's requests, one in each state, answered through the
    real services and vault (so the files download). Their notices are
    dropped: the demo's history sends no mail."""
    from portal.models import OutboxMessage
    from portal.requests import services as requests

    attorney = case.assigned_attorney
    for key, title, text, due_in, required, files, decision, reason in REQUESTS:
        due = date.today() + timedelta(days=due_in) if due_in else None
        document_request = requests.create_request(
            attorney, case, addressee=users[key], title=title, instructions=text, due_on=due,
            required=required)
        for filename in files:
            _upload(users[key], case, document_request, filename)
        if decision:
            requests.decide(attorney, case, document_request, decision, reason)
    db.session.execute(delete(OutboxMessage))
    db.session.commit()


# The first three sections of the beneficiary's questionnaire, as Ana answered
# them for her mother: the rest is still to do.
INTAKE_ANSWERS = {
    "identity": {"q-family_name": "Morales Díaz", "q-given_names": "Rosa Elena",
                 "q-date_of_birth": "1958-03-14", "q-city_of_birth": "Maracaibo",
                 "q-country_of_birth": "VE", "q-citizenship": "VE", "q-sex": "female",
                 "q-marital_status": "widowed"},
    "passport": {"q-has_passport": "yes", "q-passport_number": "154873266",
                 "q-passport_country": "VE", "q-passport_issued": "2019-06-02",
                 "q-passport_expires": "2029-06-01"},
    "contact": {"q-home_address-street": "Avenida 5 de Julio, Edificio Lago, apto. 4B",
                "q-home_address-city": "Maracaibo", "q-home_address-region": "Zulia",
                "q-home_address-country": "VE", "q-mail_at_home": "yes",
                "q-phone": "+58 261 555 0142"},
}


def seed_intake(users: dict[str, User], case: Case) -> None:
    """The first case's intake: the beneficiary's questionnaire half
    answered by the client, and the engagement letter waiting for her
    signature, made through the real services."""
    from werkzeug.datastructures import MultiDict

    from portal.models import OutboxMessage
    from portal.questionnaires import services as questionnaires
    from portal.questionnaires.definitions import get_questionnaire
    from portal.signing import services as signing

    attorney, client = case.assigned_attorney, users["client"]
    questionnaire = get_questionnaire("hp_beneficiary")
    request = questionnaires.send(attorney, case, questionnaire, client,
                                  date.today() + timedelta(days=5))
    for key, answers in INTAKE_ANSWERS.items():
        result = questionnaires.save_section(client, case, request, questionnaire.section(key),
                                             MultiDict(answers), None)
        if result.errors:  # the definition changed: the demo must follow it
            raise RuntimeError(f"demo answers to {key} refused: {result.errors}")
    letter = _upload(attorney, case, None, "carta-de-compromiso.pdf")
    signing.ask(attorney, case, client, letter, "Carta de compromiso (engagement letter)",
                date.today() + timedelta(days=3))
    db.session.execute(delete(OutboxMessage))
    db.session.commit()


def print_logins(echo: Callable[[str], None]) -> None:
    """Print the demo accounts and their shared password."""
    echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for key, name, role, _lang, _tz in PEOPLE:
        echo(f"  {role.value:9} {email_for(key):24} {name}")
