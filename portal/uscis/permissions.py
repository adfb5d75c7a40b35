"""USCIS items are reached only through the case the user may open
(``get_case_or_404``), then by their own case. Who sees the panel and who
records in it are the case's rules (``portal.cases.permissions``)."""
from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, CaseDeadline, ExpediteRequest, User
from portal.permissions import deny, parse_uuid


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
