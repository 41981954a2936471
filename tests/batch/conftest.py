"""Fixtures: small real workbooks written with openpyxl, and helpers to run the CLI and read outputs back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Font

from mgdecision import outputs
from mgdecision.batch.cli import main
from mgdecision.batch.sheets import output_positions

HEADERS = ["Patient ID", "Age (years)", "Sex", "Serum Magnesium (mg/dL)", "eGFR", "Diagnoses", "Current medications",
           "Symptoms", "Supplement", "Dose (mg)", "Ward"]
ROWS = [
    ["P-001", 67, "F", 1.5, 45, "N18.3; E11.9", "omeprazole 20 mg; furosemide", "leg cramps", "oxide", 400, "A"],
    ["P-002", 34, "M", 2.1, 110, "", "doxycycline 100 mg", "", "", None, "B"],
    ["P-003", 81, "female", "0.55 mmol/L", 12, "N18.5", "Prilosec", "fatigue", "citrate", 250, "A"],
    ["P-004", 45, "M", None, None, "myasthenia gravis", "pyridostigmine", "", "", None, "C"],
    ["P-005", "abc", "X", "1.9", 90, "G35", "levothyroxine; gabapentin", "muscle cramps at night", "glycinate", 300,
     "B"],
    ["P-006", 52, "F", 1.8, 75, "", "", "", "", None, "A"],
]
INJECTION = '=HYPERLINK("http://example.invalid","click")'


def string_cell(ws: Any, row: int, col: int, text: str) -> None:
    """A text cell even when the text starts with '=' (openpyxl would otherwise store a formula)."""
    cell = ws.cell(row, col)
    cell.value = text
    cell.data_type = "s"


def write_clinic(path: Path, *, header_row: int = 1, headers: list[str] | None = None,
                 rows: list[list[Any]] | None = None) -> Path:
    """A clinic workbook: the patient sheet (header possibly below blank rows) and a styled notes sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    for j, h in enumerate(headers or HEADERS, start=1):
        ws.cell(header_row, j, h).font = Font(bold=True, italic=True)
    for i, row in enumerate(rows if rows is not None else ROWS, start=header_row + 1):
        for j, v in enumerate(row, start=1):
            if isinstance(v, str) and v.startswith("="):
                string_cell(ws, i, j, v)
            else:
                ws.cell(i, j, v)
    ws.column_dimensions["A"].width = 13
    notes = wb.create_sheet("Notes")
    notes["A1"] = "Clinic notes"
    notes["A1"].font = Font(bold=True, color="FF0000")
    notes["B2"] = "=1+1"
    notes.column_dimensions["A"].width = 33
    wb.save(path)
    return path


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    return write_clinic(tmp_path / "clinic.xlsx")


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*args: Any) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sheet_rows(path: Path, sheet: str) -> list[list[Any]]:
    wb = openpyxl.load_workbook(path)
    rows = [[c.value for c in r] for r in wb[sheet].iter_rows()]
    wb.close()
    return rows


def machine_row(header: list[Any], values: list[Any]) -> dict[str, Any]:
    """A patient sheet row as a dict, the output columns under their machine names with machine values
    (the workbook shows plain headers and level labels: ``mgdecision.outputs``)."""
    at = {i: column for column, i in output_positions(header).items()}
    for i, name in enumerate(header):  # plain headers scattered among the clinic's columns, each written once
        column = outputs.column_of(name)
        if column is not None and i not in at and column not in at.values() and header.count(name) == 1:
            at[i] = column
    out = {}
    for i, (name, value) in enumerate(zip(header, values, strict=False)):
        if i in at:
            out[at[i]] = outputs.machine_value(at[i], value)
        else:
            out.setdefault(name, value)
    return out


def flagged_table(path: Path, sheet: str = "Patients") -> tuple[list[Any], list[dict[str, Any]]]:
    """(header row, one dict per data row, output columns by machine name) from an output workbook's patient
    sheet; the header row is as written (plain headers)."""
    rows = [r for r in sheet_rows(path, sheet) if any(v is not None for v in r)]
    header = rows[0]
    return header, [machine_row(header, r) for r in rows[1:]]
