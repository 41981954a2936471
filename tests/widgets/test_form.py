"""Headless PatientForm tests: set widget values as a user would, assert on the cards and field problems."""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.widgets import PatientForm, flags_html

CORE_TESTS = Path(__file__).resolve().parents[1] / "core"


def typed(form: PatientForm, name: str, text: str) -> None:
    form.inputs[name].observed()[0].value = text


def choose(form: PatientForm, name: str, value: object) -> None:
    form.inputs[name].observed()[0].value = value


def add_tag(form: PatientForm, name: str, text: str) -> None:
    form.inputs[name].entry.value = text  # what pressing Enter in the entry box does


@pytest.fixture
def form() -> PatientForm:
    return PatientForm()


def test_every_field_has_an_input(form: PatientForm) -> None:
    names = {f.name for f in mg.knowledge().fields}
    assert names - set(form.inputs) == {"serum_mg_unit"}  # the unit is the dropdown beside the serum value
    assert form.serum.unit.dropdown.options[1:] == (("mmol/L", "mmol/L"), ("mg/dL", "mg/dL"), ("mEq/L", "mEq/L"))


def test_blank_form_shows_no_cards_only_what_to_enter(form: PatientForm) -> None:
    assert 'role="status"' in form.cards.value and 'aria-live="polite"' in form.cards.value
    assert 'class="mg-card"' not in form.cards.value and "Enter a patient" in form.cards.value
    assert form.assessment is None
    form.serum.unit.dropdown.value = "mmol/L"  # a unit alone is no patient yet
    assert form.assessment is None and 'class="mg-card"' not in form.cards.value
    typed(form, "age", "52")
    assert form.assessment is not None and 'class="mg-card"' in form.cards.value
    typed(form, "age", "")
    assert form.assessment is None and 'class="mg-card"' not in form.cards.value


def test_assessment_is_an_observable_trait(form: PatientForm) -> None:
    seen: list = []
    form.observe(lambda change: seen.append(change["new"]), "assessment")
    typed(form, "age", "70")
    typed(form, "egfr", "20")
    assert [a.contraindication.level for a in seen] == ["NONE_FOUND", "CONTRAINDICATED"]
    assert seen[-1] is form.assessment


def test_each_change_updates_the_cards(form: PatientForm) -> None:
    typed(form, "age", "52")
    choose(form, "sex", "F")
    typed(form, "serum_mg", "1.2")
    form.serum.unit.dropdown.value = "mg/dL"
    assert "serum 1.2 mg/dL below the lower limit" in form.cards.value
    add_tag(form, "medications", "Prilosec")
    assert form.inputs["medications"].tags.value == ["Prilosec"]
    assert "omeprazole (Prilosec)" in form.cards.value
    assert form.inputs["medications"].entry.value == ""  # ready for the next tag
    typed(form, "egfr", "20")
    assert 'data-indicator="critical"' in form.cards.value and "Do not give magnesium" in form.cards.value
    assert form.cards.value.index('data-indicator="critical"') < form.cards.value.index('data-indicator="warning"')
    typed(form, "egfr", "")
    assert "Do not give magnesium" not in form.cards.value


def test_cards_are_the_core_rendering(form: PatientForm) -> None:
    form.load({"age": 40, "egfr": 25, "medications": "doxycycline"})
    a = mg.assess(form.values())
    assert a._repr_html_() in form.cards.value
    assert form.cards.value == flags_html(form.assessment)
    assert "<svg" in form.cards.value and "<details>" in form.cards.value


def test_pregnancy_disabled_for_male_but_never_reset(form: PatientForm) -> None:
    choose(form, "sex", "F")
    choose(form, "pregnant", "yes")
    assert not form.inputs["pregnant"].dropdown.disabled
    choose(form, "sex", "M")
    assert form.inputs["pregnant"].dropdown.disabled and form.inputs["lactating"].dropdown.disabled
    assert form.inputs["pregnant"].dropdown.value == "yes"
    assert "sex is M" in form.problems_for("pregnant")
    choose(form, "sex", "F")
    assert not form.inputs["pregnant"].dropdown.disabled and form.problems_for("pregnant") == ""


def test_free_text_tags_are_kept_and_shown_unrecognised(form: PatientForm) -> None:
    add_tag(form, "medications", "zzzdrug")
    add_tag(form, "diagnoses", "made-up disease")
    add_tag(form, "symptoms", "cramps")
    assert form.inputs["medications"].tags.value == ["zzzdrug"]
    assert "zzzdrug" in form.values()["medications"]
    assert "not recognised" in form.problems_for("medications")
    assert "not recognised" in form.problems_for("diagnoses")
    assert form.problems_for("symptoms") == ""
    assert "zzzdrug" in form.assessment.unrecognized


def test_tag_entry_splits_a_pasted_list_and_skips_duplicates(form: PatientForm) -> None:
    add_tag(form, "medications", "omeprazole; furosemide")
    add_tag(form, "medications", "furosemide")
    assert form.inputs["medications"].tags.value == ["omeprazole", "furosemide"]
    form.inputs["medications"].tags.value = ["furosemide"]  # removing a tag with its x
    assert "omeprazole" not in form.cards.value


def test_a_loaded_list_keeps_its_separators_until_its_tags_change(form: PatientForm) -> None:
    form.load({"age": 40, "symptoms": "no cramps, tremor; anxiety"})
    assert form.inputs["symptoms"].tags.value == ["no cramps", "tremor", "anxiety"]
    assert form.values()["symptoms"] == "no cramps, tremor; anxiety"  # the negation still carries over tremor
    assert form.assessment.row() == mg.assess({"age": 40, "symptoms": "no cramps, tremor; anxiety"}).row()
    add_tag(form, "symptoms", "fatigue")  # a tag added here is an item of its own
    assert form.values()["symptoms"] == "no cramps; tremor; anxiety; fatigue"


def test_completion_lists_come_from_the_knowledge_base(form: PatientForm) -> None:
    kb = mg.knowledge()
    assert set(form.inputs["medications"].entry.options) == set(kb.drug_names)
    assert set(form.inputs["diagnoses"].entry.options) == set(kb.condition_names)
    assert set(form.inputs["symptoms"].entry.options) == set(kb.symptom_names)
    assert "glycinate" in form.inputs["supplement_form"].text.options


# (field typed, text, field the problem is shown at, problem code): one line per validation path
VALIDATION = [
    ("age", "200", "age", "implausible_value"),
    ("age", "old", "age", "not_a_number"),
    ("age", "6 fortnights", "age", "unit_unknown"),
    ("egfr", "abc", "egfr", "not_a_number"),
    ("egfr", "250", "egfr", "implausible_value"),
    ("serum_mg", "20", "serum_mg", "implausible_value"),
    ("serum_mg", "0.7 furlongs", "serum_mg", "unit_unknown"),
    ("serum_mg", "<0.5", "serum_mg", "censored_value"),
    ("supplement_dose_mg", "20000", "supplement_dose_mg", "implausible_value"),
    ("supplement_dose_mg", "-5", "supplement_dose_mg", "implausible_value"),
    ("supplement_form", "unobtainium", "supplement_form", "unrecognized_term"),
    ("date_of_birth", "31/02/2020", "date_of_birth", "invalid_date"),
    ("ref_low", "x", "ref_low", "not_a_number"),
]


@pytest.mark.parametrize(("name", "text", "shown_at", "code"), VALIDATION, ids=[f"{v[0]}={v[1]}" for v in VALIDATION])
def test_validation_is_shown_next_to_the_field_and_nothing_is_clamped(
        form: PatientForm, name: str, text: str, shown_at: str, code: str) -> None:
    if name in ("serum_mg", "ref_low", "ref_high"):
        form.serum.unit.dropdown.value = "mmol/L"  # chosen by the user: the form has no default unit
    if name in ("ref_low", "ref_high"):
        typed(form, "serum_mg", "0.8")
    typed(form, name, text)
    assert [(p.field, str(p.code)) for p in form.assessment.problems] == [(shown_at, code)]
    assert form.problems_for(shown_at), f"nothing shown next to {shown_at}"
    assert 'role="alert"' in form.problems_for(shown_at)
    assert form.inputs[name].observed()[0].value == text  # as typed: never clamped or rewritten
    assert "input problem" in form.cards.value
    typed(form, name, "")
    assert form.problems_for(shown_at) == ""


def test_no_unit_is_ever_assumed(form: PatientForm) -> None:
    assert form.serum.unit.dropdown.value == ""  # a new form has no unit chosen
    typed(form, "serum_mg", "0.9")  # severely low in mg/dL, normal in mmol/L: the form must not guess
    assert "serum_mg_unit" not in form.values() and form.values()["serum_mg"] == "0.9"
    assert {str(p.code) for p in form.assessment.problems} == {"unit_missing"}
    assert "unit" in form.problems_for("serum_mg")
    assert form.assessment.row() == mg.assess({"serum_mg": "0.9"}).row()  # the core's answer, value passed as typed
    form.serum.unit.dropdown.value = "mg/dL"
    assert form.assessment.row() == mg.assess({"serum_mg": "0.9", "serum_mg_unit": "mg/dL"}).row()
    assert not form.assessment.problems
    form.clear_button.click()
    assert form.serum.unit.dropdown.value == "" and form.values() == {}  # Clear form clears the unit too
    form.load({"age": 40, "serum_mg": 0.9})  # a loaded row without a unit gets none either
    assert form.serum.unit.dropdown.value == ""
    assert {str(p.code) for p in form.assessment.problems} == {"unit_missing"}


def test_serum_with_its_unit_in_the_text_is_read_by_the_core(form: PatientForm) -> None:
    typed(form, "serum_mg", "0.9 mg/dL")
    assert form.assessment.row() == mg.assess({"serum_mg": "0.9 mg/dL"}).row()
    assert "unit_missing" not in {str(p.code) for p in form.assessment.problems}


def test_lab_range_problems_are_shown_at_their_field(form: PatientForm) -> None:
    form.serum.unit.dropdown.value = "mmol/L"
    typed(form, "serum_mg", "0.8")
    typed(form, "ref_low", "1.0")
    typed(form, "ref_high", "0.7")
    core = mg.assess({"serum_mg": "0.8", "serum_mg_unit": "mmol/L", "ref_low": "1.0", "ref_high": "0.7"})
    assert core.problems and form.assessment.row() == core.row()
    for p in core.problems:
        assert escape(p.message) in form.problems_for(p.field), p


def test_loaded_odd_choice_is_kept_as_given_and_reported(form: PatientForm) -> None:
    form.load({"Sex": "X", "Pregnant?": "maybe", "Age": 30})
    assert form.inputs["sex"].dropdown.value == "X"
    assert "not understood" in form.problems_for("sex")
    assert "not understood" in form.problems_for("pregnant")
    form.load({"Sex": "female"})
    assert form.inputs["sex"].dropdown.value == "F" and len(form.inputs["sex"].dropdown.options) == 3


def test_unknown_columns_are_passed_through_and_reported(form: PatientForm) -> None:
    form.load({"age": 40, "Serum Mgg": 0.7, "EDSS": 3})
    assert form.values()["EDSS"] == 3
    assert "did you mean" in form.general.value


def test_load_with_header_units(form: PatientForm) -> None:
    form.load({"Serum Mg (mg/dL)": 1.5, "Age (months)": 18})
    assert form.serum.unit.dropdown.value == "mg/dL"
    assert form.inputs["age"].text.value == "18 months"
    assert form.assessment.row() == mg.assess({"Serum Mg (mg/dL)": 1.5, "Age (months)": 18}).row()


def test_save_hands_the_row_over() -> None:
    saved: list[dict] = []
    form = PatientForm({"age": 33}, on_save=saved.append)
    assert form.save_button.layout.display == "flex"
    form.save_button.click()
    assert saved == [{"age": 33}] and "Saved" in form.status.value
    assert PatientForm().save_button.layout.display == "none"


def test_clear_button_empties_the_form(form: PatientForm) -> None:
    typed(form, "age", "50")
    add_tag(form, "medications", "omeprazole")
    form.clear_button.click()
    assert form.values() == {}


def _golden_cases() -> list[dict]:
    if not (CORE_TESTS / "golden.py").exists():
        return []
    sys.path.insert(0, str(CORE_TESTS))
    try:
        from golden import load_cases
    finally:
        sys.path.remove(str(CORE_TESTS))
    return [c for c in load_cases() if isinstance(c.get("input"), dict)]


def test_form_and_assess_agree_on_every_golden_case() -> None:
    cases = _golden_cases()
    if not cases:
        pytest.skip("no golden cases in tests/core/cases")
    form = PatientForm()
    disagree = []
    for case in cases:
        form.load(case["input"])
        if not case["input"]:  # nothing entered: the form shows no flags (the core says UNKNOWN)
            assert form.assessment is None
            continue
        if form.assessment.row() != mg.assess(case["input"]).row():
            disagree.append(f"{case['file']}: {case['name']}")
    assert not disagree, disagree
    assert len(cases) > 50


VARIED = [
    {"age": 52, "sex": "F", "serum_mg": "0.62 mmol/L", "medications": "Prilosec 20 mg", "egfr": 70},
    {"Age": 70, "Sex": "male", "Serum Mg (mg/dL)": 1.3, "eGFR": 35, "Meds": "furosemide\ndigoxin", "Dx": "I50.9"},
    {"age": 30, "sex": "F", "pregnant": "y", "route": "iv", "serum_mg": 0.6, "serum_mg_unit": "mmol/L"},
    {"age": "18 months", "supplement_form": "oxide", "supplement_compound_mg": 400},
    {"age": 45, "dialysis": "yes", "symptoms": "cramps, insomnia", "supplement_form": "glycinate",
     "supplement_dose_mg": 300},
    {"age": 60, "diagnoses": "myasthenia gravis", "medications": "Mestinon; ciprofloxacin", "egfr": "abc"},
    {"date_of_birth": "1950-05-01", "assessment_date": "2026-11-01", "serum_mg": "1.2 mEq/L", "ref_low": 1.3,
     "ref_high": 2.1},
]


@pytest.mark.parametrize("row", VARIED)
def test_form_typed_by_hand_agrees_with_assess(row: dict) -> None:
    """Load, then forget the loaded cells so that only the text in the boxes counts (as if typed)."""
    form = PatientForm(row)
    for inp in form.inputs.values():
        if hasattr(inp, "_raw"):
            inp._raw = None
    form.serum.value._raw = None
    form.update()
    assert form.assessment.row() == mg.assess(row).row()
