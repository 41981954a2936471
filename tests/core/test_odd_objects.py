"""Decimal specials, and objects whose text raises or is huge: input problems on their row, never exceptions, the
same in the row and the table execution."""

from __future__ import annotations

import decimal

import pandas as pd
import pytest

import mgdecision as mg
from mgdecision.reading import SHOWN_CHARS
from tests.odd_values import HugeText, NoText

D = decimal.Decimal


ODD = [D("sNaN"), D("-sNaN"), D("NaN"), D("Infinity"), D("-Infinity"), D("1e999999"), NoText(), HugeText()]
FIELDS = ["age", "sex", "pregnant", "serum_mg", "serum_mg_unit", "egfr", "dialysis", "medications", "diagnoses",
          "symptoms", "supplement_form", "supplement_dose_mg", "patient_id", "route"]


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__ + ":" + (str(v) if isinstance(v, D) else ""))
def test_an_odd_value_in_any_field_is_an_input_problem_in_both_executions(value) -> None:
    base = {"patient_id": "P-1", "age": 60, "sex": "F", "serum_mg": "0.6 mmol/L", "egfr": 75}
    rows = [{**base, name: value} for name in FIELDS]
    rows += [{**base, "Agee": value}, {**base, "Age": 61, "age ": value}]  # a near miss, a second age column
    for row in rows:
        single = mg.assess(row).row()
        framed = mg.assess_frame(pd.DataFrame([row, base], dtype=object)).iloc[0]
        for column in mg.COLUMNS:
            a, b = single[column], framed[column]
            assert a == b or (a is None and pd.isna(b)) or (pd.isna(a) and pd.isna(b)), (row.keys(), column, a, b)
        cases = mg.failure_cases(pd.DataFrame([row], dtype=object))
        problems = single["mg_input_problems"]
        assert len(problems) < 5_000  # a value is never echoed whole
        assert all(len(str(v)) <= SHOWN_CHARS + 40 for v in cases["value"] if not isinstance(v, int | float))
        assert problems or row.get("patient_id") is value  # a patient id is only echoed
        quoted = any(row.get(name) is value for name in FIELDS if name != "patient_id")
        if quoted and not isinstance(value, HugeText | NoText) and str(value) in ("sNaN", "-sNaN", "NaN", "Infinity"):
            assert f"'{value}'" in problems, row  # reported as what was written


def test_a_decimal_that_is_no_number_is_reported_not_taken_as_blank() -> None:
    row = {"age": 50, "sex": "F", "serum_mg": D("NaN")}
    problems = mg.assess(row).problems
    assert [(p.field, p.code) for p in problems] == [("serum_mg", mg.ProblemCode.NOT_A_NUMBER)]
    assert mg.assess({"age": 50, "serum_mg": D("0.62"), "serum_mg_unit": "mmol/L"}).risk.level == \
        mg.assess({"age": 50, "serum_mg": 0.62, "serum_mg_unit": "mmol/L"}).risk.level  # finite Decimals read


def test_text_of_an_object_is_shown_in_short() -> None:
    problem = mg.assess({"age": HugeText()}).problems[0]
    assert problem.value.startswith("zzz") and problem.value.endswith("(2,000,000 characters)")
    assert len(problem.message) < 400
    problem = mg.assess({"age": NoText()}).problems[0]
    assert problem.value == "(a NoText value that cannot be shown as text)"
