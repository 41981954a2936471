"""Excel functions for magnesium decision support (classic xlwings and xlwings Lite).

Set this module as the xlwings "UDF Modules" entry (``mgdecision.excel.udfs``) and import the functions,
or import them into an xlwings Lite ``main.py``. Only the portable part of xlwings is used (``func``,
``arg`` with ``ndim`` and ``doc``, docstrings), and the functions carry no type hints, because classic
xlwings would read a hint as a value converter.

Every function returns what the core's output column holds and never raises: a bad argument gives a text
starting with ``#MG!`` that says what to fix. Blank outputs are "" so the cell looks empty (never 0).
A completely empty patient row gives "" in every output, so formulas can be filled down ahead of the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from xlwings import arg, func

import mgdecision as mg

from .cells import (
    ArgumentError,
    excel_value,
    fit_cell,
    flag,
    header_text,
    matrix,
    normalise,
    number,
    row_cells,
    shown,
    text,
)

__all__ = [
    "MG_CONTRA",
    "MG_CONVERT",
    "MG_DECISION",
    "MG_DOSE",
    "MG_ELEMENTAL",
    "MG_FLAGS",
    "MG_INTERACTIONS",
    "MG_RDA",
    "MG_RISK",
    "MG_TABLE",
    "MG_UL",
    "MG_WHY",
]

_INDEX = {column: i for i, column in enumerate(mg.COLUMNS)}
_BLANK_ROW = tuple("" for _ in mg.COLUMNS)
_ROW_DOC = "The patient's row, e.g. A2:Y2 (columns in the template's order, or give headers)."
_HEADERS_DOC = "Optional: the header cells for the row, e.g. A$1:Y$1, when the columns are not in the template's order."
_UNITS = "mmol/L, mg/dL or mEq/L"
_CACHE_ROWS = 10_000


# ---------------------------------------------------------------- shared machinery (not Excel functions)


def _safely(compute: Callable[..., Any], *args: Any) -> Any:
    """Run ``compute``; turn any exception into a ``#MG!`` text so Excel never shows a traceback, and a result that
    is not a finite number into one too."""
    try:
        result = compute(*args)
    except ArgumentError as error:
        return str(error)
    except Exception as error:  # a defect, not bad input: still a clear, distinct cell text (quoting no argument)
        return f"#MG! unexpected error ({type(error).__name__}: {shown(error)}); please report it"
    if isinstance(result, float) and not math.isfinite(result):
        return "#MG! the result is not a finite number; check the arguments"
    return result


@lru_cache(maxsize=256)
def _header_map(headers: tuple[str, ...]) -> mg.HeaderMap:
    return mg.map_headers(headers)


@lru_cache(maxsize=_CACHE_ROWS)
def _assessed(cells: tuple[Any, ...], headers: tuple[str, ...] | None, today: date,
              types: tuple[type, ...] = ()) -> tuple[Any, ...]:
    """The core's output columns for one row, as cell values (``today`` keys ages from dates of birth; ``types``
    keeps apart equal cells the core reads differently: TRUE and 1, Decimal('Infinity') and inf)."""
    # headers may repeat: the core reads the first column of a field and reports the others
    row = mg.assess(list(cells), headers=None if headers is None else list(headers)).row()
    return tuple(excel_value(row[column]) for column in mg.COLUMNS)


def _outputs(cells: Sequence[Any], headers: tuple[str, ...] | None) -> tuple[Any, ...]:
    """Output cells for one row of normalised cells; "" in every column for an empty row."""
    if all(cell is None for cell in cells):
        return _BLANK_ROW
    key = tuple(cells)
    try:
        hash(key)
    except Exception:  # a cell that cannot be hashed (a list, a signalling NaN): not memoised
        return _assessed.__wrapped__(key, headers, date.today())
    return _assessed(key, headers, date.today(), tuple(map(type, key)))


def _headers(headers: Any, width: int, name: str) -> tuple[str, ...] | None:
    if headers is None:
        return None
    rows = matrix(headers)
    cells = rows[0] if len(rows) == 1 else [r[0] for r in rows] if all(len(r) == 1 for r in rows) else None
    if cells is None:
        raise ArgumentError(f"headers must be one row of header cells, e.g. ={name}(A2:Y2, A$1:Y$1)")
    texts = tuple(header_text(cell) for cell in cells)
    if len(texts) != width:
        raise ArgumentError(f"the headers ({len(texts)} cells) and the row ({width} cells) differ in length; "
                            f"pass matching ranges, e.g. ={name}(A2:Y2, A$1:Y$1)")
    if not _header_map(texts).fields:
        raise ArgumentError("none of the headers names a patient field (e.g. Age, Sex, Serum Mg); "
                            "check the headers range")
    return texts


def _row_outputs(name: str, row: Any, headers: Any) -> tuple[Any, ...]:
    cells = row_cells(row, f"={name}(A2:Y2)")
    return _outputs(cells, _headers(headers, len(cells), name))


def _column(name: str, column: str, row: Any, headers: Any) -> Any:
    return _row_outputs(name, row, headers)[_INDEX[column]]


def _why(row: Any, headers: Any) -> str:
    out = _row_outputs("MG_WHY", row, headers)
    reasons, problems = out[_INDEX["mg_reasons"]], out[_INDEX["mg_input_problems"]]
    return fit_cell(f"{reasons} | Input problems: {problems}") if problems else reasons


def _flags(row: Any, headers: Any) -> list[list[Any]]:
    return [list(_row_outputs("MG_FLAGS", row, headers))]


def _table(table: Any) -> list[list[Any]]:
    rows = matrix(table)
    if len(rows[0]) < 2:
        raise ArgumentError("pass the whole table including its header row, e.g. =MG_TABLE(A1:Y501)")
    headers = tuple(header_text(cell) for cell in rows[0])
    hmap = _header_map(headers)
    if not hmap.fields:
        raise ArgumentError("the table's first row must be its header row (e.g. Age, Sex, Serum Mg); "
                            "none of its cells names a patient field; e.g. =MG_TABLE(A1:Y501)")
    if any(len(cells) != len(headers) for cells in rows[1:]):
        raise ArgumentError("the table's rows differ in length; pass a rectangular range")
    # only the columns the core reads are read (a field, a second column for one, a misspelt field's name); the
    # others only tell whether a row is empty
    read = {str(c) for c in (*hmap.fields.values(), *hmap.near_misses, *(c for c, _ in hmap.duplicates))}
    used = [k for k, h in enumerate(headers) if h in read]
    body = tuple(tuple([normalise(cells[k]) for k in used]) for cells in rows[1:])
    given = tuple(any(cell is not None for cell in cells) or _any_value(raw) for cells, raw in zip(body, rows[1:],
                                                                                                   strict=True))
    types = tuple(tuple(map(type, cells)) for cells in body)  # equal cells of other types read otherwise
    key = (body, tuple(headers[k] for k in used), given, date.today(), types)
    try:
        hash(key)
    except Exception:  # a cell that cannot be hashed: not memoised
        return [list(mg.COLUMNS), *_table_outputs.__wrapped__(*key)]
    return [list(mg.COLUMNS), *map(list, _table_outputs(*key))]  # fresh rows: the memoised ones stay as they are


def _any_value(cells: Sequence[Any]) -> bool:
    return any(normalise(cell) is not None for cell in cells)


@lru_cache(maxsize=8)
def _table_outputs(body: tuple[tuple[Any, ...], ...], headers: tuple[str, ...], given_rows: tuple[bool, ...],
                   today: date, types: tuple[tuple[type, ...], ...] = ()) -> list[list[Any]]:
    """The output rows of a table body, assessed column by column in one call (memoised for recalculation)."""
    hmap = _header_map(headers)
    given = [i for i, row in enumerate(given_rows) if row]
    picked = [body[i] for i in given]
    columns = list(zip(*picked, strict=True)) if picked else [() for _ in headers]
    # the core's table execution: a repeated header or a second column for a field read as in assess_frame
    found = mg.assess_columns(headers, columns, header_map=hmap, as_of=today).columns
    values = [list(map(excel_value, found[column].tolist())) for column in mg.COLUMNS]
    out = [list(_BLANK_ROW) for _ in body]
    for i, row in zip(given, zip(*values, strict=True), strict=True):
        out[i] = list(row)
    return out


def _age(value: Any, example: str) -> float:
    age = number(value, "age", example)
    if not 0 <= age <= 120:
        raise ArgumentError(f"age must be between 0 and 120 years, not {age:g}, e.g. {example}")
    return age


def _sex(value: Any) -> str | None:
    sex = text(value, "sex").upper()[:1]
    if sex and sex not in "FM":
        raise ArgumentError(f"sex must be F or M, not '{shown(text(value, 'sex'))}'")
    return sex or None


def _rda(age: Any, sex: Any, pregnant: Any, lactating: Any) -> Any:
    example = '=MG_RDA(52, "F")'
    years, who = _age(age, example), _sex(sex)
    rda = mg.rda_mg(years, who, flag(pregnant, "pregnant"), flag(lactating, "lactating"))
    if rda is None:
        raise ArgumentError(f"sex (F or M) is needed at age {years:g}, e.g. {example}")
    return rda


def _ul(age: Any) -> Any:
    ul = mg.ul_mg(_age(age, "=MG_UL(52)"))
    return "not established (under 1 year)" if ul is None else ul


def _convert(value: Any, from_unit: Any, to_unit: Any) -> float:
    example = '=MG_CONVERT(0.62, "mmol/L", "mg/dL")'
    amount = number(value, "value", example)
    if amount < 0:
        raise ArgumentError(f"value must not be negative, e.g. {example}")
    units = []
    for unit, what in ((from_unit, "from_unit"), (to_unit, "to_unit")):
        units.append(text(unit, what))
        if not units[-1]:
            raise ArgumentError(f"{what} is empty; use {_UNITS}, e.g. {example}")
    for unit in units:
        try:
            mg.convert_serum(1.0, unit, unit)
        except ValueError:
            raise ArgumentError(f"unknown serum magnesium unit: '{shown(unit)}'; use {_UNITS}") from None
    result = mg.convert_serum(amount, units[0], units[1])
    if not math.isfinite(result):
        raise ArgumentError(f"value {amount:g} is too large to convert, e.g. {example}")
    return result


def _elemental(form: Any, compound_mg: Any) -> float:
    example = '=MG_ELEMENTAL("oxide", 400)'
    name = text(form, "form")
    if not name:
        raise ArgumentError(f"form is empty; give the salt, e.g. {example}")
    amount = number(compound_mg, "compound_mg", example)
    if amount < 0:
        raise ArgumentError(f"compound_mg must not be negative, e.g. {example}")
    try:
        result = mg.elemental_mg(name, amount)
    except ValueError:
        known = ", ".join(sorted(k for k in mg.knowledge().dosing["elemental"] if k != "source"))
        raise ArgumentError(f"unknown magnesium form '{shown(name)}'; known forms: {known}") from None
    if not math.isfinite(result):
        raise ArgumentError(f"compound_mg {amount:g} is too large, e.g. {example}")
    return result


# ---------------------------------------------------------------- Excel functions


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_DECISION(row, headers=None):
    """The decision for one patient in a few plain words, first: give, measure first, refer or do not give. Supports, never replaces, clinical judgement. Example: =MG_DECISION(A2:Y2)"""  # noqa: E501
    return _safely(_column, "MG_DECISION", "mg_decision", row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_RISK(row, headers=None):
    """Magnesium deficiency risk for one patient: LOW, MODERATE, HIGH or UNKNOWN (not enough data). Supports, never replaces, clinical judgement. Example: =MG_RISK(A2:Y2)"""  # noqa: E501
    return _safely(_column, "MG_RISK", "mg_risk", row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_CONTRA(row, headers=None):
    """Contraindication to magnesium supplements for one patient (CONTRAINDICATED, CAUTION or NONE_FOUND), from kidney function, serum level and conditions. Example: =MG_CONTRA(A2:Y2)"""  # noqa: E501
    return _safely(_column, "MG_CONTRA", "mg_contraindication", row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_DOSE(row, headers=None):
    """Dose advice for one patient in one line: elemental mg/day range (or why not to supplement), upper limit, form and monitoring. Example: =MG_DOSE(A2:Y2)"""  # noqa: E501
    return _safely(_column, "MG_DOSE", "mg_dose", row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_INTERACTIONS(row, headers=None):
    """Drug interactions of magnesium with the patient's medications and what to do (e.g. separate doses); empty when none found. Example: =MG_INTERACTIONS(A2:Y2)"""  # noqa: E501
    return _safely(_column, "MG_INTERACTIONS", "mg_interactions", row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_WHY(row, headers=None):
    """Why: the reasons and sources behind the risk, contraindication and dose, then any input problems (cells not read and why). Example: =MG_WHY(A2:Y2)"""  # noqa: E501
    return _safely(_why, row, headers)


@func(category="Magnesium")
@arg("row", ndim=2, doc=_ROW_DOC)
@arg("headers", ndim=2, doc=_HEADERS_DOC)
def MG_FLAGS(row, headers=None):
    """All 11 outputs for one patient, spilling right: decision, risk, contraindication, dose status, min mg, max mg, dose, interactions, form, reasons, input problems. Example: =MG_FLAGS(A2:Y2)"""  # noqa: E501
    return _safely(_flags, row, headers)


@func(category="Magnesium")
@arg("table", ndim=2, doc="The whole patient table including its header row, e.g. A1:Y501. Empty rows stay empty.")
def MG_TABLE(table):
    """Outputs for a whole table, spilling: a header row, then one row of all 11 outputs per patient. The fast way for many patients. Example: =MG_TABLE(A1:Y501)"""  # noqa: E501
    return _safely(_table, table)


@func(category="Magnesium")
@arg("age", doc="Age in years (0.5 for 6 months).")
@arg("sex", doc="F or M (may be empty under 9 years).")
@arg("pregnant", doc="Optional: TRUE or yes if pregnant.")
@arg("lactating", doc="Optional: TRUE or yes if breastfeeding.")
def MG_RDA(age, sex, pregnant=False, lactating=False):
    """Recommended daily magnesium intake (RDA; AI under 1 year) in mg/day from all sources, food included. Example: =MG_RDA(52, "F")"""  # noqa: E501
    return _safely(_rda, age, sex, pregnant, lactating)


@func(category="Magnesium")
@arg("age", doc="Age in years.")
def MG_UL(age):
    """Upper limit of supplemental magnesium (supplements and medicines, not food) in mg/day for the age; text under 1 year, where none is set. Example: =MG_UL(52)"""  # noqa: E501
    return _safely(_ul, age)


@func(category="Magnesium")
@arg("value", doc="Serum magnesium value, e.g. 0.62")
@arg("from_unit", doc=f"Unit of the value: {_UNITS}.")
@arg("to_unit", doc=f"Unit wanted: {_UNITS}.")
def MG_CONVERT(value, from_unit, to_unit):
    """Serum magnesium in another unit (1 mmol/L = 2.4305 mg/dL = 2 mEq/L). Example: =MG_CONVERT(0.62, "mmol/L", "mg/dL")"""  # noqa: E501
    return _safely(_convert, value, from_unit, to_unit)


@func(category="Magnesium")
@arg("form", doc="The salt, e.g. oxide, citrate, glycinate, chloride, sulfate.")
@arg("compound_mg", doc="Weight of the salt in mg, as on the label, e.g. 400.")
def MG_ELEMENTAL(form, compound_mg):
    """Elemental magnesium in mg in a given weight of a magnesium salt. Example: =MG_ELEMENTAL("oxide", 400) gives 241.2"""  # noqa: E501
    return _safely(_elemental, form, compound_mg)
