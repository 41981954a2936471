"""Every front-end gives the same answer for the same row (the scikit-learn style conformance suite).

For every row of every sample workbook: ``mg.assess``, the batch command's flagged workbook, the Excel
``MG_TABLE`` function and the Jupyter ``PatientForm`` must give identical output columns.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import mgdecision as mg
from tests.batch.conftest import machine_row
from tests.excel.excel_conformance import cell_value, read_sheet, udf_results

SAMPLES = Path(__file__).resolve().parents[2] / "sample_workbooks"
NAMES = ["ms_clinic", "neuromuscular_clinic", "primary_care"]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """The output columns as a spreadsheet cell shows them: blank is "", numbers are floats."""
    return {c: cell_value(row[c]) for c in mg.COLUMNS}


def _core(name: str) -> list[dict[str, Any]]:
    headers, rows = read_sheet(SAMPLES / f"{name}.xlsx")
    return [_shown(mg.assess(dict(zip(headers, r, strict=True))).row()) for r in rows]


@pytest.fixture(scope="module")
def batch_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    from mgdecision.batch.cli import main

    folder = tmp_path_factory.mktemp("conformance")
    results = {}
    for name in NAMES:
        source = folder / f"{name}.xlsx"
        shutil.copy(SAMPLES / f"{name}.xlsx", source)
        target = folder / f"{name}.flagged.xlsx"
        assert main(["assess", str(source), "-o", str(target), "-q"]) == 0
        ws = openpyxl.load_workbook(target, read_only=True)["Patients"]
        table = [list(r) for r in ws.iter_rows(values_only=True)]
        header = table[0]
        results[name] = [_shown(machine_row(list(header), list(r))) for r in table[1:] if any(v is not None for v in r)]
    return results


@pytest.mark.parametrize("name", NAMES)
def test_batch_command_equals_core(batch_outputs: dict[str, list[dict[str, Any]]], name: str) -> None:
    core = _core(name)
    assert len(batch_outputs[name]) == len(core)
    for i, (got, want) in enumerate(zip(batch_outputs[name], core, strict=True)):
        assert got == want, f"{name} row {i + 2}"


@pytest.mark.parametrize("name", NAMES)
def test_excel_functions_equal_core(name: str) -> None:
    core = _core(name)
    excel = [_shown(r) for r in udf_results(SAMPLES / f"{name}.xlsx")]
    assert len(excel) == len(core)
    for i, (got, want) in enumerate(zip(excel, core, strict=True)):
        assert got == want, f"{name} row {i + 2}"


@pytest.mark.parametrize("name", NAMES)
def test_patient_form_equals_core(name: str) -> None:
    from mgdecision.widgets import PatientForm

    headers, rows = read_sheet(SAMPLES / f"{name}.xlsx")
    form = PatientForm()
    for i, (row, want) in enumerate(zip(rows, _core(name), strict=True)):
        form.load(dict(zip(headers, row, strict=True)))
        assert form.assessment is not None
        assert _shown(form.assessment.row()) == want, f"{name} row {i + 2}"
