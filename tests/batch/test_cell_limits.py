"""No cell of any output sheet holds more than a spreadsheet cell can (32,767 characters); what is cut says where
the full text is, and each row's problem column still names every problem of the row. Real files, read back."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from mgdecision.batch.cell_limits import MAX_CELL_CHARS

from .conftest import flagged_table, sheet_rows

LONG = "x" * MAX_CELL_CHARS  # fits a cell exactly: the message quoting it does not


def _longest_cells(path: Path) -> list[tuple[int, str]]:
    """(characters, sheet part) of the longest text of every sheet, read from the XML (what Excel counts)."""
    found = []
    with zipfile.ZipFile(path) as zf:
        strings = [m for m in re.findall(r"<t[^>]*>([^<]*)</t>", zf.read("xl/sharedStrings.xml").decode())] \
            if "xl/sharedStrings.xml" in zf.namelist() else []
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet"):
                texts = re.findall(r"<t[^>]*>([^<]*)</t>", zf.read(name).decode())
                decoded = [re.sub(r"&(amp|lt|gt|quot|apos);|_x[0-9A-F]{4}_", "!", t) for t in texts]
                found.append((max(map(len, decoded), default=0), name))
        found.append((max(map(len, strings), default=0), "sharedStrings"))
    return found


def _problems_by_row(out: Path) -> dict[int, list[tuple[str, str]]]:
    lines = sheet_rows(out, "Input problems")[1:]
    by_row: dict[int, list[tuple[str, str]]] = {}
    for line in lines:
        by_row.setdefault(line[0], []).append((line[4], line[6]))  # (field, reason code)
    return by_row


@pytest.mark.parametrize("mode", ["--annotate", "--streaming"])
def test_a_message_quoting_a_full_cell_is_cut_and_every_problem_of_the_row_stays_named(tmp_path: Path, run_cli,
                                                                                        mode: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(["MRN", "Age", "Sex", "Serum Mg", "eGFR", "Medications"])
    ws.append(["L-1", LONG, "Q", "0.6", "abc", "foo; bar"])  # the first problem is as long as a cell
    ws.append(["L-2", 50, "F", "0.6 mmol/L", 90, "; ".join(f"zzqq{i:05d}" for i in range(2900))])
    ws.append(["L-3", 60, "M", "0.8 mmol/L", 80, "omeprazole"])
    src = tmp_path / "long.xlsx"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    code, _, err = run_cli("assess", src, "-o", out, "-q", mode)
    assert code == 0, err
    assert all(n <= MAX_CELL_CHARS for n, _ in _longest_cells(out)), _longest_cells(out)
    problems = {r["MRN"]: r["mg_input_problems"] for r in flagged_table(out)[1] if r["MRN"]}
    lines = sheet_rows(out, "Input problems")[1:]
    message = next(line[7] for line in lines if line[0] == 2 and line[4] == "age")
    assert len(message) <= MAX_CELL_CHARS and message.startswith("'xxx")
    assert "[cut: 32,783 characters; the value it quotes is in the Value column]" in message
    assert next(line[5] for line in lines if line[0] == 2 and line[4] == "age") == LONG  # the value, whole
    by_row = _problems_by_row(out)
    for row, pid in ((2, "L-1"), (3, "L-2")):
        text = problems[pid]
        assert len(text) <= MAX_CELL_CHARS and f"the full text is on the Input problems sheet, row {row}]" in text
        for fld, code in by_row[row]:  # every problem of the row, however long the first (the parts of this
            assert fld == "mg_input_problems" or f"{fld} ({code})" in text, (fld, code)  # very text aside)
    assert "egfr (not_a_number): 'abc' is not a number" in problems["L-1"]  # short ones whole
    assert "'zzqq00000' not recognised" in problems["L-2"] and "more: medications (unrecognized_term) x" in \
        problems["L-2"]
    assert "[cut" not in (problems["L-3"] or "")


def test_csv_texts_longer_than_a_cell_in_headers_values_and_problems(tmp_path: Path, run_cli) -> None:
    """From CSV nothing limits a field: every sheet of the flagged workbook still keeps to the cell limit, and
    the CSV output keeps every text whole."""
    wide_header = "Note " + "n" * 40_000
    meds = "qqzz" + "y" * 60_000  # one unrecognised item longer than a cell
    src = tmp_path / "big.csv"
    pd.DataFrame([{"Patient ID": "C-1", "Age": "a" * 50_000, "Medications": meds, wide_header: "y" * 70_000},
                  {"Patient ID": "C-2", "Age": 40, "Medications": "", wide_header: ""}]).to_csv(src, index=False)
    out = tmp_path / "big.flagged.xlsx"
    code, _, err = run_cli("assess", src, "-o", out, "-q", "--workers", "1")
    assert code == 0, err
    assert all(n <= MAX_CELL_CHARS for n, _ in _longest_cells(out)), _longest_cells(out)
    lines = sheet_rows(out, "Input problems")[1:]
    parts: dict[str, list[str]] = {}
    for line in lines:
        if line[6] == "text_cut":
            parts.setdefault(line[3][:20], []).append(line[5])
    assert "".join(parts["Medications"]) == meds and "".join(parts["Age"]) == "a" * 50_000
    assert "".join(parts["Note " + "n" * 15]) == "y" * 70_000
    summary = sheet_rows(out, "Summary")
    assert any(str(r[0]).startswith("qqzzyyy") and "[cut: 60,004 characters" in r[0] for r in summary)  # counted
    flat = tmp_path / "big.out.csv"
    assert run_cli("assess", src, "-o", flat, "-q")[0] == 0
    back = pd.read_csv(flat, dtype=object, keep_default_na=False)
    assert back.loc[0, "Medications"] == meds and back.loc[0, wide_header] == "y" * 70_000
    assert len(back.loc[0, "mg_input_problems"]) > MAX_CELL_CHARS  # CSV holds any length: nothing cut


def test_parquet_values_of_no_spreadsheet_type_are_written_as_their_text(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "lists.parquet"
    pd.DataFrame({"Patient ID": ["P-1", "P-2"], "Age": [50, 60],
                  "Tags": [["a", "b"], ["c" * 40_000, "d"]]}).to_parquet(src)
    out = tmp_path / "lists.xlsx"
    code, _, err = run_cli("assess", src, "-o", out, "-q")
    assert code == 0, err
    assert all(n <= MAX_CELL_CHARS for n, _ in _longest_cells(out))
    _, *rows = sheet_rows(out, "lists")
    assert rows[0][2].startswith("['a'") or rows[0][2].startswith("[\"a\"") or "a" in rows[0][2]
    assert "[cut: " in rows[1][2]
