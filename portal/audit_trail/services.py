"""The trail as pages (newest first, keyset on the chain's sequence: page
1,000 costs what page 1 does) and as CSV, filtered by person, case, action
and dates."""
from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from portal import audit
from portal.extensions import db
from portal.models import AuditEvent, Case, User

PAGE_SIZE = 50
EXPORT_CHUNK = 500
MAX_TEXT = 200


class BadQuery(ValueError):
    """The address names a filter that cannot be read (a date that is no date)."""


@dataclass(frozen=True)
class TrailQuery:
    """The filters asked for, and where the page starts."""

    person: str = ""  # an email address
    case: str = ""  # a case reference
    action: str = ""  # an action, or how actions begin ("auth.")
    since: date | None = None  # days on the viewer's clock, both included
    until: date | None = None
    before: int | None = None  # the page shows rows older than this sequence

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> TrailQuery:
        """Read the query string. Raises ``BadQuery`` for a date or a page
        start that cannot be read."""
        def day(name: str) -> date | None:
            value = args.get(name, "").strip()
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                raise BadQuery(name) from None
        try:
            before = int(args["before"]) if args.get("before") else None
        except ValueError:
            raise BadQuery("before") from None
        return cls(person=args.get("person", "").strip()[:MAX_TEXT],
                   case=args.get("case", "").strip()[:MAX_TEXT],
                   action=args.get("action", "").strip()[:MAX_TEXT],
                   since=day("since"), until=day("until"), before=before)

    def args(self, **changes) -> dict[str, str | int]:
        """The query string for this query with ``changes``, empty values
        left out (for links that keep the filters)."""
        wanted = replace(self, **changes)
        values = {"person": wanted.person, "case": wanted.case, "action": wanted.action,
                  "since": wanted.since.isoformat() if wanted.since else "",
                  "until": wanted.until.isoformat() if wanted.until else "",
                  "before": wanted.before or ""}
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class TrailRow:
    """One event as the browser and the export show it."""

    sequence: int
    occurred_at: datetime
    actor_name: str | None
    actor_email: str | None
    action: str
    case_reference: str | None
    case_uuid: uuid.UUID | None
    target: str | None
    ip_address: str | None
    details: dict
    content_hash: str

    @property
    def details_text(self) -> str:
        """``key=value`` pairs, sorted, values that are not text as JSON."""
        return ", ".join(f"{key}={value if isinstance(value, str) else json.dumps(value)}"
                         for key, value in sorted((self.details or {}).items()))


@dataclass(frozen=True)
class TrailPage:
    """A page of rows, and the ``before`` of the next (older) page, if any."""

    rows: list[TrailRow]
    older: int | None


_COLUMNS = (AuditEvent.sequence, AuditEvent.occurred_at, User.name.label("actor_name"),
            User.email.label("actor_email"), AuditEvent.action,
            Case.reference.label("case_reference"), Case.uuid.label("case_uuid"),
            AuditEvent.target, AuditEvent.ip_address, AuditEvent.details,
            AuditEvent.content_hash)


def _start_of(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)


def _filtered(wanted: TrailQuery, zone: tzinfo, case: Case | None) -> Select:
    """The events matching ``wanted`` (of ``case`` only, when given), newest
    first; dates are days on ``zone``'s clock."""
    query = (select(*_COLUMNS)
             .outerjoin(User, User.id == AuditEvent.actor_id)
             .outerjoin(Case, Case.id == AuditEvent.case_id)
             .order_by(AuditEvent.sequence.desc()))
    if case is not None:
        query = query.where(AuditEvent.case_id == case.id)
    if wanted.person:
        query = query.where(User.email == wanted.person.lower())  # stored lower-cased
    if wanted.case:
        query = query.where(func.upper(Case.reference) == wanted.case.upper())
    if wanted.action:
        query = query.where(AuditEvent.action.startswith(wanted.action, autoescape=True))
    if wanted.since:
        query = query.where(AuditEvent.occurred_at >= _start_of(wanted.since, zone))
    if wanted.until:
        query = query.where(AuditEvent.occurred_at
                            < _start_of(wanted.until + timedelta(days=1), zone))
    return query


def _rows(query: Select, before: int | None, limit: int) -> list[TrailRow]:
    if before is not None:
        query = query.where(AuditEvent.sequence < before)
    return [TrailRow(**row._mapping) for row in db.session.execute(query.limit(limit))]


def page(wanted: TrailQuery, zone: tzinfo, case: Case | None = None) -> TrailPage:
    """Up to ``PAGE_SIZE`` events matching ``wanted``, newest first, older
    than ``wanted.before``. One statement, whatever the trail's length."""
    rows = _rows(_filtered(wanted, zone, case), wanted.before, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return TrailPage(rows, rows[-1].sequence if more else None)


def _all_rows(wanted: TrailQuery, zone: tzinfo) -> Iterator[list[TrailRow]]:
    """Every event matching ``wanted``, newest first, ``EXPORT_CHUNK`` at a time."""
    query, before = _filtered(wanted, zone, None), None
    while True:
        rows = _rows(query, before, EXPORT_CHUNK)
        if rows:
            yield rows
        if len(rows) < EXPORT_CHUNK:
            return
        before = rows[-1].sequence


# Translators: column headings of the audit trail exported as a CSV file.
HEADINGS = (_l("Sequence"), _l("When (UTC)"), _l("Person"), _l("Email"), _l("Action"),
            _l("Case"), _l("Target"), _l("Address"), _l("Details"), _l("Hash"))


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: what the public can type (an
    email tried at sign-in, a name) must never run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(chunks: Iterator[list[TrailRow]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(heading) for heading in HEADINGS])
    for rows in chunks:
        for row in rows:
            writer.writerow([row.sequence,
                             row.occurred_at.astimezone(timezone.utc).isoformat(),
                             _cell(row.actor_name), _cell(row.actor_email), _cell(row.action),
                             _cell(row.case_reference), _cell(row.target),
                             _cell(row.ip_address),
                             _cell(json.dumps(row.details or {}, sort_keys=True,
                                              ensure_ascii=False)),
                             row.content_hash])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the headings of an empty export
        yield buffer.getvalue()


def export(actor: User, wanted: TrailQuery, zone: tzinfo) -> Iterator[str]:
    """The whole trail matching ``wanted`` (wherever a page started) as CSV
    text, read from the database chunk by chunk as it is sent. The export
    itself is recorded (who, which filters) and committed first."""
    wanted = replace(wanted, before=None)
    audit.record("audit.exported", actor=actor, filters=wanted.args())
    db.session.commit()
    return _csv(_all_rows(wanted, zone))
