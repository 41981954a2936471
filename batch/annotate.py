"""Annotate mode: the user's workbook (openpyxl) with the output columns appended and four sheets added.

Other sheets and formatting are kept. Every formula of the workbook was made inert before
(:mod:`~mgdecision.batch.neutralise`: saved values as text, risky names, validations and conditional
formats removed). Every string is written as text, never as a formula.

The output cells and the problem lines are not made as openpyxl cells (about 20 µs each, more cells than the
input holds): openpyxl saves the workbook with the headers, styles, widths, heights and drop-downs, and the
cells are merged into the sheet XML as it is stored (:mod:`~mgdecision.batch.cell_patch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from copy import copy
from pathlib import Path
from typing import Any

import mgdecision as mg

from .cell_patch import AddedCells, save_with_cells
from .engine import Flagged, ProblemLine
from .io_safety import FORMULA_PREFIXES, looks_like_formula
from .neutralise import put
from .sheets import (
    CHART_SIZE_PX,
    FOOTER_PARTS,
    HEADER_FILL,
    LEVEL_COLUMNS,
    LEVEL_FILLS,
    MARGINS,
    OUTPUT_LAYOUT,
    PRINT_SCALE,
    PROBLEM_HEADERS,
    PROBLEM_WIDTHS,
    PROBLEM_WRAP,
    REASON_HEADERS,
    REASON_WIDTHS,
    REVIEW_CHOICES,
    REVIEW_HEADERS,
    REVIEW_REASONS,
    REVIEW_WIDTHS,
    PrintSetup,
    SheetContent,
    input_width,
    output_headers,
    output_positions,
    print_setup,
    problem_row,
    reasons_rows,
    review_list,
    row_height,
    sheet_names,
    shown_output,
    text_height,
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
        """A header cell: white bold on the header colour, wrapped (as the streaming writer's headers)."""
        cell.font, cell.fill, cell.alignment = self.header_font, self.header_fill, self.wrap

    def level_cell(self, cell: Any, level: str) -> None:
        fill = self.level.get(level)
        if fill is not None:
            cell.fill, cell.font = fill, self.bold

    def alert(self, cell: Any) -> None:
        cell.fill, cell.font, cell.alignment = self.level["CAUTION"], self.bold, self.wrap


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

        aligned = [st.wrap if wrap else st.top for _, wrap in OUTPUT_LAYOUT]
        self.columns = [make(alignment=a) for a in aligned]
        self.quoted = [make(alignment=a, quote=True) for a in aligned]  # text that looks like a formula
        levels = {mg.COLUMNS.index(n) for n in LEVEL_COLUMNS}
        fills = {level: make(st.bold, fill, st.top) for level, fill in st.level.items()}
        self.level_at = [(k, fills) for k in sorted(levels)]
        self.quote = make(quote=True)
        self.wrapped = make(alignment=st.wrap)
        self.topped = make(alignment=st.top)
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


def _print(ws: Any, setup: PrintSetup) -> None:
    """A worksheet's print setup (openpyxl): landscape, margins, footer, titles, area, fit or scale."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.page_setup.orientation = "landscape"
    ws.page_margins = PageMargins(**MARGINS)
    ws.oddFooter.left.text, ws.oddFooter.center.text, ws.oddFooter.right.text = FOOTER_PARTS
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=setup.fit_width)
    if setup.fit_width:
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    else:
        ws.page_setup.scale, ws.page_setup.pageOrder = PRINT_SCALE, "overThenDown"
    if setup.title_rows is not None:
        ws.print_title_rows = f"{setup.title_rows[0] + 1}:{setup.title_rows[1] + 1}"
    if setup.title_cols is not None:
        ws.print_title_cols = f"{column_letter(setup.title_cols[0])}:{column_letter(setup.title_cols[1])}"
    if setup.area is not None:
        r1, c1, r2, c2 = setup.area
        ws.print_area = f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"


def _render(wb: Any, content: SheetContent, st: _Styles, title: str) -> None:
    from openpyxl.chart import BarChart, Reference
    from openpyxl.chart.marker import DataPoint

    ws = wb.create_sheet(title)
    wrapped = content.wrapped
    heights = content.heights()
    for r, (row, style) in enumerate(zip(content.block.rows, content.block.styles, strict=True), start=1):
        if heights[r - 1]:
            ws.row_dimensions[r].height = heights[r - 1]
        for c, value in enumerate(row, start=1):
            cell = ws.cell(r, c)
            put(cell, value)
            if c - 1 in wrapped:
                cell.alignment = st.wrap
            if style == "header":
                st.header(cell)
            elif style == "title":
                cell.font = st.title_font
            elif style == "alert":
                st.alert(cell)
            elif style.startswith("level:") and c == 1:
                st.level_cell(cell, style[6:])
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
        chart.width, chart.height = (px * 2.54 / 96 for px in CHART_SIZE_PX)  # cm
        ws.add_chart(chart, f"D{spec.anchor_row + 1}")
    setup = content.print_setup()
    _print(ws, PrintSetup(setup.fit_width, (0, 0), None, setup.area))


def _lines_sheet(wb: Any, title: str, headers: Sequence[str], widths: Sequence[float], wrap_at: Sequence[int],
                 lines: Iterable[Sequence[Any]], st: _Styles, styles: _CellStyles) -> tuple[Any, AddedCells]:
    """A sheet of lines under a header row (Input problems, Reasons): the header by openpyxl, the lines as
    cells added when it is saved, rows as tall as their wrapped text, printed with its header on every page."""
    ws = wb.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        st.header(cell)
    added = AddedCells(0)
    r = 1
    for values in lines:
        r += 1
        attrs = [styles.quote if type(v) is str and looks_like_formula(v) else
                 styles.wrapped if c in wrap_at else styles.topped for c, v in enumerate(values)]
        height = max((h for c in wrap_at if (h := text_height(str(values[c] or ""), widths[c]))), default=None)
        if height:
            ws.row_dimensions[r].height = height
        added.add(r, values, attrs)
    ws.cell(r, len(headers))  # an empty cell: the sheet's dimension covers the lines added
    for c, width in enumerate(widths):
        ws.column_dimensions[column_letter(c)].width = width
    ws.freeze_panes = "A2"
    last = f"{column_letter(len(headers) - 1)}{max(r, 2)}"
    ws.auto_filter.ref = f"A1:{last}"
    _print(ws, PrintSetup(print_setup(widths).fit_width, (0, 0), None, (0, 0, max(r, 2) - 1, len(headers) - 1)))
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
    # a flagged workbook again: its old output columns give way to the new ones
    previous = output_positions(table.raw_header or table.names)
    next_col = max(ws.max_column, c0 + len(table.names) - 1) + 1
    out_cols = {}
    for name, label in zip(mg.COLUMNS, output_headers(), strict=True):
        if name in previous:
            out_cols[name] = c0 + previous[name]
        else:
            out_cols[name] = next_col
            next_col += 1
        cell = ws.cell(hr, out_cols[name])
        put(cell, label)
        st.header(cell)
    targets = [out_cols[n] for n in mg.COLUMNS]
    styles = _CellStyles(wb, st)
    cells = ws._cells  # (row, column) -> cell, read without making empty cells
    first = min(targets)
    slots = [c - first for c in targets]
    in_order = slots == list(range(len(slots)))  # the output columns side by side, in mg.COLUMNS order
    added = AddedCells(first - 1)
    lines: list[ProblemLine] = []
    reasons: list[list[Any]] = []
    id_at = table.names.index(table.id_column) if table.id_column in table.names else None
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
        shown = shown_output(f.output)
        if in_order:
            added.add(r, shown, attrs)
        else:
            values: list[Any] = [None] * (max(slots) + 1)
            spread = [""] * len(values)
            for k, slot in enumerate(slots):
                values[slot], spread[slot] = shown[k], attrs[k]
            added.add(r, values, spread)
        lines.extend(f.problems)
        pid = "" if id_at is None or f.values[id_at] is None else str(f.values[id_at])
        reasons.extend(reasons_rows(r, pid, f.output, f.reasons))
    sample_rows = min(last, hr + 200)
    widths: dict[int, float] = {}
    for j, name in enumerate(table.names):
        letter = column_letter(c0 - 1 + j)
        if j not in previous.values() and not ws.column_dimensions[letter].customWidth:
            sample = [ws.cell(r, c0 + j).value for r in range(hr + 1, sample_rows + 1)]
            ws.column_dimensions[letter].width = input_width(name, sample)
        widths[c0 + j] = ws.column_dimensions[letter].width or 8.43
    for col, (width, _) in zip(out_cols.values(), OUTPUT_LAYOUT, strict=True):
        ws.column_dimensions[column_letter(col - 1)].width = width
        widths[col] = width
    end_col = _review_columns(ws, existing, next_col, hr, last, st)  # 1-based, after the last column written
    widths.update((c, ws.column_dimensions[column_letter(c - 1)].width or 8.43) for c in range(next_col, end_col))
    id_col = c0 + table.names.index(table.id_column) if table.id_column in table.names else 0  # 1-based, 0: none
    setup = print_setup([widths.get(c, 8.43) for c in range(c0, end_col)])
    _print(ws, PrintSetup(setup.fit_width, (hr - 1, hr - 1), (c0 - 1, id_col - 1) if id_col else None,
                          (hr - 1, c0 - 1, max(last, hr + 1) - 1, end_col - 2)))
    ws.freeze_panes = ws.cell(hr + 1, id_col + 1).coordinate  # the header and the patient id stay in view
    ws.auto_filter.ref = f"{column_letter(c0 - 1)}{hr}:{column_letter(end_col - 2)}{max(last, hr + 1)}"
    names = sheet_names(wb.sheetnames)
    problems, problem_cells = _lines_sheet(wb, names["Input problems"], PROBLEM_HEADERS, PROBLEM_WIDTHS, PROBLEM_WRAP,
                                           (problem_row(line) for line in lines), st, styles)
    reasons_ws, reason_cells = _lines_sheet(wb, names["Reasons"], REASON_HEADERS, REASON_WIDTHS, (3,), reasons, st,
                                            styles)
    for content in extra():
        _render(wb, content, st, names[content.name])
    wb.active = wb.sheetnames.index(table.sheet)
    with save_with_cells({id(ws): added, id(problems): problem_cells, id(reasons_ws): reason_cells}):
        wb.save(path)
