"""The flagged workbooks print: LibreOffice headless to PDF on A4 and Letter landscape, measured with poppler.

Pinned: the median height of the printed words (``pdftotext -bbox`` boxes; 11 pt text at 100 % measures about
14 pt, at the 75 % print scale about 10.7 pt) is at least 7 pt, every page has its footer with page numbers,
no page is blank, the patient sheet repeats its header row and id column on every page, and the page count
stays sane. The pages are rendered to PNG in artifacts/print/ to look at. Without LibreOffice the tests are
skipped locally and fail in CI.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision import outputs
from tests.printing import Printed, available, print_workbook, to_png

from .conftest import ROWS, write_clinic

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[2] / "sample_workbooks"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "print"
MIN_HEIGHT = 7.0  # points, the median word box height
PAPERS = ["A4", "Letter"]


@pytest.fixture(scope="module", autouse=True)
def libreoffice() -> None:
    if not available():
        message = "LibreOffice (soffice) and poppler (pdftotext, pdftoppm) are needed to print"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def _flag(source: Path, out: Path, run_cli, *args: str) -> Path:
    assert run_cli("assess", source, "-o", out, "-q", "--force", *args)[0] == 0
    return out


def _check_pages(printed: Printed, paper: str, own_sheet_pages: int = 0) -> None:
    """Landscape on ``paper``, no blank page, every page numbered in its footer (but the clinic's own sheets,
    ``own_sheet_pages`` of them, which keep their own setup)."""
    width, height = printed.page_sizes[0]
    assert width > height, "landscape"
    assert abs(width - (842 if paper == "A4" else 792)) < 2, paper
    assert printed.blank_pages() == []
    unnumbered = [k for k, footer in enumerate(printed.footers, start=1)
                  if not re.search(rf"Page {k} of {printed.pages}\b", footer)]
    assert len(unnumbered) == own_sheet_pages, (unnumbered, [printed.footers[k - 1] for k in unnumbered])


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("mode", ["--annotate", "--streaming"])
def test_ms_clinic_prints_readably(tmp_path: Path, run_cli, paper: str, mode: str) -> None:
    flagged = _flag(SAMPLES / "ms_clinic.xlsx", tmp_path / "ms_clinic.flagged.xlsx", run_cli, mode)
    printed = print_workbook(flagged, tmp_path / "pdf", paper)
    _check_pages(printed, paper, own_sheet_pages=2 if mode == "--annotate" else 0)  # the clinic's Notes sheet
    assert printed.median_height >= MIN_HEIGHT, printed.median_height
    sheets = printed.sheet_pages()
    for sheet in ("Patients", "Input problems", "Reasons", "Summary", "Sources"):
        assert sheets.get(sheet, 0) >= 1, sheet
    # 60 patients over some 25 columns: at most 5 pages across and 4 down; the short sheets fit their pages; the
    # Sources sheet lists every source and corrected claim of the knowledge, some 15 of them a page at least
    assert sheets["Patients"] <= 20, sheets
    assert sheets["Input problems"] == 1 and sheets["Summary"] == 1, sheets
    kb = mg.knowledge()
    assert sheets["Sources"] <= 1 + math.ceil((len(kb.sources) + len(kb.seed_conflicts)) / 15), sheets
    assert printed.pages <= sheets["Reasons"] + 30, sheets
    patients = [k for k, f in enumerate(printed.footers) if f.startswith("Patients ")]
    for k in patients:  # the header row and the patient id column on every page
        words = [w for w, _ in printed.words[k]]
        assert "MRN" in words and any(w.startswith("MS-00") for w in words), k + 1
    text = " ".join(printed.text(k + 1) for k in patients)
    for name in mg.COLUMNS:
        assert name not in text, name  # plain headers on paper
    # a level cell shows its label, never the machine word (the reasons text too: "Risk: Low - ...")
    machine = {w for name in outputs.LEVEL_COLUMNS for w in outputs.LEVELS[name]}
    assert [w for k in patients for w, _ in printed.words[k] if w in machine] == []
    assert outputs.header("mg_dose_status") in text and "None found" in text and "Not indicated" in text
    if paper == "A4" and mode == "--annotate":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(printed.pdf, ARTIFACTS / "ms_clinic.flagged.A4.pdf")
        to_png(printed.pdf, ARTIFACTS / "ms_clinic", dpi=50)


@pytest.mark.parametrize("name", ["neuromuscular_clinic", "primary_care"])
def test_other_samples_print(tmp_path: Path, run_cli, name: str) -> None:
    flagged = _flag(SAMPLES / f"{name}.xlsx", tmp_path / f"{name}.flagged.xlsx", run_cli)
    printed = print_workbook(flagged, tmp_path / "pdf", "A4")
    _check_pages(printed, "A4")
    assert printed.median_height >= MIN_HEIGHT
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    to_png(printed.pdf, ARTIFACTS / name, dpi=40, last=6)


def test_empty_template_prints_on_two_pages(tmp_path: Path) -> None:
    printed = print_workbook(SAMPLES / "template.xlsx", tmp_path / "pdf", "Letter")
    assert printed.pages <= 2 and printed.blank_pages() == []
    assert printed.sheet_pages() == {"Patients": 1, "Instructions": 1}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    to_png(printed.pdf, ARTIFACTS / "template", dpi=50)


def test_a_small_clinic_prints_on_few_pages(tmp_path: Path, run_cli) -> None:
    flagged = _flag(write_clinic(tmp_path / "clinic.xlsx"), tmp_path / "clinic.flagged.xlsx", run_cli)
    printed = print_workbook(flagged, tmp_path / "pdf", "Letter")
    _check_pages(printed, "Letter", own_sheet_pages=1)  # the clinic's Notes sheet
    sheets = printed.sheet_pages()
    assert sheets["Patients"] <= 5 and sheets["Summary"] == 1 and sheets["Input problems"] == 1, sheets
    assert len(ROWS) == 6
