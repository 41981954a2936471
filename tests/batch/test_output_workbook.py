"""Issue 13, the output workbook: readable reasons, frozen id column, print setup, a Review column kept on re-runs."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import mgdecision as mg
from mgdecision.batch.sheets import (
    LINE_HEIGHT,
    MAX_LINES,
    PRINT_SCALE,
    REVIEW_CHOICES,
    REVIEW_HEADERS,
    REVIEW_REASONS,
)
from mgdecision.outputs import REASONS_MAX

from .conftest import HEADERS, ROWS, flagged_table, write_clinic

MODES = ["--annotate", "--streaming"]


@pytest.mark.parametrize("mode", MODES)
def test_layout_heights_freeze_and_print_setup(clinic: Path, run_cli, mode: str) -> None:
    assert run_cli("assess", clinic, mode, "-q")[0] == 0
    out = clinic.with_name("clinic.flagged.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb["Patients"]
    assert ws.freeze_panes == "B2"  # header row and patient id column stay in view
    assert ws.print_title_rows.replace("$", "") == "1:1" and ws.print_title_cols.replace("$", "") == "A:A"
    for sheet in wb.sheetnames:
        if sheet == "Notes":  # the clinic's own sheet keeps its own setup
            continue
        setup = wb[sheet].page_setup
        assert setup.orientation == "landscape", sheet
        fitted = bool(wb[sheet].sheet_properties.pageSetUpPr and wb[sheet].sheet_properties.pageSetUpPr.fitToPage)
        if fitted:  # fitted only where that keeps 8 pt text: the widths are checked when printed
            assert int(setup.fitToWidth or 1) == 1 and int(setup.fitToHeight) == 0, sheet
        else:
            assert int(setup.scale) == PRINT_SCALE and setup.pageOrder == "overThenDown", sheet
        assert "&P" in str(wb[sheet].oddFooter.center.text) and "&N" in str(wb[sheet].oddFooter.center.text), sheet
        assert wb[sheet].print_area, sheet
        if sheet != "Summary" and sheet != "Sources":
            assert wb[sheet].print_title_rows, sheet
    added = range(len(HEADERS) + 1, len(HEADERS) + len(mg.COLUMNS) + len(REVIEW_HEADERS) + 1)
    assert all(ws.cell(1, c).alignment.wrap_text for c in added)  # a long header wraps, never cut by the next
    reasons_col = len(HEADERS) + mg.COLUMNS.index("mg_reasons") + 1
    assert ws.cell(1, reasons_col).value == "Reasons"
    heights = [ws.row_dimensions[r].height or LINE_HEIGHT for r in range(2, len(ROWS) + 2)]
    assert max(heights) <= LINE_HEIGHT * MAX_LINES  # compact: the reasons never set the height
    assessed = [mg.assess(dict(zip(HEADERS, row, strict=True))) for row in ROWS]
    assert max(len(a.reasons_text()) for a in assessed) > 600  # in full these would be 27 lines tall
    # the patient row holds the core's capped reasons; every reason is whole on the Reasons sheet, keyed by row,
    # one line per flag
    lines = [[c.value for c in r] for r in wb["Reasons"].iter_rows(min_row=2)]
    for r, a in enumerate(assessed, start=2):
        assert ws.cell(r, reasons_col).value == a.row()["mg_reasons"], r
        assert len(ws.cell(r, reasons_col).value) <= REASONS_MAX, r
        mine = [line[3] for line in lines if line[0] == r and line[2] == "Reasons"]
        assert " | ".join(mine) == a.reasons_text(), r
        assert all(line[1] == ws.cell(r, 1).value for line in lines if line[0] == r)


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


@pytest.mark.parametrize("mode", MODES)
def test_rerun_replaces_its_own_columns_and_keeps_a_clinic_reasons_column(tmp_path: Path, run_cli, mode: str) -> None:
    """Plain headers are recognised as a previous run's only all together: a clinic's "Reasons" column stays."""
    headers = [*HEADERS, "Reasons"]
    src = write_clinic(tmp_path / "clinic.xlsx", headers=headers, rows=[[*r, f"clinic note {i}"]
                                                                        for i, r in enumerate(ROWS)])
    first = tmp_path / "first.xlsx"
    assert run_cli("assess", src, mode, "-o", first, "-q")[0] == 0
    header, rows = flagged_table(first)
    assert header.count("Reasons") == 2 and [r["Reasons"] for r in rows] == [f"clinic note {i}" for i in range(6)]
    second = tmp_path / "second.xlsx"
    assert run_cli("assess", first, mode, "-o", second, "-q")[0] == 0
    header2, rows2 = flagged_table(second)
    assert sorted(header2) == sorted(header)  # the old output columns gave way to the new ones, none added twice
    assert [r["Reasons"] for r in rows2] == [f"clinic note {i}" for i in range(6)]
    assert [r["mg_risk"] for r in rows2] == [r["mg_risk"] for r in rows]
