"""CSV/Parquet in and out, and ``--engine dask`` on a local two-worker cluster."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

import mgdecision as mg
from mgdecision import outputs

from .conftest import HEADERS, INJECTION, ROWS


def _frame(n: int) -> pd.DataFrame:
    rows = [[f"{r[0]}-{i}", *r[1:]] for i in range(n // len(ROWS) + 1) for r in ROWS][:n]
    df = pd.DataFrame(rows, columns=HEADERS).astype(object)
    return df.map(lambda v: "" if v is None else str(v))


def test_csv_in_csv_out_with_quote_prefix(tmp_path: Path, run_cli) -> None:
    df = _frame(12)
    df.loc[0, "Diagnoses"] = INJECTION
    df.loc[1, "Symptoms"] = "@cmd"
    src = tmp_path / "list.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "list.flagged.csv"
    code, stdout, _ = run_cli("assess", src, "-o", out, "-q")
    assert code == 0 and str(out) in stdout
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADERS + list(mg.COLUMNS)
    assert rows[1][HEADERS.index("Diagnoses")] == "'" + INJECTION
    assert rows[2][HEADERS.index("Symptoms")] == "'@cmd"
    expected = mg.assess_frame(pd.read_csv(src, dtype=object, keep_default_na=False))
    for name in outputs.TEXT_COLUMNS:  # every text output, under its machine name, as the core gives it
        assert [r[len(HEADERS) + mg.COLUMNS.index(name)] for r in rows[1:]] == expected[name].tolist(), name
    assert [r[0] for r in rows[1:]] == df["Patient ID"].tolist()


def test_parquet_in_workbook_out(tmp_path: Path, run_cli) -> None:
    import openpyxl

    df = _frame(30)
    src = tmp_path / "list.parquet"
    df.to_parquet(src)
    assert run_cli("assess", src, "-q")[0] == 0
    ws = openpyxl.load_workbook(tmp_path / "list.flagged.xlsx")["list"]
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    expected = mg.assess_frame(df)
    for name in (*outputs.LEVEL_COLUMNS, "mg_decision"):  # in plain words, as the core decides
        assert [g[len(HEADERS) + mg.COLUMNS.index(name)] for g in got] == \
            [outputs.plain(name, v) for v in expected[name]], name


def _compare(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(result.columns) == list(expected.columns)
    assert len(result) == len(expected)
    for col in mg.COLUMNS:
        got = result[col].tolist()
        want = expected[col].tolist()
        if col.endswith("_mg"):
            assert pd.Series(got, dtype=float).equals(pd.Series(want, dtype=float)), col
        else:
            assert [("" if pd.isna(g) else g) for g in got] == want, col
    assert result[HEADERS[0]].tolist() == expected[HEADERS[0]].tolist()


def test_dask_local_cluster_equals_single_process(tmp_path: Path) -> None:
    from mgdecision.batch.distributed import run_dask

    df = _frame(300)
    src = tmp_path / "big.csv"
    df.to_csv(src, index=False)
    expected = mg.assess_frame(pd.read_csv(src, dtype=object, keep_default_na=False))
    for target in (tmp_path / "out.parquet", tmp_path / "out.csv"):
        tally = run_dask(src, target, None, processes=False, blocksize=4000)
        assert tally.rows == 300 and sum(tally.risk.values()) == 300
        if target.suffix == ".csv":
            result = pd.read_csv(target, dtype=object, keep_default_na=False)
            result = result.astype({"mg_dose_min_mg": float, "mg_dose_max_mg": float}, errors="ignore")
            result["mg_dose_min_mg"] = pd.to_numeric(result["mg_dose_min_mg"])
            result["mg_dose_max_mg"] = pd.to_numeric(result["mg_dose_max_mg"])
        else:
            result = pd.read_parquet(target)
        _compare(result.reset_index(drop=True), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "out.csv", "out.parquet"]


@pytest.mark.slow
def test_dask_cli_with_worker_processes(tmp_path: Path, run_cli) -> None:
    df = _frame(60)
    src = tmp_path / "list.csv"
    df.to_csv(src, index=False)
    code, out, _ = run_cli("assess", src, "--engine", "dask", "-o", tmp_path / "list.flagged.parquet")
    assert code == 0 and "dask mode" in out
    result = pd.read_parquet(tmp_path / "list.flagged.parquet")
    assert result["mg_risk"].tolist() == mg.assess_frame(df)["mg_risk"].tolist()


def test_dask_csv_quoted_line_breaks_do_not_break_partitions(tmp_path: Path) -> None:
    from mgdecision.batch.distributed import read_frame, record_offsets, run_dask

    df = _frame(120)
    df["Symptoms"] = [f"cramps\nat night {i}\r\n=not a formula" if i % 3 == 0 else s
                      for i, s in enumerate(df["Symptoms"])]
    src = tmp_path / "breaks.csv"
    df.to_csv(src, index=False)
    offsets = record_offsets(src, 500)
    assert len(offsets) > 10  # many partitions, each split at a record end
    ddf = read_frame(src, 500)
    assert ddf.npartitions == len(offsets) - 1
    whole = ddf.compute()
    assert len(whole) == 120 and whole["Patient ID"].tolist() == df["Patient ID"].tolist()
    assert whole["Symptoms"].tolist() == df["Symptoms"].tolist()
    target = tmp_path / "out.csv"
    tally = run_dask(src, target, None, processes=False, blocksize=500, n_workers=1)
    assert tally.rows == 120
    with target.open(newline="") as fh:
        records = list(csv.reader(fh))
    assert len(records) == 121
    expected = mg.assess_frame(pd.read_csv(src, dtype=object, keep_default_na=False))
    for name in outputs.TEXT_COLUMNS:
        assert [r[len(HEADERS) + mg.COLUMNS.index(name)] for r in records[1:]] == expected[name].tolist(), name
    assert records[1][HEADERS.index("Symptoms")] == "cramps\nat night 0\r\n'=not a formula"


@pytest.mark.slow
def test_dask_workers_option(tmp_path: Path, run_cli) -> None:
    df = _frame(30)
    src = tmp_path / "list.csv"
    df.to_csv(src, index=False)
    code, out, err = run_cli("assess", src, "--engine", "dask", "--workers", "1", "-o", tmp_path / "o.csv")
    assert code == 0 and "dask mode" in out, err
    assert run_cli("assess", src, "--engine", "dask", "--workers", "0", "-o", tmp_path / "p.csv")[0] == 2
    code, _, err = run_cli("assess", src, "--engine", "dask", "--map", "Nope=serum_mg", "-o", tmp_path / "q.csv")
    assert code == 2 and "not in the header row" in err
