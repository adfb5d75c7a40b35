"""The case type's default checklist, proposed when the attorney starts
collecting evidence: each client item once, each sponsor item once per
sponsor (every sponsor files their own I-134). The attorney edits the
proposal and sends it with ``services.send_requests``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.case_types import get_case_type
from portal.extensions import db
from portal.models import Case, DocumentRequest, RequestState, User
from portal.models.case import CaseRole


@dataclass(frozen=True)
class Proposal:
    """One row of the proposed checklist. Texts are the English source
    wording: stored as is, each person reads them in their own language."""

    title: str
    instructions: str
    addressee: User | None  # None: nobody of that kind has joined the case yet
    already_asked: bool  # an earlier request to this person has the same title


def propose(case: Case) -> list[Proposal]:
    """The default checklist of ``case``'s type, addressed to its people."""
    people = {CaseRole.CLIENT: [], CaseRole.SPONSOR: []}
    for membership in case.memberships:
        if membership.role in people and membership.user.active:
            people[membership.role].append(membership.user)
    asked = set(db.session.execute(select(DocumentRequest.addressee_id, DocumentRequest.title)
                                   .where(DocumentRequest.case_id == case.id,
                                          DocumentRequest.state != RequestState.WAIVED)).all())
    rows = []
    for item in get_case_type(case.case_type).checklist:
        if item.addressed_to == "sponsor":
            addressees = people[CaseRole.SPONSOR]
        else:  # a case has one client; a relative acting for them shares the requests
            addressees = people[CaseRole.CLIENT][:1]
        for addressee in addressees or [None]:
            rows.append(Proposal(item.source_title, item.source_instructions, addressee,
                                 addressee is not None
                                 and (addressee.id, item.source_title) in asked))
    return rows
