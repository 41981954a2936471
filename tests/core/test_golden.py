"""Golden cases: every rule and threshold of the specification, checked through ``mg.assess``."""

from __future__ import annotations

from dataclasses import replace

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


def _fake_assessment():
    """A stand-in assessment with one of everything the expectation keys look at."""
    from types import SimpleNamespace

    from mgdecision.models import Card, Problem

    row = {c: "" for c in mg.COLUMNS} | {
        "mg_risk": "MODERATE",
        "mg_dose_status": "CHECK_SERUM",
        "mg_dose": "measure serum magnesium (with potassium and calcium) now: omeprazole",
        "mg_reasons": "Risk: Moderate - proton pump inhibitor: omeprazole (+2) [FDA PPI 2011]"
        " | Dose: Measure serum first",
    }
    cards = (
        Card("info", "CHECK_SERUM: measure serum magnesium now", "review the need for the PPI", "", "", "dose"),
        Card(
            "warning",
            "Caution: potassium-sparing diuretic with reduced kidney…",
            "- potassium-sparing diuretic with reduced kidney function: both raise serum magnesium",
            "",
            "",
            "contraindication",
        ),
    )
    return SimpleNamespace(
        row=lambda: row,
        cards=cards,
        contraindication=SimpleNamespace(rules=("k_sparing_renal",)),
        problems=(Problem("serum_mg", "0.6", "unit_missing", "no unit"),),
        unrecognized=("xyz",),
    )


def test_the_new_expectation_keys_pass_and_fail():
    a = _fake_assessment()
    passing = {
        "fired_contains": ["k_sparing_renal"],
        "fired_not_contains": ["renal_severe"],
        "problem_codes_contains": ["unit_missing"],
        "card_contains": ["info", "review the need for the PPI", "dose"],
        "no_card_contains": "REFER",
        "dose_card": ["info", "measure serum magnesium"],
        "summaries_whole_words": True,
        "mg_reasons_max_len": 400,
        "reasons_unique": True,
        "text_contains": ["with potassium and calcium", "review the need"],
        "text_not_contains": "stop if diarrhoea",
        "unrecognized_not_contains": "omeprazole",
        "mg_dose_startswith": "Measure serum magnesium",
        "mg_dose_contains_any": ["PPI", "omeprazole"],
    }
    assert mismatches(a, passing) == []
    failing = {
        "fired_contains": ["renal_severe"],
        "fired_not_contains": ["k_sparing_renal"],
        "problem_codes_contains": ["date_ambiguous"],
        "card_contains": ["info", "review the need for the PPI", "interaction"],
        "no_card_contains": "CHECK_SERUM",
        "dose_card": ["warning", "measure serum magnesium"],
        "mg_reasons_max_len": 20,
        "text_contains": "stop if diarrhoea",
        "text_not_contains": ["review the need"],
        "unrecognized_not_contains": "xyz",
        "mg_dose_startswith": "serum",
        "mg_dose_contains_any": ["furosemide"],
        "mg_doze_startswith": "x",
    }
    found = mismatches(a, failing)
    assert len(found) == len(failing) and all(any(key in m for m in found) for key in failing)
    cut = _fake_assessment()  # a summary cut inside a word no full text holds whole
    cut.cards = (cut.cards[0], replace(cut.cards[1], summary="Caution: potassium-sparing diuretic with redu…"))
    assert [m.split(":")[0] for m in mismatches(cut, {"summaries_whole_words": True})] == ["summaries_whole_words"]
    said_twice = _fake_assessment()
    twice = said_twice.row()["mg_reasons"] + "; proton pump inhibitor: omeprazole (+2) [FDA PPI 2011]"
    said_twice.row = lambda: {**a.row(), "mg_reasons": twice}
    assert [m.split(":")[0] for m in mismatches(said_twice, {"reasons_unique": True})] == ["reasons_unique"]
