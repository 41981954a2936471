"""The sample workbooks: flagged values equal ``mg.assess`` row by row, in annotate and streaming mode."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import mgdecision as mg

from .conftest import machine_row, sha256

SAMPLES = Path(__file__).resolve().parents[2] / "sample_workbooks"
NAMES = ["ms_clinic", "neuromuscular_clinic", "primary_care", "template"]


def _input_rows(path: Path) -> tuple[list[Any], list[dict[Any, Any]]]:
    wb = openpyxl.load_workbook(path, data_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    start = next(i for i, r in enumerate(rows) if any(v is not None for v in r))
    header = rows[start]
    while header and header[-1] is None:
        header = header[:-1]
    return header, [dict(zip(header, r, strict=False)) for r in rows[start + 1:]]


def _output_rows(path: Path, sheet: str, n_header: int) -> list[dict[str, Any]]:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if "Risk" in r)
    header = rows[start]
    return [machine_row(header, r) for r in rows[start + 1:] if any(v is not None for v in r)]


def _blank(value: Any, like: Any) -> Any:
    return ("" if isinstance(like, str) else None) if value is None else value


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    from mgdecision.batch.cli import main

    missing = [n for n in NAMES if not (SAMPLES / f"{n}.xlsx").exists()]
    if missing:
        pytest.skip(f"sample workbooks not generated yet: {missing}")
    folder = tmp_path_factory.mktemp("samples")
    out = {}
    for name in NAMES:
        src = folder / f"{name}.xlsx"
        shutil.copy(SAMPLES / f"{name}.xlsx", src)
        before = sha256(src)
        for mode in ("annotate", "streaming"):
            target = folder / f"{name}.{mode}.xlsx"
            assert main(["assess", str(src), f"--{mode}", "-o", str(target), "-q"]) == 0
            out[name, mode] = target
        assert sha256(src) == before
    return out


@pytest.mark.parametrize("name", NAMES)
def test_sample_flags_equal_core_assess(flagged: dict[tuple[str, str], Path], name: str) -> None:
    header, inputs = _input_rows(SAMPLES / f"{name}.xlsx")
    sheet = openpyxl.load_workbook(SAMPLES / f"{name}.xlsx", read_only=True).sheetnames[0]
    annotated = _output_rows(flagged[name, "annotate"], sheet, len(header))
    streamed = _output_rows(flagged[name, "streaming"], sheet, len(header))
    assert len(annotated) == len(streamed) == len(inputs)
    for i, (row, a, s) in enumerate(zip(inputs, annotated, streamed, strict=True)):
        expected = mg.assess(row).row()
        assert {c: _blank(a[c], expected[c]) for c in mg.COLUMNS} == expected, f"annotate row {i}"
        assert {c: _blank(s[c], expected[c]) for c in mg.COLUMNS} == expected, f"streaming row {i}"
        first = header[0]
        assert a[first] == row[first] and s[first] == row[first]  # same order, nothing dropped


def test_sample_other_sheets_kept(flagged: dict[tuple[str, str], Path]) -> None:
    src = openpyxl.load_workbook(SAMPLES / "ms_clinic.xlsx")
    out = openpyxl.load_workbook(flagged["ms_clinic", "annotate"])
    assert out.sheetnames == [*src.sheetnames, "Input problems", "Reasons", "Summary", "Sources"]
    for name in src.sheetnames[1:]:
        assert [[c.value for c in r] for r in out[name].iter_rows()] == [[c.value for c in r]
                                                                         for r in src[name].iter_rows()]
    streamed = openpyxl.load_workbook(flagged["ms_clinic", "streaming"])
    assert streamed.sheetnames == [src.sheetnames[0], "Input problems", "Reasons", "Summary", "Sources"]
    prob_a = [[c.value for c in r] for r in out["Input problems"].iter_rows()]
    prob_s = [[c.value for c in r] for r in streamed["Input problems"].iter_rows()]
    assert prob_a == prob_s and len(prob_a) > 1


def test_shipped_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    """The generator is deterministic and the shipped files are its output (run: python sample_workbooks/generate.py);
    the template explains every field of the knowledge."""
    import subprocess
    import sys

    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), str(tmp_path)], check=True, capture_output=True,
                   timeout=600)
    for name in NAMES:
        assert sha256(tmp_path / f"{name}.xlsx") == sha256(SAMPLES / f"{name}.xlsx"), \
            f"{name}.xlsx: run python sample_workbooks/generate.py"
    rows = [r for r in openpyxl.load_workbook(SAMPLES / "template.xlsx")["Instructions"].iter_rows(values_only=True)]
    explained = {r[0]: r[2] for r in rows if r[0]}
    assert all(explained.get(f.name) for f in mg.knowledge().fields), [f.name for f in mg.knowledge().fields
                                                                         if not explained.get(f.name)]
