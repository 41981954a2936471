"""Streaming mode: a new workbook written row by row with XlsxWriter ``constant_memory`` (bounded memory).

The patient sheet keeps the input's row and column positions (so problem cell references match the
input), followed by the output columns. Strings are always written with ``write_string``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import mgdecision as mg

from .engine import Flagged
from .sheets import (
    HEADER_FILL,
    LEVEL_COLUMNS,
    LEVEL_FILLS,
    OUTPUT_WIDTHS,
    PROBLEM_HEADERS,
    PROBLEM_WIDTHS,
    WRAP_COLUMNS,
    SheetContent,
    input_width,
    problem_row,
    row_height,
    sheet_names,
)
from .source import Table, to_naive

__all__ = ["MAX_ROWS", "WORKBOOK_OPTIONS", "write_streaming"]

MAX_ROWS = 1_048_576  # rows in one worksheet
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False, "nan_inf_to_errors": True}


class _Cells:
    """Type dispatch for one worksheet; text is always text."""

    def __init__(self, ws: Any, date_fmt: Any, datetime_fmt: Any) -> None:
        self.ws, self.date_fmt, self.datetime_fmt = ws, date_fmt, datetime_fmt

    def row(self, r: int, c0: int, values: Iterable[Any], fmt: Any = None) -> None:
        ws = self.ws
        for c, v in enumerate(values, start=c0):
            t = type(v)
            if t is str:
                if v:
                    ws.write_string(r, c, v, fmt)
                elif fmt is not None:
                    ws.write_blank(r, c, None, fmt)
            elif t is float or t is int:
                ws.write_number(r, c, v, fmt)
            elif v is None:
                if fmt is not None:
                    ws.write_blank(r, c, None, fmt)
            elif t is bool:
                ws.write_boolean(r, c, v, fmt)
            elif isinstance(v, dt.datetime):
                ws.write_datetime(r, c, to_naive(v), fmt or self.datetime_fmt)
            elif isinstance(v, dt.date):
                ws.write_datetime(r, c, v, fmt or self.date_fmt)
            elif isinstance(v, int | float):
                ws.write_number(r, c, float(v), fmt)
            else:
                ws.write_string(r, c, str(v), fmt)


def _render(wb: Any, content: SheetContent, title: str, fmts: dict[str, Any],
            cells_for: Callable[[Any], _Cells]) -> None:
    ws = wb.add_worksheet(title)
    cells = cells_for(ws)
    for c, width in enumerate(content.widths):
        ws.set_column(c, c, width, fmts["wrap"] if c == content.wrap_col else None)
    for r, (row, style) in enumerate(zip(content.block.rows, content.block.styles, strict=True)):
        if style == "level":
            cells.row(r, 0, row[:1], fmts.get(f"level:{row[0]}"))
            cells.row(r, 1, row[1:])
        else:
            cells.row(r, 0, row, fmts.get(style))
    for spec in content.charts:
        chart = wb.add_chart({"type": "bar"})
        chart.add_series({"categories": [title, spec.first, 0, spec.last, 0],
                          "values": [title, spec.first, 1, spec.last, 1], "name": spec.title,
                          "points": [{"fill": {"color": f"#{c}"}, "border": {"color": "#404040"}}
                                     for c in spec.colours]})
        chart.set_title({"name": spec.title})
        chart.set_legend({"none": True})
        chart.set_size({"width": 520, "height": 260})
        ws.insert_chart(spec.anchor_row, 3, chart)


def write_streaming(table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], path: Path,
                    *, sample_rows: int = 200) -> None:
    """Write the patient sheet, "Input problems", then the ``extra()`` sheets (Summary, Sources) to ``path``."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    fmts: dict[str, Any] = {
        "header": wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": f"#{HEADER_FILL}"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "top": wb.add_format({"valign": "top"}),
    }
    for level, colour in LEVEL_FILLS.items():
        fmts[f"level:{level}"] = wb.add_format({"bold": True, "bg_color": f"#{colour}", "valign": "top"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    datetime_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})

    def cells_for(ws: Any) -> _Cells:
        return _Cells(ws, date_fmt, datetime_fmt)

    titles = sheet_names([table.sheet[:31]])
    ws = wb.add_worksheet(table.sheet[:31])
    problems_ws = wb.add_worksheet(titles["Input problems"])
    patient, problems = cells_for(ws), cells_for(problems_ws)
    keep = [j for j, n in enumerate(table.names) if n not in mg.COLUMNS]
    names = [table.names[j] for j in keep]
    r0, c0 = table.header_row - 1, table.first_col
    out_c0 = c0 + len(keep)
    level_at = [mg.COLUMNS.index(n) for n in LEVEL_COLUMNS]
    level_end = level_at[-1] + 1  # the three level columns are adjacent in mg.COLUMNS
    rows = iter(rows)
    head = [f for _, f in zip(range(sample_rows), rows, strict=False)]  # buffered to size the columns
    for j, name in enumerate(names):
        ws.set_column(c0 + j, c0 + j, input_width(name, [f.values[keep[j]] for f in head]), fmts["wrap"])
    for k, name in enumerate(mg.COLUMNS):
        fmt = fmts["wrap"] if name in WRAP_COLUMNS else fmts["top"]
        ws.set_column(out_c0 + k, out_c0 + k, OUTPUT_WIDTHS[name], fmt)
    ws.freeze_panes(r0 + 1, 0)
    ws.repeat_rows(r0)
    ws.set_landscape()
    patient.row(r0, c0, [*names, *mg.COLUMNS], fmts["header"])
    problems_ws.freeze_panes(1, 0)
    for c, width in enumerate(PROBLEM_WIDTHS):
        problems_ws.set_column(c, c, width)
    problems.row(0, 0, PROBLEM_HEADERS, fmts["header"])
    level_fmts = {k: v for k, v in fmts.items() if k.startswith("level:")}
    same_width = len(keep) == len(table.names)
    last, pr, unlisted = r0, 0, 0

    def all_rows() -> Iterable[Flagged]:
        yield from head
        yield from rows

    for f in all_rows():
        last = r0 + 1 + f.index
        out = f.output
        height = row_height(out)
        if height:
            ws.set_row(last, height)
        patient.row(last, c0, f.values if same_width else [f.values[j] for j in keep])
        patient.row(last, out_c0, out[:level_at[0]])
        for k in level_at:
            ws.write_string(last, out_c0 + k, out[k], level_fmts.get(f"level:{out[k]}"))
        patient.row(last, out_c0 + level_end, out[level_end:])
        ws.row_info.pop(last - 1, None)  # flushed when this row began; XlsxWriter would keep it to the end
        for line in f.problems:
            if pr + 1 < MAX_ROWS - 1:
                pr += 1
                problems.row(pr, 0, problem_row(line))
            else:
                unlisted += 1
    if unlisted:
        problems.row(pr + 1, 0, ["", "", "", "", "", "", "", f"{unlisted:,} more problems not listed here "
                                 "(sheet full); see the mg_input_problems column"])
    ws.autofilter(r0, c0, max(last, r0 + 1), out_c0 + len(mg.COLUMNS) - 1)
    problems_ws.autofilter(0, 0, max(pr, 1), len(PROBLEM_HEADERS) - 1)
    for content in extra():
        _render(wb, content, titles[content.name], fmts, cells_for)
    wb.close()
