"""Annotate mode: the user's workbook (openpyxl) with the output columns appended and three sheets added.

Other sheets, formatting and formulas elsewhere are kept. On the patient sheet, formula cells are
replaced by the saved value that was assessed, so the flagged sheet shows exactly what was read.
Every string is written as text, never as a formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import copy
from pathlib import Path
from typing import Any

import mgdecision as mg

from .engine import Flagged, ProblemLine
from .io_safety import looks_like_formula
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
from .source import Table, column_letter

__all__ = ["put", "write_annotated"]


def put(cell: Any, value: Any) -> None:
    """Set a cell; text that looks like a formula stays text (``data_type 's'`` and a quote prefix)."""
    cell.value = value
    if isinstance(value, str) and (cell.data_type == "f" or looks_like_formula(value)):
        cell.data_type = "s"
        cell.quotePrefix = True


class _Styles:
    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        self.header_font = Font(bold=True, color="FFFFFF")
        self.header_fill = PatternFill("solid", fgColor=HEADER_FILL)
        self.title_font = Font(bold=True, size=14)
        self.bold = Font(bold=True)
        self.top = Alignment(vertical="top")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.level = {k: PatternFill("solid", fgColor=v) for k, v in LEVEL_FILLS.items()}

    def header(self, cell: Any) -> None:
        cell.font, cell.fill = self.header_font, self.header_fill

    def level_cell(self, cell: Any) -> None:
        fill = self.level.get(str(cell.value))
        if fill is not None:
            cell.fill, cell.font = fill, self.bold


def _render(wb: Any, content: SheetContent, st: _Styles, title: str) -> None:
    from openpyxl.chart import BarChart, Reference
    from openpyxl.chart.marker import DataPoint

    ws = wb.create_sheet(title)
    for r, (row, style) in enumerate(zip(content.block.rows, content.block.styles, strict=True), start=1):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(r, c)
            put(cell, value)
            if style == "header":
                st.header(cell)
            elif style == "title":
                cell.font = st.title_font
            elif style == "level" and c == 1:
                st.level_cell(cell)
            if content.wrap_col is not None and c - 1 == content.wrap_col:
                cell.alignment = st.wrap
    for c, width in enumerate(content.widths):
        ws.column_dimensions[column_letter(c)].width = width
    for spec in content.charts:
        chart = BarChart()
        chart.type, chart.title, chart.legend = "bar", spec.title, None
        chart.add_data(Reference(ws, min_col=2, min_row=spec.first + 1, max_row=spec.last + 1))
        chart.set_categories(Reference(ws, min_col=1, min_row=spec.first + 1, max_row=spec.last + 1))
        for idx, colour in enumerate(spec.colours):
            point = DataPoint(idx=idx)
            point.graphicalProperties.solidFill = colour
            point.graphicalProperties.line.solidFill = "404040"
            chart.series[0].dPt.append(point)
        chart.height, chart.width = 7, 14
        ws.add_chart(chart, f"D{spec.anchor_row + 1}")


def _problems_sheet(wb: Any, lines: Iterable[ProblemLine], st: _Styles, title: str) -> None:
    ws = wb.create_sheet(title)
    ws.append(list(PROBLEM_HEADERS))
    for cell in ws[1]:
        st.header(cell)
    r = 1
    for line in lines:
        r += 1
        for c, value in enumerate(problem_row(line), start=1):
            put(ws.cell(r, c), value)
    for c, width in enumerate(PROBLEM_WIDTHS):
        ws.column_dimensions[column_letter(c)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{column_letter(len(PROBLEM_HEADERS) - 1)}{max(r, 2)}"


def write_annotated(table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], path: Path) -> None:
    """Append the output columns to ``table``'s sheet, add the extra sheets, save to ``path``.

    ``extra`` is called after all rows were consumed and returns the Summary and Sources contents.
    """
    wb = table.workbook
    ws = wb[table.sheet]
    st = _Styles()
    hr, c0 = table.header_row, table.first_col + 1  # 1-based
    existing = {name: i for i, name in enumerate(table.names)}
    next_col = max(ws.max_column, c0 + len(table.names) - 1) + 1
    out_cols = {}
    for name in mg.COLUMNS:
        if name in existing:
            out_cols[name] = c0 + existing[name]
        else:
            out_cols[name] = next_col
            next_col += 1
        cell = ws.cell(hr, out_cols[name])
        put(cell, name)
        st.header(cell)
    targets = [out_cols[n] for n in mg.COLUMNS]
    level_cols = {out_cols[n] for n in LEVEL_COLUMNS}
    lines: list[ProblemLine] = []
    last = hr
    for f in rows:
        r = hr + 1 + f.index
        last = r
        for j, value in enumerate(f.values):  # formula cells -> the saved value that was assessed
            cell = ws.cell(r, c0 + j)
            if cell.data_type == "f":
                put(cell, value)
        height = row_height(f.output)
        if height and (ws.row_dimensions[r].height or 0) < height:
            ws.row_dimensions[r].height = height
            for j in range(len(f.values)):  # taller row: top-align input cells that had no alignment of their own
                cell = ws.cell(r, c0 + j)
                if cell.alignment.vertical is None:
                    alignment = copy(cell.alignment)
                    alignment.vertical = "top"
                    cell.alignment = alignment
        for col, value in zip(targets, f.output, strict=True):
            cell = ws.cell(r, col)
            put(cell, value)
            if col in level_cols:
                st.level_cell(cell)
        lines.extend(f.problems)
    sample_rows = min(last, hr + 200)
    for j, name in enumerate(table.names):
        letter = column_letter(c0 - 1 + j)
        if name not in mg.COLUMNS and not ws.column_dimensions[letter].customWidth:
            sample = [ws.cell(r, c0 + j).value for r in range(hr + 1, sample_rows + 1)]
            ws.column_dimensions[letter].width = input_width(name, sample)
    for name, col in out_cols.items():
        ws.column_dimensions[column_letter(col - 1)].width = OUTPUT_WIDTHS[name]
        alignment = st.wrap if name in WRAP_COLUMNS else st.top
        for r in range(hr + 1, last + 1):
            ws.cell(r, col).alignment = alignment
    ws.print_title_rows = f"{hr}:{hr}"
    ws.page_setup.orientation = "landscape"
    ws.freeze_panes = ws.cell(hr + 1, 1).coordinate
    ws.auto_filter.ref = f"{column_letter(c0 - 1)}{hr}:{column_letter(next_col - 2)}{max(last, hr + 1)}"
    names = sheet_names(wb.sheetnames)
    _problems_sheet(wb, lines, st, names["Input problems"])
    for content in extra():
        _render(wb, content, st, names[content.name])
    wb.active = wb.sheetnames.index(table.sheet)
    wb.save(path)
