"""Small FHIR R4 builders for the service and reader tests (plain JSON dicts)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT_ID = "pat-4711"
PATIENT_NAME = "Testpatient"


def patient(pid: str = PATIENT_ID, birth: str = "1970-05-01", gender: str = "female") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender,
            "name": [{"family": PATIENT_NAME, "given": ["Jane"]}]}


def _subject(pid: str) -> dict[str, str]:
    return {"reference": f"Patient/{pid}"}


def observation(loinc: str, value: float | None, unit: str | None = None, *, system: str | None = UCUM,
                status: str = "final", when: str = "2026-11-01T09:00:00Z", pid: str = PATIENT_ID,
                oid: str | None = None, comparator: str | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = {"resourceType": "Observation", "id": oid or uuid.uuid4().hex[:10], "status": status,
                           "code": {"coding": [{"system": LOINC, "code": loinc}]}, "subject": _subject(pid),
                           "effectiveDateTime": when}
    if value is not None:
        q: dict[str, Any] = {"value": value}
        if unit is not None:
            q["unit"] = unit
            if system is not None:
                q["system"], q["code"] = system, unit
        if comparator:
            q["comparator"] = comparator
        obs["valueQuantity"] = q
    return obs


def serum(value: float, unit: str | None = "mmol/L", **kw: Any) -> dict[str, Any]:
    return observation("2601-3" if unit in ("mmol/L", "meq/L") else "19123-9", value, unit, **kw)


def egfr(value: float, **kw: Any) -> dict[str, Any]:
    return observation("33914-3", value, "mL/min/{1.73_m2}", **kw)


def condition(icd: str | None = None, text: str | None = None, *, status: str | None = "active",
              verification: str | None = None, pid: str = PATIENT_ID) -> dict[str, Any]:
    code: dict[str, Any] = {}
    if icd:
        code["coding"] = [{"system": ICD10CM, "code": icd}]
    if text:
        code["text"] = text
    c: dict[str, Any] = {"resourceType": "Condition", "id": uuid.uuid4().hex[:10], "code": code,
                         "subject": _subject(pid)}
    if status:
        c["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": status}]}
    if verification:
        c["verificationStatus"] = {"coding": [{"code": verification}]}
    return c


def medication(display: str, *, kind: str = "MedicationStatement", status: str = "active", rxcui: str = "0",
               mid: str | None = None, pid: str = PATIENT_ID, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": RXNORM, "code": rxcui, "display": display}]}
    if text:
        concept["text"] = text
    m: dict[str, Any] = {"resourceType": kind, "id": mid or uuid.uuid4().hex[:10], "status": status,
                         "medicationCodeableConcept": concept, "subject": _subject(pid)}
    if kind == "MedicationRequest":
        m["intent"] = "order"
    return m


def order(display: str, mid: str = "draft-1", **kw: Any) -> dict[str, Any]:
    return medication(display, kind="MedicationRequest", status="draft", mid=mid, **kw)


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def request(hook: str, prefetch: dict[str, Any] | None, *, drafts: list[dict[str, Any]] | None = None,
            pid: str = PATIENT_ID) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": pid}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = bundle(*(drafts or []))
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts or []]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context,
                            "fhirServer": "https://ehr.invalid/fhir"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def prefetch(*, pat: dict[str, Any] | None = None, serum_obs: Sequence[dict[str, Any]] = (),
             egfr_obs: Sequence[dict[str, Any]] = (), conditions: Sequence[dict[str, Any]] = (),
             statements: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A prefetch as an EHR sends it: one resource or a searchset Bundle per template key."""
    return {
        "patient": pat or patient(),
        "serumMagnesium": bundle(*serum_obs, kind="searchset"),
        "egfr": bundle(*egfr_obs, kind="searchset"),
        "pregnancy": bundle(kind="searchset"),
        "conditions": bundle(*conditions, kind="searchset"),
        "medicationStatements": bundle(*statements, kind="searchset"),
        "medicationRequests": bundle(kind="searchset"),
    }
