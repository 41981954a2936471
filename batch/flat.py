"""CSV and Parquet outputs: the input columns followed by the output columns, one line per input row.

CSV text that a spreadsheet would read as a formula gets the OWASP quote prefix (:func:`csv_safe`), at its
start and after every line break inside it; fields holding a line break are quoted (CRLF line ends).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mgdecision as mg
from mgdecision.outputs import NUMERIC_COLUMNS

from .engine import Flagged
from .io_safety import csv_safe
from .source import Table

__all__ = ["csv_safe_frame", "write_csv", "write_flat"]


def csv_safe_frame(df: Any) -> Any:
    """A copy of ``df`` with the OWASP prefix applied to every text cell."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith(("string", "str")):
            out[col] = out[col].map(csv_safe).astype(object)
    return out


def write_csv(df: Any, path: Any) -> None:
    """RFC 4180 CSV: CRLF line ends, so every field holding a CR or LF is quoted; OWASP prefixes applied."""
    csv_safe_frame(df).to_csv(path, index=False, lineterminator="\r\n")


def write_flat(table: Table, rows: Iterable[Flagged], path: Path, suffix: str) -> None:
    import pandas as pd

    keep = [j for j, n in enumerate(table.names) if n not in mg.COLUMNS]
    blank = [None] * len(mg.COLUMNS)
    records = [[f.values[j] for j in keep] + (blank if f.output is None else f.output) for f in rows]
    df = pd.DataFrame(records, columns=[table.names[j] for j in keep] + list(mg.COLUMNS))
    df = df.astype(dict.fromkeys(NUMERIC_COLUMNS, "float64"))  # the declared dtypes, even when every cell is blank
    if suffix == ".csv":
        write_csv(df, path)
    else:
        df.astype({c: "string" for c in df.columns if df[c].dtype == object}).to_parquet(path, index=False)
