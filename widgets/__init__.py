"""Jupyter front-end: ``PatientForm`` (one patient, live flag cards) and ``CohortTable`` (many patients).

    from mgdecision.widgets import PatientForm, CohortTable
    PatientForm({"age": 70, "sex": "F", "serum_mg": "0.6 mmol/L"})
    CohortTable(df)                       # or CohortTable() and upload an .xlsx

Needs the ``widgets`` extra (ipywidgets 8, itables, anywidget, voila).
"""

from __future__ import annotations

from .cards import flags_html
from .cohort import CohortTable
from .form import PatientForm

__all__ = ["CohortTable", "PatientForm", "flags_html"]
