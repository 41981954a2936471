"""The race-free CKD-EPI 2021 creatinine equation against published worked examples, and CKD stages as written."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.kidney import creatinine_mg_dl, creatinine_unit, egfr_ckd_epi_2021, kidney_stage

KIDNEY_TOML = Path(mg.__file__).parent / "knowledge" / "kidney.toml"


@pytest.mark.parametrize(
    ("scr", "age", "sex", "published", "places"),
    [
        # kidney.epi (CRAN), egfr.ckdepi.cr.2021 reference example: creatinine 1.4 mg/dL, 60 years, male -> 57.54
        (1.4, 60, "M", 57.54, 2),
        # NKF CKD-EPI 2021 calculator (kidney.org), as quoted: creatinine 1.2 mg/dL, 55 years, male -> 71
        (1.2, 55, "M", 71, 0),
    ],
)
def test_published_worked_examples(scr, age, sex, published, places):
    assert round(egfr_ckd_epi_2021(scr, age, sex), places) == published


def test_a_woman_at_the_kappa_gets_the_constant_times_the_age_and_sex_terms():
    """At Scr = k (0.7 mg/dL for women) both creatinine terms are 1: 142 x 0.9938^40 x 1.012 = 112.05."""
    assert egfr_ckd_epi_2021(0.7, 40, "F") == pytest.approx(142 * 0.9938**40 * 1.012)
    assert round(egfr_ckd_epi_2021(0.7, 40, "F"), 2) == 112.05


def test_each_branch_uses_its_own_exponent():
    # below k: (0.5/0.7)^-0.241; above k: (1.4/0.9)^-1.200 (hand calculation from Inker 2021)
    assert egfr_ckd_epi_2021(0.5, 30, "F") == pytest.approx(142 * (0.5 / 0.7) ** -0.241 * 0.9938**30 * 1.012)
    assert egfr_ckd_epi_2021(0.6, 30, "M") == pytest.approx(142 * (0.6 / 0.9) ** -0.302 * 0.9938**30)
    assert egfr_ckd_epi_2021(2.0, 70, "F") == pytest.approx(142 * (2.0 / 0.7) ** -1.2 * 0.9938**70 * 1.012)


def test_the_equation_is_continuous_at_kappa_and_falls_as_creatinine_rises():
    for sex, k in (("F", 0.7), ("M", 0.9)):
        assert egfr_ckd_epi_2021(k - 1e-9, 50, sex) == pytest.approx(egfr_ckd_epi_2021(k + 1e-9, 50, sex))
        values = [egfr_ckd_epi_2021(scr / 10, 50, sex) for scr in range(3, 80)]
        assert values == sorted(values, reverse=True)


def test_umol_per_litre_converts_by_88_4():
    assert creatinine_mg_dl(123.76, "umol/L") == pytest.approx(1.4)
    assert round(egfr_ckd_epi_2021(creatinine_mg_dl(123.76, "µmol/L"), 60, "M"), 2) == 57.54
    assert creatinine_mg_dl(0.10608, "mmol/L") == pytest.approx(1.2)
    assert [creatinine_unit(u) for u in ("mg/dl", "μmol/L", "micromol/litre", "mmol / l", "mg/L")] == [
        "mg/dL",
        "umol/L",
        "umol/L",
        "mmol/L",
        None,
    ]
    with pytest.raises(ValueError, match="unknown creatinine unit"):
        creatinine_mg_dl(1.0, "mg/L")


@pytest.mark.parametrize(
    ("scr", "age", "sex"),
    [(0, 50, "M"), (-1, 50, "F"), (math.nan, 50, "F"), (math.inf, 50, "M"), (1.0, -1, "F"), (1.0, math.nan, "M"),
     (1.0, 50, "X"), (1.0, 50, None), ("1.0", 50, "M")],
)  # fmt: skip
def test_bad_arguments_raise_value_error(scr, age, sex):
    with pytest.raises(ValueError):
        egfr_ckd_epi_2021(scr, age, sex)


def test_coefficients_are_knowledge_with_their_source():
    data = tomllib.loads(KIDNEY_TOML.read_text())["ckd_epi_2021"]
    assert data["source"] == "inker_2021" and "Inker" in mg.knowledge().source("inker_2021").title
    changed = {**data, "constant": 141.0}  # another set of coefficients is used as given
    assert egfr_ckd_epi_2021(1.4, 60, "M", changed) == pytest.approx(egfr_ckd_epi_2021(1.4, 60, "M") * 141 / 142)


@pytest.mark.parametrize(
    ("text", "stage", "dialysis"),
    [
        ("G3b", "G3b", False), ("g3a", "G3a", False), ("CKD 4", "G4", False), ("stage 4", "G4", False),
        ("G5D", "G5", True), ("CKD 5D", "G5", True), ("5D", "G5", True), ("CKD G4A2", "G4", False),
        ("CKD 3b", "G3b", False), ("stage 4 CKD", "G4", False), ("CKD stage 3a", "G3a", False),
        ("CKD-3", "G3", False), ("CKD IV", "G4", False), ("stage IIIb", "G3b", False), ("3b", "G3b", False),
        ("G3aA1", "G3a", False), ("N18.32", "G3b", False), ("N18.4", "G4", False), ("N18.6", "G5", False),
        ("ESRD", "G5", False), ("CKD G5 D", "G5", True),
    ],
)  # fmt: skip
def test_ckd_stages_as_written(text, stage, dialysis):
    assert kidney_stage(text) == (stage, dialysis)


@pytest.mark.parametrize("text", ["4", "45", "iv", "v", "CKD", "G6", "stage 0", "4b", "N18.9", "CKD 4 maybe", "G", ""])
def test_numbers_and_other_text_are_no_stage(text):
    assert kidney_stage(text) is None
