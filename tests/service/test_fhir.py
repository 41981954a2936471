"""``mg.from_fhir``: plain FHIR JSON in, one patient row out, and nothing unusable dropped silently."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import mgdecision as mg
from mgdecision.fhir import FhirNote
from mgdecision.terminology import SNOMED, Coding

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
                         "serum_mg_date": "2026-11-01", "egfr_date": "2026-11-01",
                         "diagnoses": [Coding(f.ICD10CM, "G70.00", "")],
                         "medications": [Coding(f.RXNORM, "0", "doxycycline hyclate 100 MG Oral Capsule")]}
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
    obs = f.serum(0.7, "mmol/L", system="http://snomed.info/sct")
    obs["valueQuantity"] = {"value": 0.7, "system": "http://snomed.info/sct", "code": "258813002"}  # a code, no text
    row = mg.from_fhir(f.bundle(f.patient(), obs))
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
    assert [getattr(d, "code", d) for d in row["diagnoses"]] == ["G70.00", "Crohn's disease, small intestine", "F10.20"]
    assert mg.assess(row).problems == ()  # the text is one item: its comma does not split it
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
    a = mg.assess(row)
    found = {c.id for c, _, _ in a.patient.medications.concepts}
    assert found == {"omeprazole", "furosemide", "dolutegravir", "lamivudine", "doxycycline"}
    assert FhirNote.NOT_ACTIVE in _codes(row)
    assert a.problems == ()  # a valid RxNorm code outside the knowledge is not relevant, not a problem
    assert a.patient.medications.not_relevant == ("RxNorm 999999",)


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
    assert row["diagnoses"] == [Coding(f.ICD10CM, "G70.00", "")] and row["serum_mg"] == 0.8
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


def _snomed_condition(code: str, display: str | None) -> dict[str, Any]:
    c = f.condition(None)
    c["code"] = {"coding": [{"system": SNOMED, "code": code, **({"display": display} if display else {})}]}
    return c


def test_coded_only_records_give_the_same_answer_as_displays() -> None:
    """Synthea-style codes, displays removed: the same contraindication, risk and interactions."""
    def record(displays: bool) -> dict[str, Any]:
        meds = [("316672", "Simvistatin 10 MG"), ("1719286", "10 ML Furosemide 10 MG/ML Injection"),
                ("1650142", "Doxycycline Monohydrate 100 MG Oral Tablet"), ("102221", "Magnesium Sulfate 400 MG/ML")]
        return f.bundle(f.patient(), f.serum(0.8), f.egfr(85),
                        _snomed_condition("91637004", "Myasthenia gravis" if displays else None),
                        _snomed_condition("444814009", "Viral sinusitis (disorder)" if displays else None),
                        *(f.medication(d if displays else "", rxcui=c) for c, d in meds))
    coded, shown = mg.assess(mg.from_fhir(record(False))), mg.assess(mg.from_fhir(record(True)))
    assert coded.contraindication.level == shown.contraindication.level == mg.ContraLevel.CONTRAINDICATED
    assert coded.risk.level == shown.risk.level and coded.risk.points == shown.risk.points
    assert [i.drug for i in coded.interactions] == [i.drug for i in shown.interactions] != []
    assert coded.problems == shown.problems == ()


def test_egfr_in_a_component_new_loincs_and_units_without_ucum() -> None:
    panel = f.observation("24362-6", None)  # a renal panel holding the eGFR as a component
    panel["component"] = [{"code": {"coding": [{"system": f.LOINC, "code": "98979-8"}]},
                           "valueQuantity": {"value": 24.6, "unit": "mL/min/{1.73_m2}", "system": f.UCUM,
                                             "code": "mL/min/{1.73_m2}"}}]
    row = mg.from_fhir(f.bundle(f.patient(), panel), as_of=AS_OF)
    assert row["egfr"] == 24.6
    for code in ("88293-6", "88294-4", "69405-9", "50044-7", "77147-7", "98980-6", "50210-4"):
        assert mg.from_fhir(f.bundle(f.patient(), f.observation(code, 44, "mL/min/1.73m2")))["egfr"] == 44
    row = mg.from_fhir(f.bundle(f.patient(), f.serum(1.2, "mg/dL", system=None)))  # unit text, no UCUM system
    assert row["serum_mg_unit"] == "mg/dL" and FhirNote.UNIT_NOT_UCUM in _codes(row)
    assert mg.assess(row).risk.level == mg.RiskLevel.HIGH
    row = mg.from_fhir(f.bundle(f.patient(), f.serum(1.2, "mg per decilitre", system=None)))
    assert [p.code for p in mg.assess(row).problems] == [mg.ProblemCode.UNIT_UNKNOWN]  # never guessed


def test_whole_blood_magnesium_is_reported_not_used_as_serum() -> None:
    row = mg.from_fhir(f.bundle(f.patient(), f.observation("21377-7", 1.1, "mg/dL")))
    assert "serum_mg" not in row and row.whole_blood == (1.1, "mg/dL", "2026-11-01")
    assert FhirNote.WHOLE_BLOOD in _codes(row) and FhirNote.NOT_READ not in _codes(row)


def test_medication_reference_display_and_us_core_sex() -> None:
    m = f.medication("x")
    del m["medicationCodeableConcept"]
    m["medicationReference"] = {"reference": "Medication/elsewhere", "display": "Furosemide 40 MG Oral Tablet"}
    pat = f.patient()
    del pat["gender"]
    pat["extension"] = [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"}]
    row = mg.from_fhir(f.bundle(pat, m))
    assert row["medications"] == ["Furosemide 40 MG Oral Tablet"] and row["sex"] == "female"
    assert {c.id for c, _, _ in mg.assess(row).patient.medications.concepts} == {"furosemide"}


def test_a_failed_prefetch_query_is_noted_by_key_without_its_diagnostics() -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.8)])
    pre["conditions"] = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout", "diagnostics": f"Condition?patient={f.PATIENT_ID} timed out"}]}
    row = mg.from_fhir(pre, patient_id=f.PATIENT_ID)
    assert row.failed == ["conditions"]
    note = next(n for n in row.notes if n.code == FhirNote.PREFETCH_FAILED)
    assert "timeout" in note.message and f.PATIENT_ID not in note.message


def test_a_malformed_birth_date_is_not_repeated() -> None:
    row = mg.from_fhir(f.bundle(f.patient(birth="1970-13")))
    assert all("1970-13" not in n.message for n in row.notes)


def test_result_dates_reach_the_core_so_an_old_serum_is_repeated() -> None:
    """The serum and eGFR dates go with their values: a serum of 2019 is not used as current (section 9.8)."""
    old = f.prefetch(serum_obs=[f.serum(0.6, when="2019-03-01T09:00:00Z")],
                     egfr_obs=[f.egfr(80, when="2026-10-01T09:00:00Z")])
    row = mg.from_fhir(old, as_of=date(2026, 12, 7))
    assert (row["serum_mg_date"], row["egfr_date"], row["assessment_date"]) == ("2019-03-01", "2026-10-01",
                                                                                 "2026-12-07")
    assert mg.assess(row).dose.status == mg.DoseStatus.CHECK_SERUM
    recent = f.prefetch(serum_obs=[f.serum(0.6, when="2026-11-20T09:00:00Z")], egfr_obs=[f.egfr(80)])
    assert mg.assess(mg.from_fhir(recent, as_of=date(2026, 12, 7))).dose.status == mg.DoseStatus.RECOMMENDED
