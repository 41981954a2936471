"""The declarations Excel sees: only the portable xlwings subset, Function Wizard text within Excel's limits,
and the xlwings Lite main.py exposing the very same functions.

On Linux the xlwings decorators do nothing, so the module is loaded once more with recording stand-ins that
check what classic xlwings checks when it imports the functions (argument names exist, no keyword-only
arguments) and keep the docs for inspection.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest
import xlwings
from openpyxl.utils import get_column_letter

import mgdecision as mg
from mgdecision.excel import udfs

ADDIN = Path(udfs.__file__).parent
PORTABLE_ARG_OPTIONS = {"ndim", "doc"}
PORTABLE_FUNC_OPTIONS = {"category"}  # classic only; other runtimes ignore it


def _load_recorded(monkeypatch):
    records: dict[str, dict] = {}

    def entry(f):
        return records.setdefault(f.__name__, {"args": {}, "func": None})

    def func(f=None, **options):
        def inner(f):
            entry(f)["func"] = options
            return f

        return inner if f is None else inner(f)

    def arg(name, convert=None, **options):
        def inner(f):
            params = inspect.signature(f).parameters
            if name not in params:
                raise AssertionError(f"{f.__name__}: @arg names unknown argument {name!r}")
            assert convert is None, "converters are not portable"
            entry(f)["args"][name] = options
            return f

        return inner

    monkeypatch.setattr(xlwings, "func", func)
    monkeypatch.setattr(xlwings, "arg", arg)
    spec = importlib.util.spec_from_file_location("mgdecision.excel._udfs_recorded", ADDIN / "udfs.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module, records


@pytest.fixture(scope="module")
def recorded():
    with pytest.MonkeyPatch.context() as mp:
        yield _load_recorded(mp)


def test_every_function_is_declared_with_the_portable_subset(recorded):
    module, records = recorded
    assert sorted(records) == sorted(udfs.__all__)
    for name, record in records.items():
        function = getattr(module, name)
        assert name.isupper()
        assert set(record["func"]) <= PORTABLE_FUNC_OPTIONS, name
        assert function.__annotations__ == {}, f"{name}: type hints would become xlwings converters"
        for param in inspect.signature(function).parameters.values():
            assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
            assert param.name in record["args"], f"{name}: argument {param.name} has no @arg doc"
        for options in record["args"].values():
            assert set(options) <= PORTABLE_ARG_OPTIONS, name


def test_function_wizard_texts_fit_excel(recorded):
    module, records = recorded
    for name, record in records.items():
        doc = getattr(module, name).__doc__
        assert doc and "\n" not in doc and len(doc) <= 255, (name, len(doc or ""))
        assert f"={name}(" in doc, f"{name}: the description shows an example formula"
        for arg_name, options in record["args"].items():
            assert 0 < len(options["doc"]) <= 255, (name, arg_name)


def test_rows_tables_and_headers_arrive_as_two_dimensional_ranges(recorded):
    _, records = recorded
    for name, record in records.items():
        for arg_name in ("row", "headers", "table"):
            if arg_name in record["args"]:
                assert record["args"][arg_name]["ndim"] == 2, (name, arg_name)


def test_no_helper_is_exposed_as_a_function(recorded):
    module, records = recorded
    exposed = {n for n, obj in vars(module).items() if callable(obj) and n.isupper()}
    assert exposed == set(records)


def test_lite_main_exposes_the_same_functions():
    spec = importlib.util.spec_from_file_location("mg_lite_main", ADDIN / "lite" / "main.py")
    main = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(main)
    assert sorted(main.__all__) == sorted(udfs.__all__)
    for name in udfs.__all__:
        assert getattr(main, name) is getattr(udfs, name)
    requirements = (ADDIN / "lite" / "requirements.txt").read_text().splitlines()
    packages = [line.split("=")[0].split(">")[0].split("<")[0] for line in requirements if line and line[0] != "#"]
    assert packages == ["xlwings", "mgdecision"]


def test_lite_plugin_and_requirements_name_this_version():
    """The plugin metadata and the requirements pin the version the wheel (``python3 dev.py build``) carries."""
    import tomllib

    import mgdecision as mg

    plugin = tomllib.loads((ADDIN / "lite" / "pyproject.toml").read_text())["project"]
    assert plugin["name"] == "mgdecision-excel" and plugin["version"] == mg.__version__
    requirements = (ADDIN / "lite" / "requirements.txt").read_text()
    assert f"mgdecision=={mg.__version__}" in requirements.splitlines()
    assert "python3 dev.py build" in requirements


def test_examples_name_the_ready_workbooks_columns(recorded):
    """The example ranges of the Function Wizard texts and the #MG! messages end at the template's last column,
    and the spilling functions say how many outputs they give."""
    module, _ = recorded
    last = get_column_letter(len(mg.knowledge().fields))
    text = "\n".join(p.read_text() for p in (ADDIN / "udfs.py", ADDIN / "cells.py", ADDIN / "lite" / "main.py"))
    ranges = re.findall(r"A2:([A-Z]+)2\b|A\$1:([A-Z]+)\$1|A1:([A-Z]+)501", text)
    assert ranges and {c for found in ranges for c in found if c} == {last}
    for name in ("MG_FLAGS", "MG_TABLE"):
        assert f"all {len(mg.COLUMNS)} outputs" in getattr(module, name).__doc__.lower(), name
