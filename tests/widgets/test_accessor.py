"""The ``df.mg`` accessor: assess, style, table; importing it does not import ipywidgets."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

import mgdecision as mg
import mgdecision.accessor
from mgdecision.accessor import flag_css, flag_swatch
from mgdecision.palette import INDICATORS, LEVELS

DF = pd.DataFrame(
    {
        "Patient": ["A", "B", "C"],
        "Age": [45, 80, 29],
        "Serum Mg (mg/dL)": [1.4, 2.1, 1.9],
        "eGFR": [90, 25, 120],
        "Meds": ["omeprazole", "digoxin", "zzzdrug"],
    }
)


def test_assess_is_assess_frame_and_leaves_df_alone() -> None:
    before = DF.copy()
    pd.testing.assert_frame_equal(DF.mg.assess(), mg.assess_frame(DF))
    pd.testing.assert_frame_equal(DF, before)


def test_style_colours_flag_columns_with_the_palette() -> None:
    out = DF.mg.style().to_html()
    assessed = DF.mg.assess()
    for column in ("mg_risk", "mg_contraindication", "mg_dose_status"):
        for word in set(assessed[column]):
            assert f"background-color: {LEVELS[word].fill};\n  color: {LEVELS[word].text};" in out, word
    assert "CONTRAINDICATED" in set(assessed["mg_contraindication"])  # B: eGFR 25 (robust anchor)
    assert f"background-color: {INDICATORS['warning'].fill}" in out  # C: input problem
    assert assessed.mg.style().data.equals(assessed)  # already assessed: not assessed again


def test_a_major_interaction_colours_its_cell_as_a_warning() -> None:
    df = pd.DataFrame({"medications": ["raltegravir", "digoxin"], "age": [50, 50]})
    styled = df.mg.style()
    styled._compute()
    cells = {k: v for k, v in styled.ctx.items() if styled.data.columns[k[1]] == "mg_interactions"}
    warning, info = INDICATORS["warning"].fill, INDICATORS["info"].fill
    assert ("background-color", warning) in cells[(0, styled.data.columns.get_loc("mg_interactions"))]
    assert ("background-color", info) in cells[(1, styled.data.columns.get_loc("mg_interactions"))]


def test_flag_mapping() -> None:
    assert flag_swatch("mg_contraindication", "CONTRAINDICATED") == LEVELS["CONTRAINDICATED"]
    assert flag_swatch("mg_risk", "HIGH") == LEVELS["HIGH"]
    assert flag_swatch("mg_risk", "not a level") is None
    # the colour follows the severities of the row's interaction records, never the text
    assert flag_swatch("mg_interactions", "raltegravir: avoid", ("major",)) == INDICATORS["warning"]
    assert flag_swatch("mg_interactions", "doxycycline (major): separate", ("moderate",)) == INDICATORS["info"]
    assert (
        flag_swatch("mg_interactions", "digoxin (moderate): separate", ("moderate", "major")) == INDICATORS["warning"]
    )
    assert flag_swatch("mg_interactions", "") is None
    assert flag_swatch("patient_id", "HIGH") is None
    refer = LEVELS["REFER"]
    assert flag_css("mg_dose_status", "REFER") == f"background-color: {refer.fill}; color: {refer.text}"
    assert flag_css("mg_input_problems", None) == ""


def test_table_returns_the_cohort_widget() -> None:
    from mgdecision.widgets import CohortTable

    table = DF.mg.table()
    assert isinstance(table, CohortTable) and len(table.result) == 3


def test_accessor_import_does_not_import_ipywidgets() -> None:
    code = "import sys, mgdecision.accessor; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert mgdecision.accessor.MgAccessor is not None
