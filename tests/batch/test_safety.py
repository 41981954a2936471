"""Refusals, untrusted input, atomic output and exit codes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

import mgdecision.batch.annotate as annotate_mod
import mgdecision.batch.io_safety as io_safety
import mgdecision.batch.streaming as streaming_mod
from mgdecision.batch import cli
from mgdecision.extras import needed

from .conftest import ROWS, flagged_table, sha256, write_clinic


def test_existing_output_needs_force(clinic: Path, run_cli) -> None:
    target = clinic.with_name("clinic.flagged.xlsx")
    target.write_bytes(b"keep me")
    code, _, err = run_cli("assess", clinic)
    assert code == cli.EXIT_USAGE
    assert "already exists; use --force to replace it" in err
    assert target.read_bytes() == b"keep me"
    assert run_cli("assess", clinic, "--force", "-q")[0] == 0
    assert openpyxl.load_workbook(target).sheetnames[0] == "Patients"


def test_output_equal_to_input_refused(clinic: Path, run_cli) -> None:
    before = sha256(clinic)
    for args in (["-o", clinic], ["-o", clinic, "--force"], ["-o", clinic.parent / "." / clinic.name, "--force"]):
        code, _, err = run_cli("assess", clinic, *args)
        assert code == cli.EXIT_USAGE
        assert "refusing to write the output over the input" in err
    assert sha256(clinic) == before


def test_no_mappable_column_refused(tmp_path: Path, run_cli) -> None:
    src = write_clinic(tmp_path / "x.xlsx", headers=["Foo", "Bar"], rows=[[1, 2]])
    code, _, err = run_cli("assess", src)
    assert code == cli.EXIT_USAGE
    assert "no column could be mapped to a patient field; headers were: Foo, Bar" in err
    assert not (tmp_path / "x.flagged.xlsx").exists()


def test_bad_map_and_options(clinic: Path, run_cli) -> None:
    code, _, err = run_cli("assess", clinic, "--map", "Ward=shoe_size")
    assert code == cli.EXIT_USAGE and "unknown field(s) in column map" in err
    code, _, err = run_cli("assess", clinic, "--map", "nonsense")
    assert code == cli.EXIT_USAGE and "--map expects" in err
    code, _, err = run_cli("assess", clinic, "--sheet", "Nope")
    assert code == cli.EXIT_USAGE and "no sheet named 'Nope'" in err
    code, _, err = run_cli("assess", clinic, "-o", clinic.with_suffix(".txt"))
    assert code == cli.EXIT_USAGE and "unsupported output type" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["assess"])
    assert exc.value.code == cli.EXIT_USAGE


def test_unreadable_inputs(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("assess", tmp_path / "absent.xlsx")
    assert code == cli.EXIT_REFUSED and "input not found" in err
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip at all")
    code, _, err = run_cli("assess", fake)
    assert code == cli.EXIT_REFUSED and "is not a readable workbook" in err


def _bomb(path: Path, *, size: int = 0, members: int = 0) -> Path:
    write_clinic(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        if size:
            with zf.open("xl/media/padding.bin", "w", force_zip64=True) as fh:
                chunk = b"\0" * 1024**2
                for _ in range(size // len(chunk)):
                    fh.write(chunk)
        for i in range(members):
            zf.writestr(f"xl/media/m{i}.bin", b"")
    return path


def test_zip_bomb_ratio_refused(tmp_path: Path, run_cli) -> None:
    src = _bomb(tmp_path / "bomb.xlsx", size=64 * 1024**2)  # 64 MB of zeros compresses about 1000:1
    assert src.stat().st_size < 1024**2
    code, _, err = run_cli("assess", src)
    assert code == cli.EXIT_REFUSED
    assert "possible zip bomb" in err and "compresses" in err
    assert not (tmp_path / "bomb.flagged.xlsx").exists()


def test_zip_bomb_total_and_members_refused(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _bomb(tmp_path / "many.xlsx", members=60)
    monkeypatch.setattr(io_safety, "MAX_MEMBERS", 50)
    code, _, err = run_cli("assess", src, "--streaming")
    assert code == cli.EXIT_REFUSED and "archive members (limit 50)" in err
    monkeypatch.setattr(io_safety, "MAX_MEMBERS", 10_000)
    monkeypatch.setattr(io_safety, "MAX_UNCOMPRESSED_BYTES", 1000)
    code, _, err = run_cli("assess", src)
    assert code == cli.EXIT_REFUSED and "bytes uncompressed (limit 1,000)" in err


def test_defusedxml_required(clinic: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    code, _, err = run_cli("assess", clinic)
    assert code == cli.EXIT_REFUSED and "not protected by defusedxml" in err
    assert not clinic.with_name("clinic.flagged.xlsx").exists()


def test_formula_without_saved_value_reported_not_evaluated(tmp_path: Path, run_cli) -> None:
    rows = [list(r) for r in ROWS[:2]]
    rows[0][4] = "=40+5"  # eGFR as a formula; openpyxl saves no cached value
    path = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(["Patient ID", "Age", "Sex", "Serum Mg (mg/dL)", "eGFR"])
    for r in rows:
        ws.append(r[:5])
    wb.save(path)
    assert run_cli("assess", path, "-q")[0] == 0
    out = openpyxl.load_workbook(tmp_path / "f.flagged.xlsx")
    assert out["Patients"]["E2"].value == "=40+5" and out["Patients"]["E2"].data_type == "s"  # kept, as text
    problems = [[c.value for c in r] for r in out["Input problems"].iter_rows(min_row=2)]
    line = next(p for p in problems if p[1] == "E2")
    assert line[5] == "=40+5" and line[6] == "unreadable_value" and "not evaluated" in line[7]
    assert "not evaluated" in flagged_table(tmp_path / "f.flagged.xlsx")[1][0]["mg_input_problems"]  # on its row


@pytest.mark.parametrize("mode", ["--annotate", "--streaming"])
def test_interrupted_write_leaves_nothing(clinic: Path, run_cli, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    if mode == "--annotate":
        def broken_save(self, filename):  # part of a file written, then a crash
            Path(filename).write_bytes(b"PK\x03\x04 half")
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    else:
        real = streaming_mod._Cells.row
        calls = {"n": 0}

        def broken_row(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 8:
                raise OSError(28, "No space left on device")
            return real(self, *args, **kwargs)
        monkeypatch.setattr(streaming_mod._Cells, "row", broken_row)
    before = sha256(clinic)
    code, _, err = run_cli("assess", clinic, mode, "-q")
    assert code == cli.EXIT_WRITE and "No space left on device" in err
    assert sorted(p.name for p in clinic.parent.iterdir()) == ["clinic.xlsx"]
    assert sha256(clinic) == before
    assert annotate_mod.write_annotated  # module imported, nothing else touched


def test_keyboard_interrupt_leaves_nothing(clinic: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(annotate_mod, "write_annotated", interrupted)
    code, _, err = run_cli("assess", clinic)
    assert code == cli.EXIT_INTERRUPTED and "no output written" in err
    assert sorted(p.name for p in clinic.parent.iterdir()) == ["clinic.xlsx"]


def test_help_documents_exit_codes() -> None:
    proc = subprocess.run([sys.executable, "-m", "mgdecision.batch.cli", "assess", "--help"],
                          capture_output=True, text=True, check=True)
    for code in ("0 ", "2 ", "3 ", "4 ", "130"):
        assert f"  {code}" in proc.stdout
    assert "do not replace clinical judgement" in proc.stdout
    assert "exit codes" in (cli.__doc__ or "").lower()


def test_module_entry_point(clinic: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mgdecision.batch", "assess", str(clinic), "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (clinic.parent / "clinic.flagged.xlsx").exists()


def test_app_subcommand_missing_module(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    def main(argv: list[str]) -> int:
        import voila.app  # noqa: F401 - as the app imports Voila

        return 0

    monkeypatch.setattr(cli, "needed", lambda extra, command: needed("batch", command))  # what is installed here
    monkeypatch.setitem(sys.modules, "mgdecision.widgets.app", types.SimpleNamespace(main=main))
    monkeypatch.setitem(sys.modules, "voila", None)
    code, _, err = run_cli("app")
    assert code == cli.EXIT_USAGE and 'mgdecision app needs the batch extra (voila not installed)' in err
    assert 'pip install "mgdecision[batch]"' in err


def test_app_subcommand_passes_arguments(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    seen = {}
    fake = types.ModuleType("mgdecision.widgets.app")
    fake.main = lambda argv: seen.setdefault("argv", argv) and 0
    monkeypatch.setattr(cli, "needed", lambda extra, command: contextlib.nullcontext())  # with or without the app extra
    monkeypatch.setitem(sys.modules, "mgdecision.widgets.app", fake)
    assert run_cli("app", "--port", "8866")[0] == 0
    assert seen["argv"] == ["--port", "8866"]


def test_csv_safe_prefix() -> None:
    assert [io_safety.csv_safe(v) for v in ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "ok", 5]] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", 5]


def test_too_many_rows_for_a_worksheet(clinic: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import mgdecision.batch.run as run

    monkeypatch.setattr(run, "MAX_ROWS", 4)
    code, _, err = run_cli("assess", clinic, "--streaming")
    assert code == cli.EXIT_USAGE and "do not fit in one worksheet; write CSV or Parquet" in err
    assert run_cli("assess", clinic, "-o", clinic.with_name("all.csv"), "-q")[0] == 0


def test_output_is_an_ordinary_file_for_the_users_folder(tmp_path: Path) -> None:
    import os
    import stat

    from mgdecision.batch.io_safety import atomic_output

    target = tmp_path / "out.xlsx"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
