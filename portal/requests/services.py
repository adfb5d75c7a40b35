"""Request rules: create, answer (an upload), accept, reject, waive, re-open.

Every change writes a timeline event, an audit record and, where someone
must act, an outbox notice, all in one commit. Decisions move the state
with a conditional UPDATE, so of two reviewers deciding the same
submission at once one wins and the other is told the new state.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal import audit, notify
from portal.cases.permissions import case_role
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, DocumentRequest, DocumentVersion, RequestState, TimelineEvent, User
from portal.models.case import CaseRole
from portal.models.request import OPEN_STATES
from portal.models.types import utcnow
from portal.requests.permissions import can_review, can_upload_to

# The one label map of the states: forms, pages and messages read it.
STATE_LABELS = {
    RequestState.REQUESTED: _l("waiting for an upload"),
    RequestState.SUBMITTED: _l("received, to be reviewed"),
    RequestState.ACCEPTED: _l("accepted"),
    RequestState.REJECTED: _l("a new upload is needed"),
    RequestState.WAIVED: _l("no longer needed"),
}

# decision -> (states it may be taken from, state it leads to)
DECISIONS = {
    "accept": ((RequestState.SUBMITTED,), RequestState.ACCEPTED),
    "reject": ((RequestState.SUBMITTED,), RequestState.REJECTED),
    "waive": (OPEN_STATES, RequestState.WAIVED),
    "reopen": ((RequestState.ACCEPTED, RequestState.WAIVED), RequestState.REQUESTED),
}


class RequestClosed(ServiceError):
    """The request takes no upload (accepted, waived) or not from this person."""


class DecisionConflict(ServiceError):
    """Someone else changed the request first; ``state`` is what it is now."""

    def __init__(self, message, state: RequestState):
        super().__init__(message)
        self.state = state


def today_for(user: User) -> date:
    """Today's date where ``user`` lives (due dates are the person's days)."""
    try:
        zone = ZoneInfo(user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()


def is_overdue(document_request: DocumentRequest, user: User) -> bool:
    """Open and past its due date, in ``user``'s time zone."""
    return (document_request.is_open and document_request.due_on is not None
            and document_request.due_on < today_for(user))


def _client_language(case: Case) -> str:
    for membership in case.memberships:
        if membership.role is CaseRole.CLIENT:
            return membership.user.language
    return "en"


def _event(actor: User, case: Case, document_request: DocumentRequest, kind: str,
           client_text, internal_note: str = "") -> None:
    """A timeline event. ``client_text`` is a callable giving the sentence
    the client reads, rendered in the client's language, or None when the
    event is the firm's alone (a sponsor's request: the client is not told
    what the sponsor was asked for or why it was refused)."""
    text = ""
    if client_text is not None and case_role(document_request.addressee, case) is CaseRole.CLIENT:
        with force_locale(_client_language(case)):
            text = client_text()
    db.session.add(TimelineEvent(case=case, kind=kind, stage=case.stage, client_text=text,
                                 internal_note=internal_note, actor=actor))


def _case_link(case: Case) -> str:
    return notify.link(f"/cases/{case.uuid}")


def attorney_team(case: Case) -> list[User]:
    """The assigned attorney and the firm's people added to the case."""
    team = {m.user.id: m.user for m in case.memberships if m.user.is_firm}
    if case.assigned_attorney is not None:
        team.setdefault(case.assigned_attorney.id, case.assigned_attorney)
    return [user for user in team.values() if user.active]


def create_request(actor: User, case: Case, *, addressee: User, title: str, instructions: str,
                   due_on: date | None, required: bool) -> DocumentRequest:
    """Ask ``addressee`` (the case's client or one of its sponsors) for a
    document and tell them by email. Raises ``ServiceError`` when ``actor``
    is not on the case's attorney team, the addressee is not the client or a
    sponsor of the case, the title is empty or the due date is past."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if case_role(addressee, case) not in (CaseRole.CLIENT, CaseRole.SPONSOR):
        raise ServiceError(_l("A request goes to the client or a sponsor of this case."))
    if not title.strip():
        raise ServiceError(_l("Please give the request a title."))
    if due_on is not None and due_on < today_for(actor):
        raise ServiceError(_l("The due date is in the past. Please choose a later date."))
    document_request = DocumentRequest(case=case, addressee=addressee, title=title.strip(),
                                       instructions=instructions.strip(), due_on=due_on,
                                       required=required, created_by=actor,
                                       state=RequestState.REQUESTED)
    db.session.add(document_request)
    db.session.flush()
    # Translators: a timeline entry; %(title)s is the attorney's title of the request.
    _event(actor, case, document_request, "request.created",
           lambda: _("Your attorney asked for a document: %(title)s.", title=document_request.title),
           f"Request {document_request.title!r} sent to {addressee.name}.")
    audit.record("request.created", actor=actor, case=case, target=str(document_request.uuid),
                 addressee=str(addressee.uuid), required=required)
    notify.queue_request_new(addressee.email, addressee.language, _case_link(case))
    db.session.commit()
    return document_request


def check_upload(actor: User, case: Case, document_request: DocumentRequest) -> None:
    """Raise ``RequestClosed`` unless ``actor`` may upload to the request now
    (checked before any byte is read, so a refused upload stores nothing)."""
    if not can_upload_to(actor, case, document_request):
        raise RequestClosed(_l("This request is addressed to someone else."))
    if not document_request.is_open:
        raise RequestClosed(_l("This request is %(state)s, so it takes no more files.",
                               state=STATE_LABELS[document_request.state]))


def record_submission(actor: User, case: Case, document_request: DocumentRequest,
                      version: DocumentVersion) -> None:
    """Link an uploaded version to its request and move the request to
    ``submitted``, in the caller's transaction (the one writing the version).
    Raises ``RequestClosed`` when the request was accepted or waived while
    the file was streaming; the caller then rolls back and deletes the object."""
    check_upload(actor, case, document_request)
    previous = document_request.state
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == document_request.id, DocumentRequest.state.in_(OPEN_STATES))
        .values(state=RequestState.SUBMITTED)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise RequestClosed(_l("This request was closed while the file was being sent, so it "
                               "was not saved."))
    version.request = document_request
    document_request.state = RequestState.SUBMITTED
    audit.record("request.submitted", actor=actor, case=case, target=str(document_request.uuid),
                 version=str(version.uuid))
    if previous is not RequestState.SUBMITTED:
        # Translators: a timeline entry; %(title)s is the attorney's title of the request.
        _event(actor, case, document_request, "request.submitted",
               lambda: _("A file was sent for the request %(title)s.",
                         title=document_request.title))
        for member in attorney_team(case):
            notify.queue_request_submitted(member.email, member.language, _case_link(case))


def decide(actor: User, case: Case, document_request: DocumentRequest, decision: str,
           reason: str = "") -> DocumentRequest:
    """Accept, reject (``reason`` required; the person reads it), waive or
    re-open a request. Raises ``ServiceError`` when ``actor`` is not on the
    attorney team, the decision is unknown or a rejection has no reason, and
    ``DecisionConflict`` (audited) when the request is no longer in a state
    the decision applies to, typically because another reviewer was first."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if decision not in DECISIONS:
        raise ServiceError(_l("Please choose what to do with this request."))
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise ServiceError(_l("Please say why the file is rejected: the person will read it."))
    sources, target = DECISIONS[decision]
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == document_request.id, DocumentRequest.state.in_(sources))
        .values(state=target, decided_by_id=actor.id, decided_at=utcnow(),
                rejection_reason=reason if decision == "reject" else None)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        db.session.refresh(document_request)
        audit.record("request.decision_conflict", actor=actor, case=case,
                     target=str(document_request.uuid), decision=decision,
                     state=document_request.state.value)
        db.session.commit()
        raise DecisionConflict(_l("This request is now %(state)s; nothing was changed.",
                                  state=STATE_LABELS[document_request.state]),
                               document_request.state)
    title = document_request.title
    texts = {
        # Translators: timeline entries; %(title)s is the attorney's title of the request.
        "accept": lambda: _("Your attorney accepted the document for %(title)s.", title=title),
        "reject": lambda: _("Your attorney needs a new file for %(title)s.", title=title),
        "waive": lambda: _("The document %(title)s is no longer needed.", title=title),
        "reopen": lambda: _("Your attorney asked again for %(title)s.", title=title),
    }
    _event(actor, case, document_request, f"request.{decision}", texts[decision],
           f"Reason: {reason}" if reason else "")
    audit.record(f"request.{decision}", actor=actor, case=case,
                 target=str(document_request.uuid), reason=reason or None)
    addressee = document_request.addressee
    if decision in ("reject", "reopen"):
        notify.queue_request_returned(addressee.email, addressee.language, _case_link(case))
    db.session.commit()
    db.session.refresh(document_request)
    return document_request


@dataclass(frozen=True)
class Completeness:
    """Required requests accepted, of those still required (waived ones drop out)."""

    accepted: int
    required: int


def completeness(case: Case) -> Completeness:
    """How many of the case's required requests are accepted."""
    rows = dict(db.session.execute(
        select(DocumentRequest.state, func.count()).where(
            DocumentRequest.case_id == case.id, DocumentRequest.required.is_(True),
            DocumentRequest.state != RequestState.WAIVED)
        .group_by(DocumentRequest.state)).all())
    return Completeness(rows.get(RequestState.ACCEPTED, 0), sum(rows.values()))
