"""The demo firm that ``make run`` seeds once: people, cases and timelines."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable

from flask import current_app
from sqlalchemy import select

from portal.auth import passwords
from portal.extensions import db
from portal.models import Case, CaseFlag, CaseMembership, Role, TimelineEvent, User
from portal.models.case import CaseRole, UrgencyFlag

DEMO_PASSWORD = "harbor-lantern-violet-42"
DOMAIN = "demo.example"

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
    # reference, type, title, beneficiary, country, attorney, stage, flags, client, sponsors
    ("HP-2026-0001", "humanitarian_parole", "Urgent cardiac surgery", "Rosa Morales", "VE",
     "attorney", "gathering_evidence",
     [UrgencyFlag.LIFE_THREATENING_MEDICAL, UrgencyFlag.URGENT_HUMANITARIAN], "client", ["sponsor"]),
    ("HP-2026-0002", "humanitarian_parole", "Reunification with mother", "Mikhail Sokolov", "RU",
     "attorney", "receipt_received",
     [UrgencyFlag.CHILD_UNDER_16, UrgencyFlag.FAMILY_REUNIFICATION], "client2", ["sponsor2"]),
    ("HP-2026-0003", "humanitarian_parole", "Funeral of a parent", "Kwame Mensah", "GH",
     "attorney2", "preparing_filing", [UrgencyFlag.URGENT_HUMANITARIAN], "client3", []),
    ("HP-2026-0004", "humanitarian_parole", "Treatment after an accident", "Pedro Morales", "VE",
     "attorney2", "rfe", [UrgencyFlag.DISABILITY], "client", ["sponsor"]),
    ("VV-2026-0001", "visitor_visa_214b", "Visit to a daughter's graduation", "Nadia Sokolova",
     "RU", "attorney", "intake", [], "client2", []),
]

EVENTS = {
    "HP-2026-0001": [("intake", 20, "Your consultation took place and the engagement was signed.",
                      "Strong medical evidence; hospital letter expected."),
                     ("gathering_evidence", 12, "We sent you the list of documents we need.", "")],
    "HP-2026-0002": [("intake", 90, "Your consultation took place and the engagement was signed.", ""),
                     ("gathering_evidence", 80, "We sent you the list of documents we need.", ""),
                     ("preparing_filing", 60, "All documents are in. We are preparing the filing.", ""),
                     ("filed", 45, "Your request was sent to USCIS.", "Sent by courier."),
                     ("receipt_received", 30, "USCIS received the request and sent a receipt notice.", "")],
    "HP-2026-0003": [("intake", 15, "Your consultation took place and the engagement was signed.", ""),
                     ("preparing_filing", 3, "All documents are in. We are preparing the filing.",
                      "Waiting for the certified translation.")],
    "HP-2026-0004": [("intake", 150, "Your consultation took place and the engagement was signed.", ""),
                     ("filed", 110, "Your request was sent to USCIS.", ""),
                     ("receipt_received", 95, "USCIS received the request and sent a receipt notice.", ""),
                     ("rfe", 10, "USCIS asked for more evidence. We will tell you what is needed.",
                      "RFE deadline in 84 days.")],
    "VV-2026-0001": [("intake", 2, "Your consultation is scheduled.", "")],
}


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
    for ref, type_, title, beneficiary, country, lawyer, stage, flags, client, sponsors in CASES:
        events = EVENTS[ref]
        case = Case(reference=ref, case_type=type_, title=title, beneficiary_name=beneficiary,
                    beneficiary_country=country, assigned_attorney=users[lawyer], stage=stage,
                    opened_on=date.today() - timedelta(days=events[0][1]),
                    receipt_number="IOE0912345678" if stage in ("receipt_received", "rfe") else None,
                    flags=[CaseFlag(flag=f) for f in flags])
        case.memberships = [CaseMembership(user=users[client], role=CaseRole.CLIENT),
                            CaseMembership(user=users[lawyer], role=CaseRole.ATTORNEY)]
        case.memberships += [CaseMembership(user=users[s], role=CaseRole.SPONSOR) for s in sponsors]
        case.events = [TimelineEvent(kind="stage_changed", stage=s, client_text=text,
                                     internal_note=note, actor=users[lawyer],
                                     occurred_at=now - timedelta(days=days))
                       for s, days, text, note in events]
        db.session.add(case)
    db.session.commit()
    return True


def print_logins(echo: Callable[[str], None]) -> None:
    """Print the demo accounts and their shared password."""
    echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for key, name, role, _lang, _tz in PEOPLE:
        echo(f"  {role.value:9} {email_for(key):24} {name}")
