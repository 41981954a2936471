"""Every column of the input reaches every output mode, headed or not; real files written and read back."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from mgdecision import outputs
from mgdecision.batch import cli

HEADER = ["MRN", "Age", "Sex", "Serum Mg (mmol/L)", None]
ROW = ["B-1", 50, "F", 0.6, "keepme"]


def _issue_workbook(path: Path) -> Path:
    """The reported case: a trailing column whose header cell is blank."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(HEADER)
    ws.append(ROW)
    wb.save(path)
    return path


def _framed_workbook(path: Path) -> Path:
    """A title above the headers, a note right of them, an unheaded column on each side and one in between,
    and an unheaded value that appears only on the last row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws["B1"] = "Magnesium clinic"
    for j, h in enumerate(["MRN", "Age", "Sex", "Serum Mg (mmol/L)"], start=3):  # C..F
        ws.cell(3, j, h)
    ws.cell(4, 1, "left note")  # A: no header
    for j, v in enumerate(["B-1", 50, "F", 0.6], start=3):
        ws.cell(4, j, v)
    ws.cell(4, 8, "right note")  # H: no header, G between is empty
    for j, v in enumerate(["B-2", 61, "M", "0.9 mmol/L"], start=3):
        ws.cell(5, j, v)
    ws.cell(40, 3, "B-3")
    ws.cell(40, 10, "late note")  # J, only on a row far below
    wb.save(path)
    return path


def _read(out: Path, sheet: str = "Patients") -> tuple[list[Any], list[list[Any]]]:
    if out.suffix == ".csv":
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    elif out.suffix == ".parquet":
        df = pd.read_parquet(out)
        rows = [list(df.columns), *df.astype(object).where(df.notna(), None).values.tolist()]
    else:
        wb = openpyxl.load_workbook(out)
        rows = [[c.value for c in r] for r in wb[sheet].iter_rows()]
        rows = [r for r in rows if any(v not in (None, "") for v in r)]
    return rows[0], rows[1:]


def _at(header: list[Any], column: str) -> int:
    """Where an output column is: its machine name (CSV, Parquet) or its plain header (workbooks)."""
    return next(i for i, h in enumerate(header) if outputs.column_of(h) == column)


def _cells(rows: list[list[Any]]) -> set[str]:
    return {str(v) for r in rows for v in r if v not in (None, "")}


@pytest.mark.parametrize("suffix,mode", [(".xlsx", "--annotate"), (".xlsx", "--streaming"), (".csv", None),
                                         (".parquet", None)])
def test_the_reported_trailing_unheaded_column_reaches_the_output(tmp_path: Path, run_cli, suffix: str,
                                                                   mode: str | None) -> None:
    src = _issue_workbook(tmp_path / "f.xlsx")
    out = tmp_path / f"o{suffix}"
    code, _, err = run_cli("assess", src, "-o", out, "-q", *([mode] if mode else []))
    assert code == 0, err
    header, rows = _read(out)
    assert "keepme" in _cells(rows)
    if mode != "--annotate":  # annotate keeps the user's blank header cell as it is
        assert header[4] == "Column E" and rows[0][4] == "keepme"
    assert _at(header, outputs.COLUMNS[0]) > 4  # the outputs come after every input column


@pytest.mark.parametrize("suffix,mode", [(".xlsx", "--annotate"), (".xlsx", "--streaming"), (".csv", None),
                                         (".parquet", None)])
def test_unheaded_columns_left_right_between_and_far_below_are_kept(tmp_path: Path, run_cli, suffix: str,
                                                                     mode: str | None) -> None:
    src = _framed_workbook(tmp_path / "framed.xlsx")
    out = tmp_path / f"o{suffix}"
    code, _, err = run_cli("assess", src, "-o", out, "-q", *([mode] if mode else []))
    assert code == 0, err
    header, rows = _read(out)
    assert {"left note", "right note", "late note", "B-1", "B-2", "B-3"} <= _cells(rows)
    if mode != "--annotate":
        names = header[: _at(header, outputs.COLUMNS[0])]
        assert [n for n in names if n] == ["Column A", "Column B", "MRN", "Age", "Sex", "Serum Mg (mmol/L)",
                                           "Column G", "Column H", "Column I", "Column J"]
        by_id = {r[names.index("MRN")]: r for r in rows}
        assert by_id["B-1"][0] == "left note" and by_id["B-3"][names.index("Column J")] == "late note"
        risk = _at(header, "mg_risk")
        assert outputs.machine_value("mg_risk", by_id["B-1"][risk]) == "HIGH"  # the patient columns read as before


def test_a_csv_record_longer_than_its_header_keeps_every_field(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "ragged.csv"
    src.write_text('MRN,Age,Sex,Serum Mg (mmol/L)\nB-1,50,F,0.6,keepme\nB-2,60,M,0.8,,"x\ny"\n', encoding="utf-8")
    for out in (tmp_path / "o.csv", tmp_path / "o.xlsx"):
        assert run_cli("assess", src, "-o", out, "-q")[0] == 0
        header, rows = _read(out, "ragged")
        assert header[4:6] == ["Column E", "Column F"]
        assert rows[0][4] == "keepme" and rows[1][5] == "x\ny"


def test_dask_keeps_an_unheaded_column_and_refuses_a_record_longer_than_its_header(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "d.csv"
    src.write_text("MRN,Age,Age,Serum Mg (mmol/L),\nB-1,50,51,0.6,keepme\n", encoding="utf-8")
    for out in (tmp_path / "o.csv", tmp_path / "o.parquet"):
        code, _, err = run_cli("assess", src, "-o", out, "-q", "--engine", "dask", "--workers", "1")
        assert code == 0, err
        header, rows = _read(out)
        assert header[:5] == ["MRN", "Age", "Age #2", "Serum Mg (mmol/L)", "Column E"]  # as the local reader names
        assert rows[0][4] == "keepme"
    ragged = tmp_path / "r.csv"
    ragged.write_text("MRN,Age,Serum Mg (mmol/L)\nB-1,50,0.6\nB-2,60,0.7,lost?\n", encoding="utf-8")
    code, _, err = run_cli("assess", ragged, "-o", tmp_path / "r.out.csv", "-q", "--engine", "dask", "--workers", "1")
    assert code == cli.EXIT_REFUSED
    assert "more fields than the header row" in err and "Traceback" not in err
    assert not (tmp_path / "r.out.csv").exists()
