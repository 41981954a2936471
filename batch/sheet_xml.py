"""One worksheet's XML, written row by row into a stream: the fast writer of streaming mode.

XlsxWriter spends most of a large run in Python work per cell; this writer builds each row as one string
(inline strings, so text is always text: a cell starting with ``=`` is never a formula) and hands blocks of
rows to a thread that compresses them (zlib works outside the GIL). Styles are XlsxWriter's: the caller
passes the ``xf`` index of each format of the same workbook. Everything else of the workbook (styles,
other sheets, charts) is still written by XlsxWriter.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cell_limits import MAX_CELL_CHARS, fit_cell, safe_text
from .source import column_letter, to_naive

__all__ = ["BackgroundWriter", "SheetLayout", "SheetWriter", "escape"]

NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_SPECIAL_CHAR = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # the quick check
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_EPOCH = dt.datetime(1899, 12, 30)
_LETTERS = [column_letter(i) for i in range(16_384)]
BLOCK_ROWS = 500  # rows joined into one write
TEXT_CACHE_CHARS = 4_000_000  # characters of text whose cell XML is kept (repeated flags, drug lists, reasons);
# when full the cache starts again, so unique texts (patient ids) never crowd out the repeated ones for long
TEXT_CACHE_LONGEST = 4_096  # longer texts are not kept


def _escape_one(m: re.Match[str]) -> str:
    s = m.group()
    if s in _ENTITIES:
        return _ENTITIES[s]
    if len(s) > 1:  # a literal "_x0041_" would be read as an escape: escape its underscore
        return "_x005F" + s
    if "\ud800" <= s <= "\udfff":
        return "\ufffd"
    return f"_x{ord(s):04X}_"


def escape(text: str) -> str:
    """Text for an OOXML ``<t>``: XML entities, control characters as ``_xHHHH_``."""
    if text.isascii() and text.isprintable():  # the usual case: only & < > and "_x" to look for
        if "&" not in text and "<" not in text and ">" not in text and "_x" not in text:
            return text
    elif _SPECIAL_CHAR.search(text) is None and "_x" not in text:
        return text
    return _SPECIAL.sub(_escape_one, text)


def _serial(value: dt.date | dt.datetime) -> float:
    if isinstance(value, dt.datetime):
        delta = to_naive(value) - _EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return float((value - _EPOCH.date()).days)


@dataclass
class SheetLayout:
    """What comes before and after the rows: columns, frozen panes, filter, print setup."""

    cols: list[tuple[int, float, int | None]] = field(default_factory=list)  # (0-based col, width, xf index)
    freeze_rows: int = 0  # rows above the split
    freeze_cols: int = 0  # columns left of the split
    selected: bool = False
    landscape: bool = False
    fit_width: bool = False
    scale: int = 100  # print scale in % when not fitted to the page width
    over_then_down: bool = False  # page order of a sheet wider than a page
    margins: Mapping[str, float] | None = None  # inches: left, right, top, bottom, header, footer
    footer: str = ""  # the page footer (Excel codes such as &P)

    def prefix(self) -> bytes:
        parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {NS}>']
        if self.fit_width:
            parts.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        selected = ' tabSelected="1"' if self.selected else ""
        view = f'<sheetView{selected} workbookViewId="0">'
        if self.freeze_rows or self.freeze_cols:
            top_left = f"{_LETTERS[self.freeze_cols]}{self.freeze_rows + 1}"
            pane = ("bottomRight" if self.freeze_rows and self.freeze_cols else
                    "bottomLeft" if self.freeze_rows else "topRight")
            split = (f' xSplit="{self.freeze_cols}"' if self.freeze_cols else "") + \
                    (f' ySplit="{self.freeze_rows}"' if self.freeze_rows else "")
            view += (f'<pane{split} topLeftCell="{top_left}" activePane="{pane}" state="frozen"/>'
                     f'<selection pane="{pane}" activeCell="{top_left}" sqref="{top_left}"/>')
        parts.append(f"<sheetViews>{view}</sheetView></sheetViews>")
        parts.append('<sheetFormatPr defaultRowHeight="15"/>')
        if self.cols:
            parts.append("<cols>")
            for c, width, xf in sorted(self.cols):
                style = f' style="{xf}"' if xf else ""
                parts.append(f'<col min="{c + 1}" max="{c + 1}" width="{width + 0.7109375:.7f}"{style} '
                             'customWidth="1"/>')
            parts.append("</cols>")
        parts.append("<sheetData>")
        return "".join(parts).encode()

    def suffix(self, autofilter: str | None = None, extra: str = "") -> bytes:
        parts = ["</sheetData>"]
        if autofilter:
            parts.append(f'<autoFilter ref="{autofilter}"/>')
        parts.append(extra)
        m = {"left": 0.7, "right": 0.7, "top": 0.75, "bottom": 0.75, "header": 0.3, "footer": 0.3,
             **(self.margins or {})}
        parts.append(f'<pageMargins left="{m["left"]}" right="{m["right"]}" top="{m["top"]}" bottom="{m["bottom"]}" '
                     f'header="{m["header"]}" footer="{m["footer"]}"/>')
        attrs = (' pageOrder="overThenDown"' if self.over_then_down else "") + \
                (' orientation="landscape"' if self.landscape else "") + \
                (' fitToWidth="1" fitToHeight="0"' if self.fit_width else
                 f' scale="{self.scale}"' if self.scale != 100 else "")
        if attrs:
            parts.append(f"<pageSetup{attrs}/>")
        if self.footer:
            parts.append(f"<headerFooter><oddFooter>{escape(self.footer)}</oddFooter></headerFooter>")
        parts.append("</worksheet>")
        return "".join(parts).encode()


class SheetWriter:
    """Rows of one sheet as XML into ``write`` (blocks of :data:`BLOCK_ROWS` rows)."""

    def __init__(self, write: Callable[[bytes], Any], date_xf: int, datetime_xf: int) -> None:
        self.write = write
        self.block: list[str] = []
        self.texts: dict[str, str] = {}  # text -> the end of its cell XML (escaped once)
        self.cached_chars = 0
        self.date_style = f' s="{date_xf}"'
        self.datetime_style = f' s="{datetime_xf}"'

    def row(self, r: int, c0: int, values: Sequence[Any], styles: Sequence[str], height: float | None = None) -> None:
        """Row ``r`` (0-based): ``values`` from column ``c0`` on, each with its style attribute (``' s="3"'``)."""
        n = str(r + 1)
        out = [f'<row r="{n}" ht="{height}" customHeight="1">' if height else f'<row r="{n}">']
        texts = self.texts
        for c, v, s in zip(range(c0, c0 + len(values)), values, styles, strict=True):
            t = type(v)
            if t is str:
                if v:
                    x = texts.get(v)
                    if x is None:
                        size = len(v)
                        shown = v if size <= MAX_CELL_CHARS else fit_cell(v)  # a cell holds no more
                        x = f' t="inlineStr"><is><t xml:space="preserve">{escape(shown)}</t></is></c>'
                        if size <= TEXT_CACHE_LONGEST:
                            self.cached_chars += size
                            if self.cached_chars > TEXT_CACHE_CHARS:
                                texts.clear()
                                self.cached_chars = size
                            texts[v] = x
                    out.append(f'<c r="{_LETTERS[c]}{n}"{s}{x}')
                elif s:
                    out.append(f'<c r="{_LETTERS[c]}{n}"{s}/>')
            elif v is None:
                if s:
                    out.append(f'<c r="{_LETTERS[c]}{n}"{s}/>')
            elif t is int or t is float:
                if t is float and not math.isfinite(v):
                    out.append(f'<c r="{_LETTERS[c]}{n}"{s} t="e"><v>#NUM!</v></c>')
                else:
                    out.append(f'<c r="{_LETTERS[c]}{n}"{s}><v>{v!r}</v></c>')
            elif t is bool:
                out.append(f'<c r="{_LETTERS[c]}{n}"{s} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, dt.datetime):
                out.append(f'<c r="{_LETTERS[c]}{n}"{self.datetime_style}><v>{_serial(v)!r}</v></c>')
            elif isinstance(v, dt.date):
                out.append(f'<c r="{_LETTERS[c]}{n}"{self.date_style}><v>{_serial(v)!r}</v></c>')
            elif isinstance(v, int | float):
                out.append(f'<c r="{_LETTERS[c]}{n}"{s}><v>{float(v)!r}</v></c>')
            else:
                text = escape(fit_cell(safe_text(v)))
                out.append(f'<c r="{_LETTERS[c]}{n}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
                           )
        out.append("</row>")
        self.block.append("".join(out))
        if len(self.block) >= BLOCK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.block:
            self.write("".join(self.block).encode("utf-8", "replace"))
            self.block = []


class BackgroundWriter:
    """``write(data)`` handed to a thread (compression runs beside the XML building); errors come back."""

    def __init__(self, write: Callable[[bytes], Any], depth: int = 4) -> None:
        self._write = write
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mgdecision-xlsx-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None:
                try:
                    self._write(data)
                except BaseException as exc:  # reported to the producer on its next call
                    self._error = exc

    def __call__(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
