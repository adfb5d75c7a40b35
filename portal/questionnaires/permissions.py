"""Who may read and answer a questionnaire's answers: the person it was
sent to (and, for one sent to the client, any client of the case, as for
documents: a relative may act for the beneficiary) and the case's attorney
team. Nobody else, not a sponsor for the client's, not the client for a
sponsor's. Reached through the case (``get_case_or_404``), then here."""
from __future__ import annotations

from portal.models import Case, DocumentRequest, User
from portal.models.request import QUESTIONNAIRE
from portal.permissions import deny
from portal.requests.permissions import can_review, can_upload_to, get_request_or_404


def can_answer(user: User, case: Case, request: DocumentRequest) -> bool:
    """Whether ``user`` answers ``request`` (the firm does not answer in the
    person's name; it changes an answer with a reason, ``can_review``)."""
    return request.kind == QUESTIONNAIRE and can_upload_to(user, case, request)


def can_read_answers(user: User, case: Case, request: DocumentRequest) -> bool:
    """Whether ``user`` may read the answers of ``request``."""
    if request.kind != QUESTIONNAIRE:
        return False
    if can_review(user, case):
        return True
    return can_answer(user, case, request)


def get_questionnaire_or_404(case: Case, request_uuid: str, user: User) -> DocumentRequest:
    """A questionnaire request of ``case`` whose answers ``user`` may read;
    404 otherwise (audited)."""
    request = get_request_or_404(case, request_uuid, user)
    if not can_read_answers(user, case, request):
        deny(user, case, "questionnaire.access_denied", str(request.uuid), True)
    return request
