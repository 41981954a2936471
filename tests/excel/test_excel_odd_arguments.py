"""Arguments an attacker (or a broken runtime) passes to the Excel functions: never an exception, never an
"unexpected error", never an argument echoed beyond a short prefix, never a result a cell cannot hold."""

from __future__ import annotations

import decimal

import pytest

import mgdecision as mg
from mgdecision.excel import udfs
from mgdecision.excel.cells import MAX_CELL_CHARS, SHOWN_CHARS
from tests.odd_values import HugeText, NoText

D = decimal.Decimal
HEADERS = ["Patient ID", "Age", "Sex", "Serum Mg (mmol/L)", "eGFR", "Medications"]
ROW = ["P-1", 52, "F", 0.6, 45, "omeprazole"]


LONG = "L" * 32_767
ODD = [10**400, -(10**400), 1e308, float("inf"), D("sNaN"), D("NaN"), D("Infinity"), D("-Infinity"), NoText(),
       HugeText(), LONG, [[LONG]], [[NoText()]]]
SCALAR_CALLS = {
    "MG_RDA": lambda v: [(v, "F"), (52, v), (30, "F", v), (30, "F", False, v)],
    "MG_UL": lambda v: [(v,)],
    "MG_CONVERT": lambda v: [(v, "mmol/L", "mg/dL"), (0.6, v, "mg/dL"), (0.6, "mmol/L", v)],
    "MG_ELEMENTAL": lambda v: [(v, 400), ("oxide", v)],
}


def _check(result: object) -> None:
    texts = [result] if not isinstance(result, list) else [c for row in result for c in row]
    for text in texts:
        if isinstance(text, str):
            assert len(text) <= MAX_CELL_CHARS
            assert "unexpected error" not in text, text
            if text.startswith("#MG!"):
                assert len(text) < 400, text[:300]  # quotes at most a short prefix of an argument
        elif isinstance(text, float):
            assert text == text and abs(text) != float("inf"), text


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__)
def test_scalar_functions_give_an_mg_message_for_any_argument(value) -> None:
    for name, calls in SCALAR_CALLS.items():
        for args in calls(value):
            result = getattr(udfs, name)(*args)
            _check(result)
            assert isinstance(result, str | float), (name, args, result)


def test_the_reported_arguments_give_clear_messages() -> None:
    assert udfs.MG_UL(10**400) == "#MG! age is far too large (1000000000000000000000000000000000000000… (401 " \
                                  "characters)), e.g. =MG_UL(52)"
    assert udfs.MG_CONVERT(1e308, "mmol/L", "mg/dL") == ("#MG! value 1e+308 is too large to convert, e.g. "
                                                         '=MG_CONVERT(0.62, "mmol/L", "mg/dL")')
    assert udfs.MG_UL(NoText()) == "#MG! age must be a number, not 'a NoText value', e.g. =MG_UL(52)"
    assert udfs.MG_UL(D("NaN")) == "#MG! age must be a finite number, not 'NaN', e.g. =MG_UL(52)"
    assert udfs.MG_UL(LONG).startswith(f"#MG! age must be a number, not '{'L' * SHOWN_CHARS}… (32,767 characters)'")
    assert udfs.MG_RDA(30, "F", LONG).startswith("#MG! pregnant must be TRUE/FALSE or yes/no, not 'LLLL")
    assert udfs.MG_CONVERT(0.6, LONG, "mg/dL").startswith("#MG! unknown serum magnesium unit: 'LLLL")
    assert udfs.MG_ELEMENTAL(LONG, 400).startswith("#MG! unknown magnesium form 'LLLL")


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__)
def test_row_and_table_functions_give_cells_for_any_cell_value(value) -> None:
    for position in range(len(ROW)):
        row = list(ROW)
        row[position] = value
        for name in ("MG_RISK", "MG_CONTRA", "MG_DOSE", "MG_INTERACTIONS", "MG_WHY", "MG_FLAGS"):
            _check(getattr(udfs, name)(row, HEADERS))
        table = udfs.MG_TABLE([HEADERS, row, ROW])
        _check(table)
        assert isinstance(table, list) and len(table) == 3, table
        flags = udfs.MG_FLAGS(row, HEADERS)
        if isinstance(flags, list):
            assert table[1] == flags[0]  # the table reads a row as the row functions do


def test_a_row_whose_reasons_exceed_a_cell_is_cut_saying_so() -> None:
    row = ["P-1", LONG, "F", LONG, 45, LONG]
    why = udfs.MG_WHY(row, HEADERS)
    assert len(why) <= MAX_CELL_CHARS and "more than a cell holds" in why
    flags = udfs.MG_FLAGS(row, HEADERS)[0]
    assert all(len(c) <= MAX_CELL_CHARS for c in flags if isinstance(c, str))


def test_a_table_with_ten_thousand_unused_columns_reads_as_without_them() -> None:
    extra = [f"extra column {i}" for i in range(10_000)]
    rows = [[f"P-{i}", 40 + i, "F" if i % 2 else "M", 0.5 + i / 20, 30 + 5 * i, "omeprazole; furosemide"]
            for i in range(8)]
    narrow = udfs.MG_TABLE([HEADERS, *rows, [None] * len(HEADERS)])
    filler = [None] * len(extra)
    wide = udfs.MG_TABLE([HEADERS + extra, *[r + filler for r in rows], [None] * (len(HEADERS) + len(extra))])
    assert wide == narrow
    only_extra = udfs.MG_TABLE([HEADERS + extra, [None] * len(HEADERS) + ["note"] + filler[1:]])
    assert only_extra[1] == udfs.MG_FLAGS([None] * len(HEADERS) + ["note"], HEADERS + extra[:1])[0]
    assert only_extra[1][mg.COLUMNS.index("mg_risk")] == mg.RiskLevel.UNKNOWN  # a row holding a value is a
    # patient, as in MG_FLAGS
    misspelt = udfs.MG_TABLE([[*HEADERS, *extra[:50], "Serum Mgg"], [*ROW, *filler[:50], "0.7 mmol/L"]])
    assert "Serum Mgg" in misspelt[1][mg.COLUMNS.index("mg_input_problems")]  # a near miss is still reported
