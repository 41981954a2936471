"""Annotate mode keeps the user's workbook, so every live formula in it is made inert before it is saved.

- Formula cells on every sheet become their saved value (or, with none, the formula as text: nothing lost).
- Defined names, data-validation lists and conditional formats whose formulas could run code or reach
  outside the workbook (DDE ``cmd|...``, external ``[book]`` references, HYPERLINK, WEBSERVICE and any
  function outside a small list of plain ones) are removed, and counted for a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .io_safety import looks_like_formula

__all__ = ["SAFE_FUNCTIONS", "Removed", "is_inert", "neutralise", "put"]

_SAFE = """ABS AND AVERAGE AVERAGEIF CHOOSE COLUMN COLUMNS COUNT COUNTA COUNTBLANK COUNTIF COUNTIFS DATE DAY EXACT
FALSE FIND IF IFERROR INDEX ISBLANK ISERROR ISNUMBER ISTEXT LEFT LEN LOWER MATCH MAX MID MIN MOD MONTH NOT NOW OR
RIGHT ROUND ROW ROWS SEARCH SUM SUMIF TODAY TRIM TRUE UPPER VALUE WEEKDAY YEAR"""
SAFE_FUNCTIONS = frozenset(_SAFE.split())
_STRING = re.compile(r'"(?:[^"]|"")*"')
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(")


def put(cell: Any, value: Any) -> None:
    """Set a cell; text that looks like a formula stays text (``data_type 's'`` and a quote prefix)."""
    cell.value = value
    if isinstance(value, str) and (cell.data_type == "f" or looks_like_formula(value)):
        cell.data_type = "s"
        cell.quotePrefix = True


def is_inert(formula: Any) -> bool:
    """True for a formula that only refers to cells of this workbook and calls plain functions."""
    if formula is None:
        return True
    text = _STRING.sub('""', str(formula))
    if "|" in text or "[" in text:  # DDE (app|topic!item) or another workbook
        return False
    calls = {name.upper().removeprefix("_XLFN.").removeprefix("_XLWS.") for name in _CALL.findall(text)}
    return calls <= SAFE_FUNCTIONS


@dataclass
class Removed:
    names: int = 0
    validations: int = 0
    conditional_formats: int = 0
    cells: int = 0

    def warning(self) -> str | None:
        parts = [f"{n} {what}" for n, what in ((self.names, "defined name(s)"), (self.validations,
                 "data validation(s)"), (self.conditional_formats, "conditional format rule(s)")) if n]
        if not parts:
            return None
        return ("warning: removed " + ", ".join(parts) + " whose formulas could run code or reach outside the "
                "workbook (DDE, external links, HYPERLINK and similar)")


def neutralise(wb: Any, formula_cells: Mapping[tuple[str, int, int], tuple[Any, Any]]) -> Removed:
    """Make ``wb`` (openpyxl, loaded with formulas) inert: see the module docstring."""
    removed = Removed()
    for (title, r, c), (formula, saved) in formula_cells.items():
        put(wb[title].cell(r, c), formula if saved is None else saved)
        removed.cells += 1
    for scope in [wb, *wb.worksheets]:
        for name in [n for n, d in scope.defined_names.items() if not is_inert(d.value)]:
            del scope.defined_names[name]
            removed.names += 1
    for ws in wb.worksheets:
        dvs = ws.data_validations.dataValidation
        keep = [dv for dv in dvs if is_inert(dv.formula1) and is_inert(dv.formula2)]
        removed.validations += len(dvs) - len(keep)
        ws.data_validations.dataValidation = keep
        rules = ws.conditional_formatting._cf_rules
        for key in list(rules):
            kept = [rule for rule in rules[key] if all(is_inert(f) for f in (rule.formula or ()))]
            removed.conditional_formats += len(rules[key]) - len(kept)
            if kept:
                rules[key] = kept
            else:
                del rules[key]
    return removed
