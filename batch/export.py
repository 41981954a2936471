"""Write a patient table held in memory as the batch command's flagged workbook (used by the cohort table)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

import mgdecision as mg

from .run import RunOptions, assess_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_assessed"]


def write_assessed(df: pd.DataFrame, target: IO[bytes] | Path) -> None:
    """Write ``df`` (input columns; any output columns are recomputed) exactly as ``mgdecision assess`` would."""
    inputs = df.drop(columns=[c for c in mg.COLUMNS if c in df.columns])
    with tempfile.TemporaryDirectory(prefix="mgdecision-") as folder:
        source = Path(folder) / "patients.xlsx"
        inputs.to_excel(source, sheet_name="Patients", index=False, engine="openpyxl")
        result = assess_file(RunOptions(source, output=Path(folder) / "patients.flagged.xlsx", quiet=True),
                             err=io.StringIO())
        data = result.output.read_bytes()
    if isinstance(target, Path):
        target.write_bytes(data)
    else:
        target.write(data)
