"""Values as tables really hold them: pandas and numpy nulls and scalars, huge numbers, lone surrogates,
repeated headers, very long cells. None of them raises, each is read as a single row reads it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mgdecision as mg
from mgdecision.frame import iter_assessments


def _frame_equals_rows(df: pd.DataFrame) -> None:
    out = mg.assess_frame(df)
    for i, a in enumerate(iter_assessments(df)):
        got = out.iloc[i][list(mg.COLUMNS)].tolist()
        want = list(a.row_values())
        assert [None if isinstance(g, float) and np.isnan(g) else g for g in got] == want


@pytest.mark.parametrize("missing", [pd.NA, pd.NaT, None, np.nan, float("nan"), np.datetime64("NaT")])
def test_every_missing_value_is_empty_not_a_problem(missing):
    a = mg.assess({"age": missing, "egfr": missing, "serum_mg": missing, "medications": missing, "sex": missing})
    assert a.problems == () and a.risk.level == "UNKNOWN"


def test_numpy_booleans_are_booleans_never_one():
    a = mg.assess({"age": 40, "egfr": np.True_})
    assert a.patient.egfr is None and [p.code for p in a.problems] == ["not_a_number"]
    assert mg.assess({"age": 30, "sex": "F", "pregnant": np.True_}).patient.pregnant is True
    assert mg.assess({"age": np.int64(70), "egfr": np.float64(45.0)}).contraindication.level == "CAUTION"


@pytest.mark.parametrize("column", [[None, pd.NA], [False, np.False_], [np.True_, True], [pd.NaT, "yes"]])
def test_a_row_never_depends_on_its_neighbours(column):
    df = pd.DataFrame({"age": [40, 40], "sex": ["F", "F"], "pregnant": pd.Series(column, dtype=object)})
    out = mg.assess_frame(df)
    for i, value in enumerate(column):
        alone = mg.assess({"age": 40, "sex": "F", "pregnant": value}).row()
        assert out.iloc[i]["mg_input_problems"] == alone["mg_input_problems"]
        assert out.iloc[i]["mg_dose"] == alone["mg_dose"]


def test_nullable_dtypes_read_like_plain_ones():
    df = pd.DataFrame(
        {
            "age": pd.array([40, None, 70], dtype="Int64"),
            "egfr": pd.array([None, 50.0, 25.0], dtype="Float64"),
            "sex": pd.array(["F", None, "M"], dtype="string"),
            "dialysis": pd.array([None, True, False], dtype="boolean"),
        }
    )
    out = mg.assess_frame(df)
    assert out["mg_input_problems"].tolist() == ["", "", ""]
    assert out["mg_contraindication"].tolist() == ["NONE_FOUND", "CONTRAINDICATED", "CONTRAINDICATED"]
    _frame_equals_rows(df)
    _frame_equals_rows(df.convert_dtypes())


def test_huge_numbers_and_ids_never_raise():
    row = {"patient_id": 10**5000, "age": 10**400, "egfr": -(10**400), "serum_mg": 10**400, "serum_mg_unit": "mmol/L"}
    a = mg.assess(row)
    assert {p.code for p in a.problems} == {"implausible_value"}
    assert all(len(p.value) < 80 for p in a.problems)
    _frame_equals_rows(pd.DataFrame([row, {"age": 40}], dtype=object))


def test_lone_surrogates_never_make_failure_cases_raise():
    df = pd.DataFrame({"Meds": ["omeprazole; x\ud800y", "\udfff"], "age": [40, "a\ud83d"]}, dtype=object)
    table = mg.failure_cases(df)
    assert table["value"].tolist() == ["x\ud800y", "a\ud83d", "\udfff"]
    assert set(table["reason_code"]) == {"unrecognized_term", "not_a_number"}
    _frame_equals_rows(df)


@pytest.mark.parametrize("field", ["medications", "diagnoses", "symptoms", "age"])
@pytest.mark.parametrize("more", [[], [5]])  # all text, or a number too
def test_distinct_cells_holding_lone_surrogates_stay_distinct(field, more):
    """pandas before 3.0 factorises texts holding lone surrogates as one value: each row keeps its own cell."""
    cells = ["x\ud800", "\udfff", "y\udc00z"]
    df = pd.DataFrame({field: cells + more, "egfr": [60] * len(cells + more)}, dtype=object)
    problems = mg.assess_frame(df)["mg_input_problems"].tolist()
    assert [p.count(cell) for p, cell in zip(problems[:3], cells, strict=True)] == [1, 1, 1]
    _frame_equals_rows(df)


def test_repeated_column_names_are_a_problem_on_the_row_not_an_error():
    df = pd.DataFrame([[40, "omeprazole", "furosemide"]], columns=["age", "Meds", "Meds"])
    out = mg.assess_frame(df)
    assert "only the first is read" in out.iloc[0]["mg_input_problems"]
    assert "proton pump inhibitor" in out.iloc[0]["mg_reasons"] and "loop diuretic" not in out.iloc[0]["mg_reasons"]
    framed = {c: out.iloc[0][c] for c in mg.COLUMNS}
    assert mg.assess(df.iloc[0]).row() == {c: None if pd.isna(v) else v for c, v in framed.items()}
    assert mg.failure_cases(df)["reason_code"].tolist() == ["conflicting_values"]


def test_two_columns_for_one_field_are_reported_on_every_row():
    row = {"Serum Mg (mmol/L)": 0.6, "Magnesium (mg/dL)": 2.0, "age": 50}
    a = mg.assess(row)
    assert a.risk.level == "HIGH"  # the first column is read
    assert [p.code for p in a.problems] == ["conflicting_values"] and "Magnesium (mg/dL)" in a.problems[0].message
    _frame_equals_rows(pd.DataFrame([row]))


def test_long_cells_are_read_in_linear_time():
    """A 32,767-character cell (Excel's limit) of spaces is read (the old number pattern backtracked for ~50 s)."""
    cell = " " * 32766 + "x"
    a = mg.assess({"age": cell, "egfr": cell, "serum_mg": cell, "medications": "omeprazole" + " " * 32756 + "and"})
    assert {p.field for p in a.problems} == {"age", "egfr", "serum_mg"}
    assert a.risk.level == "MODERATE"


def test_interaction_records_carry_the_generic_and_the_text_as_written():
    (i,) = mg.assess({"medications": "Vibramycin 100 mg"}).interactions
    assert (i.drug, i.as_written, i.before_h, i.after_h) == ("doxycycline", "Vibramycin 100 mg", 2, 6)
    assert i.action == "take 2 h before or 4-6 h after magnesium"
    assert str(i) == "doxycycline (Vibramycin 100 mg) (moderate): take 2 h before or 4-6 h after magnesium"


def test_the_action_text_is_rendered_from_the_hours():
    for iid, entry in mg.knowledge().interactions.items():
        actions = entry["action"].values() if isinstance(entry["action"], dict) else [entry["action"]]
        for action in actions:
            for key in ("before_h", "after_h"):
                if key in entry:
                    assert f"{entry[key]:g} h" in action, (iid, action)


def test_a_second_column_is_reported_only_where_it_holds_a_value():
    df = pd.DataFrame(
        {"Serum Mg (mmol/L)": [0.6, 0.9, None], "Magnesium (mg/dL)": [2.0, None, np.nan], "age": [50, 50, 50]}
    )
    out = mg.assess_frame(df)
    assert [bool(p) for p in out["mg_input_problems"]] == [True, False, False]
    assert mg.failure_cases(df)[["row", "value"]].to_dict("records") == [{"row": 0, "value": "2"}]
    _frame_equals_rows(df)


def test_a_header_that_holds_a_field_name_is_a_near_miss_not_dropped():
    hmap = mg.map_headers(["Serum Mg repeat (mg/dL)", "Patient name", "Notes"])
    assert hmap.near_misses == {"Serum Mg repeat (mg/dL)": "serum_mg"}
    a = mg.assess({"age": 50, "Serum Mg repeat (mg/dL)": 1.2})
    assert [p.code for p in a.problems] == ["unknown_field"] and "did you mean 'serum_mg'" in a.problems[0].message


def test_a_second_column_fills_the_first_blank_and_a_header_unit_goes_with_it():
    assert mg.assess({"age": 50, "serum_mg": None, "Mg (mmol/L)": 0.4}).dose.status == "REFER"
    df = pd.DataFrame({"age": [50, 50], "Mg": ["0.9 mmol/L", None], "Serum Mg (mg/dL)": [None, 0.9]})
    out = mg.assess_frame(df)
    assert out["mg_dose_status"].tolist() == ["NOT_INDICATED", "REFER"]  # 0.9 mg/dL is CTCAE grade 2
    assert out["mg_input_problems"].tolist() == ["", ""]
    _frame_equals_rows(df)
    same = pd.DataFrame([[50, None, "0.4 mmol/L"], [50, "0.9 mmol/L", "0.4 mmol/L"]], columns=["age", "Mg", "Mg"])
    assert mg.assess_frame(same)["mg_dose_status"].tolist() == ["REFER", "NOT_INDICATED"]
    assert [bool(p) for p in mg.assess_frame(same)["mg_input_problems"]] == [False, True]  # two values disagree
    _frame_equals_rows(same)


def test_a_second_column_with_another_unit_is_never_mixed_in():
    row = {"age": 50, "Serum Mg (mmol/L)": None, "Magnesium (mg/dL)": 0.9}
    a = mg.assess(row)
    assert a.patient.serum is None and [p.code for p in a.problems] == ["conflicting_values"]
