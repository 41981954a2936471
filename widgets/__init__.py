"""Jupyter front-end: ``PatientForm`` (one patient, live flag cards) and ``CohortTable`` (many patients).

    from mgdecision.widgets import PatientForm, CohortTable
    PatientForm({"age": 70, "sex": "F", "serum_mg": "0.6 mmol/L"})
    CohortTable(df)                       # or CohortTable() and upload an .xlsx or .csv

Needs the ``widgets`` extra (ipywidgets 8, itables, anywidget, voila). The widgets are imported when first
used, so ``mgdecision app`` starts its server without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cards import flags_html
    from .cohort import CohortTable
    from .form import PatientForm

__all__ = ["CohortTable", "PatientForm", "flags_html"]

_WHERE = {"CohortTable": "cohort", "PatientForm": "form", "flags_html": "cards"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
