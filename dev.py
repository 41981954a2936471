#!/usr/bin/env python3
"""Set-up and tasks for a fresh machine with only Python 3.11+: creates .venv, installs pinned dependencies.

python3 dev.py main     # batch-flag the MS clinic sample workbook (the main job)
python3 dev.py test     # lint, type-check and run the whole test suite
python3 dev.py demo     # print a few sample assessments
python3 dev.py bench    # print the benchmark figures
python3 dev.py snapshot # refresh the frozen outputs (tests/core/snapshots) after a change meant to alter them
python3 dev.py rules    # regenerate the rulebook (mgdecision/knowledge/RULEBOOK.md) after a knowledge change
python3 dev.py build    # build the sdist and the wheel (dist/mgdecision-<version>-py3-none-any.whl) for pip or
                        # xlwings Lite; fails on any build warning and checks what each holds
python3 dev.py matrix   # core and batch tests at the lowest versions pyproject.toml allows and at the newest published
python3 dev.py extras   # each extra alone in a fresh venv: install the wheel, run its command, pass its tests
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"
INPUTS = (ROOT / "pyproject.toml", ROOT / "constraints.txt")


def _run(*cmd: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=True)


def ensure_env() -> None:
    """Create .venv and install the project with every extra, pinned by constraints.txt (only when changed)."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in INPUTS)).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        venv.create(VENV, with_pip=True)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", ".[all,test]")
    STAMP.write_text(digest)


def main_job() -> None:
    out = ROOT / "sample_workbooks" / "ms_clinic.flagged.xlsx"
    _run(BIN / "mgdecision", "assess", "sample_workbooks/ms_clinic.xlsx", "-o", out, "--force")


def test() -> None:
    _run(
        PY,
        "-m",
        "ruff",
        "check",
        "mgdecision",
        "batch",
        "excel_addin",
        "widgets",
        "service",
        "tests",
        "benchmarks",
        "sample_workbooks",
        "dev.py",
    )
    _run(PY, "-m", "mypy", "mgdecision", "service")
    _run(PY, "-m", "pytest", "-q", *sys.argv[2:])


def bench() -> None:
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        _run(PY, script)


def rules() -> None:
    """Regenerate the shipped rulebook from the knowledge files; review the diff with the knowledge change."""
    _run(BIN / "mgdecision", "rules", "-o", ROOT / "mgdecision" / "knowledge" / "RULEBOOK.md", "--force")


def snapshot() -> None:
    """Refresh the frozen outputs (tests/core/snapshots) after a change meant to alter them; review the diff."""
    _run(PY, "-m", "tests.core.snapshot")


# ------------------------------------------------------------------ what pyproject.toml declares


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(requirement: str) -> str:
    return re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)  # type: ignore[union-attr]


def _requirements(*extras: str) -> list[str]:
    """The dependencies and those of ``extras`` (with the extras they name), mgdecision itself left out."""
    optional = _project()["project"]["optional-dependencies"]
    out, todo, seen = list(_project()["project"]["dependencies"]), list(extras), set()
    while todo:
        extra = todo.pop(0)
        if extra not in seen:
            seen.add(extra)
            for req in optional[extra]:
                if _canon(_name(req)) == "mgdecision":
                    todo += re.search(r"\[(.*)\]", req).group(1).split(",")  # type: ignore[union-attr]
                elif req not in out:
                    out.append(req)
    return out


def _requirement(name: str) -> str:
    """The requirement for ``name`` as pyproject.toml declares it (test tools are in the test extra)."""
    project = _project()["project"]
    for req in [*project["dependencies"], *(r for rs in project["optional-dependencies"].values() for r in rs)]:
        if _canon(_name(req)) == _canon(name):
            return req
    raise KeyError(f"{name} is not declared in pyproject.toml")


def _floor(requirement: str) -> str:
    """``pandas>=2.2`` -> ``pandas==2.2``: the lowest release the requirement allows, as a pin (no extras)."""
    found = re.search(r">=\s*([^,;\s]+)", requirement)
    if found is None:
        raise ValueError(f"{requirement!r} declares no floor")
    return f"{_name(requirement)}=={found.group(1)}"


def _python_versions() -> list[str]:
    """The Python versions the classifiers claim, oldest first (the oldest is requires-python's floor)."""
    found = [c.rsplit(" :: ", 1)[1] for c in _project()["project"]["classifiers"]
             if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def _python(version: str) -> Path | None:
    """An interpreter of Python ``version`` ("3.13") on this machine: this one, on PATH or under pyenv."""
    candidates = [sys.executable, shutil.which(f"python{version}"),
                  *sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"), reverse=True)]
    for python in filter(None, candidates):
        said = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, check=False)
        if said.returncode == 0 and said.stdout.strip() == version:
            return Path(python)
    return None


# ------------------------------------------------------------------ build


def _source_files() -> list[str]:
    """The project's files: tracked or new and not ignored by git (without git: all but dot-folders and outputs)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        skip = {"__pycache__", "dist", "build"}
        listed = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                  if not any(part.startswith(".") or part in skip or part.endswith(".egg-info")
                             for part in p.relative_to(ROOT).parts)]
    return sorted(f for f in listed if f and (ROOT / f).is_file())


def _package_folders() -> dict[str, str]:
    """Source folder -> its path inside the wheel (``batch`` -> ``mgdecision/batch``), from pyproject.toml."""
    mapped = _project()["tool"]["setuptools"]["package-dir"]
    return {"mgdecision": "mgdecision", **{folder: pkg.replace(".", "/") for pkg, folder in mapped.items()}}


MUST_SHIP = ("mgdecision/py.typed", "mgdecision/knowledge/knowledge.toml", "mgdecision/knowledge/rules.toml",
             "mgdecision/knowledge/schema.json", "mgdecision/knowledge/RULEBOOK.md", "mgdecision/widgets/app.ipynb",
             "mgdecision/widgets/example.ipynb",
             "mgdecision/widgets/share/voila/templates/mgapp/index.html.j2", "mgdecision/excel/mgdecision_addin.xlsx",
             "mgdecision/excel/lite/requirements.txt", "mgdecision/excel/lite/main.py")


def _check_wheel(wheel: Path, files: list[str]) -> None:
    """The wheel holds exactly the files of the package folders (data included), the licence and the command."""
    folders = _package_folders()
    expected = {folders[f.split("/", 1)[0]] + "/" + f.split("/", 1)[1] for f in files if f.split("/", 1)[0] in folders}
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(f"{info}/METADATA").decode()
        scripts = zf.read(f"{info}/entry_points.txt").decode()
    shipped = {n for n in names if not n.startswith(info + "/")}
    problems = [f"missing from the wheel: {n}" for n in sorted((expected | set(MUST_SHIP)) - shipped)]
    problems += [f"not a file of the package folders: {n}" for n in sorted(shipped - expected)]
    if f"{info}/licenses/LICENSE" not in names or "License-Expression: MIT" not in meta:
        problems.append("the licence is not in the wheel's metadata")
    if "mgdecision = mgdecision.batch.cli:main" not in scripts:
        problems.append("the mgdecision command is not declared")
    if problems:
        sys.exit("\n".join(problems))


def _check_sdist(sdist: Path, files: list[str]) -> None:
    """The sdist holds every project file but the dot-files (tests and their fixtures included), and no other."""
    with tarfile.open(sdist) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and "/" in m.name}
    made = {n for n in names if n in ("PKG-INFO", "setup.cfg") or n.split("/", 1)[0].endswith(".egg-info")}
    expected = {f for f in files if not f.startswith(".")}
    problems = [f"missing from the sdist: {n}" for n in sorted(expected - names)]
    problems += [f"not a project file: {n}" for n in sorted(names - made - expected)]
    if problems:
        sys.exit("\n".join(problems))


_BUILT: list[tuple[Path, Path]] = []


def build() -> tuple[Path, Path]:
    """The sdist and the wheel (built from the sdist) in dist/, from the project's files only (no outputs, venvs
    or caches). Fails on any warning of the build and unless each holds exactly what it should."""
    if _BUILT:
        return _BUILT[0]
    files, dist = _source_files(), ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else a note that it is off
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            (Path(tmp) / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, Path(tmp) / f)
        print(f"+ {PY} -m build --outdir {dist} (the project's {len(files)} files)", flush=True)
        done = subprocess.run([str(PY), "-m", "build", "--outdir", str(dist), tmp], capture_output=True, text=True,
                              env=env, check=False)
    log = done.stdout + done.stderr
    warnings = [line for line in log.splitlines() if re.search(r"(?i)warn|would be ignored", line)]
    if done.returncode or warnings:
        print(log)
        sys.exit("the build failed" if done.returncode else "the build printed warnings:\n" + "\n".join(warnings))
    sdist, wheel = next(dist.glob("*.tar.gz")), next(dist.glob("*.whl"))
    _check_sdist(sdist, files)
    _check_wheel(wheel, files)
    for path in (sdist, wheel):
        print(f"{path} ({path.stat().st_size / 1000:.0f} kB)")
    _BUILT.append((sdist, wheel))
    return sdist, wheel


def _test_tree(sdist: Path, folder: Path) -> Path:
    """The unpacked sdist without the core's source folder, so that its tests import the installed package."""
    with tarfile.open(sdist) as tar:
        tar.extractall(folder, filter="data")
    (tree,) = folder.glob("mgdecision-*")
    shutil.rmtree(tree / "mgdecision")
    return tree


# ------------------------------------------------------------------ fresh environments


def _new_venv(path: Path, python: Path) -> Path:
    """A new empty venv at ``path`` (pip runs from .venv into it); returns its interpreter."""
    shutil.rmtree(path, ignore_errors=True)
    _run(python, "-m", "venv", "--without-pip", path)
    return path / ("Scripts" if os.name == "nt" else "bin") / "python"


def _install(python: Path, *args: str | Path) -> None:
    """pip install into the venv of ``python``, without compiling: what its runs import is compiled as they go."""
    _run(PY, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", *args)


def _env(python: Path) -> dict[str, str]:
    """The environment of a command run in the venv of ``python``: its scripts first on PATH, bytecode kept."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    return env


def _pytest(python: Path, tree: Path, *args: str) -> None:
    _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, cwd=tree, env=_env(python))


def _versions(python: Path, names: tuple[str, ...]) -> str:
    """``Python 3.13.0, pandas 3.1.1, ...``: what the venv of ``python`` runs."""
    code = ("import importlib.metadata as m, sys; "
            f"print('Python ' + sys.version.split()[0], *(f'{{n}} {{m.version(n)}}' for n in {names!r}), sep=', ')")
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


CORE_TOOLS = ("pytest", "hypothesis", "pyyaml", "jsonschema", "simple-icd-10-cm")
MATRIX_EXTRAS = ("batch", "dask")
SEAM_TESTS = ("tests/batch/test_cell_patch.py", "tests/batch/test_annotate.py")  # annotate mode and openpyxl's writer
SHOWN = ("pandas", "numpy", "openpyxl", "pyarrow", "python-calamine", "xlsxwriter", "dask")


def matrix() -> None:
    """The core and batch tests (batch/cell_patch.py's included) twice: at the lowest versions pyproject.toml allows
    (the oldest Python it claims, every floor of the core, batch and dask pinned, the rest from constraints.txt),
    then at the newest published (the newest Python it claims found here, nothing pinned). Last, the newest
    openpyxl, even beyond the declared bound, against the writer annotate mode extends."""
    sdist, wheel = build()
    oldest, *_, newest = _python_versions()
    target = f"{wheel}[{','.join(MATRIX_EXTRAS)}]"
    tools = [_requirement(t) for t in CORE_TOOLS]
    floors = {_canon(_name(r)): _floor(r) for r in _requirements(*MATRIX_EXTRAS)}
    pins = [line for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
            if _canon(_name(line)) not in floors]
    with tempfile.TemporaryDirectory() as tmp:
        tree = _test_tree(sdist, Path(tmp))
        lowest = Path(tmp) / "lowest.txt"
        lowest.write_text("\n".join([*pins, *floors.values()]) + "\n")
        started = time.monotonic()
        for label, version, venv_dir, pinned in (("lowest", oldest, ".venv-min", ("-c", lowest)),
                                                 ("newest", newest, ".venv-max", ())):
            found = _python(version)
            if found is None:
                found = Path(sys.executable)
                print(f"== Python {version} is not installed here: the {label} run uses {found}")
            python = _new_venv(ROOT / venv_dir, found)
            _install(python, *pinned, target, *tools)
            print(f"== {label}: {_versions(python, SHOWN)}", flush=True)
            _pytest(python, tree, "tests/core", "tests/batch")
        bounded = _versions(python, ("openpyxl",)).split(", ")[1]
        _install(python, "--upgrade", "openpyxl")  # pip notes the conflict with the declared bound: meant
        beyond = _versions(python, ("openpyxl",)).split(", ")[1]
        if beyond == bounded:
            print(f"== the newest openpyxl is inside the declared range ({bounded})")
        else:
            print(f"== the newest openpyxl, beyond the declared bound: {beyond}", flush=True)
            _pytest(python, tree, *SEAM_TESTS)
            print(f"annotate mode works with {beyond}: the bound on openpyxl in pyproject.toml may be raised")
        print(f"matrix: {time.monotonic() - started:.0f} s after the build")


@dataclass(frozen=True)
class Alone:
    """One extra installed alone: the test tools its tests need (names from pyproject.toml), commands that must
    succeed, pytest arguments, and commands that must refuse with the pip line of the extra they name."""

    tools: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    tests: tuple[str, ...]
    refused: tuple[tuple[tuple[str, ...], str], ...] = ()


SAMPLE = "sample_workbooks/ms_clinic.xlsx"
WIDGET_TOOLS = ("pytest", "pyyaml", "nbclient", "nbformat", "ipykernel")
ALONE = {
    "": Alone(
        (*CORE_TOOLS, "openpyxl"),  # openpyxl reads the sample workbooks some core tests use
        (("mgdecision", "--version"), ("mgdecision", "assess", "--help"), ("mgdecision", "audit", "export", "--help"),
         ("mgdecision", "rules", "--format", "html", "-o", "rulebook.html")),
        ("tests/core",),
        refused=((("mgdecision", "assess", SAMPLE, "-o", "out.xlsx"), "batch"), (("mgdecision", "serve"), "service"),
                 (("mgdecision", "app", "--no-browser"), "app")),
    ),
    "batch": Alone(
        ("pytest",),
        (("mgdecision", "assess", "--help"), ("mgdecision", "assess", SAMPLE, "-o", "ms_clinic.flagged.xlsx", "-q")),
        ("tests/batch", "-k", "not test_dask"),
        refused=((("mgdecision", "assess", "list.csv", "--engine", "dask"), "dask"),),
    ),
    "dask": Alone(("pytest",), (("mgdecision", "assess", "--help"),), ("tests/batch/test_flat_and_dask.py",)),
    "excel": Alone(("pytest", "formulas", "openpyxl"), (("python", "-c", "import mgdecision.excel.udfs"),),
                   ("tests/excel",)),
    "widgets": Alone(
        WIDGET_TOOLS,
        (("python", "-c", "from mgdecision.widgets import CohortTable, PatientForm; PatientForm(); CohortTable()"),),
        ("tests/widgets", "--ignore=tests/widgets/test_browser.py", "-k", "not app_serves and not jupyterlab"),
        refused=((("mgdecision", "app", "--no-browser"), "app"),),
    ),
    "app": Alone(WIDGET_TOOLS, (("mgdecision", "app", "--help"),),
                 ("tests/widgets/test_notebook_app.py", "-k", "voila_arguments or app_notebook or app_serves")),
    "lab": Alone(WIDGET_TOOLS, (("jupyter", "lab", "--version"),),
                 ("tests/widgets/test_notebook_app.py", "-k", "jupyterlab")),
    "service": Alone(("pytest", "jsonschema"),
                     (("mgdecision", "serve", "--help"), ("python", "-m", "mgdecision.service", "--help")),
                     ("tests/service",)),
}


def _refuses(python: Path, tree: Path, command: tuple[str, ...], extra: str) -> None:
    print("+", " ".join(command), f"(refused: the {extra} extra)", flush=True)
    done = subprocess.run(command, cwd=tree, env=_env(python), capture_output=True, text=True, check=False)
    line = f'pip install "mgdecision[{extra}]"'
    if done.returncode != 2 or line not in done.stderr:
        sys.exit(f"expected exit 2 with {line}, got {done.returncode}: {done.stdout}{done.stderr}")


def extras() -> None:
    """For the core alone and each extra alone: a fresh venv, the wheel installed with that extra and the test tools
    (pinned by constraints.txt), its commands run, its tests passed (no browser), and the commands of extras not
    installed refused with their pip line. ``python3 dev.py extras widgets app`` checks those only."""
    chosen = sys.argv[2:] or [extra or "core" for extra in ALONE]
    sdist, wheel = build()
    started, took = time.monotonic(), {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = _test_tree(sdist, Path(tmp))
        for extra, alone in ALONE.items():
            if (extra or "core") not in chosen:
                continue
            began = time.monotonic()
            print(f"== {extra or 'core'} alone", flush=True)
            python = _new_venv(Path(tmp) / f"venv-{extra or 'core'}", Path(sys.executable))
            _install(python, "-c", ROOT / "constraints.txt", f"{wheel}[{extra}]" if extra else wheel,
                     *(_requirement(t) for t in alone.tools))
            size = sum(f.stat().st_size for f in python.parent.parent.rglob("*") if f.is_file()) / 1e6
            print(f"   {size:.0f} MB installed (with the test tools, without bytecode)", flush=True)
            for command in alone.commands:
                _run(*command, cwd=tree, env=_env(python))
            for command, needed in alone.refused:
                _refuses(python, tree, command, needed)
            _pytest(python, tree, *alone.tests)
            took[extra or "core"] = time.monotonic() - began
            shutil.rmtree(python.parent.parent)
    total = time.monotonic() - started
    print("extras:", ", ".join(f"{k} {v:.0f} s" for k, v in took.items()), f"(total {total:.0f} s after the build)")


TASKS = {"main": main_job, "test": test, "demo": lambda: _run(PY, "-m", "mgdecision.demo"), "bench": bench,
         "build": build, "snapshot": snapshot, "rules": rules, "matrix": matrix, "extras": extras}

if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells an older Python so
        sys.exit("mgdecision needs Python 3.11 or newer")
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    ensure_env()
    try:
        TASKS[sys.argv[1]]()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
