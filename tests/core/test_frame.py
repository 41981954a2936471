"""assess_frame and assess agree on every row; problems are tidy; rows are never dropped or reordered."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd

import mgdecision as mg
from mgdecision.frame import iter_assessments

from .golden import load_cases


def _generated(n: int, seed: int = 3) -> pd.DataFrame:
    rng = random.Random(seed)
    cases = load_cases()
    rows = []
    for i in range(n):
        row = dict(rng.choice(cases)["input"])
        if rng.random() < 0.5:  # mix two cases to vary combinations
            row.update(rng.choice(cases)["input"])
        rows.append({"patient_id": f"P{i}", **{k: row.get(k) for k in row}})
    return pd.DataFrame(rows)


def test_assess_frame_equals_assess_on_every_row():
    df = _generated(3000)
    out = mg.assess_frame(df)
    assert list(out.index) == list(df.index) and len(out) == len(df)
    assert list(out.columns[-len(mg.COLUMNS) :]) == list(mg.COLUMNS)
    for i, (_, row) in enumerate(df.iterrows()):
        expected = mg.assess(row.to_dict()).row()
        got = out.iloc[i][list(mg.COLUMNS)].to_dict()
        for key, value in expected.items():
            assert got[key] == value or (pd.isna(got[key]) and value is None), (i, key, got[key], value)


def test_input_columns_are_kept_and_index_preserved():
    df = pd.DataFrame({"MRN": ["a", "b"], "Serum Mg (mg/dL)": [1.5, 2.0], "Notes": ["x", "y"]}, index=[10, 7])
    out = mg.assess_frame(df)
    assert list(out.index) == [10, 7]
    assert list(out.columns[:3]) == ["MRN", "Serum Mg (mg/dL)", "Notes"]
    assert list(out.mg_risk) == ["HIGH", "LOW"]


def test_column_override_map():
    df = pd.DataFrame({"Lab A": ["0.5 mmol/L"]})
    assert mg.assess_frame(df, columns={"Lab A": "serum_mg"}).mg_risk.iloc[0] == "HIGH"


def test_failure_cases_table():
    df = pd.DataFrame({"age": ["abc", 40], "serum_mg": [0.7, "0.8 mmol/L"], "meds": ["xyz", "omeprazole"]})
    fc = mg.failure_cases(df)
    assert list(fc.columns) == ["row", "patient_id", "column", "field", "value", "reason_code", "message"]
    assert set(fc.reason_code) == {"not_a_number", "unit_missing", "unrecognized_term"}
    assert set(fc.row) == {0} and "meds" in set(fc.column)


def test_map_headers_reports_units_ignored_and_near_misses():
    hm = mg.map_headers(["MRN", "Serum Mg (mg/dL)", "Age (months)", "EDSS", "medicatons", "Dx", "ICD-10"])
    assert hm.fields["serum_mg"] == "Serum Mg (mg/dL)" and hm.units["serum_mg"] == "mg/dL"
    assert hm.units["age"] == "months" and hm.fields["patient_id"] == "MRN"
    assert "EDSS" in hm.ignored and hm.near_misses["medicatons"] == "medications"
    assert ("ICD-10", "diagnoses") in hm.duplicates


def test_every_field_name_and_label_maps_to_its_field():
    fields = mg.knowledge().fields
    for header in [f.name for f in fields] + [f.label for f in fields]:
        hm = mg.map_headers([header])
        assert list(hm.fields.values()) == [header] and len(hm.fields) == 1, header
    labels = {f.label: f.name for f in fields}
    assert {name: col for name, col in mg.map_headers(list(labels)).fields.items()} == {v: k for k, v in labels.items()}


def test_misspelt_column_is_reported_the_same_way_by_assess_and_assess_frame():
    from mgdecision.frame import iter_assessments

    df = pd.DataFrame({"age": [40], "egfrr": [45.0]})
    one = mg.assess(df.iloc[0].to_dict()).problems
    assert next(iter_assessments(df)).problems == one
    assert [(p.field, p.value, p.code) for p in one] == [("egfrr", "45", "unknown_field")]
    assert mg.failure_cases(df).value.tolist() == ["45"]


# ---------------------------------------------------------------- the column-wise engine equals the row path


def _rows_path(df: pd.DataFrame) -> list[tuple[object, ...]]:
    """The output of every row read and decided one by one (the path of mg.assess)."""
    from mgdecision.frame import iter_assessments

    return [a.row_values() for a in iter_assessments(df, as_of=AS_OF)]


def _assert_same(df: pd.DataFrame) -> None:
    out = mg.assess_frame(df, as_of=AS_OF)
    want = _rows_path(df)
    assert len(out) == len(want) == len(df)
    for k, column in enumerate(mg.COLUMNS):
        for i, (got, expected) in enumerate(zip(out[column].tolist(), [w[k] for w in want], strict=True)):
            same = got == expected or (pd.isna(got) and expected is None)
            assert same, (column, i, df.iloc[i].to_dict(), got, expected)


AS_OF = __import__("datetime").date(2026, 11, 22)


def _benchmark_rows(n: int, seed: int) -> pd.DataFrame:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "generate_rows.py"
    spec = importlib.util.spec_from_file_location("generate_rows", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return pd.DataFrame(module.rows(n, seed=seed))


def test_column_engine_equals_row_path_on_benchmark_rows():
    for seed in (7, 11):
        _assert_same(_benchmark_rows(6000, seed))


def test_column_engine_equals_row_path_on_golden_case_mixes():
    _assert_same(_generated(3000, seed=5))


EDGE_ROWS = [
    {"age": 1, "pregnant": True, "medications": "omeprazole"},  # 1 and True share a hash: read one by one
    {"age": True, "pregnant": 1, "medications": "Prilosec 20 mg"},
    {"age": 0.0, "pregnant": False, "diagnoses": "N18.6", "medications": "spironolactone, amiloride"},
    {"age": 70, "medications": ["omeprazole"], "symptoms": ("cramps",)},  # containers: reported, not parsed
    {"age": 40, "medications": "omeprazole\x02furosemide", "symptoms": "cramps\x03insomnia"},  # join markers
    {"age": 52, "sex": "F", "pregnant": "yes", "route": "iv", "diagnoses": "I44.2; G35.A", "symptoms": "insomnia"},
    {"age": 30, "sex": "M", "lactating": "yes", "dialysis": "yes", "medications": "digoxin", "diagnoses": "digoxin"},
    {"serum_mg": "0.5", "serum_mg_unit": "mmol/L", "ref_low": "0.6", "ref_high": "1.0", "egfr": 25},
    {"serum_mg": "3.1 mg/dL", "egfr": "45 mL/min", "medications": "spironolactone", "supplement_dose_mg": 500},
    {"date_of_birth": "1950-01-01", "serum_mg": "<0.3 mmol/L", "symptoms": "no cramps; cramps, tremor / anxiety"},
    {"date_of_birth": "2026-05-01", "supplement_form": "oxide", "supplement_compound_mg": 400},
    {"age": "8 mo", "medications": "xyzmed; zzqmed", "diagnoses": "M99.99, G70.00"},
    {"age": float("nan"), "sex": None, "medications": "", "diagnoses": "   ", "symptoms": ";;"},
    {"age": 45, "medications": "Biktarvy, Triumeq; levothyroxine 50 mcg; ferrous sulfate", "route": "IV"},
    {"age": Decimal("-1.0"), "supplement_dose_mg": True},  # equal to -1.0 and 1, not read alike
    {"age": -1.0, "supplement_dose_mg": 1},
    {"age": np.float64(70.0), "supplement_dose_mg": 1.0},
    {},
]


def test_column_engine_equals_row_path_on_edge_rows():
    _assert_same(pd.DataFrame(EDGE_ROWS))
    _assert_same(pd.DataFrame(EDGE_ROWS[::-1]))  # the first of equal values differs in type


def test_column_engine_keeps_near_misses_units_and_empty_frames():
    df = pd.DataFrame(
        {"Serum Mg (mg/dL)": [1.5, "0.7 mmol/L", None], "medicatons": ["x", None, 3], "Dx": ["E11", "", "G35"]}
    )
    _assert_same(df)
    assert len(mg.assess_frame(df.iloc[:0])) == 0


def _equal_rows(df: pd.DataFrame) -> None:
    out = mg.assess_frame(df)
    for i, (_, row) in enumerate(df.iterrows()):
        expected = mg.assess(row).row()
        got = out.iloc[i][list(mg.COLUMNS)].to_dict()
        for key, value in expected.items():
            assert got[key] == value or (pd.isna(got[key]) and value is None), (i, key, got[key], value)


def test_the_two_paths_agree_on_every_sample_workbook_row():
    """The sample workbooks as a clinic wrote them (a rule moved in one path alone changes some of these rows)."""
    from pathlib import Path

    folder = Path(__file__).parents[2] / "sample_workbooks"
    books = sorted(p for p in folder.glob("*.xlsx") if ".flagged" not in p.name and p.name != "template.xlsx")
    assert books
    for book in books:
        for _name, sheet in pd.read_excel(book, sheet_name=None, engine="openpyxl").items():
            if mg.map_headers(sheet.columns).fields:
                _equal_rows(sheet)


def test_the_two_paths_agree_on_targeted_combinations():
    """Combinations where two rules meet: dialysis with a low eGFR, a potassium-sparing drug with a CKD code,
    pregnancy with iv and a dose above the UL, infants, urgent hypermagnesaemia beside myasthenia."""
    rng = random.Random(11)
    parts = {
        "dialysis": ["yes", "HD", "no", None],
        "egfr": [15, 29, 30, 45, 59, 60, 90, None],
        "diagnoses": ["N18.4", "N18.31", "CKD", "N18.2", "HD", "myasthenia gravis", "hx of MG", "E83.42", "", None],
        "medications": ["spironolactone", "Aldactone; furosemide", "omeprazole + levothyroxine", "Firdapse", None],
        "pregnant": ["yes", "no", None],
        "route": ["iv", "oral", None],
        "supplement_dose_mg": [0, 200, 400, 600, None],
        "age": [0.3, "4 mo", 6, 30, "45M", 70, None],
        "serum_mg": ["0.35 mmol/L", "0.6 mmol/L", "0.9 mmol/L", "1.2 mmol/L", "3.5 mmol/L", "5 mg/dL", None],
        "ref_high": [None, None, 1.0, 105],
    }
    rows = [{k: rng.choice(v) for k, v in parts.items()} for _ in range(1500)]
    _equal_rows(pd.DataFrame(rows, dtype=object))
    _equal_rows(pd.DataFrame(rows[::-1], dtype=object))


def test_assess_table_gives_the_row_executions_records():
    """Interactions and problems as long tables from the table execution, equal to the row execution's models."""
    df = _generated(1500, seed=8)
    df.loc[3, "medications"] = ["a list"]  # a cell the table execution leaves to the row execution
    found = mg.assess_table(df)
    rows = list(iter_assessments(df))
    expected_interactions = [
        (i, a.patient_id, x.drug, x.as_written, x.severity, x.action, x.before_h, x.after_h, ", ".join(x.sources))
        for i, a in enumerate(rows)
        for x in a.interactions
    ]
    got = [tuple(r) for r in found.interactions.itertuples(index=False)]
    assert got == expected_interactions and len(got) > 200
    hmap = mg.map_headers(df.columns)
    expected_problems = [
        (i, a.patient_id, str(hmap.fields.get(p.field, p.field)), p.field, p.value, str(p.code), p.message)
        for i, a in enumerate(rows)
        for p in a.problems
    ]
    assert [tuple(r) for r in found.problems.itertuples(index=False)] == expected_problems
    assert len(expected_problems) > 100 and any(r[0] == 3 for r in expected_problems)
    assert list(found.interactions.columns) == list(mg.outputs.INTERACTION_COLUMNS)
    assert found.frame.equals(mg.assess_frame(df))
    assert found.reasons.tolist() == [a.reasons_text() for a in rows]  # in full, the odd row's too
    assert found.reasons.index.equals(df.index)
    assert any(len(x) > mg.outputs.REASONS_MAX for x in found.reasons)  # longer than the capped cell


def test_level_columns_are_ordered_categoricals():
    df = pd.DataFrame({"age": [40, 70, None], "serum_mg": ["0.5 mmol/L", "0.9 mmol/L", None], "egfr": [90, 20, None]})
    out = mg.assess_frame(df)
    for column, levels in mg.outputs.LEVELS.items():
        assert isinstance(out[column].dtype, pd.CategoricalDtype) and out[column].cat.ordered
        assert list(out[column].cat.categories) == list(levels)
    assert out["mg_risk"].tolist() == ["HIGH", "LOW", "UNKNOWN"]
    assert out.sort_values("mg_risk")["mg_risk"].tolist() == ["UNKNOWN", "LOW", "HIGH"]  # by level, not by letter
    assert out["mg_contraindication"].max() == "CONTRAINDICATED"
    assert out["mg_dose_min_mg"].dtype == np.float64


def test_reasons_capped_as_joined_read_as_cap_reasons() -> None:
    """The table's capped join gives exactly cap_reasons of each joined row, at and around every edge."""
    from mgdecision.formatting import cap_reasons, capped_joins

    word = "magnesium; "
    texts = [
        "",
        "short",
        "x" * 400,
        "x" * 401,
        " " + "y" * 500,
        "a " + "b" * 600,
        word * 50,
        "Risk: High - " + "loss -; " * 60,
        "z" * 384 + " " + "w" * 30,
        "z" * 385 + " " + "w" * 30,
        "z" * 386 + " " + "w" * 30,
    ]
    pieces = [p for t in texts for p in (t[: len(t) // 2], t[len(t) // 2 :])]
    bounds = [(2 * k, 2 * k + 2) for k in range(len(texts))]
    assert capped_joins(pieces, bounds) == [cap_reasons(t) for t in texts]


def test_a_qualifier_belongs_to_the_list_that_wrote_it():
    """'history of ckd stage 4' among the symptoms does not make the current CKD 4 diagnosis history: the severe
    renal contraindication stands, in both executions."""
    row = {
        "age": 70,
        "egfr": 50,
        "serum_mg": 0.8,
        "serum_mg_unit": "mmol/L",
        "diagnoses": "ckd stage 4",
        "symptoms": "history of ckd stage 4",
    }
    assert str(mg.assess(row).findings.contraindication.level) == "CONTRAINDICATED"
    _assert_same(pd.DataFrame([row, {**row, "diagnoses": "history of ckd stage 4", "symptoms": ""}]))


def test_qualified_items_and_word_joiners_read_alike_in_both_executions():
    """A held interacting drug is named as written in both; whether a cell is split on "and"/"plus" does not
    depend on the other cells of its column ("pluſ", with a long s, is not "plus")."""
    _assert_same(pd.DataFrame([{"age": 70, "medications": "held: digoxin; furosemide"}, {"age": 50}]))
    rows = [{"age": 70, "medications": "digoxin pluſ lithium"}, {"age": 70, "medications": "a and b"}]
    _assert_same(pd.DataFrame(rows))
    _assert_same(pd.DataFrame(rows[:1]))


def test_a_naming_as_written_outweighs_a_history_naming_in_the_same_list():
    """'history of ckd stage 4; ckd stage 4': CKD 4 is current, the severe renal contraindication stands; the
    order of the two namings does not matter, and both executions agree."""
    base = {"age": 70, "egfr": 50, "serum_mg": 0.8, "serum_mg_unit": "mmol/L"}
    rows = [
        {**base, "diagnoses": "history of ckd stage 4; ckd stage 4"},
        {**base, "diagnoses": "ckd stage 4; history of ckd stage 4"},
        {**base, "diagnoses": "history of ckd stage 4"},
        {
            **base,
            "diagnoses": "migraine; suspected myasthenia gravis; myasthenia gravis",
            "medications": "held: digoxin, digoxin",
        },
    ]
    levels = [str(mg.assess(r).findings.contraindication.level) for r in rows]
    assert levels[:3] == ["CONTRAINDICATED", "CONTRAINDICATED", "CAUTION"]
    assert "suspected" not in mg.assess(rows[3]).row()["mg_reasons"]
    _assert_same(pd.DataFrame(rows))
