"""Conformance: for every sample workbook, MG_TABLE over the sheet (with its headers) equals mg.assess row by row,
with the value types classic xlwings and xlwings Lite deliver, and when calculated from a real workbook."""

from __future__ import annotations

import openpyxl
import pytest
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

import mgdecision as mg
from tests.excel.excel_conformance import SAMPLE_NAMES, core_results, read_sheet, sample_paths, udf_results
from tests.excel.excel_glue import calculate

SAMPLES = sample_paths()


def test_sample_workbooks_are_present():
    missing = sorted(set(SAMPLE_NAMES) - {p.name for p in SAMPLES})
    assert not missing, f"sample workbooks missing: {missing}"


@pytest.mark.parametrize("runtime", ["classic", "lite"])
@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_mg_table_equals_assess_for_every_row(path, runtime):
    udf, core = udf_results(path, runtime), core_results(path)
    assert len(udf) == len(core) > 0
    for i, (got, want) in enumerate(zip(udf, core, strict=True)):
        assert got == want, f"{path.name} data row {i + 1} ({runtime})"
    assert {row["mg_risk"] for row in udf} <= {"LOW", "MODERATE", "HIGH", "UNKNOWN", ""}


SMALL = [p for p in SAMPLES if p.name != "primary_care.xlsx"]  # formulas needs seconds per thousand cells


@pytest.mark.parametrize("path", SMALL, ids=[p.stem for p in SMALL])
def test_mg_table_as_a_dynamic_array_over_a_sample_sheet(path, tmp_path):
    """Copy the sample's patient sheet, add =MG_TABLE(...) as a dynamic array sized to it, calculate."""
    headers, rows = read_sheet(path)
    out = tmp_path / path.name
    wb = xlsxwriter.Workbook(str(out))
    ws = wb.add_worksheet("Patients")
    for r, line in enumerate([headers, *rows]):
        for c, value in enumerate(line):
            if value is not None:
                ws.write(r, c, value)
    flags = wb.add_worksheet("Flags")
    last = f"{xl_col_to_name(len(headers) - 1)}{len(rows) + 1}"
    flags.write_dynamic_array_formula(0, 0, len(rows), len(mg.COLUMNS) - 1, f"=MG_TABLE(Patients!A1:{last})")
    wb.close()
    last_out = xl_col_to_name(len(mg.COLUMNS) - 1)  # one column per output
    assert openpyxl.load_workbook(out)["Flags"]["A1"].value.ref == f"A1:{last_out}{len(rows) + 1}"
    cells = calculate(out)
    letters = [xl_col_to_name(i) for i in range(len(mg.COLUMNS))]
    assert [cells[("FLAGS", f"{c}1")] for c in letters] == list(mg.COLUMNS)
    for i, want in enumerate(core_results(path)):
        assert [cells[("FLAGS", f"{c}{i + 2}")] for c in letters] == list(want.values()), f"{path.name} row {i + 2}"
