"""Run every row of a :class:`~mgdecision.batch.source.Table` through the core's column engine, chunk by chunk.

Each chunk is one :func:`mgdecision.assess_table` call (the column engine): the output columns, the problem
lines of the "Input problems" sheet and the interactions counted on the summary come from its records, the
Reasons sheet from every row's reasons in full; nothing is read back from an output text. No clinical rule
lives here. Rows come back in input order, none skipped;
empty rows are not patients (no flags, not counted) but keep their place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

import mgdecision as mg
from mgdecision.outputs import LEVEL_COLUMNS, NUMERIC_COLUMNS, TEXT_COLUMNS, VALUE_LABELS, header

from .cell_limits import MAX_CELL_CHARS, fit_cell, safe_text
from .headers import ExtraProblems
from .interrupts import ignore_in_worker, quiet_workers
from .source import Table, column_letter

__all__ = ["CHUNK_ROWS", "KEY_FIELDS", "MAX_CELL_CHARS", "Flagged", "ProblemLine", "Tally", "default_workers",
           "flag_rows", "worker_pool"]

CHUNK_ROWS = 20_000
PARALLEL_MIN_BYTES = 1_000_000  # smaller inputs: worker processes cost more than they save
CUT_CODE = "text_cut"  # batch-level reason code: a text longer than a cell holds
_CELL_TYPES = (str, int, float, bool, type(None))  # values every writer writes as they are (and dates, below)
KEY_FIELDS = {"serum_mg": "serum magnesium", "egfr": "eGFR", "medications": "medications", "diagnoses": "diagnoses"}


@dataclass(frozen=True, slots=True)
class ProblemLine:
    """One line of the "Input problems" sheet."""

    row: int  # spreadsheet row number
    cell: str
    patient_id: str
    column: str
    field: str
    value: str
    reason_code: str
    message: str

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # a plain tuple between processes (not per-field setattr)
        return ProblemLine, (self.row, self.cell, self.patient_id, self.column, self.field, self.value,
                             self.reason_code, self.message)


@dataclass(slots=True)
class Flagged:
    index: int  # 0-based data row
    values: list[Any]  # the input row
    output: list[Any] | None  # the output columns, in mg.COLUMNS order; None for an empty row (not a patient)
    problems: list[ProblemLine]
    height: float | None = None  # the row height its output texts need (:func:`~mgdecision.batch.sheets.row_height`)
    reasons: str = ""  # the row's reasons in full (the output's reasons cell is capped): the Reasons sheet


@dataclass
class Tally:
    """Counts for the "Summary" sheet and the closing printout."""

    rows: int = 0
    risk: Counter[str] = field(default_factory=Counter)
    contraindication: Counter[str] = field(default_factory=Counter)
    dose_status: Counter[str] = field(default_factory=Counter)
    interactions: Counter[str] = field(default_factory=Counter)
    unrecognized: Counter[str] = field(default_factory=Counter)
    problem_codes: Counter[str] = field(default_factory=Counter)
    rows_with_problems: int = 0
    empty_rows: int = 0

    def merge(self, other: Tally) -> None:
        self.rows += other.rows
        self.rows_with_problems += other.rows_with_problems
        self.empty_rows += other.empty_rows
        for name in ("risk", "contraindication", "dose_status", "interactions", "unrecognized", "problem_codes"):
            getattr(self, name).update(getattr(other, name))

    def levels(self) -> list[tuple[str, Counter[str], list[str]]]:
        """(output column, counts, every level in order) for each level column."""
        return [("mg_risk", self.risk, [v.value for v in mg.RiskLevel]),
                ("mg_contraindication", self.contraindication, [v.value for v in mg.ContraLevel]),
                ("mg_dose_status", self.dose_status, [v.value for v in mg.DoseStatus])]

    def lines(self) -> str:
        """The closing printout: one line per level column, in plain words."""
        return "\n".join(f"  {header(column)}: " + ", ".join(f"{VALUE_LABELS.get(lvl, lvl)} {counts[lvl]}"
                                                             for lvl in order)
                         for column, counts, order in self.levels())


def missing_key_fields(hmap: mg.HeaderMap) -> list[str]:
    return [label for name, label in KEY_FIELDS.items() if name not in hmap.fields]


@dataclass
class ChunkResult:
    """One assessed chunk: output rows (None for empty rows), problem lines by row offset, counts."""

    outputs: list[list[Any] | None]
    problems: dict[int, list[ProblemLine]]
    tally: Tally
    cut: list[int] = field(default_factory=list)  # row offsets whose input texts were cut to fit a cell
    heights: list[float | None] = field(default_factory=list)  # row heights (None: default), by row offset
    reasons: list[str | None] = field(default_factory=list)  # every row's reasons in full, by row offset


@dataclass(frozen=True)
class Context:
    """What every chunk needs (picklable, sent to worker processes)."""

    names: tuple[str, ...]
    columns: Mapping[str, str]  # --map overrides
    hmap: mg.HeaderMap
    extra: ExtraProblems
    header_row: int
    first_col: int
    as_of: date | None
    fit_cells: bool = True  # a spreadsheet is written: every text must fit a cell (CSV and Parquet hold any length)


def _cut(text: str, where: str) -> str:
    return fit_cell(text, f"the full text is on the Input problems sheet, {where}")


def _input_value(value: Any, row: int) -> Any:
    """An input value as the output sheet holds it: text longer than a cell is cut (its full text is on the
    Input problems sheet), and a value of no spreadsheet type is written as its text."""
    if type(value) not in _CELL_TYPES and not isinstance(value, dt.date | dt.time | int | float):
        value = safe_text(value)
    if type(value) is str and len(value) > MAX_CELL_CHARS:
        return _cut(value, f"row {row}")
    return value


def _problems_cell(text: str, lines: list[ProblemLine], row: int) -> str:
    """The row's ``mg_input_problems`` when a cell cannot hold it: every problem still named with its field and
    reason code; the longest messages are shortened first, and with very many problems the last ones are counted
    by field and reason code."""
    note = f" [cut: {len(text):,} characters; the full text is on the Input problems sheet, row {row}]"
    room = MAX_CELL_CHARS - len(note)
    parts: dict[str, tuple[str, str]] = {}  # each distinct problem once
    for line in lines:
        message = line.message if line.reason_code != CUT_CODE else "longer than a cell holds"
        parts.setdefault(f"{line.field} ({line.reason_code}): {message}", (line.field, line.reason_code))
    texts = list(parts)
    longest = _common_length([len(t) for t in texts], room - 2 * len(texts))
    if longest >= 60:  # every problem with the start of its message
        return "; ".join(t if len(t) <= longest else t[:longest - 1] + "…" for t in texts) + note
    rest = Counter(parts.values())  # as many as fit in full, then the rest counted by field and reason code
    shown: list[str] = []
    used = 0
    for k, (t, key) in enumerate(parts.items()):
        tail = "; ".join(f"{fld} ({code}) x{n}" for (fld, code), n in rest.items() if n)
        if used + len(t) + len(tail) + 40 > room:
            return fit_cell("; ".join([*shown, f"and {len(texts) - k:,} more: {tail}"]) + note)
        shown.append(t)
        used += len(t) + 2
        rest[key] -= 1
    return "; ".join(shown) + note


def _common_length(sizes: list[int], room: int) -> int:
    """The largest length L such that the sizes, each cut to L, add up to at most ``room``."""
    total, count = 0, len(sizes)
    for k, size in enumerate(sorted(sizes)):
        left = count - k
        if total + size * left > room:
            return (room - total) // left if left else size
        total += size
    return max(sizes, default=0)


def _line(row: int, cell: str, pid: str, column: str, fld: str, value: str, code: str, message: str,
          cut_cells: bool) -> ProblemLine:
    """A problem line whose every text fits a cell (the full value is in the row's text_cut lines when it was
    longer than a cell; a message is cut after the value it quotes)."""
    if len(value) > MAX_CELL_CHARS:
        value = fit_cell(value, "the full text is in this row's text_cut lines" if cut_cells else
                         "longer than a cell holds")
    if len(message) > MAX_CELL_CHARS:
        message = fit_cell(message, "the value it quotes is in the Value column")
    return ProblemLine(row, cell, fit_cell(pid), fit_cell(column), fit_cell(fld), value, code, message)


def _cut_lines(text: str, row: int, cell: str, pid: str, column: str) -> list[ProblemLine]:
    size = MAX_CELL_CHARS - 100
    parts = [text[k:k + size] for k in range(0, len(text), size)]
    return [ProblemLine(row, cell, pid, column, column, part, CUT_CODE,
                        f"{column} was longer than a cell holds ({len(text):,} characters); "
                        f"full text, part {k} of {len(parts)}") for k, part in enumerate(parts, start=1)]


def _nan_to_none(values: list[Any]) -> list[Any]:
    return [None if v != v else v for v in values]  # NaN != NaN


def flag_chunk(chunk: list[list[Any]], start: int, ctx: Context) -> ChunkResult:
    """Assess one chunk (in this process or a worker) with the column engine; plain picklable results."""
    import pandas as pd

    from .sheets import row_height  # sheets imports this module

    n = len(chunk)
    tally = Tally()
    empty = [all(v is None for v in row) for row in chunk]
    keep = [k for k in range(n) if not empty[k]]
    tally.empty_rows = n - len(keep)
    outputs: list[list[Any] | None] = [None] * n
    problems: dict[int, list[ProblemLine]] = {}
    cut: list[int] = []
    heights: list[float | None] = [None] * n
    if not keep:
        return ChunkResult(outputs, problems, tally, cut, heights, [None] * n)
    df = pd.DataFrame([chunk[k] for k in keep], columns=list(ctx.names), dtype=object)
    found = mg.assess_table(df, columns=ctx.columns or None, as_of=ctx.as_of)
    out = found.frame
    cols = {c: out[c].tolist() for c in mg.COLUMNS}
    for c in NUMERIC_COLUMNS:
        cols[c] = _nan_to_none(cols[c])
    for c in LEVEL_COLUMNS:  # ordered categoricals in the frame: their words here
        cols[c] = ["" if v is None or v != v else str(v) for v in cols[c]]
    texts = cols["mg_input_problems"]
    at = {c: j for j, c in enumerate(ctx.names)}
    pid_col = ctx.hmap.fields.get("patient_id")
    pids = [("" if v is None else str(v)) for v in df[pid_col].tolist()] if pid_col is not None else [""] * len(keep)
    reasons = found.reasons.tolist()
    # the problem lines and the interactions of each row, from the core's records (never read back from text)
    by_row: dict[int, list[tuple[str, str, str, str, str]]] = {}
    fc = found.problems
    for pos, column, fld, value, code, message in zip(fc["row"], fc["column"], fc["field"], fc["value"],
                                                      fc["reason_code"], fc["message"], strict=True):
        by_row.setdefault(int(pos), []).append((str(column), str(fld), "" if value is None else str(value),
                                                str(code), str(message)))
    labels: dict[int, list[str]] = {}
    ia = found.interactions
    for pos, drug, severity in zip(ia["row"], ia["drug"], ia["severity"], strict=True):
        labels.setdefault(int(pos), []).append(f"{drug} ({severity})")

    header_row, first_col, fit = ctx.header_row, ctx.first_col, ctx.fit_cells
    rows_out = list(zip(*[cols[c] for c in mg.COLUMNS], strict=True))
    text_at = [mg.COLUMNS.index(c) for c in TEXT_COLUMNS]
    problems_at = mg.COLUMNS.index("mg_input_problems")
    for j, k in enumerate(keep):
        index = start + k
        row = header_row + 1 + index
        output = list(rows_out[j])
        lines: list[ProblemLine] = []
        text = texts[j]
        values = chunk[k]
        long_cells = [q for q, value in enumerate(values)  # texts longer than a cell, values of other types
                      if (type(value) is str and len(value) > MAX_CELL_CHARS) or type(value) not in _CELL_TYPES
                      ] if fit else []
        if long_cells:
            long_cells = [q for q in long_cells if _input_value(values[q], row) is not values[q]]
        if text:
            for column, fld, value, code, message in by_row.get(j, ()):
                cell = f"{column_letter(first_col + at[column])}{row}" if column in at else ""
                lines.append(_line(row, cell, pids[j], column, fld, value, code, message, bool(long_cells)))
        extra = ctx.extra.for_row(index, values)
        if extra:
            for column, fld, value, code, message in extra:
                cell = f"{column_letter(first_col + at[column])}{row}" if column in at else ""
                lines.append(_line(row, cell, pids[j], column, fld, value, code, message, bool(long_cells)))
            joined = "; ".join(f"{fld}: {message}" for _, fld, _, _, message in extra)
            output[problems_at] = f"{output[problems_at]}; {joined}" if output[problems_at] else joined
        for q in long_cells:
            value = values[q] if type(values[q]) is str else safe_text(values[q])
            values[q] = _input_value(values[q], row)
            cut.append(k)
            if len(value) > MAX_CELL_CHARS:
                cell = f"{column_letter(first_col + q)}{row}"
                lines.extend(_cut_lines(value, row, cell, fit_cell(pids[j]), fit_cell(ctx.names[q])))
                note = f"{ctx.names[q]}: cell {cell} was cut to fit a cell; full text on the Input problems sheet"
                output[problems_at] = f"{output[problems_at]}; {note}" if output[problems_at] else note
        for q in text_at:
            value = output[q]
            if fit and isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                name = mg.COLUMNS[q]
                output[q] = _problems_cell(value, lines, row) if q == problems_at else _cut(value, f"row {row}")
                lines.extend(_cut_lines(value, row, "", fit_cell(pids[j]), name))
        outputs[k] = output
        heights[k] = row_height(output)
        if lines:
            problems[k] = lines
            tally.problem_codes.update(line.reason_code for line in lines)
            tally.unrecognized.update(line.value.lower() for line in lines
                                      if line.reason_code == mg.ProblemCode.UNRECOGNIZED)
        if output[problems_at]:
            tally.rows_with_problems += 1
        tally.interactions.update(labels.get(j, ()))
    tally.rows = len(keep)
    for name, counter in zip(LEVEL_COLUMNS, (tally.risk, tally.contraindication, tally.dose_status), strict=True):
        counter.update(cols[name])
    full = [None] * n
    for j, k in enumerate(keep):
        full[k] = reasons[j]
    return ChunkResult(outputs, problems, tally, cut, heights, full)


def _ready() -> bool:
    return True


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """Assessment processes, started now (before the input is loaded, so they stay small); None for 0."""
    if workers <= 0:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    pool = None
    try:
        with quiet_workers():  # the workers start with SIGINT blocked, then ignore it (a Ctrl-C stops this process)
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                       initializer=ignore_in_worker)
            for future in [pool.submit(_ready) for _ in range(workers)]:
                future.result()
        yield pool  # (a Ctrl-C that came while the workers started was raised on leaving quiet_workers)
    except BaseException:  # Ctrl-C, or a failure: the workers are stopped now, not after their chunks
        if pool is not None:
            _stop(pool)
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _stop(pool: Any) -> None:
    """Stop the pool's worker processes at once (not after their chunks).

    A worker stopped while it sends a result leaves half a message in the result pipe; this process's own copy of
    the pipe's writing end is closed once every worker has ended, so the pool's reader sees the end of the pipe
    (instead of waiting for the rest of the message forever) and the pool shuts down as broken."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def default_workers(input_bytes: int) -> int:
    """Assessment processes for an input this size: none for ordinary sizes, else all cores but the writer's."""
    if input_bytes < PARALLEL_MIN_BYTES:
        return 0
    return max(1, (os.cpu_count() or 1) - 1)


def flag_rows(table: Table, ctx: Context, tally: Tally, *, chunk_rows: int | None = None, pool: Any = None,
              in_flight: int = 2) -> Iterator[Flagged]:
    """Assess the table in chunks; yield one :class:`Flagged` per row, in input order.

    With a ``pool`` (:func:`worker_pool`) the chunks are assessed in worker processes while this process
    reads and writes; at most ``in_flight`` chunks (workers + 1) are pending, so memory stays bounded.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    pending: deque[tuple[int, list[list[Any]], Any]] = deque()
    ahead = in_flight - 1 if pool is not None else 0
    start = 0
    while True:
        chunk = list(islice(table.rows, chunk_rows))
        if chunk:
            result = pool.submit(flag_chunk, chunk, start, ctx) if pool else flag_chunk(chunk, start, ctx)
            pending.append((start, chunk, result))
            start += len(chunk)
        if pending and (not chunk or len(pending) > ahead):
            first, rows, result = pending.popleft()
            done: ChunkResult = result.result() if pool else result
            tally.merge(done.tally)
            if pool is not None and done.cut:  # texts cut in the worker: cut this process's copy alike
                _recut(rows, done.cut, first, table)
            outputs, problems, heights, reasons = done.outputs, done.problems, done.heights, done.reasons
            for k, row in enumerate(rows):
                yield Flagged(first + k, row, outputs[k], problems.get(k, []), heights[k], reasons[k] or "")
        elif not chunk:
            return


def _recut(rows: list[list[Any]], offsets: list[int], start: int, table: Table) -> None:
    """Cut input texts longer than a cell, as the worker did (its copy of the chunk is not sent back)."""
    for k in set(offsets):
        row = rows[k]
        row[:] = [_input_value(value, table.header_row + 1 + start + k) for value in row]


def context(table: Table, hmap: mg.HeaderMap, columns: Mapping[str, str], extra: ExtraProblems,
            as_of: date | None, *, fit_cells: bool = True) -> Context:
    return Context(tuple(table.names), dict(columns), hmap, extra, table.header_row, table.first_col, as_of,
                   fit_cells)

