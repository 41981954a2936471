"""Streaming mode: a new workbook written row by row in bounded memory.

The patient sheet keeps the input's row and column positions (so problem cell references match the
input), followed by the output columns (plain headers and level labels); the patient id column and the header
stay in view, and every sheet prints as :mod:`~mgdecision.batch.sheets` sets out. The patient, "Input
problems" and "Reasons" sheets are written by :mod:`~mgdecision.batch.sheet_xml` (text is always text); the
Summary and Sources sheets and the styles by XlsxWriter.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import mgdecision as mg
from mgdecision.outputs import LEVEL, OUTPUTS

from .engine import Flagged
from .sheet_xml import BackgroundWriter, SheetLayout, SheetWriter, escape
from .sheets import (
    CHART_SIZE_PX,
    FOOTER,
    HEADER_FILL,
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
    sheet_names,
    shown_output,
    text_height,
)
from .source import Table, column_letter, to_naive

__all__ = ["MAX_ROWS", "WORKBOOK_OPTIONS", "write_streaming"]

MAX_ROWS = 1_048_576  # rows in one worksheet
ROWS_LEVEL = 1  # deflate level of the two large sheets: level 6 takes three times as long for 20 % less size
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


def _print(ws: Any, setup: PrintSetup) -> None:
    """A worksheet's print setup (XlsxWriter): landscape, margins, footer, titles, area, fit or scale."""
    ws.set_landscape()
    ws.set_margins(*(MARGINS[k] for k in ("left", "right", "top", "bottom")))
    ws.set_header("", {"margin": MARGINS["header"]})
    ws.set_footer(FOOTER, {"margin": MARGINS["footer"]})
    if setup.fit_width:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(PRINT_SCALE)
        ws.print_across()
    if setup.title_rows is not None:
        ws.repeat_rows(*setup.title_rows)
    if setup.title_cols is not None:
        ws.repeat_columns(*setup.title_cols)
    if setup.area is not None:
        ws.print_area(*setup.area)


def _render(wb: Any, content: SheetContent, title: str, fmts: dict[str, Any],
            cells_for: Callable[[Any], _Cells]) -> None:
    ws = wb.add_worksheet(title)
    cells = cells_for(ws)
    wrapped = content.wrapped
    for c, width in enumerate(content.widths):
        ws.set_column(c, c, width, fmts["wrap"] if c in wrapped else None)
    heights = content.heights()
    for r, (row, style) in enumerate(zip(content.block.rows, content.block.styles, strict=True)):
        if heights[r]:
            ws.set_row(r, heights[r])
        if style.startswith("level:"):
            cells.row(r, 0, row[:1], fmts.get(style))
            cells.row(r, 1, row[1:])
        elif style:
            cells.row(r, 0, row, fmts.get(style))
        else:
            for c, v in enumerate(row):
                cells.row(r, c, [v], fmts["wrap"] if c in wrapped else None)
    for spec in content.charts:
        chart = wb.add_chart({"type": "bar"})
        chart.add_series({"categories": [title, spec.first, 0, spec.last, 0],
                          "values": [title, spec.first, 1, spec.last, 1], "name": spec.title,
                          "points": [{"fill": {"color": f"#{c}"}, "border": {"color": "#404040"}}
                                     for c in spec.colours]})
        chart.set_title({"name": spec.title})
        chart.set_legend({"none": True})
        chart.set_size({"width": CHART_SIZE_PX[0], "height": CHART_SIZE_PX[1]})
        ws.insert_chart(spec.anchor_row, 3, chart)
    setup = content.print_setup()
    _print(ws, PrintSetup(setup.fit_width, (0, 0), None, setup.area))


def _layout(**kwargs: Any) -> SheetLayout:
    """A hand-written sheet's layout with the print setup every sheet has."""
    return SheetLayout(landscape=True, scale=PRINT_SCALE, margins=MARGINS, footer=FOOTER, **kwargs)


def _xf(fmt: Any) -> int:
    """The format's ``xf`` index in its workbook, fixed now so the rows written by hand can refer to it."""
    return int(fmt._get_xf_index())


def write_streaming(table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], path: Path,
                    *, sample_rows: int = 200) -> None:
    """Write the patient sheet, "Input problems", "Reasons", then the ``extra()`` sheets (Summary, Sources).

    The three sheets with one or more lines per patient are written by :mod:`~mgdecision.batch.sheet_xml`
    straight into the archive; XlsxWriter writes the rest (styles, Summary with its charts, Sources) in memory,
    and its parts are copied in at the end."""
    import xlsxwriter

    small = io.BytesIO()
    wb = xlsxwriter.Workbook(small, {**WORKBOOK_OPTIONS, "constant_memory": False, "in_memory": True})
    fmts: dict[str, Any] = {
        "header": wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": f"#{HEADER_FILL}",
                                 "text_wrap": True, "valign": "top"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "alert": wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                "bg_color": f"#{LEVEL_FILLS['CAUTION']}"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "top": wb.add_format({"valign": "top"}),
    }
    for level, colour in LEVEL_FILLS.items():
        fmts[f"level:{level}"] = wb.add_format({"bold": True, "bg_color": f"#{colour}", "valign": "top"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})
    datetime_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm", "valign": "top"})
    xf = {name: _xf(f) for name, f in fmts.items()}
    attr = {name: f' s="{i}"' for name, i in xf.items()}

    def cells_for(ws: Any) -> _Cells:
        return _Cells(ws, date_fmt, datetime_fmt)

    titles = sheet_names([table.sheet[:31]])
    ws = wb.add_worksheet(table.sheet[:31])  # placeholders: their XML is written below, by hand
    problems_ws = wb.add_worksheet(titles["Input problems"])
    reasons_ws = wb.add_worksheet(titles["Reasons"])
    # a flagged workbook again: its old output columns give way to the new ones
    previous = output_positions(table.raw_header or table.names)
    keep = [j for j in range(len(table.names)) if j not in set(previous.values())]
    names = [table.names[j] for j in keep]
    r0, c0 = table.header_row - 1, table.first_col
    out_c0 = c0 + len(keep)
    out_styles = [attr["wrap" if wrap else "top"] for _, wrap in OUTPUT_LAYOUT]
    level_at = {k for k, o in enumerate(OUTPUTS) if o.palette == LEVEL}
    level_attr = {k[6:]: v for k, v in attr.items() if k.startswith("level:")}
    id_col = next((c0 + k for k, j in enumerate(keep) if table.names[j] == str(table.id_column)), None)
    rows = iter(rows)
    head = [f for _, f in zip(range(sample_rows), rows, strict=False)]  # buffered to size the columns
    widths = []
    for j, name in enumerate(names):
        widths.append(input_width(name, [f.values[keep[j]] for f in head]))
    widths += [width for width, _ in OUTPUT_LAYOUT]
    review_c0 = out_c0 + len(mg.COLUMNS)
    reviews = [h for h in REVIEW_HEADERS if h not in table.names]  # kept as input columns on a re-run
    widths += list(REVIEW_WIDTHS[:len(reviews)])
    setup = print_setup(widths)
    layout = _layout(selected=True, fit_width=setup.fit_width, over_then_down=True, freeze_rows=r0 + 1,
                     freeze_cols=0 if id_col is None else id_col + 1)
    wraps = [True] * len(keep) + [wrap for _, wrap in OUTPUT_LAYOUT] + [False] * len(reviews)
    for k, (width, wrap) in enumerate(zip(widths, wraps, strict=True)):
        layout.cols.append((c0 + k, width, xf["wrap" if wrap else "top"]))
    end_col = review_c0 + len(reviews) - 1
    plain = attr["wrap"]
    problems_layout = _layout(freeze_rows=1, fit_width=print_setup(PROBLEM_WIDTHS).fit_width,
                              cols=[(c, w, None) for c, w in enumerate(PROBLEM_WIDTHS)])
    problem_styles = [plain if c in PROBLEM_WRAP else "" for c in range(len(PROBLEM_HEADERS))]
    reasons_layout = _layout(freeze_rows=1, fit_width=print_setup(REASON_WIDTHS).fit_width,
                             cols=[(c, w, None) for c, w in enumerate(REASON_WIDTHS)])
    reason_styles = [attr["top"], attr["top"], attr["top"], plain]
    header_style = attr["header"]
    last, pr, rr, unlisted = r0, 0, 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ROWS_LEVEL, allowZip64=True) as zf, \
            tempfile.TemporaryFile(dir=path.parent, prefix=".mgdecision-problems-") as problems_tmp, \
            tempfile.TemporaryFile(dir=path.parent, prefix=".mgdecision-reasons-") as reasons_tmp:
        problem_rows = SheetWriter(problems_tmp.write, _xf(date_fmt), _xf(datetime_fmt))
        problem_rows.row(0, 0, PROBLEM_HEADERS, [header_style] * len(PROBLEM_HEADERS))
        reason_rows = SheetWriter(reasons_tmp.write, _xf(date_fmt), _xf(datetime_fmt))
        reason_rows.row(0, 0, REASON_HEADERS, [header_style] * len(REASON_HEADERS))
        id_at = None if id_col is None else id_col - c0
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            background = BackgroundWriter(member.write)
            try:
                background(layout.prefix())
                sheet = SheetWriter(background, _xf(date_fmt), _xf(datetime_fmt))
                heads = [*names, *output_headers(), *reviews]
                sheet.row(r0, c0, heads, [header_style] * len(heads))
                styles = [plain] * len(keep) + out_styles
                level_slots = [(len(keep) + k, k) for k in sorted(level_at)]

                def all_rows() -> Iterable[Flagged]:
                    yield from head
                    yield from rows

                for f in all_rows():
                    out = f.output
                    if out is None:  # an empty row: not a patient, nothing written
                        continue
                    last = r0 + 1 + f.index
                    values = f.values if len(keep) == len(f.values) else [f.values[j] for j in keep]
                    for slot, k in level_slots:
                        styles[slot] = level_attr.get(out[k], "")
                    sheet.row(last, c0, [*values, *shown_output(out)], styles, f.height)
                    pid = "" if id_at is None or values[id_at] is None else str(values[id_at])
                    for line in reasons_rows(last + 1, pid, out, f.reasons):
                        if rr + 1 < MAX_ROWS - 1:
                            rr += 1
                            reason_rows.row(rr, 0, line, reason_styles, text_height(line[3], REASON_WIDTHS[3]))
                    for line in f.problems:
                        if pr + 1 < MAX_ROWS - 1:
                            pr += 1
                            values = problem_row(line)
                            problem_rows.row(pr, 0, values, problem_styles,
                                             text_height(str(values[7]), PROBLEM_WIDTHS[7]))
                        else:
                            unlisted += 1
                sheet.flush()
                lists = {"Review": REVIEW_CHOICES, "Review reason": REVIEW_REASONS}
                validations = "".join(
                    f'<dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1" '
                    f'sqref="{column_letter(review_c0 + k)}{r0 + 2}:{column_letter(review_c0 + k)}{last + 1001}">'
                    f"<formula1>{escape(review_list(lists[h]))}</formula1></dataValidation>"
                    for k, h in enumerate(reviews))
                background(layout.suffix(f"{column_letter(c0)}{r0 + 1}:{column_letter(end_col)}{max(last, r0 + 1) + 1}",
                                         f'<dataValidations count="{len(reviews)}">{validations}</dataValidations>'
                                         if reviews else ""))
            finally:
                background.close()
        if unlisted:
            pr += 1
            problem_rows.row(pr, 7, [f"{unlisted:,} more problems not listed here (sheet full); see the "
                                     "Input problems column of the patient sheet"], [""])
        problem_rows.flush()
        reason_rows.flush()
        for name, tmp, sheet_layout, width, count in (
                ("sheet2", problems_tmp, problems_layout, len(PROBLEM_HEADERS), pr),
                ("sheet3", reasons_tmp, reasons_layout, len(REASON_HEADERS), rr)):
            with zf.open(f"xl/worksheets/{name}.xml", "w", force_zip64=True) as member:
                member.write(sheet_layout.prefix())
                tmp.seek(0)
                shutil.copyfileobj(tmp, member, 1 << 20)
                member.write(sheet_layout.suffix(f"A1:{column_letter(width - 1)}{max(count, 1) + 1}"))
        # the workbook parts (defined names for the filters, print titles and areas come from these settings)
        ws.autofilter(r0, c0, max(last, r0 + 1), end_col)
        ws.repeat_rows(r0)
        if id_col is not None:
            ws.repeat_columns(c0, id_col)
        ws.print_area(r0, c0, max(last, r0 + 1), end_col)
        for placeholder, count, width in ((problems_ws, pr, len(PROBLEM_HEADERS)),
                                          (reasons_ws, rr, len(REASON_HEADERS))):
            placeholder.autofilter(0, 0, max(count, 1), width - 1)
            placeholder.repeat_rows(0)
            placeholder.print_area(0, 0, max(count, 1), width - 1)
        for content in extra():
            _render(wb, content, titles[content.name], fmts, cells_for)
        wb.close()
        written = {f"xl/worksheets/sheet{k}.xml" for k in (1, 2, 3)}
        with zipfile.ZipFile(small) as parts:
            for info in parts.infolist():
                if info.filename not in written:
                    zf.writestr(info.filename, parts.read(info.filename), compress_type=zipfile.ZIP_DEFLATED,
                                compresslevel=6)
