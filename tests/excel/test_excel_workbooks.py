"""The shipped workbook, evaluated without Excel by the ``formulas`` package.

Two files are calculated: the shipped ``mgdecision_addin.xlsx`` (plain function names, as classic xlwings
stores them) and the same workbook written with the ``_xldudf_XLWINGS_`` names add-in custom functions are
stored under. Both hold MG_TABLE and MG_FLAGS as real dynamic-array formulas (XlsxWriter). Every flag cell
must equal ``mg.assess`` for its row, and the IF and COUNTIF formulas over the flags must compute.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

import mgdecision as mg
from mgdecision import outputs
from mgdecision.excel import build_workbook, udfs
from mgdecision.palette import LEVELS
from tests.excel.excel_conformance import cell_value
from tests.excel.excel_glue import calculate

SHIPPED = build_workbook.WORKBOOK
ROOT = Path(__file__).resolve().parents[2]
FIELDS = [f.name for f in mg.knowledge().fields]
WIDTH = len(FIELDS)
LAST_ROW = build_workbook.PATIENT_ROWS + 1
LAST = get_column_letter(WIDTH)  # the last input column (T for 20 fields)
DECISION, RISK, CONTRA, DOSE, INTER, WHY, REVIEW = (get_column_letter(WIDTH + k) for k in range(1, 8))
LABEL, COUNT = "A", "B"  # the counts on the Start sheet
OUT_LETTERS = [get_column_letter(k) for k in range(1, len(mg.COLUMNS) + 1)]  # Table sheet: one column per output
FLAG_LETTERS = [get_column_letter(k) for k in range(2, len(mg.COLUMNS) + 2)]  # Flags sheet: after the patient id


def _inputs(path: Path) -> dict[int, list]:
    ws = openpyxl.load_workbook(path)["Patients"]
    return {r: [ws.cell(r, c).value for c in range(1, WIDTH + 1)] for r in range(2, LAST_ROW + 1)}


def _expected(row: list) -> dict:
    if all(v is None for v in row):
        return dict.fromkeys(mg.COLUMNS, "")
    out = mg.assess(row).row()
    return {column: cell_value(out[column]) for column in mg.COLUMNS}


def _why(want: dict) -> str:
    reasons, problems = want["mg_reasons"], want["mg_input_problems"]
    return f"{reasons} | Input problems: {problems}" if problems else reasons


@pytest.fixture(scope="module", params=["plain", "xldudf"])
def workbook(request, tmp_path_factory):
    """(path, calculated cells, input rows by sheet row) for each storage form of the function names."""
    if request.param == "plain":
        path = SHIPPED
    else:
        path = build_workbook.build(tmp_path_factory.mktemp("xldudf") / "addin_xldudf.xlsx", prefix="_xldudf_XLWINGS_")
    return path, calculate(path), _inputs(path)


def test_shipped_workbook_is_what_the_script_writes(tmp_path):
    fresh = openpyxl.load_workbook(build_workbook.build(tmp_path / "fresh.xlsx"))
    shipped = openpyxl.load_workbook(SHIPPED)
    assert shipped.sheetnames == fresh.sheetnames
    for ws in fresh.worksheets:
        other = shipped[ws.title]
        for row in ws.iter_rows():
            for cell in row:
                a, b = cell.value, other[cell.coordinate].value
                if isinstance(a, ArrayFormula):
                    assert isinstance(b, ArrayFormula) and (a.ref, a.text) == (b.ref, b.text), cell.coordinate
                else:
                    assert a == b, f"{ws.title}!{cell.coordinate}: run python -m mgdecision.excel.build_workbook"


def test_workbook_layout_and_udf_module_setting():
    wb = openpyxl.load_workbook(SHIPPED)
    assert wb.sheetnames == list(build_workbook.SHEETS) == ["Start", "Patients", "Table", "Flags", "Calculators",
                                                             "xlwings.conf"]
    assert wb.active.title == "Start"  # the status is the first thing seen
    conf = wb["xlwings.conf"]
    assert (conf["A1"].value, conf["B1"].value) == ("UDF Modules", "mgdecision.excel.udfs")
    assert conf["A2"].value is None  # the add-in reads key/value pairs down column A
    module = importlib.import_module(conf["B1"].value)
    assert all(callable(getattr(module, name)) for name in udfs.__all__)
    patients = wb["Patients"]
    assert [patients.cell(1, c).value for c in range(1, WIDTH + 1)] == FIELDS
    assert f"MG_RISK($A2:${LAST}2)" in patients[f"{RISK}2"].value
    assert f"MG_WHY($A{LAST_ROW}:${LAST}{LAST_ROW})" in patients[f"{WHY}{LAST_ROW}"].value
    headers = [patients.cell(1, WIDTH + 1 + k).value for k in range(len(build_workbook.FLAG_FUNCTIONS))]
    assert headers == [outputs.header(build_workbook.FUNCTION_COLUMNS[n]) for n in build_workbook.FLAG_FUNCTIONS]
    text = " ".join(str(c.value) for row in wb["Start"].iter_rows() for c in row if c.value)
    assert "MG_TABLE" in text and "xlwings Lite" in text and "Import Functions" in text  # its own instructions
    assert "README" not in text and ".md" not in text  # nothing the clinician does not have


def test_table_and_flags_are_stored_as_dynamic_arrays():
    wb = openpyxl.load_workbook(SHIPPED)
    table = wb["Table"]["A1"].value
    assert isinstance(table, ArrayFormula)
    assert table.ref == f"A1:{OUT_LETTERS[-1]}{LAST_ROW}" and f"MG_TABLE(Patients!A1:{LAST}{LAST_ROW})" in table.text
    flags = wb["Flags"]["B2"].value
    assert isinstance(flags, ArrayFormula) and flags.ref == f"B2:{FLAG_LETTERS[-1]}2"
    with zipfile.ZipFile(SHIPPED) as z:
        assert "xl/metadata.xml" in z.namelist()  # Excel's marker for dynamic (spilling) arrays
        sheet = z.read("xl/worksheets/sheet3.xml").decode()
    assert 'cm="1"' in sheet and 't="array"' in sheet


def test_prefixed_names_are_written(workbook):
    path, _, _ = workbook
    formula = openpyxl.load_workbook(path)["Patients"][f"{RISK}2"].value
    assert f"MG_RISK($A2:${LAST}2)" in formula
    assert ("_xldudf_XLWINGS_MG_RISK(" in formula) == ("xldudf" in path.name)


def test_flag_cells_equal_the_core(workbook):
    _, cells, inputs = workbook
    for r, row in inputs.items():
        want = _expected(row)
        assert cells[("PATIENTS", f"{DECISION}{r}")] == want["mg_decision"], r
        assert cells[("PATIENTS", f"{RISK}{r}")] == want["mg_risk"], r
        assert cells[("PATIENTS", f"{CONTRA}{r}")] == want["mg_contraindication"], r
        assert cells[("PATIENTS", f"{DOSE}{r}")] == want["mg_dose"], r
        assert cells[("PATIENTS", f"{INTER}{r}")] == want["mg_interactions"], r
        assert cells[("PATIENTS", f"{WHY}{r}")] == (_why(want) if want["mg_risk"] else ""), r


def test_mg_table_spills_the_core_outputs(workbook):
    _, cells, inputs = workbook
    assert [cells[("TABLE", f"{c}1")] for c in OUT_LETTERS] == list(mg.COLUMNS)
    for r, row in inputs.items():
        want = _expected(row)
        assert [cells[("TABLE", f"{c}{r}")] for c in OUT_LETTERS] == list(want.values()), r


def test_mg_flags_spills_the_core_outputs(workbook):
    _, cells, inputs = workbook
    for i in range(len(build_workbook.EXAMPLE_ROWS)):
        r = i + 2
        want = _expected(inputs[r])
        assert [cells[("FLAGS", f"{c}{r}")] for c in FLAG_LETTERS] == list(want.values()), r
        assert str(cells[("FLAGS", f"A{r}")]) == str(inputs[r][0])


def test_if_and_countif_over_the_flags(workbook):
    _, cells, inputs = workbook
    risks = [_expected(row)["mg_risk"] for row in inputs.values()]
    contras = [_expected(row)["mg_contraindication"] for row in inputs.values()]
    statuses = [_expected(row)["mg_dose_status"] for row in inputs.values()]
    assert "HIGH" in risks and "CONTRAINDICATED" in contras and "" in risks  # the fixture exercises each branch
    assert "CHECK_SERUM" in statuses and "RECOMMENDED" in statuses
    review = []
    for r, risk, contra in zip(inputs, risks, contras, strict=True):
        want = "REVIEW" if risk == "HIGH" or contra == "CONTRAINDICATED" else ""
        assert cells[("PATIENTS", f"{REVIEW}{r}")] == want, r
        review.append(want)
    assert cells[("START", f"{COUNT}6")] == risks.count("HIGH")
    assert cells[("START", f"{COUNT}7")] == risks.count("MODERATE")
    assert cells[("START", f"{COUNT}8")] == contras.count("CONTRAINDICATED")
    assert cells[("START", f"{COUNT}9")] == review.count("REVIEW")
    assert cells[("START", f"{COUNT}10")] == statuses.count("CHECK_SERUM") > 0  # from the Table sheet


def test_calculators(workbook):
    _, cells, _ = workbook
    assert cells[("CALCULATORS", "E2")] == mg.rda_mg(52, "F")
    assert cells[("CALCULATORS", "E3")] == mg.rda_mg(30, "F", pregnant=True)
    assert cells[("CALCULATORS", "E4")] == mg.ul_mg(52)
    assert cells[("CALCULATORS", "E5")] == "not established (under 1 year)"
    assert cells[("CALCULATORS", "E6")] == pytest.approx(mg.convert_serum(0.62, "mmol/L", "mg/dL"))
    assert cells[("CALCULATORS", "E7")] == pytest.approx(mg.elemental_mg("oxide", 400))


SUMMARY = {6: "Risk HIGH", 7: "Risk MODERATE", 8: "Contraindicated", 9: "To review",
           10: f"{outputs.VALUE_LABELS['CHECK_SERUM']} (CHECK_SERUM)"}  # Start sheet row -> label
NOTE = get_column_letter(len(mg.COLUMNS) + 2)  # the Table sheet's note, right of the outputs and a gap


def _sheet_cells(cells: dict) -> dict:
    return {k: v for k, v in cells.items() if k[0] in {s.upper() for s in build_workbook.SHEETS}}


def test_without_the_functions_a_clear_message_and_no_name_error(workbook):
    """Where the functions are not loaded: a message in place of #NAME?, blank empty rows, the status first."""
    path, loaded, inputs = workbook
    missing = _sheet_cells(calculate(path, functions=False))
    errors = {k: v for k, v in missing.items() if isinstance(v, str) and v.startswith("#")}
    assert errors == {}
    labels = openpyxl.load_workbook(path)["Start"]
    for r, label in SUMMARY.items():
        assert labels[f"{LABEL}{r}"].value == label
        assert missing[("START", f"{COUNT}{r}")] == build_workbook.NOT_LOADED, r  # never "0 patients"
        assert isinstance(loaded[("START", f"{COUNT}{r}")], int), r  # loaded: a count
    assert labels["A3"].value == "Functions"
    assert str(missing[("START", "B3")]).startswith("NOT LOADED")
    assert str(loaded[("START", "B3")]).startswith("Loaded")
    for r, row in inputs.items():
        for col in (RISK, CONTRA, DOSE, INTER, WHY):
            got = missing[("PATIENTS", f"{col}{r}")]
            if all(v is None for v in row):
                assert got in ("", None), (col, r)  # an empty patient row stays blank
            else:
                assert got == build_workbook.NOT_LOADED_CELL, (col, r)
    assert missing[("TABLE", f"{NOTE}1")] == build_workbook.NOT_LOADED_CELL
    assert all(missing.get(("TABLE", f"{c}{r}")) in ("", None) for c in OUT_LETTERS for r in range(1, LAST_ROW + 1))
    assert missing[("CALCULATORS", "E2")] == build_workbook.NOT_LOADED_CELL


def test_libreoffice_shows_no_name_error(tmp_path):
    """LibreOffice, which has no mgdecision functions, recalculates the shipped workbook: no #NAME? anywhere."""
    from tests.printing import available, print_workbook, to_csv, to_png

    if not available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("LibreOffice and poppler are needed")
        pytest.skip("LibreOffice (soffice) and poppler are needed")
    sheets = to_csv(SHIPPED, tmp_path / "csv")
    assert len(sheets) == len(build_workbook.SHEETS)
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8")
        assert "#NAME" not in text and "Err:" not in text and "#VALUE" not in text, sheet.name
    start = (tmp_path / "csv" / "mgdecision_addin-Start.csv").read_text(encoding="utf-8")
    assert "NOT LOADED" in start  # recalculated (the file holds no computed values)
    printed = print_workbook(SHIPPED, tmp_path / "pdf", "A4")
    assert printed.blank_pages() == [] and all(" Page " in f for f in printed.footers)
    assert printed.median_height >= 7
    artifacts = ROOT / "artifacts" / "print"
    artifacts.mkdir(parents=True, exist_ok=True)
    to_png(printed.pdf, artifacts / "excel_template", dpi=50)


def test_instruction_rows_are_tall_enough_for_their_text():
    ws = openpyxl.load_workbook(SHIPPED)["Start"]
    width = ws.column_dimensions["B"].width
    rows = [r for r in range(11, ws.max_row + 1) if ws.cell(r, 2).value]
    assert len(rows) > 5
    for r in rows:
        text = ws.cell(r, 2).value
        needed = math.ceil(len(text) / (width * 0.95))
        height = ws.row_dimensions[r].height
        assert height is not None and height >= 15 * needed, (r, height, needed)
        assert ws.cell(r, 2).alignment.wrap_text, r


def test_level_words_are_coloured_with_the_palette():
    ws = openpyxl.load_workbook(SHIPPED)["Patients"]
    fills: dict[str, str] = {}
    for rng in ws.conditional_formatting:
        if str(rng.sqref) != f"{RISK}2:{CONTRA}{LAST_ROW}":
            continue
        for rule in rng.rules:
            word = rule.formula[0].strip('"')
            fills[word] = rule.dxf.fill.bgColor.rgb[-6:]
    assert {w: f"#{v}" for w, v in fills.items()} == {w: s.fill for w, s in LEVELS.items()}


@pytest.mark.parametrize("readme", ["README.md", "excel_addin/README.md"])
def test_readme_examples_use_the_workbooks_columns(readme):
    text = (ROOT / readme).read_text()
    last = LAST
    rows = re.findall(r"=MG_[A-Z]+\(A2:([A-Z]+)2\)", text)  # one-argument examples (with headers any order goes)
    tables = re.findall(r"=MG_TABLE\(A1:([A-Z]+)\d+", text)
    assert rows, readme
    assert set(rows) | set(tables) == {last}, readme  # the same A2:T2 as the workbook's formulas


def test_readme_lists_the_template_column_order():
    """Rows without headers are read by position: the README must list the fields in the order the core reads."""
    text = " ".join((ROOT / "excel_addin" / "README.md").read_text().split())
    listed = text.split("read in the template's column order:", 1)[1].split("; a shorter row", 1)[0]
    names = re.findall(r"[a-z_]+", re.sub(r"\([A-Z]:[A-Z]\)", "", listed.replace("then", "")))
    assert names == FIELDS
    assert f"({len(FIELDS)} columns" in text or f"{len(FIELDS)} columns" in text
