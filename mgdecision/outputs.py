"""The output columns, declared once: name, type, width, wrapping, colouring and what each holds.

Every front-end reads this declaration (clinical-rules.md section 6): the column order of ``assess_frame``,
``Assessment.row()`` and ``MG_TABLE``, the dtypes of the dask and Parquet outputs, the widths and wrapping of
the batch workbook and the Excel template, the coloured cells of the accessor, the cohort table and the
workbook. Adding an output column means adding it here and giving it a value in ``Assessment.row_values``
and the column execution. Pure data: no front-end library is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "COLUMNS",
    "FAILURE_COLUMNS",
    "FLAG_COLUMNS",
    "HEADERS",
    "INTERACTION",
    "INTERACTION_COLUMNS",
    "LEVEL",
    "LEVELS",
    "LEVEL_COLUMNS",
    "NUMERIC_COLUMNS",
    "OUTPUTS",
    "OUTPUT_WIDTHS",
    "PROBLEM",
    "TEXT_COLUMNS",
    "VALUE_LABELS",
    "WRAP_COLUMNS",
    "Output",
    "column_of",
    "header",
    "machine_value",
    "plain",
]

REASONS_MAX: Final = 400  # characters of mg_reasons on a row (clinical-rules.md 9.9); the rest is on the cards
# How a column's cells are coloured with mgdecision.palette (the word is always shown too).
LEVEL: Final = "level"  # the cell's level word, palette.LEVELS
INTERACTION: Final = "interaction"  # palette.INDICATORS: "warning" when a major interaction is listed, else "info"
PROBLEM: Final = "problem"  # palette.INDICATORS["warning"] whenever the cell is not empty

Palette = Literal["level", "interaction", "problem"]


@dataclass(frozen=True, slots=True)
class Output:
    """One output column."""

    name: str
    dtype: Literal["text", "float"]  # float: NaN (blank) where not applicable; text: "" when empty
    width: int  # spreadsheet column width, in characters
    wrap: bool  # long text, wrapped in its cell
    palette: Palette | None  # how its cells are coloured, None for plain cells
    description: str
    levels: tuple[str, ...] = ()  # a level column: its words, lowest first (an ordered categorical in a DataFrame)


OUTPUTS: tuple[Output, ...] = (
    Output(
        "mg_decision",
        "text",
        40,
        True,
        None,
        "the decision in a few plain words, first: what to do next (give, measure first, refer, do not give)",
    ),
    Output(
        "mg_risk",
        "text",
        12,
        False,
        LEVEL,
        "deficiency risk: LOW, MODERATE, HIGH or UNKNOWN",
        ("UNKNOWN", "LOW", "MODERATE", "HIGH"),
    ),
    Output(
        "mg_contraindication",
        "text",
        21,
        False,
        LEVEL,
        "CONTRAINDICATED, CAUTION or NONE_FOUND",
        ("NONE_FOUND", "CAUTION", "CONTRAINDICATED"),
    ),
    Output(
        "mg_dose_status",
        "text",
        21,
        False,
        LEVEL,
        "RECOMMENDED, NOT_INDICATED, CHECK_SERUM, DO_NOT_SUPPLEMENT, PRESCRIBER_ONLY or REFER",
        ("NOT_INDICATED", "RECOMMENDED", "PRESCRIBER_ONLY", "CHECK_SERUM", "REFER", "DO_NOT_SUPPLEMENT"),
    ),
    Output("mg_dose_min_mg", "float", 16, False, None, "lower end of the dosing range, elemental mg/day"),
    Output("mg_dose_max_mg", "float", 16, False, None, "upper end of the dosing range, elemental mg/day"),
    Output("mg_dose", "text", 40, True, None, "the dose in one readable line, with the RDA and upper limit"),
    Output("mg_interactions", "text", 45, True, INTERACTION, "each interacting drug, its severity and the spacing"),
    Output("mg_form", "text", 40, True, None, "suggested form and timing"),
    Output(
        "mg_reasons",
        "text",
        90,
        True,
        None,
        f"the reasons behind every flag with their source labels (up to {REASONS_MAX} characters; in full on cards)",
    ),
    Output("mg_input_problems", "text", 40, True, PROBLEM, "what could not be read on this row (empty when clean)"),
)

COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.dtype == "float")
TEXT_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.dtype == "text")
LEVEL_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.palette == LEVEL)
FLAG_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.palette is not None)
WRAP_COLUMNS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.wrap)
OUTPUT_WIDTHS: dict[str, int] = {o.name: o.width for o in OUTPUTS}
LEVELS: dict[str, tuple[str, ...]] = {o.name: o.levels for o in OUTPUTS if o.levels}  # ordered, lowest first
# The long tables of assess_table: an interaction or an input problem per line, with the row it belongs to.
INTERACTION_COLUMNS = (
    "row",
    "patient_id",
    "drug",
    "as_written",
    "severity",
    "action",
    "before_h",
    "after_h",
    "sources",
)
FAILURE_COLUMNS = ("row", "patient_id", "column", "field", "value", "reason_code", "message")

# Plain words for people (the batch workbook, the app, the Excel sheet, the cards); the DataFrame, CSV/Parquet
# and the API keep the machine names above. A header is never a patient field's header (a re-read workbook
# must not take "Dose" for the supplement dose), and no two columns or values share a label.
HEADERS: dict[str, str] = {
    "mg_decision": "Decision",
    "mg_risk": "Risk",
    "mg_contraindication": "Contraindication",
    "mg_dose_status": "Dose decision",
    "mg_dose_min_mg": "Dose from (mg/day)",
    "mg_dose_max_mg": "Dose up to (mg/day)",
    "mg_dose": "Dose advice",
    "mg_interactions": "Interactions",
    "mg_form": "Form and timing",
    "mg_reasons": "Reasons",
    "mg_input_problems": "Input problems",
}
VALUE_LABELS: dict[str, str] = {  # every level and status word of the level columns
    "LOW": "Low",
    "MODERATE": "Moderate",
    "HIGH": "High",
    "UNKNOWN": "Unknown",
    "CONTRAINDICATED": "Contraindicated",
    "CAUTION": "Caution",
    "NONE_FOUND": "None found",
    "RECOMMENDED": "Recommended",
    "NOT_INDICATED": "Not indicated",
    "CHECK_SERUM": "Measure serum first",
    "DO_NOT_SUPPLEMENT": "Do not give",
    "PRESCRIBER_ONLY": "Prescriber only",
    "REFER": "Refer urgently",
}
_LEVEL_SET = frozenset(LEVEL_COLUMNS)
_MACHINE_VALUES = {label: value for value, label in VALUE_LABELS.items()}
_COLUMN_OF = {**{name: name for name in COLUMNS}, **{HEADERS[name]: name for name in COLUMNS if name in HEADERS}}


def header(column: str) -> str:
    """The plain header of an output column (its machine name when none is declared)."""
    return HEADERS.get(column, column)


def plain(column: str, value: object) -> object:
    """A cell as people read it: a level column's word becomes its label; anything else is unchanged."""
    if column in _LEVEL_SET and isinstance(value, str):
        return VALUE_LABELS.get(value, value)
    return value


def machine_value(column: str, shown: object) -> object:
    """The inverse of :func:`plain`: a level column's label back to its machine word."""
    if column in _LEVEL_SET and isinstance(shown, str):
        return _MACHINE_VALUES.get(shown, shown)
    return shown


def column_of(heading: object) -> str | None:
    """The output column a header names, by its machine name or its plain header; None for any other header."""
    return _COLUMN_OF.get(heading) if isinstance(heading, str) else None
