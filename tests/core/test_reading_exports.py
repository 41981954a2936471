"""Result cells as lab exports, EHRs and tired clinicians write them (clinical-rules.md 9.6 and 9.8): serum magnesium
with analyte, flags, inline range and date; eGFR and CrCl shapes and CKD stages; creatinine; result dates.

Every row is read by ``mg.assess`` and checked against the table execution: each scalar group read alone from its
own cells (as ``assess_frame`` reads it, once per distinct combination) gives the same facts and problems, and
``assess_frame`` gives the same output row.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mgdecision as mg
from mgdecision.reading import SCALAR_GROUPS, Patient, convert_serum, read_fields

AS_OF = date(2026, 11, 22)
# The facts each scalar group gives, in SCALAR_GROUPS order.
GROUP_FACTS = (
    ("age", "age_note", "sex", "pregnant", "lactating", "dialysis", "route", "reference_date"),
    ("egfr", "egfr_kind", "egfr_date", "kidney_stage", "kidney_stage_dialysis", "creatinine_mg_dl", "creatinine_date"),
    ("serum", "serum_given", "serum_flag", "serum_date"),
    ("supplement_form", "supplement_dose_mg"),
)


def read(row: dict[str, Any]) -> tuple[Patient, list[str]]:
    """The patient and problem codes of ``row`` as ``mg.assess`` reads it, checked against the table execution."""
    a = mg.assess(row, as_of=AS_OF)
    hmap = mg.map_headers(list(row))
    cells = {name: row[col] for name, col in hmap.fields.items()}
    in_groups = []
    for group, facts in zip(SCALAR_GROUPS.values(), GROUP_FACTS, strict=True):
        alone = read_fields({f: cells[f] for f in group if f in cells}, hmap.units, AS_OF)
        for fact in facts:
            assert getattr(alone, fact) == getattr(a.patient, fact), (fact, row)
        in_groups += alone.problems
    assert in_groups == [p for p in a.problems if p in in_groups]  # the same problems, in the same order
    out = mg.assess_frame(pd.DataFrame([row], dtype=object), as_of=AS_OF)
    assert _plain(out.iloc[0][list(mg.COLUMNS)].tolist()) == _plain(list(a.row_values()))
    return a.patient, [str(p.code) for p in a.patient.problems]  # what reading reports (the rules add their own)


def _plain(values: list[Any]) -> list[Any]:
    return [None if isinstance(v, float) and v != v else v for v in values]


def _frame_equals_rows(rows: list[dict[str, Any]]) -> None:
    """Many rows at once: the table execution gives every row what the row execution gives it."""
    df = pd.DataFrame(rows, dtype=object)
    out = mg.assess_frame(df, as_of=AS_OF)
    for i in range(len(df)):
        want = mg.assess(df.iloc[i].to_dict(), as_of=AS_OF).row_values()
        assert _plain(out.iloc[i][list(mg.COLUMNS)].tolist()) == _plain(list(want)), rows[i]


# ---------------------------------------------------------------- serum magnesium cells

SERUM_CELLS = [
    # cell, value as displayed (None: not used), flag, date, (ref_low, ref_high), problem codes
    ("0.3 mmol/L (critical)", "0.3 mmol/L", "critical", None, None, []),
    ("CRIT 0.3 mmol/L", "0.3 mmol/L", "critical", None, None, []),
    ("[L] 1.4 mg/dL", "1.4 mg/dL", "low", None, None, []),
    ("L* 0.58 mmol/L", "0.58 mmol/L", "low", None, None, []),
    ("Mg 1.4 mg/dL", "1.4 mg/dL", None, None, None, []),
    ("Mg++ 0.6 mmol/L L", "0.6 mmol/L", "low", None, None, []),
    ("Mg2+ 0.6 mmol/L (critical low)", "0.6 mmol/L", "critical_low", None, None, []),
    ("Magnesium, serum: 0.62 mmol/L", "0.62 mmol/L", None, None, None, []),
    ("S-Mg 0.80 mmol/l H", "0.8 mmol/L", "high", None, None, []),
    ("1.4 mg/dL (ref 1.7-2.4)", "1.4 mg/dL", None, None, (1.7, 2.4), []),
    ("0.62 mmol/L [0.70-1.00]", "0.62 mmol/L", None, None, (0.7, 1.0), []),
    ("0.62 mmol/L Ref: 0.70 - 1.00 mmol/L", "0.62 mmol/L", None, None, (0.7, 1.0), []),
    ("0.62 mmol/L 2025-03-04", "0.62 mmol/L", None, date(2025, 3, 4), None, []),
    ("0.62 mmol/L collected 13/04/2025 08:15", "0.62 mmol/L", None, date(2025, 4, 13), None, []),
    ("Mg 0.62 mmol/L (L) [0.70-1.00] 4 Mar 2025", "0.62 mmol/L", "low", date(2025, 3, 4), (0.7, 1.0), []),
    ("0,62 mmol/l", "0.62 mmol/L", None, None, None, []),
    ("0.62 mmol / L", "0.62 mmol/L", None, None, None, []),
    ("HH 2.5 mmol/L", "2.5 mmol/L", "critical_high", None, None, []),
    ("0.35 mmol/L LL", "0.35 mmol/L", "critical_low", None, None, []),
    ("panic low 0.25 mmol/L", "0.25 mmol/L", "critical_low", None, None, []),
    ("0.55 mmol/L (L) *", "0.55 mmol/L", "low", None, None, []),
    ("1.2 mEq/L ↓", "1.2 mEq/L", "low", None, None, []),
    ("0.6 mmol/L !", "0.6 mmol/L", "critical", None, None, []),
    ("0.6 mmol/L L !", "0.6 mmol/L", "critical_low", None, None, []),
    ("0.9 mmol/L N", "0.9 mmol/L", None, None, None, []),
    ("Mg 0.85 mmol/L (normal) Final", "0.85 mmol/L", None, None, None, []),
    ("((L)) 0.6 mmol/L", "0.6 mmol/L", "low", None, None, []),
    ("<0.2 mmol/L (critical)", "<0.2 mmol/L", "critical", None, None, ["censored_value"]),
    ("０.６ mmol/L", "0.6 mmol/L", None, None, None, []),  # full-width digits
    # the value cannot be used: the flag is still recorded
    ("critical 0.3", None, "critical", None, None, ["unit_missing"]),
    ("0.3 (critical)", None, "critical", None, None, ["unit_missing"]),
    ("L 0.58", None, "low", None, None, ["unit_missing"]),
    ("Mg 0.62", None, None, None, None, ["unit_missing"]),
    ("see comment 0.62", None, None, None, None, ["unit_missing"]),
    ("critical", None, "critical", None, None, ["not_a_number"]),
    ("0.62 mmol/L 03/04/2025", "0.62 mmol/L", None, date(2025, 3, 4), None, ["date_ambiguous"]),
    # another result written in the column is never read as magnesium, and its flag is not recorded
    ("Ca 2.3 mmol/L", None, None, None, None, ["unrecognized_term"]),
    ("iMg 0.45 mmol/L", None, None, None, None, ["unrecognized_term"]),
    ("K 3.1 mmol/L L", None, None, None, None, ["unrecognized_term"]),
    ("P 1.2 mmol/L", None, None, None, None, ["unrecognized_term"]),
    # a comment after the value may change what it means: not used, and the flag is kept
    ("0.7 mmol/L hemolysed", None, None, None, None, ["unrecognized_term"]),
    ("0.3 mmol/L CRITICAL LOW called to Dr X 10:15", None, "critical_low", None, None, ["unrecognized_term"]),
    ("8 mg/L", None, None, None, None, ["unit_unknown"]),
    ("0.8 mg", None, None, None, None, ["unit_unknown"]),  # a unit not understood, never a magnesium label
    ("-0.7 mmol/L", None, None, None, None, ["implausible_value"]),
]


@pytest.mark.parametrize(("cell", "shown", "flag", "when", "lab_range", "codes"), SERUM_CELLS)
def test_serum_cells_from_lab_exports(cell, shown, flag, when, lab_range, codes):
    p, found = read({"age": 50, "serum_mg": cell})
    assert (p.serum.display() if p.serum else None) == shown
    assert p.serum_given and p.serum_flag == flag and p.serum_date == when
    assert sorted(found) == sorted(codes)
    if lab_range is not None:
        assert (p.serum.ref_low, p.serum.ref_high) == pytest.approx(lab_range)
    elif p.serum is not None:
        assert (p.serum.ref_low, p.serum.ref_high) == (None, None)


def test_a_unit_not_understood_is_never_replaced_by_the_unit_column():
    for cell in ("0.8 mg", "0.8 Mg", "0.8 mmol/L mg/dL", "0.8 magnesium"):
        p, codes = read({"age": 50, "serum_mg": cell, "serum_mg_unit": "mg/dL"})
        assert p.serum is None and codes in (["unit_unknown"], ["conflicting_values"]), cell


def test_a_flagged_value_with_its_unit_in_the_unit_column_is_used():
    p, codes = read({"age": 50, "serum_mg": "critical 0.3", "serum_mg_unit": "mmol/L"})
    assert p.serum.display() == "0.3 mmol/L" and p.serum_flag == "critical" and codes == []
    p, codes = read({"age": 50, "Serum Mg (mg/dL)": "L 1.4"})  # the header's unit
    assert p.serum.display() == "1.4 mg/dL" and p.serum_flag == "low" and codes == []


def test_a_grade_3_value_a_lab_export_wrote_is_no_longer_dropped():
    for cell in ("0.3 mmol/L (critical)", "CRIT 0.3 mmol/L", "Mg 0.3 mmol/L LL 2026-11-20"):
        a = mg.assess({"age": 50, "egfr": 90, "serum_mg": cell}, as_of=AS_OF)
        assert (a.risk.level, a.risk.ctcae_grade, a.dose.status) == ("HIGH", 3, "REFER"), cell


def test_the_flag_never_changes_the_value():
    plain = mg.assess({"age": 50, "serum_mg": "0.62 mmol/L"}).patient.serum
    for cell in ("0.62 mmol/L H", "HH 0.62 mmol/L", "0.62 mmol/L (critical)", "L* 0.62 mmol/L"):
        assert mg.assess({"age": 50, "serum_mg": cell}).patient.serum == plain


# ---------------------------------------------------------------- lab range plausibility (9.6)


@pytest.mark.parametrize(
    ("serum", "low", "high", "used", "codes"),
    [
        ("0.7 mmol/L", 0.60, 1.30, (0.60, 1.30), []),  # both band edges
        ("0.7 mmol/L", 0.85, 0.90, (0.85, 0.90), []),
        ("0.7 mmol/L", 0.59, 1.00, (None, 1.00), ["implausible_value"]),  # each limit falls back alone
        ("0.7 mmol/L", 0.70, 1.31, (0.70, None), ["implausible_value"]),
        ("0.7 mmol/L", 0.4, 1.5, (None, None), ["implausible_value"]),  # plausible until 2026-12, not now
        ("1.7 mg/dL", 1.46, 3.16, (1.46, 3.16), []),  # the band in the unit written, not converted
        ("1.7 mg/dL", 2.07, 2.19, (2.07, 2.19), []),
        ("1.7 mg/dL", 1.45, 3.17, (None, None), ["implausible_value"]),
        ("1.5 mEq/L", 1.20, 2.60, (1.20, 2.60), []),
        ("1.5 mEq/L", 1.71, 1.79, (None, None), ["implausible_value"]),
    ],
)
def test_lab_limits_are_plausible_in_the_unit_they_are_written_in(serum, low, high, used, codes):
    p, found = read({"age": 50, "serum_mg": serum, "ref_low": low, "ref_high": high})
    assert (p.serum.ref_low, p.serum.ref_high) == used
    assert sorted(set(found)) == codes


def test_a_limit_in_another_unit_is_checked_in_its_own_unit_then_converted():
    p, codes = read({"age": 50, "serum_mg": "0.7 mmol/L", "ref_range": "2.07-3.16 mg/dL"})
    assert codes == [] and p.serum.ref_low == pytest.approx(convert_serum(2.07, "mg/dL", "mmol/L"))
    problems = mg.assess({"age": 50, "serum_mg": "0.7 mmol/L", "ref_low": "0.5 mmol/L"}).problems
    assert [p.message for p in problems] == [
        "lab range low 0.5 mmol/L is outside 0.6-0.85 mmol/L; the default limit is used"
    ]


def test_an_implausible_lab_low_never_hides_ctcae_grade_2():
    a = mg.assess({"age": 50, "egfr": 90, "serum_mg": "0.45 mmol/L", "ref_low": 0.4, "ref_high": 1.0}, as_of=AS_OF)
    assert a.patient.serum.ref_low is None and a.risk.ctcae_grade == 2 and a.dose.status == "REFER"


def test_the_range_in_the_cell_gives_way_to_the_range_columns():
    p, codes = read({"age": 50, "serum_mg": "0.62 mmol/L (0.70-1.00)", "ref_low": 0.75})
    assert (p.serum.ref_low, p.serum.ref_high) == (0.75, 1.0) and codes == ["conflicting_values"]
    p, codes = read({"age": 50, "serum_mg": "0.62 mmol/L (0.70-1.00)", "ref_range": "0.70-1.00"})
    assert (p.serum.ref_low, p.serum.ref_high) == (0.7, 1.0) and codes == []
    p, codes = read({"age": 50, "serum_mg": "0.62 mmol/L (ref 0.40-1.00)"})  # the same plausibility rules
    assert (p.serum.ref_low, p.serum.ref_high) == (None, 1.0) and codes == ["implausible_value"]


def test_the_bands_per_unit_are_the_mmol_bands_as_published():
    serum = tomllib.loads((Path(mg.__file__).parent / "knowledge" / "serum.toml").read_text())
    bands = serum["lab_range"]
    assert bands["low"]["mmol/L"] == [0.60, 0.85] and bands["high"]["mmol/L"] == [0.90, 1.30]
    for side in ("low", "high"):
        for unit in ("mg/dL", "mEq/L"):
            converted = [convert_serum(x, "mmol/L", unit) for x in bands[side]["mmol/L"]]
            assert bands[side][unit] == pytest.approx(converted, abs=0.006), (side, unit)


# ---------------------------------------------------------------- eGFR, CrCl and CKD stages

EGFR_CELLS = [
    # cell, eGFR, kind, stage, dialysis, date, problem codes
    ("eGFR 45 (2025)", 45.0, "egfr", None, False, date(2025, 1, 1), []),
    ("45*", 45.0, None, None, False, None, []),
    ("CrCl 25 (CG)", 25.0, "crcl", None, False, None, []),
    ("CrCl 25 mL/min (Cockcroft-Gault)", 25.0, "crcl", None, False, None, []),
    ("45 mL/min/1.73m2", 45.0, None, None, False, None, []),
    ("45 mL/min/1.73 m²", 45.0, None, None, False, None, []),
    ("eGFR: 38 ml/min 13/03/2025", 38.0, "egfr", None, False, date(2025, 3, 13), []),
    ("eGFR (CKD-EPI) 52", 52.0, "egfr", None, False, None, []),
    ("45 (G3a)", 45.0, None, None, False, None, []),
    ("44.9", 44.9, None, None, False, None, []),
    ("G3b", None, None, "G3b", False, None, []),
    ("CKD 4", None, None, "G4", False, None, []),
    ("stage 4", None, None, "G4", False, None, []),
    ("G5D", None, None, "G5", True, None, []),
    ("CKD G4A2", None, None, "G4", False, None, []),
    ("CKD 3b", None, None, "G3b", False, None, []),
    ("stage 4 CKD", None, None, "G4", False, None, []),
    ("CKD 4 (2023)", None, None, "G4", False, date(2023, 1, 1), []),
    ("normal", None, None, None, False, None, ["not_a_number"]),
    ("CKD", None, None, None, False, None, ["not_a_number"]),
    ("Cr 1.2", None, None, None, False, None, ["unrecognized_term"]),  # a creatinine in the eGFR column
    ("45 mg/dL", None, None, None, False, None, ["unit_unknown"]),
    ("eGFR 45 03/04/2025", 45.0, "egfr", None, False, date(2025, 3, 4), ["date_ambiguous"]),
]


@pytest.mark.parametrize(("cell", "egfr", "kind", "stage", "dialysis", "when", "codes"), EGFR_CELLS)
def test_kidney_function_cells(cell, egfr, kind, stage, dialysis, when, codes):
    p, found = read({"age": 50, "egfr": cell})
    assert (p.egfr, p.egfr_kind, p.kidney_stage, p.kidney_stage_dialysis, p.egfr_date) == (
        egfr,
        kind,
        stage,
        dialysis,
        when,
    )
    assert found == codes


@pytest.mark.parametrize(("cell", "side"), [(">60", 60), ("<15", 15), ("eGFR >90", 90), ("60+", 60)])
def test_censored_values_are_classified_on_the_raw_value(cell, side):
    p, codes = read({"age": 50, "egfr": cell})
    assert codes == ["censored_value"]
    if "<" in cell:
        assert p.egfr < side and p.egfr > side - 1e-9
    else:
        assert p.egfr >= side and p.egfr < side + 1e-9


def test_a_stage_is_a_fact_for_the_engine_not_an_egfr():
    p, codes = read({"age": 50, "egfr": "G3b"})
    assert p.egfr is None and p.kidney_stage == "G3b" and codes == []  # no number is made up for the stage


# ---------------------------------------------------------------- creatinine

CREATININE_CELLS = [
    ("Creatinine 1.2 mg/dL", 1.2, None, []),
    ("106 umol/L", 106 / 88.4, None, []),
    ("106 µmol/L", 106 / 88.4, None, []),
    ("SCr: 0.106 mmol/L", 106 / 88.4, None, []),
    ("Cr 1.2 mg/dL (H) 2025-03-04", 1.2, date(2025, 3, 4), []),
    ("1.2", None, None, ["unit_missing"]),
    ("106", None, None, ["unit_missing"]),  # never guessed from its size
    ("1.2 mg/L", None, None, ["unit_unknown"]),
    ("50 mg/dL", None, None, ["implausible_value"]),
    ("K 4.0 mmol/L", None, None, ["unrecognized_term"]),
    ("high", None, None, ["not_a_number"]),
]


@pytest.mark.parametrize(("cell", "mg_dl", "when", "codes"), CREATININE_CELLS)
def test_creatinine_cells(cell, mg_dl, when, codes):
    p, found = read({"age": 50, "sex": "F", "creatinine": cell})
    assert p.creatinine_mg_dl == (pytest.approx(mg_dl) if mg_dl is not None else None)
    assert p.creatinine_date == when and found == codes


@pytest.mark.parametrize(
    ("header", "value", "mg_dl"),
    [("Creatinine (umol/L)", 106, 106 / 88.4), ("SCr (mg/dL)", 1.2, 1.2), ("Serum creatinine", "1.2 mg/dL", 1.2),
     ("Cr", "88.4 µmol/L", 1.0)],
)  # fmt: skip
def test_creatinine_columns_and_their_header_units(header, value, mg_dl):
    p, codes = read({"age": 50, header: value})
    assert p.creatinine_mg_dl == pytest.approx(mg_dl) and codes == []


def test_creatinine_is_read_but_no_egfr_is_made_from_it_by_reading():
    p, _ = read({"age": 60, "sex": "M", "creatinine": "1.4 mg/dL"})
    assert p.creatinine_mg_dl == 1.4 and p.egfr is None  # the engine computes CKD-EPI 2021 where it applies


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "when", "codes"),
    [
        ("2025-03-04", date(2025, 3, 4), []),
        ("13/04/2025", date(2025, 4, 13), []),
        ("04/13/2025", date(2025, 4, 13), []),
        ("03/04/2025", date(2025, 3, 4), ["date_ambiguous"]),  # 3 April or 4 March: the older
        ("4 Mar 2025", date(2025, 3, 4), []),
        ("Mar 4, 2025", date(2025, 3, 4), []),
        ("March 2025", date(2025, 3, 1), []),
        ("2025", date(2025, 1, 1), []),  # a year alone: 1 January
        (2025, date(2025, 1, 1), []),
        (45720, date(2025, 3, 4), []),  # an Excel serial number
        (datetime(2025, 3, 4, 8, 30), date(2025, 3, 4), []),
        (pd.Timestamp("2025-03-04"), date(2025, 3, 4), []),
        ("2025-03-04 08:30", date(2025, 3, 4), []),
        ("31/02/2025", None, ["invalid_date"]),
        ("last week", None, ["invalid_date"]),
    ],
)
def test_result_date_columns(value, when, codes):
    for field in ("serum_mg_date", "egfr_date", "creatinine_date"):
        fact = field.replace("serum_mg_date", "serum_date")
        p, found = read({"age": 50, field: value})
        assert getattr(p, fact) == when and found == codes, field


def test_the_reference_date_is_the_assessment_date_column():
    p, codes = read({"age": 50, "Assessment date": "2026-10-01"})
    assert p.reference_date == date(2026, 10, 1) and codes == []
    p, codes = read({"age": 50})
    assert p.reference_date is None  # the engine uses the run date
    p, codes = read({"age": 50, "visit date": "03/04/2026"})
    assert p.reference_date == date(2026, 3, 4) and codes == ["date_ambiguous"]
    p, codes = read({"age": 50, "assessment_date": "next tuesday"})
    assert p.reference_date is None and codes == ["invalid_date"]


def test_the_age_from_a_date_of_birth_uses_the_same_assessment_date():
    p, codes = read({"date_of_birth": "1950-06-01", "assessment_date": "1 Nov 2026"})
    assert round(p.age, 1) == 76.4 and p.reference_date == date(2026, 11, 1) and codes == []


def test_a_date_in_the_cell_and_in_the_column_that_differ_give_the_older():
    p, codes = read({"age": 50, "serum_mg": "0.7 mmol/L 2025-01-01", "Mg date": "2025-02-01"})
    assert p.serum_date == date(2025, 1, 1) and codes == ["conflicting_values"]
    p, codes = read({"age": 50, "serum_mg": "0.7 mmol/L 2025-01-01", "Mg date": "2025-01-01"})
    assert p.serum_date == date(2025, 1, 1) and codes == []


@pytest.mark.parametrize(
    ("row", "fact"),
    [
        ({"Serum Mg (mmol/L)": 0.7, "Result date": "2025-01-05"}, "serum_date"),
        ({"eGFR": 50, "Result date": "2025-01-05"}, "egfr_date"),
        ({"Creatinine (umol/L)": 106, "Collection date": "2025-01-05"}, "creatinine_date"),
    ],
)
def test_a_generic_result_date_dates_the_one_result_the_sheet_holds(row, fact):
    p, codes = read({"age": 50, **row})
    assert getattr(p, fact) == date(2025, 1, 5) and codes == []


def test_a_generic_result_date_beside_several_results_is_not_used_and_is_reported():
    row = {"age": 50, "Serum Mg (mmol/L)": 0.7, "eGFR": 50, "Result date": "2025-01-05"}
    p, codes = read(row)
    assert (p.serum_date, p.egfr_date) == (None, None) and codes == ["unknown_field"]
    assert "Result date" in mg.map_headers(list(row)).ignored


def test_new_fields_come_after_the_template_columns():
    names = [f.name for f in mg.knowledge().fields]
    assert names[-4:] == ["creatinine", "serum_mg_date", "egfr_date", "creatinine_date"]
    assert names.index("ref_range") == len(names) - 5  # a row read by position keeps its old meaning


def test_new_problem_codes():
    assert mg.ProblemCode.RESULT_NOT_CURRENT == "result_not_current"
    assert mg.ProblemCode.DATE_AMBIGUOUS == "date_ambiguous"


# ---------------------------------------------------------------- both executions over many shapes at once


def test_the_table_execution_reads_every_shape_like_a_row():
    rows = [{"age": 50, "serum_mg": cell} for cell, *_ in SERUM_CELLS]
    rows += [{"age": 70, "sex": "F", "egfr": cell} for cell, *_ in EGFR_CELLS]
    rows += [{"age": 70, "sex": "M", "creatinine": c, "creatinine_date": "03/04/2025"} for c, *_ in CREATININE_CELLS]
    rows += [{"age": 40, "serum_mg": "Mg 0.62 mmol/L L 2025-03-04", "ref_range": "0.70-1.00", "assessment_date": d}
             for d in ("2026-01-01", "03/04/2026", "x")]  # fmt: skip
    _frame_equals_rows(rows)


# ---------------------------------------------------------------- attacks: never an exception, linear time

LONG = 32_767  # Excel's cell limit
ATTACKS = [
    "L " * (LONG // 2 - 10) + "0.3 mmol/L",
    "0.3 mmol/L " + "L " * (LONG // 2 - 10),
    "(" * LONG,
    ")" * LONG,
    "(" * (LONG // 2) + "L" + ")" * (LONG // 2),
    "[(" * (LONG // 4) + "0.3 mmol/L",
    "0.6 mmol/L " + "2025-01-01 " * 2900,
    "0.6 mmol/L " + "(0.7-1.0) " * 3200,
    "0.6 mmol/L " + "ref 0.7-1.0 " * 2700,
    "Mg " * 10_000 + "0.6 mmol/L",
    "1" * LONG,
    "1." * (LONG // 2),
    "1/" * (LONG // 2),
    "4 " * (LONG // 2),
    "4 Mar " * (LONG // 6),
    "-" * LONG + "0.6 mmol/L",
    " " * (LONG - 1) + "x",
    "0.6\ud800 mmol/L",
    "\udfff",
    "\ud83d0.6 mmol/L",
    "٠٫٦ mmol/L",
    "𝟎.𝟔 mmol/L",
    "0.6\x00mmol/L",
    "0.6\u200bmmol/L",
    "\u202e0.6 mmol/L",
    "CRIT " * 6000 + "critical 0.3",
    "*!↓↑" * 8000,
    "L H LL HH C ! * CRIT panic N A AA 0.5 mmol/L",
    "G" * LONG,
    "CKD " * 8000,
    "eGFR " * 6000 + "45",
]


@pytest.mark.parametrize("cell", ATTACKS, ids=range(len(ATTACKS)))
def test_attacks_on_the_cell_reader_never_raise(cell):
    for field in ("serum_mg", "egfr", "creatinine", "serum_mg_date", "assessment_date"):
        _, codes = read({"age": 50, field: cell})
        assert all(code in set(mg.ProblemCode) for code in codes)
    a = mg.assess({"age": 50, "serum_mg": cell})
    assert all(problem.value == cell.strip() for problem in a.patient.problems)  # reported as written


def test_many_flags_combine_into_one():
    p, _ = read({"age": 50, "serum_mg": "L H LL HH C ! * CRIT panic N A AA 0.5 mmol/L"})
    assert p.serum.display() == "0.5 mmol/L" and p.serum_flag == "critical"


cells = st.one_of(
    st.text(max_size=40),
    st.text(st.sampled_from(list("0123456789.,-/ ()[]{}<>=+*!LHCNAmgolMdEqu↓↑µ:")), max_size=40),
    st.builds(
        lambda a, b, c, d: f"{a}{b}{c}{d}",
        st.sampled_from(["", "Mg ", "CRIT ", "[L] ", "eGFR ", "CrCl ", "Cr ", "Ca ", "critical "]),
        st.sampled_from(["0.3", "0,62", "<0.2", "45", "106", "1.4", ">60", "G3b", "CKD 4"]),
        st.sampled_from(["", " mmol/L", " mg/dL", " umol/L", " mL/min/1.73m2", " L", "*", " (critical)"]),
        st.sampled_from(["", " (ref 1.7-2.4)", " [0.70-1.00]", " 2025-03-04", " 03/04/2025", " (2025)", " (CG)"]),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(serum=cells, egfr=cells, creatinine=cells, when=cells)
def test_any_text_reads_alike_in_both_executions(serum, egfr, creatinine, when):
    read({"age": 50, "serum_mg": serum, "egfr": egfr, "creatinine": creatinine, "serum_mg_date": when})
