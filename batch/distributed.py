"""``--engine dask``: the same :func:`mgdecision.assess_frame` on every partition of a CSV/Parquet input.

A local cluster is started by default; ``scheduler`` connects to an existing one instead. Output is a
single CSV (OWASP-prefixed text) or a Parquet folder; counts per level are computed in the same pass.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mgdecision as mg

from .engine import Tally
from .flat import csv_safe_frame
from .io_safety import RefusedInput, atomic_output

__all__ = ["assess_partitions", "cluster", "run_dask"]


def read_frame(path: Path, blocksize: str | int = "16MB") -> Any:
    import dask.dataframe as dd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return dd.read_csv(str(path), dtype=object, keep_default_na=False, blocksize=blocksize)
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
                               pd.DataFrame({c: pd.Series(dtype="float64" if c.endswith("_mg") else object)
                                             for c in mg.COLUMNS})], axis=1))
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
def _staged(target: Path) -> Iterator[Path]:
    """A CSV file (atomic rename) or a Parquet folder built beside ``target`` and moved into place at the end."""
    if target.suffix.lower() == ".csv":
        with atomic_output(target) as tmp:
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
             processes: bool = True, blocksize: str | int = "16MB") -> Tally:
    """Flag ``source`` into ``target`` (.csv or .parquet) on a cluster; return the counts."""
    import dask

    if target.suffix.lower() not in (".csv", ".parquet"):
        raise mg.UsageError("--engine dask writes .csv or .parquet (use -o NAME.csv or -o NAME.parquet)")
    try:
        ddf = read_frame(source, blocksize)
    except mg.UsageError:
        raise
    except Exception as exc:
        raise RefusedInput(f"{source.name} could not be read ({type(exc).__name__}: {exc})") from exc
    if not mg.map_headers(list(ddf.columns), columns).fields:
        raise mg.UsageError("no column could be mapped to a patient field; headers were: " + ", ".join(ddf.columns))
    flagged = assess_partitions(ddf, columns)
    with cluster(scheduler, processes=processes), _staged(target) as tmp:
        if target.suffix.lower() == ".csv":
            write = flagged.map_partitions(csv_safe_frame, meta=flagged._meta).to_csv(
                str(tmp), single_file=True, index=False, compute=False)
        else:
            write = flagged.to_parquet(str(tmp), write_index=False, compute=False)
        counts = [flagged[c].value_counts() for c in ("mg_risk", "mg_contraindication", "mg_dose_status")]
        problems = (flagged["mg_input_problems"] != "").sum()
        _, risk, contra, dose, with_problems = dask.compute(write, *counts, problems)
    tally = Tally(rows=int(sum(risk.values)), risk=Counter(risk.to_dict()), contraindication=Counter(contra.to_dict()),
                  dose_status=Counter(dose.to_dict()), rows_with_problems=int(with_problems))
    return tally
