"""Case types are data files; the two shipped types are complete."""
from __future__ import annotations

from portal.case_types import case_types, get_case_type


def test_both_shipped_case_types_load():
    assert set(case_types()) == {"humanitarian_parole", "visitor_visa_214b"}


def test_humanitarian_parole_has_the_stages_of_the_domain_primer(app):
    parole = get_case_type("humanitarian_parole")
    keys = [s.key for s in parole.stages]
    assert keys[0] == "intake" and keys[-1] == "closed"
    for stage in ("gathering_evidence", "filed", "receipt_received", "rfe", "decision", "paroled"):
        assert stage in keys
    assert parole.stage_index("filed") < parole.stage_index("receipt_received")
    assert str(parole.stage("rfe").title) == "Request for Evidence"


def test_checklists_address_clients_or_sponsors(app):
    parole = get_case_type("humanitarian_parole")
    assert len(parole.checklist) == 10
    assert {item.addressed_to for item in parole.checklist} == {"client", "sponsor"}
    assert any("I-134" in str(item.title) and item.addressed_to == "sponsor"
               for item in parole.checklist)
    for case_type in case_types().values():
        assert all(item.addressed_to in ("client", "sponsor") for item in case_type.checklist)
        assert all(stage.next for stage in case_type.stages)
