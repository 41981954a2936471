"""The shipped workbook, evaluated without Excel by the ``formulas`` package.

Two files are calculated: the shipped ``mgdecision_addin.xlsx`` (plain function names, as classic xlwings
stores them) and the same workbook written with the ``_xldudf_XLWINGS_`` names add-in custom functions are
stored under. Both hold MG_TABLE and MG_FLAGS as real dynamic-array formulas (XlsxWriter). Every flag cell
must equal ``mg.assess`` for its row, and the IF and COUNTIF formulas over the flags must compute.
"""

from __future__ import annotations

import importlib
import math
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

import mgdecision as mg
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
RISK, CONTRA, DOSE, INTER, WHY, REVIEW = (get_column_letter(WIDTH + k) for k in range(1, 7))
LABEL, COUNT = get_column_letter(WIDTH + 8), get_column_letter(WIDTH + 9)  # the summary
OUT_LETTERS = "ABCDEFGHIJ"  # Table sheet columns of the ten outputs


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
    assert wb.sheetnames == ["Patients", "Table", "Flags", "Calculators", "Instructions", "xlwings.conf"]
    conf = wb["xlwings.conf"]
    assert (conf["A1"].value, conf["B1"].value) == ("UDF Modules", "mgdecision.excel.udfs")
    assert conf["A2"].value is None  # the add-in reads key/value pairs down column A
    module = importlib.import_module(conf["B1"].value)
    assert all(callable(getattr(module, name)) for name in udfs.__all__)
    patients = wb["Patients"]
    assert [patients.cell(1, c).value for c in range(1, WIDTH + 1)] == FIELDS
    assert patients[f"{RISK}2"].value == f"=MG_RISK(A2:{LAST}2)"
    assert patients[f"{WHY}{LAST_ROW}"].value == f"=MG_WHY(A{LAST_ROW}:{LAST}{LAST_ROW})"
    assert "MG_TABLE" in " ".join(str(c.value) for c in wb["Instructions"]["A"])


def test_table_and_flags_are_stored_as_dynamic_arrays():
    wb = openpyxl.load_workbook(SHIPPED)
    table = wb["Table"]["A1"].value
    assert isinstance(table, ArrayFormula)
    assert (table.ref, table.text) == (f"A1:J{LAST_ROW}", f"=MG_TABLE(Patients!A1:{LAST}{LAST_ROW})")
    flags = wb["Flags"]["B2"].value
    assert isinstance(flags, ArrayFormula) and flags.ref == "B2:K2"
    with zipfile.ZipFile(SHIPPED) as z:
        assert "xl/metadata.xml" in z.namelist()  # Excel's marker for dynamic (spilling) arrays
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    assert 'cm="1"' in sheet and 't="array"' in sheet


def test_prefixed_names_are_written(workbook):
    path, _, _ = workbook
    formula = openpyxl.load_workbook(path)["Patients"][f"{RISK}2"].value
    assert formula in (f"=MG_RISK(A2:{LAST}2)", f"=_xldudf_XLWINGS_MG_RISK(A2:{LAST}2)")


def test_flag_cells_equal_the_core(workbook):
    _, cells, inputs = workbook
    for r, row in inputs.items():
        want = _expected(row)
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
        assert [cells[("FLAGS", f"{c}{r}")] for c in "BCDEFGHIJK"] == list(want.values()), r
        assert str(cells[("FLAGS", f"A{r}")]) == str(inputs[r][0])


def test_if_and_countif_over_the_flags(workbook):
    _, cells, inputs = workbook
    risks = [_expected(row)["mg_risk"] for row in inputs.values()]
    contras = [_expected(row)["mg_contraindication"] for row in inputs.values()]
    assert "HIGH" in risks and "CONTRAINDICATED" in contras and "" in risks  # the fixture exercises each branch
    review = []
    for r, risk, contra in zip(inputs, risks, contras, strict=True):
        want = "REVIEW" if risk == "HIGH" or contra == "CONTRAINDICATED" else ""
        assert cells[("PATIENTS", f"{REVIEW}{r}")] == want, r
        review.append(want)
    assert cells[("PATIENTS", f"{COUNT}2")] == risks.count("HIGH")
    assert cells[("PATIENTS", f"{COUNT}3")] == risks.count("MODERATE")
    assert cells[("PATIENTS", f"{COUNT}4")] == contras.count("CONTRAINDICATED")
    assert cells[("PATIENTS", f"{COUNT}5")] == review.count("REVIEW")


def test_calculators(workbook):
    _, cells, _ = workbook
    assert cells[("CALCULATORS", "E2")] == mg.rda_mg(52, "F")
    assert cells[("CALCULATORS", "E3")] == mg.rda_mg(30, "F", pregnant=True)
    assert cells[("CALCULATORS", "E4")] == mg.ul_mg(52)
    assert cells[("CALCULATORS", "E5")] == "not established (under 1 year)"
    assert cells[("CALCULATORS", "E6")] == pytest.approx(mg.convert_serum(0.62, "mmol/L", "mg/dL"))
    assert cells[("CALCULATORS", "E7")] == pytest.approx(mg.elemental_mg("oxide", 400))


SUMMARY = {2: "Risk HIGH", 3: "Risk MODERATE", 4: "Contraindicated", 5: "To review"}  # sheet row -> label


def test_summary_says_functions_not_loaded_instead_of_zeros(workbook):
    path, loaded, _ = workbook
    missing = calculate(path, functions=False)
    assert str(missing[("PATIENTS", f"{RISK}2")]) == "#NAME?"  # what Excel shows without the functions
    labels = openpyxl.load_workbook(path)["Patients"]
    for r, label in SUMMARY.items():
        assert labels[f"{LABEL}{r}"].value == label
        assert missing[("PATIENTS", f"{COUNT}{r}")] == build_workbook.NOT_LOADED, r  # never "0 patients"
        assert isinstance(loaded[("PATIENTS", f"{COUNT}{r}")], int), r  # loaded: a count
    assert labels[f"{LABEL}6"].value == "Functions"
    assert missing[("PATIENTS", f"{COUNT}6")] == f"{build_workbook.NOT_LOADED}: see Instructions"
    assert loaded[("PATIENTS", f"{COUNT}6")] == "loaded"


def test_instruction_rows_are_tall_enough_for_their_text():
    ws = openpyxl.load_workbook(SHIPPED)["Instructions"]
    width = ws.column_dimensions["A"].width
    rows = [r for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value]
    assert len(rows) > 5
    for r in rows:
        text = ws.cell(r, 1).value
        needed = math.ceil(len(text) / (width * 0.95))
        height = ws.row_dimensions[r].height
        assert height is not None and height >= 15 * needed, (r, height, needed)
        assert ws.cell(r, 1).alignment.wrap_text, r


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
