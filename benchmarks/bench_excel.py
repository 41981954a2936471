"""Benchmark of the Excel functions (Python side only; Excel's own call overhead is not included).

Run: .venv/bin/python benchmarks/bench_excel.py [rows]

Prints microseconds per warm MG_RISK call (one row of 14 realistic cells, as classic xlwings delivers them)
and milliseconds for MG_TABLE over 5,000 realistic rows: cold (first calculation of rows never seen before)
and warm (recalculation of the same table, memoised). Targets: under 50 us and under 100 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_rows import rows as generate_rows

import mgdecision as mg
from mgdecision.excel import udfs

FIELDS = [f.name for f in mg.knowledge().fields][:14]


def as_classic(value: object) -> object:
    """Classic xlwings delivers numbers as floats and empty cells as None."""
    if value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def table(n: int, seed: int = 7) -> list[list[object]]:
    return [list(FIELDS)] + [[as_classic(r.get(f, "")) for f in FIELDS] for r in generate_rows(n, seed)]


def best_of(repeats: int, function, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    data = table(n)
    row = data[1]
    udfs.MG_RISK(row)  # warm: imports, knowledge base

    cold = []
    for seed in (7, 8, 9):  # each repeat on rows never seen before, with the table memo cleared
        udfs._table_outputs.cache_clear()
        cold.append(best_of(1, udfs.MG_TABLE, table(n, seed)))
    print(f"MG_TABLE over {n:,} rows, first table of the session: {cold[0] * 1e3:8.1f} ms")

    calls = 20_000
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            udfs.MG_RISK(row)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    print(f"MG_RISK warm call (row of 14 cells):          {min(samples):8.1f} us"
          f"   (median {statistics.median(samples):.1f})")

    fresh = table(2000, seed=11)[1:]
    udfs._assessed.cache_clear()
    start = time.perf_counter()
    for cells in fresh:
        udfs.MG_RISK(cells)
    print(f"MG_RISK first call on a new row:              {(time.perf_counter() - start) / len(fresh) * 1e6:8.1f} us")

    warm = best_of(5, udfs.MG_TABLE, data)
    print(f"MG_TABLE over {n:,} rows, cold (new rows):    {min(cold) * 1e3:8.1f} ms")
    print(f"MG_TABLE over {n:,} rows, warm (recalculate): {warm * 1e3:8.1f} ms")

    hmap = mg.map_headers(FIELDS)
    records = [dict(zip(FIELDS, r, strict=True)) for r in data[1:]]
    core = best_of(3, lambda: [mg.assess(rec, header_map=hmap).row() for rec in records])
    print(f"the same rows one by one, mg.assess x {n:,}:  {core * 1e3:8.1f} ms")
    result = udfs.MG_TABLE(data)
    assert len(result) == n + 1 and list(result[0]) == list(mg.COLUMNS)


if __name__ == "__main__":
    main()
