"""Read FHIR R4 resources (plain JSON dicts) into one patient row for :func:`mgdecision.assess`.

    row = mg.from_fhir(bundle)          # a dict of row fields, e.g. {"date_of_birth": ..., "serum_mg": 0.62, ...}
    mg.assess(row)                      # the same assessment every front-end gives
    row.notes                           # what the reader did not use, and why (never dropped silently)

Pure: dict in, row out. No web or FHIR library is needed; every field is checked before it is used, so a
malformed resource becomes a note, not an exception. What is read (clinical-rules.md section 1 fields):

- ``Patient``: ``birthDate`` (a full date; a partial one is not used) and ``gender``.
- ``Observation`` with LOINC 19123-9 / 2601-3 (serum magnesium), 33914-3, 48642-3, 48643-1, 62238-1,
  98979-8 (eGFR), 82810-3 / 11449-6 (pregnancy status): the newest value with status final, amended or
  corrected. A serum value is used only with a UCUM unit (``valueQuantity.system`` = UCUM and ``code``);
  without one the number is passed on with no unit, so the core reports ``unit_missing``, exactly as for a row.
  An unknown UCUM unit is passed on as written, so the core reports ``unit_unknown``.
- ``Condition``: active ones (clinicalStatus active, recurrence or relapse) by their ICD-10(-CM) code, else by
  their text or a coding's display, else as "unnamed condition (system code)" so the core lists it as unrecognised.
- ``MedicationStatement`` / ``MedicationRequest`` (current statuses, drafts included) with a
  ``medicationCodeableConcept`` or a resolvable ``medicationReference``: named by the text or an RxNorm (or any)
  coding's display that the knowledge base recognises, strengths and dose forms cut off.

Everything else (other statuses, entered-in-error, resources of another patient, resource types that are not
read) is listed in ``row.notes`` as :class:`~mgdecision.models.Problem` records with a ``fhir_*`` code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .errors import FhirError
from .models import Problem
from .terms import TermList, parse_list

__all__ = ["FhirNote", "FhirOrder", "FhirRow", "from_fhir"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

SERUM_MG_LOINC = {"19123-9": "mass", "2601-3": "moles"}
EGFR_LOINC = ("33914-3", "48642-3", "48643-1", "62238-1", "98979-8")
PREGNANCY_LOINC = ("82810-3", "11449-6")
_PREGNANT = {
    (SNOMED, "77386006"): True,
    (SNOMED, "60001007"): False,
    (LOINC, "LA15173-0"): True,
    (LOINC, "LA26683-5"): False,
}
_EGFR_UNITS = frozenset({"mL/min/{1.73_m2}", "mL/min/1.73m2", "mL/min/1.73.m2", "mL/min", "mL/min/{1.73m2}"})
_UNIT_KIND = {"mg/dL": "mass", "mmol/L": "moles", "meq/L": "moles", "mEq/L": "moles"}
_FINAL = frozenset({"final", "amended", "corrected"})
_ACTIVE_CONDITION = frozenset({"active", "recurrence", "relapse"})
_CURRENT_MEDICATION = {
    "MedicationStatement": frozenset({"active", "intended", "on-hold", "unknown"}),
    "MedicationRequest": frozenset({"active", "draft", "on-hold", "unknown"}),
}
_SEPARATORS = re.compile(r"[;,|\n\r\t]+")  # the core's list separators, kept out of one item ("/" handled apart)
_STRENGTH = re.compile(r"\s(?=[\d.]|\[|\()")  # a name ends where a strength, a bracket or a dose form begins
_RELEASE = re.compile(r"^\d+\s*hr\s+", re.I)  # RxNorm '24 HR metoprolol succinate ...'
_UNIT_WORD = re.compile(r"(mg|ml|mcg|g|l|hr|h|actuat|unt|meq|mmol|day)\b", re.I)
_IV = re.compile(r"\b(iv|i\.v\.|intravenous|injection|injectable|infusion|parenteral|intramuscular|im)\b", re.I)
_IV_ROUTES = frozenset({"47625008", "78421000", "255560000"})  # SNOMED intravenous, intramuscular, intravenous use


class FhirNote(StrEnum):
    """Why a FHIR resource, or part of one, was not used. Stable codes of :attr:`FhirRow.notes`."""

    NOT_FINAL = "fhir_not_final"
    ENTERED_IN_ERROR = "fhir_entered_in_error"
    NOT_ACTIVE = "fhir_not_active"
    NO_VALUE = "fhir_no_value"
    UNIT_NOT_UCUM = "fhir_unit_not_ucum"
    UNIT_MISMATCH = "fhir_unit_mismatch"
    OLDER_VALUE = "fhir_older_value"
    UNDATED = "fhir_undated"
    PARTIAL_DATE = "fhir_partial_date"
    UNMAPPED = "fhir_unmapped_coding"
    OTHER_PATIENT = "fhir_other_patient"
    INVALID = "fhir_invalid_resource"
    NOT_READ = "fhir_not_read"
    NO_PATIENT = "fhir_no_patient"
    STATUS_MISSING = "fhir_status_missing"
    DOSE_NOT_READ = "fhir_dose_not_read"
    PREFETCH_MISSING = "fhir_prefetch_missing"


# Notes that mean patient data relevant to the decision was not used (the rest only say what was left aside).
ATTENTION = frozenset(
    {
        FhirNote.NOT_FINAL,
        FhirNote.ENTERED_IN_ERROR,
        FhirNote.NO_VALUE,
        FhirNote.UNIT_NOT_UCUM,
        FhirNote.UNIT_MISMATCH,
        FhirNote.UNDATED,
        FhirNote.PARTIAL_DATE,
        FhirNote.UNMAPPED,
        FhirNote.OTHER_PATIENT,
        FhirNote.INVALID,
        FhirNote.NO_PATIENT,
        FhirNote.STATUS_MISSING,
        FhirNote.PREFETCH_MISSING,
    }
)


@dataclass(frozen=True, slots=True)
class FhirOrder:
    """A draft or current medication order read from a MedicationRequest (for order hooks)."""

    reference: str  # "MedicationRequest/<id>" ('' when the resource has no id)
    text: str  # the medication as passed to the core
    status: str
    magnesium: bool  # the order is a magnesium product


class FhirRow(dict[str, Any]):
    """The patient row read from FHIR (a plain ``dict`` of row fields), with what was not used.

    ``notes``: one :class:`~mgdecision.models.Problem` per thing not used, with a :class:`FhirNote` code.
    ``orders``: every MedicationRequest read, with its reference (draft orders included).
    """

    notes: list[Problem]
    orders: list[FhirOrder]

    def __init__(self) -> None:
        super().__init__()
        self.notes = []
        self.orders = []


# ---------------------------------------------------------------- defensive accessors


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _codings(concept: Any) -> list[dict[str, Any]]:
    return [c for c in _list(_dict(concept).get("coding")) if isinstance(c, dict)]


def _has_code(concept: Any, system: str, codes: Iterable[str]) -> str | None:
    wanted = set(codes)
    for c in _codings(concept):
        if _str(c.get("system")) == system and _str(c.get("code")) in wanted:
            return _str(c.get("code"))
    return None


def _status_code(concept: Any) -> str:
    """The code of a CodeableConcept status (Condition.clinicalStatus) or ''."""
    for c in _codings(concept):
        if code := _str(c.get("code")):
            return code
    return ""


def _ref(resource: Mapping[str, Any]) -> str:
    rid = _str(resource.get("id"))
    return f"{resource.get('resourceType')}/{rid}" if rid else str(resource.get("resourceType"))


def _when(resource: Mapping[str, Any]) -> datetime | None:
    """The clinically relevant time of an observation (effective, else issued), timezone-aware, or None."""
    period = _dict(resource.get("effectivePeriod"))
    for text in (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("end"),
        period.get("start"),
        resource.get("issued"),
    ):
        if isinstance(text, str) and text:
            try:
                moment = datetime.fromisoformat({4: text + "-01-01", 7: text + "-01"}.get(len(text), text))
            except ValueError:
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _clean(text: str) -> str:
    """One list item for the core: its separators turned into spaces."""
    return " ".join(_SEPARATORS.sub(" ", text).split())


def _drug_names(text: str) -> list[str]:
    """Ingredient names from a medication text: 'dolutegravir 50 MG / lamivudine 300 MG Oral Tablet' -> 2 names."""
    names = []
    for part in map(str.strip, _RELEASE.sub("", text.strip()).split("/")):
        if not part[:1].isalpha() or _UNIT_WORD.match(part):  # '300 MG', 'ML Injectable Solution': a strength
            continue
        name = _clean(_STRENGTH.split(" " + part, maxsplit=1)[0])
        if name:
            names.append(name)
    return names or ([_clean(text)] if _clean(text) else [])


@lru_cache(maxsize=4096)
def _medication_terms(text: str) -> TermList:
    """The core's reading of a medication list text (memoised: the same names recur across requests)."""
    return parse_list("medications", text)


def _recognised(names: list[str]) -> bool:
    terms = _medication_terms("; ".join(names))
    return bool(terms.concepts) and not terms.unrecognized


# ---------------------------------------------------------------- the reader


class _Reader:
    def __init__(self, patient_id: str | None, as_of: date | None) -> None:
        self.row = FhirRow()
        self.patient_id = patient_id or None
        self.as_of = as_of
        self.note = self.row.notes.append
        self.resources: list[dict[str, Any]] = []
        self.not_read: Counter[str] = Counter()

    def add(self, field: str, resource: Mapping[str, Any] | str, code: FhirNote, message: str) -> None:
        value = resource if isinstance(resource, str) else _ref(resource)
        self.note(Problem(field, value, code, message))

    # --- collecting resources
    def collect(self, data: Any, where: str) -> None:
        if data is None:
            return
        if isinstance(data, list):
            for i, item in enumerate(data):
                self.collect(item, f"{where}[{i}]")
            return
        if not isinstance(data, dict):
            raise FhirError(f"{where}: expected a FHIR resource (a JSON object), got {type(data).__name__}")
        kind = data.get("resourceType")
        if kind is None:
            raise FhirError(f"{where}: not a FHIR resource (no resourceType)")
        if not isinstance(kind, str):
            raise FhirError(f"{where}: resourceType must be a string")
        if kind == "Bundle":
            entries = data.get("entry", [])
            if not isinstance(entries, list):
                raise FhirError(f"{where}: Bundle.entry must be a list")
            for i, entry in enumerate(entries):
                resource = _dict(entry).get("resource") if isinstance(entry, dict) else None
                if resource is None:
                    self.add("bundle", f"{where}.entry[{i}]", FhirNote.INVALID, "bundle entry without a resource")
                    continue
                self.collect(resource, f"{where}.entry[{i}].resource")
            return
        self.resources.append(data)

    # --- patient
    def choose_patient(self) -> dict[str, Any] | None:
        patients = [r for r in self.resources if r.get("resourceType") == "Patient"]
        ids = {_str(p.get("id")) for p in patients}
        if self.patient_id is None:
            if len(ids) > 1:
                raise FhirError(f"the input holds {len(ids)} different Patient resources; say which patient is meant")
            if patients:
                self.patient_id = _str(patients[0].get("id")) or None
        chosen = None
        for p in patients:
            if self.patient_id is None or _str(p.get("id")) == self.patient_id:
                chosen = chosen or p
            else:
                self.add(
                    "patient", "Patient", FhirNote.OTHER_PATIENT, "a Patient resource of another patient; not used"
                )
        return chosen

    def patient(self, p: dict[str, Any] | None) -> None:
        row = self.row
        if p is None:
            self.add("patient", "Patient", FhirNote.NO_PATIENT, "no Patient resource: age and sex not read")
            return
        if self.patient_id:
            row["patient_id"] = self.patient_id
        born = p.get("birthDate")
        if isinstance(born, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", born):
            row["date_of_birth"] = born
            if self.as_of is not None:
                row["assessment_date"] = self.as_of.isoformat()
        elif born is not None:
            self.add(
                "age",
                "Patient.birthDate",
                FhirNote.PARTIAL_DATE,
                f"birthDate '{born}' is not a full date (YYYY-MM-DD); age not used",
            )
        else:
            self.add("age", "Patient.birthDate", FhirNote.NO_VALUE, "the Patient has no birthDate; age not known")
        gender = p.get("gender")
        if isinstance(gender, str) and gender:
            row["sex"] = gender  # male/female read by the core; 'other' is reported there, 'unknown' is not known
        elif gender is not None:
            self.add("sex", "Patient.gender", FhirNote.INVALID, "Patient.gender is not a code; sex not known")

    def mine(self, resource: Mapping[str, Any], field: str) -> bool:
        """False (with a note) when the resource names another patient as its subject."""
        for key in ("subject", "patient"):
            ref = _str(_dict(resource.get(key)).get("reference"))
            if ref.startswith("Patient/") or "/Patient/" in ref:
                other = ref.rsplit("/", 1)[-1]
                if self.patient_id is not None and other != self.patient_id:
                    self.add(field, resource, FhirNote.OTHER_PATIENT, "belongs to another patient; not used")
                    return False
        return True

    # --- observations
    def newest(self, field: str, label: str, found: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The newest final observation with a value; every other one is noted."""
        usable: list[dict[str, Any]] = []
        for obs in found:
            status = _str(obs.get("status"))
            if status == "entered-in-error":
                self.add(field, obs, FhirNote.ENTERED_IN_ERROR, f"{label} marked entered-in-error; not used")
            elif status not in _FINAL:
                self.add(
                    field, obs, FhirNote.NOT_FINAL, f"{label} has status '{status or 'none'}', not final; not used"
                )
            elif not any(k.startswith("value") for k in obs):
                reason = _status_code(obs.get("dataAbsentReason")) or "no value"
                self.add(field, obs, FhirNote.NO_VALUE, f"{label} has no value ({reason}); not used")
            else:
                usable.append(obs)
        if not usable:
            return None
        dated = [(t, o) for o in usable if (t := _when(o)) is not None]
        undated = [o for o in usable if _when(o) is None]
        if undated and (dated or len(undated) > 1):
            for o in undated:
                self.add(field, o, FhirNote.UNDATED, f"{label} has no date, so it cannot be placed; not used")
        if not dated:
            return undated[0] if len(undated) == 1 else None
        dated.sort(key=lambda x: x[0], reverse=True)
        chosen_time, chosen = dated[0]
        if len(dated) > 1:
            self.add(
                field,
                f"{len(dated) - 1} older",
                FhirNote.OLDER_VALUE,
                f"{len(dated) - 1} older {label} value(s) not used; the newest, of {chosen_time.date()}, is used",
            )
        return chosen

    def serum(self, found: list[dict[str, Any]]) -> None:
        obs = self.newest("serum_mg", "serum magnesium", found)
        if obs is None:
            return
        row = self.row
        quantity = obs.get("valueQuantity")
        if quantity is None:
            text = obs.get("valueString")
            if isinstance(text, str) and text.strip():
                row["serum_mg"] = text.strip()  # the core reads the number and any unit written in it
            else:
                kinds = ", ".join(k for k in obs if k.startswith("value"))
                self.add("serum_mg", obs, FhirNote.INVALID, f"serum magnesium given as {kinds}; not used")
            return
        value, unit = self.quantity("serum_mg", obs, quantity)
        if value is None:
            return
        row["serum_mg"] = value
        if unit:
            row["serum_mg_unit"] = unit
            loinc = _has_code(obs.get("code"), LOINC, SERUM_MG_LOINC) or ""
            expected, kind = SERUM_MG_LOINC.get(loinc), _UNIT_KIND.get(unit)
            if expected and kind and kind != expected:
                self.add(
                    "serum_mg",
                    obs,
                    FhirNote.UNIT_MISMATCH,
                    f"LOINC {loinc} is a {expected} measure but the unit is {unit}; the unit given is used, "
                    "check the result",
                )
        for bound, key in (("low", "ref_low"), ("high", "ref_high")):
            ranges = [r for r in _list(obs.get("referenceRange")) if isinstance(r, dict)]
            limit = _dict(ranges[0].get(bound)) if ranges else {}
            if limit:
                number, limit_unit = self.quantity(key, obs, limit, what=f"reference range {bound}")
                if number is not None and limit_unit:
                    row[key] = f"{number} {limit_unit}"

    def quantity(self, field: str, obs: Mapping[str, Any], quantity: Any, what: str = "value") -> tuple[Any, str]:
        """(value as the core reads it, UCUM unit or ''); (None, '') with a note when there is no number."""
        q = _dict(quantity)
        number = q.get("value")
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            self.add(field, obs, FhirNote.NO_VALUE, f"{what} has no number; not used")
            return None, ""
        comparator = q.get("comparator") if q.get("comparator") in ("<", "<=", ">", ">=") else ""
        value: Any = f"{comparator}{number:g}" if comparator else number
        system, code, text = _str(q.get("system")), _str(q.get("code")), _str(q.get("unit"))
        if system == UCUM and code:
            return value, code
        if code or text:
            self.add(
                field,
                obs,
                FhirNote.UNIT_NOT_UCUM,
                f"{what} unit '{code or text}' is not a UCUM code (system {system or 'missing'}); "
                "read as a number without a unit",
            )
        return value, ""

    def egfr(self, found: list[dict[str, Any]]) -> None:
        obs = self.newest("egfr", "eGFR", found)
        if obs is None:
            return
        if "valueQuantity" not in obs:
            self.add("egfr", obs, FhirNote.INVALID, "eGFR not given as a valueQuantity; not used")
            return
        value, unit = self.quantity("egfr", obs, obs["valueQuantity"])
        if value is None:
            return
        self.row["egfr"] = value if not unit or unit in _EGFR_UNITS else f"{value} {unit}"

    def pregnancy(self, found: list[dict[str, Any]]) -> None:
        obs = self.newest("pregnant", "pregnancy status", found)
        if obs is None:
            return
        for c in _codings(obs.get("valueCodeableConcept")):
            answer = _PREGNANT.get((_str(c.get("system")), _str(c.get("code"))))
            if answer is not None:
                self.row["pregnant"] = "yes" if answer else "no"
                return
        shown = _str(_dict(obs.get("valueCodeableConcept")).get("text")) or ", ".join(
            f"{_str(c.get('code'))} {_str(c.get('display'))}".strip() for c in _codings(obs.get("valueCodeableConcept"))
        )
        self.add(
            "pregnant",
            obs,
            FhirNote.UNMAPPED,
            f"pregnancy status '{shown or 'no answer'}' not understood; pregnancy not known",
        )

    # --- conditions
    def condition(self, c: dict[str, Any], items: list[str]) -> None:
        verification = _status_code(c.get("verificationStatus"))
        if verification == "entered-in-error":
            self.add("diagnoses", c, FhirNote.ENTERED_IN_ERROR, "condition marked entered-in-error; not used")
            return
        if verification == "refuted":
            self.add("diagnoses", c, FhirNote.NOT_ACTIVE, "condition refuted; not counted")
            return
        clinical = _status_code(c.get("clinicalStatus"))
        name = self.condition_name(c)
        if clinical and clinical not in _ACTIVE_CONDITION:
            self.add("diagnoses", c, FhirNote.NOT_ACTIVE, f"condition '{name}' is {clinical}; not counted")
            return
        if not clinical:
            self.add(
                "diagnoses",
                c,
                FhirNote.STATUS_MISSING,
                f"condition '{name}' has no clinicalStatus; counted as active (the safer reading)",
            )
        items.append(name)

    @staticmethod
    def condition_name(c: Mapping[str, Any]) -> str:
        code = c.get("code")
        for system in ICD10:
            for coding in _codings(code):
                if _str(coding.get("system")) == system and _str(coding.get("code")):
                    return _clean(_str(coding.get("code")))
        text = _str(_dict(code).get("text")) or next(
            (_str(x.get("display")) for x in _codings(code) if _str(x.get("display"))), ""
        )
        if text:
            return _clean(text)
        coded = next((f"{_str(x.get('system'))} {_str(x.get('code'))}".strip() for x in _codings(code)), "")
        return _clean(f"unnamed condition ({coded or 'no code'})")

    # --- medications
    def medication_concept(
        self, resource: Mapping[str, Any], contained: Mapping[str, dict[str, Any]], by_ref: Mapping[str, dict[str, Any]]
    ) -> Any:
        if "medicationCodeableConcept" in resource:
            return resource["medicationCodeableConcept"]
        ref = _str(_dict(resource.get("medicationReference")).get("reference"))
        if ref.startswith("#"):
            target = contained.get(ref[1:])
        else:
            target = by_ref.get(ref) or by_ref.get(ref.split("/_history")[0])
        if target is None:
            return None
        return target.get("code")

    @staticmethod
    def medication_names(concept: Any) -> list[str]:
        """Ingredient names that the knowledge base recognises, else the first name written, else a placeholder."""
        texts = [_str(_dict(concept).get("text"))]
        codings = sorted(_codings(concept), key=lambda c: _str(c.get("system")) != RXNORM)
        texts += [_str(c.get("display")) for c in codings]
        candidates = [_drug_names(t) for t in texts if t]
        for names in candidates:
            if names and _recognised(names):
                return names
        if candidates and candidates[0]:
            return candidates[0]
        coded = next(
            (
                f"{'RxNorm' if _str(c.get('system')) == RXNORM else _str(c.get('system'))} "
                f"{_str(c.get('code'))}".strip()
                for c in codings
            ),
            "",
        )
        return [_clean(f"unnamed medication ({coded or 'no code'})")]

    def medication(self, m: dict[str, Any], items: list[str], by_ref: Mapping[str, dict[str, Any]]) -> None:
        kind = str(m.get("resourceType"))
        status = _str(m.get("status"))
        contained = {_str(x.get("id")): x for x in _list(m.get("contained")) if isinstance(x, dict)}
        concept = self.medication_concept(m, contained, by_ref)
        if concept is None:
            ref = _str(_dict(m.get("medicationReference")).get("reference"))
            names = [_clean(f"unresolved medication reference ({ref or 'none'})")]
        else:
            names = self.medication_names(concept)
        shown = " + ".join(names)
        if status == "entered-in-error":
            self.add("medications", m, FhirNote.ENTERED_IN_ERROR, f"{shown}: marked entered-in-error; not used")
            return
        if status not in _CURRENT_MEDICATION[kind]:
            self.add("medications", m, FhirNote.NOT_ACTIVE, f"{shown}: status '{status or 'none'}'; not counted")
            return
        if status == "unknown":
            self.add("medications", m, FhirNote.STATUS_MISSING, f"{shown}: status unknown; counted as current")
        items.extend(names)
        terms = _medication_terms("; ".join(names))
        magnesium = any(concept_.drug_class == "magnesium" for concept_, _, _ in terms.concepts)
        if magnesium and self.is_iv(m, concept):
            self.row["route"] = "iv"
        if kind == "MedicationRequest":
            self.row.orders.append(FhirOrder(_ref(m) if m.get("id") else "", "; ".join(names), status, magnesium))
            if magnesium and m.get("dosageInstruction"):
                self.add(
                    "supplement_dose_mg",
                    m,
                    FhirNote.DOSE_NOT_READ,
                    f"{shown}: the ordered dose is not read; compare it with the dose range",
                )

    @staticmethod
    def is_iv(m: Mapping[str, Any], concept: Any) -> bool:
        for dosage in _list(m.get("dosageInstruction")) + _list(m.get("dosage")):
            route = _dict(_dict(dosage).get("route"))
            if any(_str(c.get("code")) in _IV_ROUTES for c in _codings(route)):
                return True
            words = " ".join([_str(route.get("text"))] + [_str(c.get("display")) for c in _codings(route)])
            if _IV.search(words):
                return True
        names = " ".join([_str(_dict(concept).get("text"))] + [_str(c.get("display")) for c in _codings(concept)])
        return bool(_IV.search(names))

    # --- everything
    def read(self) -> FhirRow:
        patient = self.choose_patient()
        self.patient(patient)
        by_ref = {_ref(r): r for r in self.resources if r.get("id")}
        serum: list[dict[str, Any]] = []
        egfr: list[dict[str, Any]] = []
        pregnancy: list[dict[str, Any]] = []
        diagnoses: list[str] = []
        medications: list[str] = []
        for r in self.resources:
            kind = r.get("resourceType")
            try:
                if kind in ("Patient", "Medication"):
                    continue
                if kind == "Observation":
                    code = r.get("code")
                    if _has_code(code, LOINC, SERUM_MG_LOINC):
                        bucket, field = serum, "serum_mg"
                    elif _has_code(code, LOINC, EGFR_LOINC):
                        bucket, field = egfr, "egfr"
                    elif _has_code(code, LOINC, PREGNANCY_LOINC):
                        bucket, field = pregnancy, "pregnant"
                    else:
                        self.not_read["Observation (other codes)"] += 1
                        continue
                    if self.mine(r, field):
                        bucket.append(r)
                elif kind == "Condition":
                    if self.mine(r, "diagnoses"):
                        self.condition(r, diagnoses)
                elif kind in _CURRENT_MEDICATION:
                    if self.mine(r, "medications"):
                        self.medication(r, medications, by_ref)
                else:
                    self.not_read[str(kind)] += 1
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self.add("bundle", r, FhirNote.INVALID, f"malformed {kind} ({type(exc).__name__}); not used")
        self.serum(serum)
        self.egfr(egfr)
        self.pregnancy(pregnancy)
        if diagnoses:
            self.row["diagnoses"] = "; ".join(dict.fromkeys(diagnoses))
        if medications:
            self.row["medications"] = "; ".join(dict.fromkeys(medications))
        if self.not_read:
            listed = ", ".join(f"{n} {kind}" for kind, n in sorted(self.not_read.items()))
            self.add("bundle", "not read", FhirNote.NOT_READ, f"not relevant to magnesium, not read: {listed}")
        return self.row


def _resources(data: Any) -> Iterator[tuple[str, Any]]:
    """(where, value) for each top-level input: a resource, a list, or a CDS Hooks prefetch mapping."""
    if isinstance(data, Mapping) and "resourceType" not in data:
        for key, value in data.items():
            yield f"prefetch.{key}", value
    else:
        yield "input", data


def from_fhir(data: Any, *, patient_id: str | None = None, as_of: date | None = None) -> FhirRow:
    """Read FHIR R4 JSON into one patient row for :func:`mgdecision.assess`.

    ``data`` is a resource, a Bundle, a list of them, or a CDS Hooks ``prefetch`` mapping (key -> resource,
    Bundle or null). ``patient_id`` picks the patient when the input holds several (resources of any other
    patient are noted and not used). ``as_of`` is the assessment date (default: the day it is assessed).
    Raises :class:`~mgdecision.errors.FhirError` only when the input is not FHIR at all; everything else that
    cannot be used is listed in ``row.notes``.
    """
    reader = _Reader(patient_id, as_of)
    try:
        for where, value in _resources(data):
            reader.collect(value, where)
    except RecursionError:
        raise FhirError("Bundles nested too deeply") from None
    return reader.read()
