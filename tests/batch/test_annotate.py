"""Annotate mode: the user's workbook with the output columns, fills and three added sheets."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import mgdecision as mg
from mgdecision import outputs
from mgdecision.batch.sheets import DETAIL_WIDTH, HEADER_FILL, LEVEL_FILLS, REVIEW_HEADERS

from .conftest import HEADERS, ROWS, flagged_table, sha256, sheet_rows, write_clinic


def test_annotate_writes_every_sheet_and_column(clinic: Path, run_cli) -> None:
    before = sha256(clinic)
    code, out, _err = run_cli("assess", clinic, "-q")
    assert code == 0
    target = clinic.with_name("clinic.flagged.xlsx")
    assert f"Output: {target}" in out
    assert "Risk:" in out and "Contraindication:" in out and "Dose decision:" in out
    assert "NONE_FOUND" not in out and "None found" in out  # plain words for people
    assert sha256(clinic) == before

    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["Patients", "Notes", "Input problems", "Reasons", "Summary", "Sources"]
    ws = wb["Patients"]
    header = [c.value for c in ws[1]]
    assert header == HEADERS + [outputs.header(c) for c in mg.COLUMNS] + list(REVIEW_HEADERS)
    assert ws.freeze_panes == "B2"  # the header row and the patient id column stay in view
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{len(ROWS) + 1}"
    assert ws.column_dimensions["A"].width == 13  # the user's width is kept
    assert ws["A1"].font.italic  # and the user's header style
    out_first = len(HEADERS) + 1
    assert ws.cell(1, out_first).fill.fgColor.rgb.endswith(HEADER_FILL)
    reasons = openpyxl.utils.get_column_letter(out_first + mg.COLUMNS.index("mg_reasons"))
    assert ws.column_dimensions[reasons].width == DETAIL_WIDTH  # a narrow column: the whole text is on Reasons

    ids = [ws.cell(r, 1).value for r in range(2, len(ROWS) + 2)]
    assert ids == [r[0] for r in ROWS]  # row order kept, none dropped
    for r in range(2, len(ROWS) + 2):
        for name in outputs.LEVEL_COLUMNS:
            cell = ws.cell(r, out_first + mg.COLUMNS.index(name))
            assert outputs.machine_value(name, cell.value) in LEVEL_FILLS, name  # the word is always there
            assert cell.value in outputs.VALUE_LABELS.values(), name  # in plain words
            assert cell.fill.fgColor.rgb.endswith(LEVEL_FILLS[outputs.machine_value(name, cell.value)])
            assert cell.font.b

    notes = wb["Notes"]  # the other sheet, formatting and formula kept
    assert notes["A1"].value == "Clinic notes" and notes["A1"].font.color.rgb.endswith("FF0000")
    assert notes["B2"].value == "=1+1" and notes["B2"].data_type == "s"  # kept as text, never live
    assert notes.column_dimensions["A"].width == 33


def test_values_equal_core_assess_row_by_row(clinic: Path, run_cli) -> None:
    assert run_cli("assess", clinic, "-q")[0] == 0
    _, rows = flagged_table(clinic.with_name("clinic.flagged.xlsx"))
    assert len(rows) == len(ROWS)
    for source, got in zip(ROWS, rows, strict=True):
        expected = mg.assess(dict(zip(HEADERS, source, strict=True))).row()
        assert {c: got[c] if got[c] is not None else ("" if isinstance(expected[c], str) else None)
                for c in mg.COLUMNS} == expected


def test_problems_sheet_lists_codes_rows_and_cells(clinic: Path, run_cli) -> None:
    run_cli("assess", clinic, "-q")
    wb = openpyxl.load_workbook(clinic.with_name("clinic.flagged.xlsx"))
    rows = [[c.value for c in r] for r in wb["Input problems"].iter_rows()]
    assert rows[0] == ["Row", "Cell", "Patient ID", "Column", "Field", "Value", "Reason code", "Message"]
    problems = {(r[0], r[3], r[6]) for r in rows[1:]}
    assert (6, "Age (years)", "not_a_number") in problems  # P-005 "abc" on spreadsheet row 6
    assert any(r[1] == "B6" and r[2] == "P-005" for r in rows[1:])
    assert all(r[6] for r in rows[1:]) and all(r[7] for r in rows[1:])
    _, patients = flagged_table(clinic.with_name("clinic.flagged.xlsx"))
    flagged = {r["Patient ID"]: r["mg_input_problems"] for r in patients}
    assert "age" in flagged["P-005"].lower()
    assert wb["Input problems"].freeze_panes == "A2"


def test_summary_and_sources_sheets(clinic: Path, run_cli) -> None:
    run_cli("assess", clinic, "-q")
    wb = openpyxl.load_workbook(clinic.with_name("clinic.flagged.xlsx"))
    summary = [[c.value for c in r] for r in wb["Summary"].iter_rows()]
    labels = [r[0] for r in summary]
    assert ["Patient rows", len(ROWS)] in [r[:2] for r in summary]
    for enum in (mg.RiskLevel, mg.ContraLevel, mg.DoseStatus):
        for level in enum:
            assert outputs.VALUE_LABELS[level.value] in labels and level.value not in labels  # plain words
    risk_total = sum(r[1] for r in summary if r[0] in {outputs.VALUE_LABELS[v.value] for v in mg.RiskLevel})
    assert risk_total == len(ROWS)
    assert "Most frequent interactions" in labels and "Most frequent unrecognised terms" in labels
    assert any(str(x).startswith("doxycycline") for x in labels)
    assert len(wb["Summary"]._charts) == 3

    sources = [[c.value for c in r] for r in wb["Sources"].iter_rows()]
    text = "\n".join(" ".join(str(v) for v in r if v is not None) for r in sources)
    kb = mg.knowledge()
    assert kb.notice in text and kb.version in text and f"mgdecision {mg.__version__}" in text
    for src in kb.sources.values():
        assert src.label in text and src.url in text
    for conflict in kb.seed_conflicts.values():
        assert conflict["claim"] in text
    assert "Serum Magnesium (mg/dL)" in text and "serum_mg" in text  # the column mapping


def test_header_below_blank_rows_and_variants(tmp_path: Path, run_cli) -> None:
    headers = ["MRN", "age", "gender", "Mg (mmol/L)", "GFR", "Dx", "Meds", "Sx", "Mg salt", "Mg dose (mg)", "Bed"]
    src = write_clinic(tmp_path / "late.xlsx", header_row=3, headers=headers)
    code, _, err = run_cli("assess", src)
    assert code == 0
    assert "MRN -> patient_id" in err
    wb = openpyxl.load_workbook(tmp_path / "late.flagged.xlsx")
    ws = wb["Patients"]
    assert ws.freeze_panes == "B4"
    out_first = len(headers) + 1
    assert [ws.cell(3, out_first + i).value for i in range(len(mg.COLUMNS))] == [outputs.header(c) for c in mg.COLUMNS]
    assert [ws.cell(r, 1).value for r in range(4, 4 + len(ROWS))] == [r[0] for r in ROWS]
    for name in mg.COLUMNS:  # each output column on the header's row, its cells under it
        expected = [outputs.plain(name, mg.assess(dict(zip(headers, r, strict=True))).row()[name]) for r in ROWS]
        cells = [ws.cell(r, out_first + mg.COLUMNS.index(name)).value for r in range(4, 4 + len(ROWS))]
        got = [c if c is not None else ("" if isinstance(e, str) else None)
               for c, e in zip(cells, expected, strict=True)]
        assert got == expected, name


def test_map_option(tmp_path: Path, run_cli) -> None:
    headers = ["Patient ID", "Lab A", "Other"]
    rows = [["Q1", "0.55 mmol/L", "x"], ["Q2", "0.95 mmol/L", "y"]]
    src = write_clinic(tmp_path / "mapped.xlsx", headers=headers, rows=rows)
    code, _, err = run_cli("assess", src, "--map", "Lab A=serum_mg")
    assert code == 0 and "Lab A -> serum_mg" in err
    _, got = flagged_table(tmp_path / "mapped.flagged.xlsx")
    for row, g in zip(rows, got, strict=True):
        assert g["mg_risk"] == mg.assess({"Patient ID": row[0], "serum_mg": row[1]}).row()["mg_risk"]
    assert got[0]["mg_risk"] != mg.assess({"Patient ID": "Q1"}).row()["mg_risk"]


def test_missing_key_fields_warned(tmp_path: Path, run_cli) -> None:
    src = write_clinic(tmp_path / "few.xlsx", headers=["Patient ID", "Age"], rows=[["Z1", 40]])
    code, _, err = run_cli("assess", src)
    assert code == 0
    assert "warning: no column for serum magnesium, eGFR, medications, diagnoses" in err


@pytest.mark.parametrize("flag", ["--streaming", "--annotate"])
def test_formula_injection_stays_text(tmp_path: Path, run_cli, flag: str) -> None:
    from .conftest import INJECTION

    rows = [["P-1", 50, "F", 2.0, 90, INJECTION, "@SUM(1+1)", "-2+3", "+cmd", None, "\tx"]]
    src = write_clinic(tmp_path / "inj.xlsx", rows=rows)
    assert run_cli("assess", src, flag, "-q")[0] == 0
    wb = openpyxl.load_workbook(tmp_path / "inj.flagged.xlsx")
    ws = wb["Patients"]
    cell = ws.cell(2, 6)
    assert cell.value == INJECTION and cell.data_type == "s"
    for r in ws.iter_rows():
        for c in r:
            assert c.data_type != "f", c.coordinate
    for name in wb.sheetnames:
        for r in wb[name].iter_rows():
            assert all(c.data_type != "f" for c in r if name != "Notes")


@pytest.mark.parametrize("mode", ["--annotate", "--streaming"])
def test_every_level_counted_and_coloured_check_serum_too(tmp_path: Path, run_cli, mode: str) -> None:
    """A row that must have its serum measured first: its status in plain words, yellow as the palette says,
    and every level of the Summary sheet counted as the core decides."""
    rows = [*ROWS,
            ["P-007", 70, "M", None, 50, "E11.9", "omeprazole; furosemide", "", "", None, "A"],  # no serum, HIGH
            ["P-008", 60, "F", "0.7", 80, "", "pantoprazole", "", "", None, "B"]]  # 0.7 mg/dL: grade 3, refer
    src = write_clinic(tmp_path / "serum.xlsx", rows=rows)
    assert run_cli("assess", src, mode, "-q")[0] == 0
    out = tmp_path / "serum.flagged.xlsx"
    assessed = [mg.assess(dict(zip(HEADERS, r, strict=True))).row() for r in rows]
    assert assessed[6]["mg_dose_status"] == "CHECK_SERUM"  # the case this test is about
    ws = openpyxl.load_workbook(out)["Patients"]
    status = len(HEADERS) + 1 + mg.COLUMNS.index("mg_dose_status")
    cell = ws.cell(8, status)
    assert cell.value == outputs.VALUE_LABELS["CHECK_SERUM"] == "Measure serum first"
    assert cell.fill.fgColor.rgb.endswith(mg.palette.LEVELS["CHECK_SERUM"].fill.lstrip("#"))
    assert mg.palette.LEVELS["CHECK_SERUM"] == mg.palette.YELLOW
    summary = sheet_rows(out, "Summary")
    for name in outputs.LEVEL_COLUMNS:
        at = next(i for i, r in enumerate(summary) if r[0] == outputs.header(name) and r[1] == "Rows")
        counts = {}
        for r in summary[at + 1:]:
            if r[0] not in {outputs.VALUE_LABELS[w] for w in outputs.LEVELS[name]}:
                break
            counts[outputs.machine_value(name, r[0])] = r[1]
        assert counts == {w: sum(a[name] == w for a in assessed) for w in outputs.LEVELS[name]}, name
