"""Streaming mode: a new workbook written row by row in bounded memory.

The patient sheet keeps the input's row and column positions (so problem cell references match the
input), followed by the output columns; the patient id column and the header stay in view, and it prints
landscape, fit to the page width, with the header row and the id column on every page. The patient and
"Input problems" sheets are written by :mod:`~mgdecision.batch.sheet_xml` (text is always text); the
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
    HEADER_FILL,
    LEVEL_FILLS,
    PROBLEM_HEADERS,
    PROBLEM_WIDTHS,
    REVIEW_CHOICES,
    REVIEW_HEADERS,
    REVIEW_REASONS,
    REVIEW_WIDTHS,
    SheetContent,
    input_width,
    problem_row,
    review_list,
    sheet_names,
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


def _xf(fmt: Any) -> int:
    """The format's ``xf`` index in its workbook, fixed now so the rows written by hand can refer to it."""
    return int(fmt._get_xf_index())


def write_streaming(table: Table, rows: Iterable[Flagged], extra: Callable[[], list[SheetContent]], path: Path,
                    *, sample_rows: int = 200) -> None:
    """Write the patient sheet, "Input problems", then the ``extra()`` sheets (Summary, Sources) to ``path``.

    The two sheets with one or more lines per patient are written by :mod:`~mgdecision.batch.sheet_xml`
    straight into the archive; XlsxWriter writes the rest (styles, Summary with its charts, Sources) in memory,
    and its parts are copied in at the end."""
    import xlsxwriter

    small = io.BytesIO()
    wb = xlsxwriter.Workbook(small, {**WORKBOOK_OPTIONS, "constant_memory": False, "in_memory": True})
    fmts: dict[str, Any] = {
        "header": wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": f"#{HEADER_FILL}",
                                 "text_wrap": True, "valign": "top"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
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
    keep = [j for j, n in enumerate(table.names) if n not in mg.COLUMNS]
    names = [table.names[j] for j in keep]
    r0, c0 = table.header_row - 1, table.first_col
    out_c0 = c0 + len(keep)
    out_styles = [attr["wrap" if o.wrap else "top"] for o in OUTPUTS]  # widths and wrapping as declared
    level_at = {k for k, o in enumerate(OUTPUTS) if o.palette == LEVEL}
    level_attr = {k[6:]: v for k, v in attr.items() if k.startswith("level:")}
    id_col = next((c0 + k for k, j in enumerate(keep) if table.names[j] == str(table.id_column)), None)
    rows = iter(rows)
    head = [f for _, f in zip(range(sample_rows), rows, strict=False)]  # buffered to size the columns
    layout = SheetLayout(selected=True, landscape=True, fit_width=True, freeze_rows=r0 + 1,
                         freeze_cols=0 if id_col is None else id_col + 1)
    for j, name in enumerate(names):
        width = input_width(name, [f.values[keep[j]] for f in head])
        layout.cols.append((c0 + j, width, xf["wrap"]))
    for k, o in enumerate(OUTPUTS):
        layout.cols.append((out_c0 + k, o.width, xf["wrap" if o.wrap else "top"]))
    review_c0 = out_c0 + len(mg.COLUMNS)
    reviews = [h for h in REVIEW_HEADERS if h not in table.names]  # kept as input columns on a re-run
    for k, width in enumerate(REVIEW_WIDTHS[:len(reviews)]):
        layout.cols.append((review_c0 + k, width, xf["top"]))
    end_col = review_c0 + len(reviews) - 1
    plain = attr["wrap"]
    problems_layout = SheetLayout(freeze_rows=1, cols=[(c, w, None) for c, w in enumerate(PROBLEM_WIDTHS)])
    header_style = attr["header"]
    last, pr, unlisted = r0, 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ROWS_LEVEL, allowZip64=True) as zf, \
            tempfile.TemporaryFile(dir=path.parent, prefix=".mgdecision-problems-") as problems_tmp:
        problem_rows = SheetWriter(problems_tmp.write, _xf(date_fmt), _xf(datetime_fmt))
        problem_rows.row(0, 0, PROBLEM_HEADERS, [header_style] * len(PROBLEM_HEADERS))
        no_styles = [""] * len(PROBLEM_HEADERS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            background = BackgroundWriter(member.write)
            try:
                background(layout.prefix())
                sheet = SheetWriter(background, _xf(date_fmt), _xf(datetime_fmt))
                heads = [*names, *mg.COLUMNS, *reviews]
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
                    sheet.row(last, c0, [*values, *out], styles, f.height)
                    for line in f.problems:
                        if pr + 1 < MAX_ROWS - 1:
                            pr += 1
                            problem_rows.row(pr, 0, problem_row(line), no_styles)
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
                                     "mg_input_problems column"], [""])
        problem_rows.flush()
        with zf.open("xl/worksheets/sheet2.xml", "w", force_zip64=True) as member:
            member.write(problems_layout.prefix())
            problems_tmp.seek(0)
            shutil.copyfileobj(problems_tmp, member, 1 << 20)
            member.write(problems_layout.suffix(f"A1:{column_letter(len(PROBLEM_HEADERS) - 1)}{max(pr, 1) + 1}"))
        # the workbook parts (defined names for the filters and print titles come from these settings)
        ws.autofilter(r0, c0, max(last, r0 + 1), end_col)
        ws.repeat_rows(r0)
        if id_col is not None:
            ws.repeat_columns(c0, id_col)
        problems_ws.autofilter(0, 0, max(pr, 1), len(PROBLEM_HEADERS) - 1)
        for content in extra():
            _render(wb, content, titles[content.name], fmts, cells_for)
        wb.close()
        with zipfile.ZipFile(small) as parts:
            for info in parts.infolist():
                if info.filename not in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
                    zf.writestr(info.filename, parts.read(info.filename), compress_type=zipfile.ZIP_DEFLATED,
                                compresslevel=6)
