"""Which row holds the headers, and checks on them that the core's header mapping cannot make.

- :func:`find_header_row`: the header is the row (among the first non-empty ones) that maps most columns to
  fields, so group labels above the headers are skipped; ``--header-row N`` names it instead. A header
  row that looks like patient data (numbers, dates) is refused: the first patient would be lost.
- :func:`check_map`: every ``--map`` header must exist (a column letter is not a header).
- :func:`shown_header`: a header is printed only when it does not look like data (no patient values in logs).
- :class:`ExtraProblems`: row problems found here (a column under a header merged across columns, a formula
  with no saved value), added to the row's ``mg_input_problems``. (A second column for a field is the core's.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mgdecision as mg

__all__ = ["SCAN_ROWS", "ExtraProblems", "check_map", "describe", "find_header_row", "looks_like_data",
           "shown_header"]

SCAN_ROWS = 10  # non-empty rows searched for the header row
SCORE_COLUMNS = 256  # columns looked at to tell the header row
_NUMBER = re.compile(r"\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)\s*(mmol/l|mg/dl|meq/l)?\s*", re.IGNORECASE)
_LETTERS = re.compile(r"[A-Z]{1,3}|[a-z]{1,3}")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def looks_like_data(value: Any) -> bool:
    """True for a header cell that looks like a patient value: a number, a date, TRUE/FALSE, "0.62 mmol/L"."""
    if isinstance(value, bool | int | float | dt.date | dt.datetime | dt.time):
        return True
    return isinstance(value, str) and _NUMBER.fullmatch(value) is not None


def shown_header(value: Any, index: int) -> str:
    """The header as it may be printed: a header that looks like data is named by its column only."""
    from .source import column_letter

    return f"column {column_letter(index)} (value not shown)" if looks_like_data(value) else str(value).strip()


def _score(row: Sequence[Any]) -> int:
    labels = [str(v).strip() for v in row[:SCORE_COLUMNS] if not _empty(v) and not looks_like_data(v)]
    return len(mg.map_headers(labels).fields) if labels else 0


def find_header_row(rows: Sequence[Sequence[Any]], header_row: int | None = None) -> int:
    """0-based index into ``rows`` (the sheet from its first row) of the header row.

    ``header_row`` (1-based, ``--header-row``) is taken as given. Otherwise the non-empty row among the first
    :data:`SCAN_ROWS` that maps most headers to fields (the first on a tie) is the header; a header row with
    cells that look like patient data is refused (:class:`mgdecision.UsageError`).
    """
    if header_row is not None:
        if header_row < 1:
            raise mg.UsageError("--header-row counts from 1 (the sheet's first row)")
        if header_row > len(rows) or all(_empty(v) for v in rows[header_row - 1]):
            raise mg.UsageError(f"--header-row {header_row}: that row is empty or beyond the end of the sheet")
        return header_row - 1
    candidates = [i for i, r in enumerate(rows) if any(not _empty(v) for v in r)][:SCAN_ROWS]
    if not candidates:
        raise mg.UsageError("the sheet is empty: no header row found")
    scores = [_score(rows[i]) for i in candidates]
    best = candidates[scores.index(max(scores))] if max(scores) > 0 else candidates[0]
    data_like = [j for j, v in enumerate(rows[best]) if looks_like_data(v)]
    if data_like:
        raise mg.UsageError(
            f"row {best + 1} is taken as the header row, but {len(data_like)} of its cells look like patient data "
            "(numbers or dates), so it may be the first patient. Add a header row above the patients, or give "
            "--header-row N for the row that holds the column headers")
    return best


def check_map(columns: Mapping[str, str], names: Sequence[str]) -> None:
    """Refuse a ``--map`` header that is not a header of the table (or that is a column letter)."""
    present = set(names)
    for header in columns:
        if header in present:
            continue
        hint = ""
        if _LETTERS.fullmatch(header):
            hint = (f" ({header!r} looks like a column letter: --map takes the header text as written in the "
                    "header row)")
        raise mg.UsageError(f"--map names a header that is not in the header row: {header!r}{hint}")


def describe(hmap: mg.HeaderMap, raw: Sequence[Any], names: Sequence[str]) -> str:
    """The mapping printout, without printing headers that look like data."""
    shown = {name: shown_header(value, j) for j, (name, value) in enumerate(zip(names, raw, strict=False))}
    lines = [f"  {shown.get(str(col), str(col))} -> {name}" + (f" ({hmap.units[name]})" if name in hmap.units else "")
             for name, col in hmap.fields.items()]
    if hmap.ignored:
        lines.append("  ignored: " + ", ".join(shown.get(str(c), str(c)) for c in hmap.ignored))
    return "\n".join(lines)


Line = tuple[str, str, str, str, str]  # column, field, value, reason code, message


@dataclass(frozen=True)
class ExtraProblems:
    """Row problems found by the batch reader, by data row index (picklable)."""

    formula: Mapping[int, tuple[Line, ...]] = field(default_factory=dict)
    merged: tuple[tuple[int, str, str], ...] = ()  # (column index, name, merged header) under a merged header

    def for_row(self, index: int, row: Sequence[Any]) -> list[Line]:
        lines = list(self.formula.get(index, ()))
        for j, name, merged in self.merged:
            value = row[j]
            if value is not None:
                lines.append((name, name, str(value), str(mg.ProblemCode.UNREADABLE),
                              f"this column sits under the merged header '{merged}' and was not used; unmerge the "
                              "header cells and give each column its own header"))
        return lines


def extra_problems(names: Sequence[str], formula: Mapping[int, tuple[Line, ...]],
                   merged: Mapping[int, str]) -> ExtraProblems:
    under = tuple((j, names[j], label) for j, label in merged.items())
    return ExtraProblems(dict(formula), under)
