"""Turn the values an Excel runtime delivers into what the core reads, and results into what Excel shows.

Runtimes differ: classic xlwings gives floats, ``None`` for empty cells and ``datetime`` for date cells;
xlwings Lite gives ints or floats, ``None`` and serial numbers for dates; either may give a single cell,
a flat list or a list of rows. Everything the functions accept goes through this module, so every
function reads cells the same way. Bad arguments raise :class:`ArgumentError`, whose text starts with
``#MG!`` and says what to fix; the functions turn it into their result instead of letting it reach Excel.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "MAX_CELL_CHARS",
    "ArgumentError",
    "excel_value",
    "fit_cell",
    "flag",
    "header_text",
    "is_blank",
    "matrix",
    "normalise",
    "number",
    "row_cells",
    "shown",
    "single",
    "text",
]

MAX_CELL_CHARS = 32_767  # the most characters a cell holds: a longer result would show #VALUE!
SHOWN_CHARS = 40  # the most of an argument a message quotes
_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0"})
_PLAIN = frozenset({type(None), int, bool})


class ArgumentError(ValueError):
    """A function argument Excel cannot use; ``str(error)`` is the ``#MG!`` text for the cell."""

    def __init__(self, message: str) -> None:
        super().__init__("#MG! " + message)


def shown(value: Any) -> str:
    """An argument as a message quotes it: at most :data:`SHOWN_CHARS` characters of its text (never its whole)."""
    try:
        text = str(value).strip()
    except Exception:  # an argument whose text raises: described
        return f"a {type(value).__name__} value"
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def is_blank(value: Any) -> bool:
    """True for an empty cell: ``None``, empty or blank text, NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def normalise(value: Any) -> Any:
    """One cell as the core reads it: blank -> ``None``; numpy scalars -> Python values; the rest unchanged.

    Whole floats (52.0), booleans, ``datetime`` and serial-number dates, and numbers stored as text are
    passed on as they are: the core reads each of them for the field it belongs to.
    """
    kind = type(value)
    if kind is str:
        return value if value.strip() else None
    if kind is float:
        return None if value != value else value  # NaN is an empty cell
    if kind in _PLAIN:
        return value
    if hasattr(value, "item"):
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()  # numpy scalar
    return None if is_blank(value) else value


def matrix(value: Any) -> list[list[Any]]:
    """Any argument as a list of rows: a single value, a flat list (one row) or a list of rows."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy array
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        return [[value]]
    items = list(value)
    if items and all(isinstance(item, Sequence) and not isinstance(item, (str, bytes)) for item in items):
        return [list(item) for item in items]
    if any(isinstance(item, Sequence) and not isinstance(item, (str, bytes)) for item in items):
        raise ArgumentError("the range mixes single cells and rows; pass a rectangular range")
    return [items]


def row_cells(value: Any, example: str, what: str = "the patient's row") -> list[Any]:
    """One patient's cells from a row range (1xN), or from a column range (Nx1) holding one record.

    ``example`` is a formula shown in the message when ``value`` is not a row, e.g. ``=MG_RISK(A2:Y2)``.
    """
    rows = matrix(value)
    if len(rows) == 1:
        cells = rows[0]
    elif all(len(r) == 1 for r in rows):
        cells = [r[0] for r in rows]
    else:
        raise ArgumentError(f"pass one patient's row, not {len(rows)} rows; for a whole table use =MG_TABLE(A1:Y501)")
    if len(cells) < 2:
        raise ArgumentError(f"pass {what}, e.g. {example}")
    return [normalise(v) for v in cells]


def header_text(value: Any) -> str:
    """A header cell as text ("" for an empty cell; 2024.0 -> "2024")."""
    value = normalise(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    try:
        return str(value).strip()
    except Exception:  # a value of no text
        raise ArgumentError(f"a {type(value).__name__} value cannot be read as text") from None


def single(value: Any, what: str) -> Any:
    """The value of an argument that must be one cell (a 1x1 range is unwrapped)."""
    rows = matrix(value)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise ArgumentError(f"{what} must be a single cell or value")
    return normalise(rows[0][0])


def number(value: Any, what: str, example: str) -> float:
    """A number from a single cell; numbers stored as text ("52", "0,62") are read too."""
    value = single(value, what)
    if value is None:
        raise ArgumentError(f"{what} is empty; give a number, e.g. {example}")
    if isinstance(value, bool):
        raise ArgumentError(f"{what} must be a number, not TRUE/FALSE, e.g. {example}")
    try:
        result = float(value) if isinstance(value, (int, float)) else float(header_text(value).replace(",", "."))
    except OverflowError:  # 10**400
        raise ArgumentError(f"{what} is far too large ({shown(value)}), e.g. {example}") from None
    except ValueError:
        raise ArgumentError(f"{what} must be a number, not '{shown(value)}', e.g. {example}") from None
    if math.isnan(result) or math.isinf(result):
        raise ArgumentError(f"{what} must be a finite number, not '{shown(value)}', e.g. {example}")
    return result


def text(value: Any, what: str) -> str:
    """Text from a single cell ("" when empty)."""
    return header_text(single(value, what))


def flag(value: Any, what: str) -> bool:
    """A yes/no argument: empty is no; TRUE/FALSE, 1/0, yes/no, y/n and x are understood."""
    value = single(value, what)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    word = header_text(value).lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ArgumentError(f"{what} must be TRUE/FALSE or yes/no, not '{shown(value)}'")


def excel_value(value: Any) -> Any:
    """An output value as a cell shows it: ``None`` or NaN -> "" (an empty-looking cell, never 0); numbers as floats;
    a text longer than a cell holds cut, saying so."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_CELL_CHARS else fit_cell(value)
    if kind is bool:
        return value
    if kind is float:
        return value if value == value else ""  # NaN (no number) from the column path: empty, as from mg.assess
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return float(value)
    return fit_cell(str(value))


def fit_cell(text: str) -> str:
    """A text a cell holds: the whole, or its start and how long it was."""
    if len(text) <= MAX_CELL_CHARS:
        return text
    note = f" [cut: {len(text):,} characters, more than a cell holds; mgdecision assess writes the whole text]"
    return text[:MAX_CELL_CHARS - len(note)] + note
