"""Read the patient table of a workbook (or CSV/Parquet): header row, column names, data rows.

The header row is found by :func:`~mgdecision.batch.headers.find_header_row` (or given); every row below
it up to the last non-empty one is kept in place (none skipped, none reordered; empty rows are not
patients). Formula cells are never evaluated: their saved (cached) value is
used, and a formula without a saved value is reported as a problem on its row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from mgdecision import ProblemCode, UsageError

from .headers import SCAN_ROWS, Line, find_header_row
from .io_safety import RefusedInput, check_archive, require_defusedxml

__all__ = ["CALAMINE_SUFFIXES", "EXCEL_SUFFIXES", "FLAT_SUFFIXES", "LARGE_XLSX_BYTES", "Table", "column_letter",
           "open_flat", "open_openpyxl", "open_slices", "open_streaming"]

EXCEL_SUFFIXES = (".xlsx", ".xlsm")  # annotate or streaming
CALAMINE_SUFFIXES = (".xls", ".ods")  # streaming only (read by python-calamine)
FLAT_SUFFIXES = (".csv", ".parquet")
#: Above this uncompressed size (about 250,000 rows of a clinic sheet) an .xlsx is read slice by slice
#: (:mod:`~mgdecision.batch.xlsx_slices`): python-calamine holds a whole sheet in memory (1 GB at 1,000,000 rows).
LARGE_XLSX_BYTES = 100_000_000


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


def unique_names(labels: Sequence[Any], offset: int = 0) -> list[str]:
    """Column names for the frame: blank headers become ``Column C`` (the sheet column, ``offset`` being the first
    label's 0-based column); repeats get `` #2`` (left unmapped)."""
    names: list[str] = []
    seen: set[str] = set()
    for i, label in enumerate(labels):
        name = f"Column {column_letter(offset + i)}" if _empty(label) else str(label).strip()
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
    formula_problems: dict[int, tuple[Line, ...]] = field(default_factory=dict)  # data row index -> problems
    workbook: Any = None  # the openpyxl workbook (annotate mode only)
    raw_header: list[Any] = field(default_factory=list)  # header cells as read (for printing, masked)
    merged: dict[int, str] = field(default_factory=dict)  # column index -> merged header it sits under
    formula_cells: dict[tuple[str, int, int], tuple[Any, Any]] = field(default_factory=dict)  # annotate only
    id_column: str | None = None  # the column mapped to patient_id (set once the headers are mapped)

    def cell(self, row_index: int, col_index: int) -> str:
        return f"{column_letter(self.first_col + col_index)}{self.header_row + 1 + row_index}"


def _header_cells(raw: list[list[Any]], header_at: int, merged: Sequence[tuple[int, int, int, int]]
                  ) -> tuple[list[Any], dict[int, str]]:
    """The header row with vertically merged labels filled in, and the columns under a header merged across.

    ``merged`` holds 0-based (first row, first col, last row, last col) ranges."""
    header = list(raw[header_at])
    covered: dict[int, str] = {}
    for r0, c0, r1, c1 in merged:
        if not r0 <= header_at <= r1:
            continue
        label = raw[r0][c0] if r0 < len(raw) and c0 < len(raw[r0]) else None
        if c0 < len(header) and _empty(header[c0]):
            header[c0] = label
        for c in range(c0 + 1, c1 + 1):
            covered[c] = "" if label is None else str(label)
    while header and _empty(header[-1]):
        header.pop()
    return header, covered


def _given_span(row: Sequence[Any], first: int, end: int) -> tuple[int, int]:
    """(``first``, ``end``) widened to the row's first and past its last non-empty cell."""
    k = len(row)
    while k > end and _empty(row[k - 1]):
        k -= 1
    end = max(end, k)
    k = 0
    while k < first and k < len(row) and _empty(row[k]):
        k += 1
    return min(first, k), end


def _span(header: Sequence[Any], rows: Iterable[Sequence[Any]], box: int | None = None) -> tuple[int, int]:
    """The table's columns (first, end): the header's, widened to every column holding a value in ``rows``.

    A column is never dropped for a blank header cell, at either side of the headers. With ``box`` (the width
    every row is known to have) the look stops as soon as the span covers it."""
    first = next(j for j, v in enumerate(header) if not _empty(v))
    end = len(header)
    for row in rows:
        if box is not None and first == 0 and end >= box:
            break
        first, end = _given_span(row, first, end)
    return first, end


def _data_rows(raw: list[list[Any]], header_at: int) -> list[list[Any]]:
    last = len(raw)
    while last > header_at + 1 and all(_empty(v) for v in raw[last - 1]):
        last -= 1
    return raw[header_at + 1:last]


def _pick_sheet(names: Sequence[str], wanted: str | None) -> str:
    if wanted is None:
        return names[0]
    if wanted not in names:
        raise UsageError(f"no sheet named {wanted!r}; sheets are: {', '.join(names)}")
    return wanted


def _fit(row: Sequence[Any], width: int) -> list[Any]:
    row = list(row[:width])
    return row + [None] * (width - len(row))


def _covered(covered: dict[int, str], first: int, width: int, names: list[str]) -> dict[int, str]:
    return {c - first: label for c, label in covered.items() if 0 <= c - first < width and names}


def _workbook_error(path: Path, exc: Exception) -> RefusedInput:
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return RefusedInput(f"{path.name} is password protected (encrypted); save an unprotected copy and run on it")
    return RefusedInput(f"{path.name} could not be read as a workbook ({type(exc).__name__}: {exc})")


def open_openpyxl(path: Path, sheet: str | None, header_row: int | None = None) -> Table:
    """Load the whole workbook with openpyxl (kept for annotate mode) and read its patient table."""
    require_defusedxml()
    check_archive(path)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, keep_links=False, keep_vba=False, rich_text=False)
    except Exception as exc:  # openpyxl raises many types on damaged files
        raise _workbook_error(path, exc) from exc
    ws = wb[_pick_sheet(wb.sheetnames, sheet)]
    formula_cells = formula_values(path, wb)
    values = [[c.value for c in r] for r in ws.iter_rows(values_only=False)]
    formulas = {(r - 1, c - 1): raw for (title, r, c), (raw, _) in formula_cells.items() if title == ws.title}
    for (i, j) in formulas:
        values[i][j] = formula_cells[ws.title, i + 1, j + 1][1]
    header_at = find_header_row(values, header_row)
    merged = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1) for m in ws.merged_cells.ranges]
    header, covered = _header_cells(values, header_at, merged)
    data = _data_rows(values, header_at)
    if not any(not _empty(v) for v in header):
        raise UsageError("the sheet is empty: no header row found")
    first_col, end = _span(header, data)
    width = end - first_col
    header = _fit(header, end)
    names = unique_names(header[first_col:], first_col)
    table = Table(ws.title, names, header_at + 1, first_col,
                  iter([_fit(r[first_col:], width) for r in data]), len(data), workbook=wb,
                  raw_header=header[first_col:], merged=_covered(covered, first_col, width, names))
    table.formula_cells = formula_cells
    for (i, j), raw in sorted(formulas.items()):
        k, col = i - header_at - 1, j - first_col
        if 0 <= k < len(data) and 0 <= col < width and values[i][j] is None:
            line = (names[col], names[col], str(raw), str(ProblemCode.UNREADABLE),
                    f"cell {table.cell(k, col)} holds a formula with no saved value; it was not evaluated "
                    "(open and save the workbook in Excel, or paste values)")
            table.formula_problems[k] = (*table.formula_problems.get(k, ()), line)
    return table


def formula_values(path: Path, wb: Any) -> dict[tuple[str, int, int], tuple[Any, Any]]:
    """Every formula cell of every sheet: (sheet, row, col) -> (formula as written, saved value or None).

    The saved values come from a second, read-only pass; nothing is evaluated."""
    import openpyxl

    found: dict[tuple[str, int, int], tuple[Any, Any]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    raw = c.value
                    text = getattr(raw, "text", raw)  # ArrayFormula / DataTableFormula
                    found[ws.title, c.row, c.column] = (text if isinstance(text, str) else str(raw), None)
    if found:
        cached = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
        titles = {t for t, _, _ in found}
        for title in titles:
            for r, row in enumerate(cached[title].iter_rows(values_only=True), start=1):
                for c, v in enumerate(row, start=1):
                    key = (title, r, c)
                    if key in found and v is not None:
                        found[key] = (found[key][0], v)
        cached.close()
    return found


def open_streaming(path: Path, sheet: str | None, header_row: int | None = None) -> Table:
    """The reader of streaming mode: python-calamine, slice by slice for very large .xlsx/.xlsm.

    The archive is checked for zip bombs here, once, before either reader parses anything."""
    suffix = path.suffix.lower()
    size = check_archive(path) if suffix != ".xls" else 0  # .xls is not a zip archive
    if suffix in EXCEL_SUFFIXES and size > LARGE_XLSX_BYTES:
        return open_slices(path, sheet, header_row)
    return open_calamine(path, sheet, header_row)


def _head(rows: Iterator[Sequence[Any]], header_row: int | None) -> list[list[Any]]:
    """The sheet's first rows: up to the ``header_row`` or the :data:`SCAN_ROWS` non-empty rows searched."""
    head: list[list[Any]] = []
    non_empty = 0
    for r in rows:
        head.append([None if isinstance(v, str) and v == "" else v for v in r])
        non_empty += any(not _empty(v) for v in r)
        if (header_row is not None and len(head) >= header_row) or (header_row is None and non_empty >= SCAN_ROWS):
            break
    return head


def _stream(head: list[list[Any]], rows: Iterator[Sequence[Any]], header_at: int, first: int, width: int,
            blank: Any) -> Iterator[list[Any]]:
    """Data rows after the header (buffered head first); empty rows only when a non-empty row follows."""
    pending = 0

    def emit(r: Sequence[Any]) -> Iterator[list[Any]]:
        nonlocal pending
        cells = _fit(r[first:], width)
        gaps = cells.count("")  # list.count in C: the readers give plain str, float, int, bool, date values
        if gaps + cells.count(None) + (cells.count(blank) if blank != "" else 0) == width:
            pending += 1
            return
        for _ in range(pending):
            yield [None] * width
        pending = 0
        yield [None if isinstance(v, str) and not v else v for v in cells] if gaps else cells

    for buffered in head[header_at + 1:]:
        yield from emit(buffered)
    for row in rows:
        yield from emit(row)


def open_slices(path: Path, sheet: str | None, header_row: int | None = None) -> Table:
    """Read a very large sheet slice by slice (python-calamine on each slice: bounded memory, Rust speed).

    Reached through :func:`open_streaming`, which has checked the archive."""
    from .xlsx_slices import SheetSlices

    try:
        book = SheetSlices(path, sheet)
        rows = book.rows()
        head = _head(rows, header_row)
    except (UsageError, RefusedInput):
        raise
    except Exception as exc:
        raise _workbook_error(path, exc) from exc
    header_at = find_header_row(head, header_row)
    header, _ = _header_cells(head, header_at, ())
    # the sheet is read once: its columns are the ones it declares, else those of the first rows
    declared = [[""] * book.columns[0] + ["x"] * (book.columns[1] - book.columns[0] + 1)] if book.columns else []
    first, end = _span(header, [*head[header_at + 1:], *declared])
    width = end - first
    header = _fit(header, end)

    def data() -> Iterator[list[Any]]:
        yield from _stream(head, rows, header_at, first, width, "")
        book.close()

    n_rows = max(int(path.stat().st_size // 55) - header_at, 0)  # an estimate, for the progress bar only
    return Table(book.name, unique_names(header[first:], first), header_at + 1, first, data(), n_rows,
                 raw_header=header[first:])


def open_calamine(path: Path, sheet: str | None, header_row: int | None = None) -> Table:
    """Read the patient table with python-calamine (saved values of formula cells; nothing evaluated).

    Reached through :func:`open_streaming`, which has checked the archive. Rows come from the first
    sheet row; columns from the first used column (``ws.start``)."""
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
        ws = wb.get_sheet_by_name(_pick_sheet(wb.sheet_names, sheet))
        rows = ws.iter_rows()
        head = _head(rows, header_row)
        merged_ranges = ws.merged_cell_ranges or []
    except UsageError:
        raise
    except Exception as exc:
        raise _workbook_error(path, exc) from exc
    c0 = ws.start[1] if ws.start else 0
    header_at = find_header_row(head, header_row)
    merged = [(r0, a - c0, r1, b - c0) for (r0, a), (r1, b) in merged_ranges]
    header, covered = _header_cells(head, header_at, merged)
    if not any(not _empty(v) for v in header):
        raise UsageError("the sheet is empty: no header row found")
    box = len(head[header_at])  # every row spans the sheet's used columns
    # the used columns beyond the headers' hold a value above the headers or below them: look (a second pass)
    first, end = _span(header, islice(ws.iter_rows(), header_at + 1, None), box) if \
        _empty(header[0]) or len(header) < box else (0, box)
    width = end - first
    header = _fit(header, end)
    n_rows = max(ws.end[0] - header_at, 0) if ws.end else 0
    names = unique_names(header[first:], c0 + first)
    return Table(ws.name, names, header_at + 1, c0 + first, _stream(head, rows, header_at, first, width, ""),
                 n_rows, raw_header=header[first:], merged=_covered(covered, first, width, names))


def sniff_delimiter(path: Path) -> str:
    """The CSV field separator: comma, semicolon, tab or pipe, from the first 64 KB."""
    import csv

    sample = path.open("r", encoding="utf-8", errors="replace", newline="").read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sample.split("\n", 1)[0].count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _csv_records(path: Path) -> list[list[str]]:
    """Every record of a CSV file as read (fields as text, records of any length; quoted line breaks kept)."""
    import csv

    sep = sniff_delimiter(path)
    limit = csv.field_size_limit(2**31 - 1)  # a field as long as the file (the default stops at 128 KB)
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
            return list(csv.reader(fh, delimiter=sep))
    finally:
        csv.field_size_limit(limit)


def open_flat(path: Path, header_row: int | None = None) -> Table:
    """CSV (delimiter detected; every value read as text) or Parquet, through pandas."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            values = _csv_records(path)
            head = [[None if _empty(v) else v for v in r] for r in values[:max(SCAN_ROWS, header_row or 0) * 2]]
            header_at = find_header_row(head, header_row)
            header = list(values[header_at])
            while header and _empty(header[-1]):
                header.pop()
            data = _data_rows(values, header_at)
            first, end = _span(header, data)  # a record longer than the header keeps its extra fields
            header = _fit(header, end)[first:]
            width = end - first
            names = unique_names(header, first)
            rows = ([None if _empty(v) else v for v in _fit(r[first:], width)] for r in data)
            return Table(path.stem, names, header_at + 1, first, rows, len(data), raw_header=header)
        df = pd.read_parquet(path)
    except (UsageError, RefusedInput):
        raise
    except Exception as exc:
        raise RefusedInput(f"{path.name} could not be read ({type(exc).__name__}: {exc})") from exc
    names = unique_names(list(df.columns))
    rows = ([None if _empty(v) or (isinstance(v, float) and v != v) else v for v in r]
            for r in df.itertuples(index=False, name=None))
    return Table(path.stem, names, 1, 0, rows, len(df), raw_header=list(df.columns))


def to_naive(value: Any) -> Any:
    """Excel has no time zones: drop tzinfo from datetimes."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value
