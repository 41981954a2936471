"""``--engine dask``: the same :func:`mgdecision.assess_frame` on every partition of a CSV/Parquet input.

CSV partitions are split at record ends, never inside a quoted line break. A local cluster
(``--workers`` processes) is started by default; ``scheduler`` connects to an existing one instead. Output is a
single CSV (OWASP-prefixed text) or a Parquet folder; counts per level are computed in the same pass.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mgdecision as mg
from mgdecision.outputs import LEVEL_COLUMNS, OUTPUTS

from .engine import Tally
from .flat import csv_safe_frame
from .headers import check_map
from .io_safety import RefusedInput, atomic_output

__all__ = ["assess_partitions", "cluster", "run_dask"]


def record_offsets(path: Path, blocksize: int) -> list[int]:
    """Byte offsets at which to split a CSV into partitions: always at a record end, never inside a quoted field.

    A line break inside quotes (an odd number of quote characters so far) is not a record end."""
    offsets = [0]
    position, odd, header_done = 0, False, False
    with path.open("rb") as fh:
        for line in fh:
            position += len(line)
            odd ^= line.count(b'"') % 2 == 1
            if odd:
                continue
            if not header_done:
                header_done = True
                offsets[0] = position
            elif position - offsets[-1] >= blocksize:
                offsets.append(position)
    if offsets[-1] != position:
        offsets.append(position)
    return offsets


def _read_part(span: tuple[str, int, int, str]) -> Any:
    """One partition: the records from ``start`` to ``end`` under the file's header record; every value as text.

    Columns are named as the local reader names them (a blank header is ``Column E``, a repeat ``Age #2``); a
    record with more fields than the header is refused, never cut."""
    import csv
    import io
    import warnings

    import pandas as pd

    from .source import unique_names

    name, start, end, sep = span
    with open(name, encoding="utf-8-sig", errors="replace", newline="") as text:
        header = next(csv.reader(text, delimiter=sep), [])
    with open(name, "rb") as fh:
        fh.seek(start)
        body = fh.read(end - start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # index_col=False warns where it drops fields
            df = pd.read_csv(io.BytesIO(body), dtype=object, keep_default_na=False, sep=sep, header=None,
                             names=range(len(header)), index_col=False, encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise RefusedInput(f"{Path(name).name}: a record after byte {start:,} has more fields than the header row "
                           f"({str(exc).strip()}); give every column a header (a blank header cell is enough: end "
                           "the header row with one more separator)") from None
    df.columns = unique_names(header)
    return df


def _blocksize(value: str | int) -> int:
    if isinstance(value, int):
        return value
    from dask.utils import parse_bytes

    return int(parse_bytes(value))


def read_frame(path: Path, blocksize: str | int = "16MB") -> Any:
    """A Dask frame of ``path``: CSV partitions split at record ends (quoted line breaks kept), or Parquet."""
    import dask.dataframe as dd

    from .source import sniff_delimiter

    suffix = path.suffix.lower()
    if suffix == ".csv":
        sep = sniff_delimiter(path)
        offsets = record_offsets(path, _blocksize(blocksize))
        spans = [(str(path), a, b, sep) for a, b in itertools.pairwise(offsets)]
        if not spans:  # a header and no rows
            spans = [(str(path), offsets[0], offsets[0], sep)]
        return dd.from_map(_read_part, spans)
    if suffix == ".parquet" or path.is_dir():
        return dd.read_parquet(str(path))
    raise mg.UsageError("--engine dask reads .csv or .parquet")


def _as_text(df: Any) -> Any:
    """Object columns as pandas strings, so that Parquet gets a stable schema across partitions."""
    return df.astype({c: "string" for c in df.columns if df[c].dtype == object or str(df[c].dtype) == "str"})


def _assess(part: Any, columns: Mapping[str, str] | None) -> Any:
    return _as_text(mg.assess_frame(part, columns=columns))


def assess_partitions(ddf: Any, columns: Mapping[str, str] | None = None) -> Any:
    """``ddf`` with the output columns appended, partition by partition (order and index kept)."""
    import pandas as pd

    mg.map_headers(list(ddf.columns), columns)  # unknown --map fields fail here, before any work
    empty = ddf._meta.iloc[:0]
    meta = _as_text(pd.concat([empty.drop(columns=[c for c in mg.COLUMNS if c in empty.columns]),
                               pd.DataFrame({o.name: pd.Series(dtype="float64" if o.dtype == "float" else object)
                                             for o in OUTPUTS})], axis=1))
    return ddf.map_partitions(_assess, columns, meta=meta)


@contextlib.contextmanager
def cluster(scheduler: str | None, *, n_workers: int = 2, processes: bool = True) -> Iterator[Any]:
    """A distributed client: connected to ``scheduler`` or on a local cluster closed afterwards."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes, dashboard_address=None) as lc, \
            Client(lc) as client:
        yield client


@contextlib.contextmanager
def _staged(target: Path, force: bool = True) -> Iterator[Path]:
    """A CSV file (atomic rename) or a Parquet folder built beside ``target`` and moved into place at the end."""
    if target.suffix.lower() == ".csv":
        with atomic_output(target, force=force) as tmp:
            yield tmp
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_dask(source: Path, target: Path, columns: Mapping[str, str] | None, *, scheduler: str | None = None,
             processes: bool = True, blocksize: str | int = "16MB", n_workers: int = 2, force: bool = True) -> Tally:
    """Flag ``source`` into ``target`` (.csv or .parquet) on a cluster; return the counts."""
    import dask

    if target.suffix.lower() not in (".csv", ".parquet"):
        raise mg.UsageError("--engine dask writes .csv or .parquet (use -o NAME.csv or -o NAME.parquet)")
    try:
        ddf = read_frame(source, blocksize)
    except (mg.UsageError, RefusedInput):
        raise
    except Exception as exc:
        if isinstance(exc.__cause__, RefusedInput):  # older dask wraps what the first partition raised
            raise exc.__cause__ from None
        raise RefusedInput(f"{source.name} could not be read ({type(exc).__name__}: {exc})") from exc
    check_map(columns or {}, [str(c) for c in ddf.columns])
    if not mg.map_headers(list(ddf.columns), columns).fields:
        raise mg.UsageError("no column could be mapped to a patient field; headers were: " + ", ".join(ddf.columns))
    flagged = assess_partitions(ddf, columns)
    with cluster(scheduler, processes=processes, n_workers=n_workers), _staged(target, force) as tmp:
        if target.suffix.lower() == ".csv":
            write = flagged.map_partitions(csv_safe_frame, meta=flagged._meta).to_csv(
                str(tmp), single_file=True, index=False, compute=False, lineterminator="\r\n")
        else:
            write = flagged.to_parquet(str(tmp), write_index=False, compute=False)
        counts = [flagged[c].value_counts() for c in LEVEL_COLUMNS]
        problems = (flagged["mg_input_problems"] != "").sum()
        _, risk, contra, dose, with_problems = dask.compute(write, *counts, problems)
    tally = Tally(rows=int(sum(risk.values)), risk=Counter(risk.to_dict()), contraindication=Counter(contra.to_dict()),
                  dose_status=Counter(dose.to_dict()), rows_with_problems=int(with_problems))
    return tally
