"""What the extra sheets contain, how cells look and how every sheet prints, shared by both writers.

Content is plain rows of values with a style name per row; each writer only renders them
(:mod:`~mgdecision.batch.annotate` with openpyxl, :mod:`~mgdecision.batch.streaming` with XlsxWriter).
People read the plain headers and level labels of :mod:`mgdecision.outputs` (the CSV and Parquet outputs
keep the machine names). The patient rows stay compact: the full reasons are on the Reasons sheet, one line
per flag, and the patient sheet shows them on one line. Every sheet prints landscape on A4 or Letter with its
header row on every page, page numbers in the footer and text at 8 pt or more: a sheet that fits the page
width at 75 % or more is fitted to it, a wider one prints at 75 % across pages (over, then down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mgdecision as mg
from mgdecision.outputs import LEVEL_COLUMNS, OUTPUT_WIDTHS, OUTPUTS, VALUE_LABELS, WRAP_COLUMNS, column_of, header

from .cell_limits import fit_cell
from .engine import ProblemLine, Tally

__all__ = [
    "DETAIL_COLUMN",
    "FOOTER",
    "FOOTER_PARTS",
    "HEADER_FILL",
    "LEVEL_COLUMNS",
    "LEVEL_FILLS",
    "MARGINS",
    "NOT_CHECKED",
    "OUTPUT_LAYOUT",
    "OUTPUT_WIDTHS",
    "PRINT_SCALE",
    "PROBLEM_HEADERS",
    "REVIEW_CHOICES",
    "REVIEW_HEADERS",
    "REVIEW_REASONS",
    "WRAP_COLUMNS",
    "Block",
    "ChartSpec",
    "PrintSetup",
    "SheetContent",
    "not_checked_lines",
    "output_positions",
    "print_setup",
    "problem_row",
    "reasons_rows",
    "row_height",
    "shown_output",
    "sources_sheet",
    "summary_sheet",
]

# The one palette of every front-end (mgdecision.palette), as openpyxl/XlsxWriter hex without "#"; every level
# has black text on its fill, and the level word is always written in the cell too.
LEVEL_FILLS: dict[str, str] = {level: swatch.fill.lstrip("#") for level, swatch in mg.palette.LEVELS.items()}
HEADER_FILL = mg.palette.HEADER.fill.lstrip("#")  # white bold text
# LEVEL_COLUMNS (filled by level), OUTPUT_WIDTHS and WRAP_COLUMNS (long text, wrapped): from mgdecision.outputs
LINE_HEIGHT, CHARS_PER_WIDTH = 15.0, 1.15
MAX_LINES = 3  # a patient row is at most this tall (45 pt); longer texts are whole on the Reasons sheet
REASON_LINES = 27  # a Reasons line: 405 pt, near the 409 pt a row can be
#: The column whose full text goes to the Reasons sheet (one line per flag); in the patient sheet it is a narrow
#: column showing its start, and it never sets the row height.
DETAIL_COLUMN = "mg_reasons"
DETAIL_WIDTH = 30
#: (width, wrapped) of each output column in the patient sheet, in mg.COLUMNS order: as declared, but the detail.
OUTPUT_LAYOUT: tuple[tuple[float, bool], ...] = tuple(
    (DETAIL_WIDTH, True) if o.name == DETAIL_COLUMN else (o.width, o.wrap) for o in OUTPUTS)
_WRAP_AT = [(k, width * CHARS_PER_WIDTH) for k, (width, wrap) in enumerate(OUTPUT_LAYOUT)
            if wrap and OUTPUTS[k].name != DETAIL_COLUMN]
_LEVEL_AT = [k for k, o in enumerate(OUTPUTS) if o.name in LEVEL_COLUMNS]
_DETAIL_AT = next((k for k, o in enumerate(OUTPUTS) if o.name == DETAIL_COLUMN), None)
_DETAIL_SPLIT = " | "  # between the reasons of two flags
_HEADERS = [header(o.name) for o in OUTPUTS]
# Printing: Letter landscape is the narrower page (A4 is 842 pt wide, Letter 792 pt); narrow margins (inches).
MARGINS = {"left": 0.25, "right": 0.25, "top": 0.45, "bottom": 0.55, "header": 0.2, "footer": 0.25}
PAGE_WIDTH_PT = 792 - 72 * (MARGINS["left"] + MARGINS["right"])
PRINT_SCALE = 75  # % : 11 pt text prints at 8.25 pt
FOOTER_PARTS = ("&A", "Page &P of &N", "&F")  # left, centre, right: sheet name, page numbers, file name
FOOTER = "&L{}&C{}&R{}".format(*FOOTER_PARTS)
#: Clinician review columns beside the flags: a re-run in annotate mode never writes into them.
REVIEW_HEADERS = ("Review", "Review reason")
REVIEW_CHOICES = ("accepted", "overridden")
REVIEW_REASONS = ("clinical judgement", "patient preference", "newer lab result", "dose adjusted",
                  "interaction managed", "not applicable to this patient", "other (see notes)")
REVIEW_WIDTHS = (14, 30)
PROBLEM_HEADERS = ("Row", "Cell", "Patient ID", "Column", "Field", "Value", "Reason code", "Message")
PROBLEM_WIDTHS = (6, 7, 12, 18, 16, 24, 18, 52)
PROBLEM_WRAP = (5, 7)  # Value and Message wrap in their columns
REASON_HEADERS = ("Row", "Patient ID", "Column", "Full text (reasons: one line per flag, each reason with its sources)")
REASON_WIDTHS = (6, 12, 15, 130)
TOP_N = 15
CHART_COLUMNS = 9  # default-width columns a chart covers (480 x 190 px)
CHART_ROWS = 11  # rows from one chart to the next: three charts fit one landscape A4 page
CHART_SIZE_PX = (480, 190)


@dataclass(frozen=True)
class PrintSetup:
    """How a sheet prints: fitted to the page width, or at :data:`PRINT_SCALE` across pages; the rows and
    columns (0-based, inclusive) repeated on every page; the printed area (first row, first col, last row,
    last col)."""

    fit_width: bool
    title_rows: tuple[int, int] | None = None
    title_cols: tuple[int, int] | None = None
    area: tuple[int, int, int, int] | None = None


def column_points(width: float) -> float:
    """The printed width of a column ``width`` characters wide (11 pt Calibri: 7 px a character plus padding)."""
    return (width * 7 + 5) * 0.75


def print_setup(widths: Sequence[float], *, title_rows: tuple[int, int] | None = None,
                title_cols: tuple[int, int] | None = None,
                area: tuple[int, int, int, int] | None = None) -> PrintSetup:
    """Fit to the page width when that keeps text at 8 pt or more, else print at :data:`PRINT_SCALE` across pages."""
    fits = sum(column_points(w) for w in widths) * PRINT_SCALE / 100 <= PAGE_WIDTH_PT
    return PrintSetup(fits, title_rows, title_cols, area)


def input_width(name: str, sample: Sequence[Any]) -> float:
    """A readable width for an input column from its header and a sample of its values."""
    longest = max([len(str(name))] + [len(str(v)) for v in sample if v is not None], default=8)
    return float(min(max(longest + 2, 8), 40))


def _lines(text: str, chars: float) -> int:
    """Lines ``text`` takes wrapped in a column holding ``chars`` characters a line."""
    width = int(chars)
    if "\n" in text:
        return sum(-(-len(part) // width) or 1 for part in text.split("\n"))
    return -(-len(text) // width) if len(text) > width else 1


def row_height(output: Sequence[Any]) -> float | None:
    """Height for a row whose wrapped output text needs several lines (viewers do not always fit rows); at
    most :data:`MAX_LINES` lines, so rows stay compact (the long reasons are on the Reasons sheet)."""
    lines = 1
    for k, chars in _WRAP_AT:
        text = output[k]
        if text:
            lines = max(lines, _lines(text, chars))
    return None if lines == 1 else LINE_HEIGHT * min(lines, MAX_LINES)


def text_height(text: str, width: float, most: int = REASON_LINES) -> float | None:
    """Height for ``text`` wrapped in a column ``width`` characters wide (None: one line)."""
    lines = _lines(text, width * CHARS_PER_WIDTH) if text else 1
    return None if lines == 1 else LINE_HEIGHT * min(lines, most)


def shown_output(output: Sequence[Any]) -> list[Any]:
    """The output values as people read them: the level columns' labels (:data:`mgdecision.outputs.VALUE_LABELS`)."""
    shown = list(output)
    for k in _LEVEL_AT:
        value = shown[k]
        if type(value) is str:
            shown[k] = VALUE_LABELS.get(value, value)
    return shown


def reasons_rows(row: int, patient_id: str, output: Sequence[Any], reasons: str = "") -> list[list[Any]]:
    """The Reasons sheet lines of one patient row: each text longer than the patient row shows (its column's
    header), then one line per flag's reasons, in full (``reasons``: the row's reasons uncapped; the patient
    sheet's reasons cell holds at most 400 characters)."""
    lines = [[row, patient_id, _HEADERS[k], text] for k, chars in _WRAP_AT
             if (text := output[k]) and _lines(text, chars) > MAX_LINES]
    full = reasons or (str(output[_DETAIL_AT]) if _DETAIL_AT is not None and output[_DETAIL_AT] else "")
    if _DETAIL_AT is not None and full:
        lines += [[row, patient_id, _HEADERS[_DETAIL_AT], part] for part in full.split(_DETAIL_SPLIT) if part.strip()]
    return lines


def output_positions(names: Sequence[Any]) -> dict[str, int]:
    """Output column -> index in ``names`` of a previous run's output columns: each by its machine name, or all
    by their plain headers side by side in order (a clinic's own "Reasons" column is never taken for ours)."""
    found: dict[str, int] = {}
    for i, name in enumerate(names):
        if isinstance(name, str) and column_of(name) == name:
            found.setdefault(name, i)
    shown = output_headers()
    for i in range(len(names) - len(shown) + 1):
        if list(names[i:i + len(shown)]) == shown:
            for k, o in enumerate(OUTPUTS):
                found.setdefault(o.name, i + k)
            break
    return found


def output_headers() -> list[str]:
    """The patient sheet's output headers (plain)."""
    return [header(o.name) for o in OUTPUTS]


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
    """Rows of one sheet; ``styles[i]`` is "title", "header", "alert" (a line that must be read first),
    "level:WORD" (column A filled with WORD's colour; it holds WORD's label) or ""."""

    rows: list[list[Any]]
    styles: list[str]


@dataclass
class SheetContent:
    name: str
    block: Block
    widths: Sequence[float]
    charts: Sequence[ChartSpec] = ()
    wrap_col: int | None = None
    wrap_cols: Sequence[int] = ()  # more wrapped columns; rows are made as tall as their wrapped text needs

    @property
    def wrapped(self) -> tuple[int, ...]:
        return tuple(sorted({*self.wrap_cols, *(() if self.wrap_col is None else (self.wrap_col,))}))

    def heights(self) -> list[float | None]:
        """Each row's height for its wrapped cells (None: one line)."""
        out: list[float | None] = []
        for row, style in zip(self.block.rows, self.block.styles, strict=True):
            cols = (0,) if style == "alert" else self.wrapped
            found = [text_height(row[c], self.widths[c]) for c in cols if c < len(row) and isinstance(row[c], str)]
            out.append(max((h for h in found if h), default=None))
        return out

    def print_setup(self) -> PrintSetup:
        """Fitted or scaled as its widths allow; the area covers the rows and the charts (from column D)."""
        last_col = max(len(self.widths), max((len(r) for r in self.block.rows), default=1)) - 1
        last_row = max(len(self.block.rows) - 1, 0)
        widths = list(self.widths)
        if self.charts:  # about 8 default columns and 10 rows each
            last_col = max(last_col, 3 + CHART_COLUMNS - 1)
            last_row = max(last_row, max(c.anchor_row for c in self.charts) + CHART_ROWS - 1)
            widths += [8.43] * (last_col + 1 - len(widths))
        return print_setup(widths, area=(0, 0, last_row, last_col))


def _add(block: Block, row: list[Any], style: str = "") -> int:
    block.rows.append([fit_cell(v) if type(v) is str else v for v in row])  # a header or term from the input
    block.styles.append(style)
    return len(block.rows) - 1


#: What a list field's absence leaves unchecked, said first on the Summary sheet and the console.
NOT_CHECKED = {
    "medications": "no medication column was read, so drug interactions and medicine-related flags were not "
                   "checked on any row",
    "diagnoses": "no diagnosis column was read, so contraindications from diagnoses (myasthenia gravis, heart "
                 "block, kidney disease codes, ...) were not checked on any row",
}


def not_checked_lines(hmap: mg.HeaderMap) -> list[str]:
    """One line per list field no column gives (``HeaderMap.missing_lists``), to be read before any flag."""
    return [f"NOT CHECKED: {NOT_CHECKED.get(name, f'no {name} column was read')}. Add the column (or map it with "
            f'--map "Header=field"), then run again.' for name in hmap.missing_lists]


def summary_sheet(tally: Tally, not_checked: Sequence[str] = ()) -> SheetContent:
    """Counts of every level, the top interactions, unrecognised terms and problem codes; ``not_checked``
    lines (a list column no column gave) come first."""
    b = Block([], [])
    _add(b, ["Summary of the flags"], "title")
    for line in not_checked:
        _add(b, [line], "alert")
    _add(b, ["Patient rows", tally.rows])
    _add(b, ["Rows with input problems", tally.rows_with_problems])
    charts = []
    for column, counts, order in tally.levels():
        _add(b, [])
        _add(b, [header(column), "Rows"], "header")
        first = len(b.rows)
        for level in order:
            _add(b, [VALUE_LABELS.get(level, level), counts.get(level, 0)], f"level:{level}")
        charts.append(ChartSpec(header(column) + " (rows)", first, len(b.rows) - 1, 0,
                                tuple(LEVEL_FILLS.get(level, "FFFFFF") for level in order)))
    for title, counter in (("Most frequent interactions", tally.interactions),
                           ("Most frequent unrecognised terms", tally.unrecognized),
                           ("Input problems by reason code", tally.problem_codes)):
        _add(b, [])
        _add(b, [title, "Rows" if "problems" not in title else "Problems"], "header")
        for term, n in counter.most_common(TOP_N) or [("(none)", 0)]:
            _add(b, [term, n])
    top = len(not_checked)
    charts = [ChartSpec(c.title, c.first, c.last, top + 1 + CHART_ROWS * k, c.colours) for k, c in enumerate(charts)]
    return SheetContent("Summary", b, (44, 10), charts, wrap_col=0 if not_checked else None)


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
    return SheetContent("Sources", b, (30, 70, 10, 40), wrap_col=1, wrap_cols=(0, 1, 3))


def sheet_names(existing: Sequence[str]) -> dict[str, str]:
    """Names for the added sheets that do not clash with the user's sheets."""
    taken = {s.lower() for s in existing}
    names = {}
    for base in ("Input problems", "Reasons", "Summary", "Sources"):
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base} ({n})"
        taken.add(name.lower())
        names[base] = name
    return names
