"""One batch run: open the input, check and print the column mapping, flag every row, write the output.

:func:`assess_file` is what ``mgdecision assess`` calls; it returns a :class:`RunResult` and raises
:class:`mgdecision.UsageError` (usage) or :class:`~mgdecision.batch.io_safety.RefusedInput` (input).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

import mgdecision as mg

from .engine import Flagged, Tally, context, default_workers, flag_rows, missing_key_fields, worker_pool
from .headers import check_map, describe, extra_problems, shown_header
from .io_safety import RefusedInput, atomic_output, resolve_output
from .sheets import SheetContent, not_checked_lines, sources_sheet, summary_sheet
from .source import CALAMINE_SUFFIXES, EXCEL_SUFFIXES, FLAT_SUFFIXES, Table, open_flat, open_openpyxl, open_streaming
from .streaming import MAX_ROWS

MAX_COLUMNS = 16_384  # columns in one worksheet (A to XFD)
REVIEW_COLUMNS = 2  # clinician review columns written beside the output columns (Review, Review reason)

__all__ = ["MAX_COLUMNS", "STREAMING_THRESHOLD_BYTES", "RunOptions", "RunResult", "assess_file", "header_map"]

#: Above this input size (about 20,000 rows of a typical clinic sheet) streaming mode is used automatically.
STREAMING_THRESHOLD_BYTES = 1_000_000
OUTPUT_SUFFIXES = (".xlsx", ".csv", ".parquet")


@dataclass
class RunOptions:
    source: Path
    output: Path | None = None
    sheet: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    streaming: bool | None = None  # None: decide by size
    force: bool = False
    quiet: bool = False
    as_of: date | None = None
    workers: int | None = None  # assessment processes; None: automatic (none under 1 MB of input)
    header_row: int | None = None  # 1-based; None: found automatically


@dataclass
class RunResult:
    output: Path
    mode: str
    tally: Tally
    problems: int | None  # None when not counted (dask)
    not_checked: list[str] = field(default_factory=list)  # lines to read first: a list column no column gave


def _progress(rows: Iterable[Flagged], total: int, quiet: bool, err: TextIO) -> Iterable[Flagged]:
    if quiet or not err.isatty():
        return rows
    from tqdm import tqdm

    return tqdm(rows, total=total, unit=" rows", desc="flagging", file=err, mininterval=0.5)


def _counting(rows: Iterable[Flagged], box: list[int]) -> Iterable[Flagged]:
    for f in rows:
        box[0] += len(f.problems)
        yield f


def choose_mode(opts: RunOptions) -> str:
    suffix = opts.source.suffix.lower()
    if suffix in FLAT_SUFFIXES or suffix in CALAMINE_SUFFIXES:
        return "streaming"
    if opts.streaming is not None:
        return "streaming" if opts.streaming else "annotate"
    return "streaming" if opts.source.stat().st_size > STREAMING_THRESHOLD_BYTES else "annotate"


def _open(opts: RunOptions, mode: str) -> Table:
    suffix = opts.source.suffix.lower()
    if suffix in FLAT_SUFFIXES:
        return open_flat(opts.source, opts.header_row)
    if suffix in EXCEL_SUFFIXES and mode == "annotate":
        return open_openpyxl(opts.source, opts.sheet, opts.header_row)
    if suffix in EXCEL_SUFFIXES or suffix in CALAMINE_SUFFIXES:
        return open_streaming(opts.source, opts.sheet, opts.header_row)
    raise mg.UsageError(f"unsupported input type {suffix!r}; use .xlsx, .xlsm, .xls, .ods, .csv or .parquet")


def header_map(table: Table, columns: Mapping[str, str]) -> mg.HeaderMap:
    """Map the table's headers (``--map`` first, each naming a real header); refuse when nothing maps."""
    check_map(columns, table.names)
    hmap = mg.map_headers(table.names, columns or None)
    if not hmap.fields:
        shown = ", ".join(shown_header(v, table.first_col + j) for j, v in enumerate(table.raw_header or table.names))
        raise mg.UsageError(f"no column could be mapped to a patient field; headers were: {shown}. "
                            'Use --map "Header=field", or --header-row N if the headers are on another row.')
    return hmap


def check_width(table: Table, mode: str) -> None:
    """Refuse a sheet so wide that the output columns would not fit (the last column is XFD)."""
    if mode == "flat":
        return
    used = table.first_col + len(table.names)
    if mode == "annotate" and table.workbook is not None:
        used = max(used, table.workbook[table.sheet].max_column)
    if used + len(mg.COLUMNS) + REVIEW_COLUMNS > MAX_COLUMNS:
        raise RefusedInput(f"the sheet uses {used:,} columns; the {len(mg.COLUMNS) + REVIEW_COLUMNS} output columns "
                           f"do not fit beside them (a sheet has {MAX_COLUMNS:,}). Write CSV or Parquet "
                           "(-o NAME.csv), or remove unused columns")


def assess_file(opts: RunOptions, *, err: TextIO = sys.stderr) -> RunResult:
    """Flag every row of ``opts.source`` into a new file; the input is only read."""
    if opts.source.is_dir():
        raise mg.UsageError(f"{opts.source} is a folder; give one workbook or CSV file (e.g. {opts.source}/clinic.xlsx)"
                            "; --engine dask reads a Parquet folder")
    if not opts.source.is_file():
        raise RefusedInput(f"input not found: {opts.source}")
    requested = opts.output.suffix.lower() if opts.output else ".xlsx"
    if requested not in OUTPUT_SUFFIXES:
        raise mg.UsageError(f"unsupported output type {requested!r}; use .xlsx, .csv or .parquet")
    target = resolve_output(opts.source, opts.output, force=opts.force)
    mode = choose_mode(opts)
    if requested != ".xlsx":
        mode = "flat"
    workers = opts.workers if opts.workers is not None else default_workers(opts.source.stat().st_size)
    with worker_pool(workers) as pool:
        table = _open(opts, mode)
        check_width(table, mode)
        hmap = header_map(table, opts.columns)
        table.id_column = hmap.fields.get("patient_id")
        not_checked = not_checked_lines(hmap)
        for line in not_checked:  # first, before anything else is printed
            print(line, file=err)
        if not opts.quiet:
            print(f"Sheet {table.sheet!r}: header on row {table.header_row}, {table.n_rows} rows; column mapping:\n"
                  f"{describe(hmap, table.raw_header, table.names)}", file=err)
        for col, probable in hmap.near_misses.items():
            print(f"warning: column {col!s} is not used; did you mean {probable}? (use --map)", file=err)
        missing = missing_key_fields(hmap)
        if missing:
            print("warning: no column for " + ", ".join(missing) + "; flags that need them will be UNKNOWN or "
                  "limited", file=err)
        if mode != "flat" and table.header_row + table.n_rows > MAX_ROWS:
            raise mg.UsageError(f"{table.n_rows:,} rows do not fit in one worksheet; write CSV or Parquet "
                                "(-o NAME.csv)")
        if mode == "annotate":  # the kept workbook is made inert before anything is written into it
            from .neutralise import neutralise

            warning = neutralise(table.workbook, table.formula_cells).warning()
            if warning:
                print(warning, file=err)
        extra = extra_problems(table.names, table.formula_problems, table.merged)
        ctx = context(table, hmap, opts.columns, extra, opts.as_of, fit_cells=mode != "flat")
        tally = Tally()
        count = [0]
        flagged = flag_rows(table, ctx, tally, pool=pool, in_flight=workers + 1)
        rows = _counting(_progress(flagged, table.n_rows, opts.quiet, err), count)

        def sheets() -> list[SheetContent]:
            return [summary_sheet(tally, not_checked),
                    sources_sheet(input_name=opts.source.name, sheet=table.sheet, mode=mode, hmap=hmap)]

        with atomic_output(target, force=opts.force) as tmp:
            _write(mode, table, rows, sheets, tmp, requested)
    return RunResult(target, mode, tally, count[0], not_checked)


def _write(mode: str, table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], tmp: Path,
           suffix: str) -> None:
    if mode == "annotate":
        from .annotate import write_annotated

        write_annotated(table, rows, extra, tmp)
    elif mode == "streaming":
        from .streaming import write_streaming

        write_streaming(table, rows, extra, tmp)
    else:
        from .flat import write_flat

        write_flat(table, rows, tmp, suffix)


def report(result: RunResult, out: TextIO) -> None:
    """The closing printout: counts per level and where the output is."""
    t = result.tally
    for line in result.not_checked:  # the closing printout leads with it too
        print(line, file=out)
    listed = f" ({result.problems} problems)" if result.problems is not None else ""
    empty = f"; {t.empty_rows} empty rows left as they are (not patients)" if t.empty_rows else ""
    print(f"Flagged {t.rows} rows ({result.mode} mode); {t.rows_with_problems} rows with input problems{listed}"
          f"{empty}.", file=out)
    print(t.lines(), file=out)
    print(f"Output: {result.output}", file=out)
