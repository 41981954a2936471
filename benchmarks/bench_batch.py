"""Benchmark of ``mgdecision assess --streaming`` against the I/O reference and the naive pandas route.

    python benchmarks/bench_batch.py                  # 100,000 and 1,000,000 rows (about 25 minutes)
    python benchmarks/bench_batch.py --sizes 100000   # about 4 minutes

For each size it writes a deterministic input workbook once (XlsxWriter, constant_memory; rows drawn
from the realistic, messy values of sample_workbooks/primary_care.xlsx with varied numbers), then runs
each method in its own subprocess and records wall time and peak RSS (``os.wait4`` rusage of that child):

- streaming: ``mgdecision assess INPUT -o OUT --streaming`` (python -m mgdecision.batch.cli);
- io_reference: the same read (python-calamine) and the same workbook written by the same writer
  (XlsxWriter constant_memory: patient sheet with formats, Input problems, Summary, Sources), without
  assessing: each row carries the outputs and problems of one of the first 1,000 rows (assessed once);
- naive: ``pandas.read_excel`` + row-wise ``DataFrame.apply`` of ``mg.assess`` + ``to_excel`` (openpyxl).
  When its estimate from a smaller size exceeds ``--naive-limit`` seconds it is extrapolated, and marked so.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_workbooks" / "primary_care.xlsx"
SEED = 20261122
SAMPLE_OUTPUTS = 1000  # the I/O reference writes these real output rows over and over


def generate(path: Path, n: int) -> None:
    """Write ``n`` rows: text columns drawn from the primary-care sample, numbers varied, ids unique."""
    import python_calamine
    import xlsxwriter

    sheet = python_calamine.CalamineWorkbook.from_path(str(SAMPLE)).get_sheet_by_index(0)
    rows = [r for r in sheet.to_python() if any(v != "" for v in r)]
    header, pool = rows[0], rows[1:]
    columns = [[r[j] for r in pool] for j in range(len(header))]
    numeric = [all(isinstance(v, float) or v == "" for v in col) for col in columns]
    rng = random.Random(SEED)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    ws = wb.add_worksheet(sheet.name)
    ws.write_row(0, 0, header)
    for i in range(1, n + 1):
        for j, col in enumerate(columns):
            v = col[rng.randrange(len(col))]
            if j == 0:
                ws.write_string(i, 0, f"B{i:07d}")
            elif v == "":
                continue
            elif numeric[j] and isinstance(v, float):
                ws.write_number(i, j, round(v * rng.uniform(0.85, 1.15), 2))
            elif isinstance(v, float):
                ws.write_number(i, j, v)
            elif isinstance(v, str):
                ws.write_string(i, j, v)
            else:
                ws.write(i, j, v)
    wb.close()


# ---------------------------------------------------------------- child processes (one method each)


def child_io_reference(src: Path, out: Path) -> None:
    """The same read and the same workbook written by the same writer, without assessing.

    The first ``SAMPLE_OUTPUTS`` rows are assessed once; every row then carries the outputs (and input
    problems) of one of them in turn, so the patient sheet, Input problems, Summary and Sources sheets hold
    the same volume of text, formats and rows as the real run.
    """
    from mgdecision.batch.engine import Flagged, Tally, _flag_chunk, header_map
    from mgdecision.batch.sheets import sources_sheet, summary_sheet
    from mgdecision.batch.source import open_streaming
    from mgdecision.batch.streaming import write_streaming

    table = open_streaming(src, None)  # the reader streaming mode uses for this input
    hmap = header_map(table, None)
    first = [next(table.rows) for _ in range(SAMPLE_OUTPUTS)]
    done = _flag_chunk(first, 0, list(table.names), hmap, table.formula_problems, table.header_row,
                       table.first_col, None)
    tally = Tally()

    def rows() -> Iterator[Flagged]:
        for i, row in enumerate(itertools.chain(first, table.rows)):
            output, lines, interactions, terms = done[i % SAMPLE_OUTPUTS]
            tally.add(output, lines, interactions, terms)
            yield Flagged(i, row, output, lines)

    def extra() -> list[Any]:
        return [summary_sheet(tally), sources_sheet(input_name=src.name, sheet=table.sheet, mode="streaming",
                                                    hmap=hmap)]

    write_streaming(table, rows(), extra, out)


def child_naive(src: Path, out: Path) -> None:
    import pandas as pd

    import mgdecision as mg

    df = pd.read_excel(src, engine="openpyxl")
    flags = df.apply(lambda r: pd.Series(mg.assess(r.to_dict()).row()), axis=1)
    pd.concat([df, flags], axis=1).to_excel(out, index=False, engine="openpyxl")


def child_streaming(src: Path, out: Path) -> None:
    from mgdecision.batch.cli import main

    code = main(["assess", str(src), "-o", str(out), "--streaming", "--force", "-q"])
    if code:
        raise SystemExit(code)


CHILDREN = {"streaming": child_streaming, "io_reference": child_io_reference, "naive": child_naive}


# ---------------------------------------------------------------- measurement


def measure(method: str, src: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one method in a fresh process."""
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", method, str(src), str(out)])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{method} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated row counts (default 100000,1000000; about 25 minutes)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "artifacts" / "bench")
    parser.add_argument("--naive-limit", type=float, default=360.0,
                        help="extrapolate the naive route when its estimate exceeds this many seconds")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, src, out = args.child
        CHILDREN[method](Path(src), Path(out))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[tuple[int, str, float, float, str]] = []
    naive_rate: float | None = None  # seconds per row, measured at the largest size run so far
    for n in sizes:
        src = args.workdir / f"bench_{n}.xlsx"
        if not src.exists():
            t = time.perf_counter()
            generate(src, n)
            print(f"generated {src} ({src.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s",
                  flush=True)
        for method in ("io_reference", "streaming", "naive"):
            out = args.workdir / f"out_{method}_{n}.xlsx"
            if method == "naive" and naive_rate is not None and naive_rate * n > args.naive_limit:
                results.append((n, method, naive_rate * n, float("nan"), "extrapolated"))
                print(f"{n:>9} {method:<13} extrapolated: {naive_rate * n:.0f} s", flush=True)
                continue
            wall, rss = measure(method, src, out)
            if method == "naive":
                naive_rate = wall / n
            results.append((n, method, wall, rss, "measured"))
            print(f"{n:>9} {method:<13} {wall:8.1f} s  {rss:8.0f} MB", flush=True)
            out.unlink(missing_ok=True)
    print("\n| rows | method | wall s | peak RSS MB | streaming / method | note |")
    print("|---:|---|---:|---:|---:|---|")
    for n, method, wall, rss, note in results:
        stream = next(w for m_n, m, w, _, _ in results if m_n == n and m == "streaming")
        print(f"| {n:,} | {method} | {wall:.1f} | {rss:.0f} | {stream / wall:.2f} | {note} |")


if __name__ == "__main__":
    main()
