"""Write the ready-to-use workbook ``mgdecision_addin.xlsx`` (run: ``python -m mgdecision.excel.build_workbook``).

Sheets: Patients (the template's columns, example rows, flag formulas filled down, a review column and
COUNTIF summary that says "functions not loaded" instead of counting zeros when the functions are missing),
Table (``=MG_TABLE(...)`` as a dynamic array), Flags (``=MG_FLAGS(...)`` per patient), Calculators (MG_RDA,
MG_UL, MG_CONVERT, MG_ELEMENTAL), Instructions, and ``xlwings.conf`` naming the UDF module. Output columns
take their widths and wrapping from ``mgdecision.outputs``; level words are coloured by conditional formats
from ``mgdecision.palette``. Written without Excel, so cells hold formulas and no computed values until Excel
calculates.
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
from mgdecision.outputs import LEVEL, OUTPUTS
from mgdecision.palette import HEADER, LEVELS

__all__ = ["EXAMPLE_ROWS", "FLAG_FUNCTIONS", "FUNCTION_COLUMNS", "NOT_LOADED", "PATIENT_ROWS", "UDF_MODULE", "WORKBOOK",
           "build", "main"]

WORKBOOK = Path(__file__).with_name("mgdecision_addin.xlsx")
UDF_MODULE = "mgdecision.excel.udfs"
PATIENT_ROWS = 20  # rows with formulas filled in, examples first, the rest left for new patients
# The flag functions on the Patients sheet and the output column each shows (its width, wrapping and colours).
FUNCTION_COLUMNS = {"MG_RISK": "mg_risk", "MG_CONTRA": "mg_contraindication", "MG_DOSE": "mg_dose",
                    "MG_INTERACTIONS": "mg_interactions", "MG_WHY": "mg_reasons"}
FLAG_FUNCTIONS = tuple(FUNCTION_COLUMNS)
_OUTPUT = {o.name: o for o in OUTPUTS}
NOT_LOADED = "functions not loaded"  # what the summary shows instead of counts when the flags are #NAME?
INSTRUCTION_WIDTH = 120  # characters; the Instructions rows are made tall enough for their wrapped text

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
)


def _fields() -> list[Any]:
    return list(mg.knowledge().fields)


def build(path: Path | str = WORKBOOK, *, prefix: str = "", rows: Sequence[dict[str, Any]] = EXAMPLE_ROWS,
          patient_rows: int = PATIENT_ROWS) -> Path:
    """Write the workbook to ``path``. ``prefix`` is put before every function name in formulas (e.g. the
    ``_xldudf_`` storage names of add-in functions); ``rows`` are the example patients."""
    path = Path(path)
    fields = _fields()
    width = len(fields)
    last_col = xl_col_to_name(width - 1)  # T for the 20 template columns
    last_row = patient_rows + 1
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

    # Patients: input columns A:T in the template's order, then the flag formulas.
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
        ws.write_string(0, flag_col + i, name, flag_head)
        ws.set_column(flag_col + i, flag_col + i, shown.width, wrap if shown.wrap else top)
    review_col = flag_col + len(FLAG_FUNCTIONS)
    ws.write_string(0, review_col, "Review", flag_head)
    ws.set_column(review_col, review_col, 10)
    risk_col, contra_col = xl_col_to_name(flag_col), xl_col_to_name(flag_col + 1)
    for r in range(1, last_row):
        excel_row = r + 1
        for i, name in enumerate(FLAG_FUNCTIONS):
            ws.write_formula(r, flag_col + i, f"={prefix}{name}(A{excel_row}:{last_col}{excel_row})", None, "")
        ws.write_formula(r, review_col, f'=IF(OR({risk_col}{excel_row}="HIGH",{contra_col}{excel_row}='
                                        f'"CONTRAINDICATED"),"REVIEW","")', top, "")
    level_functions = [i for i, name in enumerate(FLAG_FUNCTIONS) if _OUTPUT[FUNCTION_COLUMNS[name]].palette == LEVEL]
    _level_colours(ws, levels, 1, [flag_col + i for i in level_functions], last_row - 1)
    summary_col = review_col + 2
    ws.set_column(summary_col, summary_col + 1, 24)
    ws.write_string(0, summary_col, "Summary", flag_head)
    ws.write_string(0, summary_col + 1, "Patients", flag_head)
    review = xl_col_to_name(review_col)
    counts = (("Risk HIGH", f'COUNTIF({risk_col}2:{risk_col}{last_row},"HIGH")'),
              ("Risk MODERATE", f'COUNTIF({risk_col}2:{risk_col}{last_row},"MODERATE")'),
              ("Contraindicated", f'COUNTIF({contra_col}2:{contra_col}{last_row},"CONTRAINDICATED")'),
              ("To review", f'COUNTIF({review}2:{review}{last_row},"REVIEW")'))
    for i, (label, count) in enumerate(counts, start=1):
        ws.write_string(i, summary_col, label)
        # a missing function makes every flag #NAME?, which COUNTIF would count as 0: say so instead
        ws.write_formula(i, summary_col + 1, f'=IF(ISERROR({risk_col}2),"{NOT_LOADED}",{count})', top, NOT_LOADED)
    ws.write_string(len(counts) + 1, summary_col, "Functions")
    ws.write_formula(len(counts) + 1, summary_col + 1,
                     f'=IF(ISERROR({prefix}MG_UL(30)),"{NOT_LOADED}: see Instructions","loaded")', top, NOT_LOADED)
    ws.freeze_panes(1, 1)
    ws.activate()

    # Table: one dynamic-array formula over the whole Patients sheet (the fast way for many rows).
    # Output columns as declared in mgdecision.outputs: the spilled cells take their column's wrapping.
    wt = wb.add_worksheet("Table")
    for c, o in enumerate(OUTPUTS):
        wt.set_column(c, c, o.width, wrap if o.wrap else top)
    wt.write_dynamic_array_formula(0, 0, last_row - 1, len(mg.COLUMNS) - 1,
                                   f"={prefix}MG_TABLE(Patients!A1:{last_col}{last_row})", None, "")
    _level_colours(wt, levels, 1, [c for c, o in enumerate(OUTPUTS) if o.palette == LEVEL], last_row - 1)

    # Flags: MG_FLAGS spills all ten outputs of one patient to the right.
    wf = wb.add_worksheet("Flags")
    wf.write_string(0, 0, "patient_id", bold)
    for c, column in enumerate(mg.COLUMNS, start=1):
        wf.write_string(0, c, column, bold)
    wf.set_column(0, 0, 18, wrap)
    for c, o in enumerate(OUTPUTS, start=1):
        wf.set_column(c, c, o.width, wrap if o.wrap else top)
    for r in range(1, len(rows) + 1):
        wf.write_formula(r, 0, f'=IF(Patients!A{r + 1}="","",Patients!A{r + 1})', top, "")
        wf.write_dynamic_array_formula(r, 1, r, len(mg.COLUMNS),
                                       f"={prefix}MG_FLAGS(Patients!A{r + 1}:{last_col}{r + 1})", None, "")
    _level_colours(wf, levels, 1, [c for c, o in enumerate(OUTPUTS, start=1) if o.palette == LEVEL], len(rows))

    # Calculators: the reference functions.
    wc = wb.add_worksheet("Calculators")
    wc.set_column(0, 0, 44)
    wc.set_column(1, 4, 12)
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
        wc.write_formula(r, 4, f"={prefix}" + formula.format(r=r + 1), top, "")

    # Instructions.
    wi = wb.add_worksheet("Instructions")
    wi.set_column(0, 0, INSTRUCTION_WIDTH, wrap)
    wi.write_string(0, 0, "mgdecision: magnesium decision support in Excel", title)
    for r, line in enumerate(_instructions(last_col, risk_col), start=2):
        wi.write_string(r, 0, line, wrap)
        wi.set_row(r, instruction_height(line))  # viewers do not fit wrapped rows themselves: lines would overlap

    # xlwings.conf: key in column A, value in column B, starting at A1 with no header row.
    wx = wb.add_worksheet("xlwings.conf")
    wx.set_column(0, 1, 28)
    wx.write_string(0, 0, "UDF Modules")
    wx.write_string(0, 1, UDF_MODULE)
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


def _instructions(last_col: str, risk_col: str) -> list[str]:
    return [
        "The flags support and do not replace clinical judgement. Every example patient is fictional.",
        f"Patients sheet: one row per patient in the template's column order (A:{last_col}); keep the header row. "
        "Hover over a header for what it holds. Empty cells are allowed.",
        f"Formulas: =MG_RISK(A2:{last_col}2), =MG_CONTRA(...), =MG_DOSE(...), =MG_INTERACTIONS(...), =MG_WHY(...) "
        "take one patient's row. If your columns are in another order, add the header cells: "
        f"=MG_RISK(A2:{last_col}2, A$1:{last_col}$1).",
        f"=MG_FLAGS(A2:{last_col}2) spills all ten outputs of one patient to the right (Flags sheet).",
        f"=MG_TABLE(A1:{last_col}501) takes the whole table including its header row and spills a header row plus "
        "one row per patient (Table sheet). Use it for many patients: one call instead of thousands.",
        "=MG_RDA(age, sex, [pregnant], [lactating]) and =MG_UL(age) give mg/day; =MG_CONVERT(value, from_unit, "
        "to_unit) converts serum magnesium between mmol/L, mg/dL and mEq/L; =MG_ELEMENTAL(form, compound_mg) gives "
        "elemental magnesium in a salt (Calculators sheet).",
        "A cell starting with #MG! means an argument needs fixing; the text says what to change. "
        f"Check for it before relying on a flag, e.g. =IF(LEFT({risk_col}2,3)=\"#MG\",\"fix input\",{risk_col}2).",
        "Input problems (a serum value without a unit, an unknown drug name, ...) are listed by =MG_WHY(...) and in "
        "the mg_input_problems output; values that cannot be read are never guessed.",
        f"If the flag cells show #NAME? and the summary says '{NOT_LOADED}', Excel does not know the functions yet: "
        "set them up as below (or restart the xlwings add-in); the flags never count as zero patients.",
        "Setting up without Python (Excel 365/2021 on Windows or macOS, Excel on the web): add the free xlwings Lite "
        "add-in, open it, and list mgdecision in its requirements.txt tab (see excel_addin/README.md).",
        "Setting up with Python (Excel for Windows): pip install the mgdecision wheel with its excel extra, run "
        "'xlwings addin install', save this workbook as .xlsm, and click Import Functions on the xlwings ribbon. The "
        f"xlwings.conf sheet already names the module ({UDF_MODULE}). Details: excel_addin/README.md.",
        "This file was written without Excel: cells show values once Excel calculates (press Ctrl+Alt+F9 if needed).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = build(args[0]) if args else build()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
