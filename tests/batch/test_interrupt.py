"""Ctrl-C as a terminal sends it: SIGINT to the whole process group of a real run with worker processes, at random
moments, many times. Every time the run exits 130 with one line and leaves nothing behind (or, when the signal
came after the output was in place, exits 0 with the complete output); it never hangs, and no worker prints."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from mgdecision.batch import cli

from .conftest import HEADERS, ROWS

TRIES = 24
HANG_SECONDS = 90  # a run that has not ended this long after the signal is a hang: the test fails


def _workbook(path: Path, n: int) -> Path:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Patients")
    ws.write_row(0, 0, HEADERS)
    for i in range(n):
        row = ROWS[i % len(ROWS)]
        ws.write_row(i + 1, 0, [f"{row[0]}-{i}", *row[1:]])
    wb.close()
    return path


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(os, "killpg"), reason="needs Linux /proc")
def test_ctrl_c_to_the_process_group_stops_cleanly_every_time(tmp_path: Path) -> None:
    src = _workbook(tmp_path / "clinic.xlsx", 45_000)  # 3 chunks: the workers are busy for a few seconds
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rng = random.Random(os.environ.get("MG_SEED", "22"))
    outcomes: dict[int, int] = {}
    durations: list[float] = []
    for attempt in range(TRIES):
        out = out_dir / "clinic.flagged.xlsx"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mgdecision.batch", "assess", str(src), "-o", str(out), "--streaming", "-q",
             "--workers", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=tmp_path)
        # the moments chosen: from the start of the worker pool (the command has begun) to the expected end
        while not _children(proc.pid) and proc.poll() is None and time.monotonic() - started < HANG_SECONDS:
            time.sleep(0.005)
        expected = (sum(durations) / len(durations)) if durations else 4.0
        time.sleep(rng.uniform(0, expected * 1.1) if attempt % 4 else rng.uniform(0, 0.05))  # some at the very start
        signalled = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"try {attempt}: no exit {HANG_SECONDS} s after Ctrl-C (hang)")
        left = sorted(p.name for p in out_dir.iterdir())
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, (attempt, stderr)
        if proc.returncode == cli.EXIT_INTERRUPTED:
            assert stderr.strip().splitlines() == ["mgdecision: interrupted; no output written"], (attempt, stderr)
            assert left == [], (attempt, left)  # no output, no temporary file
            assert time.monotonic() - signalled < 30, attempt  # the workers were stopped, not waited for
        else:
            assert proc.returncode == cli.EXIT_OK, (attempt, proc.returncode, stderr)
            assert left == [out.name] and "Output:" in stdout
            with zipfile.ZipFile(out) as zf:
                assert zf.testzip() is None
            durations.append(signalled - started)
            out.unlink()
        deadline = time.monotonic() + 10
        while _group_alive(proc.pid) and time.monotonic() < deadline:  # no worker left running
            time.sleep(0.05)
        assert not _group_alive(proc.pid), f"try {attempt}: a process of the run outlived it"
        outcomes[proc.returncode] = outcomes.get(proc.returncode, 0) + 1
    assert outcomes.get(cli.EXIT_INTERRUPTED, 0) >= TRIES // 2, outcomes  # most signals came while it ran
