"""Annotate mode adds its cells to the sheet XML openpyxl writes (batch/cell_patch.py): rows merged in column
order, rows openpyxl did not write added, and the workbook read back the same as if openpyxl had written them."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

import mgdecision as mg
from mgdecision import outputs
from mgdecision.batch import cell_patch
from mgdecision.batch.cell_patch import AddedCells, merge_rows

from .conftest import flagged_table

HEAD = b'<worksheet xmlns="x"><dimension ref="A1:C9"/><sheetData>'
TAIL = b'</sheetData><pageMargins left="0.7"/></worksheet>'


def _merge(rows: bytes, added: AddedCells, *, head: bytes = HEAD) -> bytes:
    out = io.BytesIO()
    merge_rows(io.BytesIO(head + rows + (TAIL if not head.endswith(b"/>") else TAIL[12:])), out.write, added.rendered())
    return out.getvalue()


@pytest.mark.parametrize("read_bytes", [7, 1 << 22])  # rows cut across reads, and whole
def test_rows_merged_added_and_kept(monkeypatch: pytest.MonkeyPatch, read_bytes: int) -> None:
    monkeypatch.setattr(cell_patch, "READ_BYTES", read_bytes)
    rows = (
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>a &lt;c x</t></is></c></row>'
        b'<row r="4" ht="30" customHeight="1"><c r="A4"><v>1</v></c><c r="D4" s="2"><v>7</v></c></row>'
        b'<row r="5" />'
        b'<row r="6"><c r="B6"><v>3</v></c></row>'
    )
    added = AddedCells(1)  # from column B
    added.add(1, ["one"], [' s="4"'])  # before every row openpyxl wrote
    added.add(2, ["x", 2.5], ["", ""])  # after the cell in A
    added.add(3, ["new row"], [""])  # a row openpyxl did not write
    added.add(4, ["B", None, "=D"], ["", "", ' s="9"'])  # around D4, and D4 replaced
    added.add(5, [True], [""])  # a self-closed row
    added.add(9, ["last"], [""])  # after every row
    xml = _merge(rows, added)
    assert xml.startswith(HEAD) and xml.endswith(TAIL)
    body = xml[len(HEAD) : -len(TAIL)].decode()
    assert [m.group(1) for m in re.finditer(r'<row r="(\d+)"', body)] == ["1", "2", "3", "4", "5", "6", "9"]
    row4 = re.search(r'<row r="4".*?</row>', body).group()
    assert re.findall(r'<c r="([A-Z]+)4"', row4) == ["A", "B", "D"]
    assert '<c r="D4" s="9" t="inlineStr"><is><t xml:space="preserve">=D</t></is></c>' in row4
    assert 'ht="30" customHeight="1"' in row4 and "<v>7</v>" not in row4
    assert '<c r="B1" s="4"' in body and "a &lt;c x" in body and '<c r="B6"><v>3</v></c>' in body
    assert '<row r="5"><c r="B5" t="b"><v>1</v></c></row>' in body


def test_sheet_without_rows_gets_the_added_rows() -> None:
    added = AddedCells(0)
    added.add(2, ["a", 1], ["", ""])
    xml = _merge(b"", added, head=HEAD[: -len(b"<sheetData>")] + b"<sheetData />")
    assert b'<sheetData><row r="2"><c r="A2" t="inlineStr">' in xml and xml.endswith(TAIL)


def test_damaged_sheet_xml_raises() -> None:
    with pytest.raises(ValueError, match="ends inside"):
        merge_rows(io.BytesIO(HEAD + b'<row r="2"><c r="A2">'), io.BytesIO().write, iter([]))


def _cells_in_order(path: Path) -> None:
    """Every row of every sheet holds its cells in column order, each cell once (as Excel requires)."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.startswith("xl/worksheets/sheet"):
                continue
            xml = zf.read(name).decode()
            numbers = [int(r) for r in re.findall(r'<row r="(\d+)"', xml)]
            assert numbers == sorted(set(numbers)), name
            for row in re.findall(r"<row [^>]*>(.*?)</row>", xml):
                cols = [openpyxl.utils.column_index_from_string(c) for c in re.findall(r'<c r="([A-Z]+)\d+"', row)]
                assert cols == sorted(set(cols)), name


def test_existing_output_columns_out_of_order_with_user_columns_between(tmp_path: Path, run_cli) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(
        ["Patient ID", "Age", "Sex", "mg_reasons", "Serum Mg (mmol/L)", "eGFR", "mg_risk", "Medications", "Notes"]
    )
    for i in range(12):
        ws.append(
            [
                f"P-{i}",
                40 + i,
                "MF"[i % 2],
                "old" if i % 3 else None,
                0.5 + i * 0.03,
                30 + 5 * i,
                "OLD" if i % 4 else None,
                "furosemide" if i % 2 else "omeprazole",
                f"note {i}" if i % 2 else None,
            ]
        )
    ws["J4"] = "right of every column"
    src = tmp_path / "odd.xlsx"
    wb.save(src)
    out = tmp_path / "odd.flagged.xlsx"
    assert run_cli("assess", src, "--annotate", "-o", out, "-q")[0] == 0
    _cells_in_order(out)
    header, rows = flagged_table(out)
    assert header.index("Reasons") == 3 and header.index("Risk") == 6 and header[8] == "Notes"  # kept, now plain
    df = openpyxl.load_workbook(src)["Patients"]
    frame = [[c.value for c in r] for r in df.iter_rows(min_row=2, max_col=9)]
    import pandas as pd

    expected = mg.assess_frame(pd.DataFrame(frame, columns=header[:9], dtype=object))
    for i, row in enumerate(rows):
        assert row["Notes"] == frame[i][8]
        for name in mg.COLUMNS:
            want = expected[name].iloc[i]
            assert row[name] == (None if want in ("", None) or want != want else want), (i, name)
    assert openpyxl.load_workbook(out)["Patients"]["J4"].value == "right of every column"


def test_output_cells_styled_like_openpyxl_cells(clinic: Path, run_cli) -> None:
    assert run_cli("assess", clinic, "--annotate", "-q")[0] == 0
    out = clinic.with_name("clinic.flagged.xlsx")
    _cells_in_order(out)
    wb = openpyxl.load_workbook(out)
    ws = wb["Patients"]
    header = [c.value for c in ws[1]]
    risk, reasons = header.index("Risk") + 1, header.index("Reasons") + 1
    for r in range(2, ws.max_row + 1):
        level = ws.cell(r, risk)
        word = outputs.machine_value("mg_risk", level.value)
        assert level.fill.fgColor.rgb[-6:] == mg.palette.LEVELS[word].fill.lstrip("#").upper()
        assert level.font.b and level.alignment.vertical == "top"
        assert ws.cell(r, reasons).alignment.wrap_text
    problems = wb["Input problems"]
    assert problems.max_row == len(list(problems.iter_rows())) > 1
    assert all(isinstance(c.value, int) for c in problems["A"][1:])


def test_a_save_that_skips_the_added_cells_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wb = openpyxl.Workbook()
    added = AddedCells(0)
    added.add(1, ["x"], [""])
    monkeypatch.setattr(openpyxl.Workbook, "save", lambda self, path: Path(path).write_bytes(b"PK"))
    with (
        pytest.raises(RuntimeError, match="without the added cells"),
        cell_patch.save_with_cells({id(wb.active): added}),
    ):
        wb.save(tmp_path / "x.xlsx")


def test_the_openpyxl_writer_seam_holds(tmp_path: Path) -> None:
    """Annotate mode extends openpyxl's private workbook writer; ``python3 dev.py matrix`` runs this against the
    newest openpyxl published, beyond the declared bound, so a release that changes the writer is seen at once."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "kept"
    other = wb.create_sheet("Other")
    other["A1"] = "untouched"
    added = AddedCells(1)
    added.add(1, ["added", 2.5], ["", ""])
    added.add(3, ["new row"], [""])
    with cell_patch.save_with_cells({id(ws): added}):
        wb.save(tmp_path / "x.xlsx")
    assert added.written
    back = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert [[c.value for c in r] for r in back.active.iter_rows()] == [
        ["kept", "added", 2.5], [None, None, None], [None, "new row", None]]
    assert [[c.value for c in r] for r in back["Other"].iter_rows()] == [["untouched"]]


@pytest.mark.parametrize("change", ["no write_worksheet", "sheet stored with writestr"])
def test_a_changed_openpyxl_writer_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    import openpyxl.writer.excel as excel

    if change == "no write_worksheet":
        monkeypatch.setattr(excel, "ExcelWriter", type("ExcelWriter", (), {}))
    else:
        class WritesText(excel.ExcelWriter):  # type: ignore[misc,name-defined]
            def write_worksheet(self, ws: object) -> None:
                self._archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")

        monkeypatch.setattr(excel, "ExcelWriter", WritesText)
    wb = openpyxl.Workbook()
    added = AddedCells(0)
    added.add(1, ["x"], [""])
    with (
        pytest.raises(RuntimeError, match=r"openpyxl \S+ saved the workbook without the added cells .*--streaming"),
        cell_patch.save_with_cells({id(wb.active): added}),
    ):
        wb.save(tmp_path / "x.xlsx")
