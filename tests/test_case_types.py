"""Case types are data files; the two shipped types are complete."""
from __future__ import annotations

import dataclasses

import pytest

from portal.case_types import _check, case_types, get_case_type


def test_both_shipped_case_types_load():
    assert set(case_types()) == {"humanitarian_parole", "visitor_visa_214b"}


def test_humanitarian_parole_has_the_stages_of_the_domain_primer(app):
    parole = get_case_type("humanitarian_parole")
    keys = [s.key for s in parole.stages]
    assert keys[0] == "intake" and keys[-1] == "closed"
    for stage in ("gathering_evidence", "filed", "receipt_received", "rfe", "decision", "paroled"):
        assert stage in keys
    steps = [s.key for s in parole.steps]
    assert steps.index("filed") < steps.index("receipt_received") < steps.index("paroled")
    assert str(parole.stage("rfe").title) == "Request for Evidence"
    # The RFE leaves the path and comes back; denied and closed end it.
    assert "rfe" not in steps and parole.stage("rfe").returns_to == "receipt_received"
    assert {s.key for s in parole.stages if s.kind == "ending"} == {"denied", "closed"}
    assert [s.key for s in parole.stages if s.closes] == ["closed"]


def states(path):
    return [(step.stage.key, step.state) for step in path]


def test_path_on_a_step_shows_done_current_and_what_normally_comes_next(app):
    parole = get_case_type("humanitarian_parole")
    path = states(parole.path("filed"))
    assert path[:4] == [("intake", "done"), ("gathering_evidence", "done"),
                        ("preparing_filing", "done"), ("filed", "current")]
    assert path[4:] == [("receipt_received", "ahead"), ("decision", "ahead"),
                        ("travel", "ahead"), ("paroled", "ahead")]


def test_path_on_the_rfe_detour_sits_after_the_step_it_leaves_and_keeps_the_rest_ahead(app):
    path = states(get_case_type("humanitarian_parole").path("rfe"))
    assert path[4:7] == [("receipt_received", "done"), ("rfe", "current"), ("decision", "ahead")]
    assert ("denied", "ahead") not in path and ("closed", "ahead") not in path


def test_path_of_a_denied_case_is_not_fuller_than_a_paroled_one(app):
    parole = get_case_type("humanitarian_parole")
    visited = {"intake", "gathering_evidence", "preparing_filing", "filed", "receipt_received"}
    denied = states(parole.path("denied", visited))
    assert denied[-1] == ("denied", "current")
    assert [key for key, state in denied if state == "done"][-1] == "receipt_received"
    assert not any(state == "ahead" for _, state in denied)
    paroled = states(parole.path("paroled"))
    assert sum(state == "done" for _, state in denied) < sum(state == "done" for _, state in paroled)


def test_a_definition_whose_stages_do_not_form_a_path_is_refused(app):
    parole = get_case_type("humanitarian_parole")
    lost = dataclasses.replace(parole.stage("rfe"), returns_to="nowhere")
    broken = dataclasses.replace(parole, stages=parole.stages[:-1] + (lost,))
    with pytest.raises(ValueError, match="detour must return to a step"):
        _check(broken)
    closing_step = dataclasses.replace(parole.stage("intake"), closes=True)
    with pytest.raises(ValueError, match="only an ending closes"):
        _check(dataclasses.replace(parole, stages=(closing_step,) + parole.stages[1:]))


def test_checklists_address_clients_or_sponsors(app):
    parole = get_case_type("humanitarian_parole")
    assert len(parole.checklist) == 10
    assert {item.addressed_to for item in parole.checklist} == {"client", "sponsor"}
    assert any("I-134" in str(item.title) and item.addressed_to == "sponsor"
               for item in parole.checklist)
    for case_type in case_types().values():
        assert all(item.addressed_to in ("client", "sponsor") for item in case_type.checklist)
        assert all(stage.next for stage in case_type.stages)
