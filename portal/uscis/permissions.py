"""Who sees the USCIS panel and who records what is in it. Items are
reached only through the case the user may open (``get_case_or_404``)."""
from __future__ import annotations

from sqlalchemy import select

from portal.cases.permissions import can_manage_case, case_role
from portal.extensions import db
from portal.models import Case, CaseDeadline, ExpediteRequest, User
from portal.models.case import CaseRole
from portal.permissions import deny, parse_uuid


def can_track(user: User, case: Case) -> bool:
    """Recording USCIS news, dates and expedite requests: the case's attorney team."""
    if can_manage_case(user, case):
        return True
    return False


def can_see_uscis(user: User, case: Case) -> bool:
    """The receipt number, USCIS statuses, appointments, decision and parole
    period are the client's story: the firm and the client see them, a
    sponsor does not (a sponsor sees only the stage path)."""
    if user.is_firm:
        return True
    if case_role(user, case) is CaseRole.CLIENT:
        return True
    return False


def can_see_expedites(user: User, case: Case) -> bool:
    """Expedite requests (their grounds and notes) are the firm's working papers."""
    if user.is_firm:
        return True
    return False


def _of_case_or_404(model, case: Case, wanted_uuid: str, user: User):
    """The ``model`` row with ``wanted_uuid`` that belongs to ``case``; 404
    otherwise (audited), whether it is missing or another case's."""
    wanted = parse_uuid(wanted_uuid)
    row = db.session.scalar(select(model).where(model.uuid == wanted, model.case_id == case.id))
    if row is None:
        deny(user, case, "uscis.access_denied", str(wanted), False)
    return row


def get_deadline_or_404(case: Case, deadline_uuid: str, user: User) -> CaseDeadline:
    """A USCIS deadline or appointment of ``case``; 404 otherwise (audited)."""
    return _of_case_or_404(CaseDeadline, case, deadline_uuid, user)


def get_expedite_or_404(case: Case, expedite_uuid: str, user: User) -> ExpediteRequest:
    """An expedite request of ``case``; 404 otherwise (audited)."""
    return _of_case_or_404(ExpediteRequest, case, expedite_uuid, user)
