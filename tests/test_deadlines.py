"""The one query of every dated item a case owes (agenda and dashboard both use it)."""
from __future__ import annotations

from datetime import date


from portal.cases.deadlines import deadlines, next_deadline_by_case
from portal.extensions import db
from portal.models import CaseDeadline, DeadlineKind, DocumentRequest, RequestState


def test_owed_requests_unmet_uscis_dates_and_the_parole_period_are_listed(app, make_user,
                                                                          make_case):
    client = make_user("client")
    case = make_case(client=client, parole_ends_on=date(2027, 6, 30))
    closed = make_case(client=client, parole_ends_on=date(2027, 1, 31), closed_on=date(2026, 11, 1))
    for state, due in [(RequestState.REQUESTED, date(2026, 12, 10)),
                       (RequestState.REJECTED, date(2026, 12, 5)),
                       (RequestState.SUBMITTED, date(2026, 12, 1)),  # the firm's move, not owed
                       (RequestState.ACCEPTED, date(2026, 12, 2))]:
        db.session.add(DocumentRequest(case=case, addressee=client, title="x", state=state,
                                       due_on=due, created_by=case.assigned_attorney))
    db.session.add_all([
        CaseDeadline(case=case, kind=DeadlineKind.RFE_RESPONSE, due_on=date(2027, 2, 1)),
        CaseDeadline(case=case, kind=DeadlineKind.BIOMETRICS, due_on=date(2026, 12, 20),
                     met_on=date(2026, 12, 20)),
        CaseDeadline(case=closed, kind=DeadlineKind.INTERVIEW, due_on=date(2026, 12, 3)),
    ])
    db.session.commit()

    rows = sorted((kind, due) for case_id, kind, due, _ in db.session.execute(deadlines()))
    assert rows == sorted([("document", date(2026, 12, 10)), ("document", date(2026, 12, 5)),
                           ("rfe_response", date(2027, 2, 1)),
                           ("parole_end", date(2027, 6, 30)),
                           ("reparole_file_by", date(2027, 4, 1))])  # 90 days before the end
    assert dict(db.session.execute(next_deadline_by_case()).all()) == {case.id: date(2026, 12, 5)}
