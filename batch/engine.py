"""Run every row of a :class:`~mgdecision.batch.source.Table` through the core, chunk by chunk.

Yields :class:`Flagged` rows in input order (none skipped) and keeps a :class:`Tally` for the summary.
All clinical logic is the core's (:func:`mgdecision.frame.iter_assessments`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

import mgdecision as mg
from mgdecision.frame import iter_assessments

from .source import Table

__all__ = ["CHUNK_ROWS", "KEY_FIELDS", "Flagged", "ProblemLine", "Tally", "flag_rows", "header_map"]

CHUNK_ROWS = 5_000
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

    def add_output(self, out: Mapping[str, Any]) -> None:
        self.rows += 1
        self.risk[str(out["mg_risk"])] += 1
        self.contraindication[str(out["mg_contraindication"])] += 1
        self.dose_status[str(out["mg_dose_status"])] += 1
        self.rows_with_problems += bool(out["mg_input_problems"])

    def add(self, a: mg.Assessment, out: Mapping[str, Any], problems: list[ProblemLine]) -> None:
        self.add_output(out)
        self.interactions.update(f"{i.drug.split(' (')[0]} ({i.severity})" for i in a.interactions)
        self.unrecognized.update(t.lower() for t in a.unrecognized)
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


def flag_rows(table: Table, hmap: mg.HeaderMap, tally: Tally, *, as_of: date | None = None,
              chunk_rows: int = CHUNK_ROWS) -> Iterator[Flagged]:
    """Assess the table in chunks of ``chunk_rows``; yield one :class:`Flagged` per row, in order."""
    import pandas as pd

    columns = list(table.names)
    index = 0
    while True:
        chunk = list(islice(table.rows, chunk_rows))
        if not chunk:
            return
        df = pd.DataFrame(chunk, columns=columns, dtype=object)
        for row, a in zip(chunk, iter_assessments(df, header_map=hmap, as_of=as_of), strict=True):
            out = a.row()
            problems = [*a.problems, *table.formula_problems.get(index, ())]
            if index in table.formula_problems:
                out["mg_input_problems"] = "; ".join(str(p) for p in problems)
            pid = "" if a.patient_id is None else str(a.patient_id)
            lines = []
            for p in problems:
                column = str(hmap.fields.get(p.field, p.field))
                col_at = columns.index(column) if column in columns else None
                lines.append(ProblemLine(table.header_row + 1 + index,
                                         table.cell(index, col_at) if col_at is not None else "",
                                         pid, column, p.field, p.value, str(p.code), p.message))
            tally.add(a, out, lines)
            yield Flagged(index, row, [out[c] for c in mg.COLUMNS], lines)
            index += 1
