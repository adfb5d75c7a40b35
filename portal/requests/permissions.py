"""Who may see, answer and review document requests. Requests are reached
only through the case the user may open (``get_case_or_404``), then
``get_request_or_404`` here."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.cases.permissions import can_manage_case, case_role
from portal.extensions import db
from portal.models import Case, DocumentRequest, DocumentVersion, User
from portal.models.case import CaseRole
from portal.permissions import deny, parse_uuid


def can_see_request(user: User, case: Case, document_request: DocumentRequest) -> bool:
    """The firm and the client see every request of the case (the client
    sees that a sponsor's request is done, never the sponsor's files); a
    sponsor sees only the requests addressed to them."""
    if user.is_firm:
        return True
    if document_request.addressee_id == user.id:
        return True
    if case_role(user, case) is CaseRole.CLIENT:
        return True
    return False


def can_upload_to(user: User, case: Case, document_request: DocumentRequest) -> bool:
    """The addressee answers a request, and any client of the case answers
    one addressed to a client (a relative may act for the beneficiary). The
    firm does not upload in the person's name; state is checked by the service."""
    if document_request.addressee_id == user.id:
        return True
    if case_role(user, case) is CaseRole.CLIENT:
        return case_role(document_request.addressee, case) is CaseRole.CLIENT
    return False


def can_review(user: User, case: Case) -> bool:
    """Creating, accepting, rejecting, waiving and re-opening requests: the
    case's attorney team."""
    if can_manage_case(user, case):
        return True
    return False


def visible_requests(user: User, case: Case, with_files: bool = False) -> list[DocumentRequest]:
    """The requests of ``case`` that ``user`` may see, oldest first, each
    with its addressee; ``with_files`` loads every file sent for them too
    (and who sent it), in one more query whatever their number."""
    query = (select(DocumentRequest).where(DocumentRequest.case_id == case.id)
             .options(selectinload(DocumentRequest.addressee))
             .order_by(DocumentRequest.created_at, DocumentRequest.id))
    if with_files:
        query = query.options(selectinload(DocumentRequest.versions)
                              .selectinload(DocumentVersion.uploaded_by))
    return [r for r in db.session.scalars(query) if can_see_request(user, case, r)]


def get_request_or_404(case: Case, request_uuid: str, user: User) -> DocumentRequest:
    """A request of ``case`` that ``user`` may see; 404 otherwise (audited)."""
    wanted = parse_uuid(request_uuid)
    document_request = db.session.scalar(select(DocumentRequest).where(
        DocumentRequest.uuid == wanted, DocumentRequest.case_id == case.id))
    if document_request is None or not can_see_request(user, case, document_request):
        deny(user, case, "request.access_denied", str(wanted), document_request is not None)
    return document_request
