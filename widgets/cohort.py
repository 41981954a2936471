"""``CohortTable``: many patients in a sortable, searchable table with coloured flag columns.

    table = CohortTable(df)      # or CohortTable() and upload an .xlsx or .csv
    table                        # select a row -> it opens in the PatientForm below; Save recomputes it
    table.selection              # the selected rows' spreadsheet numbers: a trait (observe or link it)

The table is an ``itables`` ``ITable`` (a DOM ``<table>``: screen readers and browser tests see the
cells) whose flag cells are coloured with the one palette (``mgdecision.palette``, via the accessor).
Rows are numbered as in the spreadsheet (and in the batch output's Input problems sheet); long text is
shown on two lines, whole on hover and in the form. Headers and level words are the plain labels of
``mgdecision.outputs``; each interaction is a pill coloured by its severity, with the word. Page, search and
order survive a Save. "Add patient" adds a row at once; "Delete selected" can be undone. Each row's flags come
from ``mg.assess_frame``; nothing is decided here (a row with nothing in it is not a patient: no flags).
"""

from __future__ import annotations

import html
import io
import math
import re
import tempfile
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets
from itables import JavascriptFunction
from itables.widget import ITable

import mgdecision as mg
from mgdecision.outputs import FLAG_COLUMNS, INTERACTION, LEVEL_COLUMNS, OUTPUTS, TEXT_COLUMNS, header, plain
from mgdecision.palette import SEVERITIES, flag_css

from .download import DownloadButton
from .export import XLSX_MIME, export_xlsx
from .form import PatientForm
from .inputs import is_empty
from .scroll import ScrollTo

__all__ = ["ROW", "UPLOAD_TYPES", "CohortTable", "read_upload", "read_workbook"]

ROW = "Row"  # the spreadsheet row number, shown first
# The declared text columns, the level flags first and the reasons beside them (the numbers are in mg_dose).
SHOWN_FLAGS = (*LEVEL_COLUMNS, "mg_reasons", *(c for c in TEXT_COLUMNS if c not in (*LEVEL_COLUMNS, "mg_reasons")))
LAYOUT = {"topStart": "pageLength", "topEnd": "search", "bottomStart": "info", "bottomEnd": "paging"}
CHUNK = 500  # rows assessed between two progress-bar updates
CLAMP_AT = 40  # characters: longer cells show two lines, the whole text on hover
UPLOAD_TYPES = ".xlsx,.xlsm,.csv,.txt,.tsv"
_FLAT = (".csv", ".txt", ".tsv")
_PALETTE = {o.name: o.palette for o in OUTPUTS}
_INTERACTION_ITEM = re.compile(r"(?:^|; )(?=[^;:()]+ \((?:major|moderate|minor)\): )")
_SEVERITY = re.compile(r" \((major|moderate|minor)\): ")
_FLAG_BOX = "display:inline-block;padding:1px 4px;border-radius:3px;font-weight:600;white-space:nowrap;"
TABLE_CSS = """
.mg-cohort .mg-clamp{display:-webkit-box;-webkit-line-clamp:2;line-clamp:2;-webkit-box-orient:vertical;
  overflow:hidden;min-width:16em;max-width:30em;line-height:1.3;white-space:normal}
.mg-cohort table.dataTable td{vertical-align:top;padding:3px 6px}
.mg-cohort table.dataTable td:nth-child(-n+2){white-space:nowrap}
.mg-cohort .mg-download-button{background:var(--jp-brand-color1,#0072B2);color:#fff;border:0;border-radius:2px;
  padding:0 12px;height:28px;font-weight:600;cursor:pointer}
.mg-cohort .mg-download-button:disabled{opacity:.6;cursor:progress}
.mg-cohort .mg-pills{display:flex;flex-wrap:wrap;gap:2px;min-width:16em;max-width:30em}
.mg-cohort .mg-pill{display:-webkit-box;-webkit-line-clamp:2;line-clamp:2;-webkit-box-orient:vertical;
  padding:0 4px;border-radius:3px;font-weight:600;white-space:normal;max-width:30em;overflow:hidden;line-height:1.3}
"""
# DataTables keeps page, search and order in the browser, under a key that changes when new data is loaded.
_STATE_SAVE = "function (settings, data) { window.__mgTableState = window.__mgTableState || {}; " \
              "delete data.select; window.__mgTableState['{key}'] = data; }"  # the selection comes from Python
_STATE_LOAD = "function (settings) { return (window.__mgTableState || {})['{key}'] || null; }"


def read_workbook(content: bytes) -> tuple[pd.DataFrame, int]:
    """The patient table of an .xlsx file's first sheet and the spreadsheet row number of its first patient.

    Read by the batch command's reader when installed (header = first non-empty row, archive checks,
    cached values of formulas), so row numbers match its output; otherwise headers on row 1.
    """
    try:
        from mgdecision.batch.source import open_openpyxl
    except ImportError:
        return pd.read_excel(io.BytesIO(content), sheet_name=0, engine="openpyxl"), 2
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.xlsx"
        path.write_bytes(content)
        table = open_openpyxl(path, None)
        rows = list(table.rows)
    return pd.DataFrame(rows, columns=table.names, dtype=object), table.header_row + 1


def read_upload(name: str, content: bytes) -> tuple[pd.DataFrame, int]:
    """The patient table of an uploaded file and the spreadsheet row of its first patient: .xlsx/.xlsm (first
    sheet) or CSV (comma, semicolon, tab or pipe; found by the batch command's reader when installed)."""
    if not name.lower().endswith(_FLAT):
        return read_workbook(content)
    try:
        from mgdecision.batch.source import open_flat
    except ImportError:
        return pd.read_csv(io.BytesIO(content), sep=None, engine="python", dtype=object, keep_default_na=False), 2
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(content)
        table = open_flat(path, None)
        rows = list(table.rows)
    return pd.DataFrame(rows, columns=table.names, dtype=object), table.header_row + 1


def _text_html(value: Any) -> str:
    if is_empty(value):
        return ""
    text = html.escape(f"{value:g}" if isinstance(value, float) else str(value))
    return f'<div class="mg-clamp" title="{text}">{text}</div>' if len(text) > CLAMP_AT else text


def _cells_html(view: pd.DataFrame) -> pd.DataFrame:
    """The shown frame as escaped HTML cells; flag cells coloured from the palette (as ``df.mg.style()``).

    Cells rather than a Styler: DataTables then draws only the visible page, and 5,000 rows stay fast.
    """
    out = pd.DataFrame(index=view.index)
    for column in view.columns:
        values = view[column].tolist()
        out[column] = [_flag_html(column, v) for v in values] if column in FLAG_COLUMNS \
            else [_text_html(v) for v in values]
    return out


def _interactions_html(value: str) -> str:
    """One pill per interaction, coloured by its severity; the severity word stays in the text."""
    pills = []
    for item in filter(None, _INTERACTION_ITEM.split(value)):
        m = _SEVERITY.search(item)
        swatch = SEVERITIES.get(m.group(1)) if m else None
        style = f"background-color: {swatch.fill}; color: {swatch.text}" if swatch else flag_css(INTERACTION, item)
        text = html.escape(item)
        pills.append(f'<span class="mg-pill mg-flag" data-severity="{m.group(1) if m else ""}" style="{style}" '
                     f'title="{text}">{text}</span>')
    return f'<div class="mg-pills">{"".join(pills)}</div>'


def _flag_html(column: str, value: Any) -> str:
    if _PALETTE.get(column) == INTERACTION and isinstance(value, str) and value:
        return _interactions_html(value)
    css = flag_css(column, value)
    if not css:
        return _text_html(value)
    shown = plain(column, value)
    box = _FLAG_BOX if len(str(shown)) <= CLAMP_AT else "display:block;padding:1px 4px;border-radius:3px;"
    return f'<span class="mg-flag" style="{box}{css}">{_text_html(shown)}</span>'


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


def _blank_outputs(frame: pd.DataFrame, labels: list[Any]) -> None:
    """No flags on rows with nothing in them (not patients, as in the batch output)."""
    for o in OUTPUTS:  # a level column is an ordered categorical: missing, not a new category ""
        frame.loc[labels, o.name] = float("nan") if o.dtype == "float" or o.levels else ""


class CohortTable(w.VBox):
    """Patients from a DataFrame or an uploaded workbook or CSV, their flags, and a form to edit one row.

    ``selection`` (a trait) holds the spreadsheet row numbers of the selected rows, set from the table and
    setting it: observe it, or link it to another widget.
    """

    selection = traitlets.List(traitlets.Int(), help="spreadsheet row numbers of the selected rows")

    def __init__(self, df: pd.DataFrame | None = None, *, page_length: int = 10) -> None:
        super().__init__()
        self.data = pd.DataFrame()
        self.result = pd.DataFrame()
        self.page_length = page_length
        self._deleted: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self.upload = w.FileUpload(accept=UPLOAD_TYPES, multiple=False, description="Upload .xlsx or .csv",
                                   tooltip="Load patients from an Excel workbook (first sheet) or a CSV file "
                                           "(comma or semicolon)", layout=w.Layout(width="auto"))
        self.upload.add_class("mg-upload")
        self.upload.observe(self._uploaded, "value")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Assessing",
                                      layout=w.Layout(visibility="hidden", width="360px"))
        self.progress.add_class("mg-progress")
        self.add_button = w.Button(description="Add patient", tooltip="Add a row and open it in the form")
        self.add_button.on_click(lambda _b: self.add_patient())
        self.delete_button = w.Button(description="Delete selected", button_style="danger",
                                      tooltip="Delete the selected rows (Undo brings them back)")
        self.delete_button.on_click(lambda _b: self.delete_selected())
        self.undo_button = w.Button(description="Undo delete", tooltip="Bring the deleted rows back",
                                    layout=w.Layout(display="none"))
        self.undo_button.add_class("mg-undo")
        self.undo_button.on_click(lambda _b: self.undo_delete())
        self.export_button = DownloadButton(self.to_xlsx, "mg_flags.xlsx", XLSX_MIME, description="Export .xlsx",
                                            tooltip="Save the flagged table as an Excel workbook (the batch output)")
        for b, cls in ((self.add_button, "mg-add"), (self.delete_button, "mg-delete"),
                       (self.export_button, "mg-export")):
            b.add_class(cls)
        self._state_key = ""
        self.message = w.HTML("")
        self.message.add_class("mg-table-message")
        self.table = ITable(pd.DataFrame(), allow_html=True, showIndex=False,
                            select={"style": "single"}, classes="display compact cell-border",
                            caption="Patients and magnesium flags", layout=LAYOUT)
        self.table.add_class("mg-table")
        self.table.observe(self._selected, "selected_rows")
        self.observe(self._selection_set, "selection")
        self.form = PatientForm(on_save=self.save_row)
        self.current: Any = None  # index label of the row in the form
        self.editing = w.HTML("")
        self.editing.add_class("mg-editing")
        self.scroller = ScrollTo(target=".mg-cohort .mg-editing")  # a clicked row: the form comes into view
        toolbar = w.HBox([self.upload, self.add_button, self.delete_button, self.export_button],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        messages = w.HBox([self.message, self.undo_button], layout=w.Layout(flex_flow="row wrap",
                                                                            align_items="center"))
        self.children = (w.HTML(f"<style>{TABLE_CSS}</style>"), toolbar, self.progress, messages, self.table,
                         self.editing, self.scroller, self.form)
        self.add_class("mg-cohort")
        if df is not None:
            self.load(df)

    # --- loading ----------------------------------------------------------------------------------
    def load(self, df: pd.DataFrame, *, first_row: int = 2) -> None:
        """Assess every row of ``df`` (a progress bar shows on large loads) and show the table.

        Rows are labelled with their spreadsheet row number, ``first_row`` for the first (header on row 1).
        """
        data = df.astype(object).copy()  # cells edited in the form may change type; the input is not touched
        n = len(data)
        data.index = pd.RangeIndex(first_row, first_row + n)
        self.progress.max = max(n, 1)
        self.progress.value = 0
        self.progress.layout.visibility = "visible" if n > CHUNK else "hidden"
        parts = []
        for start in range(0, n, CHUNK):
            parts.append(mg.assess_frame(data.iloc[start:start + CHUNK]))
            self.progress.value = min(start + CHUNK, n)
        self.data = data
        self.result = pd.concat(parts) if parts else mg.assess_frame(data) if len(data.columns) else data
        empty = [label for label in data.index if all(is_empty(v) for v in data.loc[label])]
        if empty and len(self.result.columns):
            _blank_outputs(self.result, empty)
        self._forget_deleted()
        self.progress.layout.visibility = "hidden"
        self.message.value = f'<span role="status">{n} patient(s) loaded.</span>'
        self.current = None
        self.editing.value = "<b>Select a row to open it in the form.</b>"
        self._state_key = uuid.uuid4().hex  # new data: start on page 1 with no search
        self.refresh()

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        try:
            df, first_row = read_upload(str(f["name"]), bytes(f["content"]))
        except Exception as exc:
            self.message.value = (f'<span class="mg-problem" role="alert">Could not read {html.escape(f["name"])}: '
                                  f"{html.escape(str(exc))}</span>")
            return
        self.load(df, first_row=first_row)
        self.message.value = (f'<span role="status">{len(df)} patient(s) loaded from '
                              f"{html.escape(f['name'])}.</span>")

    # --- display ----------------------------------------------------------------------------------
    def id_column(self) -> Any:
        """The input column holding the patient id, if any."""
        return mg.map_headers(list(self.data.columns)).fields.get("patient_id")

    def view(self) -> pd.DataFrame:
        """The columns shown: spreadsheet row, patient id, flags and reasons, then the input columns."""
        if self.result.empty and not len(self.result.columns):
            return pd.DataFrame()
        ident = self.id_column()
        inputs = [c for c in self.data.columns if c != ident and c != ROW]
        cols = ([ident] if ident is not None else []) + [c for c in SHOWN_FLAGS if c in self.result] + inputs
        view = self.result[cols]
        view.insert(0, ROW, list(self.result.index))
        return view

    def refresh(self, selected: list[int] | None = None) -> None:
        """Redraw the table from ``self.result``; the browser keeps its page, search and order."""
        key = self._state_key
        with warnings.catch_warnings():  # the state callbacks are DataTables options itables does not list
            warnings.filterwarnings("ignore", "These arguments are not documented", SyntaxWarning)
            self._update_table(key, selected)
        self._sync_selection(selected or [])

    def _update_table(self, key: str, selected: list[int] | None) -> None:
        cells = _cells_html(self.view())
        cells.columns = [header(c) if isinstance(c, str) else c for c in cells.columns]  # plain headers
        self.table.update(cells, selected_rows=selected or [], select={"style": "single"},
                          allow_html=True, maxBytes=0, pageLength=self.page_length, scrollX=True, layout=LAYOUT,
                          stateSave=True, stateSaveCallback=JavascriptFunction(_STATE_SAVE.replace("{key}", key)),
                          stateLoadCallback=JavascriptFunction(_STATE_LOAD.replace("{key}", key)))

    # --- editing ----------------------------------------------------------------------------------
    def _sync_selection(self, positions: list[int]) -> None:
        labels = [int(self.data.index[i]) for i in positions if i < len(self.data)]
        if labels != self.selection:
            self._syncing = True
            try:
                self.selection = labels
            finally:
                self._syncing = False

    def _selected(self, change: dict[str, Any]) -> None:
        rows = change["new"]
        self._sync_selection(list(rows))
        if len(rows) != 1 or rows[0] >= len(self.data):
            return
        self.open_row(self.data.index[rows[0]])
        self.scroller.scroll()

    def _selection_set(self, change: dict[str, Any]) -> None:
        """``selection`` set from Python (or a link): select those rows in the table and open a single one."""
        if getattr(self, "_syncing", False):
            return
        positions = [self.data.index.get_loc(label) for label in change["new"] if label in self.data.index]
        self.table.selected_rows = positions

    def open_row(self, label: Any) -> None:
        """Open the row with index ``label`` in the form."""
        self.current = label
        row = {k: v for k, v in self.data.loc[label].items() if not is_empty(v)}
        self.form.status.value = ""
        self.form.load(row)
        ident = row.get(self.id_column()) if self.id_column() is not None else None
        self.editing.value = (f"<b>Editing spreadsheet row {html.escape(str(label))}"
                              + (f" (patient {html.escape(str(ident))})" if ident is not None else "") + "</b>")

    def save_row(self, values: Mapping[str, Any]) -> None:
        """Write the form's values back to the open row (or a new row) and re-assess that row only."""
        hmap = mg.map_headers(list(self.data.columns))
        if self.current is None or self.current not in self.data.index:
            self.current = (max(self.data.index) + 1) if len(self.data) else 2  # next spreadsheet row
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
        """Add an empty row at the end of the table, select it and open it in the form (Save fills it in)."""
        label = (int(max(self.data.index)) + 1) if len(self.data) else 2  # the next spreadsheet row
        if not len(self.data.columns):
            self.data = pd.DataFrame(columns=[f.name for f in mg.knowledge().fields if f.kind != "unit"], dtype=object)
        self.data.loc[label] = [None] * len(self.data.columns)
        row = mg.assess_frame(self.data.loc[[label]])
        self.result = self.result.reindex(columns=row.columns) if set(row.columns) - set(self.result.columns) \
            else self.result
        self.result.loc[label] = row.loc[label]
        _blank_outputs(self.result, [label])
        self.result = self.result.loc[self.data.index]
        position = self.data.index.get_loc(label)
        self.refresh(selected=[position])
        self.open_row(label)
        self.editing.value = (f"<b>New patient on spreadsheet row {label}: fill in the form, then Save "
                              "patient.</b>")
        self.message.value = f'<span role="status">Row {label} added.</span>'
        self.scroller.scroll()

    def delete_selected(self) -> None:
        """Delete the selected rows; "Undo delete" brings them back."""
        labels = [self.data.index[i] for i in self.table.selected_rows if i < len(self.data)]
        if not labels:
            self.message.value = '<span role="status">Select a row to delete first.</span>'
            return
        self._deleted = (self.data.loc[labels], self.result.loc[labels])
        self.data = self.data.drop(index=labels)
        self.result = self.result.drop(index=labels)
        if self.current in labels:
            self.current = None
            self.form.load({})
            self.editing.value = "<b>Select a row to open it in the form.</b>"
        self.refresh()
        self.undo_button.layout.display = "flex"
        rows = ", ".join(str(label) for label in labels)
        self.message.value = f'<span role="status">Row {html.escape(rows)} deleted.</span>'

    def undo_delete(self) -> None:
        """Put the rows deleted last back in their places."""
        if self._deleted is None:
            return
        data, result = self._deleted
        self.data = pd.concat([self.data, data]).sort_index()
        self.result = pd.concat([self.result, result]).sort_index().loc[self.data.index]
        self._forget_deleted()
        self.refresh(selected=[self.data.index.get_loc(label) for label in data.index])
        rows = ", ".join(str(label) for label in data.index)
        self.message.value = f'<span role="status">Row {html.escape(rows)} restored.</span>'

    def _forget_deleted(self) -> None:
        self._deleted = None
        self.undo_button.layout.display = "none"

    # --- export -----------------------------------------------------------------------------------
    def to_xlsx(self, path: Any = None) -> bytes:
        """The flagged table as .xlsx bytes (also written to ``path`` when given)."""
        return export_xlsx(self.result, path)
