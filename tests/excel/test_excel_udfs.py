"""Direct calls of the Excel functions: every value shape a runtime delivers, and every #MG! message."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

import mgdecision as mg
from mgdecision.excel import cells, udfs
from tests.excel.excel_conformance import cell_value

# One patient in the template's column order (its first 14 of 20 columns, A2:N2), as stored in a workbook.
ROW = ["P-001", 52, "F", "no", None, 0.62, "mmol/L", 45, "no", "E11.9; hypertension",
       "omeprazole 20 mg; metformin", "leg cramps at night", "glycinate", 200]
FIELDS = [f.name for f in mg.knowledge().fields]
ROW_FUNCTIONS = {"MG_DECISION": "mg_decision",
                 "MG_RISK": "mg_risk", "MG_CONTRA": "mg_contraindication", "MG_DOSE": "mg_dose",
                 "MG_INTERACTIONS": "mg_interactions"}


def expected(row, headers=None):
    out = mg.assess(row, headers=headers).row()
    return {column: cell_value(out[column]) for column in mg.COLUMNS}


def flags(row, headers=None):
    result = udfs.MG_FLAGS(row, headers)
    assert isinstance(result, list) and len(result) == 1, result
    return dict(zip(mg.COLUMNS, result[0], strict=True))


# ---------------------------------------------------------------- rows: shapes and value types


@pytest.mark.parametrize("shape", ["flat", "tuple", "one_row", "column", "numpy"])
def test_row_shapes_give_the_core_result(shape):
    value = {"flat": ROW, "tuple": tuple(ROW), "one_row": [ROW], "column": [[v] for v in ROW],
             "numpy": np.asarray([ROW], dtype=object)}[shape]
    want = expected(ROW)
    assert flags(value) == want
    for name, column in ROW_FUNCTIONS.items():
        assert getattr(udfs, name)(value) == want[column], name


def test_each_row_function_returns_its_column():
    want = expected(ROW)
    assert want["mg_risk"] in {"LOW", "MODERATE", "HIGH", "UNKNOWN"}
    for name, column in ROW_FUNCTIONS.items():
        assert getattr(udfs, name)(ROW) == want[column]


def _in_template_order(values: dict) -> list:
    """A row of cells in the template's column order (the knowledge base's field order) from field -> value."""
    return [values.get(f.name) for f in mg.knowledge().fields]


def test_classic_and_lite_value_types_read_the_same():
    """Floats for whole numbers, numbers as text, booleans, blank text, dates as datetime or serial numbers."""
    dob, visit = datetime(1961, 5, 1), datetime(2026, 11, 1)
    serial = {d: (d - datetime(1899, 12, 30)).days for d in (dob, visit)}
    base = {"patient_id": "1001", "sex": "M", "serum_mg": "0.7 mmol/L", "egfr": 88, "dialysis": "no", "diagnoses": "",
            "medications": "pantoprazole", "supplement_form": "oxide", "date_of_birth": dob, "assessment_date": visit,
            "supplement_compound_mg": 400}
    classic = {**base, "patient_id": 1001.0, "pregnant": False, "serum_mg_unit": "", "egfr": 88.0, "dialysis": False,
               "diagnoses": "  ", "supplement_compound_mg": 400.0}
    lite = {**base, "patient_id": 1001, "pregnant": False, "lactating": "", "diagnoses": None, "symptoms": "",
            "supplement_dose_mg": "", "route": "", "date_of_birth": serial[dob], "assessment_date": serial[visit]}
    text = {f.name: "" for f in mg.knowledge().fields} | {
        "patient_id": "1001", "sex": "M", "pregnant": "FALSE", "serum_mg": "0.7 mmol/L", "egfr": "88", "dialysis": "n",
        "medications": "pantoprazole", "supplement_form": "oxide", "date_of_birth": "1961-05-01",
        "assessment_date": "2026-11-01", "supplement_compound_mg": "400"}
    want = flags(_in_template_order(base))
    assert want["mg_risk"] != "UNKNOWN"  # the age came from the date of birth
    assert "1001.0" not in want["mg_reasons"] + want["mg_input_problems"]
    for variant in (classic, lite, text):
        cells = _in_template_order(variant)
        assert flags(cells) == want, variant
        assert flags(cells) == expected(cells)


def test_whole_number_floats_and_numbers_as_text_match_integers():
    as_float = [float(v) if isinstance(v, int) else v for v in ROW]
    as_text = [str(v) if isinstance(v, (int, float)) else v for v in ROW]
    want = flags(ROW)
    assert flags(as_float) == want
    assert flags(as_text) == want


def test_booleans_are_read_as_yes_no():
    yes = list(ROW)
    yes[3] = True
    word = list(ROW)
    word[3] = "yes"
    assert flags(yes) == flags(word) == expected(word)


def test_numeric_outputs_are_floats_and_blanks_are_empty_text():
    out = flags(ROW)
    assert isinstance(out["mg_dose_min_mg"], float) and isinstance(out["mg_dose_max_mg"], float)
    assert out["mg_input_problems"] == ""
    assert None not in out.values()
    no_dose = flags(["P-7", None, None, None, None, None, None, None, None, None, None, None, None, None])
    assert all(v is not None for v in no_dose.values())


def test_an_empty_row_gives_empty_outputs():
    for blank in ([None] * 14, [""] * 14, [["", None, "  "] + [None] * 11]):
        assert udfs.MG_RISK(blank) == ""
        assert udfs.MG_WHY(blank) == ""
        assert udfs.MG_FLAGS(blank) == [[""] * len(mg.COLUMNS)]


def test_mg_why_gives_reasons_then_input_problems():
    clean = expected(ROW)
    assert udfs.MG_WHY(ROW) == clean["mg_reasons"]
    no_unit = list(ROW)
    no_unit[6] = None  # 0.62 without a unit is not used
    want = expected(no_unit)
    assert want["mg_input_problems"]
    assert udfs.MG_WHY(no_unit) == f"{want['mg_reasons']} | Input problems: {want['mg_input_problems']}"


def test_results_are_fresh_lists_not_shared_cache_entries():
    first = udfs.MG_FLAGS(ROW)
    first[0][:] = ["changed"] * len(first[0])
    assert udfs.MG_FLAGS(ROW)[0] == list(expected(ROW).values())
    table = [FIELDS[:len(ROW)], ROW]
    spilled = udfs.MG_TABLE(table)
    for line in spilled:
        line[:] = ["changed"] * len(line)
    assert udfs.MG_TABLE(table) == [list(mg.COLUMNS), list(expected(ROW).values())]


# ---------------------------------------------------------------- headers


def test_headers_in_another_column_order():
    order = [5, 6, 0, 2, 1, 10, 7, 12, 13, 9, 11, 3, 4, 8]
    headers = [FIELDS[i] for i in order]
    row = [ROW[i] for i in order]
    want = expected(ROW)
    for h in (headers, [headers], [[x] for x in headers], tuple(headers)):
        assert flags(row, h) == want
        assert udfs.MG_RISK([row], h) == want["mg_risk"]
    assert flags(row, headers) == expected(row, headers)


def test_header_variants_are_understood():
    headers = ["MRN", "Age", "Gender", "Pregnant?", "Serum Mg (mmol/L)", "eGFR", "Dx", "Meds"]
    row = [1001.0, 52.0, "F", "N", 0.62, 45.0, "E11.9", "omeprazole"]
    assert flags(row, headers) == expected(row, headers)


def test_header_cells_that_are_numbers_or_empty():
    headers = ["age", "sex", None, 2024.0, "serum_mg", "serum_mg_unit"]
    row = [52, "F", "x", "y", 0.62, "mmol/L"]
    assert flags(row, headers) == expected(row, ["age", "sex", "", "2024", "serum_mg", "serum_mg_unit"])


# ---------------------------------------------------------------- MG_TABLE


def test_table_spills_a_header_row_and_one_row_per_patient():
    headers = FIELDS[:14]
    second = ["P-002", 67, "M", None, None, 1.4, "mg/dL", 24, "no", "N18.4", "furosemide", "fatigue", "oxide", 400]
    table = [headers, ROW, [None] * 14, second]
    result = udfs.MG_TABLE(table)
    assert result[0] == list(mg.COLUMNS)
    assert result[1] == list(expected(ROW, headers).values())
    assert result[2] == [""] * len(mg.COLUMNS)
    assert result[3] == list(expected(second, headers).values())
    assert udfs.MG_TABLE(np.asarray(table, dtype=object)) == result


def test_table_with_only_its_header_row():
    assert udfs.MG_TABLE([FIELDS[:14]]) == [list(mg.COLUMNS)]


def test_table_rows_equal_the_row_functions_on_awkward_tables():
    """MG_TABLE assesses the whole table in one call; each row must still equal MG_FLAGS on that row."""
    headers = ["MRN", "Age", "Sex", "Serum Mg (mg/dL)", "Meds", "medicatons", "Dx", "Age", "pregnant", "eGFR"]
    rows = [
        ["a", 70.0, "F", 1.5, "omeprazole; Lasix", "x", "E11.9", 71.0, True, 45.0],
        [None, None, None, None, None, None, None, None, None, None],  # blank row stays blank
        ["b", 1.0, "M", "  ", "spironolactone", None, "N18.4", 1.0, 1.0, np.float64(25.0)],  # 1.0 beside TRUE
        ["c", "abc", "", float("nan"), "xyzmed\x02", 3.0, "G70.00", True, "yes", "45 mL/min"],
        ["d", np.int64(40), "F", "0.7", "Tivicay", "", "", 40.0, "no", None],
        ["  ", None, None, None, None, None, "", None, None, None],  # blank text counts as empty
    ]
    table = udfs.MG_TABLE([headers, *rows])
    assert table[0] == list(mg.COLUMNS)
    for row_cells, out in zip(rows, table[1:], strict=True):
        assert out == udfs.MG_FLAGS(row_cells, headers)[0], row_cells
    assert table[2] == [""] * len(mg.COLUMNS) == table[6]


def test_table_rows_agree_with_single_row_functions():
    table = [FIELDS[:14], ROW]
    assert udfs.MG_TABLE(table)[1] == udfs.MG_FLAGS(ROW)[0] == udfs.MG_FLAGS(ROW, FIELDS[:14])[0]


# ---------------------------------------------------------------- the reference functions


@pytest.mark.parametrize("age", [52, 52.0, "52", [[52]], [52], np.float64(52)])
def test_rda_reads_every_age_shape(age):
    assert udfs.MG_RDA(age, "F") == mg.rda_mg(52, "F") == 320.0


def test_rda_pregnancy_lactation_and_sex_words():
    assert udfs.MG_RDA(30, "F", True) == mg.rda_mg(30, "F", pregnant=True)
    assert udfs.MG_RDA(30, "female", "yes") == mg.rda_mg(30, "F", pregnant=True)
    assert udfs.MG_RDA(30, "F", 0, 1.0) == mg.rda_mg(30, "F", lactating=True)
    assert udfs.MG_RDA(30, "F", None, "") == mg.rda_mg(30, "F")
    assert udfs.MG_RDA(5, None) == mg.rda_mg(5, None)
    assert isinstance(udfs.MG_RDA(52, "M"), float)


def test_ul():
    assert udfs.MG_UL(52) == mg.ul_mg(52) == 350.0
    assert udfs.MG_UL("52") == 350.0
    assert udfs.MG_UL(0.5) == "not established (under 1 year)"


def test_convert():
    assert udfs.MG_CONVERT(0.62, "mmol/L", "mg/dL") == pytest.approx(mg.convert_serum(0.62, "mmol/L", "mg/dL"))
    assert udfs.MG_CONVERT("0,62", [["mmol/l"]], "mEq/L") == pytest.approx(1.24)
    assert isinstance(udfs.MG_CONVERT(1, "mEq/L", "mmol/L"), float)


def test_elemental():
    assert udfs.MG_ELEMENTAL("oxide", 400) == pytest.approx(mg.elemental_mg("oxide", 400))
    assert udfs.MG_ELEMENTAL("Magnesium citrate", "500") == pytest.approx(mg.elemental_mg("citrate", 500))


# ---------------------------------------------------------------- every #MG! message

ERRORS = [
    ("MG_RISK", (5,), "#MG! pass the patient's row, e.g. =MG_RISK(A2:Y2)"),
    ("MG_RISK", ([[5]],), "#MG! pass the patient's row, e.g. =MG_RISK(A2:Y2)"),
    ("MG_CONTRA", ([5],), "#MG! pass the patient's row, e.g. =MG_CONTRA(A2:Y2)"),
    ("MG_DOSE", (None,), "#MG! pass the patient's row, e.g. =MG_DOSE(A2:Y2)"),
    ("MG_INTERACTIONS", ("text",), "#MG! pass the patient's row, e.g. =MG_INTERACTIONS(A2:Y2)"),
    ("MG_WHY", (1.0,), "#MG! pass the patient's row, e.g. =MG_WHY(A2:Y2)"),
    ("MG_FLAGS", (datetime(2026, 1, 1),), "#MG! pass the patient's row, e.g. =MG_FLAGS(A2:Y2)"),
    ("MG_RISK", ([ROW, ROW, ROW],), "#MG! pass one patient's row, not 3 rows; for a whole table use =MG_TABLE"),
    ("MG_RISK", ([1, [2, 3]],), "#MG! the range mixes single cells and rows"),
    ("MG_RISK", (ROW, FIELDS[:3]), "#MG! the headers (3 cells) and the row (14 cells) differ in length; "
                                   "pass matching ranges, e.g. =MG_RISK(A2:Y2, A$1:Y$1)"),
    ("MG_FLAGS", (ROW, "age"), "#MG! the headers (1 cells) and the row (14 cells) differ in length"),
    ("MG_RISK", (ROW, [FIELDS[:14], FIELDS[:14]]), "#MG! headers must be one row of header cells"),
    ("MG_RISK", (ROW, ["x"] * 14), "#MG! none of the headers names a patient field"),
    ("MG_TABLE", ("A1",), "#MG! pass the whole table including its header row, e.g. =MG_TABLE(A1:Y501)"),
    ("MG_TABLE", ([ROW, ROW],), "#MG! the table's first row must be its header row"),
    ("MG_TABLE", ([FIELDS[:14], ROW[:5]],), "#MG! the table's rows differ in length"),
    ("MG_RDA", ("abc", "F"), "#MG! age must be a number, not 'abc', e.g. =MG_RDA(52, \"F\")"),
    ("MG_RDA", (None, "F"), "#MG! age is empty; give a number"),
    ("MG_RDA", (True, "F"), "#MG! age must be a number, not TRUE/FALSE"),
    ("MG_RDA", (130, "F"), "#MG! age must be between 0 and 120 years, not 130"),
    ("MG_RDA", ([[52, 53]], "F"), "#MG! age must be a single cell or value"),
    ("MG_RDA", (52, None), "#MG! sex (F or M) is needed at age 52"),
    ("MG_RDA", (52, "X"), "#MG! sex must be F or M, not 'X'"),
    ("MG_RDA", (30, "F", "maybe"), "#MG! pregnant must be TRUE/FALSE or yes/no, not 'maybe'"),
    ("MG_RDA", (30, "F", False, 7), "#MG! lactating must be TRUE/FALSE or yes/no, not '7'"),
    ("MG_UL", ("old",), "#MG! age must be a number, not 'old', e.g. =MG_UL(52)"),
    ("MG_UL", (float("nan"),), "#MG! age is empty"),
    ("MG_CONVERT", (0.62, "mmol/L", "grains"),
     "#MG! unknown serum magnesium unit: 'grains'; use mmol/L, mg/dL or mEq/L"),
    ("MG_CONVERT", (0.62, "", "mg/dL"), "#MG! from_unit is empty; use mmol/L, mg/dL or mEq/L"),
    ("MG_CONVERT", (0.62, "mmol/L", None), "#MG! to_unit is empty"),
    ("MG_CONVERT", ("low", "mmol/L", "mg/dL"), "#MG! value must be a number, not 'low'"),
    ("MG_CONVERT", (-1, "mmol/L", "mg/dL"), "#MG! value must not be negative"),
    ("MG_CONVERT", ([[0.6, 0.7]], "mmol/L", "mg/dL"), "#MG! value must be a single cell or value"),
    ("MG_ELEMENTAL", ("unobtainium", 400), "#MG! unknown magnesium form 'unobtainium'; known forms: "),
    ("MG_ELEMENTAL", ("", 400), "#MG! form is empty; give the salt"),
    ("MG_ELEMENTAL", ("oxide", "lots"), "#MG! compound_mg must be a number, not 'lots'"),
    ("MG_ELEMENTAL", ("oxide", -5), "#MG! compound_mg must not be negative"),
]


@pytest.mark.parametrize(("name", "args", "message"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_bad_arguments_give_a_distinct_mg_message(name, args, message):
    result = getattr(udfs, name)(*args)
    assert isinstance(result, str), result
    assert result.startswith(message), result


def test_error_messages_are_distinct_per_cause():
    texts = {getattr(udfs, name)(*args) for name, args, _ in ERRORS}
    assert len(texts) == len({message for _, _, message in ERRORS})  # only the two single-cell cases share one
    assert all(t.startswith("#MG! ") for t in texts)


def test_an_unexpected_defect_becomes_an_mg_text_not_an_exception(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    udfs._assessed.cache_clear()
    udfs._table_outputs.cache_clear()
    monkeypatch.setattr(mg, "assess", broken)
    monkeypatch.setattr(mg, "assess_columns", broken)  # the table engine MG_TABLE calls
    try:
        assert udfs.MG_RISK(ROW) == "#MG! unexpected error (RuntimeError: boom); please report it"
        assert udfs.MG_TABLE([FIELDS[:14], ROW]) == "#MG! unexpected error (RuntimeError: boom); please report it"
    finally:
        monkeypatch.undo()
        udfs._assessed.cache_clear()
        udfs._table_outputs.cache_clear()
    assert udfs.MG_RISK(ROW) == expected(ROW)["mg_risk"]


ODD_VALUES = [object(), {"a": 1}, {1, 2}, b"bytes", float("inf"), float("nan"), -1e308, "x" * 10000, [], [[]],
              [[None]], np.asarray([]), complex(1, 2), datetime(1900, 1, 1), [[1, 2], [3]]]


@pytest.mark.parametrize("odd", ODD_VALUES, ids=[type(v).__name__ + str(i) for i, v in enumerate(ODD_VALUES)])
def test_functions_never_raise(odd):
    calls = [(udfs.MG_RISK, (odd,)), (udfs.MG_RISK, (ROW, odd)), (udfs.MG_FLAGS, ([odd] * 14,)),
             (udfs.MG_WHY, ([odd, *ROW[1:]],)), (udfs.MG_TABLE, (odd,)), (udfs.MG_TABLE, ([FIELDS[:3], [odd] * 3],)),
             (udfs.MG_RDA, (odd, odd, odd, odd)), (udfs.MG_UL, (odd,)), (udfs.MG_CONVERT, (odd, odd, odd)),
             (udfs.MG_ELEMENTAL, (odd, odd))]
    for function, args in calls:
        result = function(*args)
        assert isinstance(result, (str, float, list)), (function.__name__, result)


# ---------------------------------------------------------------- the shared cell helpers


def test_cells_normalise_blank_and_numpy_values():
    assert cells.normalise("  ") is None
    assert cells.normalise(float("nan")) is None
    assert cells.normalise(np.float64(2.5)) == 2.5 and type(cells.normalise(np.float64(2.5))) is float
    assert cells.normalise(np.bool_(True)) is True
    assert cells.normalise(0) == 0 and cells.normalise(False) is False
    assert cells.header_text(1001.0) == "1001" and cells.header_text(None) == ""
    assert cells.excel_value(None) == "" and cells.excel_value(3) == 3.0 and cells.excel_value(True) is True
