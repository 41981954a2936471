"""Write the ready-to-use workbook ``mgdecision_addin.xlsx`` (run: ``python -m mgdecision.excel.build_workbook``).

Sheets: Start (opened first: whether the functions are loaded, the counts, and the instructions to set
them up, so the workbook needs no other document), Patients (the template's columns, example rows, flag
formulas filled down under plain headers, a review column), Table (``=MG_TABLE(...)`` as a dynamic array),
Flags (``=MG_FLAGS(...)`` per patient), Calculators (MG_RDA, MG_UL, MG_CONVERT, MG_ELEMENTAL) and
``xlwings.conf`` naming the UDF module. Every formula guards itself: without the functions a cell says
"functions not loaded" instead of ``#NAME?``, and empty patient rows stay blank. Output columns take their
headers, widths and wrapping from ``mgdecision.outputs``; level words are coloured by conditional formats
from ``mgdecision.palette``. Every sheet prints landscape with its header row and page numbers. Written
without Excel, so cells hold formulas and no computed values until Excel calculates.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

import mgdecision as mg
from mgdecision import outputs
from mgdecision.outputs import LEVEL, OUTPUTS, VALUE_LABELS, header
from mgdecision.palette import HEADER, LEVELS

__all__ = ["EXAMPLE_ROWS", "FLAG_FUNCTIONS", "FUNCTION_COLUMNS", "NOT_LOADED", "PATIENT_ROWS", "SHEETS", "UDF_MODULE",
           "WORKBOOK", "build", "main"]

WORKBOOK = Path(__file__).with_name("mgdecision_addin.xlsx")
UDF_MODULE = "mgdecision.excel.udfs"
PATIENT_ROWS = 20  # rows with formulas filled in, examples first, the rest left for new patients
# The flag functions on the Patients sheet and the output column each shows (its width, wrapping and colours).
FUNCTION_COLUMNS = {"MG_DECISION": "mg_decision",
                    "MG_RISK": "mg_risk", "MG_CONTRA": "mg_contraindication", "MG_DOSE": "mg_dose",
                    "MG_INTERACTIONS": "mg_interactions", "MG_WHY": "mg_reasons"}
FLAG_FUNCTIONS = tuple(FUNCTION_COLUMNS)
_OUTPUT = {o.name: o for o in OUTPUTS}
NOT_LOADED = "functions not loaded"  # what a guarded cell shows instead of #NAME? when the functions are missing
NOT_LOADED_CELL = f"{NOT_LOADED}: see Start"  # in a flag cell of the Patients sheet
SHEETS = ("Start", "Patients", "Table", "Flags", "Calculators", "xlwings.conf")
INSTRUCTION_WIDTH = 120  # characters; the Start sheet's rows are made tall enough for their wrapped text
LOADED_TEST = "MG_UL(30)"  # a call that errors only when the functions are unknown

# Fictional example patients, by field name; showing the value shapes Excel cells hold.
EXAMPLE_ROWS: tuple[dict[str, Any], ...] = (
    {"patient_id": "P-001", "age": 52, "sex": "F", "pregnant": "no", "lactating": "no", "serum_mg": 0.62,
     "serum_mg_unit": "mmol/L", "egfr": 45, "dialysis": "no", "diagnoses": "E11.9; hypertension",
     "medications": "omeprazole 20 mg; metformin", "symptoms": "leg cramps at night",
     "supplement_form": "glycinate", "supplement_dose_mg": 200, "route": "oral"},
    {"patient_id": "P-002", "age": 67, "sex": "M", "serum_mg": 1.4, "serum_mg_unit": "mg/dL", "egfr": 24,
     "dialysis": "no", "diagnoses": "N18.4", "medications": "furosemide 40 mg; levothyroxine",
     "symptoms": "fatigue", "supplement_form": "oxide", "supplement_dose_mg": 400, "route": "oral"},
    {"patient_id": "P-003", "age": "31", "sex": "F", "pregnant": "yes", "lactating": "no",
     "serum_mg": "0.71 mmol/L", "egfr": 110, "medications": "ciprofloxacin 500 mg bd",
     "symptoms": "constipation", "supplement_form": "citrate", "supplement_dose_mg": "300 mg"},
    {"patient_id": 1004, "age": 74, "sex": "F", "serum_mg": 2.6, "serum_mg_unit": "mEq/L", "egfr": 12,
     "dialysis": "yes", "diagnoses": "N18.6", "medications": "alendronate; digoxin"},
    {"patient_id": "P-005", "sex": "M", "serum_mg": 0.7, "egfr": 88, "diagnoses": "alcohol use disorder",
     "medications": "pantoprazole", "supplement_form": "oxide", "date_of_birth": datetime(1961, 5, 1),
     "assessment_date": datetime(2026, 11, 1), "supplement_compound_mg": 400},
    {"patient_id": "P-006", "age": 8, "sex": "F", "serum_mg": 0.8, "serum_mg_unit": "mmol/L",
     "symptoms": "muscle cramps"},
    {"patient_id": "P-007", "age": 71, "sex": "M", "serum_mg": 0.68, "serum_mg_unit": "mmol/L",
     "medications": "furosemide 40 mg; pantoprazole", "assessment_date": datetime(2026, 11, 1),
     "creatinine": "1.4 mg/dL", "serum_mg_date": datetime(2026, 5, 12), "creatinine_date": datetime(2026, 10, 20)},
)


def _fields() -> list[Any]:
    return list(mg.knowledge().fields)


def _guarded(call: str, row_range: str) -> str:
    """A flag formula that stays blank on an empty row and says "functions not loaded" instead of #NAME?."""
    return f'=IF(COUNTA({row_range})=0,"",IFERROR({call},"{NOT_LOADED_CELL}"))'


def _print(ws: Any, *, repeat_row: bool = True, fit: bool = True) -> None:
    """Landscape, page numbers, the header row on every page, one page wide (or 75 % across pages)."""
    ws.set_landscape()
    ws.set_margins(0.25, 0.25, 0.45, 0.55)
    ws.set_footer("&L&A&CPage &P of &N&R&F")
    if fit:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(75)
        ws.print_across()
    if repeat_row:
        ws.repeat_rows(0)


def build(path: Path | str = WORKBOOK, *, prefix: str = "", rows: Sequence[dict[str, Any]] = EXAMPLE_ROWS,
          patient_rows: int = PATIENT_ROWS) -> Path:
    """Write the workbook to ``path``. ``prefix`` is put before every function name in formulas (e.g. the
    ``_xldudf_`` storage names of add-in functions); ``rows`` are the example patients."""
    path = Path(path)
    fields = _fields()
    width = len(fields)
    last_col = xl_col_to_name(width - 1)  # U for the 21 template columns
    last_row = patient_rows + 1
    loaded = f"{prefix}{LOADED_TEST}"
    wb = xlsxwriter.Workbook(str(path))
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    flag_head = wb.add_format({"bold": True, "bg_color": HEADER.fill, "font_color": HEADER.text, "border": 1,
                               "text_wrap": True, "valign": "top"})
    levels = {word: wb.add_format({"bg_color": sw.fill, "font_color": sw.text, "bold": True})
              for word, sw in LEVELS.items()}
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    top = wb.add_format({"valign": "top"})
    day = wb.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})
    title = wb.add_format({"bold": True, "font_size": 14})
    status = wb.add_format({"bold": True, "font_size": 12, "border": 1, "text_wrap": True, "valign": "top"})
    not_loaded = wb.add_format({"bg_color": LEVELS["CONTRAINDICATED"].fill, "font_color": "#000000"})
    is_loaded = wb.add_format({"bg_color": LEVELS["NONE_FOUND"].fill, "font_color": "#000000"})

    # Start: opened first. Whether the functions are loaded, the counts, then how to use and set them up.
    start = wb.add_worksheet("Start")
    # Patients: input columns A:U in the template's order, then the flag formulas under plain headers.
    ws = wb.add_worksheet("Patients")
    for c, f in enumerate(fields):
        ws.write_string(0, c, f.name, bold)
        ws.write_comment(0, c, f.label)
        ws.set_column(c, c, 24 if f.kind in ("conditions", "drugs", "symptoms") else 12)
    for r, example in enumerate(rows, start=1):
        for c, f in enumerate(fields):
            value = example.get(f.name)
            if isinstance(value, datetime):
                ws.write_datetime(r, c, value, day)
            elif value is not None:
                ws.write(r, c, value, wrap if isinstance(value, str) else top)
    flag_col = width
    for i, name in enumerate(FLAG_FUNCTIONS):
        shown = _OUTPUT[FUNCTION_COLUMNS[name]]
        ws.write_string(0, flag_col + i, header(shown.name), flag_head)
        ws.write_comment(0, flag_col + i, f"={name}(A2:{last_col}2): {shown.description}")
        ws.set_column(flag_col + i, flag_col + i, shown.width, wrap if shown.wrap else top)
    review_col = flag_col + len(FLAG_FUNCTIONS)
    ws.write_string(0, review_col, "Review", flag_head)
    ws.set_column(review_col, review_col, 10)
    risk_col, contra_col = (xl_col_to_name(flag_col + FLAG_FUNCTIONS.index(f)) for f in ("MG_RISK", "MG_CONTRA"))
    for r in range(1, last_row):
        excel_row = r + 1
        cells = f"$A{excel_row}:${last_col}{excel_row}"
        for i, name in enumerate(FLAG_FUNCTIONS):
            ws.write_formula(r, flag_col + i, _guarded(f"{prefix}{name}({cells})", cells), None, "")
        ws.write_formula(r, review_col, f'=IF(OR({risk_col}{excel_row}="HIGH",{contra_col}{excel_row}='
                                        f'"CONTRAINDICATED"),"REVIEW","")', top, "")
    level_functions = [i for i, name in enumerate(FLAG_FUNCTIONS) if _OUTPUT[FUNCTION_COLUMNS[name]].palette == LEVEL]
    _level_colours(ws, levels, 1, [flag_col + i for i in level_functions], last_row - 1)
    ws.freeze_panes(1, 1)
    _print(ws, fit=False)

    start.set_column(0, 0, 30)
    start.set_column(1, 1, INSTRUCTION_WIDTH - 30, wrap)
    start.write_string(0, 0, "mgdecision: magnesium decision support in Excel", title)
    start.write_string(2, 0, "Functions", status)
    start.write_formula(2, 1, f'=IF(ISERROR({loaded}),"NOT LOADED: the flag cells say \'{NOT_LOADED}\'. '
                              f'Set them up as below, then recalculate (Ctrl+Alt+F9).","Loaded: the flags are '
                              f'calculated.")', status, NOT_LOADED)
    start.set_row(2, 36)
    start.conditional_format(2, 1, 2, 1, {"type": "text", "criteria": "begins with", "value": "NOT",
                                          "format": not_loaded})
    start.conditional_format(2, 1, 2, 1, {"type": "text", "criteria": "begins with", "value": "Loaded",
                                          "format": is_loaded})
    review = xl_col_to_name(review_col)
    status = xl_col_to_name(mg.COLUMNS.index("mg_dose_status"))  # on the Table sheet, which spills every output
    counts = (("Risk HIGH", f'COUNTIF(Patients!{risk_col}2:{risk_col}{last_row},"HIGH")'),
              ("Risk MODERATE", f'COUNTIF(Patients!{risk_col}2:{risk_col}{last_row},"MODERATE")'),
              ("Contraindicated", f'COUNTIF(Patients!{contra_col}2:{contra_col}{last_row},"CONTRAINDICATED")'),
              ("To review", f'COUNTIF(Patients!{review}2:{review}{last_row},"REVIEW")'),
              (f"{VALUE_LABELS['CHECK_SERUM']} (CHECK_SERUM)", f'COUNTIF(Table!{status}2:{status}{last_row},'
                                                               '"CHECK_SERUM")'))
    start.write_string(4, 0, "Patients (Patients sheet)", flag_head)
    start.write_string(4, 1, "Count", flag_head)
    for i, (label, count) in enumerate(counts, start=5):
        start.write_string(i, 0, label)
        # a missing function makes every flag an error, which COUNTIF would count as 0: say so instead
        start.write_formula(i, 1, f'=IF(ISERROR({loaded}),"{NOT_LOADED}",{count})', top, NOT_LOADED)
    first_line = 5 + len(counts) + 1
    for r, (label, line) in enumerate(_instructions(last_col), start=first_line):
        start.write_string(r, 0, label, wb.add_format({"bold": True, "valign": "top", "text_wrap": True})
                           if label else top)
        start.write_string(r, 1, line, wrap)
        start.set_row(r, instruction_height(line, INSTRUCTION_WIDTH - 30))  # viewers do not fit wrapped rows
    start.activate()
    _print(start, repeat_row=False)

    # Table: one dynamic-array formula over the whole Patients sheet (the fast way for many rows), blank while
    # the functions are not loaded (a note at the right says so). Output columns as declared.
    wt = wb.add_worksheet("Table")
    for c, o in enumerate(OUTPUTS):
        wt.set_column(c, c, o.width, wrap if o.wrap else top)
    wt.write_dynamic_array_formula(0, 0, last_row - 1, len(mg.COLUMNS) - 1,
                                   f'=IF(ISERROR({loaded}),"",{prefix}MG_TABLE(Patients!A1:{last_col}{last_row}))',
                                   None, "")
    note_col = len(mg.COLUMNS) + 1
    wt.set_column(note_col, note_col, 40, wrap)
    wt.write_formula(0, note_col, f'=IF(ISERROR({loaded}),"{NOT_LOADED_CELL}","")', wrap, NOT_LOADED_CELL)
    _level_colours(wt, levels, 1, [c for c, o in enumerate(OUTPUTS) if o.palette == LEVEL], last_row - 1)
    _print(wt, fit=False)

    # Flags: MG_FLAGS spills every output of one patient to the right.
    wf = wb.add_worksheet("Flags")
    wf.write_string(0, 0, "patient_id", bold)
    for c, column in enumerate(mg.COLUMNS, start=1):
        wf.write_string(0, c, header(column), bold)
    wf.set_column(0, 0, 18, wrap)
    for c, o in enumerate(OUTPUTS, start=1):
        wf.set_column(c, c, o.width, wrap if o.wrap else top)
    for r in range(1, len(rows) + 1):
        wf.write_formula(r, 0, f'=IF(Patients!A{r + 1}="","",Patients!A{r + 1})', top, "")
        wf.write_dynamic_array_formula(r, 1, r, len(mg.COLUMNS),
                                       f'=IF(ISERROR({loaded}),"",{prefix}MG_FLAGS(Patients!A{r + 1}:{last_col}'
                                       f'{r + 1}))', None, "")
    note_col = len(mg.COLUMNS) + 2
    wf.set_column(note_col, note_col, 40, wrap)
    wf.write_formula(0, note_col, f'=IF(ISERROR({loaded}),"{NOT_LOADED_CELL}","")', wrap, NOT_LOADED_CELL)
    _level_colours(wf, levels, 1, [c for c, o in enumerate(OUTPUTS, start=1) if o.palette == LEVEL], len(rows))
    _print(wf, fit=False)

    # Calculators: the reference functions.
    wc = wb.add_worksheet("Calculators")
    wc.set_column(0, 0, 44)
    wc.set_column(1, 4, 12)
    wc.set_column(4, 4, 24)
    wc.write_row(0, 0, ("Question", "Input 1", "Input 2", "Input 3", "Answer"), bold)
    calculators = (
        ("RDA (mg/day), woman aged 52", (52, "F"), "MG_RDA(B{r},C{r})"),
        ("RDA (mg/day), pregnant, aged 30", (30, "F", True), "MG_RDA(B{r},C{r},D{r})"),
        ("Upper limit of supplements (mg/day), aged 52", (52,), "MG_UL(B{r})"),
        ("Upper limit of supplements, aged 6 months", (0.5,), "MG_UL(B{r})"),
        ("Serum 0.62 mmol/L in mg/dL", (0.62, "mmol/L", "mg/dL"), "MG_CONVERT(B{r},C{r},D{r})"),
        ("Elemental Mg (mg) in 400 mg magnesium oxide", ("oxide", 400), "MG_ELEMENTAL(B{r},C{r})"),
    )
    for r, (question, inputs, formula) in enumerate(calculators, start=1):
        wc.write_string(r, 0, question)
        wc.write_row(r, 1, inputs)
        wc.write_formula(r, 4, f'=IFERROR({prefix}{formula.format(r=r + 1)},"{NOT_LOADED_CELL}")', top, "")
    _print(wc)

    # xlwings.conf: key in column A, value in column B, starting at A1 with no header row.
    wx = wb.add_worksheet("xlwings.conf")
    wx.set_column(0, 1, 28)
    wx.write_string(0, 0, "UDF Modules")
    wx.write_string(0, 1, UDF_MODULE)
    _print(wx, repeat_row=False)
    wb.close()
    return path


def _level_colours(ws: Any, levels: dict[str, Any], first_row: int, cols: Sequence[int], last_row: int) -> None:
    """Colour the level words in columns ``cols`` with the palette (the word stays: colour is never alone);
    one conditional format per run of adjacent columns."""
    runs: list[list[int]] = []
    for c in sorted(cols):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    for first_col, last_col in runs:
        for word, fmt in levels.items():
            ws.conditional_format(first_row, first_col, last_row, last_col,
                                  {"type": "cell", "criteria": "==", "value": f'"{word}"', "format": fmt})


def instruction_height(line: str, width: int = INSTRUCTION_WIDTH) -> float:
    """Row height (points) that shows ``line`` wrapped in a column ``width`` characters wide, with some slack."""
    lines = -(-len(line) // int(width * 0.95))  # proportional fonts fit about as many characters as the width
    return 15.0 * max(lines, 1) + 3


def _instructions(last_col: str) -> list[tuple[str, str]]:
    """The workbook's own instructions: (heading, text) rows of the Start sheet; no other document needed."""
    example = f"A2:{last_col}2"
    statuses = ", ".join(f"{word} ({VALUE_LABELS[word].lower()})" for word in outputs.LEVELS["mg_dose_status"])
    return [
        ("Before you start", "The flags support and do not replace clinical judgement. Every example patient is "
                             "fictional."),
        ("Patients sheet", f"One row per patient in the template's column order (A:{last_col}); keep the header "
                           "row. Hover over a header for what it holds. Empty cells are allowed; a row left empty "
                           "stays blank."),
        ("Flags", f"=MG_DECISION({example}), =MG_RISK(...), =MG_CONTRA(...), =MG_DOSE(...), "
                  "=MG_INTERACTIONS(...) and =MG_WHY(...) take one patient's row. If your columns are in another "
                  "order, add the header cells: "
                  f"=MG_RISK({example}, A$1:{last_col}$1). =MG_FLAGS({example}) spills all {len(mg.COLUMNS)} "
                  f"outputs of one patient to the right (Flags sheet); =MG_TABLE(A1:{last_col}501) takes the whole "
                  "table with its header row and spills one row per patient (Table sheet): one call instead of "
                  "thousands."),
        ("Decision and status", f"MG_TABLE and MG_FLAGS start with the {header('mg_decision')}: what to do next, in "
                                f"a few plain words. The dose status is one of {statuses}. CHECK_SERUM means: no dose "
                                "until serum magnesium is measured (or repeated, when the result could not be used or "
                                "is not current); the dose advice says what to measure."),
        ("Calculators", "=MG_RDA(age, sex, [pregnant], [lactating]) and =MG_UL(age) give mg/day; "
                        "=MG_CONVERT(value, from_unit, to_unit) converts serum magnesium between mmol/L, mg/dL and "
                        "mEq/L; =MG_ELEMENTAL(form, compound_mg) gives elemental magnesium in a salt."),
        ("Reading the cells", "A cell starting with #MG! means an argument needs fixing; the text says what to "
                              "change. Input problems (a serum value without a unit, an unknown drug name, ...) are "
                              "listed by =MG_WHY(...); values that cannot be read are never guessed. "
                              f"'{NOT_LOADED}' means Excel does not know the functions yet: set them up as below."),
        ("Set up: no Python", "Excel 365/2021 on Windows or macOS, or Excel on the web. 1. Home > Add-ins (older "
                              "Excel: Insert > Get Add-ins), search for xlwings Lite, click Add (free). 2. Open this "
                              "workbook, click the xlwings Lite button (right end of the Home tab). 3. In its "
                              "requirements.txt tab put two lines: xlwings>=0.37,<0.38 and the address of the "
                              "mgdecision wheel your IT team hosts (https://.../mgdecision-0.1.0-py3-none-any.whl). "
                              "4. In its main.py tab put the one line: from mgdecision.excel.udfs import * "
                              "5. Wait for the packages to install, then press Ctrl+Alt+F9: the Functions line above "
                              "says Loaded. A cell still showing the message: select it, press F2, then Enter."),
        ("Set up: with Python", "Excel for Windows. 1. Install Python 3.12 from python.org (tick Add python.exe to "
                                "PATH). 2. In Command Prompt: py -m pip install \"<folder>\\mgdecision-0.1.0-py3-none-"
                                "any.whl[excel]\" then py -m xlwings addin install, and restart Excel. 3. File > "
                                "Options > Trust Center > Trust Center Settings > Macro Settings: tick Trust access to "
                                "the VBA project object model. 4. Save this workbook as .xlsm; in the VBA editor "
                                "(Alt+F11) Tools > References, tick xlwings. 5. The xlwings.conf sheet already names "
                                f"the module ({UDF_MODULE}); click Import Functions on the xlwings tab."),
        ("Calculation", "This file was written without Excel: cells show values once Excel calculates (Ctrl+Alt+F9 "
                        "forces it)."),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = build(args[0]) if args else build()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
