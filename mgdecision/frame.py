"""Assess a table of patients: ``assess_frame(df)``, ``assess_table(df)`` with its long tables, ``failure_cases``.

Headers are mapped once. ``assess_frame`` is the engine's table execution (:mod:`mgdecision.engine.table`):
each distinct cell is read by the same readers, the conditions of ``rules.toml`` run on whole columns, and the
decisions are made by the same engine methods as :func:`~mgdecision.assess`, once per distinct combination of
their inputs; a row holding a value that execution does not read (a container, a control character) is
assessed on its own by the row execution. ``assess_table`` also gives the interactions and the input problems
as records (long tables), so front-ends never read them back from the output texts. ``iter_assessments``
yields one :class:`Assessment` per row through the row execution. The tests check that both executions agree
on every row and reproduce a frozen snapshot.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from .assessment import Assessment
from .engine import Engine, default_engine
from .engine.core import DRIVERS
from .engine.table import TableOutputs
from .engine.table import assess_columns as _table
from .errors import UsageError
from .list_columns import TextCells
from .models import Interaction, Problem
from .outputs import COLUMNS, FAILURE_COLUMNS, INTERACTION_COLUMNS, LEVELS
from .reading import HeaderMap, gather_columns, map_headers, near_miss_problem, patient_id, read_fields

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FAILURE_COLUMNS",
    "TableAssessment",
    "assess_columns",
    "assess_frame",
    "assess_table",
    "failure_cases",
    "iter_assessments",
    "paused_gc",
]


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


def assess_columns(
    headers: Sequence[Any],
    columns: Sequence[Sequence[Any]],
    *,
    header_map: HeaderMap | None = None,
    as_of: date | None = None,
    engine: Engine | None = None,
    records: bool = False,
) -> TableOutputs:
    """The output columns for a table given as its headers and its columns of cells (the table execution).

    Headers are mapped as :func:`assess_frame` maps them (``header_map`` to reuse a mapping); rows holding a
    value that execution does not read get the row execution's values. With ``records`` the interactions and
    input problems come as (row position, model) records too. For front-ends that hold cells, not a DataFrame
    (the Excel functions).
    """
    hmap = header_map or map_headers(headers)
    n = len(columns[0]) if columns else 0
    cells, near = gather_columns(hmap, list(headers), lambda k: list(columns[k]))
    engine = engine or default_engine()
    with paused_gc():
        found = _table(cells, n, hmap.units, as_of, near, engine, records=records)
        if found.odd:  # rows read one by one
            _row_by_row(found, cells, near, hmap, as_of, engine, records)
    return found


def _row_by_row(
    found: TableOutputs,
    cells: Mapping[str, list[Any]],
    near: Sequence[tuple[Any, str, list[Any]]],
    hmap: HeaderMap,
    as_of: date | None,
    engine: Engine,
    records: bool,
) -> None:
    """The rows the table execution left out, assessed by the row execution, their records in row order."""
    version = engine.kb.version
    extra_interactions: list[tuple[int, Interaction]] = []
    extra_problems: list[tuple[int, Problem]] = []
    for r in found.odd:
        patient = read_fields({f: cells[f][r] for f in cells}, hmap.units, as_of)
        for column, probable, values in near:
            if (note := near_miss_problem(column, probable, values[r])) is not None:
                patient.problems.append(note)
        a = Assessment(patient, engine.decide(patient), version)
        for column, value in zip(COLUMNS, a.row_values(), strict=True):
            found.columns[column][r] = value
        if records:
            extra_interactions += [(r, i) for i in a.interactions]
            extra_problems += [(r, p) for p in a.problems]
            found.reasons[r] = a.reasons_text()
    if records:
        found.interactions = sorted([*found.interactions, *extra_interactions], key=lambda x: x[0])
        found.problems = sorted([*found.problems, *extra_problems], key=lambda x: x[0])


def _columns(df: pd.DataFrame, hmap: HeaderMap) -> tuple[dict[str, list[Any]], list[tuple[Any, str, list[Any]]]]:
    """The cells of each mapped column, and (column, note, cells) of each column reported on the rows."""
    return gather_columns(hmap, list(df.columns), lambda k: _cells(df.iloc[:, k]))


def _cells(column: pd.Series) -> list[Any]:
    """The cells of a column; an Arrow text column's as :class:`~mgdecision.list_columns.TextCells` (coded by
    Arrow, made Python values only when read one by one)."""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return cast(list[Any], TextCells(column))  # read as a list (indexed, iterated), never changed
    return column.tolist()


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


@dataclass(frozen=True)
class TableAssessment:
    """What :func:`assess_table` gives: the output frame, and the interactions and input problems as long tables
    (one line each, with the row position it belongs to and the patient id)."""

    frame: pd.DataFrame
    interactions: pd.DataFrame  # INTERACTION_COLUMNS
    problems: pd.DataFrame  # FAILURE_COLUMNS, as failure_cases
    reasons: pd.Series  # every row's reasons in full, same index (the mg_reasons cell is capped at 400 characters)


def _run(
    df: pd.DataFrame,
    columns: Mapping[str, str] | None,
    as_of: date | None,
    engine: Engine | None,
    records: bool,
) -> tuple[HeaderMap, dict[str, list[Any]], TableOutputs]:
    _check_frame(df)
    hmap = map_headers(df.columns, columns)
    if not hmap.fields and len(df.columns):
        raise UsageError(
            "no column could be mapped to a patient field; headers were: " + ", ".join(map(str, df.columns))
        )
    engine = engine or default_engine()
    with paused_gc():
        cells, near = _columns(df, hmap)
        found = _table(cells, len(df), hmap.units, as_of, near, engine, records=records)
        if found.odd:
            _row_by_row(found, cells, near, hmap, as_of, engine, records)
    return hmap, cells, found


def _frame(df: pd.DataFrame, found: TableOutputs) -> pd.DataFrame:
    import pandas as pd

    values = found.columns
    out = pd.DataFrame(
        {  # text as object columns: an Arrow string conversion would cost more than assessing the rows
            name: pd.Series(
                _levels(values[name], LEVELS[name]) if name in LEVELS else values[name],
                index=df.index,
                dtype=None if name in LEVELS else values[name].dtype,  # float64, or object: any text is kept
            )
            for name in COLUMNS
        },
        index=df.index,
    )
    kept = df.loc[:, [c not in COLUMNS for c in df.columns]]
    return pd.concat([kept, out], axis=1)


def _levels(values: Any, levels: Sequence[str]) -> Any:
    """An ordered categorical of ``levels`` (a value not among them missing), coded once per distinct value."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(values)
    at = {level: k for k, level in enumerate(levels)}
    taken = np.asarray([at.get(v, -1) for v in distinct.tolist()] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(taken[codes], dtype=pd.CategoricalDtype(list(levels), ordered=True))


def assess_frame(
    df: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    as_of: date | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Return ``df``'s columns followed by the output :data:`COLUMNS`, one row per input row, same index.

    The level columns (risk, contraindication, dose status) are ordered categoricals, so that sorting follows
    the level; the two dose columns are float64 (NaN where not applicable); the text columns are object
    columns. ``columns`` maps a header (as written) to a field name when the automatic mapping is not enough.
    Raises :class:`UsageError` when no column maps to any field.
    """
    _hmap, _cells, found = _run(df, columns, as_of, engine, records=False)
    return _frame(df, found)


def assess_table(
    df: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    as_of: date | None = None,
    engine: Engine | None = None,
) -> TableAssessment:
    """:func:`assess_frame`, with the interactions and the input problems as long tables (pandera's
    ``failure_cases`` shape): one line per interaction or problem, its row position and patient id; and every
    row's reasons in full."""
    import pandas as pd

    hmap, cells, found = _run(df, columns, as_of, engine, records=True)
    ids = [patient_id(v) for v in cells["patient_id"]] if "patient_id" in cells else [None] * len(df)
    interactions = [
        (r, ids[r], i.drug, i.as_written, i.severity, i.action, i.before_h, i.after_h, ", ".join(i.sources))
        for r, i in found.interactions
    ]
    problems = [
        (r, ids[r], str(hmap.fields.get(p.field, p.field)), p.field, p.value, str(p.code), p.message)
        for r, p in found.problems
    ]
    return TableAssessment(
        _frame(df, found),
        _long(INTERACTION_COLUMNS, interactions),
        _long(FAILURE_COLUMNS, problems),
        pd.Series(found.reasons, index=df.index, dtype=object, name="reasons"),
    )


DRIVERS["assess_frame"] = assess_frame


def _long(names: Sequence[str], lines: list[tuple[Any, ...]]) -> pd.DataFrame:
    """A long table (object columns: any text, a lone surrogate too, is kept as it was read)."""
    import pandas as pd

    table = list(zip(*lines, strict=True)) if lines else [()] * len(names)
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in zip(names, table, strict=True)})


def failure_cases(
    df: pd.DataFrame, *, columns: Mapping[str, str] | None = None, as_of: date | None = None
) -> pd.DataFrame:
    """One line per input problem: row position, patient id, input column, field, value, reason code, message."""
    _check_frame(df)
    if not map_headers(df.columns, columns).fields:
        return _long(FAILURE_COLUMNS, [])
    return assess_table(df, columns=columns, as_of=as_of).problems
