"""Run every row of a :class:`~mgdecision.batch.source.Table` through the core, chunk by chunk.

Yields :class:`Flagged` rows in input order (none skipped) and keeps a :class:`Tally` for the summary.
All clinical logic is the core's (:func:`mgdecision.frame.iter_assessments`).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

import mgdecision as mg
from mgdecision.frame import iter_assessments, paused_gc

from .source import Table, column_letter

__all__ = ["CHUNK_ROWS", "KEY_FIELDS", "Flagged", "ProblemLine", "Tally", "default_workers", "flag_rows",
           "header_map", "worker_pool"]

CHUNK_ROWS = 5_000
PARALLEL_MIN_BYTES = 1_000_000  # smaller inputs: worker processes cost more than they save
_RISK, _CONTRA, _DOSE, _PROBLEMS = (mg.COLUMNS.index(c) for c in
                                    ("mg_risk", "mg_contraindication", "mg_dose_status", "mg_input_problems"))
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


@dataclass(slots=True)
class Flagged:
    index: int  # 0-based data row
    values: list[Any]  # the input row
    output: list[Any]  # the output columns, in mg.COLUMNS order
    problems: list[ProblemLine]


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

    def add(self, out: list[Any], problems: list[ProblemLine], interactions: list[str], terms: list[str]) -> None:
        """Count one flagged row (``out`` in :data:`mgdecision.COLUMNS` order)."""
        self.rows += 1
        self.risk[out[_RISK]] += 1
        self.contraindication[out[_CONTRA]] += 1
        self.dose_status[out[_DOSE]] += 1
        self.rows_with_problems += bool(out[_PROBLEMS])
        self.interactions.update(interactions)
        self.unrecognized.update(terms)
        self.problem_codes.update(p.reason_code for p in problems)

    def levels(self) -> list[tuple[str, Counter[str], list[str]]]:
        """(title, counts, every level in order) for each flag column."""
        return [("Risk (mg_risk)", self.risk, [v.value for v in mg.RiskLevel]),
                ("Contraindication (mg_contraindication)", self.contraindication, [v.value for v in mg.ContraLevel]),
                ("Dose status (mg_dose_status)", self.dose_status, [v.value for v in mg.DoseStatus])]

    def lines(self) -> str:
        """The closing printout: one line per flag column."""
        return "\n".join(f"  {title.split(' (')[0]}: " + ", ".join(f"{lvl} {counts[lvl]}" for lvl in order)
                         for title, counts, order in self.levels())


def header_map(table: Table, overrides: Mapping[str, str] | None) -> mg.HeaderMap:
    """Map the table's headers (``--map`` first); refuse when nothing maps."""
    hmap = mg.map_headers(table.names, overrides)
    if not hmap.fields:
        raise mg.UsageError("no column could be mapped to a patient field; headers were: "
                            + ", ".join(table.names) + '. Use --map "Header=field".')
    return hmap


def missing_key_fields(hmap: mg.HeaderMap) -> list[str]:
    return [label for name, label in KEY_FIELDS.items() if name not in hmap.fields]


Chunk = list[tuple[list[Any], list[ProblemLine], list[str], list[str]]]  # output, problems, interactions, terms


def _flag_chunk(chunk: list[list[Any]], start: int, columns: list[str], hmap: mg.HeaderMap,
                formula_problems: Mapping[int, list[mg.Problem]], header_row: int, first_col: int,
                as_of: date | None) -> Chunk:
    """Assess one chunk (in this process or a worker); plain picklable results, in row order."""
    import pandas as pd

    df = pd.DataFrame(chunk, columns=columns, dtype=object)
    at = {c: j for j, c in enumerate(columns)}
    results: Chunk = []
    with paused_gc():
        _collect(results, df, start, hmap, formula_problems, header_row, first_col, at, as_of)
    return results


def _collect(results: Chunk, df: Any, start: int, hmap: mg.HeaderMap, formula_problems: Mapping[int, list[mg.Problem]],
             header_row: int, first_col: int, at: Mapping[str, int], as_of: date | None) -> None:
    for index, a in enumerate(iter_assessments(df, header_map=hmap, as_of=as_of), start=start):
        out = a.row()
        problems = [*a.problems, *formula_problems.get(index, ())]
        if index in formula_problems:
            out["mg_input_problems"] = "; ".join(str(p) for p in problems)
        pid = "" if a.patient_id is None else str(a.patient_id)
        lines = []
        for p in problems:
            column = str(hmap.fields.get(p.field, p.field))
            cell = f"{column_letter(first_col + at[column])}{header_row + 1 + index}" if column in at else ""
            lines.append(ProblemLine(header_row + 1 + index, cell, pid, column, p.field, p.value, str(p.code),
                                     p.message))
        results.append(([out[c] for c in mg.COLUMNS], lines,
                        [f"{i.drug.split(' (')[0]} ({i.severity})" for i in a.interactions],
                        [t.lower() for t in a.unrecognized]))


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
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for future in [pool.submit(_ready) for _ in range(workers)]:
            future.result()
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)


def default_workers(input_bytes: int) -> int:
    """Assessment processes for an input this size: none for ordinary sizes, else all cores but the writer's."""
    if input_bytes < PARALLEL_MIN_BYTES:
        return 0
    return max(1, (os.cpu_count() or 1) - 1)


def flag_rows(table: Table, hmap: mg.HeaderMap, tally: Tally, *, as_of: date | None = None,
              chunk_rows: int | None = None, pool: Any = None, in_flight: int = 2) -> Iterator[Flagged]:
    """Assess the table in chunks; yield one :class:`Flagged` per row, in input order.

    With a ``pool`` (:func:`worker_pool`) the chunks are assessed in worker processes while this process
    reads and writes; at most ``in_flight`` chunks (workers + 1) are pending, so memory stays bounded.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    args = (list(table.names), hmap, table.formula_problems, table.header_row, table.first_col, as_of)
    pending: deque[tuple[int, list[list[Any]], Any]] = deque()
    ahead = in_flight - 1 if pool is not None else 0
    start = 0
    while True:
        chunk = list(islice(table.rows, chunk_rows))
        if chunk:
            result = pool.submit(_flag_chunk, chunk, start, *args) if pool else _flag_chunk(chunk, start, *args)
            pending.append((start, chunk, result))
            start += len(chunk)
        if pending and (not chunk or len(pending) > ahead):
            first, rows, result = pending.popleft()
            done = result.result() if pool else result
            for k, (row, (out, lines, interactions, terms)) in enumerate(zip(rows, done, strict=True)):
                tally.add(out, lines, interactions, terms)
                yield Flagged(first + k, row, out, lines)
        elif not chunk:
            return
