"""The output columns are declared once (``mgdecision.outputs``) and every front-end lays them out from it.

Checked on real outputs: the widths, wrapping and level fills of the batch workbook (annotate and streaming),
the CSV/Parquet and dask dtypes, the header row of ``=MG_TABLE`` and the Excel template's Table and Flags
sheets, the cohort table's columns and colours, and the accessor's colouring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

import mgdecision as mg
from mgdecision import outputs
from mgdecision.outputs import OUTPUTS
from mgdecision.palette import INDICATORS, LEVELS

DECLARED = {o.name: o for o in OUTPUTS}
ROW = {
    "patient_id": "P-1",
    "age": 52,
    "sex": "F",
    "serum_mg": "0.62 mmol/L",
    "egfr": 75,
    "diagnoses": "G35.A; type 2 diabetes",
    "medications": "Prilosec 20 mg, doxycycline",
    "symptoms": "cramps",
}
ROWS = [
    ROW,
    {
        "patient_id": "P-2",
        "age": 67,
        "sex": "M",
        "serum_mg": 1.4,
        "egfr": 24,
        "diagnoses": "N18.4",
        "medications": "furosemide; levothyroxine; raltegravir",
    },
    {"patient_id": "P-3", "age": 45, "sex": "M", "diagnoses": "myasthenia gravis", "medications": "zzqx"},
    {"patient_id": "P-4", "sex": "F", "serum_mg": "0.7"},
]


# ---------------------------------------------------------------- the declaration


def test_columns_come_from_the_declaration() -> None:
    assert mg.COLUMNS == outputs.COLUMNS == tuple(DECLARED)
    assert len(set(mg.COLUMNS)) == len(mg.COLUMNS)
    assert outputs.NUMERIC_COLUMNS == ("mg_dose_min_mg", "mg_dose_max_mg")
    assert set(outputs.TEXT_COLUMNS) | set(outputs.NUMERIC_COLUMNS) == set(mg.COLUMNS)
    assert outputs.LEVEL_COLUMNS == ("mg_risk", "mg_contraindication", "mg_dose_status")
    assert (*outputs.LEVEL_COLUMNS, "mg_interactions", "mg_input_problems") == outputs.FLAG_COLUMNS
    for o in OUTPUTS:
        assert o.dtype in ("text", "float") and o.width > 0 and o.description, o.name
        assert o.palette in (None, outputs.LEVEL, outputs.INTERACTION, outputs.PROBLEM), o.name
        assert not (o.dtype == "float" and (o.wrap or o.palette)), o.name


def test_every_level_word_of_a_level_column_has_a_colour() -> None:
    words = {"mg_risk": mg.RiskLevel, "mg_contraindication": mg.ContraLevel, "mg_dose_status": mg.DoseStatus}
    assert set(words) == set(outputs.LEVEL_COLUMNS)
    for levels in words.values():
        assert {str(v.value) for v in levels} <= set(LEVELS)


def test_assessment_row_and_frame_hold_every_declared_column_with_its_dtype() -> None:
    for row in ROWS:
        out = mg.assess(row).row()
        assert tuple(out) == mg.COLUMNS
        for name, value in out.items():
            if DECLARED[name].dtype == "float":
                assert value is None or isinstance(value, float), name
            else:
                assert isinstance(value, str), name
    frame = mg.assess_frame(pd.DataFrame(ROWS))
    assert tuple(frame.columns[-len(mg.COLUMNS) :]) == mg.COLUMNS
    for o in OUTPUTS:
        if o.levels:  # a level column: an ordered categorical of its declared words
            assert isinstance(frame[o.name].dtype, pd.CategoricalDtype), o.name
            assert tuple(frame[o.name].cat.categories) == o.levels and frame[o.name].cat.ordered, o.name
        else:
            assert frame[o.name].dtype == ("float64" if o.dtype == "float" else object), o.name


def test_accessor_colours_the_declared_flag_columns() -> None:
    from mgdecision.accessor import FLAG_COLUMNS, LEVEL_COLUMNS, flag_swatch

    assert (FLAG_COLUMNS, LEVEL_COLUMNS) == (outputs.FLAG_COLUMNS, outputs.LEVEL_COLUMNS)
    a = mg.assess(ROWS[1]).row()
    for name in mg.COLUMNS:
        swatch = flag_swatch(name, a[name])
        if DECLARED[name].palette is None:
            assert swatch is None, name
        elif DECLARED[name].palette == outputs.LEVEL:
            assert swatch == LEVELS[a[name]], name
    severities = tuple(i.severity for i in mg.assess(ROWS[1]).interactions)  # the records, not the text
    assert flag_swatch("mg_interactions", a["mg_interactions"], severities) == INDICATORS["warning"]  # raltegravir
    assert flag_swatch("mg_input_problems", "age: missing") == INDICATORS["warning"]


# ---------------------------------------------------------------- batch


def _clinic(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    headers = list(ROW)
    ws.append(headers)
    for row in ROWS:
        ws.append([row.get(h) for h in headers])
    wb.save(path)
    return path


def _width(ws: Any, col: int) -> float | None:
    """The stored width of column ``col`` (1-based); a <col> element may span adjacent columns."""
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col <= (dim.max or dim.min) and dim.customWidth:
            return dim.width
    return None


def _same_width(stored: float | None, declared: int) -> bool:
    """A stored column width is the declared character width (XlsxWriter adds the cell padding, under 1)."""
    return stored is not None and 0 <= stored - declared < 1


def _check_sheet(ws: Any) -> None:
    """Each output column of a flagged patient sheet: its plain header, declared width and wrapping (the long
    reasons: a narrow column, whole on the Reasons sheet), level labels and fills."""
    from mgdecision.batch.sheets import DETAIL_COLUMN, OUTPUT_LAYOUT

    header = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]
    first = header.index(outputs.header(mg.COLUMNS[0]))
    assert header[first : first + len(mg.COLUMNS)] == [outputs.header(c) for c in mg.COLUMNS]
    for k, o in enumerate(OUTPUTS):
        col = first + k + 1
        width, wrap = OUTPUT_LAYOUT[k]
        assert (width, wrap) == ((o.width, o.wrap) if o.name != DETAIL_COLUMN else (width, True)), o.name
        assert _same_width(_width(ws, col), width), o.name
        for r in range(2, ws.max_row + 1):
            cell = ws.cell(r, col)
            if cell.value is None:  # an empty output is not written (annotate mode)
                continue
            assert bool(cell.alignment.wrap_text) == wrap, (o.name, r)
            fill = cell.fill.fgColor.rgb if cell.fill and cell.fill.fill_type == "solid" else None
            if o.palette == outputs.LEVEL:
                assert cell.value in outputs.VALUE_LABELS.values(), (o.name, r)
                assert str(fill)[-6:] == LEVELS[outputs.machine_value(o.name, cell.value)].fill[1:], (o.name, r)
            else:
                assert fill is None or str(fill)[-6:] == "FFFFFF", (o.name, r, fill)


@pytest.mark.parametrize("streaming", [False, True], ids=["annotate", "streaming"])
def test_batch_workbook_lays_out_the_declared_columns(tmp_path: Path, streaming: bool) -> None:
    from mgdecision.batch.run import RunOptions, assess_file

    source = _clinic(tmp_path / "clinic.xlsx")
    result = assess_file(RunOptions(source, tmp_path / "out.xlsx", streaming=streaming, quiet=True, workers=0))
    assert result.mode == ("streaming" if streaming else "annotate")
    _check_sheet(openpyxl.load_workbook(result.output)["Patients"])


def test_batch_names_are_the_declaration() -> None:
    from mgdecision.batch import sheets

    assert sheets.LEVEL_COLUMNS == outputs.LEVEL_COLUMNS
    assert sheets.WRAP_COLUMNS == outputs.WRAP_COLUMNS
    assert sheets.OUTPUT_WIDTHS == outputs.OUTPUT_WIDTHS
    assert [w for w, _ in sheets.OUTPUT_LAYOUT] == [o.width if o.name != sheets.DETAIL_COLUMN else sheets.DETAIL_WIDTH
                                                    for o in OUTPUTS]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_flat_outputs_have_the_declared_columns_and_dtypes(tmp_path: Path, suffix: str) -> None:
    from mgdecision.batch.run import RunOptions, assess_file

    source = _clinic(tmp_path / "clinic.xlsx")
    result = assess_file(RunOptions(source, tmp_path / f"out{suffix}", quiet=True, workers=0))
    if suffix == ".csv":
        got = pd.read_csv(result.output, dtype=object, keep_default_na=False)
    else:
        got = pd.read_parquet(result.output)
        for o in OUTPUTS:
            assert (got[o.name].dtype == "float64") == (o.dtype == "float"), o.name
    assert tuple(got.columns[-len(mg.COLUMNS) :]) == mg.COLUMNS


def test_dask_meta_has_the_declared_dtypes() -> None:
    dd = pytest.importorskip("dask.dataframe")
    from mgdecision.batch.distributed import assess_partitions

    frame = pd.DataFrame(ROWS).astype(object)
    flagged = assess_partitions(dd.from_pandas(frame, npartitions=2))
    meta = flagged._meta
    assert tuple(meta.columns[-len(mg.COLUMNS) :]) == mg.COLUMNS
    for o in OUTPUTS:
        assert (meta[o.name].dtype == "float64") == (o.dtype == "float"), o.name
    computed = flagged.compute()
    for o in OUTPUTS:
        assert (computed[o.name].dtype == "float64") == (o.dtype == "float"), o.name


# ---------------------------------------------------------------- Excel


def test_mg_table_header_row_is_the_declaration() -> None:
    from mgdecision.excel import udfs

    headers = list(ROW)
    result = udfs.MG_TABLE([headers, *[[r.get(h) for h in headers] for r in ROWS]])
    assert result[0] == list(mg.COLUMNS)
    assert all(len(r) == len(mg.COLUMNS) for r in result)


def test_excel_template_lays_out_the_declared_columns(tmp_path: Path) -> None:
    from mgdecision.excel import build_workbook

    wb = openpyxl.load_workbook(build_workbook.build(tmp_path / "addin.xlsx"))
    for sheet, first in (("Table", 1), ("Flags", 2)):
        ws = wb[sheet]
        levels = [get_column_letter(first + k) for k, o in enumerate(OUTPUTS) if o.palette == outputs.LEVEL]
        coloured = {str(rng.sqref) for rng in ws.conditional_formatting}
        last = max(r for r in range(1, ws.max_row + 1) if ws.cell(r, first).value is not None)
        assert coloured == {f"{levels[0]}2:{levels[-1]}{last}"}, sheet  # the three adjacent level columns
        for k, o in enumerate(OUTPUTS):
            assert _same_width(_width(ws, first + k), o.width), (sheet, o.name)
    fields = len(mg.knowledge().fields)
    patients = wb["Patients"]
    for i, name in enumerate(build_workbook.FLAG_FUNCTIONS):
        o = DECLARED[build_workbook.FUNCTION_COLUMNS[name]]
        assert patients.cell(1, fields + 1 + i).value == outputs.header(o.name)  # plain header; the formula names it
        assert _same_width(_width(patients, fields + 1 + i), o.width), name


# ---------------------------------------------------------------- widgets


def test_cohort_table_shows_the_declared_text_columns_and_colours_the_flags() -> None:
    from mgdecision.widgets import CohortTable
    from mgdecision.widgets.cohort import ROW as ROW_LABEL
    from mgdecision.widgets.cohort import SHOWN_FLAGS, _cells_html

    table = CohortTable(pd.DataFrame(ROWS))
    assert tuple(table.result.columns[-len(mg.COLUMNS) :]) == mg.COLUMNS
    assert sorted(SHOWN_FLAGS) == sorted(outputs.TEXT_COLUMNS)  # the numbers are in mg_dose
    view = table.view()
    assert list(view.columns[: 2 + len(SHOWN_FLAGS)]) == [ROW_LABEL, "patient_id", *SHOWN_FLAGS]
    cells = _cells_html(view)
    for name in SHOWN_FLAGS:
        coloured = any("background-color" in c for c in cells[name])
        assert coloured == (DECLARED[name].palette is not None), name


def test_cohort_export_is_the_batch_workbook(tmp_path: Path) -> None:
    from mgdecision.widgets import CohortTable

    path = tmp_path / "export.xlsx"
    CohortTable(pd.DataFrame(ROWS)).to_xlsx(path)
    _check_sheet(openpyxl.load_workbook(path)["Patients"])
