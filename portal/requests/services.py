"""Request rules: create, answer (an upload), accept, reject, waive, re-open.

Every change writes a timeline event, an audit record and, where someone
must act, an outbox notice, all in one commit. Decisions move the state
with a conditional UPDATE, so of two reviewers deciding the same
submission at once one wins and the other is told the new state.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select, update

from portal import audit, notify
from portal.cases import stages, timeline
from portal.cases.permissions import case_role
from portal.errors import ServiceError
from portal.extensions import db
from portal.i18n import today_for
from portal.models import Case, DocumentRequest, DocumentVersion, RequestState, TimelineEvent, User
from portal.models.case import CaseRole
from portal.models.request import DOCUMENT, OPEN_STATES, QUESTIONNAIRE, SIGNATURE
from portal.models.types import utcnow
from portal.requests.permissions import can_review, can_upload_to

# The one label map of the states: forms, pages and messages read it.
STATE_LABELS = {
    RequestState.REQUESTED: _l("waiting for an upload"),
    RequestState.SUBMITTED: _l("received, to be reviewed"),
    RequestState.ACCEPTED: _l("accepted"),
    RequestState.REJECTED: _l("a new upload is needed"),
    RequestState.WAIVED: _l("no longer needed"),
    RequestState.DECLINED: _l("declined"),
}
# Where a questionnaire's or a signature's state reads differently.
KIND_LABELS = {
    (QUESTIONNAIRE, RequestState.REQUESTED): _l("waiting for answers"),
    (QUESTIONNAIRE, RequestState.SUBMITTED): _l("answers received, to be reviewed"),
    (QUESTIONNAIRE, RequestState.REJECTED): _l("some answers need correcting"),
    (QUESTIONNAIRE, RequestState.ACCEPTED): _l("answers accepted"),
    (SIGNATURE, RequestState.REQUESTED): _l("waiting for a signature"),
    (SIGNATURE, RequestState.ACCEPTED): _l("signed"),
}


def state_label(document_request: DocumentRequest) -> str:
    """The request's state in the reader's words, for its kind."""
    key = (document_request.kind, document_request.state)
    return str(KIND_LABELS.get(key, STATE_LABELS[document_request.state]))

# decision -> (states it may be taken from, state it leads to)
DECISIONS = {
    "accept": ((RequestState.SUBMITTED,), RequestState.ACCEPTED),
    "reject": ((RequestState.SUBMITTED,), RequestState.REJECTED),
    "waive": (OPEN_STATES, RequestState.WAIVED),
    "reopen": ((RequestState.ACCEPTED, RequestState.WAIVED), RequestState.REQUESTED),
}
# A questionnaire's answers are reviewed on their own page, and a signature
# is the person's act: neither is accepted or rejected here, and a signed
# document is not asked again (a declined one may be).
OTHER_KINDS_DECISIONS = {
    "waive": (OPEN_STATES, RequestState.WAIVED),
    "reopen": ((RequestState.WAIVED, RequestState.DECLINED), RequestState.REQUESTED),
}


class RequestClosed(ServiceError):
    """The request takes no upload (accepted, waived) or not from this person."""


class InvalidItem(ServiceError):
    """One of the items to send is refused; ``item`` is its 0-based position."""

    def __init__(self, message, item: int):
        super().__init__(message)
        self.item = item


class DecisionConflict(ServiceError):
    """Someone else changed the request first; ``state`` is what it is now."""

    def __init__(self, message, state: RequestState):
        super().__init__(message)
        self.state = state


def is_overdue(document_request: DocumentRequest, user: User) -> bool:
    """Still owed by the addressee and past its due date, in ``user``'s time zone."""
    return (document_request.is_owed and document_request.due_on is not None
            and document_request.due_on < today_for(user))


def _client_language(case: Case) -> str:
    for membership in case.memberships:
        if membership.role is CaseRole.CLIENT:
            return membership.user.language
    return "en"


def record_event(actor: User, case: Case, document_request: DocumentRequest, kind: str,
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
                                 internal_note=internal_note, actor=actor,
                                 client_visible=bool(text)))


def case_link(case: Case) -> str:
    return notify.link(f"/cases/{case.uuid}")


def attorney_team(case: Case) -> list[User]:
    """The firm's active people on the case's team (``portal.cases.team``):
    who hears of its news. Someone taken off the team stops hearing."""
    return [m.user for m in case.memberships if m.user.is_firm and m.user.active]


@dataclass(frozen=True)
class NewRequest:
    """What the attorney asks of one person (a checklist row or a one-off)."""

    addressee: User
    title: str
    instructions: str = ""
    due_on: date | None = None
    required: bool = True


def _check_new(actor: User, case: Case, new: NewRequest) -> None:
    if case_role(new.addressee, case) not in (CaseRole.CLIENT, CaseRole.SPONSOR):
        raise ServiceError(_l("A request goes to the client or a sponsor of this case."))
    if not new.title.strip():
        raise ServiceError(_l("Please give the request a title."))
    if new.due_on is not None and new.due_on < today_for(actor):
        raise ServiceError(_l("The due date is in the past. Please choose a later date."))


def send_requests(actor: User, case: Case, items: list[NewRequest], move_to: str | None = None,
                  seen_version: int | None = None) -> list[DocumentRequest]:
    """Ask the case's client and sponsors for documents in one step (a
    checklist, or a single request): one commit, one audit record per
    request, and one email per addressee however many requests they got.
    With ``move_to``, the case moves to that stage in the same commit (the
    first checklist sent at intake starts the gathering of evidence): the
    client reads it on the timeline, with no email besides the requests' if
    they were asked for something.

    Raises ``ServiceError`` (nothing saved) when ``actor`` is not on the
    case's attorney team, there is nothing to send, or any item is invalid:
    an addressee who is not the client or a sponsor of the case, an empty
    title or a due date in the past (``InvalidItem``, which names the item);
    for ``move_to`` a stage the type lacks or the case is at, and
    ``CaseChanged`` if the case changed since ``seen_version``."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if not items:
        raise ServiceError(_l("Nothing was selected to send."))
    for position, item in enumerate(items):
        try:
            _check_new(actor, case, item)
        except ServiceError as error:
            raise InvalidItem(error.message, position) from None
    if move_to is not None:
        stages.check_move(actor, case, move_to, seen_version)
    created = [DocumentRequest(case=case, addressee=item.addressee, title=item.title.strip(),
                               instructions=item.instructions.strip(), due_on=item.due_on,
                               required=item.required, created_by=actor,
                               state=RequestState.REQUESTED) for item in items]
    db.session.add_all(created)
    db.session.flush()
    for document_request in created:
        audit.record("request.created", actor=actor, case=case, target=str(document_request.uuid),
                     addressee=str(document_request.addressee.uuid),
                     required=document_request.required)
    _announce(actor, case, created)
    for addressee in {r.addressee.id: r.addressee for r in created}.values():
        notify.queue_request_new(addressee.email, addressee.language, case_link(case))
    if move_to is None:
        db.session.commit()
        return created

    # A client asked for documents has an email already; one who was not is told of the move.
    asked_client = any(case_role(r.addressee, case) is CaseRole.CLIENT for r in created)

    def move():
        data = stages.set_stage(actor, case, move_to)
        timeline.add_event(actor, case, "stage_changed", data=data,
                           notify_clients=not asked_client)

    stages.commit_change(case, move)
    return created


def _announce(actor: User, case: Case, created: list[DocumentRequest]) -> None:
    """One timeline event for what was asked at once; the client reads it
    when something was asked of a client."""
    to_client = [r for r in created if case_role(r.addressee, case) is CaseRole.CLIENT]
    if len(to_client) == 1:
        only = to_client[0]
        # Translators: a timeline entry; %(title)s is the title of the request.
        text = lambda: _("Your attorney asked for a document: %(title)s.",  # noqa: E731
                         title=only.display_title)
    else:
        # Translators: a timeline entry when several documents were asked for at once.
        text = lambda: ngettext("Your attorney asked for %(num)d document.",  # noqa: E731
                                "Your attorney asked for %(num)d documents.", len(to_client))
    note = "; ".join(f"{r.title!r} to {r.addressee.name}" for r in created)
    record_event(actor, case, to_client[0] if to_client else created[0], "request.created",
                 text if to_client else None, f"Requested: {note}.")


def create_request(actor: User, case: Case, *, addressee: User, title: str, instructions: str,
                   due_on: date | None, required: bool) -> DocumentRequest:
    """Ask ``addressee`` for one document; see ``send_requests``."""
    return send_requests(actor, case, [NewRequest(addressee, title, instructions, due_on,
                                                  required)])[0]


def check_upload(actor: User, case: Case, document_request: DocumentRequest) -> None:
    """Raise ``RequestClosed`` unless ``actor`` may upload to the request now
    (checked before any byte is read, so a refused upload stores nothing)."""
    if not can_upload_to(actor, case, document_request):
        raise RequestClosed(_l("This request is addressed to someone else."))
    if not document_request.is_open:
        raise RequestClosed(_l("This request is %(state)s, so it takes no more files.",
                               state=state_label(document_request)))


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
        record_event(actor, case, document_request, "request.submitted",
                     lambda: _("A file was sent for the request %(title)s.",
                               title=document_request.display_title))
        for member in attorney_team(case):
            notify.queue_request_submitted(member.email, member.language, case_link(case))


def _conflict(actor: User, case: Case, document_request: DocumentRequest, decision: str) -> None:
    """Record that ``decision`` came too late (the request or its file changed first)."""
    audit.record("request.decision_conflict", actor=actor, case=case,
                 target=str(document_request.uuid), decision=decision,
                 state=document_request.state.value)
    db.session.commit()


def decide(actor: User, case: Case, document_request: DocumentRequest, decision: str,
           reason: str = "", seen: str | None = None) -> DocumentRequest:
    """Accept, reject (``reason`` required; the person reads it), waive or
    re-open a request. ``seen`` is the UUID of the newest file the reviewer
    had in front of them ("" for none; None when not known). Raises
    ``ServiceError`` when ``actor`` is not on the attorney team, the
    decision is unknown or a rejection has no reason, and
    ``DecisionConflict`` (audited) when the request is no longer in a state
    the decision applies to, typically because another reviewer was first,
    or a newer file arrived than the one seen (a decision is on a file)."""
    if not can_review(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    decisions = DECISIONS if document_request.kind == DOCUMENT else OTHER_KINDS_DECISIONS
    if decision not in decisions:
        raise ServiceError(_l("Please choose what to do with this request."))
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise ServiceError(_l("Please say why the file is rejected: the person will read it."))
    sources, target = decisions[decision]
    newest = str(document_request.versions[-1].uuid) if document_request.versions else ""
    if decision == "accept" and document_request.versions \
            and not document_request.versions[-1].scan_state.cleared:
        raise ServiceError(_l("This file has not passed the virus check, so it cannot be "
                              "accepted."))
    # A state the decision no longer applies to is reported as such (below).
    if seen is not None and seen != newest and document_request.state in sources:
        _conflict(actor, case, document_request, decision)
        raise DecisionConflict(_l("A new file arrived for this request after you loaded the "
                                  "page; nothing was changed. Look at it before you decide."),
                               document_request.state)
    moved = db.session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id == document_request.id, DocumentRequest.state.in_(sources))
        .values(state=target, decided_by_id=actor.id, decided_at=utcnow(),
                rejection_reason=reason if decision == "reject" else None)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        db.session.refresh(document_request)
        _conflict(actor, case, document_request, decision)
        raise DecisionConflict(_l("This request is now %(state)s; nothing was changed.",
                                  state=state_label(document_request)),
                               document_request.state)
    title = document_request.display_title  # read in the client's language below
    texts = {
        # Translators: timeline entries; %(title)s is the attorney's title of the request.
        "accept": lambda: _("Your attorney accepted the document for %(title)s.", title=title),
        "reject": lambda: _("Your attorney needs a new file for %(title)s.", title=title),
        "waive": lambda: _("The document %(title)s is no longer needed.", title=title),
        "reopen": lambda: _("Your attorney asked again for %(title)s.", title=title),
    }
    record_event(actor, case, document_request, f"request.{decision}", texts[decision],
                 f"Reason: {reason}" if reason else "")
    audit.record(f"request.{decision}", actor=actor, case=case,
                 target=str(document_request.uuid), reason=reason or None)
    addressee = document_request.addressee
    if decision in ("reject", "reopen"):
        notify.queue_request_returned(addressee.email, addressee.language, case_link(case))
    db.session.commit()
    db.session.refresh(document_request)
    return document_request


@dataclass(frozen=True)
class Completeness:
    """Required requests accepted, of those still required (waived ones drop out)."""

    accepted: int
    required: int


def completeness_by_case(case_ids: list[int]) -> dict[int, Completeness]:
    """How many required requests are accepted, for each of ``case_ids``, in
    one grouped query: the one place the rule is written (the case page and
    the firm's dashboard both read it). Cases with no required request are
    left out."""
    rows = db.session.execute(
        select(DocumentRequest.case_id,
               func.count().filter(DocumentRequest.state == RequestState.ACCEPTED), func.count())
        .where(DocumentRequest.case_id.in_(case_ids), DocumentRequest.required.is_(True),
               DocumentRequest.kind == DOCUMENT,
               DocumentRequest.state.not_in((RequestState.WAIVED, RequestState.DECLINED)))
        .group_by(DocumentRequest.case_id))
    return {case_id: Completeness(accepted, required) for case_id, accepted, required in rows}


def completeness(case: Case) -> Completeness:
    """How many of the case's required requests are accepted."""
    return completeness_by_case([case.id]).get(case.id, Completeness(0, 0))
