"""Property-based tests (Hypothesis): safety invariants that must hold for any row."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mgdecision as mg

FIELDS = [f.name for f in mg.knowledge().fields]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.dates(),
    st.datetimes(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.decimals(allow_nan=False),
    st.sampled_from(["0.62 mmol/L", "1.5 mg/dL", "<0.3 mmol/L", "8 mo", "Prilosec 20 mg", "G35.A", "?MG", "yes"]),
    # missing values of every library, numpy scalars, numbers too large for a float, lone surrogates
    st.sampled_from([pd.NA, pd.NaT, np.nan, np.True_, np.False_, np.int64(70), np.float64(0.62), np.str_("HD")]),
    st.sampled_from([10**400, -(10**400), 10**5000, np.datetime64("NaT"), np.datetime64("1950-01-01")]),
    st.text(st.characters(categories=["Cs", "Lu", "Zs", "Cc"]), max_size=6),
    st.sampled_from(["45M", "70 f", "6m", "HD", "omeprazole + levothyroxine", "hx of MG", "0.70-1.00", " " * 300]),
)
rows = st.dictionaries(
    st.sampled_from([*FIELDS, "Serum Mg (mg/dL)", "Meds", "Dx", "junk", "medicatons"]), any_value, max_size=12
)

DRUGS = [
    "furosemide",
    "omeprazole",
    "HCTZ",
    "tacrolimus",
    "cisplatin",
    "gentamicin",
    "digoxin",
    "Vibramycin",
    "metformin",
    "Tivicay",
    "ferrous sulfate",
    "amlodipine",
    "spironolactone",
    "zzqmed",
]
DX = ["E11.9", "G35.A", "K50.90", "F10.20", "N18.31", "I44.2", "F45.1", "I10", "celiac disease", "M99.99"]
SYMPTOMS = ["cramps", "insomnia", "brain fog", "fatigue", "anxiety", "constipation", "diarrhoea", "tremor"]
realistic = st.fixed_dictionaries(
    {},
    optional={
        "age": st.one_of(st.integers(0, 110), st.floats(0, 120), st.just("abc")),
        "sex": st.sampled_from(["F", "M", "female", "x", ""]),
        "pregnant": st.sampled_from(["yes", "no", ""]),
        "serum_mg": st.one_of(
            st.floats(0.1, 3.0).map(lambda v: f"{v:.2f} mmol/L"),
            st.floats(0.3, 6.0).map(lambda v: f"{v:.1f} mg/dL"),
            st.floats(0.2, 2),
        ),
        "egfr": st.one_of(st.integers(0, 200), st.none()),
        "dialysis": st.sampled_from(["yes", "no", None]),
        "route": st.sampled_from(["oral", "iv", None]),
        "diagnoses": st.lists(st.sampled_from(DX), max_size=4).map("; ".join),
        "medications": st.lists(st.sampled_from(DRUGS), max_size=5).map(", ".join),
        "symptoms": st.lists(st.sampled_from(SYMPTOMS), max_size=4).map("; ".join),
        "supplement_dose_mg": st.one_of(st.none(), st.integers(0, 1000)),
    },
)


def _valid(a: mg.Assessment) -> None:
    row = a.row()
    assert list(row) == list(mg.COLUMNS)
    assert row["mg_risk"] in {x.value for x in mg.RiskLevel}
    assert row["mg_contraindication"] in {x.value for x in mg.ContraLevel}
    assert row["mg_dose_status"] in {x.value for x in mg.DoseStatus}
    assert all(i.severity in {"major", "moderate", "minor"} for i in a.interactions)
    for card in a.cards:
        assert card.indicator in {"info", "warning", "critical"} and len(card.summary) < 140
    assert isinstance(str(a), str) and "<section" in a._repr_html_()


@SETTINGS
@given(rows)
def test_arbitrary_rows_never_raise_and_give_a_valid_assessment(row):
    _valid(mg.assess(row))


@SETTINGS
@given(st.lists(any_value, max_size=25))
def test_arbitrary_cell_lists_never_raise(cells):
    _valid(mg.assess(cells))


@SETTINGS
@given(realistic, st.sampled_from(["G70.00", "myasthenia gravis", "G70.01", "G7000", "pyridostigmine"]))
def test_myasthenia_is_contraindicated_whatever_else(row, mg_term):
    if mg_term == "pyridostigmine":
        row["medications"] = f"{row.get('medications', '')}; {mg_term}"
    else:
        row["diagnoses"] = f"{row.get('diagnoses', '')}; {mg_term}"
    a = mg.assess(row)
    assert a.contraindication.level == "CONTRAINDICATED"
    assert a.dose.status == "DO_NOT_SUPPLEMENT" and a.dose.max_mg == 0


ORDER = {"UNKNOWN": -1, "LOW": 0, "MODERATE": 1, "HIGH": 2}


@SETTINGS
@given(
    realistic,
    st.sampled_from(
        [
            ("medications", "furosemide"),
            ("medications", "omeprazole"),
            ("diagnoses", "F10.20"),
            ("diagnoses", "E11.9"),
            ("medications", "digoxin"),
            ("diagnoses", "K90.0"),
            ("symptoms", "cramps; insomnia"),
        ]
    ),
)
def test_adding_a_risk_factor_never_lowers_the_risk(row, factor):
    before = mg.assess(row).risk.level
    field, term = factor
    row = {**row, field: f"{row.get(field, '')}; {term}"}
    after = mg.assess(row).risk.level
    assert ORDER[after] >= ORDER[before] or before == "UNKNOWN"


@SETTINGS
@given(realistic)
def test_recommended_range_never_exceeds_the_ul(row):
    a = mg.assess(row)
    if a.dose.max_mg and a.patient.age is not None:
        limit = mg.ul_mg(a.patient.age)
        assert limit is not None and a.dose.max_mg <= limit


def _away_from_thresholds(mmol: float) -> bool:
    """Published limits are rounded per unit (0.75 mmol/L = 1.82 mg/dL); stay clear of the rounding band."""
    cuts = [0.75, 0.85, 1.05, 0.5, 0.4, 0.3, 1.2 / 2.4305, 0.9 / 2.4305, 0.7 / 2.4305, 1.23, 3.0 / 2.4305]
    return all(abs(mmol - c) > 0.01 for c in cuts)


@SETTINGS
@given(st.floats(0.15, 4.0), realistic)
def test_same_value_in_any_unit_gives_the_same_result(mmol, row):
    assume(_away_from_thresholds(mmol))
    results = []
    for unit, factor in (("mmol/L", 1.0), ("mg/dL", 2.4305), ("mEq/L", 2.0)):
        a = mg.assess({**row, "serum_mg": f"{mmol * factor!r} {unit}"})
        r = a.row()
        results.append((r["mg_risk"], r["mg_contraindication"], r["mg_dose_status"], a.risk.points))
    assert results[0] == results[1] == results[2]


@given(st.floats(0.1, 10), st.sampled_from(["mmol/L", "mg/dL", "mEq/L"]), st.sampled_from(["mmol/L", "mg/dL", "mEq/L"]))
def test_convert_serum_round_trips(value, a, b):
    assert math.isclose(mg.convert_serum(mg.convert_serum(value, a, b), b, a), value, rel_tol=1e-12)


def test_conversion_constants():
    assert math.isclose(mg.convert_serum(1, "mmol/L", "mg/dL"), 2.4305)
    assert math.isclose(mg.convert_serum(1, "mmol/L", "mEq/L"), 2.0)
    assert math.isclose(mg.elemental_mg("oxide", 400), 241.2)
    assert math.isclose(mg.elemental_mg("Magnesium glycinate", 1000), 141.0)


def test_dob_age_uses_as_of_when_no_visit_date():
    a = mg.assess({"dob": "1956-01-01"}, as_of=dt.date(2026, 1, 2))
    assert a.risk.points == 1 and "2026-01-02" in a.row()["mg_reasons"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(rows, min_size=1, max_size=6), st.lists(realistic, min_size=1, max_size=40)))
def test_assess_frame_equals_the_row_path_on_any_table(table):
    import pandas as pd

    from mgdecision.frame import iter_assessments

    try:
        df = pd.DataFrame(table)
    except (UnicodeEncodeError, OverflowError):  # Arrow strings refuse lone surrogates, and pandas before 3.1 an
        # integer beyond a float's range: an object frame keeps them
        df = pd.DataFrame(table, dtype=object)
    assume(len(df.columns) == len(set(map(str, df.columns))))
    out = mg.assess_frame(df, as_of=dt.date(2026, 11, 22)) if mg.map_headers(df.columns).fields else None
    assume(out is not None)
    want = [a.row_values() for a in iter_assessments(df, as_of=dt.date(2026, 11, 22))]
    for k, column in enumerate(mg.COLUMNS):
        got = out[column].tolist()
        for i, expected in enumerate(w[k] for w in want):
            assert got[i] == expected or (expected is None and math.isnan(got[i])), (column, table[i], got[i], expected)
