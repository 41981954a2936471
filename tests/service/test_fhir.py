"""``mg.from_fhir``: plain FHIR JSON in, one patient row out, and nothing unusable dropped silently."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import mgdecision as mg
from mgdecision.fhir import FhirNote

from . import fhir_data as f

AS_OF = date(2026, 11, 30)


def _codes(row: mg.fhir.FhirRow) -> set[str]:
    return {n.code for n in row.notes}


def test_a_bundle_becomes_the_row_mg_assess_takes() -> None:
    record = f.bundle(f.patient(), f.serum(1.5, "mg/dL"), f.egfr(70), f.condition("G70.00"),
                      f.medication("doxycycline hyclate 100 MG Oral Capsule"))
    row = mg.from_fhir(record, as_of=AS_OF)
    assert dict(row) == {"patient_id": f.PATIENT_ID, "date_of_birth": "1970-05-01", "assessment_date": "2026-11-30",
                         "sex": "female", "serum_mg": 1.5, "serum_mg_unit": "mg/dL", "egfr": 70,
                         "diagnoses": "G70.00", "medications": "doxycycline hyclate"}
    assert row.notes == []
    hand = {"date_of_birth": "1970-05-01", "assessment_date": "2026-11-30", "sex": "F", "serum_mg": "1.5 mg/dL",
            "egfr": 70, "diagnoses": "G70.00", "medications": "doxycycline"}
    a, b = mg.assess(row), mg.assess(hand)
    assert a.contraindication.level == b.contraindication.level == mg.ContraLevel.CONTRAINDICATED
    assert a.risk == b.risk and a.dose == b.dose and len(a.interactions) == len(b.interactions) == 1


def test_the_newest_final_serum_value_is_used_and_the_others_are_noted() -> None:
    record = f.bundle(
        f.patient(),
        f.serum(0.9, when="2026-10-01T08:00:00Z"),
        f.serum(0.6, when="2026-11-20T08:00:00+01:00"),
        f.serum(1.2, when="2026-11-25T08:00:00Z", status="preliminary"),
        f.serum(2.9, when="2026-11-26T08:00:00Z", status="entered-in-error"),
    )
    row = mg.from_fhir(record)
    assert row["serum_mg"] == 0.6
    assert {FhirNote.OLDER_VALUE, FhirNote.NOT_FINAL, FhirNote.ENTERED_IN_ERROR} <= _codes(row)


def test_units_are_never_guessed() -> None:
    row = mg.from_fhir(f.bundle(f.patient(), f.serum(0.7, None)))
    assert "serum_mg_unit" not in row
    assert [p.code for p in mg.assess(row).problems] == [mg.ProblemCode.UNIT_MISSING]
    row = mg.from_fhir(f.bundle(f.patient(), f.serum(0.7, "mmol/L", system="http://snomed.info/sct")))
    assert FhirNote.UNIT_NOT_UCUM in _codes(row)
    assert [p.code for p in mg.assess(row).problems] == [mg.ProblemCode.UNIT_MISSING]
    row = mg.from_fhir(f.bundle(f.patient(), f.serum(7.0, "mg/L")))
    assert [p.code for p in mg.assess(row).problems] == [mg.ProblemCode.UNIT_UNKNOWN]
    row = mg.from_fhir(f.bundle(f.patient(), f.observation("19123-9", 0.8, "mmol/L")))  # mass code, moles unit
    assert row["serum_mg_unit"] == "mmol/L" and FhirNote.UNIT_MISMATCH in _codes(row)


def test_lab_range_and_comparators_reach_the_core() -> None:
    obs = f.serum(0.72)
    obs["referenceRange"] = [{"low": {"value": 0.7, "system": f.UCUM, "code": "mmol/L"},
                              "high": {"value": 1.0, "system": f.UCUM, "code": "mmol/L"}}]
    row = mg.from_fhir(f.bundle(f.patient(), obs, f.egfr(60, comparator=">")))
    assert row["ref_low"] == "0.7 mmol/L" and row["ref_high"] == "1.0 mmol/L" and row["egfr"] == ">60"


def test_conditions_only_active_ones_count() -> None:
    record = f.bundle(
        f.patient(),
        f.condition("G70.00"),
        f.condition("K50.90", status="resolved"),
        f.condition("N18.4", verification="entered-in-error"),
        f.condition("E11.9", verification="refuted"),
        f.condition(None, "Crohn's disease, small intestine"),
        f.condition("F10.20", status=None),
    )
    row = mg.from_fhir(record)
    assert row["diagnoses"] == "G70.00; Crohn's disease small intestine; F10.20"
    assert {FhirNote.NOT_ACTIVE, FhirNote.ENTERED_IN_ERROR, FhirNote.STATUS_MISSING} <= _codes(row)


def test_medications_by_rxnorm_display_text_or_reference() -> None:
    omeprazole = {"system": f.RXNORM, "code": "1", "display": "omeprazole 20 MG Delayed Release Capsule"}
    med = {"resourceType": "Medication", "id": "med-1", "code": {"coding": [omeprazole]}}
    by_ref = f.medication("x")
    del by_ref["medicationCodeableConcept"]
    by_ref["medicationReference"] = {"reference": "Medication/med-1"}
    contained = f.medication("x", kind="MedicationRequest")
    del contained["medicationCodeableConcept"]
    contained["contained"] = [{"resourceType": "Medication", "id": "c1", "code": {"text": "Lasix 40 mg"}}]
    contained["medicationReference"] = {"reference": "#c1"}
    record = f.bundle(
        f.patient(), med, by_ref, contained,
        f.medication("dolutegravir 50 MG / lamivudine 300 MG Oral Tablet"),
        f.medication("some brand", text="Vibramycin 100mg"),
        f.medication("furosemide 40 MG Oral Tablet", status="stopped"),
        f.medication("", rxcui="999999"),
    )
    row = mg.from_fhir(record)
    meds = row["medications"].split("; ")
    assert meds[:5] == ["omeprazole", "Lasix", "dolutegravir", "lamivudine", "Vibramycin"]
    assert meds[5] == "unnamed medication (RxNorm 999999)"
    assert FhirNote.NOT_ACTIVE in _codes(row)
    a = mg.assess(row)
    assert "unnamed medication (RxNorm 999999)" in a.unrecognized  # listed by the core, never dropped


def test_magnesium_orders_and_their_route() -> None:
    record = f.bundle(f.patient(), f.order("magnesium sulfate 500 MG/ML Injectable Solution", mid="o1"))
    row = mg.from_fhir(record)
    assert row["route"] == "iv"
    assert [(o.reference, o.magnesium, o.status) for o in row.orders] == [("MedicationRequest/o1", True, "draft")]
    row = mg.from_fhir(f.bundle(f.patient(), f.order("doxycycline 100 MG Oral Capsule", mid="o2")))
    assert "route" not in row and not row.orders[0].magnesium


def test_pregnancy_status() -> None:
    obs = f.observation("82810-3", None)
    obs["valueCodeableConcept"] = {"coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]}
    assert mg.from_fhir(f.bundle(f.patient(), obs))["pregnant"] == "yes"
    obs["valueCodeableConcept"] = {"coding": [{"system": "http://snomed.info/sct", "code": "123"}], "text": "maybe"}
    row = mg.from_fhir(f.bundle(f.patient(), obs))
    assert "pregnant" not in row and FhirNote.UNMAPPED in _codes(row)


def test_other_patients_partial_dates_and_other_resources() -> None:
    record = f.bundle(f.patient(birth="1970"), f.serum(0.8, pid="someone-else"), {"resourceType": "Encounter"},
                      {"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": f.LOINC, "code": "2823-3"}]}})
    row = mg.from_fhir(record)
    assert "date_of_birth" not in row and "serum_mg" not in row
    assert {FhirNote.PARTIAL_DATE, FhirNote.OTHER_PATIENT, FhirNote.NOT_READ} <= _codes(row)
    assert any("1 Encounter" in n.message and "1 Observation (other codes)" in n.message for n in row.notes)


def test_prefetch_mapping_and_lists_are_read() -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.8)], conditions=[f.condition("G70.00")])
    pre["egfr"] = None
    row = mg.from_fhir(pre)
    assert row["diagnoses"] == "G70.00" and row["serum_mg"] == 0.8
    assert mg.from_fhir([f.patient(), f.egfr(50)])["egfr"] == 50


@pytest.mark.parametrize(
    "data",
    [42, "Patient", {"id": "x"}, {"resourceType": "Bundle", "entry": "x"}, [f.patient("a"), f.patient("b")]],
)
def test_input_that_is_not_fhir_raises_fhir_error(data: object) -> None:
    with pytest.raises(mg.FhirError):
        mg.from_fhir(data)


def test_malformed_fields_are_notes_not_exceptions() -> None:
    weird: list[dict[str, Any]] = [
        {"resourceType": "Observation", "status": "final", "code": "19123-9", "valueQuantity": 3},
        {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": f.LOINC, "code": "2601-3"}]},
         "valueQuantity": {"value": "0.8", "system": f.UCUM, "code": "mmol/L"}},
        {"resourceType": "Condition", "code": {"coding": "G70"}, "clinicalStatus": 5},
        {"resourceType": "MedicationStatement", "status": "active",
         "medicationReference": {"reference": "Medication/x"}},
        {"resourceType": "Patient", "birthDate": 1970, "gender": 3},
    ]
    row = mg.from_fhir(f.bundle(*weird))
    mg.assess(row)  # never raises
    assert FhirNote.NO_VALUE in _codes(row)
    assert "unresolved medication reference (Medication/x)" in row["medications"]
