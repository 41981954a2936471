"""Read the patient table of a workbook (or CSV/Parquet): header row, column names, data rows.

The header is the first non-empty row; every row below it up to the last non-empty one is a patient
row (none skipped, none reordered). Formula cells are never evaluated: their saved (cached) value is
used, and a formula without a saved value is reported as a problem on its row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgdecision import Problem, ProblemCode, UsageError

from .io_safety import RefusedInput, check_archive, require_defusedxml

__all__ = ["CALAMINE_SUFFIXES", "EXCEL_SUFFIXES", "FLAT_SUFFIXES", "LARGE_XLSX_BYTES", "Table", "column_letter",
           "open_flat", "open_openpyxl", "open_streaming"]

EXCEL_SUFFIXES = (".xlsx", ".xlsm")  # annotate or streaming
CALAMINE_SUFFIXES = (".xls", ".ods")  # streaming only (read by python-calamine)
FLAT_SUFFIXES = (".csv", ".parquet")
#: Above this uncompressed size (about 500,000 rows of a clinic sheet) an .xlsx is read row by row with
#: openpyxl's read-only mode: python-calamine holds the whole sheet in memory (about 1 GB at 1,000,000 rows).
LARGE_XLSX_BYTES = 200_000_000


def column_letter(index: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def unique_names(labels: Sequence[Any]) -> list[str]:
    """Column names for the frame: blank headers become ``Column C``; repeats get `` #2`` (left unmapped)."""
    names: list[str] = []
    seen: set[str] = set()
    for i, label in enumerate(labels):
        name = f"Column {column_letter(i)}" if _empty(label) else str(label).strip()
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base} #{n}"
        seen.add(name)
        names.append(name)
    return names


@dataclass
class Table:
    """One patient table. ``rows`` is consumed once; each row has ``len(names)`` values."""

    sheet: str
    names: list[str]  # frame column names (header text, made unique)
    header_row: int  # 1-based spreadsheet row of the header
    first_col: int  # 0-based spreadsheet column of the first header cell
    rows: Iterator[list[Any]]
    n_rows: int
    formula_problems: dict[int, list[Problem]] = field(default_factory=dict)  # data row index -> problems
    workbook: Any = None  # the openpyxl workbook (annotate mode only)

    def cell(self, row_index: int, col_index: int) -> str:
        return f"{column_letter(self.first_col + col_index)}{self.header_row + 1 + row_index}"


def _trim(raw: list[list[Any]]) -> tuple[int, list[Any], list[list[Any]]]:
    """(header row index, header values, data rows) from a sheet's rows."""
    header_at = next((i for i, r in enumerate(raw) if any(not _empty(v) for v in r)), None)
    if header_at is None:
        raise UsageError("the sheet is empty: no header row found")
    last = len(raw)
    while last > header_at + 1 and all(_empty(v) for v in raw[last - 1]):
        last -= 1
    header = list(raw[header_at])
    while header and _empty(header[-1]):
        header.pop()
    return header_at, header, raw[header_at + 1:last]


def _pick_sheet(names: Sequence[str], wanted: str | None) -> str:
    if wanted is None:
        return names[0]
    if wanted not in names:
        raise UsageError(f"no sheet named {wanted!r}; sheets are: {', '.join(names)}")
    return wanted


def _fit(row: Sequence[Any], width: int) -> list[Any]:
    row = list(row[:width])
    return row + [None] * (width - len(row))


def open_openpyxl(path: Path, sheet: str | None) -> Table:
    """Load the whole workbook with openpyxl (kept for annotate mode) and read its patient table."""
    require_defusedxml()
    check_archive(path)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, keep_links=False, keep_vba=False, rich_text=False)
    except Exception as exc:  # openpyxl raises many types on damaged files
        raise RefusedInput(f"{path.name} could not be read as a workbook ({type(exc).__name__}: {exc})") from exc
    ws = wb[_pick_sheet(wb.sheetnames, sheet)]
    raw = [list(r) for r in ws.iter_rows(values_only=False)]
    formulas = {(i, j) for i, r in enumerate(raw) for j, c in enumerate(r) if c.data_type == "f"}
    values = [[c.value for c in r] for r in raw]
    if formulas:  # saved values of formula cells, from a second read-only pass; never evaluated
        cached = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
        for i, r in enumerate(cached[ws.title].iter_rows(values_only=True)):
            for j, v in enumerate(r):
                if (i, j) in formulas:
                    values[i][j] = v
        cached.close()
    header_at, header, data = _trim(values)
    first_col = next(j for j, v in enumerate(header) if not _empty(v))
    width = len(header) - first_col
    table = Table(ws.title, unique_names(header[first_col:]), header_at + 1, first_col,
                  iter([_fit(r[first_col:], width) for r in data]), len(data), workbook=wb)
    for i, j in sorted(formulas):
        k, col = i - header_at - 1, j - first_col
        if 0 <= k < len(data) and 0 <= col < width and values[i][j] is None:
            table.formula_problems.setdefault(k, []).append(Problem(
                table.names[col], str(raw[i][j].value), ProblemCode.UNREADABLE,
                f"cell {table.cell(k, col)} holds a formula with no saved value; it was not evaluated "
                "(open and save the workbook in Excel, or paste values)"))
    return table


def open_streaming(path: Path, sheet: str | None) -> Table:
    """The reader of streaming mode: python-calamine, or openpyxl row by row for very large .xlsx/.xlsm.

    The archive is checked for zip bombs here, once, before either reader parses anything."""
    suffix = path.suffix.lower()
    size = check_archive(path) if suffix != ".xls" else 0  # .xls is not a zip archive
    if suffix in EXCEL_SUFFIXES and size > LARGE_XLSX_BYTES:
        return open_openpyxl_rows(path, sheet)
    return open_calamine(path, sheet)


def open_openpyxl_rows(path: Path, sheet: str | None) -> Table:
    """Read the patient table row by row (openpyxl read-only: bounded memory; saved values, nothing evaluated).

    Reached through :func:`open_streaming`, which has checked the archive."""
    require_defusedxml()
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
        ws = wb[_pick_sheet(wb.sheetnames, sheet)]
        rows = ws.iter_rows(values_only=True)
        header_at, header = 0, None
        for r in rows:
            if any(not _empty(v) for v in r):
                header = list(r)
                break
            header_at += 1
    except UsageError:
        raise
    except Exception as exc:  # openpyxl raises many types on damaged files
        raise RefusedInput(f"{path.name} could not be read as a workbook ({type(exc).__name__}: {exc})") from exc
    while header and _empty(header[-1]):
        header.pop()
    if not header:
        raise UsageError("the sheet is empty: no header row found")
    first = next(j for j, v in enumerate(header) if not _empty(v))
    width = len(header) - first
    n_rows = max((ws.max_row or 0) - header_at - 1, 0)

    def data() -> Iterator[list[Any]]:
        pending = 0  # empty rows are emitted only when a non-empty row follows
        for r in rows:
            cells = _fit(r[first:], width)
            if all(v is None or v == "" for v in cells):  # as in the calamine reader: whitespace is kept
                pending += 1
                continue
            for _ in range(pending):
                yield [None] * width
            pending = 0
            yield [None if isinstance(v, str) and not v else v for v in cells]
        wb.close()

    return Table(ws.title, unique_names(header[first:]), header_at + 1, first, data(), n_rows)


def open_calamine(path: Path, sheet: str | None) -> Table:
    """Read the patient table with python-calamine (saved values of formula cells; nothing evaluated).

    Reached through :func:`open_streaming`, which has checked the archive."""
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
        ws = wb.get_sheet_by_name(_pick_sheet(wb.sheet_names, sheet))
        rows = ws.iter_rows()
    except Exception as exc:
        raise RefusedInput(f"{path.name} could not be read as a workbook ({type(exc).__name__}: {exc})") from exc
    header_at = ws.start[0] if ws.start else 0
    for _ in range(header_at):
        next(rows)
    header = list(next(rows, []))
    while header and _empty(header[-1]):
        header.pop()
    if not header:
        raise UsageError("the sheet is empty: no header row found")
    first = ws.start[1] if ws.start else 0
    width = len(header)
    n_rows = max(ws.end[0] - header_at, 0) if ws.end else 0

    def data() -> Iterator[list[Any]]:
        pending = 0  # empty rows are emitted only when a non-empty row follows
        for r in rows:
            if not any(v != "" for v in r):
                pending += 1
                continue
            for _ in range(pending):
                yield [None] * width
            pending = 0
            yield [None if v == "" else v for v in (r if len(r) == width else _fit(r, width))]

    return Table(ws.name, unique_names(header), header_at + 1, first, data(), n_rows)


def open_flat(path: Path) -> Table:
    """CSV (every value read as text) or Parquet, through pandas."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=object, keep_default_na=False, encoding_errors="replace")
        else:
            df = pd.read_parquet(path)
    except Exception as exc:
        raise RefusedInput(f"{path.name} could not be read ({type(exc).__name__}: {exc})") from exc
    names = unique_names(list(df.columns))
    rows = ([None if _empty(v) or (isinstance(v, float) and v != v) else v for v in r]
            for r in df.itertuples(index=False, name=None))
    return Table(path.stem, names, 1, 0, rows, len(df))


def to_naive(value: Any) -> Any:
    """Excel has no time zones: drop tzinfo from datetimes."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value
