"""Evaluate workbooks that use the mgdecision Excel functions with the ``formulas`` package (no Excel needed).

``register()`` makes the functions known to ``formulas`` under the names a saved workbook can hold:
the plain name (classic xlwings: a VBA function in the workbook) and ``_XLDUDF_<NAMESPACE>_<NAME>``
(Office add-in custom functions, as xlwings Lite stores them). ``calculate(path)`` returns every cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import formulas
import numpy as np
import schedula as sh
from formulas.functions import wrap_func

from mgdecision.excel import udfs

NAMESPACES = ("XLWINGS",)  # custom-function namespaces registered as _XLDUDF_<NAMESPACE>_<NAME>


def plain(value: Any) -> Any:
    """A ``formulas`` argument as a runtime delivers it: arrays -> lists of rows, empty tokens -> None."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value is sh.EMPTY:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _adapter(function: Any) -> Any:
    def call(*args: Any) -> Any:
        result = function(*(plain(a) for a in args))
        return np.asarray(result, dtype=object) if isinstance(result, list) else result

    call.__name__ = function.__name__
    return call


def register() -> dict[str, Any]:
    """Register every function under its plain and ``_XLDUDF_`` names; return the name -> callable map."""
    table = formulas.get_functions()
    names: dict[str, Any] = {}
    for name in udfs.__all__:
        wrapped = wrap_func(_adapter(getattr(udfs, name)))
        names[name] = wrapped
        for namespace in NAMESPACES:
            names[f"_XLDUDF_{namespace}_{name}"] = wrapped
    table.update(names)
    return names


def unregister() -> None:
    """Forget every function again, as in an Excel where the add-in or its functions are not loaded."""
    table = formulas.get_functions()
    for name in udfs.__all__:
        table.pop(name, None)
        for namespace in NAMESPACES:
            table.pop(f"_XLDUDF_{namespace}_{name}", None)


def calculate(path: Path | str, *, functions: bool = True) -> dict[tuple[str, str], Any]:
    """Load and calculate a workbook; map (SHEET, cell such as "U2") to its value (a scalar per cell).

    ``functions=False`` calculates it with the mgdecision functions unknown (they give ``#NAME?``).
    """
    if functions:
        register()
    else:
        unregister()
    try:
        model = formulas.ExcelModel().loads(str(path)).finish()
        solution = model.calculate()
    finally:
        unregister()  # every calculation states what it needs
    cells: dict[tuple[str, str], Any] = {}
    for key, ranges in solution.items():
        ref = str(key)
        if "!" not in ref:
            continue
        sheet, address = ref.rsplit("!", 1)
        sheet = sheet.split("]", 1)[-1].strip("'")
        values = np.asarray(getattr(ranges, "value", ranges), dtype=object)
        first, _, last = address.partition(":")
        if not last:
            cells[(sheet, address)] = plain(values.reshape(-1)[0]) if values.size else None
            continue
        col0, row0 = _split(first)
        for i, line in enumerate(np.atleast_2d(values)):
            for j, value in enumerate(line):
                cells[(sheet, f"{_col_name(col0 + j)}{row0 + i}")] = plain(value)
    return cells


def _split(address: str) -> tuple[int, int]:
    letters = "".join(ch for ch in address if ch.isalpha())
    digits = "".join(ch for ch in address if ch.isdigit())
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch.upper()) - 64
    return col, int(digits)


def _col_name(col: int) -> str:
    name = ""
    while col:
        col, rem = divmod(col - 1, 26)
        name = chr(65 + rem) + name
    return name
