"""Annotate mode: the user's workbook (openpyxl) with the output columns appended and three sheets added.

Other sheets and formatting are kept. Every formula of the workbook was made inert before
(:mod:`~mgdecision.batch.neutralise`: saved values as text, risky names, validations and conditional
formats removed). Every string is written as text, never as a formula.

The output cells and the problem lines are not made as openpyxl cells (about 20 µs each, more cells than the
input holds): openpyxl saves the workbook with the headers, styles, widths, heights and drop-downs, and the
cells are merged into the sheet XML as it is stored (:mod:`~mgdecision.batch.cell_patch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import copy
from pathlib import Path
from typing import Any

import mgdecision as mg

from .cell_patch import AddedCells, save_with_cells
from .engine import Flagged, ProblemLine
from .io_safety import FORMULA_PREFIXES, looks_like_formula
from .neutralise import put
from .sheets import (
    HEADER_FILL,
    LEVEL_COLUMNS,
    LEVEL_FILLS,
    OUTPUT_WIDTHS,
    PROBLEM_HEADERS,
    PROBLEM_WIDTHS,
    REVIEW_CHOICES,
    REVIEW_HEADERS,
    REVIEW_REASONS,
    REVIEW_WIDTHS,
    WRAP_COLUMNS,
    SheetContent,
    input_width,
    problem_row,
    review_list,
    row_height,
    sheet_names,
)
from .source import Table, column_letter

__all__ = ["put", "write_annotated"]


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


class _CellStyles:
    """Style arrays made once: style ids for the added cells, and top alignment copied onto input cells
    (assigning openpyxl style objects cell by cell is slow)."""

    def __init__(self, wb: Any, st: _Styles) -> None:
        from openpyxl.styles.cell_style import StyleArray

        self.wb, self.array = wb, StyleArray

        def make(font: Any = None, fill: Any = None, alignment: Any = None, quote: bool = False) -> str:
            a = StyleArray()
            if font is not None:
                a.fontId = wb._fonts.add(font)
            if fill is not None:
                a.fillId = wb._fills.add(fill)
            if alignment is not None:
                a.alignmentId = wb._alignments.add(alignment)
            a.quotePrefix = int(quote)
            return f' s="{wb._cell_styles.add(a)}"'  # the cell style id openpyxl writes (cellXfs index)

        aligned = [st.wrap if n in WRAP_COLUMNS else st.top for n in mg.COLUMNS]
        self.columns = [make(alignment=a) for a in aligned]
        self.quoted = [make(alignment=a, quote=True) for a in aligned]  # text that looks like a formula
        levels = {mg.COLUMNS.index(n) for n in LEVEL_COLUMNS}
        fills = {level: make(st.bold, fill, st.top) for level, fill in st.level.items()}
        self.level_at = [(k, fills) for k in sorted(levels)]
        self.quote = make(quote=True)
        self.top_ids: dict[int, int] = {}

    def output(self, values: list[Any]) -> list[str]:
        """The style attribute of each output value (a level column gets its level's fill)."""
        attrs = [a if v is not None and v != "" else "" for a, v in zip(self.columns, values, strict=True)]
        for k, fills in self.level_at:
            attrs[k] = fills.get(values[k]) or attrs[k]
        for k, v in enumerate(values):
            if type(v) is str and v.startswith(FORMULA_PREFIXES):
                attrs[k] = self.quoted[k]
        return attrs

    def top_align(self, cell: Any) -> None:
        """Align ``cell`` to the top unless its own alignment says otherwise."""
        if cell._value is None and not cell.has_style:  # an empty cell: nothing to align, and it stays unwritten
            return
        if cell._style is None:
            cell._style = self.array()
        old = cell._style.alignmentId
        new = self.top_ids.get(old)
        if new is None:
            alignment = self.wb._alignments[old]
            if alignment.vertical is None:
                alignment = copy(alignment)
                alignment.vertical = "top"
                new = self.wb._alignments.add(alignment)
            else:
                new = old
            self.top_ids[old] = new
        if new != old:
            cell._style.alignmentId = new  # each cell holds its own style array (openpyxl copies it)


def _drop_unwritten_cells(wb: Any) -> None:
    """Remove the cells openpyxl would not write (no value, style, comment or link), on every sheet.

    Reading a table cell by cell makes an empty cell at every free place of the grid; openpyxl skips
    them when it saves, but only after sorting them with the others."""
    from openpyxl.cell.cell import Cell

    for ws in wb.worksheets:
        cells = ws._cells
        empty = [
            key
            for key, c in cells.items()
            if c._value is None
            and type(c) is Cell
            and c._comment is None
            and c._hyperlink is None
            and (c._style is None or not any(c._style))
        ]
        for key in empty:
            del cells[key]


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


def _problems_sheet(
    wb: Any, lines: Iterable[ProblemLine], st: _Styles, title: str, quote: str
) -> tuple[Any, AddedCells]:
    """The Input problems sheet: its header by openpyxl, its lines as cells added when it is saved."""
    ws = wb.create_sheet(title)
    ws.append(list(PROBLEM_HEADERS))
    for cell in ws[1]:
        st.header(cell)
    added = AddedCells(0)
    r = 1
    for line in lines:
        r += 1
        values = problem_row(line)
        added.add(r, values, [quote if type(v) is str and looks_like_formula(v) else "" for v in values])
    ws.cell(r, len(PROBLEM_HEADERS))  # an empty cell: the sheet's dimension covers the lines added
    for c, width in enumerate(PROBLEM_WIDTHS):
        ws.column_dimensions[column_letter(c)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{column_letter(len(PROBLEM_HEADERS) - 1)}{max(r, 2)}"
    return ws, added


def _review_columns(ws: Any, existing: dict[str, int], col: int, hr: int, last: int, st: _Styles) -> int:
    """The clinician's Review columns with their drop-downs; kept untouched when the sheet has them already."""
    from openpyxl.worksheet.datavalidation import DataValidation

    for header, choices, width in zip(REVIEW_HEADERS, (REVIEW_CHOICES, REVIEW_REASONS), REVIEW_WIDTHS, strict=True):
        if header in existing:  # a re-run: the clinician's decisions stay as they are
            continue
        cell = ws.cell(hr, col)
        put(cell, header)
        st.header(cell)
        letter = column_letter(col - 1)
        dv = DataValidation(type="list", formula1=review_list(choices), allow_blank=True, showDropDown=False)
        dv.promptTitle, dv.prompt = header, "accepted, or overridden with a reason"
        dv.add(f"{letter}{hr + 1}:{letter}{max(last, hr + 1) + 1000}")
        ws.add_data_validation(dv)
        ws.column_dimensions[letter].width = width
        col += 1
    return col


def write_annotated(table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], path: Path) -> None:
    """Append the output columns to ``table``'s sheet, add the extra sheets, save to ``path``.

    ``extra`` is called after all rows were consumed and returns the Summary and Sources contents.
    """
    wb = table.workbook
    ws = wb[table.sheet]
    _drop_unwritten_cells(wb)
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
    styles = _CellStyles(wb, st)
    cells = ws._cells  # (row, column) -> cell, read without making empty cells
    first = min(targets)
    slots = [c - first for c in targets]
    in_order = slots == list(range(len(slots)))  # the output columns side by side, in mg.COLUMNS order
    added = AddedCells(first - 1)
    lines: list[ProblemLine] = []
    last = hr
    for f in rows:
        r = hr + 1 + f.index
        last = r
        if f.output is None:  # an empty row: not a patient
            continue
        height = row_height(f.output)
        if height and (ws.row_dimensions[r].height or 0) < height:
            ws.row_dimensions[r].height = height
            for j in range(len(f.values)):  # taller row: top-align input cells that had no alignment of their own
                cell = cells.get((r, c0 + j))
                if cell is not None:
                    styles.top_align(cell)
        for col in targets:  # a re-run: the old flags give way to the new ones
            cells.pop((r, col), None)
        attrs = styles.output(f.output)
        if in_order:
            added.add(r, f.output, attrs)
        else:
            values: list[Any] = [None] * (max(slots) + 1)
            spread = [""] * len(values)
            for k, slot in enumerate(slots):
                values[slot], spread[slot] = f.output[k], attrs[k]
            added.add(r, values, spread)
        lines.extend(f.problems)
    sample_rows = min(last, hr + 200)
    for j, name in enumerate(table.names):
        letter = column_letter(c0 - 1 + j)
        if name not in mg.COLUMNS and not ws.column_dimensions[letter].customWidth:
            sample = [ws.cell(r, c0 + j).value for r in range(hr + 1, sample_rows + 1)]
            ws.column_dimensions[letter].width = input_width(name, sample)
    for name, col in out_cols.items():
        ws.column_dimensions[column_letter(col - 1)].width = OUTPUT_WIDTHS[name]
    end_col = _review_columns(ws, existing, next_col, hr, last, st)  # 1-based, after the last column written
    id_col = c0 + table.names.index(table.id_column) if table.id_column in table.names else 0  # 1-based, 0: none
    ws.print_title_rows = f"{hr}:{hr}"
    if id_col:
        ws.print_title_cols = f"{column_letter(c0 - 1)}:{column_letter(id_col - 1)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.freeze_panes = ws.cell(hr + 1, id_col + 1).coordinate  # the header and the patient id stay in view
    ws.auto_filter.ref = f"{column_letter(c0 - 1)}{hr}:{column_letter(end_col - 2)}{max(last, hr + 1)}"
    names = sheet_names(wb.sheetnames)
    problems, problem_cells = _problems_sheet(wb, lines, st, names["Input problems"], styles.quote)
    for content in extra():
        _render(wb, content, st, names[content.name])
    wb.active = wb.sheetnames.index(table.sheet)
    with save_with_cells({id(ws): added, id(problems): problem_cells}):
        wb.save(path)
