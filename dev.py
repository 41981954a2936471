#!/usr/bin/env python3
"""Set-up and tasks for a fresh machine with only Python 3.11+: creates .venv, installs pinned dependencies.

python3 dev.py main     # batch-flag the MS clinic sample workbook (the main job)
python3 dev.py test     # lint, type-check and run the whole test suite
python3 dev.py demo     # print a few sample assessments
python3 dev.py bench    # print the benchmark figures
python3 dev.py snapshot # refresh the frozen outputs (tests/core/snapshots) after a change meant to alter them
python3 dev.py build    # build the wheel (dist/mgdecision-<version>-py3-none-any.whl) for pip or xlwings Lite
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"
INPUTS = (ROOT / "pyproject.toml", ROOT / "constraints.txt")


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def ensure_env() -> None:
    """Create .venv and install the project with every extra, pinned by constraints.txt (only when changed)."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in INPUTS)).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        venv.create(VENV, with_pip=True)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", ".[all,test]")
    STAMP.write_text(digest)


def main_job() -> None:
    out = ROOT / "sample_workbooks" / "ms_clinic.flagged.xlsx"
    _run(BIN / "mgdecision", "assess", "sample_workbooks/ms_clinic.xlsx", "-o", out, "--force")


def test() -> None:
    _run(
        PY,
        "-m",
        "ruff",
        "check",
        "mgdecision",
        "batch",
        "excel_addin",
        "widgets",
        "service",
        "tests",
        "benchmarks",
        "sample_workbooks",
        "dev.py",
    )
    _run(PY, "-m", "mypy", "mgdecision", "service")
    _run(PY, "-m", "pytest", "-q", *sys.argv[2:])


def bench() -> None:
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        _run(PY, script)


def build() -> None:
    """The pure-Python wheel in dist/ (the ready workbook, the app and the Lite files inside), with pip only."""
    _run(PY, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", ROOT / "dist", ROOT)
    for wheel in sorted((ROOT / "dist").glob("mgdecision-*.whl")):
        print(wheel)


def snapshot() -> None:
    """Refresh the frozen outputs (tests/core/snapshots) after a change meant to alter them; review the diff."""
    _run(PY, "-m", "tests.core.snapshot")


TASKS = {"main": main_job, "test": test, "demo": lambda: _run(PY, "-m", "mgdecision.demo"), "bench": bench,
         "build": build, "snapshot": snapshot}

if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells an older Python so
        sys.exit("mgdecision needs Python 3.11 or newer")
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    ensure_env()
    try:
        TASKS[sys.argv[1]]()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
