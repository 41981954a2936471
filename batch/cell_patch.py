"""Cells added to a worksheet while openpyxl saves it, without making an openpyxl cell for each.

openpyxl spends about 20 µs on every cell it writes; annotate mode adds more cells than the input holds (ten
output columns of long texts, the problem lines). Here openpyxl writes the workbook as it stands (the user's
cells, the headers, styles, widths, validations, print setup) and, as it stores a registered sheet's XML in
the archive, the added rows' cells are merged into that XML in one streaming pass: each row's cells are
rendered by :class:`~mgdecision.batch.sheet_xml.SheetWriter` (inline strings, so text is never a formula) with
style ids of the workbook's own cell style list, and merged into the row openpyxl wrote in column order (a
new row where openpyxl wrote none). Compression runs in a second thread.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from .sheet_xml import BackgroundWriter, SheetWriter

__all__ = ["AddedCells", "merge_rows", "save_with_cells"]

READ_BYTES = 1 << 22
WRITE_BYTES = 1 << 20
LEVEL = 1  # deflate level of a sheet with added cells: level 6 takes about three times as long for 20 % less
_ROW_NUMBER = re.compile(rb'\sr="(\d+)"')
_CELL_COLUMN = re.compile(rb'(?:^|\s)r="([A-Z]+)')
_SAVING = threading.Lock()


def _column(piece: bytes) -> int:
    """0-based column of a cell's XML (without its leading ``<c ``)."""
    m = _CELL_COLUMN.search(piece)
    if m is None:
        raise ValueError("a cell without a reference in the sheet XML")
    n = 0
    for ch in m.group(1):
        n = n * 26 + ch - 64
    return n - 1


class AddedCells:
    """Rows of values to add to one worksheet: ``add(row, values, styles)`` with the values of consecutive
    columns from ``first_col`` (0-based; ``None`` or ``""`` writes nothing) and their style attributes
    (``' s="5"'``, or ``""``). Rows must be added in ascending order."""

    def __init__(self, first_col: int, date_xf: int = 0, datetime_xf: int = 0) -> None:
        self.first_col = first_col
        self.rows: list[tuple[int, Sequence[Any], Sequence[str]]] = []  # 1-based row, values, styles
        self.written = False
        self._writer = SheetWriter(self._unused, date_xf, datetime_xf)

    @staticmethod
    def _unused(data: bytes) -> None:
        raise AssertionError("rows are taken one by one")

    def add(self, row: int, values: Sequence[Any], styles: Sequence[str]) -> None:
        self.rows.append((row, values, styles))

    def rendered(self) -> Iterator[tuple[int, bytes]]:
        """(1-based row, the cells' XML) for every row added, in order."""
        w, c0 = self._writer, self.first_col
        for r, values, styles in self.rows:
            w.row(r - 1, c0, values, styles)
            xml = w.block.pop()
            yield r, xml[xml.index(">") + 1 : -6].encode("utf-8", "replace")  # without <row r="..."> and </row>


def _merged(start: bytes, content: bytes, cells: bytes) -> bytes:
    """One ``<row>`` element: its start tag (without ``>``), the cells openpyxl wrote and the cells added."""
    if not cells:
        return start + b">" + content + b"</row>"
    if content:
        last = content.rfind(b"<c ")
        if last >= 0 and _column(content[last + 3 :]) >= _column(cells[3:]):  # not simply after: merge by column
            added = {_column(p): b"<c " + p for p in cells.split(b"<c ")[1:]}
            pieces = content.split(b"<c ")
            kept = [(_column(p), b"<c " + p) for p in pieces[1:] if _column(p) not in added]
            content = pieces[0] + b"".join(x for _, x in sorted([*kept, *added.items()], key=lambda t: t[0]))
            return start + b">" + content + b"</row>"
    return start + b">" + content + cells + b"</row>"


def merge_rows(src: IO[bytes], write: Callable[[bytes], Any], added: Iterator[tuple[int, bytes]]) -> None:
    """Copy a worksheet's XML from ``src`` to ``write`` with ``added`` cells merged into its rows."""
    pending = next(added, None)
    out: list[bytes] = []
    size = 0

    def emit(part: bytes) -> None:
        nonlocal size, out
        out.append(part)
        size += len(part)
        if size >= WRITE_BYTES:
            write(b"".join(out))
            out, size = [], 0

    def new_rows(before: int | None) -> None:
        nonlocal pending
        while pending is not None and (before is None or pending[0] < before):
            emit(b'<row r="%d">' % pending[0] + pending[1] + b"</row>")
            pending = next(added, None)

    data = b""
    while True:  # up to the start of the rows
        chunk = src.read(READ_BYTES)
        data += chunk
        at = data.find(b"<sheetData")
        if at >= 0 and data.find(b">", at) >= 0:
            break
        if not chunk:
            raise ValueError("no <sheetData> in the sheet XML")
    end = data.index(b">", at)
    if data[end - 1 : end] == b"/":  # no rows at all
        emit(data[:at] + b"<sheetData>")
        new_rows(None)
        emit(b"</sheetData>")
        data = data[end + 1 :]
    else:
        emit(data[: end + 1])
        data, pos = data[end + 1 :], 0
        while True:
            while data[pos : pos + 1].isspace():
                pos += 1
            if data.startswith(b"</sheetData>", pos):
                break
            tag_end = data.find(b">", pos) if data.startswith(b"<row", pos) else -2
            close = -1
            if tag_end >= 0:
                close = tag_end + 1 if data[tag_end - 1] == 0x2F else data.find(b"</row>", tag_end)
            if tag_end == -2 and len(data) - pos > len(b"</sheetData>"):
                raise ValueError("unexpected content in <sheetData>")
            if tag_end < 0 or close < 0:  # the row continues in the next chunk
                chunk = src.read(READ_BYTES)
                if not chunk:
                    raise ValueError("the sheet XML ends inside <sheetData>")
                data, pos = data[pos:] + chunk, 0
                continue
            m = _ROW_NUMBER.search(data, pos, tag_end)
            if m is None:
                raise ValueError("a row without a number in the sheet XML")
            r = int(m.group(1))
            new_rows(r)
            if pending is not None and pending[0] == r:
                if data[tag_end - 1] == 0x2F:  # <row .../>
                    emit(_merged(data[pos : tag_end - 1].rstrip(), b"", pending[1]))
                    pos = close
                else:
                    emit(_merged(data[pos:tag_end], data[tag_end + 1 : close], pending[1]))
                    pos = close + len(b"</row>")
                pending = next(added, None)
            else:
                stop = close if data[tag_end - 1] == 0x2F else close + len(b"</row>")
                emit(data[pos:stop])
                pos = stop
        new_rows(None)
        data = data[pos:]
    emit(data)
    while chunk := src.read(READ_BYTES):
        emit(chunk)
    if out:
        write(b"".join(out))


class _Archive:
    """Stands in for openpyxl's archive while it stores one worksheet: the XML goes through :func:`merge_rows`."""

    def __init__(self, archive: Any, cells: AddedCells) -> None:
        self.archive, self.cells = archive, cells

    def __getattr__(self, name: str) -> Any:  # openpyxl stores the sheet some other way: its writer has changed
        raise _writer_changed(f"the sheet stored with _archive.{name}")

    def write(self, filename: str, arcname: str) -> None:
        level = self.archive.compresslevel
        self.archive.compresslevel = LEVEL
        try:
            member = self.archive.open(arcname, "w", force_zip64=True)
        finally:
            self.archive.compresslevel = level
        with member, open(filename, "rb") as src:
            background = BackgroundWriter(member.write)
            try:
                merge_rows(src, background, self.cells.rendered())
            finally:
                background.close()
        self.cells.written = True


def _writer_changed(what: str) -> RuntimeError:
    import openpyxl

    return RuntimeError(f"openpyxl {openpyxl.__version__} saved the workbook without the added cells ({what}): its "
                        "writer is not the one annotate mode extends (ExcelWriter.write_worksheet storing the sheet "
                        "with _archive.write). Install the openpyxl mgdecision supports: "
                        'pip install "mgdecision[batch]"; or run with --streaming')


@contextlib.contextmanager
def save_with_cells(added: dict[int, AddedCells]) -> Iterator[None]:
    """Within this block, ``Workbook.save`` adds ``added[id(ws)]`` to worksheet ``ws`` as it is stored.

    openpyxl looks up its writer class at each save; a subclass that differs only for the registered
    worksheets stands in for it during the block (one block at a time). This extends openpyxl's private writer
    (hence ``openpyxl<3.2`` in pyproject.toml; ``python3 dev.py matrix`` tries the newest release): a writer that
    changed raises :class:`RuntimeError`, never a workbook without the added cells."""
    import openpyxl.writer.excel as excel

    original = getattr(excel, "ExcelWriter", None)
    if not callable(getattr(original, "write_worksheet", None)):
        raise _writer_changed("no ExcelWriter.write_worksheet")

    class Writer(original):  # type: ignore[misc,valid-type]
        def write_worksheet(self, ws: Any) -> None:
            cells = added.get(id(ws))
            if cells is None:
                super().write_worksheet(ws)
                return
            archive = getattr(self, "_archive", None)
            if not callable(getattr(archive, "open", None)):
                raise _writer_changed("no zip archive in ExcelWriter._archive")
            self._archive = _Archive(archive, cells)
            try:
                super().write_worksheet(ws)
            finally:
                self._archive = archive

    with _SAVING:
        excel.ExcelWriter = Writer
        try:
            yield
        finally:
            excel.ExcelWriter = original
    if not all(cells.written for cells in added.values()):  # never a workbook without its added cells
        raise _writer_changed("a worksheet not stored through _archive.write")
