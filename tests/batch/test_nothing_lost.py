"""Issue 12, "nothing lost, nothing let in": each case tried on a real file, written and read back."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

import mgdecision as mg
from mgdecision import outputs
from mgdecision.batch import cli

from .conftest import HEADERS, ROWS, flagged_table, sha256, sheet_rows, write_clinic

MODES = ["--annotate", "--streaming"]
DDE = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://example.invalid","click")'


def _expected(headers: list[str], rows: list[list[Any]], column: str) -> list[Any]:
    return [mg.assess(dict(zip(headers, r, strict=True))).row()[column] for r in rows]


def _shown(headers: list[str], rows: list[list[Any]], column: str) -> list[Any]:
    """What the workbook shows: the level labels."""
    return [outputs.plain(column, v) for v in _expected(headers, rows, column)]


def _col(headers: list[Any], column: str) -> int:
    """The sheet column (1-based) of an output column written right of the given headers."""
    return len(headers) + 1 + mg.COLUMNS.index(column)


def _no_formula_xml(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert "<f>" not in zf.read(name).decode() and "<f " not in zf.read(name).decode(), name


# ---------------------------------------------------------------- formulas in annotate mode


def test_annotate_neutralises_every_formula_name_and_validation(tmp_path: Path, run_cli) -> None:
    src = write_clinic(tmp_path / "live.xlsx")
    wb = openpyxl.load_workbook(src)
    ws = wb["Patients"]
    ws["M1"] = DDE  # in the header row, right of the headers
    ws["N3"] = LINK  # right of the table
    wb["Notes"]["C5"] = DDE  # on another sheet
    wb.defined_names["evil"] = DefinedName("evil", attr_text="cmd|' /C calc'!A0")
    wb.defined_names["linked"] = DefinedName("linked", attr_text='HYPERLINK("http://example.invalid","x")')
    wb.defined_names["plain"] = DefinedName("plain", attr_text="Patients!$A$2:$A$7")
    bad = DataValidation(type="list", formula1='=HYPERLINK("http://example.invalid","x")')
    good = DataValidation(type="list", formula1='"A,B,C"')
    ws.add_data_validation(bad)
    ws.add_data_validation(good)
    bad.add("K2:K7")
    good.add("K2:K7")
    ws.conditional_formatting.add("A2:A7", FormulaRule(formula=[DDE[1:]], fill=PatternFill("solid", fgColor="FF0000")))
    ws.conditional_formatting.add("B2:B7", FormulaRule(formula=["$B2>65"], fill=PatternFill("solid", fgColor="00FF00")))
    wb.save(src)
    before = sha256(src)

    code, _, err = run_cli("assess", src, "-q")
    assert code == 0
    assert "removed 2 defined name(s), 1 data validation(s), 1 conditional format rule(s)" in err
    assert sha256(src) == before
    out = tmp_path / "live.flagged.xlsx"
    _no_formula_xml(out)
    wb = openpyxl.load_workbook(out)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row), sheet.title
    assert wb["Patients"]["M1"].value == DDE and wb["Patients"]["N3"].value == LINK  # kept as text
    assert wb["Notes"]["C5"].value == DDE and wb["Notes"]["B2"].value == "=1+1"
    assert set(wb.defined_names) == {"plain"}
    formulas = [dv.formula1 for dv in wb["Patients"].data_validations.dataValidation]
    assert formulas[0] == '"A,B,C"' and len(formulas) == 3  # the plain list kept, plus the two Review lists
    rules = [r.formula for cf in wb["Patients"].conditional_formatting for r in cf.rules]
    assert rules == [["$B2>65"]]
    _, rows = flagged_table(out)
    assert [r["mg_risk"] for r in rows] == _expected(HEADERS, ROWS, "mg_risk")


@pytest.mark.parametrize("mode", MODES)
def test_text_like_formulas_stay_text_in_the_archive(tmp_path: Path, run_cli, mode: str) -> None:
    rows = [["P-1", 50, "F", 2.0, 90, LINK, DDE, "@SUM(1+1)", "-2+3", None, "+cmd"]]
    src = write_clinic(tmp_path / "inj.xlsx", rows=rows)
    assert run_cli("assess", src, mode, "-q")[0] == 0
    out = tmp_path / "inj.flagged.xlsx"
    _no_formula_xml(out)
    ws = openpyxl.load_workbook(out)["Patients"]
    assert [ws.cell(2, j).value for j in (6, 7, 8, 9, 11)] == [LINK, DDE, "@SUM(1+1)", "-2+3", "+cmd"]


# ---------------------------------------------------------------- CSV output


def test_csv_line_breaks_are_quoted_and_every_line_prefixed(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "breaks.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerow(["P-1", 50, "F", "2.0 mg/dL", 90, "E11.9", "furosemide\r" + DDE, "cramps\n@SUM(1)", "", "", "A"])
        w.writerow(["P-2", 60, "M", "1.9 mg/dL", 80, "", "note\r\n+1", "", "", "", "B"])
    out = tmp_path / "breaks.flagged.csv"
    assert run_cli("assess", src, "-o", out, "-q")[0] == 0
    data = out.read_bytes()
    with out.open(newline="") as fh:
        records = list(csv.reader(fh))
    assert len(records) == 3  # header + two patients: no line break started a record
    meds, symptoms = HEADERS.index("Current medications"), HEADERS.index("Symptoms")
    assert records[1][meds] == "furosemide\r'" + DDE
    assert records[1][symptoms] == "cramps\n'@SUM(1)"
    assert records[2][meds] == "note\r\n'+1"
    for record in records:
        for value in record:
            for line in re.split(r"[\r\n]", value):
                assert not line.startswith(("=", "+", "-", "@")), value
    assert b'"furosemide\r' in data  # quoted
    assert [r[0] for r in records[1:]] == ["P-1", "P-2"]


# ---------------------------------------------------------------- too wide, too long


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("width", [16_380, 16_384])
def test_sheet_too_wide_for_the_output_columns_refused(tmp_path: Path, run_cli, mode: str, width: int) -> None:
    headers = HEADERS + [f"x{i}" for i in range(width - len(HEADERS))]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    ws.append(ROWS[0] + [None] * (width - len(HEADERS) - 1) + ["end"])
    src = tmp_path / "wide.xlsx"
    wb.save(src)
    code, _, err = run_cli("assess", src, mode, "-q")
    assert code == cli.EXIT_REFUSED
    assert "output columns do not fit beside them" in err and "-o NAME.csv" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.xlsx"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "1"])
def test_texts_longer_than_a_cell_are_cut_with_a_note_and_kept_whole(tmp_path: Path, run_cli, workers: str) -> None:
    meds = "; ".join(f"zzqq{i:05d}" for i in range(3000))  # 32,998 characters: more than a cell holds
    src = tmp_path / "long.csv"
    pd.DataFrame([{"Patient ID": "L-1", "Age": 40, "Medications": meds}, {"Patient ID": "L-2", "Age": 50}]).to_csv(
        src, index=False)
    full = mg.assess_frame(pd.read_csv(src, dtype=object, keep_default_na=False)).iloc[0]
    assert len(full["mg_input_problems"]) > 32_767
    assert run_cli("assess", src, "-q", "--workers", workers)[0] == 0
    out = tmp_path / "long.flagged.xlsx"
    _, rows = flagged_table(out, "long")
    row = rows[0]
    for name in ("Medications", "mg_input_problems"):
        assert len(row[name]) <= 32_767 and "[cut: " in row[name] and "Input problems sheet, row 2" in row[name]
    assert rows[1]["mg_risk"] == mg.assess({"Patient ID": "L-2", "Age": 50}).risk.level
    lines = sheet_rows(out, "Input problems")[1:]
    parts = {}
    for line in lines:
        if line[6] == "text_cut":
            parts.setdefault(line[3], []).append(line[5])
    assert "".join(parts["Medications"]) == meds
    assert "".join(parts["mg_input_problems"]).startswith(full["mg_input_problems"])


# ---------------------------------------------------------------- disk full


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_disk_full_exits_4_with_one_line_and_leaves_nothing(tmp_path: Path, mode: str) -> None:
    import resource
    import signal
    import subprocess
    import sys

    many = [[f"{r[0]}-{i}", *r[1:]] for i in range(40) for r in ROWS]
    src = write_clinic(tmp_path / "clinic.xlsx", rows=many)
    before = sha256(src)

    def limit() -> None:  # the output may not grow past 30 kB: EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))

    proc = subprocess.run([sys.executable, "-m", "mgdecision.batch", "assess", str(src), mode, "-q"],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120, cwd=tmp_path)
    assert proc.returncode == cli.EXIT_WRITE, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mgdecision: could not write the output: File too large")
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.xlsx"]
    assert sha256(src) == before


# ---------------------------------------------------------------- header rows


@pytest.mark.parametrize("mode", MODES)
def test_sheet_without_header_row_refused_without_printing_patients(tmp_path: Path, run_cli, mode: str) -> None:
    wb = openpyxl.Workbook()
    for row in ROWS:
        wb.active.append(row)
    src = tmp_path / "noheader.xlsx"
    wb.save(src)
    code, out, err = run_cli("assess", src, mode)
    assert code == cli.EXIT_USAGE
    assert "look like patient data" in err and "--header-row" in err
    for row in ROWS:
        assert str(row[0]) not in err + out
    assert "omeprazole" not in err and "N18" not in err
    assert not (tmp_path / "noheader.flagged.xlsx").exists()


def _two_row_header(path: Path) -> tuple[list[str], Path]:
    """Group labels over the headers (merged across), "Patient ID" merged down over both rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    groups = [("Demographics", 2, 3), ("Laboratory", 4, 5), ("Clinical", 6, 8)]
    for label, a, b in groups:
        ws.cell(1, a, label)
        ws.merge_cells(start_row=1, start_column=a, end_row=1, end_column=b)
    ws.cell(1, 1, "Patient ID")
    ws.merge_cells("A1:A2")
    headers = HEADERS[:8]
    for j, h in enumerate(headers[1:], start=2):
        ws.cell(2, j, h)
    for i, row in enumerate(ROWS, start=3):
        for j, v in enumerate(row[:8], start=1):
            ws.cell(i, j, v)
    wb.save(path)
    return headers, path


@pytest.mark.parametrize("mode", MODES)
def test_two_row_headers_with_merged_group_labels(tmp_path: Path, run_cli, mode: str) -> None:
    headers, src = _two_row_header(tmp_path / "groups.xlsx")
    code, _, err = run_cli("assess", src, mode)
    assert code == 0, err
    assert "header on row 2" in err
    rows = [r[:8] for r in ROWS]
    ws = openpyxl.load_workbook(tmp_path / "groups.flagged.xlsx")["Patients"]
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=3, max_row=2 + len(ROWS))]
    assert [g[0] for g in got] == [r[0] for r in ROWS]
    for name in outputs.LEVEL_COLUMNS:
        assert [g[_col(headers, name) - 1] for g in got] == _shown(headers, rows, name), name
    assert got[3][_col(headers, "mg_contraindication") - 1] == "Contraindicated"  # P-004, myasthenia gravis


def test_header_row_option(tmp_path: Path, run_cli) -> None:
    src = write_clinic(tmp_path / "late.xlsx", header_row=4)
    wb = openpyxl.load_workbook(src)
    wb["Patients"]["A1"] = "Clinic list, November"
    wb.save(src)
    for args in ([], ["--header-row", "4"]):
        target = tmp_path / f"out{len(args)}.xlsx"
        code, _, err = run_cli("assess", src, "-o", target, *args)
        assert code == 0 and "header on row 4" in err
        ws = openpyxl.load_workbook(target)["Patients"]
        for name in mg.COLUMNS:
            assert ws.cell(4, _col(HEADERS, name)).value == outputs.header(name)
        assert [ws.cell(r, _col(HEADERS, "mg_risk")).value for r in range(5, 5 + len(ROWS))] == _shown(
            HEADERS, ROWS, "mg_risk")
    code, _, err = run_cli("assess", src, "-o", tmp_path / "x.xlsx", "--header-row", "3")
    assert code == cli.EXIT_USAGE and "--header-row 3" in err


# ---------------------------------------------------------------- --map, merged headers, duplicates, empty rows


def test_map_must_name_a_real_header(clinic: Path, run_cli) -> None:
    code, _, err = run_cli("assess", clinic, "--map", "Lab Mg=serum_mg")
    assert code == cli.EXIT_USAGE and "not in the header row: 'Lab Mg'" in err
    code, _, err = run_cli("assess", clinic, "--map", "D=serum_mg")
    assert code == cli.EXIT_USAGE and "looks like a column letter" in err
    assert not clinic.with_name("clinic.flagged.xlsx").exists()


@pytest.mark.parametrize("mode", MODES)
def test_merged_header_over_two_columns_is_a_row_problem(tmp_path: Path, run_cli, mode: str) -> None:
    rows = [[*r[:7], "warfarin" if i == 0 else None, *r[7:]] for i, r in enumerate(ROWS)]
    headers = [*HEADERS[:7], None, *HEADERS[7:]]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(headers)
    ws.merge_cells("G1:H1")
    for r in rows:
        ws.append(r)
    src = tmp_path / "merged.xlsx"
    wb.save(src)
    assert run_cli("assess", src, mode, "-q")[0] == 0
    out = tmp_path / "merged.flagged.xlsx"
    _, got = flagged_table(out)
    assert "merged header 'Current medications'" in got[0]["mg_input_problems"]
    assert all("merged header" not in (g["mg_input_problems"] or "") for g in got[1:])
    problems = sheet_rows(out, "Input problems")
    line = next(p for p in problems if p[1] == "H2")
    assert line[5] == "warfarin" and line[6] == "unreadable_value"


@pytest.mark.parametrize("mode", MODES)
def test_two_serum_columns_are_a_row_problem(tmp_path: Path, run_cli, mode: str) -> None:
    headers = [*HEADERS, "Mg (mmol/L)"]
    rows = [[*r, 0.6 if i == 1 else None] for i, r in enumerate(ROWS)]
    src = write_clinic(tmp_path / "two.xlsx", headers=headers, rows=rows)
    assert run_cli("assess", src, mode)[0] == 0
    out = tmp_path / "two.flagged.xlsx"
    _, got = flagged_table(out)
    assert "Mg (mmol/L)" in got[1]["mg_input_problems"]  # on the row, not only a console line
    lines = sheet_rows(out, "Input problems")[1:]
    line = next(p for p in lines if p[1] == "L3")
    assert line[2] == "P-002" and str(line[5]) == "0.6" and line[6] == "conflicting_values"
    _, rows_out = flagged_table(out)
    assert [r["mg_risk"] for r in rows_out] == _expected(headers, rows, "mg_risk")


@pytest.mark.parametrize("mode", MODES)
def test_empty_rows_are_not_patients(tmp_path: Path, run_cli, mode: str) -> None:
    rows = [ROWS[0], [None] * len(HEADERS), ROWS[1], [None] * len(HEADERS), ROWS[2]]
    src = write_clinic(tmp_path / "gaps.xlsx", rows=rows)
    code, out, _ = run_cli("assess", src, mode, "-q")
    assert code == 0 and "Flagged 3 rows" in out and "2 empty rows" in out
    ws = openpyxl.load_workbook(tmp_path / "gaps.flagged.xlsx")["Patients"]
    risk = [ws.cell(r, _col(HEADERS, "mg_risk")).value for r in range(2, 7)]
    assert all(ws.cell(r, _col(HEADERS, name)).value is None for r in (3, 5) for name in mg.COLUMNS)
    assert [risk[0], risk[2], risk[4]] == _shown(HEADERS, [ROWS[0], ROWS[1], ROWS[2]], "mg_risk")
    summary = sheet_rows(tmp_path / "gaps.flagged.xlsx", "Summary")
    assert ["Patient rows", 3] in [r[:2] for r in summary]


# ---------------------------------------------------------------- second run, messages


def test_output_appearing_during_the_run_is_not_replaced(clinic: Path, run_cli, monkeypatch) -> None:
    import mgdecision.batch.annotate as annotate_mod

    target = clinic.with_name("clinic.flagged.xlsx")
    real = annotate_mod.write_annotated

    def other_run_finishes_first(*args: Any) -> None:
        real(*args)
        target.write_bytes(b"the other run's output")

    monkeypatch.setattr(annotate_mod, "write_annotated", other_run_finishes_first)
    code, _, err = run_cli("assess", clinic, "-q")
    assert code == cli.EXIT_USAGE and "was not replaced" in err
    assert target.read_bytes() == b"the other run's output"
    assert sorted(p.name for p in clinic.parent.iterdir()) == ["clinic.flagged.xlsx", "clinic.xlsx"]
    monkeypatch.undo()
    code, _, err = run_cli("assess", clinic, "-q")
    assert code == cli.EXIT_USAGE and "already exists" in err
    assert target.read_bytes() == b"the other run's output"


def test_encrypted_workbook_message(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "locked.xlsx"  # an encrypted .xlsx is an OLE compound file holding EncryptionInfo
    src.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504 + "EncryptionInfo".encode("utf-16-le"))
    for mode in MODES:
        code, _, err = run_cli("assess", src, mode)
        assert code == cli.EXIT_REFUSED and "password protected" in err and "unprotected copy" in err


def test_folder_as_input_message(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("assess", tmp_path)
    assert code == cli.EXIT_USAGE and "is a folder; give one workbook or CSV file" in err


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_csv(tmp_path: Path, run_cli, delimiter: str) -> None:
    src = tmp_path / "list.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(HEADERS)
        for row in ROWS:
            w.writerow(["" if v is None else v for v in row])
    out = tmp_path / "list.flagged.csv"
    code, _, err = run_cli("assess", src, "-o", out)
    assert code == 0, err
    got = pd.read_csv(out, dtype=object, keep_default_na=False)
    assert list(got.columns) == HEADERS + list(mg.COLUMNS)
    expected = mg.assess_frame(pd.read_csv(src, dtype=object, keep_default_na=False, sep=delimiter))
    assert got["mg_risk"].tolist() == expected["mg_risk"].tolist()
    assert got["mg_contraindication"].tolist()[3] == "CONTRAINDICATED"


# ---------------------------------------------------------------- the problem lines come from failure_cases


@pytest.mark.parametrize("mode", MODES)
def test_problem_lines_equal_failure_cases(tmp_path: Path, run_cli, mode: str) -> None:
    import shutil

    src = tmp_path / "primary_care.xlsx"
    shutil.copy(Path(__file__).resolve().parents[2] / "sample_workbooks" / "primary_care.xlsx", src)
    assert run_cli("assess", src, mode, "-q")[0] == 0
    raw = [list(r) for r in openpyxl.load_workbook(src, data_only=True).worksheets[0].iter_rows(values_only=True)]
    df = pd.DataFrame(raw[1:], columns=raw[0], dtype=object)
    fc = mg.failure_cases(df)
    want = [[int(r.row) + 2, str(r.patient_id), r.column, r.field, r.value, r.reason_code, r.message]
            for r in fc.itertuples()]
    lines = sheet_rows(tmp_path / "primary_care.flagged.xlsx", "Input problems")[1:]
    got = [[p[0], p[2], p[3], p[4], p[5] if p[5] is not None else "", p[6], p[7]] for p in lines]
    assert got == want and len(got) > 10


def test_inert_formula_rules() -> None:
    from mgdecision.batch.neutralise import is_inert

    for risky in ["cmd|' /C calc'!A0", "=DDE(\"cmd\",\"x\",\"y\")", 'HYPERLINK("http://x","y")', "[1]Sheet1!$A$1",
                  "WEBSERVICE(\"http://x\")", "_xlfn.WEBSERVICE(A1)", "INDIRECT(\"'C:\\\\[a.xlsx]S'!A1\")"]:
        assert not is_inert(risky), risky
    for plain in ["Patients!$A$2:$A$7", '"a,b,c"', "$B2>65", "AND(ISNUMBER(B2),B2<0.7)", 'LEN("a|b")', None]:
        assert is_inert(plain), plain
