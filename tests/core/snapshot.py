"""A frozen snapshot of every output column, for a large fixed set of inputs.

The inputs: every golden case, every sample-workbook row, the edge rows, and 22,000 generated rows (benchmark
rows, golden-case mixes, and targeted combinations where two rules meet). The stored outputs are in
``snapshots/outputs.jsonl.gz``; ``test_snapshot.py`` checks that ``assess`` (row by row) and ``assess_frame``
(column by column) both still give them exactly.

A knowledge or rule change that is meant to change outputs refreshes the file with ``python3 dev.py snapshot``;
the diff of the refreshed file is then part of the change to review.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

import mgdecision as mg

from .golden import load_cases

SNAPSHOT = Path(__file__).parent / "snapshots" / "outputs.jsonl.gz"
AS_OF = date(2026, 11, 22)
ROOT = Path(__file__).parents[2]


def _benchmark_rows(n: int, seed: int) -> list[dict[str, Any]]:
    path = ROOT / "benchmarks" / "generate_rows.py"
    spec = importlib.util.spec_from_file_location("generate_rows", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return list(module.rows(n, seed=seed))


def _golden_mixes(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = load_cases()
    out = []
    for _ in range(n):
        row = dict(rng.choice(cases)["input"])
        if rng.random() < 0.5:
            row.update(rng.choice(cases)["input"])
        out.append(row)
    return out


TARGETED = {
    "dialysis": ["yes", "HD", "no", "PD", None],
    "egfr": [10, 15, 29, 30, 44, 45, 59, 60, 90, None],
    "diagnoses": [
        "N18.4",
        "N18.31",
        "N18.6",
        "CKD",
        "N18.2",
        "HD",
        "AKI",
        "myasthenia gravis",
        "hx of MG",
        "E83.42",
        "G35",
        "heart block",
        "LEMS",
        "",
        None,
    ],
    "medications": [
        "spironolactone",
        "Aldactone; furosemide",
        "eplerenone",
        "omeprazole + levothyroxine",
        "Firdapse",
        "neostigmine injection",
        "pyridostigmine",
        "dolutegravir/rilpivirine",
        "cisplatin",
        "xyzmed",
        None,
    ],
    "symptoms": ["cramps", "insomnia, anxiety", "diarrhoea", "constipation; fatigue", None],
    "pregnant": ["yes", "no", None],
    "route": ["iv", "oral", None],
    "supplement_dose_mg": [0, 200, 350, 400, 600, None],
    "age": [0.3, "4 mo", 6, 12, 30, "45M", 64, 65, 70, 90, None],
    "sex": ["F", "M", None],
    "serum_mg": [
        "0.35 mmol/L",
        "0.45 mmol/L",
        "0.6 mmol/L",
        "0.72 mmol/L",
        "0.9 mmol/L",
        "1.2 mmol/L",
        "2.1 mmol/L",
        "3.5 mmol/L",
        "5 mg/dL",
        "1.5 mg/dL",
        "1.2 mEq/L",
        "0.7",
        None,
    ],
    "ref_high": [None, None, None, 1.0, 105],
}


def targeted(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{k: rng.choice(v) for k, v in TARGETED.items()} for _ in range(n)]


def _samples() -> Iterator[tuple[str, pd.DataFrame]]:
    folder = ROOT / "sample_workbooks"
    for book in sorted(p for p in folder.glob("*.xlsx") if ".flagged" not in p.name and p.name != "template.xlsx"):
        for name, sheet in pd.read_excel(book, sheet_name=None, engine="openpyxl").items():
            if mg.map_headers(sheet.columns).fields:
                yield f"{book.name}:{name}", sheet


def frames() -> Iterator[tuple[str, pd.DataFrame]]:
    """The snapshot's input tables, by name, in a fixed order."""
    yield "golden", pd.DataFrame([c["input"] for c in load_cases()], dtype=object)
    yield from _samples()
    yield "benchmark", pd.DataFrame(_benchmark_rows(10_000, seed=7))
    yield "golden_mixes", pd.DataFrame(_golden_mixes(4_000, seed=5), dtype=object)
    targeted_rows = targeted(8_000, seed=11)
    yield "targeted", pd.DataFrame(targeted_rows, dtype=object)
    yield "targeted_reversed", pd.DataFrame(targeted_rows[::-1][:2_000], dtype=object)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def frame_outputs(df: pd.DataFrame) -> list[list[Any]]:
    out = mg.assess_frame(df, as_of=AS_OF)
    return [[_plain(v) for v in row] for row in out[list(mg.COLUMNS)].itertuples(index=False, name=None)]


def row_outputs(df: pd.DataFrame) -> list[list[Any]]:
    from mgdecision.frame import iter_assessments

    return [[_plain(v) for v in a.row_values()] for a in iter_assessments(df, as_of=AS_OF)]


def load() -> dict[str, list[list[Any]]]:
    stored: dict[str, list[list[Any]]] = {}
    with gzip.open(SNAPSHOT, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        assert header["columns"] == list(mg.COLUMNS), "the output columns changed: refresh the snapshot"
        for line in f:
            name, values = json.loads(line)
            stored.setdefault(name, []).append(values)
    return stored


def write() -> int:
    """Write the snapshot from the row path (checked equal to the frame path first); the number of rows."""
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.GzipFile(SNAPSHOT, "wb", mtime=0) as raw, raw as f:  # mtime 0: same outputs, same bytes
        f.write((json.dumps({"columns": list(mg.COLUMNS), "knowledge": mg.KNOWLEDGE_VERSION}) + "\n").encode())
        for name, df in frames():
            rows, table = row_outputs(df), frame_outputs(df)
            assert rows == table, f"{name}: assess and assess_frame differ: fix that before writing a snapshot"
            for values in rows:
                f.write((json.dumps([name, values], ensure_ascii=False) + "\n").encode())
                count += 1
    return count


if __name__ == "__main__":
    print(f"{write():,} rows written to {SNAPSHOT}")
