"""Benchmark of ``mgdecision assess``: streaming mode against the floor pipeline and the naive pandas route,
and annotate mode against openpyxl's own load + save of the same file, in ONE run.

    python benchmarks/bench_batch.py                          # 100,000 and 1,000,000 rows (about 10 minutes)
    python benchmarks/bench_batch.py --sizes 100000           # about 3 minutes
    python benchmarks/bench_batch.py --sizes 100000 --methods annotate --repeat 3   # annotate only, 3 rounds

For each size it writes a deterministic input workbook once (rows drawn from the realistic, messy values of
sample_workbooks/primary_care.xlsx with varied numbers), then runs each method in its own subprocess and
records wall time and the peak of the summed RSS of that process and all its children (sampled with psutil
every 50 ms; worker processes included):

- streaming: ``mgdecision assess INPUT -o OUT --streaming`` (python -m mgdecision.batch);
- floor: the fastest pipeline without our safety and formatting: the fastest reader installed (fastexcel if
  present, else python-calamine ``to_python``) -> pandas -> ``mg.assess_frame`` -> the fastest writer installed
  (rustpy-xlsxwriter if present, else this project's sheet XML writer, no formats), all in one process;
- pandas: ``pandas.read_excel`` (calamine) + row-wise ``apply`` of ``mg.assess`` + ``to_excel`` (xlsxwriter);
  extrapolated from the smaller size when its estimate exceeds ``--naive-limit`` seconds, and marked so;
- annotate (at ``--annotate-rows`` only): ``mgdecision assess --annotate`` against openpyxl_roundtrip,
  ``openpyxl.load_workbook`` + ``save`` of the same input (annotate mode is for ordinary sizes: inputs over
  1 MB use streaming mode automatically).

``--methods`` picks the methods (a method's reference is always run too); with ``--repeat N`` each method runs
N times, alternating with its reference, and the table shows the median wall time, the ratio of the medians and
the range of the per-round ratios. Ratios are against the reference measured in the same run. The machine has
2 cores shared with others and its CPU speed drifts: treat differences under about 1.5x as noise.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_workbooks" / "primary_care.xlsx"
SEED = 20261122


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
    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
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


def _read_fastest(src: Path) -> Any:
    import pandas as pd

    try:
        import fastexcel  # optional

        return fastexcel.read_excel(str(src)).load_sheet(0).to_pandas().astype(object), "fastexcel"
    except ImportError:
        import python_calamine

        rows = python_calamine.CalamineWorkbook.from_path(str(src)).get_sheet_by_index(0).to_python()
        return pd.DataFrame(rows[1:], columns=rows[0], dtype=object).replace("", None), "python-calamine"


def _write_fastest(df: Any, out: Path) -> str:
    try:
        import rustpy_xlsxwriter  # optional

        rustpy_xlsxwriter.write_worksheet(df, str(out))
        return "rustpy-xlsxwriter"
    except ImportError:
        pass
    import io
    import zipfile

    import xlsxwriter

    from mgdecision.batch.sheet_xml import BackgroundWriter, SheetLayout, SheetWriter
    from mgdecision.batch.streaming import ROWS_LEVEL

    small = io.BytesIO()
    wb = xlsxwriter.Workbook(small, {"in_memory": True})
    wb.add_worksheet("Sheet1")
    wb.close()
    layout = SheetLayout(selected=True)
    columns = list(df.columns)
    plain = [""] * len(columns)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=ROWS_LEVEL) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            background = BackgroundWriter(member.write)
            background(layout.prefix())
            sheet = SheetWriter(background, 0, 0)
            sheet.row(0, 0, columns, plain)
            for r, values in enumerate(df.itertuples(index=False, name=None), start=1):
                sheet.row(r, 0, [None if v != v else v for v in values], plain)
            sheet.flush()
            background(layout.suffix())
            background.close()
        with zipfile.ZipFile(small) as parts:
            for info in parts.infolist():
                if info.filename != "xl/worksheets/sheet1.xml":
                    zf.writestr(info, parts.read(info.filename))
    return "sheet XML writer (this project)"


def child_floor(src: Path, out: Path) -> None:
    import mgdecision as mg

    df, reader = _read_fastest(src)
    flagged = mg.assess_frame(df)
    writer = _write_fastest(flagged, out)
    print(f"floor: {reader} -> pandas -> mg.assess_frame -> {writer}", file=sys.stderr)


def child_naive(src: Path, out: Path) -> None:
    import pandas as pd

    import mgdecision as mg

    df = pd.read_excel(src, engine="calamine")
    flags = df.apply(lambda r: pd.Series(mg.assess(r.to_dict()).row()), axis=1)
    pd.concat([df, flags], axis=1).to_excel(out, index=False, engine="xlsxwriter")


def _cli(src: Path, out: Path, mode: str) -> None:
    from mgdecision.batch.cli import main

    code = main(["assess", str(src), "-o", str(out), mode, "--force", "-q"])
    if code:
        raise SystemExit(code)


def child_streaming(src: Path, out: Path) -> None:
    _cli(src, out, "--streaming")


def child_annotate(src: Path, out: Path) -> None:
    _cli(src, out, "--annotate")


def child_openpyxl_roundtrip(src: Path, out: Path) -> None:
    import openpyxl

    openpyxl.load_workbook(src).save(out)


CHILDREN = {
    "streaming": child_streaming,
    "floor": child_floor,
    "pandas": child_naive,
    "annotate": child_annotate,
    "openpyxl_roundtrip": child_openpyxl_roundtrip,
}
REFERENCE = {"streaming": "floor", "pandas": "floor", "annotate": "openpyxl_roundtrip"}


# ---------------------------------------------------------------- measurement


def measure(method: str, src: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak MB of the summed RSS of the process and its children) of one method."""
    import psutil

    out.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", method, str(src), str(out)])
    peak = 0
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{method} failed with exit code {proc.returncode}")
    return wall, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--annotate-rows",
        type=int,
        default=100_000,
        help="size at which annotate mode is compared with openpyxl load+save (0: skip)",
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "artifacts" / "bench")
    parser.add_argument(
        "--naive-limit",
        type=float,
        default=240.0,
        help="extrapolate the pandas route when its estimate exceeds this many seconds",
    )
    parser.add_argument(
        "--methods",
        default="floor,streaming,pandas,annotate",
        help="comma-separated methods to run (each with its reference)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each method (median reported)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, src, out = args.child
        CHILDREN[method](Path(src), Path(out))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(wanted) - set(CHILDREN))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(CHILDREN)}")
    results: dict[tuple[int, str], tuple[float, float, str]] = {}
    rounds: dict[tuple[int, str], list[float]] = {}
    naive_rate: float | None = None  # seconds per row, measured at the largest size run so far
    for n in sizes:
        src = args.workdir / f"bench_{n}.xlsx"
        if not src.exists():
            t = time.perf_counter()
            generate(src, n)
            print(f"generated {src} ({src.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s", flush=True)
        methods = []
        for method in ("floor", "streaming", "pandas", "openpyxl_roundtrip", "annotate"):
            selected = method in wanted or any(REFERENCE.get(m) == method for m in wanted)
            if selected and (n == args.annotate_rows or method not in ("openpyxl_roundtrip", "annotate")):
                methods.append(method)
        for k in range(args.repeat):
            for method in methods:
                out = args.workdir / f"out_{method}_{n}.xlsx"
                if method == "pandas" and naive_rate is not None and naive_rate * n > args.naive_limit:
                    if k == 0:
                        results[n, method] = (naive_rate * n, float("nan"), "extrapolated")
                        print(f"{n:>9} {method:<19} extrapolated: {naive_rate * n:.0f} s", flush=True)
                    continue
                wall, rss = measure(method, src, out)
                if method == "pandas":
                    naive_rate = wall / n
                rounds.setdefault((n, method), []).append(wall)
                walls = rounds[n, method]
                peak = max(rss, results.get((n, method), (0, 0))[1])
                results[n, method] = (
                    statistics.median(walls),
                    peak,
                    "measured" if len(walls) == 1 else f"median of {len(walls)}",
                )
                print(
                    f"{n:>9} {method:<19} {wall:8.1f} s  {rss:8.0f} MB"
                    + (f"  (round {k + 1})" if args.repeat > 1 else ""),
                    flush=True,
                )
                out.unlink(missing_ok=True)
    print("\n| rows | method | wall s | peak RSS MB (all processes) | ratio | against | note |")
    print("|---:|---|---:|---:|---:|---|---|")
    for (n, method), (wall, rss, note) in results.items():
        ref = REFERENCE.get(method)
        ratio = f"{wall / results[n, ref][0]:.2f}" if ref and (n, ref) in results else ""
        mine, theirs = rounds.get((n, method), []), rounds.get((n, ref or ""), [])
        if len(mine) > 1 and len(mine) == len(theirs):
            each = sorted(a / b for a, b in zip(mine, theirs, strict=True))
            note += f"; ratio per round {each[0]:.2f}-{each[-1]:.2f}"
        print(f"| {n:,} | {method} | {wall:.1f} | {rss:.0f} | {ratio} | {ref or ''} | {note} |")
    print(
        "\nGoals: streaming within 1.5x of floor; peak RSS < 1,000 MB at 1,000,000 rows; annotate within 2x of "
        "openpyxl_roundtrip. Shared 2-core machine: differences under about 1.5x are noise."
    )


if __name__ == "__main__":
    main()
