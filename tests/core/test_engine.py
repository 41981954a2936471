"""One engine: a rule change is a data edit that changes the row and the table execution alike.

Each test edits a copy of the knowledge folder, builds ``Engine(folder)`` and runs both executions on the
snapshot's targeted combinations and golden cases; the shipped engine is the reference the change is measured
against.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mgdecision as mg
from mgdecision.engine import Engine, default_engine
from mgdecision.engine.expr import NAMED_FORMATS
from mgdecision.errors import KnowledgeError
from mgdecision.frame import iter_assessments
from mgdecision.kb import load_knowledge
from mgdecision.kidney import egfr_ckd_epi_2021

from . import snapshot
from .golden import load_cases, mismatches

KNOWLEDGE = Path(mg.__file__).parent / "knowledge"
ROWS = pd.concat(
    [
        pd.DataFrame([c["input"] for c in load_cases()], dtype=object),
        pd.DataFrame(snapshot.targeted(3_000, seed=23), dtype=object),
    ],
    ignore_index=True,
)


def _edited(tmp_path: Path, edits: dict[str, Callable[[str], str]]) -> Engine:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    for name, edit in edits.items():
        path = folder / name
        before = path.read_text(encoding="utf-8")
        after = edit(before)
        assert after != before, f"the edit of {name} changed nothing"
        path.write_text(after, encoding="utf-8")
    return Engine(folder)


def _both(engine: Engine, df: pd.DataFrame = ROWS) -> list[list[object]]:
    """Every output column by the row execution, checked equal to the table execution's."""
    assessed = list(iter_assessments(df, as_of=snapshot.AS_OF, engine=engine))
    rows = [list(a.row_values()) for a in assessed]
    table = engine.assess_frame(df, as_of=snapshot.AS_OF)[list(mg.COLUMNS)]
    framed = [[None if isinstance(v, float) and np.isnan(v) else v for v in r] for r in table.itertuples(index=False)]
    same = [None if isinstance(v, float) and np.isnan(v) else v for r in rows for v in r]
    assert same == [v for r in framed for v in r], "the row and the table execution differ"
    return [[*r, a.reasons_text()] for r, a in zip(rows, assessed, strict=True)]  # with the uncapped reasons


REFERENCE = _both(default_engine())


def _changed(outputs: list[list[object]]) -> set[int]:
    return {i for i, (a, b) in enumerate(zip(outputs, REFERENCE, strict=True)) if a != b}


def _column(outputs: list[list[object]], name: str) -> list[object]:
    """An output column; "mg_reasons" in full (the cell is capped at 400 characters)."""
    k = -1 if name == "mg_reasons" else mg.COLUMNS.index(name)
    return [r[k] for r in outputs]


def test_an_engine_on_an_unchanged_copy_gives_the_shipped_answers(tmp_path):
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    assert _both(Engine(folder)) == REFERENCE


def test_moving_a_rule_changes_both_executions_alike(tmp_path):
    """The dialysis trigger moved before the eGFR triggers: rows with both list 'dialysis' first."""
    egfr = '  { rule = "renal_severe", when = "egfr < renal.severe_below'
    dialysis = '  { rule = "renal_severe", when = "dialysis and not iv_therapy", detail = "dialysis" },\n'

    def move(text: str) -> str:
        text = text.replace(dialysis, "")
        return text.replace(egfr, dialysis + egfr)

    outputs = _both(_edited(tmp_path, {"rules.toml": move}))
    changed = _changed(outputs)
    assert changed
    reasons = _column(outputs, "mg_reasons")
    for i in changed:
        assert "dialysis; eGFR" in str(reasons[i]) or "dialysis; CKD stage" in str(reasons[i]), reasons[i]
    before = re.compile(r"(below 30|CKD stage G[45]); dialysis\)")
    expected = {i for i, r in enumerate(_column(REFERENCE, "mg_reasons")) if before.search(str(r))}
    assert changed == expected


EGFR = NAMED_FORMATS["egfr"]  # an eGFR as the texts show it


def _egfr(p: mg.Patient) -> float | None:
    if p.egfr is not None or p.creatinine_mg_dl is None or p.age is None or p.sex not in ("F", "M"):
        return p.egfr
    return egfr_ckd_epi_2021(p.creatinine_mg_dl, p.age, p.sex)


def test_changing_a_threshold_changes_both_executions_alike(tmp_path):
    """Severe renal impairment below 20 instead of 30: eGFR 20-29 become moderate, and the texts read 20."""
    outputs = _both(
        _edited(
            tmp_path,
            {"contraindications.toml": lambda t: t.replace("severe_below = 30", "severe_below = 20")},
        )
    )
    changed = _changed(outputs)
    assert changed
    shipped = list(iter_assessments(ROWS, as_of=snapshot.AS_OF))
    egfr = [_egfr(a.patient) for a in shipped]  # as read ("45 mL/min/1.73m2" is 45), or from the creatinine
    reasons = _column(outputs, "mg_reasons")
    assert any("eGFR 29 (20-59)" in str(reasons[i]) for i in changed)
    for i in changed:
        assert egfr[i] is not None and float(egfr[i]) < 60, (egfr[i], reasons[i])
    for i in changed:
        if "iv_renal" in shipped[i].contraindication.rules:  # on IV magnesium therapy (9.3): a caution either way
            continue
        if 20 <= float(egfr[i]) < 30:  # was severe by the eGFR, now moderate
            assert "renal_severe" in shipped[i].contraindication.rules
            assert f"eGFR {EGFR(egfr[i])} (20-59)" in str(reasons[i])
        elif float(egfr[i]) < 20:
            assert f"eGFR {EGFR(egfr[i])} below 20" in str(reasons[i])


def test_changing_a_text_changes_both_executions_alike(tmp_path):
    old = "pregnant, route iv"
    outputs = _both(
        _edited(tmp_path, {"rules.toml": lambda t: t.replace(f'detail = "{old}"', 'detail = "iv in pregnancy"')})
    )
    changed = _changed(outputs)
    assert changed
    reasons = _column(outputs, "mg_reasons")
    assert all("(iv in pregnancy" in str(reasons[i]) or "; iv in pregnancy" in str(reasons[i]) for i in changed)
    assert not any(old in str(r) for r in reasons)


def test_changing_a_risk_band_changes_both_executions_alike(tmp_path):
    outputs = _both(_edited(tmp_path, {"risk.toml": lambda t: t.replace("high_from = 4", "high_from = 5")}))
    before, after = _column(REFERENCE, "mg_risk"), _column(outputs, "mg_risk")
    moved = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert moved and all(a == "HIGH" and b == "MODERATE" for a, b in moved)


def test_a_new_caution_rule_needs_only_the_knowledge_and_a_golden_case(tmp_path):
    rule = (
        '\n[rules.very_old_low_egfr]\nlevel = "CAUTION"\n'
        'text = "age 80 or over with an eGFR below 45: start low and check serum magnesium after a week"\n'
        'source = ["magnaspartate_smpc"]\n'
    )
    trigger = (
        '  { rule = "very_old_low_egfr", when = "age >= 80 and egfr < 45", detail = "age {age:g}, eGFR {egfr:g}" },\n'
    )
    engine = _edited(
        tmp_path,
        {
            "contraindications.toml": lambda t: t + rule,
            "rules.toml": lambda t: t.replace(
                'detail = "pregnant, route iv" },\n', 'detail = "pregnant, route iv" },\n' + trigger, 1
            ),
        },
    )
    case = {
        "input": {"age": 84, "sex": "F", "egfr": 40, "serum_mg": "0.8 mmol/L", "medications": "omeprazole"},
        "expect": {
            "mg_contraindication": "CAUTION",
            "fired": ["renal_moderate", "very_old_low_egfr"],
            "text_contains": "start low and check serum magnesium after a week (age 84, eGFR 40)",
        },
    }
    row = engine.assess(case["input"], as_of=snapshot.AS_OF)
    assert mismatches(row, case["expect"]) == []
    framed = engine.assess_frame(pd.DataFrame([case["input"]]), as_of=snapshot.AS_OF).iloc[0]
    assert [framed[c] for c in mg.COLUMNS if c not in ("mg_dose_min_mg", "mg_dose_max_mg")] == [
        row.row()[c] for c in mg.COLUMNS if c not in ("mg_dose_min_mg", "mg_dose_max_mg")
    ]
    assert mg.assess(case["input"]).contraindication.rules == ("renal_moderate",)  # the shipped engine is unchanged
    outputs = _both(engine)
    assert all(
        "very_old_low_egfr" not in str(r) for r in _column(outputs, "mg_reasons")
    )  # the rule id is never shown, its text is
    assert _changed(outputs)


DIALYSIS = 'when = "dialysis and not iv_therapy"'  # a trigger condition the edits below replace


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace(DIALYSIS, 'when = "dialysis and __import__"'), "cannot read"),
        (lambda t: t.replace(DIALYSIS, 'when = "dialysis("'), "rule condition"),
        (lambda t: t.replace(DIALYSIS, 'when = "fired(no_such_rule)"'), "cannot read"),
        (lambda t: t.replace(DIALYSIS, 'when = "egfr < renal.no_such"'), "unknown constant"),
        (lambda t: t.replace(DIALYSIS, 'when = "eval(x)"'), "unknown function"),
        (lambda t: t.replace('rule = "pregnancy_iv"', 'rule = "no_such_rule"'), "unknown rule"),
        (lambda t: t.replace('detail = "dialysis"', 'detail = "{p.__class__}"'), "unknown constant"),
        (lambda t: t.replace('detail = "dialysis"', 'detail = "{egfr!r}"'), "only"),
        (lambda t: t.replace('detail = "dialysis"', 'detail = "{secret}"'), "names"),
        (lambda t: t.replace('{ when = "true", level = "LOW" },', ""), "last band"),
        (
            lambda t: t.replace(
                '{ when = "serum_below", level = "HIGH" }', '{ when = "contra == \'CAUTION\'", level = "HIGH" }'
            ),
            "cannot read",
        ),
        (
            lambda t: t.replace('{ slot = "capped", when', "{ slot = \"__import__('os')\", when"),
            "must place exactly",
        ),
        (lambda t: t.replace('  { slot = "capped", when = "not unknown" },\n', ""), "must place exactly"),
        (lambda t: t.replace('status = "RECOMMENDED"', 'status = "RECOMENDED"'), "unknown status"),
        (lambda t: t.replace('level = "LOW" }', 'level = "L0W" }'), "unknown level"),
        (lambda t: t.replace('detail = "dialysis"', 'detail = "{egfr:zz}"'), "format code"),
        (lambda t: t.replace(DIALYSIS, 'when = "dialysis or egfr"'), "yes/no is needed"),
        (lambda t: t.replace(DIALYSIS, "when = \"sex < 'G'\""), "cannot compare"),
        (lambda t: t.replace(DIALYSIS, 'when = "serum > 1"'), "cannot compare"),
        (lambda t: t.replace(DIALYSIS, 'when = "egfr < ' + "9" * 400 + '"'), "finite"),
        (lambda t: t.replace("urgent_review_grade = 2", "urgent_review_grade = 9"), "CTCAE grade"),
        # a dose's choices read only the texts made before them: a status reads none, a text table the earlier ones
        (
            lambda t: t.replace(
                "when = \"contra == 'CONTRAINDICATED'\", supplementing", "when = \"why == 'x'\", supplementing"
            ),
            "not made before it",
        ),
        (
            lambda t: t.replace(
                '{ when = "known(ul)", text = "UL {ul:g}" },', '{ when = "why != \'\'", text = "UL {ul:g}" },'
            ),
            "not made before it",
        ),
    ],
)
def test_a_bad_rule_is_refused_when_the_knowledge_loads(tmp_path, edit, message):
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    path = folder / "rules.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        Engine(load_knowledge(folder))


def test_engines_keep_their_own_caches(tmp_path):
    shipped = default_engine()
    other = _edited(tmp_path, {"contraindications.toml": lambda t: t.replace("severe_below = 30", "severe_below = 20")})
    row = {"age": 50, "egfr": 25}
    assert other.assess(row).contraindication.rules == ("renal_moderate",)
    assert shipped.assess(row).contraindication.rules == ("renal_severe",)
    assert mg.assess(row).contraindication.rules == ("renal_severe",)
    for name in ("serum_status", "dose_and_form", "contra_reason"):
        info = getattr(other, name).cache_info()
        assert info.maxsize is not None  # bounded


def test_another_folder_must_keep_the_shipped_vocabulary(tmp_path):
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    drugs = folder / "drugs.toml"
    drugs.write_text(drugs.read_text(encoding="utf-8").replace(', "bendroflumethiazide"]', "]", 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="shipped vocabulary"):
        Engine(folder)


@pytest.mark.parametrize(
    "edit",
    [
        # the band that caps a high score names its own level
        lambda t: t.replace(
            'serum_normal", level = "MODERATE", capped = true', 'serum_normal", level = "LOW", capped = true'
        ),
        # a capped band that does not need a serum value
        lambda t: t.replace(
            'and serum_normal", level = "MODERATE", capped = true', '", level = "MODERATE", capped = true'
        ),
        # {listed} in the message of a rule the lists do not hold: empty in both
        lambda t: t.replace('detail = "pregnant, route iv"', 'detail = "pregnant, route iv [{listed}]"'),
        # a value factor that holds on rows whose risk is UNKNOWN: only "not enough data" is said there
        lambda t: t.replace(
            '{ factor = "age65", when = "age >= 65", detail = "age {age:years}" },',
            '{ factor = "age65", when = "age >= 65", detail = "age {age:years}" },\n'
            '  { factor = "t2d", when = "not known(age)", detail = "no age" },',
        ),
        # a dose part that reads a text the dose picked (the table execution then decides per distinct input)
        lambda t: t.replace(
            '  { when = "known(rda)", text = "RDA {rda:g} mg/day from all sources" },\n',
            '  { when = "known(rda)", text = "RDA {rda:g} mg/day from all sources" },\n'
            '  { when = "ul_text == \'UL 350\'", text = "the adult upper limit" },\n',
        ),
    ],
    ids=["capped-level", "capped-without-serum", "listed-elsewhere", "value-factor-unknown", "part-reads-a-text"],
)
def test_unusual_but_valid_rules_run_alike_in_both_executions(tmp_path, edit):
    outputs = _both(_edited(tmp_path, {"rules.toml": edit}))  # _both asserts the two executions are equal
    assert _changed(outputs)


DERIVED_EDITS = {
    # each derived fact, reason slot, text and status of rules.toml changed by a data edit alone
    "age_class": (
        "rules.toml",
        '{ when = "age < 14", value = "\'child\'" }',
        '{ when = "age < 12", value = "\'child\'" }',
    ),
    "ul": (
        "rules.toml",
        '{ when = "true", value = "ul_age" }',
        '{ when = "age >= 65", value = "250" },\n  { when = "true", value = "ul_age" }',
    ),
    "kidney_unknown": ("rules.toml", "(not kidney_listed or aki_listed or", "(not kidney_listed or"),
    "unknown": ("rules.toml", "and not lists_readable", "and not lists_readable and not known(egfr)"),
    "dialysis": (
        "rules.toml",
        'dialysis = "dialysis_written or kidney_stage_dialysis or',
        'dialysis = "dialysis_written or',
    ),
    "pregnant": ("rules.toml", 'pregnant = "pregnant_written or pregnant_listed"', 'pregnant = "pregnant_listed"'),
    "reason slot": (
        "rules.toml",
        '  { slot = "serum_unused", when = "serum_unusable" },\n',
        '  { slot = "serum_unused", when = "serum_unusable and not unknown" },\n',
    ),
    "not checked": (
        "rules.toml",
        '  { when = "kidney_unknown", text = "kidney function (no eGFR, dialysis or CKD code)" },\n',
        "",
    ),
    "factor counts when": ("risk.toml", 'counts_when = "not serum_measured or serum_below"', 'counts_when = "true"'),
    "symptom rule": (
        "risk.toml",
        'counts_when = "symptoms_compatible >= symptom_rule.min_count"',
        'counts_when = "symptoms_compatible >= 3"',
    ),
    "dose text": ("rules.toml", 'text = "UL {ul:g}" }', 'text = "upper limit {ul:g} mg" }'),
    "dose status": (
        "rules.toml",
        'status = "REFER", when = "serum_now and hypo_grade >= 2"',
        'status = "REFER", when = "serum_now and hypo_grade >= 3"',
    ),
    "dose part": ("rules.toml", '{ when = "known(rda)", text = "RDA {rda:g} mg/day from all sources" },\n', ""),
}


@pytest.mark.parametrize("name", list(DERIVED_EDITS))
def test_a_derived_fact_changed_by_a_data_edit_changes_both_executions_alike(tmp_path, name):
    file, old, new = DERIVED_EDITS[name]
    outputs = _both(_edited(tmp_path, {file: lambda t: t.replace(old, new, 1)}))  # _both asserts they agree
    assert _changed(outputs), f"{name}: the edit changed no output"
