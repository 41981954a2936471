"""Headless CohortTable tests: load, select, edit and save, add, delete, export, upload."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
import pytest

import mgdecision as mg
from mgdecision import outputs
from mgdecision.palette import LEVELS, SEVERITIES
from mgdecision.widgets import CohortTable
from mgdecision.widgets.app import DEMO_PATIENTS, build_app
from mgdecision.widgets.cohort import ROW, UPLOAD_TYPES
from mgdecision.widgets.export import XLSX_MIME

SAMPLES = Path(__file__).resolve().parents[2] / "sample_workbooks"


@pytest.fixture
def table() -> CohortTable:
    return CohortTable(DEMO_PATIENTS)


def html(t: CohortTable) -> str:
    return t.table._dt_args["data_json"]


def test_table_shows_flags_coloured_with_the_palette(table: CohortTable) -> None:
    assert list(table.result.columns[-len(mg.COLUMNS):]) == list(mg.COLUMNS)
    out = html(table)
    assert "DEMO-3" in out and ">Contraindicated<" in out  # myasthenia gravis, in plain words
    for word in ("CONTRAINDICATED", "NONE_FOUND", "NOT_INDICATED", "mg_risk", "mg_contraindication"):
        assert f">{word}<" not in out and f'"{word}"' not in out, word
    for column in ("mg_risk", "mg_contraindication", "mg_dose_status"):
        for word in set(table.result[column]):
            assert f"background-color: {LEVELS[word].fill}; color: {LEVELS[word].text}" in out, word
    assert list(table.view().columns[:5]) == [ROW, "patient_id", "mg_risk", "mg_contraindication", "mg_dose_status"]
    assert "mg_reasons" in table.view().columns[:6]  # the reasons next to the flags, not off to the right


def test_rows_are_numbered_as_in_the_spreadsheet(table: CohortTable) -> None:
    assert list(table.data.index) == [2, 3, 4]  # header on row 1, like the batch output's Input problems sheet
    assert list(table.view()[ROW]) == [2, 3, 4]
    table.table.selected_rows = [1]
    assert "row 3" in table.editing.value and "DEMO-2" in table.editing.value


def test_long_text_is_clamped_with_the_whole_text_on_hover(table: CohortTable) -> None:
    rows = json.loads(html(table))
    column = list(table.view().columns).index("mg_reasons")
    reasons = table.result["mg_reasons"].iloc[0]
    assert len(reasons) > 40
    cell = rows[0][column]
    assert cell.startswith('<div class="mg-clamp" title="') and f">{escape(reasons)}</div>" in cell


def test_table_matches_assess_frame(table: CohortTable) -> None:
    want = mg.assess_frame(DEMO_PATIENTS.astype(object))
    got = table.result[list(mg.COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[list(mg.COLUMNS)])


def test_patient_text_is_escaped() -> None:
    t = CohortTable(pd.DataFrame({"patient_id": ["<b>x</b>"], "age": [40]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in html(t) and "<b>x</b>" not in html(t)


def test_selecting_a_row_opens_it_and_saving_recomputes_only_that_row(table: CohortTable) -> None:
    table.table.selected_rows = [0]
    assert table.current == 2 and "DEMO-1" in table.editing.value
    assert table.form.inputs["patient_id"].text.value == "DEMO-1"
    assert table.form.assessment.row() == table.result.loc[2, list(mg.COLUMNS)].to_dict()
    before = table.result.loc[[3, 4]].copy()
    table.form.inputs["egfr"].text.value = "20"
    table.form.save_button.click()
    assert table.result.loc[2, "mg_contraindication"] == "CONTRAINDICATED"
    assert table.data.loc[2, "egfr"] == 20.0
    pd.testing.assert_frame_equal(table.result.loc[[3, 4]], before)
    assert table.table.selected_rows == [0] and "saved" in table.message.value


def test_saving_keeps_the_browser_state_key_and_loading_renews_it(table: CohortTable) -> None:
    key = table._state_key
    assert key and key in str(table.table._dt_args["stateLoadCallback"])
    assert table.table._dt_args["stateSave"] is True
    table.table.selected_rows = [0]
    table.form.save()
    assert table._state_key == key  # same page, search and order after Save
    table.load(DEMO_PATIENTS)
    assert table._state_key != key  # new data starts on page 1 with no search


def test_saving_a_new_serum_unit_keeps_it(table: CohortTable) -> None:
    table.table.selected_rows = [1]
    table.form.serum.value.text.value = "0.5"
    table.form.serum.unit.dropdown.value = "mmol/L"
    table.form.save()
    assert table.data.loc[3, "serum_mg_unit"] == "mmol/L"
    assert table.result.loc[3, "mg_risk"] == mg.assess(table.data.loc[3].to_dict()).row()["mg_risk"]


def test_add_and_delete_patients(table: CohortTable) -> None:
    table.add_patient()
    assert table.form.values() == {}
    table.form.inputs["patient_id"].text.value = "NEW-1"
    table.form.inputs["age"].text.value = "40"
    table.form.inputs["egfr"].text.value = "25"
    table.form.save()
    assert len(table.data) == 4 and table.data.iloc[-1]["patient_id"] == "NEW-1"
    assert table.result.iloc[-1]["mg_contraindication"] == "CONTRAINDICATED"
    assert "NEW-1" in html(table)
    table.table.selected_rows = [0]
    table.delete_selected()
    assert list(table.data["patient_id"]) == ["DEMO-2", "DEMO-3", "NEW-1"]
    assert list(table.result.index) == list(table.data.index)
    assert "DEMO-1" not in html(table)


def test_delete_without_selection_says_so(table: CohortTable) -> None:
    table.delete_selected()
    assert len(table.data) == 3 and "Select a row" in table.message.value


def test_export_xlsx_round_trips(table: CohortTable, tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    data = table.to_xlsx(path)
    assert path.read_bytes() == data
    back = pd.read_excel(io.BytesIO(data), engine="openpyxl")
    assert list(back["Contraindication"]) == [outputs.plain("mg_contraindication", v)
                                              for v in table.result["mg_contraindication"]]
    sheets = pd.ExcelFile(io.BytesIO(data), engine="openpyxl").sheet_names
    assert sheets[1:] == ["Input problems", "Reasons", "Summary", "Sources"]  # the batch command's workbook
    sent: list[tuple] = []
    table.export_button.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore
    table.export_button._message(table.export_button, {"event": "download"}, [])  # what one click sends
    (content, buffers), = sent
    assert content == {"event": "file", "filename": "mg_flags.xlsx", "mime": XLSX_MIME}
    assert pd.read_excel(io.BytesIO(buffers[0]), engine="openpyxl").equals(back)


def _sample() -> Path:
    path = SAMPLES / "ms_clinic.xlsx"
    if not path.exists():
        pytest.skip("sample workbooks not generated yet")
    return path


def test_upload_a_workbook() -> None:
    path = _sample()
    table = CohortTable()
    table.upload.value = ({"name": path.name, "type": "", "size": path.stat().st_size,
                           "content": memoryview(path.read_bytes()), "last_modified": datetime.now(UTC)},)
    want = mg.assess_frame(pd.read_excel(path, engine="openpyxl").astype(object))
    assert len(table.result) == len(want) and "loaded from ms_clinic.xlsx" in table.message.value
    assert list(table.result["mg_risk"]) == list(want["mg_risk"])
    assert "MS-0001" in html(table)


def test_row_numbers_are_the_batch_outputs(tmp_path: Path) -> None:
    path = _sample()
    batch = pytest.importorskip("mgdecision.batch")
    table = CohortTable()
    table.upload.value = ({"name": path.name, "type": "", "size": path.stat().st_size,
                           "content": memoryview(path.read_bytes()), "last_modified": datetime.now(UTC)},)
    out = tmp_path / "flagged.xlsx"
    batch.assess_file(batch.RunOptions(path, output=out, quiet=True))
    problems = pd.read_excel(out, sheet_name="Input problems", engine="openpyxl")
    assert len(problems)
    ident = table.id_column()
    for row, patient in zip(problems["Row"], problems["Patient ID"], strict=True):
        assert str(table.data.loc[int(row), ident]) == str(patient), row


def test_unreadable_upload_is_reported() -> None:
    table = CohortTable()
    table.upload.value = ({"name": "bad.xlsx", "type": "", "size": 3, "content": memoryview(b"xyz"),
                           "last_modified": datetime.now(UTC)},)
    assert "Could not read bad.xlsx" in table.message.value and table.data.empty


def test_large_load_uses_the_progress_bar() -> None:
    df = pd.concat([DEMO_PATIENTS] * 400, ignore_index=True)
    seen: list[int] = []
    table = CohortTable()
    table.progress.observe(lambda ch: seen.append(ch["new"]), "value")
    table.load(df)
    assert seen[-1] == 1200 and len(seen) >= 3
    assert table.progress.layout.visibility == "hidden"


def test_app_has_both_tabs() -> None:
    app = build_app()
    tabs = app.children[1]
    assert tabs.titles == ("One patient", "Cohort")
    assert "Magnesium decision support" in app.children[0].value


def _upload(table: CohortTable, name: str, content: bytes) -> None:
    table.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                           "last_modified": datetime.now(UTC)},)


@pytest.mark.parametrize("sep", [",", ";"])
def test_upload_a_csv_comma_or_semicolon(sep: str) -> None:
    text = sep.join(["Patient ID", "Age", "Sex", "Serum Mg (mmol/L)", "Diagnosen", "Medikamente"]) + "\n"
    text += sep.join(["K-1", "45", "M", "0.8", "myasthenia gravis", "pyridostigmine"]) + "\n"
    text += sep.join(["K-2", "70", "F", "0.62", "", "omeprazole"]) + "\n"
    table = CohortTable()
    assert ".csv" in UPLOAD_TYPES.split(",") and ".xlsx" in UPLOAD_TYPES.split(",")
    _upload(table, "clinic.csv", text.encode())
    assert "2 patient(s) loaded from clinic.csv" in table.message.value
    assert list(table.result["mg_contraindication"]) == ["CONTRAINDICATED", "NONE_FOUND"]
    assert list(table.data.index) == [2, 3]


def test_add_patient_adds_a_row_at_once(table: CohortTable) -> None:
    scrolls = table.scroller.request
    table.add_patient()
    assert list(table.data.index) == [2, 3, 4, 5] and table.current == 5
    assert table.table.selected_rows == [3] and table.selection == [5]
    assert all(table.result.loc[5, c] in ("", None) or table.result.loc[5, c] != table.result.loc[5, c]
               for c in mg.COLUMNS)  # nothing in it, so no flags yet
    assert table.form.assessment is None and 'class="mg-card"' not in table.form.cards.value
    assert table.scroller.request > scrolls  # the form comes into view
    table.form.inputs["age"].text.value = "50"
    table.form.inputs["egfr"].text.value = "20"
    table.form.save()
    assert table.result.loc[5, "mg_contraindication"] == "CONTRAINDICATED" and len(table.data) == 4


def test_delete_can_be_undone(table: CohortTable) -> None:
    before = (table.data.copy(), table.result.copy())
    table.table.selected_rows = [1]
    table.delete_selected()
    assert list(table.data.index) == [2, 4] and "Row 3 deleted" in table.message.value
    assert table.undo_button.layout.display == "flex"
    table.undo_delete()
    assert table.data.equals(before[0]) and table.result.equals(before[1])
    assert "Row 3 restored" in table.message.value and table.undo_button.layout.display == "none"


def test_interactions_are_pills_coloured_by_severity_with_the_word() -> None:
    table = CohortTable(pd.DataFrame([{"patient_id": "I-1", "age": 60,
                                       "medications": "raltegravir; levothyroxine; amlodipine"}]))
    out = json.loads(html(table))[0]
    cell = out[list(table.view().columns).index("mg_interactions")]
    for severity in ("major", "moderate", "minor"):
        swatch = SEVERITIES[severity]
        assert f'data-severity="{severity}" style="background-color: {swatch.fill}; color: {swatch.text}"' in cell
        assert f"({severity})" in cell  # the word, never colour alone
    assert len({SEVERITIES[s].fill for s in SEVERITIES}) == 3


def test_selection_is_a_trait_that_can_be_observed_and_linked(table: CohortTable) -> None:
    import ipywidgets as w
    import traitlets

    seen: list[list[int]] = []
    table.observe(lambda ch: seen.append(ch["new"]), "selection")
    table.table.selected_rows = [2]  # a click in the table
    assert seen[-1] == [4] and table.selection == [4] and table.current == 4
    mirror = w.Text()
    traitlets.dlink((table, "selection"), (mirror, "value"), transform=lambda rows: ",".join(map(str, rows)))
    table.selection = [3]  # set from Python: the table follows and the row opens
    assert table.table.selected_rows == [1] and mirror.value == "3" and table.current == 3


def test_form_assessment_is_a_trait_that_can_be_observed_and_linked(table: CohortTable) -> None:
    import traitlets

    class Follower(traitlets.HasTraits):
        assessment = traitlets.Any()

    follower = Follower()
    traitlets.link((table.form, "assessment"), (follower, "assessment"))
    table.table.selected_rows = [2]
    assert follower.assessment is table.form.assessment and follower.assessment.patient_id == "DEMO-3"
