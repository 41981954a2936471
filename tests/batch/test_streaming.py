"""Streaming mode: same flagged values as annotate mode, in order, with worker processes too."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import mgdecision as mg
import mgdecision.batch.engine as engine
from mgdecision import outputs
from mgdecision.batch import RunOptions, assess_file
from mgdecision.batch.sheets import HEADER_FILL, LEVEL_FILLS, REVIEW_HEADERS

from .conftest import HEADERS, ROWS, flagged_table, write_clinic

MANY = [[f"{r[0]}-{i}", *r[1:]] for i in range(9) for r in ROWS]  # 54 rows


@pytest.fixture
def many(tmp_path: Path) -> Path:
    return write_clinic(tmp_path / "many.xlsx", header_row=2, rows=MANY)


def test_streaming_equals_annotate(many: Path, run_cli) -> None:
    assert run_cli("assess", many, "--annotate", "-o", many.with_name("a.xlsx"), "-q")[0] == 0
    assert run_cli("assess", many, "--streaming", "-o", many.with_name("s.xlsx"), "-q")[0] == 0
    ha, a = flagged_table(many.with_name("a.xlsx"))
    hs, s = flagged_table(many.with_name("s.xlsx"))
    assert ha == hs == HEADERS + [outputs.header(c) for c in mg.COLUMNS] + list(REVIEW_HEADERS)
    assert [r["Patient ID"] for r in s] == [r[0] for r in MANY]
    for ra, rs in zip(a, s, strict=True):
        assert {c: ra[c] for c in mg.COLUMNS} == {c: rs[c] for c in mg.COLUMNS}

    wb = openpyxl.load_workbook(many.with_name("s.xlsx"))
    ws = wb["Patients"]
    assert wb.sheetnames == ["Patients", "Input problems", "Reasons", "Summary", "Sources"]
    assert ws.freeze_panes == "B3"  # header on row 2, as in the input, and the patient id column stay in view
    last = openpyxl.utils.get_column_letter(len(HEADERS) + len(mg.COLUMNS) + len(REVIEW_HEADERS))
    assert ws.auto_filter.ref == f"A2:{last}{len(MANY) + 2}"
    for name in outputs.LEVEL_COLUMNS:
        cell = ws.cell(3, len(HEADERS) + 1 + mg.COLUMNS.index(name))
        assert cell.fill.fgColor.rgb.endswith(LEVEL_FILLS[outputs.machine_value(name, cell.value)]) and cell.font.b
    assert ws.cell(2, 1).font.b and ws.cell(2, 1).fill.fgColor.rgb.endswith(HEADER_FILL)
    assert len(wb["Summary"]._charts) == 3
    heights = [ws.row_dimensions[r].height for r in range(3, len(MANY) + 3)]
    assert all(h for h in heights)  # long wrapped text gets taller rows, on every row (none lost when flushed)


@pytest.mark.slow
def test_ods_input_read_by_calamine(many: Path, run_cli) -> None:
    import shutil
    import subprocess

    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is needed to make the .ods input")
    subprocess.run(["soffice", "--headless", "--convert-to", "ods", "--outdir", str(many.parent), str(many)],
                   check=True, capture_output=True, timeout=120)
    code, out, _ = run_cli("assess", many.with_suffix(".ods"), "-q")
    assert code == 0 and "streaming mode" in out
    _, rows = flagged_table(many.with_name("many.flagged.xlsx"))
    assert [r["Patient ID"] for r in rows] == [r[0] for r in MANY]
    assert [r["mg_risk"] for r in rows] == [mg.assess(dict(zip(HEADERS, r, strict=True))).row()["mg_risk"]
                                            for r in MANY]


def test_worker_processes_keep_order(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "CHUNK_ROWS", 7)
    single = assess_file(RunOptions(many, many.with_name("one.xlsx"), streaming=True, quiet=True, workers=0))
    multi = assess_file(RunOptions(many, many.with_name("two.xlsx"), streaming=True, quiet=True, workers=2))
    assert single.tally == multi.tally and single.problems == multi.problems
    assert flagged_table(single.output) == flagged_table(multi.output)
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(multi.output)["Input problems"].iter_rows()]
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])


def test_automatic_streaming_above_threshold(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mgdecision.batch.run as run

    monkeypatch.setattr(run, "STREAMING_THRESHOLD_BYTES", 100)
    assert assess_file(RunOptions(many, quiet=True)).mode == "streaming"
    monkeypatch.setattr(run, "STREAMING_THRESHOLD_BYTES", 10**9)
    assert assess_file(RunOptions(many, force=True, quiet=True)).mode == "annotate"


def test_very_large_inputs_are_read_slice_by_slice_with_the_same_result(
    many: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mgdecision.batch.source as source

    assert run_cli("assess", many, "--streaming", "-o", many.with_name("calamine.xlsx"), "-q")[0] == 0
    used: list[Path] = []
    real = source.open_slices

    def spy(path: Path, sheet: str | None, header_row: int | None = None) -> source.Table:
        used.append(path)
        return real(path, sheet, header_row)

    monkeypatch.setattr(source, "LARGE_XLSX_BYTES", 0)
    monkeypatch.setattr(source, "open_slices", spy)
    monkeypatch.setattr("mgdecision.batch.xlsx_slices.SLICE_BYTES", 2000)  # many slices
    assert run_cli("assess", many, "--streaming", "-o", many.with_name("rows.xlsx"), "-q")[0] == 0
    assert used == [many]
    hc, c = flagged_table(many.with_name("calamine.xlsx"))
    hr, r = flagged_table(many.with_name("rows.xlsx"))
    assert hc == hr and c == r  # same input values echoed, same flags, same order


@pytest.mark.slow
def test_streaming_output_opens_in_libreoffice(many: Path, run_cli, tmp_path: Path) -> None:
    import csv
    import shutil
    import subprocess

    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = many.with_name("lo.xlsx")
    assert run_cli("assess", many, "--streaming", "-o", out, "-q")[0] == 0
    folder = tmp_path / "csv"
    subprocess.run(["soffice", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,"
                    "true,false,false,false,-1", "--outdir", str(folder), str(out)],
                   check=True, capture_output=True, timeout=180)
    with (folder / "lo-Patients.csv").open(newline="", encoding="utf-8") as fh:
        seen = [r for r in csv.reader(fh) if any(r)]
    header, rows = flagged_table(out)
    assert seen[0] == header
    assert len(seen) == len(rows) + 1
    for got, want in zip(seen[1:], rows, strict=True):
        assert got[0] == want["Patient ID"]
        for name in mg.COLUMNS:
            if name not in outputs.NUMERIC_COLUMNS:
                assert got[len(HEADERS) + mg.COLUMNS.index(name)] == (outputs.plain(name, want[name]) or ""), name
    for sheet in ("Input problems", "Reasons", "Summary"):
        assert (folder / f"lo-{sheet}.csv").exists()
