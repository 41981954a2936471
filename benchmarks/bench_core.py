"""Core speed: rows/second of ``mg.assess_frame`` and microseconds per ``mg.assess`` call.

    python benchmarks/bench_core.py [--rows 100000] [--against REV]

Generates realistic varied rows (benchmarks/generate_rows.py), then times a cold ``assess_frame`` (wall and
CPU time) and warm ones, and single ``assess`` calls on rows whose list texts are new and again on rows
already seen. Warm and single-call measures are repeated (best and median shown): this is a shared machine.
Targets (issue 2):
at least 100,000 rows/s for assess_frame and under 50 microseconds per assess call.

``--against REV`` (default: d9325aa, the last commit with the two separate rule paths) also loads the
package as it was at REV (``git archive``, imported under another name) and times both engines in the same
run, alternating, on the same rows, in CPU time: the printed ratios (issue 11: the one engine's
``assess_frame`` at least as fast, ``assess`` per new row no slower) do not depend on the machine's speed.
``--against none`` skips it.
"""

from __future__ import annotations

import argparse
import gc
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
    parser.add_argument("--against", default="d9325aa", help="git revision of the previous engine, or none")
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
    if args.against != "none":
        compare(args.against, df, rows(calls, seed=99), repeats)


def previous(rev: str):  # type: ignore[no-untyped-def]
    """The mgdecision package as it was at ``rev``, imported as ``mgdecision_then`` (None without git)."""
    import importlib.util
    import io
    import subprocess
    import tarfile
    import tempfile

    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="mg_then_"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev, "mgdecision"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"previous engine {rev}: not available ({exc})")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            tar.extractall(folder, filter="data")
        else:  # our own repository's archive
            tar.extractall(folder)
    init = folder / "mgdecision" / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "mgdecision_then", init, submodule_search_locations=[str(init.parent)]
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["mgdecision_then"] = module
    import warnings
    from importlib import resources

    files = resources.files

    def own_files(package):  # type: ignore[no-untyped-def]
        """The knowledge folder of the previous package, not the current one's."""
        return init.parent if package == "mgdecision" else files(package)

    with warnings.catch_warnings():  # it registers its own df.mg accessor
        warnings.simplefilter("ignore")
        resources.files = own_files  # type: ignore[assignment]
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        finally:
            resources.files = files  # type: ignore[assignment]
    if module.knowledge() is mg.knowledge():
        raise RuntimeError("the previous engine would read the current knowledge")
    return module


def compare(rev: str, df: pd.DataFrame, single: list[dict[str, object]], repeats: int) -> None:
    """Both engines on the same rows, alternating, CPU time: the ratios of this run."""
    then = previous(rev)
    if then is None:
        return
    engines = {"now": mg, "then": then}
    for module in engines.values():  # cold caches warmed on other rows
        module.assess_frame(pd.DataFrame(rows(2_000, seed=5)))
    frame: dict[str, list[float]] = {"now": [], "then": []}
    per_row: dict[str, list[float]] = {"now": [], "then": []}
    engine_only: dict[str, list[float]] = {"now": [], "then": []}
    for k in range(repeats):
        for name in ("then", "now") if k % 2 == 0 else ("now", "then"):
            module = engines[name]
            cpu = time.process_time()
            module.assess_frame(df)
            frame[name].append(time.process_time() - cpu)
            for paused, out in ((False, per_row), (True, engine_only)):
                batch = rows(len(single), seed=1_000 + 2 * k + paused)  # list texts new to both engines
                if paused:
                    gc.disable()
                cpu = time.process_time()
                for r in batch:
                    module.assess(r)
                out[name].append((time.process_time() - cpu) / len(batch) * 1e6)
                gc.enable()
    n = len(df)
    best = {name: min(values) for name, values in frame.items()}
    print(f"previous engine {rev}, same rows, alternating, CPU time, best of {repeats}:")
    print(
        f"assess_frame      : now {n / best['now']:>10,.0f} rows/s  then {n / best['then']:>10,.0f} rows/s"
        f"  ratio now/then {best['then'] / best['now']:.2f}  (target >= 1.00)"
    )
    for label, values in (("assess, new rows  ", per_row), ("  the same, gc off", engine_only)):
        row_best = {name: min(v) for name, v in values.items()}
        print(
            f"{label}: now {row_best['now']:>8.1f} us   then {row_best['then']:>8.1f} us"
            f"    time ratio now/then {row_best['now'] / row_best['then']:.2f}  (target <= 1.00)"
        )
    print(
        "  (with the garbage collector on, a full collection walks both packages' caches, so the gc-on figures"
        " vary by about 10 % between runs)"
    )


if __name__ == "__main__":
    main()
