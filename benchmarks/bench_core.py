"""Core speed: rows/second of ``mg.assess_frame`` and microseconds per ``mg.assess`` call.

    python benchmarks/bench_core.py [--rows 100000]

Generates realistic varied rows (benchmarks/generate_rows.py), then times a cold and a warm
``assess_frame`` (wall and CPU time), and single ``assess`` calls on rows whose list texts are new (cold)
and again on the same rows (warm). Targets (issue 2):
at least 100,000 rows/s for assess_frame and under 50 microseconds per assess call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pandas as pd
from generate_rows import rows

import mgdecision as mg


def _timed(fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000, help="rows timed through single assess() calls")
    n = parser.parse_args().rows
    calls = parser.parse_args().calls
    data = rows(n)
    df = pd.DataFrame(data)
    print(
        f"mgdecision {mg.__version__}, knowledge {mg.KNOWLEDGE_VERSION}, {n:,} rows, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    _, wall, cpu = _timed(lambda: mg.assess_frame(df))
    print(f"assess_frame cold : {n / wall:>10,.0f} rows/s wall  {n / cpu:>10,.0f} rows/s cpu")
    out, wall, cpu = _timed(lambda: mg.assess_frame(df))
    print(f"assess_frame warm : {n / wall:>10,.0f} rows/s wall  {n / cpu:>10,.0f} rows/s cpu   (target >= 100,000)")
    fresh = rows(calls, seed=20_261_122)  # list texts not seen before: parsed and matched on first use

    def each() -> None:
        for r in fresh:
            mg.assess(r)  # one call at a time, result not kept (as a form or an Excel cell uses it)

    _, wall, cpu = _timed(each)
    print(
        f"assess, new rows  : {wall / len(fresh) * 1e6:>10.1f} us wall     {cpu / len(fresh) * 1e6:>10.1f} us cpu"
        "        (target < 50)"
    )
    _, wall, cpu = _timed(each)
    print(
        f"assess, seen rows : {wall / len(fresh) * 1e6:>10.1f} us wall     {cpu / len(fresh) * 1e6:>10.1f} us cpu"
        "        (target < 50)"
    )
    print("risk levels:", out["mg_risk"].value_counts().to_dict())


if __name__ == "__main__":
    main()
