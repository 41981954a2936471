"""Core speed: rows/second of ``mg.assess_frame`` and microseconds per ``mg.assess`` call.

    python benchmarks/bench_core.py [--rows 100000]

Generates realistic varied rows (benchmarks/generate_rows.py), then times a cold ``assess_frame`` (wall and
CPU time) and warm ones, and single ``assess`` calls on rows whose list texts are new and again on rows
already seen. Warm and single-call measures are repeated (best and median shown): this is a shared machine.
Targets (issue 2):
at least 100,000 rows/s for assess_frame and under 50 microseconds per assess call.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each warm or single-call measure")
    args = parser.parse_args()
    n, calls, repeats = args.rows, args.calls, args.repeats
    data = rows(n)
    df = pd.DataFrame(data)
    print(
        f"mgdecision {mg.__version__}, knowledge {mg.KNOWLEDGE_VERSION}, {n:,} rows, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}; best and median of {repeats} where repeated"
    )
    _, wall, cpu = _timed(lambda: mg.assess_frame(df))
    print(f"assess_frame cold : {n / wall:>10,.0f} rows/s wall  {n / cpu:>10,.0f} rows/s cpu")
    walls = []
    for _ in range(repeats):
        out, wall, cpu = _timed(lambda: mg.assess_frame(df))
        walls.append(wall)
    print(
        f"assess_frame warm : {n / min(walls):>10,.0f} rows/s wall  {n / statistics.median(walls):>10,.0f} median"
        "        (target >= 100,000)"
    )

    def each(batch: list[dict[str, object]]) -> float:
        start = time.perf_counter()
        for r in batch:
            mg.assess(r)  # one call at a time, result not kept (as a form or an Excel cell uses it)
        return (time.perf_counter() - start) / len(batch) * 1e6

    fresh = [rows(calls, seed=20_261_122 + k) for k in range(repeats)]  # list texts never seen before
    new = [each(batch) for batch in fresh]
    print(f"assess, new rows  : {min(new):>10.1f} us best {statistics.median(new):>8.1f} us median  (target < 50)")
    seen = [each(fresh[0]) for _ in range(repeats)]
    print(f"assess, seen rows : {min(seen):>10.1f} us best {statistics.median(seen):>8.1f} us median  (target < 50)")
    print("risk levels:", out["mg_risk"].value_counts().to_dict())


if __name__ == "__main__":
    main()
