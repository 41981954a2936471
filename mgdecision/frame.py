"""Assess a table of patients: ``assess_frame(df)`` and the tidy ``failure_cases`` problem table.

Headers are mapped once. ``assess_frame`` is the engine's table execution (:mod:`mgdecision.engine.table`):
each distinct cell is read by the same readers, the conditions of ``rules.toml`` run on whole columns, and the
decisions are made by the same engine methods as :func:`~mgdecision.assess`, once per distinct combination of
their inputs. ``iter_assessments`` yields one :class:`Assessment` per row through the row execution. The tests
check that both agree on every row and reproduce a frozen snapshot.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from .assessment import COLUMNS, Assessment
from .engine import Engine, default_engine
from .engine.table import assess_columns
from .errors import UsageError
from .reading import HeaderMap, gather_columns, map_headers, near_miss_problem, read_fields

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FAILURE_COLUMNS", "assess_columns", "assess_frame", "failure_cases", "iter_assessments", "paused_gc"]

FAILURE_COLUMNS = ("row", "patient_id", "column", "field", "value", "reason_code", "message")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause cyclic garbage collection while a batch of rows is assessed (restored afterwards).

    Assessing creates many small objects without cycles; collection passes over the growing caches would
    otherwise double the time per row. Use it around loops over :func:`iter_assessments`.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _check_frame(df: Any) -> None:
    if not hasattr(df, "columns") or not hasattr(df, "__len__"):
        raise UsageError(f"expected a pandas DataFrame, got {type(df).__name__}")


def _columns(df: pd.DataFrame, hmap: HeaderMap) -> tuple[dict[str, list[Any]], list[tuple[Any, str, list[Any]]]]:
    """The cells of each mapped column, and (column, note, cells) of each column reported on the rows."""
    return gather_columns(hmap, list(df.columns), lambda k: df.iloc[:, k].tolist())


def iter_assessments(
    df: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    as_of: date | None = None,
    header_map: HeaderMap | None = None,
    engine: Engine | None = None,
) -> Iterator[Assessment]:
    """Yield one :class:`Assessment` per row of ``df``, in order (no row is skipped): the row execution."""
    _check_frame(df)
    hmap = header_map or map_headers(df.columns, columns)
    engine = engine or default_engine()
    version = engine.kb.version
    mapped, near = _columns(df, hmap)
    names = list(mapped)
    data = list(mapped.values())
    units = hmap.units
    for i, cells in enumerate(zip(*data, strict=True) if data else ([()] * len(df))):
        patient = read_fields(dict(zip(names, cells, strict=True)), units, as_of)
        for col, probable, values in near:
            if (note := near_miss_problem(col, probable, values[i])) is not None:
                patient.problems.append(note)
        yield Assessment(patient, engine.decide(patient), version)


def assess_frame(
    df: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    as_of: date | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Return ``df``'s columns followed by the output :data:`COLUMNS`, one row per input row, same index.

    The two dose columns are float64 (NaN where not applicable); the text columns are object columns.

    ``columns`` maps a header (as written) to a field name when the automatic mapping is not enough.
    Raises :class:`UsageError` when no column maps to any field.
    """
    import pandas as pd

    _check_frame(df)
    hmap = map_headers(df.columns, columns)
    if not hmap.fields and len(df.columns):
        raise UsageError(
            "no column could be mapped to a patient field; headers were: " + ", ".join(map(str, df.columns))
        )
    with paused_gc():
        cells, near = _columns(df, hmap)
        values = assess_columns(cells, len(df), hmap.units, as_of, near, engine)
    out = pd.DataFrame(
        {  # text as object columns: an Arrow string conversion would cost more than assessing the rows
            name: pd.Series(values[name], index=df.index, dtype=values[name].dtype)  # float64 or object
            for name in COLUMNS
        },
        index=df.index,
    )
    kept = df.loc[:, [c not in COLUMNS for c in df.columns]]
    return pd.concat([kept, out], axis=1)


def failure_cases(
    df: pd.DataFrame, *, columns: Mapping[str, str] | None = None, as_of: date | None = None
) -> pd.DataFrame:
    """One line per input problem: row position, patient id, input column, field, value, reason code, message."""
    import pandas as pd

    hmap = map_headers(df.columns, columns)
    lines = []
    for i, a in enumerate(iter_assessments(df, as_of=as_of, header_map=hmap)):
        for p in a.problems:
            lines.append(
                (i, a.patient_id, str(hmap.fields.get(p.field, p.field)), p.field, p.value, str(p.code), p.message)
            )
    table = list(zip(*lines, strict=True)) if lines else [()] * len(FAILURE_COLUMNS)
    return pd.DataFrame(  # object columns: any text (a lone surrogate too) is kept as it was read
        {name: pd.Series(values, dtype=object) for name, values in zip(FAILURE_COLUMNS, table, strict=True)}
    )
