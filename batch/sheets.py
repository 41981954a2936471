"""What the extra sheets contain and how cells look, shared by the annotate and streaming writers.

Content is plain rows of values with a style name per row; each writer only renders them
(:mod:`~mgdecision.batch.annotate` with openpyxl, :mod:`~mgdecision.batch.streaming` with XlsxWriter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mgdecision as mg
from mgdecision.outputs import LEVEL_COLUMNS, OUTPUT_WIDTHS, OUTPUTS, WRAP_COLUMNS

from .cell_limits import fit_cell
from .engine import ProblemLine, Tally

__all__ = [
    "HEADER_FILL",
    "LEVEL_COLUMNS",
    "LEVEL_FILLS",
    "OUTPUT_WIDTHS",
    "PROBLEM_HEADERS",
    "REVIEW_CHOICES",
    "REVIEW_HEADERS",
    "REVIEW_REASONS",
    "WRAP_COLUMNS",
    "Block",
    "ChartSpec",
    "SheetContent",
    "problem_row",
    "row_height",
    "sources_sheet",
    "summary_sheet",
]

# The one palette of every front-end (mgdecision.palette), as openpyxl/XlsxWriter hex without "#"; every level
# has black text on its fill, and the level word is always written in the cell too.
LEVEL_FILLS: dict[str, str] = {level: swatch.fill.lstrip("#") for level, swatch in mg.palette.LEVELS.items()}
HEADER_FILL = mg.palette.HEADER.fill.lstrip("#")  # white bold text
# LEVEL_COLUMNS (filled by level), OUTPUT_WIDTHS and WRAP_COLUMNS (long text, wrapped): from mgdecision.outputs
LINE_HEIGHT, MAX_LINES, CHARS_PER_WIDTH = 15.0, 27, 1.15  # 27 lines: 405 pt, near the 409 pt a row can be
_WRAP_AT = [(k, o.width * CHARS_PER_WIDTH) for k, o in enumerate(OUTPUTS) if o.wrap]
#: Clinician review columns beside the flags: a re-run in annotate mode never writes into them.
REVIEW_HEADERS = ("Review", "Review reason")
REVIEW_CHOICES = ("accepted", "overridden")
REVIEW_REASONS = ("clinical judgement", "patient preference", "newer lab result", "dose adjusted",
                  "interaction managed", "not applicable to this patient", "other (see notes)")
REVIEW_WIDTHS = (14, 30)
PROBLEM_HEADERS = ("Row", "Cell", "Patient ID", "Column", "Field", "Value", "Reason code", "Message")
PROBLEM_WIDTHS = (7, 8, 14, 22, 20, 28, 20, 80)
TOP_N = 15


def input_width(name: str, sample: Sequence[Any]) -> float:
    """A readable width for an input column from its header and a sample of its values."""
    longest = max([len(str(name))] + [len(str(v)) for v in sample if v is not None], default=8)
    return float(min(max(longest + 2, 8), 40))


def row_height(output: Sequence[Any]) -> float | None:
    """Height for a row whose wrapped output text needs several lines, so the full reasons can be read
    (viewers do not always fit rows); at most :data:`MAX_LINES` lines."""
    lines = 1
    for k, chars in _WRAP_AT:
        text = output[k]
        if not text:
            continue
        if "\n" in text:
            width = int(chars)
            lines = max(lines, sum(-(-len(part) // width) or 1 for part in text.split("\n")))
        elif len(text) > chars:
            lines = max(lines, -(-len(text) // int(chars)))
    return None if lines == 1 else LINE_HEIGHT * min(lines, MAX_LINES)


def review_list(choices: Sequence[str]) -> str:
    """A data-validation list formula (a literal list, under Excel's 255 characters)."""
    text = '"' + ",".join(choices) + '"'
    assert len(text) <= 255
    return text


def problem_row(p: ProblemLine) -> list[Any]:
    return [p.row, p.cell, p.patient_id, p.column, p.field, p.value, p.reason_code, p.message]


@dataclass(frozen=True)
class ChartSpec:
    """A bar chart of rows ``first..last`` (0-based, inclusive): labels in column A, counts in column B."""

    title: str
    first: int
    last: int
    anchor_row: int
    colours: tuple[str, ...] = ()  # one fill per bar (the level colours)


@dataclass
class Block:
    """Rows of one sheet; ``styles[i]`` is "title", "header", "level" (level word in column A) or ""."""

    rows: list[list[Any]]
    styles: list[str]


@dataclass
class SheetContent:
    name: str
    block: Block
    widths: Sequence[float]
    charts: Sequence[ChartSpec] = ()
    wrap_col: int | None = None


def _add(block: Block, row: list[Any], style: str = "") -> int:
    block.rows.append([fit_cell(v) if type(v) is str else v for v in row])  # a header or term from the input
    block.styles.append(style)
    return len(block.rows) - 1


def summary_sheet(tally: Tally) -> SheetContent:
    b = Block([], [])
    _add(b, ["Summary of the flags"], "title")
    _add(b, ["Patient rows", tally.rows])
    _add(b, ["Rows with input problems", tally.rows_with_problems])
    charts = []
    for title, counts, order in tally.levels():
        _add(b, [])
        _add(b, [title, "Rows"], "header")
        first = len(b.rows)
        for level in order:
            _add(b, [level, counts.get(level, 0)], "level")
        charts.append(ChartSpec(title.split(" (")[0] + " (rows)", first, len(b.rows) - 1, 0,
                                tuple(LEVEL_FILLS[level] for level in order)))
    for title, counter in (("Most frequent interactions", tally.interactions),
                           ("Most frequent unrecognised terms", tally.unrecognized),
                           ("Input problems by reason code", tally.problem_codes)):
        _add(b, [])
        _add(b, [title, "Rows" if "problems" not in title else "Problems"], "header")
        for term, n in counter.most_common(TOP_N) or [("(none)", 0)]:
            _add(b, [term, n])
    charts = [ChartSpec(c.title, c.first, c.last, 1 + 16 * k, c.colours) for k, c in enumerate(charts)]
    return SheetContent("Summary", b, (44, 10), charts)


def sources_sheet(*, input_name: str, sheet: str, mode: str, hmap: mg.HeaderMap) -> SheetContent:
    kb = mg.knowledge()
    b = Block([], [])
    _add(b, ["About these flags"], "title")
    _add(b, ["Notice", kb.notice])
    _add(b, ["Knowledge version", f"{kb.version} (released {kb.released}, {kb.status})"])
    _add(b, ["Program", f"mgdecision {mg.__version__}"])
    _add(b, ["Run on", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")])
    _add(b, ["Input", f"{input_name}, sheet {sheet!r} ({mode} mode)"])
    _add(b, [])
    _add(b, ["Input column", "Used as field"], "header")
    for name, col in hmap.fields.items():
        _add(b, [str(col), name + (f" ({hmap.units[name]})" if name in hmap.units else "")])
    for col in hmap.ignored:
        _add(b, [str(col), "(not used)"])
    _add(b, [])
    _add(b, ["Source", "Title", "Grade", "Link"], "header")
    for src in kb.sources.values():
        _add(b, [src.label, src.title, src.grade, src.url])
    _add(b, [])
    _add(b, ["Seed-article claim corrected", "What the rules use instead", "Sources", "Topic"], "header")
    for topic, c in kb.seed_conflicts.items():
        _add(b, [str(c.get("claim", "")), str(c.get("fact", "")), kb.source_labels(tuple(c.get("source", ()))),
                 topic])
    return SheetContent("Sources", b, (34, 90, 12, 60), wrap_col=1)


def sheet_names(existing: Sequence[str]) -> dict[str, str]:
    """Names for the added sheets that do not clash with the user's sheets."""
    taken = {s.lower() for s in existing}
    names = {}
    for base in ("Input problems", "Summary", "Sources"):
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base} ({n})"
        taken.add(name.lower())
        names[base] = name
    return names
