"""Export the flagged table as .xlsx: the batch command's workbook (``mgdecision.batch.write_assessed``).

Without the batch extra installed, the assessed frame is written with the flag columns coloured like the cards.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

import mgdecision  # noqa: F401  (registers df.mg)

__all__ = ["XLSX_MIME", "export_xlsx"]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_xlsx(result: pd.DataFrame, path: str | Path | None = None) -> bytes:
    """Write ``result`` (an assessed frame) to .xlsx; return the bytes, also saved to ``path`` if given."""
    batch_writer = _batch_writer()
    buffer = io.BytesIO()
    if batch_writer is not None:
        batch_writer(result, buffer)
    else:
        result.mg.style().to_excel(buffer, sheet_name="Patients", index=False, engine="openpyxl")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _batch_writer() -> Any:
    """The batch command's writer, when its dependencies are installed."""
    try:
        from mgdecision.batch import write_assessed
    except ImportError:
        return None
    return write_assessed
