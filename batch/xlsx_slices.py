"""Rows of a very large .xlsx/.xlsm worksheet in bounded memory, still parsed by python-calamine (Rust).

python-calamine holds a whole sheet in memory (about 1 GB at 1,000,000 rows); openpyxl's read-only mode makes a
Python object per cell (about 70 s per 1,000,000 rows). Here the sheet XML is inflated as a stream and cut at row
ends into slices of about :data:`SLICE_BYTES`; each slice becomes a small workbook in memory (the same shared
strings and styles) that python-calamine reads. Memory stays at about one slice; values are what python-calamine
gives for the whole sheet (saved values of formula cells, never evaluated). A sheet part that declares a DTD is
refused (no entity can expand). Merged cells are listed after the rows, so they are not looked at here.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mgdecision import UsageError

from .io_safety import RefusedInput

__all__ = ["SLICE_BYTES", "SheetSlices"]

SLICE_BYTES = 32_000_000  # sheet XML per slice: about 80,000 rows of a clinic sheet
READ_BYTES = 4_000_000
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '<Override PartName="/xl/sharedStrings.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
          '<Override PartName="/xl/styles.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_BOOK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
              f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
              f'<Relationship Id="rId3" Type="{RELS}/styles" Target="styles.xml"/></Relationships>')


def _no_dtd(data: bytes) -> bytes:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise RefusedInput("refused: a workbook part declares a DTD (possible XML entity attack)")
    return data


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})\d*(?::([A-Z]{1,3})\d*)?"')


def _column_index(letters: bytes) -> int:
    index = 0
    for c in letters:
        index = index * 26 + c - 64
    return index - 1


def _dimension_columns(prefix: bytes) -> tuple[int, int] | None:
    """The used columns (first, last; 0-based) the sheet declares in its ``<dimension>``, if it does."""
    found = _DIMENSION.search(prefix)
    if found is None:
        return None
    first = _column_index(found.group(1))
    return first, _column_index(found.group(2) or found.group(1))


class SheetSlices:
    """One sheet of a large workbook, read slice by slice: ``name``, :meth:`rows` and, once the first row was
    read, ``columns`` (the used columns the sheet declares, or None)."""

    def __init__(self, path: Path, sheet: str | None) -> None:
        from defusedxml.ElementTree import fromstring

        self.zip = zipfile.ZipFile(path)
        self.columns: tuple[int, int] | None = None
        names = set(self.zip.namelist())
        book = fromstring(self.zip.read("xl/workbook.xml"))
        pr = book.find(f"{{{MAIN}}}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
        sheets = [(s.get("name"), s.get(f"{{{RELS}}}id")) for s in book.iter(f"{{{MAIN}}}sheet")]
        if not sheets:
            raise UsageError("the workbook has no sheet")
        if sheet is not None and sheet not in [s[0] for s in sheets]:
            raise UsageError(f"no sheet named {sheet!r}; sheets are: {', '.join(str(s[0]) for s in sheets)}")
        self.name, rid = next(s for s in sheets if sheet is None or s[0] == sheet)
        rels = fromstring(self.zip.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels.iter() if r.get("Id") == rid)
        self.part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        empty_sst = f'<sst xmlns="{MAIN}" count="0" uniqueCount="0"/>'.encode()
        self.strings = _no_dtd(self.zip.read("xl/sharedStrings.xml")) if "xl/sharedStrings.xml" in names \
            else empty_sst
        self.styles = _no_dtd(self.zip.read("xl/styles.xml")) if "xl/styles.xml" in names else \
            f'<styleSheet xmlns="{MAIN}"/>'.encode()

    def _workbook(self, prefix: bytes, rows: bytes) -> bytes:
        date1904 = ' date1904="1"' if self.date1904 else ""
        book = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" '
                f'xmlns:r="{RELS}"><workbookPr{date1904}/><sheets>'
                '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("[Content_Types].xml", _TYPES)
            zf.writestr("_rels/.rels", _ROOT_RELS)
            zf.writestr("xl/workbook.xml", book)
            zf.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
            zf.writestr("xl/sharedStrings.xml", self.strings)
            zf.writestr("xl/styles.xml", self.styles)
            zf.writestr("xl/worksheets/sheet1.xml", prefix + rows + b"</sheetData></worksheet>")
        return buf.getvalue()

    def _slices(self) -> Iterator[tuple[bytes, bytes]]:
        """(sheet XML up to and including ``<sheetData>``, whole rows) pieces of about SLICE_BYTES."""
        with self.zip.open(self.part) as fh:
            data = b""
            while b"<sheetData" not in data:
                chunk = fh.read(READ_BYTES)
                if not chunk:
                    return
                data += chunk
            _no_dtd(data)
            at = data.index(b"<sheetData")
            end = data.index(b">", at)
            if data[end - 1:end] == b"/":  # <sheetData/>: no rows
                return
            prefix, data = data[:end + 1], data[end + 1:]
            self.columns = _dimension_columns(prefix)
            done = False
            while not done:
                while len(data) < SLICE_BYTES:
                    chunk = fh.read(READ_BYTES)
                    if not chunk:
                        done = True
                        break
                    data += chunk
                closing = data.find(b"</sheetData>")
                if closing >= 0:
                    yield prefix, data[:closing]
                    return
                cut = data.rfind(b"</row>") + len(b"</row>")
                if cut < len(b"</row>"):
                    if done:
                        raise RefusedInput("the sheet XML ends inside a row; the workbook is damaged")
                    continue
                yield prefix, data[:cut]
                data = data[cut:]

    def rows(self) -> Iterator[list[Any]]:
        """Every row from the sheet's first row and first column (empty rows as empty lists)."""
        import python_calamine

        expected = 0  # 0-based sheet row of the next row to yield
        for prefix, rows in self._slices():
            ws = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self._workbook(prefix, rows))) \
                .get_sheet_by_index(0)
            if not ws.start:
                continue
            top, left = ws.start
            values = ws.to_python(skip_empty_area=True)
            del ws
            while expected < top:
                yield []
                expected += 1
            pad = [""] * left
            for row in values:
                yield pad + row if left else row
                expected += 1

    def close(self) -> None:
        self.zip.close()
