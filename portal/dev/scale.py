"""``flask seed-scale``: a busy firm in an empty database, for benchmarks.

At ``--scale 1``: 1,000 accounts (admins, attorneys, staff, clients, sponsors),
10,000 cases across every stage of both case types (flags, timelines,
USCIS deadlines and appointments, parole dates), about 30,000 document
requests (some overdue, some submitted and waiting for review), 200,000
document versions, 500,000 messages and 1,000,000 audit rows. One heavy
case holds a 2,000-message client thread and 50 sponsors with a thread of
200 messages each; it and 499 other cases hold 40 document versions each.
``--scale`` multiplies every count (with small floors so a tiny scale still
has one of everything); the heavy shapes shrink only when the totals leave
no room for them (see ``Plan``).

Written by bulk inserts (SQLAlchemy Core ``insert()`` of a few thousand rows
at a time) in one transaction: a failure leaves the database as it was.

What is real and what is not:
- Message bodies are encrypted as the app does it (``crypto.encrypt_text``,
  bound to each message's own UUID), so threads read through the app.
- Passwords: one Argon2 hash (of ``PASSWORD``) shared by every account.
- The audit rows form a valid hash chain after whatever the trail held
  (``audit.content_hash``, under the chain's lock): ``flask audit verify``
  passes. The seeding itself is then recorded through ``audit.record``.
- Files: only the first ``--objects`` versions (20 by default, on the heavy
  case) are real, encrypted objects stored through ``vault.put``. Every
  other version is a row whose stored object was never written: its
  stored-object row says ``missing`` and the version ``missing``, exactly as
  ``flask reconcile-storage --repair`` leaves a file whose object is gone.
  So reconcile reports nothing to do, pages list those files (marked
  "missing from storage") without touching S3, and only downloads and
  previews of them are refused. With ``--objects 0`` no S3 is needed.

Development and testing only: ``portal.cli`` registers it outside production,
and ``seed`` refuses production anyway. It refuses a database that already
holds cases.
"""
from __future__ import annotations

import hashlib
import random
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator

import click
from flask import current_app
from sqlalchemy import func, insert, inspect, select, text

from portal import audit, vault
from portal.auth import passwords
from portal.case_types import ENDING, case_types, get_case_type
from portal.cases.references import format_reference
from portal.extensions import db
from portal.models import (AuditEvent, Case, CaseDeadline, CaseFlag, CaseMembership, DeadlineKind,
                           Decision, Document, DocumentRequest, DocumentVersion, Message,
                           MessageThread, ObjectState, PreviewState, Purpose, ReferenceCounter,
                           RequestState, Role, ScanState, StoredObject, ThreadRead, TimelineEvent,
                           User, VersionStatus)
from portal.models.case import CaseRole, UrgencyFlag
from portal.messages.permissions import sponsor_audience
from portal.models.message import CLIENT_THREAD
from portal.models.request import DOCUMENT

# Printed for benchmarks to sign in with; the data is fake and development-only.
PASSWORD = "scale-harbor-lantern-violet-42"  # noqa: S105
DOMAIN = "scale.example"
BATCH = 5000  # rows per INSERT ... executemany
CASES_PER_ROUND = 250  # cases whose requests, documents and versions are written together

GIVEN = ("Ana", "Luis", "Maria", "Jose", "Olga", "Dmitri", "Carmen", "Pedro", "Elena", "Juan",
         "Rosa", "Ivan", "Grace", "Kwame", "Nadia", "Sofia", "Mikhail", "Abena", "Diego", "Irina")
SURNAMES = ("Garcia", "Rodriguez", "Ivanova", "Petrov", "Hernandez", "Lopez", "Morales",
            "Smirnova", "Mensah", "Sokolov", "Diaz", "Kuznetsova", "Owusu", "Torres", "Volkov")
COUNTRIES = ("VE", "CU", "HT", "NI", "RU", "UA", "GH", "AF", "CO", "HN", "SV", "GT")
TITLES = ("Urgent cardiac surgery", "Reunification with mother", "Funeral of a parent",
          "Treatment after an accident", "Visit to a daughter's graduation",
          "Cancer treatment", "Organ donation for a sibling", "Care for a sick child",
          "Wedding of a son", "Escape from persecution", "Birth of a grandchild")
LANGUAGES = {"en": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
             "es": ("America/Caracas", "America/Havana", "America/Bogota", "America/New_York"),
             "ru": ("Europe/Moscow", "Europe/Kyiv", "America/New_York")}
SENTENCES = {
    "en": ("Thank you, I have the letter from the hospital now.",
           "Could you tell me what else you need for the filing?",
           "We received the documents and are checking them today.",
           "The translation should be certified, please ask the translator to sign it.",
           "USCIS has not answered yet; we will write as soon as they do.",
           "Please send the bank statements for the last three months.",
           "My sister will sign the I-134 this weekend.",
           "The appointment letter says to bring the passport and two photos."),
    "es": ("Gracias, ya tengo la carta del hospital.",
           "¿Me puede decir qué más necesita para la solicitud?",
           "Recibimos los documentos y los revisamos hoy.",
           "La traducción debe estar certificada; pida al traductor que la firme.",
           "USCIS todavía no ha respondido; le escribiremos en cuanto lo haga.",
           "Por favor envíe los estados de cuenta de los últimos tres meses."),
    "ru": ("Спасибо, письмо из больницы уже у меня.",
           "Подскажите, что ещё нужно для подачи?",
           "Мы получили документы и проверим их сегодня.",
           "Перевод должен быть заверен, попросите переводчика подписать его.",
           "USCIS пока не ответил; мы напишем, как только ответят."),
}
STAGE_WEIGHTS = {"intake": 8, "gathering_evidence": 20, "preparing_filing": 10, "filed": 10,
                 "receipt_received": 15, "rfe": 6, "decision": 6, "travel": 4, "paroled": 10,
                 "preparing_application": 12, "interview_scheduled": 12}
AUDIT_ACTIONS = {"auth.login": 20, "auth.logout": 3, "message.posted": 35,
                 "document.uploaded": 10, "document.downloaded": 14, "request.created": 7,
                 "request.submitted": 5, "case.stage_changed": 4, "access.denied": 2}
REQUEST_STATES = {RequestState.REQUESTED: 30, RequestState.SUBMITTED: 15,
                  RequestState.ACCEPTED: 40, RequestState.REJECTED: 7, RequestState.WAIVED: 8}
# The heavy case's requests: (state, due in days or None, to a sponsor?). Its
# submitted ones hold the real files, so the review queue's first page opens them.
HEAVY_REQUESTS = [
    (RequestState.REQUESTED, -5, False), (RequestState.REQUESTED, 6, False),
    (RequestState.SUBMITTED, None, False), (RequestState.SUBMITTED, None, False),
    (RequestState.SUBMITTED, None, False), (RequestState.ACCEPTED, None, False),
    (RequestState.ACCEPTED, None, False), (RequestState.ACCEPTED, None, False),
    (RequestState.REJECTED, 10, False), (RequestState.WAIVED, None, False),
    (RequestState.REQUESTED, 12, True), (RequestState.REQUESTED, -2, True),
]
HOLDS_FILE = (RequestState.SUBMITTED, RequestState.ACCEPTED, RequestState.REJECTED)


class Refused(Exception):
    """Seeding would be wrong here (production, a database with cases, no schema)."""


@dataclass(frozen=True)
class Plan:
    """How many of each thing ``seed`` writes at one scale (all exact)."""

    admins: int
    attorneys: int
    staff: int
    clients: int
    sponsors: int
    cases: int
    requests: int
    deadlines: int
    versions: int
    objects: int  # of the versions, those with a real object in the store
    messages: int
    audit_rows: int  # seeded rows; ``seed`` records one more of its own
    heavy_thread: int  # messages in the heavy case's client thread
    sponsor_threads: int  # sponsors of the heavy case, each with a thread
    sponsor_thread_length: int
    heavy_version_cases: int  # the heavy case first
    versions_per_heavy_case: int

    @classmethod
    def for_scale(cls, scale: float, objects: int = 20) -> Plan:
        """The plan at ``scale`` (1.0: the firm described in the module
        docstring). Raises ``ValueError`` for a scale that is not positive."""
        if not scale > 0:
            raise ValueError("the scale must be more than 0")
        accounts = max(10, round(1000 * scale))
        admins, attorneys = max(1, round(accounts * .005)), max(2, round(accounts * .04))
        staff, sponsors = max(1, round(accounts * .025)), max(2, round(accounts * .23))
        cases = max(4, round(10_000 * scale))
        versions = max(2 * cases, round(200_000 * scale))
        messages = max(200, round(500_000 * scale))
        sponsor_threads = min(50, sponsors)
        heavy_cases = min(cases - 1, max(1, round(500 * scale)))
        return cls(admins=admins, attorneys=attorneys, staff=staff, sponsors=sponsors,
                   clients=accounts - admins - attorneys - staff - sponsors, cases=cases,
                   requests=3 * (cases - 1) + len(HEAVY_REQUESTS), deadlines=cases // 3,
                   versions=versions,
                   # On the heavy case's versions only, so never more than it holds.
                   objects=max(0, min(objects, versions // 2 // heavy_cases, 40)),
                   messages=messages, audit_rows=max(200, round(1_000_000 * scale)),
                   heavy_thread=min(2000, messages // 4), sponsor_threads=sponsor_threads,
                   sponsor_thread_length=min(200, messages // 4 // sponsor_threads),
                   heavy_version_cases=heavy_cases,
                   versions_per_heavy_case=min(40, versions // 2 // heavy_cases))

    @property
    def accounts(self) -> int:
        return self.admins + self.attorneys + self.staff + self.clients + self.sponsors


def email(role: Role, n: int) -> str:
    """The sign-in email of the ``n``-th (from 1) seeded account of ``role``."""
    return f"{role.value}{n}@{DOMAIN}"


def _insert(model, rows: list[dict], returning: bool = False) -> list[int]:
    """Insert ``rows`` into ``model``'s table, ``BATCH`` at a time (Core,
    executemany); with ``returning``, their ids in the order given."""
    table, ids = model.__table__, []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        if returning:
            ids += db.session.scalars(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), chunk).all()
        else:
            db.session.execute(insert(table), chunk)
    return ids


def _stream(model, rows: Iterable[dict]) -> int:
    """Insert the rows of a generator a batch at a time; returns how many."""
    batch, count = [], 0
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            count += len(batch)
            _insert(model, batch)
            batch = []
    count += len(batch)
    _insert(model, batch)
    return count


def _at(day: date, rng: random.Random) -> datetime:
    """A moment of office hours (UTC) on ``day``."""
    return datetime(day.year, day.month, day.day, 13, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(9 * 3600), microseconds=rng.randrange(1_000_000))


@dataclass
class Seeded:
    """What was written, for the summary and the benchmark."""

    counts: dict[str, int]
    heavy_case: tuple[str, str]  # reference, uuid
    seconds: float


class Seeder:
    """Writes one plan; each ``write_*`` is a phase that reports its progress."""

    def __init__(self, plan: Plan, rng: random.Random, echo: Callable[[str], None]):
        self.plan, self.rng, self.echo = plan, rng, echo
        self.now = datetime.now(timezone.utc)
        self.today = self.now.date()
        self.users: dict[Role, list[int]] = {}
        self.language: dict[int, str] = {}
        self.cases: list[dict] = []  # the case rows, with "id" and private "_" keys
        self.counts: Counter = Counter()
        self.started = time.monotonic()

    def say(self, what: str) -> None:
        self.echo(f"  [{time.monotonic() - self.started:6.1f} s] {what}")

    # --- people and cases ---------------------------------------------------

    def write_accounts(self) -> None:
        # Argon2 is slow on purpose (0.2 s a hash here at the default cost); a
        # thousand accounts share one hash of one password rather than spend over
        # three minutes on fake people.
        # (Same hash, same salt: harmless for fake accounts, never for real ones.)
        shared_hash = passwords.hash_password(PASSWORD)
        plan, rng = self.plan, self.rng
        for role, count in ((Role.ADMIN, plan.admins), (Role.ATTORNEY, plan.attorneys),
                            (Role.STAFF, plan.staff), (Role.CLIENT, plan.clients),
                            (Role.SPONSOR, plan.sponsors)):
            rows = []
            for n in range(1, count + 1):
                language = "en" if role.is_firm else rng.choice(("en", "es", "es", "ru"))
                rows.append({"uuid": uuid.uuid4(), "email": email(role, n),
                             "name": f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}",
                             "password_hash": shared_hash, "role": role, "language": language,
                             "timezone": rng.choice(LANGUAGES[language]), "active": True,
                             "created_at": self.now - timedelta(days=rng.randrange(30, 1500))})
            self.users[role] = _insert(User, rows, returning=True)
            self.language.update(zip(self.users[role], (r["language"] for r in rows), strict=True))
        self.counts["accounts"] = plan.accounts
        self.say(f"{plan.accounts:,} accounts")

    def _case_row(self, i: int, case_type, stage, attorney: int | None) -> dict:
        rng, today = self.rng, self.today
        opened = today - timedelta(days=rng.randrange(20, 1100))
        keys = [s.key for s in case_type.stages]
        at = keys.index(stage.key)
        after_filing = "filed" in keys and at > keys.index("filed") and stage.kind != ENDING
        paroled = stage.key == "paroled"
        decided = stage.key in ("decision", "travel", "paroled", "denied")
        # Decided, then entered on parole, in the later part of the case's life.
        decided_on = opened + (today - opened) * rng.uniform(.5, .7)
        entered_on = opened + (today - opened) * rng.uniform(.75, .9)
        return {"uuid": uuid.uuid4(), "case_type": case_type.key,
                "title": rng.choice(TITLES),
                "beneficiary_name": f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}",
                "beneficiary_country": rng.choice(COUNTRIES), "assigned_attorney_id": attorney,
                "stage": stage.key,
                "receipt_number": f"IOE{9_000_000_000 + i:010d}" if after_filing else None,
                "opened_on": opened,
                "closed_on": (today - timedelta(days=rng.randrange(1, 20))
                              if stage.closes or (stage.kind == ENDING and rng.random() < .5)
                              else None),
                "decision": (Decision.DENIED if stage.key == "denied"
                             else Decision.APPROVED if decided else None),
                "decided_on": decided_on if decided else None,
                "parole_entry_on": entered_on if paroled else None,
                "parole_ends_on": today + timedelta(days=rng.randrange(-20, 365)) if paroled
                else None,
                "version": 1, "created_at": _at(opened, rng)}

    def write_cases(self) -> None:
        """Cases, references and their counters, memberships, flags, timelines."""
        plan, rng = self.plan, self.rng
        types = list(case_types().values())
        hp = get_case_type("humanitarian_parole")
        attorneys, clients = self.users[Role.ATTORNEY], self.users[Role.CLIENT]
        sponsors, staff = self.users[Role.SPONSOR], self.users[Role.STAFF]
        # The first attorney is the busy one (four shares of the cases).
        weights = [4] + [1] * (len(attorneys) - 1)
        rows, members = [], []
        for i in range(plan.cases):
            if i == 0:  # the heavy case
                case_type, stage = hp, hp.stage("gathering_evidence")
                attorney, client, case_sponsors = attorneys[0], clients[0], \
                    sponsors[:plan.sponsor_threads]
            else:
                case_type = types[0] if rng.random() < .85 else rng.choice(types)
                stage = rng.choices(case_type.stages, [STAGE_WEIGHTS.get(
                    s.key, 3 if s.kind == ENDING else 8) for s in case_type.stages])[0]
                attorney = (None if rng.random() < .02
                            else rng.choices(attorneys, weights)[0])
                # The heavy case's client has that case alone (their pages are measured).
                client = rng.choice(clients[1:])
                case_sponsors = rng.sample(sponsors, min(len(sponsors), rng.choice(
                    (0, 0, 0, 0, 1, 1, 1, 1, 2, 2))))
            row = self._case_row(i, case_type, stage, attorney)
            row["_"] = {"client": client, "sponsors": case_sponsors, "type": case_type,
                        "attorney": attorney or attorneys[0]}
            rows.append(row)
            team = [(attorney, CaseRole.ATTORNEY)] if attorney else []
            if rng.random() < .1:
                second = rng.choice(attorneys)
                if second != attorney:
                    team.append((second, CaseRole.ATTORNEY))
            if rng.random() < .05:
                team.append((rng.choice(staff), CaseRole.STAFF))
            team += [(client, CaseRole.CLIENT)] + [(s, CaseRole.SPONSOR) for s in case_sponsors]
            members.append(team)
        # References are handed out in the order cases were opened, per prefix and year.
        counters: Counter = Counter()
        for row in sorted(rows, key=lambda r: r["opened_on"]):
            key = (row["_"]["type"].reference_prefix, row["opened_on"].year)
            counters[key] += 1
            row["reference"] = format_reference(key[0], key[1], counters[key])
        ids = _insert(Case, [{k: v for k, v in row.items() if k != "_"} for row in rows],
                      returning=True)
        for row, case_id in zip(rows, ids, strict=True):
            row["id"] = case_id
        self.cases = rows
        _insert(ReferenceCounter, [{"prefix": prefix, "year": year, "last": last}
                                   for (prefix, year), last in counters.items()])
        memberships = [{"case_id": row["id"], "user_id": user, "role": role,
                        "added_at": row["created_at"]}
                       for row, team in zip(rows, members, strict=True) for user, role in team]
        _insert(CaseMembership, memberships)
        flags = list(UrgencyFlag)
        _insert(CaseFlag, [{"case_id": row["id"], "flag": flag} for row in rows
                           if rng.random() < .4 for flag in rng.sample(flags, rng.randint(1, 2))])
        self.counts.update(cases=len(rows), memberships=len(memberships))
        self.write_timelines()
        self.write_deadlines()
        self.say(f"{len(rows):,} cases, {len(memberships):,} memberships, "
                 f"{self.counts['deadlines']:,} deadlines")

    def write_timelines(self) -> None:
        events = []
        for row in self.cases:
            opened = row["created_at"]
            events.append({"uuid": uuid.uuid4(), "case_id": row["id"], "kind": "case.opened",
                           "stage": row["_"]["type"].stages[0].key, "client_text": "",
                           "internal_note": "", "client_visible": True, "data": {},
                           "actor_id": row["_"]["attorney"], "occurred_at": opened})
            if row["stage"] != row["_"]["type"].stages[0].key:
                moved = opened + (self.now - opened) * self.rng.uniform(.3, .95)
                events.append({"uuid": uuid.uuid4(), "case_id": row["id"],
                               "kind": "stage_changed", "stage": row["stage"],
                               "client_text": "We moved your case forward.",
                               "internal_note": "", "client_visible": True, "data": {},
                               "actor_id": row["_"]["attorney"], "occurred_at": moved})
        _insert(TimelineEvent, events)
        self.counts["timeline events"] = len(events)

    def write_deadlines(self) -> None:
        """RFE answers and appointments, on the cases where they belong first."""
        rng, pressing = self.rng, {"rfe": 0, "interview_scheduled": 0, "receipt_received": 1,
                                   "filed": 2}
        chosen = sorted(self.cases[1:], key=lambda r: (pressing.get(r["stage"], 3), rng.random()))
        rows = []
        for row in chosen[:self.plan.deadlines]:
            kind = (DeadlineKind.RFE_RESPONSE if row["stage"] == "rfe" else
                    DeadlineKind.INTERVIEW if row["case_type"] == "visitor_visa_214b"
                    else DeadlineKind.BIOMETRICS)
            due = self.today + timedelta(days=rng.randrange(-30, 150))
            appointment = kind is not DeadlineKind.RFE_RESPONSE
            rows.append({"uuid": uuid.uuid4(), "case_id": row["id"], "kind": kind, "due_on": due,
                         "starts_at": _at(due, rng) if appointment else None,
                         "place": "USCIS Application Support Center" if appointment else "",
                         "met_on": due if due < self.today and rng.random() < .7 else None,
                         "created_by_id": row["_"]["attorney"], "created_at": self.now})
        _insert(CaseDeadline, rows)
        self.counts["deadlines"] = len(rows)

    # --- requests, documents and files -----------------------------------------

    def _requests_of(self, index: int, row: dict, room: int) -> list[dict]:
        """The case's requests; no more of them hold a file than ``room``."""
        rng, case_type = self.rng, row["_"]["type"]
        client, case_sponsors = row["_"]["client"], row["_"]["sponsors"]
        if index == 0:
            wanted = HEAVY_REQUESTS
        else:
            states = list(REQUEST_STATES)
            closed = row["closed_on"] is not None
            wanted = [(rng.choice((RequestState.ACCEPTED, RequestState.WAIVED)) if closed
                       else rng.choices(states, list(REQUEST_STATES.values()))[0],
                       rng.randrange(-30, 45) if rng.random() < .7 else None,
                       bool(case_sponsors) and rng.random() < .2) for _ in range(3)]
        items = case_type.checklist or ()
        requests = []
        for k, (state, due_in, to_sponsor) in enumerate(wanted):
            if state in HOLDS_FILE:
                if room == 0:
                    state = RequestState.REQUESTED
                room -= state in HOLDS_FILE
            item = items[k % len(items)] if items else None
            decided = state in (RequestState.ACCEPTED, RequestState.REJECTED)
            requests.append({
                "uuid": uuid.uuid4(), "case_id": row["id"],
                "addressee_id": (case_sponsors[k % len(case_sponsors)]
                                 if to_sponsor and case_sponsors else client),
                "title": item.source_title if item else f"Document {k + 1}",
                "instructions": item.source_instructions if item else "",
                "due_on": self.today + timedelta(days=due_in) if due_in is not None else None,
                "required": k % 5 != 4, "state": state,
                "rejection_reason": ("The copy is not readable; please scan it again."
                                     if state is RequestState.REJECTED else None),
                "created_by_id": row["_"]["attorney"], "created_at": row["created_at"],
                "decided_by_id": row["_"]["attorney"] if decided else None,
                "decided_at": self.now - timedelta(days=rng.randrange(1, 60)) if decided else None,
                "kind": DOCUMENT, "questionnaire_key": None, "sign_version_id": None,
                "sign_sha256": None, "signed_version_id": None})
        return requests

    def _file(self, row: dict, uploader: int, request_id: int | None) -> tuple[dict, dict]:
        """A stored-object row and its version (without ids), row-only: its
        object was never written, so both say so (see the module docstring)."""
        rng = self.rng
        object_uuid = uuid.uuid4()
        uploaded = self.now - timedelta(days=rng.randrange(0, 300), seconds=rng.randrange(86400))
        pdf = rng.random() < .7
        # The key vault.object_key would give it.
        stored = {"uuid": object_uuid, "key": f"cases/{row['uuid']}/{object_uuid}",
                  "size": rng.randrange(40_000, 3_000_000),
                  "sha256": hashlib.sha256(object_uuid.bytes).hexdigest(),
                  "content_type": "application/pdf" if pdf else "image/jpeg",
                  "case_id": row["id"], "stored_by_id": uploader, "stored_at": uploaded,
                  "purpose": Purpose.DOCUMENT_VERSION, "state": ObjectState.MISSING}
        version = {"uuid": object_uuid, "uploaded_by_id": uploader, "uploaded_at": uploaded,
                   "filename": f"{rng.choice(('passport', 'letter', 'statement', 'photo'))}-"
                               f"{rng.randrange(1, 99)}.{'pdf' if pdf else 'jpg'}",
                   "submission_id": None, "part_index": None, "status": VersionStatus.MISSING,
                   "status_changed_at": uploaded, "status_changed_by_id": None,
                   "status_reason": None, "scan_state": ScanState.CLEAN, "scan_result": None,
                   "scanned_at": uploaded, "preview_state": PreviewState.NONE,
                   "preview_note": "unreadable", "request_id": request_id}
        return stored, version

    def write_documents(self, real: dict[uuid.UUID, dict]) -> None:
        """Requests, documents, stored objects and versions, a round of cases at
        a time. ``real`` maps the heavy case's first version UUIDs to the
        stored objects ``vault.put`` wrote for them."""
        plan, rng = self.plan, self.rng
        per_case = [plan.versions_per_heavy_case if i < plan.heavy_version_cases else 0
                    for i in range(plan.cases)]
        rest = range(plan.heavy_version_cases, plan.cases)
        for i in rng.choices(rest, k=plan.versions - sum(per_case)):
            per_case[i] += 1
        heavy_uuids = list(real)
        for start in range(0, plan.cases, CASES_PER_ROUND):
            rounds = list(range(start, min(start + CASES_PER_ROUND, plan.cases)))
            requests = {i: self._requests_of(i, self.cases[i], per_case[i]) for i in rounds}
            flat = [r for i in rounds for r in requests[i]]
            for request_row, request_id in zip(flat, _insert(DocumentRequest, flat, True),
                                              strict=True):
                request_row["id"] = request_id
            documents, files = [], []  # files: (document index, stored, version) in order
            for i in rounds:
                row, left = self.cases[i], per_case[i]
                for request_row in requests[i]:
                    if request_row["state"] in HOLDS_FILE:
                        uploader = request_row["addressee_id"]
                        documents.append({"case_id": row["id"], "created_by_id": uploader})
                        files.append((len(documents) - 1, *self._file(row, uploader,
                                                                      request_row["id"])))
                        left -= 1
                while left > 0:
                    uploader = rng.choice((row["_"]["client"], row["_"]["attorney"]))
                    documents.append({"case_id": row["id"], "created_by_id": uploader})
                    for _ in range(min(left, rng.choice((1, 1, 2, 3)))):
                        files.append((len(documents) - 1, *self._file(row, uploader, None)))
                        left -= 1
            # A document's versions are numbered in the order they were uploaded,
            # and the document dates from its first.
            files.sort(key=lambda f: (f[0], f[2]["uploaded_at"]))
            for index, _, version in reversed(files):
                documents[index]["created_at"] = version["uploaded_at"]
            for document in documents:
                document.update(uuid=uuid.uuid4(), message_id=None)
            document_ids = _insert(Document, documents, returning=True)
            numbers: Counter = Counter()
            for _, stored, version in files:
                if heavy_uuids and stored["case_id"] == self.cases[0]["id"]:
                    object_uuid = heavy_uuids.pop(0)
                    stored.update(real[object_uuid], uuid=object_uuid)
                    # Nobody scanned these (as with scanning off) nor made previews.
                    version.update(uuid=object_uuid, status=VersionStatus.AVAILABLE,
                                   status_changed_at=None, scan_state=ScanState.UNSCANNED,
                                   scanned_at=None, preview_note="off",
                                   filename=version["filename"].rsplit(".", 1)[0] + ".pdf")
            stored_ids = _insert(StoredObject, [stored for _, stored, _ in files], True)
            for (document, _, version), stored_id in zip(files, stored_ids, strict=True):
                numbers[document] += 1
                version.update(document_id=document_ids[document], number=numbers[document],
                               stored_object_id=stored_id)
            _insert(DocumentVersion, [version for _, _, version in files])
            self.counts.update(requests=len(flat), documents=len(documents),
                               versions=len(files))
        self.counts["real files"] = len(real)
        self.say(f"{self.counts['requests']:,} requests, {self.counts['versions']:,} versions "
                 f"({len(real)} with a real object)")

    def store_real_files(self) -> dict[uuid.UUID, dict]:
        """Encrypt and store ``plan.objects`` small PDFs through the vault for
        the heavy case; returns their stored-object columns by UUID."""
        if not self.plan.objects:
            return {}
        from fpdf import FPDF

        case = db.session.get(Case, self.cases[0]["id"])
        client = db.session.get(User, self.cases[0]["_"]["client"])
        written = {}
        for n in range(1, self.plan.objects + 1):
            document = FPDF()
            document.add_page()
            document.set_font("helvetica", size=16)
            document.cell(text=f"Scale seed document {n}")
            stored = vault.put([bytes(document.output())], case=case, stored_by=client,
                               purpose=Purpose.DOCUMENT_VERSION, content_type="application/pdf",
                               max_size=current_app.config["UPLOAD_MAX_FILE_BYTES"],
                               room=current_app.config["CASE_QUOTA_BYTES"])
            written[stored.uuid] = {"key": stored.key, "size": stored.size,
                                    "sha256": stored.sha256, "content_type": stored.content_type,
                                    "state": ObjectState.STORED}
        self.say(f"{len(written)} files encrypted and stored through the vault")
        return written

    # --- messages ----------------------------------------------------------

    def _threads(self) -> list[tuple[dict, str, int | None, int]]:
        """(case row, "client" or "sponsor", sponsor id, message count) of every
        thread: the heavy case's first, then the rest spread unevenly."""
        plan, rng = self.plan, self.rng
        heavy = self.cases[0]
        threads = [(heavy, CLIENT_THREAD, None, plan.heavy_thread)]
        threads += [(heavy, "sponsor", sponsor, plan.sponsor_thread_length)
                    for sponsor in heavy["_"]["sponsors"]]
        others = [(row, CLIENT_THREAD, None) for row in self.cases[1:]]
        others += [(row, "sponsor", s) for row in self.cases[1:] for s in row["_"]["sponsors"]]
        rest = plan.messages - sum(t[3] for t in threads)
        weights = [rng.expovariate(1) * (1 if audience == CLIENT_THREAD else .3)
                   for _, audience, _ in others]
        counts = Counter(rng.choices(range(len(others)), weights, k=rest))
        threads += [(*others[i], n) for i, n in sorted(counts.items())]
        return threads

    def write_messages(self) -> None:
        """Threads, their messages (encrypted per message, as ``messages.services.post``
        does) and how far each side has read."""
        crypto, rng = current_app.extensions["crypto"], self.rng
        threads = self._threads()
        audiences = {user.id: sponsor_audience(user) for user in db.session.scalars(
            select(User).where(User.id.in_({t[2] for t in threads if t[2]})))}
        rows = [{"uuid": uuid.uuid4(), "case_id": row["id"],
                 "audience": audiences.get(sponsor, CLIENT_THREAD),
                 "sponsor_id": sponsor, "created_at": row["created_at"]}
                for row, _, sponsor, _ in threads]
        thread_ids = _insert(MessageThread, rows, returning=True)
        reads = []

        def messages() -> Iterator[dict]:
            for (row, _, sponsor, count), thread_id in zip(threads, thread_ids, strict=True):
                person = sponsor or row["_"]["client"]
                firm = row["_"]["attorney"]
                language = self.language.get(person, "en")
                start = row["created_at"]
                step = (self.now - timedelta(hours=1) - start) / max(count, 1)
                for n in range(count):
                    message_uuid = uuid.uuid4()
                    from_person = rng.random() < .45
                    internal = not from_person and rng.random() < .05
                    body = " ".join(rng.sample(SENTENCES["en" if internal else language], 2))
                    created = start + step * n + timedelta(seconds=rng.randrange(60))
                    yield {"uuid": message_uuid, "thread_id": thread_id,
                           "author_id": person if from_person else firm,
                           "body": crypto.encrypt_text(body, message_uuid),
                           "internal": internal, "client_key": secrets.token_urlsafe(24),
                           "created_at": created,
                           "retracted_at": (created + timedelta(minutes=2)
                                            if rng.random() < .002 else None)}
                # Each side has read most of its thread: a few messages wait.
                last_read = start + step * max(0, count - rng.randrange(0, 4))
                reads.extend({"thread_id": thread_id, "user_id": user, "read_at": last_read}
                             for user in {person, firm})
        written = _stream(Message, messages())
        _insert(ThreadRead, reads)
        self.counts.update(threads=len(threads), messages=written)
        self.say(f"{written:,} messages in {len(threads):,} threads")

    # --- the audit trail -------------------------------------------------------

    def write_audit(self) -> None:
        """``plan.audit_rows`` entries over the last two years, chained after
        the trail's head under the chain's lock (held until the commit)."""
        rng, plan = self.rng, self.plan
        connection = db.session.connection()
        # The lock every audit writer takes (portal.audit), so no entry is chained
        # between the head read here and this transaction's commit.
        audit._lock_chain(connection, [])
        head = connection.execute(select(AuditEvent.sequence, AuditEvent.content_hash)
                                  .order_by(AuditEvent.sequence.desc()).limit(1)).first()
        sequence, previous = head if head is not None else (0, audit.GENESIS)
        people = [user for ids in self.users.values() for user in ids]
        case_ids = [row["id"] for row in self.cases]
        actions, weights = list(AUDIT_ACTIONS), list(AUDIT_ACTIONS.values())
        start, span = self.now - timedelta(days=730), timedelta(days=729)

        def rows() -> Iterator[dict]:
            nonlocal sequence, previous
            for n in range(plan.audit_rows):
                action = rng.choices(actions, weights)[0]
                on_case = not action.startswith("auth.")
                details = ({"internal": False} if action == "message.posted" else
                           {"exists": True} if action == "access.denied" else {})
                row = {"occurred_at": start + span * (n / plan.audit_rows),
                       "actor_id": rng.choice(people), "action": action,
                       "case_id": rng.choice(case_ids) if on_case else None,
                       "target": str(uuid.uuid4()) if on_case else None,
                       "ip_address": f"203.0.113.{rng.randrange(1, 255)}", "details": details}
                sequence += 1
                row.update(sequence=sequence, previous_hash=previous)
                row["content_hash"] = previous = audit.content_hash(
                    previous, row["occurred_at"], row["actor_id"], action, row["case_id"],
                    row["target"], row["ip_address"], details)
                yield row
        written = _stream(AuditEvent, rows())
        self.counts["audit rows"] = written
        self.say(f"{written:,} audit rows chained")


def refusal() -> str | None:
    """Why seeding must not run against the configured app and database, or None."""
    if current_app.config.get("PORTAL_ENV") == "production":
        return "seed-scale never runs in production (PORTAL_ENV=production)."
    if not inspect(db.engine).has_table(Case.__tablename__):
        return "The database has no tables yet: run 'flask db upgrade' first."
    cases = db.session.scalar(select(func.count()).select_from(Case))
    if cases:
        return (f"The database already holds cases ({cases:,}); seed-scale fills only a "
                "database without any. Point PORTAL_DATABASE_URL at a new one.")
    return None


def seed(scale: float = 1.0, seed: int = 1, objects: int = 20,
         echo: Callable[[str], None] = print) -> Seeded:
    """Fill the (empty) database with the firm ``Plan.for_scale(scale,
    objects)`` describes, randomised by ``seed``, in one transaction.

    Raises ``Refused`` in production, on a database with cases or without
    tables; ``StorageError`` when S3 fails while ``objects`` files are
    stored (nothing is kept then).
    """
    problem = refusal()
    if problem:
        raise Refused(problem)
    plan = Plan.for_scale(scale, objects)
    seeder = Seeder(plan, random.Random(seed), echo)  # noqa: S311 - fake data, not secrets
    crypto = current_app.extensions["crypto"]
    # Made (and committed) now if new, so that commit is not in the middle of the seed.
    crypto.texts.primitive()
    crypto.files.primitive()
    db.session.commit()
    written: dict[uuid.UUID, dict] = {}
    try:
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite's default page cache (2 MB) makes inserts into the random-UUID
            # indexes read the disk once the tables outgrow it; this connection only.
            db.session.execute(text("PRAGMA cache_size = -262144"))  # 256 MiB
        seeder.write_accounts()
        seeder.write_cases()
        written = seeder.store_real_files()
        seeder.write_documents(written)
        seeder.write_messages()
        seeder.write_audit()
        audit.record("dev.scale_seeded", scale=scale, seed=seed,
                     **{key.replace(" ", "_"): n for key, n in seeder.counts.items()})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for object_uuid, stored in written.items():
            vault.delete(StoredObject(uuid=object_uuid, key=stored["key"]))
        raise
    heavy = seeder.cases[0]
    return Seeded(dict(seeder.counts), (heavy["reference"], str(heavy["uuid"])),
                  time.monotonic() - seeder.started)


@click.command("seed-scale")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiplies every count (1.0: 10,000 cases, 500,000 messages, ...).")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True,
              help="Seed of the random choices (the same seed makes the same firm).")
@click.option("--objects", type=click.IntRange(min=0), default=20, show_default=True,
              help="Versions given a real encrypted object in S3 (0: no S3 needed).")
def seed_scale_command(scale: float, seed_value: int, objects: int) -> None:
    """Fill an empty database with a busy firm for benchmarks, by bulk
    inserts: accounts, cases, requests, document versions, encrypted
    messages and a valid audit chain (development only; see portal/dev/scale.py)."""
    if scale <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--scale")
    problem = refusal()
    if problem:
        raise click.ClickException(problem)
    plan = Plan.for_scale(scale, objects)
    click.echo(f"Seeding a firm at scale {scale:g}: {plan.accounts:,} accounts, "
               f"{plan.cases:,} cases, {plan.versions:,} versions, {plan.messages:,} messages, "
               f"{plan.audit_rows:,} audit rows ...")
    try:
        seeded = seed(scale, seed_value, objects, click.echo)
    except Refused as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Done in {seeded.seconds:.1f} s:")
    for what, count in seeded.counts.items():
        click.echo(f"  {what:<16}{count:>12,}")
    reference, case_uuid = seeded.heavy_case
    click.echo(f"Heavy case: {reference} ({case_uuid})")
    click.echo(f"Sign-in (password for all: {PASSWORD}):")
    click.echo(f"  admin     {email(Role.ADMIN, 1)}")
    click.echo(f"  attorney  {email(Role.ATTORNEY, 1)}  (the heavy case's, with the most cases)")
    click.echo(f"  client    {email(Role.CLIENT, 1)}  (the heavy case's client)")
    if current_app.config.get("SECOND_FACTOR_REQUIRED_FOR_FIRM"):
        click.echo("Firm accounts have no second factor: with SECOND_FACTOR_REQUIRED_FOR_FIRM on "
                   "they are sent to set one up first.")
