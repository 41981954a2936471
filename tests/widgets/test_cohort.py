"""Headless CohortTable tests: load, select, edit and save, add, delete, export, upload."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import mgdecision as mg
from mgdecision.widgets import CohortTable
from mgdecision.widgets.app import DEMO_PATIENTS, build_app

SAMPLES = Path(__file__).resolve().parents[2] / "sample_workbooks"


@pytest.fixture
def table() -> CohortTable:
    return CohortTable(DEMO_PATIENTS)


def html(t: CohortTable) -> str:
    return t.table._dt_args["data_json"]


def test_table_shows_flags_coloured_like_the_cards(table: CohortTable) -> None:
    assert list(table.result.columns[-len(mg.COLUMNS):]) == list(mg.COLUMNS)
    out = html(table)
    assert "DEMO-2" in out and "CONTRAINDICATED" in out
    assert "background-color: #D55E00; color: #000" in out  # critical, as the cards
    assert "background-color: #E69F00; color: #000" in out  # warning, as the cards
    assert table.view().columns[0] == "patient_id"


def test_table_matches_assess_frame(table: CohortTable) -> None:
    want = mg.assess_frame(DEMO_PATIENTS.astype(object))
    pd.testing.assert_frame_equal(table.result[list(mg.COLUMNS)], want[list(mg.COLUMNS)])


def test_patient_text_is_escaped() -> None:
    t = CohortTable(pd.DataFrame({"patient_id": ["<b>x</b>"], "age": [40]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in html(t) and "<b>x</b>" not in html(t)


def test_selecting_a_row_opens_it_and_saving_recomputes_only_that_row(table: CohortTable) -> None:
    table.table.selected_rows = [0]
    assert table.current == 0 and "DEMO-1" in table.editing.value
    assert table.form.inputs["patient_id"].text.value == "DEMO-1"
    assert table.form.assessment.row() == table.result.loc[0, list(mg.COLUMNS)].to_dict()
    before = table.result.loc[[1, 2]].copy()
    table.form.inputs["egfr"].text.value = "20"
    table.form.save_button.click()
    assert table.result.loc[0, "mg_contraindication"] == "CONTRAINDICATED"
    assert table.data.loc[0, "egfr"] == 20.0
    pd.testing.assert_frame_equal(table.result.loc[[1, 2]], before)
    assert table.table.selected_rows == [0] and "saved" in table.message.value


def test_saving_a_new_serum_unit_keeps_it(table: CohortTable) -> None:
    table.table.selected_rows = [1]
    table.form.serum.value.text.value = "0.5"
    table.form.serum.unit.dropdown.value = "mmol/L"
    table.form.save()
    assert table.data.loc[1, "serum_mg_unit"] == "mmol/L"
    assert table.result.loc[1, "mg_risk"] == mg.assess(table.data.loc[1].to_dict()).row()["mg_risk"]


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
    assert list(back["mg_contraindication"]) == list(table.result["mg_contraindication"])
    sheets = pd.ExcelFile(io.BytesIO(data), engine="openpyxl").sheet_names
    assert sheets[1:] == ["Input problems", "Summary", "Sources"]  # the batch command's workbook
    table.export_button.click()
    assert 'download="mg_flags.xlsx"' in table.download.value and "base64," in table.download.value


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
    tabs = app.children[0]
    assert tabs.titles == ("One patient", "Cohort")
