"""Issue 13, the output workbook: readable reasons, frozen id column, print setup, a Review column kept on re-runs."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import mgdecision as mg
from mgdecision.batch.sheets import LINE_HEIGHT, REVIEW_CHOICES, REVIEW_HEADERS, REVIEW_REASONS

from .conftest import HEADERS, ROWS, flagged_table, write_clinic

MODES = ["--annotate", "--streaming"]


@pytest.mark.parametrize("mode", MODES)
def test_layout_heights_freeze_and_print_setup(clinic: Path, run_cli, mode: str) -> None:
    assert run_cli("assess", clinic, mode, "-q")[0] == 0
    ws = openpyxl.load_workbook(clinic.with_name("clinic.flagged.xlsx"))["Patients"]
    assert ws.freeze_panes == "B2"  # header row and patient id column stay in view
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows.replace("$", "") == "1:1" and ws.print_title_cols.replace("$", "") == "A:A"
    reasons_col = len(HEADERS) + mg.COLUMNS.index("mg_reasons") + 1
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(reasons_col)].width
    for r in range(2, len(ROWS) + 2):
        text = ws.cell(r, reasons_col).value
        lines = -(-len(text) // int(90 * 1.15))
        height = ws.row_dimensions[r].height
        assert width >= 90
        if lines > 1:  # as tall as the text needs (no longer cut at three lines)
            assert height == LINE_HEIGHT * min(lines, 27)
    assert max(ws.row_dimensions[r].height or 0 for r in range(2, len(ROWS) + 2)) > 3 * LINE_HEIGHT


def _lists(ws: object) -> dict[str, str]:
    found = {}
    for dv in ws.data_validations.dataValidation:  # type: ignore[attr-defined]
        found[str(dv.sqref).split(":")[0].rstrip("0123456789")] = dv.formula1
    return found


@pytest.mark.parametrize("mode", MODES)
def test_review_columns_with_drop_downs(clinic: Path, run_cli, mode: str) -> None:
    assert run_cli("assess", clinic, mode, "-q")[0] == 0
    out = clinic.with_name("clinic.flagged.xlsx")
    header, rows = flagged_table(out)
    assert header[-2:] == list(REVIEW_HEADERS)
    assert all(r["Review"] is None and r["Review reason"] is None for r in rows)
    ws = openpyxl.load_workbook(out)["Patients"]
    review = openpyxl.utils.get_column_letter(len(header) - 1)
    reason = openpyxl.utils.get_column_letter(len(header))
    lists = _lists(ws)
    assert lists[review] == '"' + ",".join(REVIEW_CHOICES) + '"'
    assert lists[reason] == '"' + ",".join(REVIEW_REASONS) + '"'


def test_rerun_in_annotate_mode_keeps_the_clinicians_review(tmp_path: Path, run_cli) -> None:
    src = write_clinic(tmp_path / "clinic.xlsx")
    first = tmp_path / "first.xlsx"
    assert run_cli("assess", src, "-o", first, "-q")[0] == 0
    wb = openpyxl.load_workbook(first)
    ws = wb["Patients"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("Review") + 1, "overridden")
    ws.cell(2, header.index("Review reason") + 1, "patient preference")
    ws.cell(5, header.index("Review") + 1, "accepted")
    reviewed = tmp_path / "reviewed.xlsx"
    wb.save(reviewed)
    second = tmp_path / "second.xlsx"
    assert run_cli("assess", reviewed, "--annotate", "-o", second, "-q")[0] == 0
    header2, rows = flagged_table(second)
    assert header2 == header  # no column added twice
    assert [(r["Review"], r["Review reason"]) for r in rows[:4]] == [
        ("overridden", "patient preference"), (None, None), (None, None), ("accepted", None)]
    _, before = flagged_table(first)
    assert [r["mg_risk"] for r in rows] == [r["mg_risk"] for r in before]
    assert rows[3]["mg_contraindication"] == "CONTRAINDICATED"  # P-004, myasthenia gravis
    assert len(_lists(openpyxl.load_workbook(second)["Patients"])) == 2  # no second set of drop-downs
