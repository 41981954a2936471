"""Print workbooks as a clinician would: LibreOffice headless to PDF, then measure the PDF with poppler.

``to_pdf`` converts with a throw-away LibreOffice profile that recalculates every formula on loading (so a
workbook written without cached values shows what a spreadsheet shows); ``text_heights`` reads each word's
box from ``pdftotext -bbox``; ``pages`` counts pages per sheet through the page footer; ``to_png`` renders
pages with ``pdftoppm`` to look at.
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PAPER", "Printed", "available", "print_workbook", "to_csv", "to_pdf", "to_png", "with_paper"]

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PAPER = {"A4": 9, "Letter": 1}  # the paper size codes of a sheet's page setup

# Recalculate every formula when a workbook is loaded (LibreOffice otherwise shows the values saved in the file).
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)


def available() -> bool:
    return SOFFICE is not None and shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None


def _convert(source: Path, out_dir: Path, target: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="mg-lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_PROFILE)
        subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                        "--convert-to", target, "--outdir", str(out_dir), str(source)],
                       check=True, capture_output=True, timeout=240)
    produced = out_dir / f"{source.stem}.{target.split(':')[0]}"
    if not produced.exists():
        raise RuntimeError(f"LibreOffice did not convert {source.name} to {target}")
    return produced


def to_pdf(source: Path, out_dir: Path) -> Path:
    """``source`` printed to ``out_dir/<stem>.pdf`` by LibreOffice (every sheet, its own print setup)."""
    return _convert(source, out_dir, "pdf")


def to_csv(source: Path, out_dir: Path) -> list[Path]:
    """Every sheet of ``source`` as CSV (``<stem>-<sheet>.csv``, UTF-8) after LibreOffice recalculated it."""
    with contextlib.suppress(RuntimeError):  # the files are named after the sheets, not <stem>.csv
        _convert(source, out_dir, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
    return sorted(out_dir.glob(f"{source.stem}-*.csv"))


def to_png(pdf: Path, prefix: Path, *, dpi: int = 60, first: int = 1, last: int | None = None) -> list[Path]:
    """Pages ``first..last`` of ``pdf`` as PNG files ``prefix-N.png``."""
    cmd = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(first)]
    if last is not None:
        cmd += ["-l", str(last)]
    subprocess.run([*cmd, str(pdf), str(prefix)], check=True, capture_output=True, timeout=120)
    return sorted(prefix.parent.glob(f"{prefix.name}-*.png"))


@dataclass
class Printed:
    """What a printed workbook looks like: pages, their size (points), and every word with its box height."""

    pdf: Path
    page_sizes: list[tuple[float, float]]
    words: list[list[tuple[str, float]]]  # per page: (text, box height in points)
    footers: list[str]  # per page: the text of its last line (the page footer)

    @property
    def pages(self) -> int:
        return len(self.page_sizes)

    @property
    def median_height(self) -> float:
        heights = [h for page in self.words for _, h in page]
        return statistics.median(heights) if heights else 0.0

    def blank_pages(self) -> list[int]:
        return [i + 1 for i, page in enumerate(self.words) if not page]

    def text(self, page: int) -> str:
        return " ".join(w for w, _ in self.words[page - 1])

    def sheet_pages(self) -> dict[str, int]:
        """Pages per sheet, the sheet named at the left of each page's footer ("Patients Page 1 of 9 ...")."""
        counts: dict[str, int] = {}
        for footer in self.footers:
            name = footer.split(" Page ")[0] if " Page " in footer else "?"
            counts[name] = counts.get(name, 0) + 1
        return counts


def measure(pdf: Path) -> Printed:
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    sizes, words, footers = [], [], []
    for width, height, body in _PAGE.findall(xml):
        sizes.append((float(width), float(height)))
        found = [(html.unescape(m[4]), float(m[3]) - float(m[1]), float(m[1]), float(m[0]))
                 for m in _WORD.findall(body)]
        words.append([(w, h) for w, h, _, _ in found])
        bottom = max((y for _, _, y, _ in found), default=0.0)
        last_line = sorted((f for f in found if f[2] > bottom - 2), key=lambda f: f[3])
        footers.append(" ".join(w for w, _, _, _ in last_line))
    return Printed(pdf, sizes, words, footers)


def with_paper(source: Path, target: Path, paper: str) -> Path:
    """A copy of ``source`` whose every sheet prints on ``paper`` ("A4" or "Letter"), nothing else changed."""
    import zipfile

    code = PAPER[paper]
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet") and info.filename.endswith(".xml"):
                text = data.decode("utf-8")
                text = re.sub(r'\spaperSize="\d+"', "", text)
                text, n = re.subn(r"<pageSetup\b", f'<pageSetup paperSize="{code}"', text, count=1)
                if not n:
                    text = text.replace("</worksheet>", f'<pageSetup paperSize="{code}"/></worksheet>')
                data = text.encode("utf-8")
            zout.writestr(info, data)
    return target


def print_workbook(source: Path, out_dir: Path, paper: str | None = None) -> Printed:
    """``source`` (on ``paper`` when given) printed to PDF by LibreOffice and measured."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if paper is not None:
        source = with_paper(source, out_dir / f"{source.stem}.{paper}.xlsx", paper)
    return measure(to_pdf(source, out_dir))
