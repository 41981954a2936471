"""``CohortTable``: many patients in a sortable, searchable table with coloured flag columns.

    table = CohortTable(df)      # or CohortTable() and upload an .xlsx
    table                        # select a row -> it opens in the PatientForm below; Save recomputes it

The table is an ``itables`` ``ITable`` (a DOM ``<table>``: screen readers and browser tests see the
cells) whose flag cells are coloured with the accessor's palette. Each row's flags come from
``mg.assess_frame``; nothing is decided here.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import pandas as pd
from itables.widget import ITable

import mgdecision as mg
from mgdecision.accessor import FLAG_COLUMNS, flag_css

from .export import XLSX_MIME, export_xlsx
from .form import PatientForm
from .inputs import is_empty

__all__ = ["CohortTable", "read_workbook"]

SHOWN_FLAGS = ("mg_risk", "mg_contraindication", "mg_dose_status", "mg_dose", "mg_interactions", "mg_input_problems")
LAYOUT = {"topStart": "pageLength", "topEnd": "search", "bottomStart": "info", "bottomEnd": "paging"}
CHUNK = 500  # rows assessed between two progress-bar updates
_FLAG_BOX = "display:block;padding:1px 4px;border-radius:3px;font-weight:600;"


def read_workbook(content: bytes) -> pd.DataFrame:
    """The first sheet of an .xlsx file as a DataFrame (headers on the first row)."""
    return pd.read_excel(io.BytesIO(content), sheet_name=0, engine="openpyxl")


def _text_html(value: Any) -> str:
    if is_empty(value):
        return ""
    return html.escape(f"{value:g}" if isinstance(value, float) else str(value))


def _cells_html(view: pd.DataFrame) -> pd.DataFrame:
    """The shown frame as escaped HTML cells; flag cells carry the cards' colours (``df.mg.style()`` palette).

    Cells rather than a Styler: DataTables then draws only the visible page, and 5,000 rows stay fast.
    """
    out = pd.DataFrame(index=view.index)
    for column in view.columns:
        values = view[column].tolist()
        if column in FLAG_COLUMNS:
            out[column] = [f'<span class="mg-flag" style="{_FLAG_BOX}{flag_css(column, v)}">{_text_html(v)}</span>'
                           if flag_css(column, v) else _text_html(v) for v in values]
        else:
            out[column] = [_text_html(v) for v in values]
    return out


def _cell(value: Any) -> Any:
    """A form value as a table cell: numeric text becomes a number, blanks become missing."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


class CohortTable(w.VBox):
    """Patients from a DataFrame or an uploaded workbook, their flags, and a form to edit one row."""

    def __init__(self, df: pd.DataFrame | None = None, *, page_length: int = 10) -> None:
        self.data = pd.DataFrame()
        self.result = pd.DataFrame()
        self.page_length = page_length
        self.upload = w.FileUpload(accept=".xlsx", multiple=False, description="Upload .xlsx",
                                   tooltip="Load patients from an Excel workbook (first sheet)")
        self.upload.add_class("mg-upload")
        self.upload.observe(self._uploaded, "value")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Assessing",
                                      layout=w.Layout(visibility="hidden", width="360px"))
        self.progress.add_class("mg-progress")
        self.add_button = w.Button(description="Add patient", icon="plus", tooltip="Add an empty row")
        self.add_button.on_click(lambda _b: self.add_patient())
        self.delete_button = w.Button(description="Delete selected", icon="trash", button_style="danger",
                                      tooltip="Delete the selected rows")
        self.delete_button.on_click(lambda _b: self.delete_selected())
        self.export_button = w.Button(description="Export .xlsx", icon="download",
                                      tooltip="Export the flagged table as an Excel workbook")
        self.export_button.on_click(lambda _b: self._export_link())
        for b, cls in ((self.add_button, "mg-add"), (self.delete_button, "mg-delete"),
                       (self.export_button, "mg-export")):
            b.add_class(cls)
        self.download = w.HTML("")
        self.download.add_class("mg-download")
        self.message = w.HTML("")
        self.message.add_class("mg-table-message")
        self.table = ITable(pd.DataFrame(), allow_html=True, showIndex=False,
                            select={"style": "single"}, classes="display compact cell-border",
                            caption="Patients and magnesium flags", layout=LAYOUT)
        self.table.add_class("mg-table")
        self.table.observe(self._selected, "selected_rows")
        self.form = PatientForm(on_save=self.save_row)
        self.current: Any = None  # index label of the row in the form
        self.editing = w.HTML("")
        self.editing.add_class("mg-editing")
        toolbar = w.HBox([self.upload, self.add_button, self.delete_button, self.export_button, self.download],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__([toolbar, self.progress, self.message, self.table, self.editing, self.form])
        self.add_class("mg-cohort")
        if df is not None:
            self.load(df)

    # --- loading ----------------------------------------------------------------------------------
    def load(self, df: pd.DataFrame) -> None:
        """Assess every row of ``df`` (a progress bar shows on large loads) and show the table."""
        data = df.astype(object).copy()  # cells edited in the form may change type; the input is not touched
        n = len(data)
        self.progress.max = max(n, 1)
        self.progress.value = 0
        self.progress.layout.visibility = "visible" if n > CHUNK else "hidden"
        parts = []
        for start in range(0, n, CHUNK):
            parts.append(mg.assess_frame(data.iloc[start:start + CHUNK]))
            self.progress.value = min(start + CHUNK, n)
        self.data = data
        self.result = pd.concat(parts) if parts else mg.assess_frame(data) if len(data.columns) else data
        self.progress.layout.visibility = "hidden"
        self.message.value = f'<span role="status">{n} patient(s) loaded.</span>'
        self.current = None
        self.editing.value = "<b>Select a row to open it in the form.</b>"
        self.refresh()

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        try:
            df = read_workbook(bytes(f["content"]))
        except Exception as exc:
            self.message.value = (f'<span class="mg-problem" role="alert">Could not read {html.escape(f["name"])}: '
                                  f"{html.escape(str(exc))}</span>")
            return
        self.load(df)
        self.message.value = (f'<span role="status">{len(df)} patient(s) loaded from '
                              f"{html.escape(f['name'])}.</span>")

    # --- display ----------------------------------------------------------------------------------
    def id_column(self) -> Any:
        """The input column holding the patient id, if any."""
        return mg.map_headers(list(self.data.columns)).fields.get("patient_id")

    def view(self) -> pd.DataFrame:
        """The columns shown: patient id, flags, then the input columns."""
        if self.result.empty and not len(self.result.columns):
            return pd.DataFrame()
        ident = self.id_column()
        inputs = [c for c in self.data.columns if c != ident]
        cols = ([ident] if ident is not None else []) + [c for c in SHOWN_FLAGS if c in self.result] + inputs
        return self.result[cols]

    def refresh(self, selected: list[int] | None = None) -> None:
        """Redraw the table from ``self.result``."""
        self.table.update(_cells_html(self.view()), selected_rows=selected or [], select={"style": "single"},
                          allow_html=True, maxBytes=0, pageLength=self.page_length, scrollX=True, layout=LAYOUT)

    # --- editing ----------------------------------------------------------------------------------
    def _selected(self, change: dict[str, Any]) -> None:
        rows = change["new"]
        if len(rows) != 1 or rows[0] >= len(self.data):
            return
        self.open_row(self.data.index[rows[0]])

    def open_row(self, label: Any) -> None:
        """Open the row with index ``label`` in the form."""
        self.current = label
        row = {k: v for k, v in self.data.loc[label].items() if not is_empty(v)}
        self.form.status.value = ""
        self.form.load(row)
        ident = row.get(self.id_column()) if self.id_column() is not None else None
        self.editing.value = (f"<b>Editing row {html.escape(str(label))}"
                              + (f" (patient {html.escape(str(ident))})" if ident is not None else "") + "</b>")

    def save_row(self, values: Mapping[str, Any]) -> None:
        """Write the form's values back to the open row (or a new row) and re-assess that row only."""
        hmap = mg.map_headers(list(self.data.columns))
        if self.current is None or self.current not in self.data.index:
            self.current = (max(self.data.index) + 1) if len(self.data) else 0
            self.data.loc[self.current] = [None] * len(self.data.columns)
        label = self.current
        unit_column = "serum_mg_unit" in hmap.fields
        for field in mg.knowledge().fields:
            if field.name == "serum_mg_unit" and not unit_column:
                continue
            column = hmap.fields.get(field.name, field.name)
            value = values.get(field.name)
            if column not in self.data.columns:
                if is_empty(value):
                    continue
                self.data[column] = pd.Series([None] * len(self.data), index=self.data.index, dtype=object)
            self.data.at[label, column] = _cell(value)
        # no unit column: a unit other than the header's goes into the serum cell itself
        serum, unit = _cell(values.get("serum_mg")), values.get("serum_mg_unit")
        if not unit_column and isinstance(serum, float) and not is_empty(unit) \
                and str(unit).lower() != hmap.units.get("serum_mg", "").lower():
            self.data.at[label, hmap.fields.get("serum_mg", "serum_mg")] = f"{values['serum_mg']} {unit}"
        row = mg.assess_frame(self.data.loc[[label]])
        self.result = self.result.reindex(columns=row.columns) if set(row.columns) - set(self.result.columns) \
            else self.result
        self.result.loc[label] = row.loc[label]
        self.result = self.result.loc[self.data.index]
        self.refresh(selected=[self.data.index.get_loc(label)])
        self.message.value = f'<span role="status">Row {html.escape(str(label))} saved and re-assessed.</span>'

    def add_patient(self) -> None:
        """Start a new row: the form is emptied and Save appends it."""
        self.current = None
        self.form.load({})
        self.editing.value = "<b>New patient: fill in the form, then Save patient.</b>"

    def delete_selected(self) -> None:
        """Delete the selected rows."""
        labels = [self.data.index[i] for i in self.table.selected_rows if i < len(self.data)]
        if not labels:
            self.message.value = '<span role="status">Select a row to delete first.</span>'
            return
        self.data = self.data.drop(index=labels)
        self.result = self.result.drop(index=labels)
        if self.current in labels:
            self.current = None
            self.form.load({})
        self.refresh()
        self.message.value = f'<span role="status">{len(labels)} row(s) deleted.</span>'

    # --- export -----------------------------------------------------------------------------------
    def to_xlsx(self, path: Any = None) -> bytes:
        """The flagged table as .xlsx bytes (also written to ``path`` when given)."""
        return export_xlsx(self.result, path)

    def _export_link(self) -> None:
        data = base64.b64encode(self.to_xlsx()).decode("ascii")
        self.download.value = (f'<a download="mg_flags.xlsx" href="data:{XLSX_MIME};base64,{data}">'
                               "Download mg_flags.xlsx</a>")
