"""Reading list cells as clinical-rules.md section 9 asks (products, separators, negation scope, history words,
class words, new concepts), each reading checked in both executions: ``terms.parse_list`` for a row and
``list_columns.read_list_column`` for a column of distinct cells must give exactly the same per cell."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import simple_icd_10_cm as icd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mgdecision as mg
from mgdecision.arrays import Pool
from mgdecision.frame import iter_assessments
from mgdecision.intake import IntakeItem, read_intake
from mgdecision.list_columns import read_list_column
from mgdecision.terms import QUALIFIERS, parse_list, split_items, unchecked_lines

KB = mg.knowledge()
INDEX = {key: k for k, key in enumerate(KB.concepts)}
KEYS = list(KB.concepts)


def _row(field: str, cell: str) -> dict[str, Any]:
    """What the row execution reads from one cell, in the shape compared with the column execution."""
    terms = parse_list(field, cell.strip())
    lines = unchecked_lines(field, terms.unrecognized, terms.history) if field != "symptoms" else ()
    return {
        "readable": terms.readable,
        "problems": "; ".join(map(str, terms.problems)),
        "unrecognized": "; ".join(lines),
        "concepts": [(c.key, named, shown, terms.qualifiers.get(c.key)) for c, named, shown in terms.concepts],
        "intake": terms.intake,
    }


def _column(field: str, cells: list[str]) -> list[dict[str, Any]]:
    """What the column execution reads from distinct cells, per cell."""
    pool = Pool()
    read = read_list_column(field, list(cells), pool, INDEX)
    out = []
    for cell in range(len(cells)):
        at = [k for k, c in enumerate(read.occ_cell.tolist()) if c == cell]
        out.append(
            {
                "readable": bool(read.readable[cell]),
                "problems": read.problems[cell],
                "unrecognized": read.unrecognized[cell],
                "concepts": [
                    (
                        KEYS[int(read.occ_concept[k])],
                        pool.texts[int(read.occ_named[k])],
                        pool.texts[int(read.occ_shown[k])],
                        QUALIFIERS[int(read.occ_qualifier[k])] if read.occ_qualifier[k] >= 0 else None,
                    )
                    for k in at
                ],
                "intake": read.intake[cell],
            }
        )
    return out


def _read(field: str, cell: str) -> dict[str, Any]:
    """The reading of one cell, after checking both executions agree on it (alone and among other cells)."""
    row = _row(field, cell)
    assert _column(field, [cell]) == [row]
    neighbours = ["omeprazole; no cramps, tremor", cell, "h/o MG, furosemide", "x"]
    assert _column(field, neighbours)[1] == row
    return row


def _keys(reading: dict[str, Any]) -> list[str]:
    return [key for key, *_ in reading["concepts"]]


def _qualifiers(reading: dict[str, Any]) -> dict[str, str]:
    return {key: q for key, _, _, q in reading["concepts"] if q is not None}


# ---------------------------------------------------------------- magnesium products (9.2, 9.3)

INTAKE = [
    # cell, product, kind, route, per dose, doses a day, daily, prn, confirm (a part of it), strength from
    ("Mag-Ox 400 BID", "mag_ox_400", "supplement", "oral", 241.3, 2, 482.6, False, None, "product_table"),
    ("magnesium oxide 800 mg daily", "magnesium_oxide", "supplement", "oral", 482.4, 1, 482.4, False, None, "row"),
    ("MOM 30 mL PRN constipation", "milk_of_magnesia", "laxative", "oral", 1000.0, None, 1000.0, True,
     "confirm how often", "product_table"),
    ("Maalox 10 mL qid", "maalox", "antacid", "oral", 170.0, 4, 680.0, False, "regular or maximum", "product_table"),
    ("MgO 400", "magnesium_oxide", "supplement", "oral", 241.2, None, 241.2, False, "no unit", "row"),
    ("Citroma", "magnesium_citrate_solution", "laxative", "oral", None, None, None, False, "volume per dose", None),
    ("Uro-Mag 140 mg tid", "uro_mag", "supplement", "oral", 84.5, 3, 253.5, False, None, "row"),
    ("MgSO4 2 g/h IV", "magnesium_sulfate", "iv_therapy", "iv", None, None, None, False, None, None),
    ("magnesium sulfate 4 g IV for pre-eclampsia", "magnesium_sulfate", "iv_therapy", "iv", 396.0, None, None, False,
     None, "row"),
    ("magnesium sulfate 5 g IM", "magnesium_sulfate", "iv_therapy", "im", 495.0, None, None, False, None, "row"),
    ("Mag sulfate infusion", "magnesium_sulfate", "iv_therapy", "iv", None, None, None, False, None, None),
    ("magnesium sulfate", "magnesium_sulfate", "iv_therapy", "iv", None, None, None, False, "read as IV", None),
    ("Mag-Tab SR 2 caplets bid", "mag_tab_sr", "supplement", "oral", 168.0, 2, 336.0, False, None, "product_table"),
    ("Slow-Mag 2 tabs bid", "slow_mag", "supplement", "oral", 143.0, 2, 286.0, False, None, "product_table"),
    ("Mag-G 500 mg tid", "mag_g", "supplement", "oral", 27.0, 3, 81.0, False, None, "row"),
    ("Magonate liquid 5 mL tid", "magonate_liquid", "supplement", "oral", 54.0, 3, 162.0, False, None,
     "product_table"),
    ("magnesium glycinate 400 mg nocte", "magnesium_glycinate", "supplement", "oral", 400.0, 1, 400.0, False,
     "confirm elemental amount", "row"),
    ("Mag-Ox 400 (241.3 mg elemental) 2 tabs BID", "mag_ox_400", "supplement", "oral", 482.6, 2, 965.2, False, None,
     "row"),
    ("Mag-Tab SR 7 mEq bid", "mag_tab_sr", "supplement", "oral", 85.1, 2, 170.1, False, None, "row"),
    ("MOM 2 tbsp qhs", "milk_of_magnesia", "laxative", "oral", 1000.0, 1, 1000.0, False, None, "product_table"),
    ("milk of magnesia 400 mg/5 mL 15 mL PRN max 60 mL/day", "milk_of_magnesia", "laxative", "oral", 500.4, 4,
     2001.6, True, None, "row"),
    ("milk of magnesia concentrate 10 mL hs", "milk_of_magnesia_concentrate", "laxative", "oral", 1000.8, 1, 1000.8,
     False, None, "product_table"),
    ("Phillips' 30 mL at bedtime", "milk_of_magnesia", "laxative", "oral", 1000.0, 1, 1000.0, False, None,
     "product_table"),
    ("Rolaids 2 tabs prn max 10/day", "rolaids", "antacid", "oral", 90.0, 5, 450.0, True, "regular, extra",
     "product_table"),
    ("Mylanta 10 mL q6h prn", "mylanta", "antacid", "oral", 170.0, 4, 680.0, True, "regular or maximum",
     "product_table"),
    ("Gaviscon 15 mL qid", "gaviscon", "antacid", "oral", 115.0, 4, 460.0, False, "UK Gaviscon", "product_table"),
    ("calcium magnesium zinc 2 tabs daily", "calcium_magnesium_zinc", "supplement", "oral", None, 1, None, False,
     "magnesium content", None),
    ("OsvaRen 2 tabs tid with meals", "osvaren", "phosphate_binder", "oral", 120.0, 3, 360.0, False, None,
     "product_table"),
    ("Clenpiq", "clenpiq", "bowel_prep", "oral", 2110.5, None, None, False, None, "product_table"),
    ("Suprep for colonoscopy", "suprep", "bowel_prep", "oral", None, None, None, False, None, None),
    ("Mag citrate 150 mL", "magnesium_citrate_solution", "laxative", "oral", 1450.0, None, 1450.0, False,
     "confirm how often", "product_table"),
    ("magnesium citrate solution 300 mL for colonoscopy", "magnesium_citrate_solution", "bowel_prep", "oral", 2900.0,
     None, None, False, None, "product_table"),
    ("magnesium 400 mg", "magnesium", "supplement", "oral", 400.0, None, 400.0, False, "confirm the salt", "row"),
    ("Epsom salt 2 tsp in water prn", "epsom_salt", "laxative", "oral", None, None, None, True, "by mouth", None),
    ("magnesium oxide 400 mg 1-2 tabs bid", "magnesium_oxide", "supplement", "oral", 482.4, 2, 964.8, False, None,
     "row"),
    ("Mag-Ox 400 x2", "mag_ox_400", "supplement", "oral", 241.3, 2, 482.6, False, None, "product_table"),
    ("magnesium oxide 400 mg q8h", "magnesium_oxide", "supplement", "oral", 241.2, 3, 723.6, False, None, "row"),
    ("magnesium chloride 2,400 mg daily", "magnesium_chloride", "supplement", "oral", 288.0, 1, 288.0, False, None,
     "row"),
    ("Mag 2g IV", "magnesium", "iv_therapy", "iv", 198.0, None, None, False, "read as sulfate", "row"),
    ("magnesium chloride 64 mg (Slow-Mag) bid", "slow_mag", "supplement", "oral", 64.0, 2, 128.0, False,
     "confirm elemental amount", "row"),
    ("Magnesium Oxide 400 MG Oral Tablet", "magnesium_oxide", "supplement", "oral", 241.2, None, 241.2, False,
     "confirm how often", "row"),
    ("MAGNESIUM OXIDE 400 MG PO TABS 1 TAB BY MOUTH TWICE DAILY", "magnesium_oxide", "supplement", "oral", 241.2, 2,
     482.4, False, None, "row"),
    ("magnesium oxide 400 mg PO BID PRN constipation", "magnesium_oxide", "supplement", "oral", 241.2, 2, 482.4, True,
     None, "row"),
]


@pytest.mark.parametrize(
    ("cell", "product", "kind", "route", "per_dose", "doses", "daily", "prn", "confirm", "strength_from"),
    INTAKE,
    ids=[c[0] for c in INTAKE],
)
def test_magnesium_products_are_read_for_what_they_give(
    cell, product, kind, route, per_dose, doses, daily, prn, confirm, strength_from
):
    reading = _read("medications", cell)
    assert reading["problems"] == "" and reading["unrecognized"] == ""
    (item,) = reading["intake"]
    assert isinstance(item, IntakeItem) and item.as_written == cell
    assert (item.product, item.kind, item.route) == (product, kind, route)
    assert (item.per_dose_elemental_mg, item.doses_per_day, item.daily_elemental_mg) == (per_dose, doses, daily)
    assert item.prn is prn and item.strength_from == strength_from
    if confirm is None:
        assert item.confirm == ()
    else:
        assert any(confirm in c for c in item.confirm), item.confirm
    rx = bool(KB.products["products"][product].get("rx"))
    assert item.prescribed is (rx or kind == "iv_therapy")


def test_indications_written_in_an_item_are_read():
    assert read_intake("MOM 30 mL PRN constipation", "milk_of_magnesia").indication == "constipation"
    assert read_intake("magnesium glycinate 200 mg for leg cramps", "magnesium_glycinate").indication == "leg cramps"
    assert read_intake("magnesium sulfate 4 g IV for pre-eclampsia", "magnesium_sulfate").indication == "pre eclampsia"
    reading = _read("medications", "MOM 30 mL PRN constipation")
    assert _keys(reading) == ["drug:magnesium hydroxide", "symptom:constipation"]
    assert _keys(_read("medications", "eculizumab for PNH")) == ["drug:eculizumab", "condition:pnh"]
    assert _keys(_read("medications", "pyridostigmine 60 mg for POTS")) == ["drug:pyridostigmine", "condition:pots"]


def test_prescribed_is_an_rx_product_or_written():
    assert read_intake("Mag-Ox 400 bid (prescribed)", "mag_ox_400").prescribed
    assert not read_intake("Mag-Ox 400 bid", "mag_ox_400").prescribed
    assert read_intake("magnesium glycerophosphate 4 mmol tid", "magnesium_glycerophosphate").prescribed


@pytest.mark.parametrize(
    ("cell", "keys"),
    [
        ("Mylanta Gas", ["drug:simethicone"]),
        ("Gaviscon Advance 10 mL", ["drug:sodium alginate", "drug:potassium bicarbonate"]),
        ("Rolaids Calcium Rich", ["drug:calcium carbonate"]),
        ("Epsom salt bath", ["drug:topical magnesium"]),
        ("magnesium oil spray nightly", ["drug:topical magnesium"]),
        ("Epsom salts in a foot soak", ["drug:topical magnesium"]),
    ],
)
def test_magnesium_free_variants_and_products_for_the_skin_are_not_intake(cell, keys):
    reading = _read("medications", cell)
    assert _keys(reading) == keys and reading["intake"] == () and reading["unrecognized"] == ""


@pytest.mark.parametrize(
    ("cell", "generics"),
    [
        ("Mag-Ox 400 BID", ["magnesium oxide"]),
        ("Mag oxide 400 mg", ["magnesium oxide"]),
        ("Mag citrate", ["magnesium citrate"]),
        ("Mag-Tab SR", ["magnesium lactate"]),
        ("Slow-Mag", ["magnesium chloride"]),
        ("Mag-G", ["magnesium gluconate"]),
        ("Magonate", ["magnesium gluconate"]),
        ("Uro-Mag", ["magnesium oxide"]),
        ("Beelith", ["magnesium oxide", "pyridoxine"]),
        ("milk of magnesia", ["magnesium hydroxide"]),
        ("Phillips'", ["magnesium hydroxide"]),
        ("Maalox", ["magnesium hydroxide", "aluminium hydroxide", "simethicone"]),
        ("Rolaids", ["calcium carbonate", "magnesium hydroxide"]),
        ("Gaviscon", ["aluminium hydroxide", "magnesium carbonate"]),
        ("Ca+Mg+Zn", ["calcium", "magnesium", "zinc"]),
        ("Prepopik", ["sodium picosulfate", "magnesium oxide", "citric acid"]),
        ("Picolax", ["sodium picosulfate", "magnesium oxide", "citric acid"]),
        ("CitraFleet", ["sodium picosulfate", "magnesium oxide", "citric acid"]),
        ("Sutab", ["sodium sulfate", "magnesium sulfate", "potassium chloride"]),
        ("magnesium trisilicate mixture", ["magnesium trisilicate"]),
        ("magnesium pidolate", ["magnesium pidolate"]),
        ("OsvaRen", ["calcium acetate", "magnesium carbonate"]),
    ],
)
def test_magnesium_products_are_recognised_by_brand_salt_and_abbreviation(cell, generics):
    reading = _read("medications", cell)
    assert _keys(reading) == [f"drug:{g}" for g in generics]
    assert reading["unrecognized"] == "" and len(reading["intake"]) == 1


def test_mom_is_milk_of_magnesia_only_on_the_medication_list():
    assert _keys(_read("medications", "MOM")) == ["drug:magnesium hydroxide"]
    assert _keys(_read("diagnoses", "MOM")) == []


# ---------------------------------------------------------------- separators (9.8)


@pytest.mark.parametrize(
    ("cell", "items"),
    [
        ("MgSO4 2 g/h IV", ["MgSO4 2 g/h IV"]),
        ("10 ML Furosemide 10 MG/ML Injection", ["10 ML Furosemide 10 MG/ML Injection"]),
        ("25 mcg/hour patch", ["25 mcg/hour patch"]),
        ("heparin 18 units/kg/h", ["heparin 18 units/kg/h"]),
        ("vancomycin 15 mg/kg", ["vancomycin 15 mg/kg"]),
        ("MOM 400 mg/5 mL", ["MOM 400 mg/5 mL"]),
        ("Body mass index 30+ - obesity", ["Body mass index 30+ - obesity"]),
        ("Dovato 50/300", ["Dovato 50/300"]),
        ("3,4-DAP 10 mg", ["3,4-DAP 10 mg"]),
        ("magnesium chloride 2,400 mg daily", ["magnesium chloride 2,400 mg daily"]),
        ("h/o MG; s/p thymectomy; r/o LEMS", ["h/o MG", "s/p thymectomy", "r/o LEMS"]),
        ("take w/ food", ["take w/ food"]),
        ("HIV/AIDS", ["HIV", "AIDS"]),
        ("cramps/twitching", ["cramps", "twitching"]),
        ("G35.B0/N18.31/I48.91/osteoporosis", ["G35.B0", "N18.31", "I48.91", "osteoporosis"]),
        ("gabapentin 600 mg/ferrous sulfate", ["gabapentin 600 mg", "ferrous sulfate"]),
    ],
)
def test_slashes_commas_and_plus_separate_only_between_items(cell, items):
    assert split_items(cell) == items


def test_a_dose_expression_keeps_its_drug_recognised():
    assert _keys(_read("medications", "10 ML Furosemide 10 MG/ML Injection")) == ["drug:furosemide"]
    assert _keys(_read("diagnoses", "Body mass index 30+ - obesity")) == ["condition:neutral"]
    reading = _read("medications", "Euthyrox 50 mcg/esomeprazole")
    assert _keys(reading) == ["drug:levothyroxine", "drug:esomeprazole"]


# ---------------------------------------------------------------- negation scope and history words (9.4, 9.5)


def test_not_stopped_and_continue_never_negate():
    for cell in ("omeprazole (not stopped)", "continue omeprazole", "omeprazole - no change", "omeprazole not d/c"):
        reading = _read("medications", cell)
        assert _keys(reading) == ["drug:omeprazole"] and reading["problems"] == "", cell


def test_a_negation_ends_at_but_however_except_and_a_full_stop():
    reading = _read("symptoms", "no cramps but poor sleep")
    assert _keys(reading) == ["symptom:insomnia"]
    assert reading["problems"] == "symptoms: 'no cramps' read as absent or stopped; not counted"
    assert reading["concepts"][0][1] == "poor sleep"  # named by the part that names it
    assert _keys(_read("symptoms", "denies cramps however reports tremor")) == ["symptom:tremor"]
    assert _keys(_read("symptoms", "no cramps. Anxiety")) == ["symptom:anxiety"]
    assert _keys(_read("symptoms", "cramps except no tremor")) == ["symptom:cramps"]


def test_a_negation_starting_an_item_carries_over_commas_up_to_a_semicolon():
    reading = _read("symptoms", "no cramps, tremor; anxiety")
    assert _keys(reading) == ["symptom:anxiety"]
    assert reading["problems"] == (
        "symptoms: 'no cramps' read as absent or stopped; not counted; "
        "symptoms: 'tremor' read as absent (negated with the item before); not counted"
    )
    assert _keys(_read("symptoms", "no cramps, tremor, fatigue\nanxiety")) == ["symptom:anxiety"]
    assert _keys(_read("symptoms", "denies cramps and tremor")) == []
    assert _keys(_read("symptoms", "no cramps, tremor but fatigue")) == []  # "but" inside the second item
    assert _keys(_read("symptoms", "no cramps; tremor")) == ["symptom:tremor"]
    assert _keys(_read("symptoms", "Pt denies cramps, tremor")) == []


def test_a_carried_negation_stops_at_an_item_with_its_own_word_or_a_dose():
    assert _keys(_read("symptoms", "no cramps, ?tremor")) == ["symptom:tremor"]
    reading = _read("medications", "no NSAIDs, furosemide 40 mg, pyridostigmine")
    assert _keys(reading) == ["drug:furosemide", "drug:pyridostigmine"]  # a dose says it is taken


def test_a_carried_negation_of_a_rule_is_listed_as_not_checked():
    reading = _read("diagnoses", "no HTN, myasthenia gravis")
    assert _keys(reading) == []
    assert reading["unrecognized"] == "diagnoses not counted as current (confirm): myasthenia gravis"


def test_post_negations_reach_back_in_their_clause():
    reading = _read("medications", "omeprazole - stopped 2023")
    assert _keys(reading) == [] and "read as stopped" in reading["problems"]
    assert _keys(_read("medications", "Lasix stopped, omeprazole")) == ["drug:omeprazole"]
    assert _keys(_read("diagnoses", "MG ruled out")) == []
    assert _keys(_read("diagnoses", "HIV negative")) == []
    assert _keys(_read("diagnoses", "myasthenia gravis without exacerbation")) == ["condition:myasthenia_gravis"]


@pytest.mark.parametrize(
    ("field", "cell", "key", "qualifier"),
    [
        ("medications", "omeprazole held", "drug:omeprazole", "held"),
        ("medications", "pantoprazole - on hold", "drug:pantoprazole", "held"),
        ("medications", "paused furosemide", "drug:furosemide", "held"),
        ("medications", "digoxin suspended", "drug:digoxin", "held"),
        ("diagnoses", "?MG", "condition:myasthenia_gravis", "suspected"),
        ("diagnoses", "MG?", "condition:myasthenia_gravis", "suspected"),
        ("diagnoses", "r/o myasthenia gravis", "condition:myasthenia_gravis", "suspected"),
        ("diagnoses", "rule out LEMS", "condition:lems", "suspected"),
        ("diagnoses", "suspected MG", "condition:myasthenia_gravis", "suspected"),
        ("diagnoses", "possible CKD", "condition:ckd_unstaged", "suspected"),
        ("diagnoses", "h/o myasthenia gravis", "condition:myasthenia_gravis", "history_chronic"),
        ("diagnoses", "hx CKD stage 4", "condition:ckd_severe", "history_chronic"),
        ("diagnoses", "PMH: type 2 diabetes", "condition:t2d", "history_chronic"),
        ("diagnoses", "history of Crohn's disease", "condition:crohns", "history_chronic"),
        ("diagnoses", "hx Gitelman syndrome", "condition:tubulopathy", "history_chronic"),
        ("diagnoses", "h/o complete heart block", "condition:heart_block_high", "history_chronic"),
        ("diagnoses", "hx dialysis", "condition:dialysis", "history_chronic"),
        ("diagnoses", "MG in remission", "condition:myasthenia_gravis", "history_chronic"),
        ("diagnoses", "LEMS - resolved", "condition:lems", "history_chronic"),
    ],
)
def test_qualified_items_count_with_their_qualifier(field, cell, key, qualifier):
    reading = _read(field, cell)
    assert key in _keys(reading) and _qualifiers(reading)[key] == qualifier
    assert reading["problems"] == ""


def test_h_o_myasthenia_with_thymectomy_counts_both():
    reading = _read("diagnoses", "h/o myasthenia gravis, thymectomy 2015")
    assert _keys(reading) == ["condition:myasthenia_gravis", "condition:thymectomy"]
    assert _qualifiers(reading) == {"condition:myasthenia_gravis": "history_chronic"}


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("hx AKI 2019", "history_term"),
        ("previous myasthenia gravis", "history_term"),
        ("AKI - resolved", "history_term"),
        ("family history of myasthenia gravis", "history_term"),
        ("no h/o MG", "negated_term"),
        ("denies myasthenia gravis", "negated_term"),
    ],
)
def test_episodic_history_family_and_explicit_negation_never_count(cell, code):
    a = mg.assess({"diagnoses": cell, "age": 50})
    reading = _read("diagnoses", cell)
    assert _keys(reading) == [] and {p.code for p in a.problems} == {code}


def test_a_past_low_magnesium_is_recognised_as_its_history():
    reading = _read("diagnoses", "h/o hypomagnesaemia")
    assert _keys(reading) == ["condition:hypomagnesaemia_history"]
    assert "read as past history" in reading["problems"]


# ---------------------------------------------------------------- class words (9.8)


@pytest.mark.parametrize(
    ("cell", "risk", "hours"),
    [
        ("on PPI", "ppi", None),
        ("proton pump inhibitor", "ppi", None),
        ("loop diuretic", "loop_diuretic", None),
        ("thiazide", "thiazide", None),
        ("calcineurin inhibitor", "calcineurin", None),
        ("platinum chemotherapy", "platinum", None),
        ("aminoglycoside", "aminoglycoside", (None, None)),
        ("quinolone", None, (4, 8)),
        ("tetracyclines", None, (4, 6)),
        ("bisphosphonate", None, (2, 2)),
        ("INSTI", None, (None, None)),
        ("integrase inhibitor", None, (None, None)),
    ],
)
def test_class_words_count_for_their_class(cell, risk, hours):
    (key,) = _keys(_read("medications", cell))
    concept = KB.concepts[key]
    assert concept.risk == risk
    if hours is None:
        assert concept.interaction is None
    else:
        (interaction,) = mg.assess({"medications": cell, "age": 40}).interactions
        assert (interaction.before_h, interaction.after_h) == hours
        assert interaction.action.endswith("confirm the drug")


def test_integrase_inhibitor_class_avoid_outranks_spacing():
    (interaction,) = mg.assess({"medications": "INSTI", "age": 40}).interactions
    assert interaction.severity == "major" and interaction.action.startswith("avoid")


# ---------------------------------------------------------------- new concepts


@pytest.mark.parametrize(
    ("field", "cell", "keys"),
    [
        ("diagnoses", "CKD G4A2", ["condition:ckd_severe"]),
        ("diagnoses", "G3b", ["condition:ckd_3"]),
        ("diagnoses", "G5D", ["condition:ckd_severe", "condition:dialysis"]),
        ("diagnoses", "CKD 3b", ["condition:ckd_3"]),
        ("diagnoses", "stage 4 CKD", ["condition:ckd_severe"]),
        ("diagnoses", "CKD G3aA1 (eGFR 52)", ["condition:ckd_3"]),
        ("diagnoses", "CKD 5D on HD", ["condition:ckd_severe", "condition:dialysis"]),
        ("diagnoses", "ESRD s/p kidney transplant", ["condition:kidney_transplant"]),
        ("diagnoses", "s/p renal transplant", ["condition:kidney_transplant"]),
        ("diagnoses", "Z94.0", ["condition:kidney_transplant"]),
        ("diagnoses", "PNH", ["condition:pnh"]),
        ("diagnoses", "D59.5", ["condition:pnh"]),
        ("diagnoses", "aHUS", ["condition:ahus"]),
        ("diagnoses", "D59.32", ["condition:ahus"]),
        ("diagnoses", "NMOSD", ["condition:nmosd"]),
        ("diagnoses", "G36.0", ["condition:nmosd"]),
        ("diagnoses", "CIDP", ["condition:cidp"]),
        ("diagnoses", "G61.81", ["condition:cidp"]),
        ("diagnoses", "POTS", ["condition:pots"]),
        ("diagnoses", "G90.A", ["condition:pots"]),
        ("diagnoses", "orthostatic hypotension", ["condition:orthostatic_hypotension"]),
        ("diagnoses", "I95.1", ["condition:orthostatic_hypotension"]),
        ("diagnoses", "severe pre-eclampsia", ["condition:pre_eclampsia"]),
        ("diagnoses", "O14.13", ["condition:pre_eclampsia"]),
        ("diagnoses", "eclampsia", ["condition:pre_eclampsia"]),
        ("diagnoses", "pacemaker", ["condition:pacemaker"]),
        ("diagnoses", "Z95.0", ["condition:pacemaker"]),
        ("diagnoses", "AKI", ["condition:aki"]),
        ("diagnoses", "N17.9", ["condition:aki"]),
        ("diagnoses", "oliguria", ["condition:oliguria"]),
        ("diagnoses", "R34", ["condition:oliguria"]),
        ("diagnoses", "Gitelman syndrome", ["condition:tubulopathy"]),
        ("diagnoses", "short bowel", ["condition:short_bowel"]),
        ("diagnoses", "G43.909", ["condition:migraine_dx"]),
        ("medications", "Vyvgart Hytrulo", ["drug:efgartigimod subcutaneous"]),
        ("medications", "efgartigimod SC", ["drug:efgartigimod subcutaneous"]),
        ("medications", "Vyvgart", ["drug:efgartigimod"]),
        ("medications", "Bkemv", ["drug:eculizumab-aeeb"]),
        ("medications", "eculizumab-aeeb", ["drug:eculizumab-aeeb"]),
        ("medications", "Epysqli", ["drug:eculizumab-aagh"]),
        ("medications", "Soliris", ["drug:eculizumab"]),
        ("medications", "Ultomiris", ["drug:ravulizumab"]),
        ("medications", "neostigmine 2.5 mg IV", ["drug:neostigmine injection"]),
        ("medications", "neostigmine for reversal", ["drug:neostigmine injection"]),
        ("medications", "neostigmine 15 mg PO tid", ["drug:neostigmine"]),
        ("medications", "pyridostigmine inj", ["drug:pyridostigmine injection"]),
        ("medications", "sotalol 80 mg bid", ["drug:sotalol"]),
        ("medications", "Xofluza", ["drug:baloxavir"]),
    ],
)
def test_new_concepts_are_recognised(field, cell, keys):
    reading = _read(field, cell)
    assert _keys(reading) == keys and reading["unrecognized"] == ""


def test_c5_inhibitors_are_their_own_class_and_no_longer_stand_for_mg():
    assert KB.concepts["drug:eculizumab"].drug_class == "c5_inhibitor"
    assert KB.concepts["drug:ravulizumab"].drug_class == "c5_inhibitor"
    # held: a C5 inhibitor gives its caution only with no indication on the row (rules.toml), never probable MG
    assert KB.concepts["drug:eculizumab"].contra == {"oral": "c5_inhibitor", "iv": "c5_inhibitor"}
    assert KB.concepts["drug:eculizumab-aeeb"].drug_class == "c5_inhibitor_biosimilar"
    assert not KB.concepts["drug:eculizumab-aeeb"].contra
    # held: subcutaneous efgartigimod stands for MG unless CIDP is on the row
    assert KB.concepts["drug:efgartigimod subcutaneous"].contra == {"oral": "efgartigimod_sc", "iv": "efgartigimod_sc"}


NEW_CODES = {
    "pnh": "paroxysmal nocturnal hemoglobinuria",
    "ahus": "hemolytic-uremic syndrome",
    "nmosd": "neuromyelitis optica",
    "cidp": "chronic inflammatory demyelinating",
    "pots": "postural orthostatic tachycardia",
    "orthostatic_hypotension": "orthostatic hypotension",
    "pre_eclampsia": "eclampsia",
    "kidney_transplant": "kidney transplant",
    "pacemaker": "pacemaker",
    "oliguria": "anuria and oliguria",
}


@pytest.mark.parametrize(("concept", "words"), NEW_CODES.items())
def test_codes_of_new_concepts_are_official_and_mean_them(concept, words):
    conditions = tomllib.loads((Path(mg.__file__).parent / "knowledge" / "conditions.toml").read_text())
    for code in conditions[concept]["codes"]:
        assert icd.is_valid_item(code), code
        assert words in icd.get_description(code).lower(), (code, icd.get_description(code))


def test_every_product_name_is_a_drug_name_and_every_magnesium_name_a_product():
    for pid, product in KB.products["products"].items():
        for name in product["names"]:
            assert KB.product_names[mg.kb.norm(name)] == pid or KB.product_names[mg.kb.norm(name)] in KB.products[
                "products"
            ]
            assert KB.drug_names[mg.kb.norm(name)] == tuple(f"drug:{g}" for g in product["generics"])
    magnesium = [n for n, keys in KB.drug_names.items() if any(KB.concepts[k].drug_class == "magnesium" for k in keys)]
    assert magnesium and all(n in KB.product_names for n in magnesium)


def test_labelled_strengths_agree_with_the_elemental_fractions():
    """A label's elemental figure stays within 15 % of salt weight x the stoichiometric fraction (carbonates vary
    most: basic and heavy magnesium carbonate hold more magnesium than MgCO3, clinical-facts.md section 7)."""
    fractions = KB.dosing["elemental"]
    for pid, product in KB.products["products"].items():
        if "salt_mg" in product and "elemental_mg" in product and product["salt"] in KB.products["salt_weight_salts"]:
            computed = product["salt_mg"] * fractions[product["salt"]]
            assert abs(computed - product["elemental_mg"]) / product["elemental_mg"] < 0.15, pid


# ---------------------------------------------------------------- both executions on whole columns


CELLS = [
    "no cramps, tremor; anxiety",
    "no cramps but poor sleep",
    "omeprazole (not stopped)",
    "Mag-Ox 400 BID, furosemide",
    "h/o myasthenia gravis, thymectomy 2015",
    "stopped omeprazole, furosemide",
    "denies cramps, tremor, fatigue\nanxiety",
    "MOM 30 mL PRN constipation; Maalox 10 mL qid",
    "?MG, r/o LEMS",
    "no HTN, myasthenia gravis",
    "pantoprazole - on hold, digoxin",
    "cramps, no tremor, fatigue",
    "no cramps",
    "G35.B0/N18.31",
    "xyzzy, no",
    "no, cramps",
    ", , no cramps, , tremor",
]


def test_both_executions_read_every_cell_alike_in_one_column():
    for field in ("diagnoses", "medications", "symptoms"):
        assert _column(field, CELLS) == [_row(field, c) for c in CELLS]


def test_both_executions_agree_on_whole_rows():
    df = pd.DataFrame(
        {
            "diagnoses": ["h/o MG, thymectomy", "no MG, LEMS", "CKD G4A2", "MG in remission", None],
            "medications": ["Mag-Ox 400 BID", "on PPI, quinolone", "stopped omeprazole, lasix", "Vyvgart Hytrulo", "x"],
            "symptoms": ["no cramps, tremor; anxiety", "poor sleep", None, "no cramps but poor sleep", "?"],
            "age": [70, 40, 55, 30, 20],
        }
    )
    out = mg.assess_frame(df)
    for i, a in enumerate(iter_assessments(df)):
        got = out.iloc[i][list(mg.COLUMNS)].tolist()
        assert [None if isinstance(g, float) and g != g else g for g in got] == list(a.row_values())


ITEMS = [
    "cramps", "tremor", "anxiety", "poor sleep", "MG", "myasthenia gravis", "LEMS", "omeprazole", "Mag-Ox 400 BID",
    "MOM 30 mL", "furosemide 40 mg", "G35.A", "N18.4", "xyzzy", "HD", "CKD G4A2", "on PPI", "quinolone",
]
WORDS = ["", "", "no ", "denies ", "h/o ", "?", "stopped ", "held ", "family history of ", "not stopped "]
AFTER = ["", "", " stopped", " resolved", " in remission", "?", " - on hold", " but tremor", ". anxiety"]
JOINERS = [", ", "; ", "\n", " and ", "/", " + ", " | ", ",, "]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(ITEMS), st.sampled_from(AFTER),
                           st.sampled_from(JOINERS)), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["diagnoses", "medications", "symptoms"]),
)
def test_any_column_of_negations_history_and_products_reads_alike_both_ways(cells, field):
    texts = ["".join(w + i + a + j for w, i, a, j in cell).strip() for cell in cells]
    distinct = list(dict.fromkeys(texts))
    assert _column(field, distinct) == [_row(field, c) for c in distinct]


# ---------------------------------------------------------------- an adversary's cells


HOSTILE = [
    "no " * 5000,
    "/" * 30000,
    "," * 30000 + "cramps",
    "?" * 20000,
    "h/o " * 6000 + "MG",
    "no cramps, " * 3000 + "anxiety",
    "Mag-Ox 400 " * 2000,
    "(" * 10000 + "MG" + ")" * 10000,
    "1" * 30000 + " mg",
    "mg/" * 10000,
    "but " * 8000,
    ". " * 15000,
    "\ud800cramps\udfff, no \ud83dtremor",
    "MOM " + "30 mL " * 5000 + "prn max " * 1000,
    "magnesium sulfate " + "2 g/h " * 4000,
    "; ".join(["omeprazole", "no cramps", "h/o MG", "Mag-Ox 400 BID"] * 2500),  # 10,000 items
    "a/" * 15000,
    "x" * 32766 + "/",
]


@pytest.mark.parametrize("cell", HOSTILE, ids=[f"hostile{k}" for k in range(len(HOSTILE))])
def test_hostile_cells_are_read_without_an_exception_in_both_executions(cell):
    for field in ("diagnoses", "medications", "symptoms"):
        assert _column(field, [cell, "cramps"]) == [_row(field, cell), _row(field, "cramps")]
    a = mg.assess({"diagnoses": cell, "medications": cell, "symptoms": cell, "age": 50})
    assert a.row()["mg_risk"] in {"LOW", "MODERATE", "HIGH", "UNKNOWN"}


def test_ten_thousand_items_are_all_read():
    cell = "; ".join(["omeprazole", "no cramps", "h/o MG", "Mag-Ox 400 BID"] * 2500)
    terms = parse_list("medications", cell)
    assert len(terms.intake) == 2500 and len(terms.negated) == 5000  # "h/o MG" names no drug: past, listed


@pytest.mark.parametrize(
    "cells",
    [
        ["a", "b"],
        ["", "a\x03\x03b", "\x03", "c"],
        ["omeprazole\x03Lasix", "", "", "omeprazole", "Lasix\x03omeprazole\x03"],
        ["é\x03ü", "ß", "x\x03é"],
    ],
)
def test_items_are_split_alike_with_and_without_arrow(cells: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow's split of a joined column gives the items, codes and cells of Python's (which also codes the row
    ends, never read as items)."""
    pytest.importorskip("pyarrow")  # (without it, both splits are Python's)
    from mgdecision import list_columns

    big = list_columns.END.join(cells)
    fast = list_columns.split_pieces(big, len(cells))
    monkeypatch.setattr(list_columns, "_arrow_split", None)
    codes, texts, cell_of = list_columns.split_pieces(big, len(cells))
    read = [texts[c] for c in codes.tolist()]
    assert [fast[1][c] for c in fast[0].tolist()] == read
    assert fast[2].tolist() == cell_of.tolist()
    assert fast[1] == [t for t in texts if t != list_columns.END]
