"""Golden cases: every rule and threshold of the specification, checked through ``mg.assess``."""

from __future__ import annotations

import pytest

import mgdecision as mg

from .golden import load_cases, mismatches

CASES = load_cases()


def test_there_are_enough_cases_and_each_names_rule_and_known_source():
    assert len(CASES) >= 80
    sources = mg.knowledge().sources
    for case in CASES:
        assert case.get("rule"), case["name"]
        assert case.get("source") in sources, f"{case['name']}: unknown source {case.get('source')!r}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['name']}" for c in CASES])
def test_golden_case(case):
    a = mg.assess(case["input"])
    assert mismatches(a, case["expect"]) == []


def _all_assessments():
    return [mg.assess(c["input"]) for c in CASES]


def test_every_risk_factor_is_exercised():
    texts = " ".join(r.text for a in _all_assessments() for r in a.risk.reasons)
    missing = [fid for fid, f in mg.knowledge().risk["factors"].items() if f["label"] not in texts]
    assert missing == []


def test_every_contraindication_rule_is_exercised():
    texts = " ".join(r.text for a in _all_assessments() for r in a.contraindication.reasons)
    rules = mg.knowledge().contraindications["rules"]
    missing = [rid for rid, rule in rules.items() if rule["text"] not in texts]
    assert missing == []


def test_every_interaction_row_is_exercised():
    actions = {i.action for a in _all_assessments() for i in a.interactions}
    wanted = [
        (iid, text)
        for iid, rule in mg.knowledge().interactions.items()
        for text in (rule["action"].values() if isinstance(rule["action"], dict) else [rule["action"]])
    ]
    missing = [(iid, text) for iid, text in wanted if text not in actions]  # every route's action too
    assert missing == []


def test_every_serum_unit_is_exercised():
    units = {a.patient.serum.unit for a in _all_assessments() if a.patient.serum}
    assert units == set(k for k in mg.knowledge().serum["units"] if k != "source")
