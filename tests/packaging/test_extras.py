"""A command whose extra is not installed is a usage error (exit 2) that gives the pip line, for every command.

The commands run in a subprocess where the extra's libraries are made absent: their imports fail and the
package metadata does not list them, as in an environment where they were never installed. The same commands
run in real environments with each extra alone in ``python3 dev.py extras``."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mgdecision import extras
from mgdecision.extras import MissingExtra, missing, needed, require

from ..batch.conftest import write_clinic

ABSENT = """
import importlib.abc, importlib.metadata as md, sys
ABSENT = set(sys.argv[1].split(","))
IMPORT_ONLY = sys.argv[2] == "import-only"

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Absent())
if not IMPORT_ONLY:
    found = md.distribution
    def distribution(name):
        if name.lower().replace("_", "-") in ABSENT:
            raise md.PackageNotFoundError(name)
        return found(name)
    md.distribution = distribution
from mgdecision.batch.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _without(absent: str, *argv: object, import_only: bool = False, cwd: Path | None = None) -> tuple[int, str]:
    """Run the ``mgdecision`` command with the distributions (and top-level modules) ``absent`` not installed."""
    mode = "import-only" if import_only else "absent"
    done = subprocess.run([sys.executable, "-c", ABSENT, absent, mode, *map(str, argv)], capture_output=True,
                          text=True, timeout=120, cwd=cwd, check=False)
    return done.returncode, done.stdout + done.stderr


def test_assess_without_the_batch_extra_is_a_usage_error_with_the_pip_line(tmp_path: Path) -> None:
    clinic = write_clinic(tmp_path / "clinic.xlsx")
    code, out = _without("openpyxl,defusedxml", "assess", clinic)
    assert code == 2, out
    assert 'pip install "mgdecision[batch]"' in out and "openpyxl, defusedxml not installed" in out
    assert not clinic.with_name("clinic.flagged.xlsx").exists()


def test_a_library_that_fails_to_import_is_named_with_the_pip_line(tmp_path: Path) -> None:
    clinic = write_clinic(tmp_path / "clinic.xlsx")
    code, out = _without("xlsxwriter", "assess", clinic, "--streaming", "-q", import_only=True)
    assert code == 2, out
    assert 'mgdecision assess needs the batch extra (xlsxwriter not installed)' in out
    assert 'pip install "mgdecision[batch]"' in out and "Traceback" not in out
    assert not clinic.with_name("clinic.flagged.xlsx").exists()


def test_assess_on_dask_without_the_dask_extra(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("age,serum magnesium (mmol/L)\n70,0.6\n")
    code, out = _without("dask,distributed", "assess", tmp_path / "list.csv", "--engine", "dask")
    assert code == 2, out
    assert 'mgdecision assess --engine dask needs the dask extra' in out and 'pip install "mgdecision[dask]"' in out


@pytest.mark.parametrize("import_only", [False, True])
def test_app_without_voila_is_a_usage_error_with_the_pip_line(import_only: bool) -> None:
    """The widgets alone (the form and the cohort table in JupyterLab) do not serve the app: Voila is the app extra."""
    code, out = _without("voila", "app", "--no-browser", import_only=import_only)
    assert code == 2, out
    assert 'mgdecision app needs the app extra (voila not installed)' in out and 'pip install "mgdecision[app]"' in out


@pytest.mark.parametrize("import_only", [False, True])
def test_serve_without_the_service_extra_is_a_usage_error_with_the_pip_line(import_only: bool) -> None:
    code, out = _without("fastapi,uvicorn", "serve", "--port", "1", import_only=import_only)
    assert code == 2, out
    assert "mgdecision serve needs the service extra" in out and 'pip install "mgdecision[service]"' in out


def test_audit_export_needs_no_extra(tmp_path: Path) -> None:
    from mgdecision.service.audit import FeedbackStore

    FeedbackStore(tmp_path / "feedback.sqlite3").close()
    code, out = _without("fastapi,uvicorn,httpx", "audit", "export", "--db", tmp_path / "feedback.sqlite3")
    assert code == 0, out
    assert out.splitlines()[0].startswith("id,received_at,service_id,card_uuid,")


def test_every_extra_the_commands_name_is_declared_and_installed_here() -> None:
    for extra in ("batch", "dask", "app", "service", "widgets", "excel", "lab", "all"):
        assert missing(extra) == [], extra
    with pytest.raises(ValueError, match="no extra 'widget'"):
        require("widget", "mgdecision app")


def _fake_metadata(monkeypatch: pytest.MonkeyPatch, requires: list[str], installed: set[str]) -> None:
    fake = type("Meta", (), {"get_all": staticmethod(lambda key: ["batch", "dask", "app", "widgets", "all"])})()
    monkeypatch.setattr(extras.metadata, "requires", lambda name: requires)
    monkeypatch.setattr(extras.metadata, "metadata", lambda name: fake)

    def distribution(name: str) -> object:
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return object()

    monkeypatch.setattr(extras.metadata, "distribution", distribution)


def test_the_extras_an_extra_names_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_metadata(monkeypatch, [
        "pandas>=2.2",
        'openpyxl<3.2,>=3.1.5; extra == "batch"',
        "python-calamine>=0.4 ; extra == 'batch'",
        'mgdecision[batch]; extra == "dask"',
        'dask[dataframe]>=2024.1; extra == "dask"',
        'ipywidgets<9,>=8.1; extra == "widgets"',
        'mgdecision[widgets]; extra == "app"',
        'voila>=0.5; extra == "app"',
        'mgdecision[app,dask]; extra == "all"',
        'openpyxl<3.2,>=3.1.5; extra == "all"',
    ], installed={"pandas", "python-calamine", "ipywidgets"})
    assert missing("batch") == ["openpyxl"]
    assert missing("dask") == ["dask", "openpyxl"]
    assert missing("app") == ["voila"]
    assert sorted(missing("all")) == ["dask", "openpyxl", "voila"]
    with pytest.raises(MissingExtra) as caught:
        require("app", "mgdecision app")
    assert str(caught.value) == 'mgdecision app needs the app extra (voila not installed); install it with: ' \
                                'pip install "mgdecision[app]"'
    assert isinstance(caught.value, extras.UsageError) and caught.value.extra == "app"


def test_not_installed_from_a_package_nothing_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(extras.metadata, "requires", absent)
    assert missing("batch") == []


def test_an_import_of_mgdecision_itself_is_not_a_missing_extra() -> None:
    with pytest.raises(ModuleNotFoundError), needed("batch", "mgdecision assess"):
        raise ModuleNotFoundError("No module named 'mgdecision.nothing'", name="mgdecision.nothing")
    with pytest.raises(MissingExtra, match=r"\(tqdm not installed\)"), needed("batch", "mgdecision assess"):
        raise ModuleNotFoundError("No module named 'tqdm'", name="tqdm")
