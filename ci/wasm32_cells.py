"""The Excel functions called as xlwings Lite calls them, on a list of calls; prints the cells as JSON.

Lite's runtime hands each argument over as Office.js delivers it (a matrix of JSON values: numbers, text,
booleans, null for an empty cell) and gives a function declared with ``ndim=2`` the matrix, any other the single
value. The same calls run here on 64-bit CPython and inside 32-bit WebAssembly CPython (``ci/wasm32.py``), and the
two outputs must be equal.

    python ci/wasm32_cells.py make CALLS.json    # the calls: every sample workbook's table, generated rows (and a
                                                 # 200,000-row table compared by column digests), odd cells
    python ci/wasm32_cells.py run CALLS.json     # the cells, as JSON on stdout
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MATRIX = {"MG_TABLE": (True,), "MG_RISK": (True, True), "MG_FLAGS": (True, True), "MG_WHY": (True, True),
          "MG_DOSE": (True, True), "MG_CONTRA": (True, True), "MG_INTERACTIONS": (True, True),
          "MG_UL": (False,), "MG_RDA": (False, False, False, False), "MG_CONVERT": (False, False, False),
          "MG_ELEMENTAL": (False, False)}
GENERATED_ROWS = 20_000  # a table passed cell by cell
LARGE_ROWS = 200_000  # a table made on each side, compared by a digest of each output column: keys of the table
# execution computed in 32 bits would pass 2**31 here
_EPOCH = dt.datetime(1899, 12, 30)


def _json_cell(value: Any) -> Any:
    """A cell as Office.js delivers it: dates as serial numbers, empty as null."""
    if isinstance(value, dt.datetime):
        return (value - _EPOCH).total_seconds() / 86400
    if isinstance(value, dt.date):
        return float((value - _EPOCH.date()).days)
    if value == "":
        return None
    return value


def _sheet_tables() -> list[list[list[Any]]]:
    import openpyxl

    tables = []
    for path in sorted((ROOT / "sample_workbooks").glob("*.xlsx")):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            rows = [[_json_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
            rows = [r for r in rows if any(v is not None for v in r)]
            if len(rows) > 1 and len(rows[0]) > 1:
                width = max(len(r) for r in rows)
                tables.append([r + [None] * (width - len(r)) for r in rows])
        wb.close()
    return tables


def _generated_table(n: int) -> list[list[Any]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_rows", ROOT / "benchmarks" / "generate_rows.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    rows = list(module.rows(n, seed=22))
    headers = sorted({k for r in rows for k in r})
    return [headers, *[[_json_cell(r.get(h)) for h in headers] for r in rows]]


def _digest(table: Any) -> Any:
    """Per output column, a digest of its cells (a large table's cells are not printed)."""
    import hashlib

    if not isinstance(table, list):
        return table
    return [hashlib.sha256(json.dumps([row[k] for row in table], ensure_ascii=True).encode()).hexdigest()
            for k in range(len(table[0]))]


def make_calls() -> list[dict[str, Any]]:
    odd = [["Patient ID", "Age", "Sex", "Serum Mg (mmol/L)", "Medications", "Diagnoses"],
           ["S-1", 40, "F", 0.6, "omeprazole; x\ud800y", "\udfff"], ["S-2", "a\ud83d", "M", "0.3", "\ud800", "G70.0"],
           ["S-3", 1e308, "F", -1e308, "", None], ["S-4", True, "X", "NaN", "Infinity", "-inf"]]
    tables = [*_sheet_tables(), _generated_table(GENERATED_ROWS), odd]
    calls: list[dict[str, Any]] = []
    for table in tables:
        calls.append({"func": "MG_TABLE", "args": [table]})
        for row in table[1:60]:
            for func in ("MG_RISK", "MG_FLAGS", "MG_WHY"):
                calls.append({"func": func, "args": [[row], [table[0]]]})
    for age in (0, 0.5, 3, 8, 13, 30, 70, 120, -1, 121, "52", "abc", None, True, 1e308, 10**30):
        calls.append({"func": "MG_UL", "args": [[[age]]]})
        calls.append({"func": "MG_RDA", "args": [[[age]], [["F"]], [[False]], [[None]]]})
    for value in (0.62, 1.5, "0,7", 0, 1e308, -1, "x"):
        for units in (("mmol/L", "mg/dL"), ("mEq/L", "mmol/L"), ("mg/dL", "grains")):
            calls.append({"func": "MG_CONVERT", "args": [[[value]], [[units[0]]], [[units[1]]]]})
    for form, mg in (("oxide", 400), ("glycinate", 1e308), ("unobtainium", 10), ("citrate", "abc")):
        calls.append({"func": "MG_ELEMENTAL", "args": [[[form]], [[mg]]]})
    calls.append({"func": "MG_TABLE", "generated": LARGE_ROWS})
    return calls


def run_calls(calls: list[dict[str, Any]]) -> list[Any]:
    from mgdecision.excel import udfs

    out = []
    for call in calls:
        if "generated" in call:
            out.append(_digest(udfs.MG_TABLE(_generated_table(call["generated"]))))
            continue
        shape = MATRIX[call["func"]]
        args = [arg if matrix else arg[0][0] for arg, matrix in zip(call["args"], shape, strict=False)]
        out.append(getattr(udfs, call["func"])(*args))
    return out


def main(argv: list[str]) -> int:
    command, path = argv
    if command == "make":
        Path(path).write_text(json.dumps(make_calls()), encoding="utf-8")
        return 0
    calls = json.loads(Path(path).read_text(encoding="utf-8"))
    sys.stdout.write(json.dumps(run_calls(calls), ensure_ascii=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
