"""Read FHIR R4 resources (plain JSON dicts) into one patient row for :func:`mgdecision.assess`.

    row = mg.from_fhir(bundle)          # a dict of row fields, e.g. {"date_of_birth": ..., "serum_mg": 0.62, ...}
    mg.assess(row)                      # the same assessment every front-end gives
    row.notes                           # what the reader did not use, and why (never dropped silently)

Pure: dict in, row out. No web or FHIR library is needed; every field is checked before it is used, so a
malformed resource becomes a note, not an exception. What is read (clinical-rules.md section 1 fields):

- ``Patient``: ``birthDate`` (a full date; a partial one is not used) and ``gender``, else the US Core sex or
  birth-sex extension.
- ``Observation`` with the LOINC codes of :mod:`mgdecision.terminology` (``labs`` in knowledge/codes.toml):
  serum magnesium, eGFR (also as an ``Observation.component``, as in a panel) and pregnancy status: the newest
  value with status final, amended or corrected. A quantity's unit is its UCUM code; a unit written without
  the UCUM system is read as written, like a row's unit cell (so an unknown one is reported, never guessed);
  a number with no unit is passed on without one, so the core reports ``unit_missing``. Whole-blood magnesium
  (21377-7) is not a serum value: it is noted (``fhir_whole_blood``) and kept in ``row.whole_blood``.
- ``Condition``: active ones (clinicalStatus active, recurrence or relapse), passed to the core as coded items
  (:func:`mgdecision.terms.parse_items`): read by a code the terminology knows, else by its display, never split.
- ``MedicationStatement`` / ``MedicationRequest`` (current statuses, drafts included) with a
  ``medicationCodeableConcept``, a resolvable ``medicationReference`` (contained or in the input) or a
  reference's ``display``: passed as coded items in the same way (RxNorm codes first).
- A CDS Hooks prefetch key holding an ``OperationOutcome`` (the EHR's query failed) is noted as
  ``fhir_prefetch_failed`` and listed in ``row.failed``: its data are unknown, not absent.

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
from .terminology import ICD10, LOINC, RXNORM, SNOMED, SYSTEM_NAMES, Coding, terminology
from .terms import TermList, parse_items

__all__ = ["FhirNote", "FhirOrder", "FhirRow", "from_fhir"]

UCUM = "http://unitsofmeasure.org"
US_CORE_SEX = ("http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex",
               "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex")
_SEX_CODES = {"F": "female", "M": "male", "female": "female", "male": "male", "248152002": "female",
              "248153007": "male"}

_TERMS = terminology()
SERUM_MG_LOINC = {c.code: c.kind for c in _TERMS.labs["serum_mg"]}
EGFR_LOINC = _TERMS.lab_codes("egfr")
PREGNANCY_LOINC = _TERMS.lab_codes("pregnancy")
WHOLE_BLOOD_MG_LOINC = _TERMS.lab_codes("whole_blood_mg")
# The bucket an Observation goes to, by its LOINC code (in this order of precedence)
_LAB_ORDER = ("serum_mg", "egfr", "pregnancy", "whole_blood_mg")
_LAB_CODES = {name: frozenset(_TERMS.lab_codes(name)) for name in _LAB_ORDER}
_PREGNANT = {(SNOMED, "77386006"): True, (SNOMED, "60001007"): False, (LOINC, "LA15173-0"): True,
             (LOINC, "LA26683-5"): False}
_EGFR_UNITS = frozenset({"mL/min/{1.73_m2}", "mL/min/1.73m2", "mL/min/1.73.m2", "mL/min", "mL/min/{1.73m2}"})
_UNIT_KIND = {"mg/dL": "mass", "mmol/L": "moles", "meq/L": "moles", "mEq/L": "moles"}
_FINAL = frozenset({"final", "amended", "corrected"})
_ACTIVE_CONDITION = frozenset({"active", "recurrence", "relapse"})
_CURRENT_MEDICATION = {
    "MedicationStatement": frozenset({"active", "intended", "on-hold", "unknown"}),
    "MedicationRequest": frozenset({"active", "draft", "on-hold", "unknown"}),
}
_IV = re.compile(r"\b(iv|i\.v\.|intravenous|injection|injectable|infusion|parenteral|intramuscular|im)\b", re.I)
_IV_ROUTES = frozenset({"47625008", "78421000", "255560000"})  # SNOMED intravenous, intramuscular, intravenous use


_NESTED_KINDS = frozenset({"Bundle", "OperationOutcome"})  # resources that collect() reads further


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
    PREFETCH_FAILED = "fhir_prefetch_failed"
    WHOLE_BLOOD = "fhir_whole_blood"


# Notes that mean patient data relevant to the decision was not used (the rest only say what was left aside).
ATTENTION = frozenset({
    FhirNote.NOT_FINAL, FhirNote.ENTERED_IN_ERROR, FhirNote.NO_VALUE, FhirNote.UNIT_MISMATCH,
    FhirNote.UNDATED, FhirNote.PARTIAL_DATE, FhirNote.UNMAPPED, FhirNote.OTHER_PATIENT, FhirNote.INVALID,
    FhirNote.NO_PATIENT, FhirNote.STATUS_MISSING, FhirNote.PREFETCH_MISSING, FhirNote.PREFETCH_FAILED,
    FhirNote.WHOLE_BLOOD,
})


@dataclass(frozen=True, slots=True)
class FhirOrder:
    """A draft or current medication order read from a MedicationRequest (for order hooks)."""

    reference: str  # "MedicationRequest/<id>" ('' when the resource has no id)
    text: str  # the medication as shown
    status: str
    magnesium: bool  # the order is a magnesium product
    item: Coding | str = ""  # the medication as passed to the core (terms.parse_items)


class FhirRow(dict[str, Any]):
    """The patient row read from FHIR (a plain ``dict`` of row fields), with what was not used.

    ``notes``: one :class:`~mgdecision.models.Problem` per thing not used, with a :class:`FhirNote` code.
    ``orders``: every MedicationRequest read, with its reference (draft orders included).
    ``failed``: the prefetch keys whose query failed (an OperationOutcome instead of data).
    ``whole_blood``: the newest whole-blood magnesium as (value, unit, date), not used as a serum value.
    """

    notes: list[Problem]
    orders: list[FhirOrder]
    failed: list[str]
    whole_blood: tuple[Any, str, str] | None

    def __init__(self) -> None:
        super().__init__()
        self.notes = []
        self.orders = []
        self.failed = []
        self.whole_blood = None


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
    wanted = codes if isinstance(codes, (frozenset, dict)) else frozenset(codes)
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
    for text in (resource.get("effectiveDateTime"), resource.get("effectiveInstant"), period.get("end"),
                 period.get("start"), resource.get("issued")):
        if isinstance(text, str) and text:
            try:
                moment = datetime.fromisoformat({4: text + "-01-01", 7: text + "-01"}.get(len(text), text))
            except ValueError:
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _clean(text: str) -> str:
    """One item's text on one line."""
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _medication_terms(item: Coding | str) -> TermList:
    """The core's reading of one medication item (memoised: the same codes recur across requests)."""
    return parse_items("medications", [item])


def _coded_item(concept: Any, prefer: tuple[str, ...]) -> Coding | str | None:
    """One CodeableConcept as one item: a coding the terminology knows, else one of a preferred system, else
    any coding, else its text. The display is the concept's text or the coding's display."""
    if not isinstance(concept, dict):
        return None
    codings = []  # (system, code, display) of the codings with a code or display
    given = concept.get("coding")
    if isinstance(given, list):
        for c in given:
            if isinstance(c, dict):
                system, code, display = c.get("system"), c.get("code"), c.get("display")
                code = code.strip() if isinstance(code, str) else ""
                display = display.strip() if isinstance(display, str) else ""
                if code or display:
                    codings.append((system.strip() if isinstance(system, str) else "", code, display))
    text = concept.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if len(text) + sum(len(c[2]) for c in codings) > _MEMO_TEXT:
        return _chosen_item(tuple(codings), text, prefer)
    return _chosen_item_memo(tuple(codings), text, prefer)


def _chosen_item(codings: tuple[tuple[str, str, str], ...], text: str, prefer: tuple[str, ...]
                 ) -> Coding | str | None:
    """:func:`_coded_item` of the codings and text read from a concept."""
    known = [(*c, _TERMS.concepts_of(c[0], c[1])) for c in codings]  # with the concepts each code names
    chosen = next((c for c in known if c[3]), None)
    for preferred in prefer:
        chosen = chosen or next((c for c in known if c[0] == preferred and c[1]), None)
    chosen = chosen or (known[0] if known else None)
    if chosen is None:
        return _clean(text) or None
    system, code, display, concepts = chosen
    if text and not concepts:  # read by its display: the text as the clinician chose it
        display = text
    return Coding(system, code, _clean(display or text))


_chosen_item_memo = lru_cache(maxsize=4096)(_chosen_item)  # the same codes recur across requests
_MEMO_TEXT = 500  # concepts with longer texts are not memoised


def _shown(item: Coding | str) -> str:
    if isinstance(item, str):
        return item
    return item.display or f"{SYSTEM_NAMES.get(item.system, item.system)} {item.code}".strip()


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
        if kind == "OperationOutcome":
            self.outcome(data, where)
            return
        if kind == "Bundle":
            entries = data.get("entry", [])
            if not isinstance(entries, list):
                raise FhirError(f"{where}: Bundle.entry must be a list")
            for i, entry in enumerate(entries):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if resource is None:
                    self.add("bundle", f"{where}.entry[{i}]", FhirNote.INVALID, "bundle entry without a resource")
                elif isinstance(resource, dict) and isinstance(inner := resource.get("resourceType"), str) and (
                        inner not in _NESTED_KINDS):
                    self.resources.append(resource)  # a plain resource (its location is needed only for errors)
                else:
                    self.collect(resource, f"{where}.entry[{i}].resource")
            return
        self.resources.append(data)

    def outcome(self, data: Mapping[str, Any], where: str) -> None:
        """An OperationOutcome in the input: a failed query when it holds an error (by its issue codes only:
        its diagnostics may name the patient)."""
        issues = [_dict(i) for i in _list(data.get("issue"))]
        failed = [i for i in issues if _str(i.get("severity")) in ("error", "fatal")]
        codes = ", ".join(dict.fromkeys(_str(i.get("code")) or "unknown" for i in (failed or issues))) or "no issue"
        key = where.removeprefix("prefetch.").split("[", 1)[0].split(".", 1)[0]
        if failed or not issues:
            if where.startswith("prefetch.") and key not in self.row.failed:
                self.row.failed.append(key)
            self.add("prefetch", key, FhirNote.PREFETCH_FAILED,
                     f"the query for '{key}' failed ({codes}); its data could not be read and are unknown, not absent")
        else:
            self.not_read["OperationOutcome (warnings)"] += 1

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
                self.add("patient", "Patient", FhirNote.OTHER_PATIENT,
                         "a Patient resource of another patient; not used")
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
        elif born is not None:  # the value itself is identifying: not repeated
            self.add("age", "Patient.birthDate", FhirNote.PARTIAL_DATE,
                     "birthDate is not a full date (YYYY-MM-DD); age not used")
        else:
            self.add("age", "Patient.birthDate", FhirNote.NO_VALUE, "the Patient has no birthDate; age not known")
        gender = p.get("gender")
        if isinstance(gender, str) and gender:
            row["sex"] = gender  # male/female read by the core; 'other' is reported there, 'unknown' is not known
        elif gender is not None:
            self.add("sex", "Patient.gender", FhirNote.INVALID, "Patient.gender is not a code; sex not known")
        else:
            sex = self.sex_extension(p)
            if sex:
                row["sex"] = sex

    @staticmethod
    def sex_extension(p: Mapping[str, Any]) -> str:
        """female/male from the US Core sex (or birth sex) extension, '' without one."""
        found = {}
        for ext in _list(p.get("extension")):
            ext = _dict(ext)
            url = _str(ext.get("url"))
            if url in US_CORE_SEX:
                code = _str(ext.get("valueCode")) or _str(_dict(ext.get("valueCoding")).get("code"))
                found[url] = _SEX_CODES.get(code, "")
        return next((found[u] for u in US_CORE_SEX if found.get(u)), "")

    def mine(self, resource: Mapping[str, Any], field: str) -> bool:
        """False (with a note) when the resource names another patient as its subject."""
        for key in ("subject", "patient"):
            holder = resource.get(key)
            ref = _str(holder.get("reference")) if isinstance(holder, dict) else ""
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
                self.add(field, obs, FhirNote.NOT_FINAL,
                         f"{label} has status '{status or 'none'}', not final; not used")
            elif not any(k.startswith("value") for k in obs):
                reason = _status_code(obs.get("dataAbsentReason")) or "no value"
                self.add(field, obs, FhirNote.NO_VALUE, f"{label} has no value ({reason}); not used")
            else:
                usable.append(obs)
        if not usable:
            return None
        times = [(_when(o), o) for o in usable]
        dated = [(t, o) for t, o in times if t is not None]
        undated = [o for t, o in times if t is None]
        if undated and (dated or len(undated) > 1):
            for o in undated:
                self.add(field, o, FhirNote.UNDATED, f"{label} has no date, so it cannot be placed; not used")
        if not dated:
            return undated[0] if len(undated) == 1 else None
        dated.sort(key=lambda x: x[0], reverse=True)
        chosen_time, chosen = dated[0]
        if len(dated) > 1:
            self.add(field, f"{len(dated) - 1} older", FhirNote.OLDER_VALUE,
                     f"{len(dated) - 1} older {label} value(s) not used; the newest, of {chosen_time.date()}, is used")
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
                self.dated("serum_mg_date", obs)
            else:
                kinds = ", ".join(k for k in obs if k.startswith("value"))
                self.add("serum_mg", obs, FhirNote.INVALID, f"serum magnesium given as {kinds}; not used")
            return
        value, unit = self.quantity("serum_mg", obs, quantity)
        if value is None:
            return
        row["serum_mg"] = value
        self.dated("serum_mg_date", obs)
        if unit:
            row["serum_mg_unit"] = unit
            loinc = _has_code(obs.get("code"), LOINC, SERUM_MG_LOINC) or ""
            expected, kind = SERUM_MG_LOINC.get(loinc), _UNIT_KIND.get(unit)
            if expected and kind and kind != expected:
                self.add("serum_mg", obs, FhirNote.UNIT_MISMATCH,
                         f"LOINC {loinc} is a {expected} measure but the unit is {unit}; the unit given is used, "
                         "check the result")
        for bound, key in (("low", "ref_low"), ("high", "ref_high")):
            ranges = [r for r in _list(obs.get("referenceRange")) if isinstance(r, dict)]
            limit = _dict(ranges[0].get(bound)) if ranges else {}
            if limit:
                number, limit_unit = self.quantity(key, obs, limit, what=f"reference range {bound}")
                if number is not None and limit_unit:
                    row[key] = f"{number} {limit_unit}"

    def quantity(
        self, field: str, obs: Mapping[str, Any], quantity: Any, what: str = "value"
    ) -> tuple[Any, str]:
        """(value as the core reads it, UCUM unit or ''); (None, '') with a note when there is no number."""
        q = _dict(quantity)
        number = q.get("value")
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            self.add(field, obs, FhirNote.NO_VALUE, f"{what} has no number; not used")
            return None, ""
        if not -1e12 < number < 1e12:  # no lab value is this large (and 10**400 is no float)
            self.add(field, obs, FhirNote.INVALID, f"{what} is not a plausible number; not used")
            return None, ""
        comparator = q.get("comparator") if q.get("comparator") in ("<", "<=", ">", ">=") else ""
        value: Any = f"{comparator}{number:g}" if comparator else number
        system, code, text = _str(q.get("system")), _str(q.get("code")), _str(q.get("unit"))
        if system == UCUM and code:
            return value, code
        written = text or (code if not system else "")
        if written:  # read as written, as a row's unit cell is: an unknown unit is reported by the core
            self.add(field, obs, FhirNote.UNIT_NOT_UCUM,
                     f"{what} unit '{written}' has no UCUM code (system {system or 'missing'}); read as written")
        elif code:
            self.add(field, obs, FhirNote.UNIT_NOT_UCUM,
                     f"{what} unit code '{code}' of {system} is not UCUM; read as a number without a unit")
        return value, written

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
        self.dated("egfr_date", obs)

    def dated(self, field: str, obs: Mapping[str, Any]) -> None:
        """The result's date, so that the core can tell a current result from an old one (section 9.8)."""
        when = _when(obs)
        if when is not None:
            self.row[field] = when.date().isoformat()
            if self.as_of is not None:
                self.row.setdefault("assessment_date", self.as_of.isoformat())

    def whole_blood(self, found: list[dict[str, Any]]) -> None:
        obs = self.newest("serum_mg", "whole-blood magnesium", found)
        if obs is None or "valueQuantity" not in obs:
            return
        value, unit = self.quantity("serum_mg", obs, obs["valueQuantity"])
        if value is None:
            return
        when = _when(obs)
        self.row.whole_blood = (value, unit, when.date().isoformat() if when else "")
        self.add("serum_mg", obs, FhirNote.WHOLE_BLOOD,
                 f"whole-blood magnesium {value} {unit}".rstrip() + " (LOINC 21377-7) is not a serum value and is "
                 "not used as one; a serum magnesium is needed")

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
        self.add("pregnant", obs, FhirNote.UNMAPPED, f"pregnancy status '{shown or 'no answer'}' not understood; "
                 "pregnancy not known")

    # --- conditions
    def condition(self, c: dict[str, Any], items: list[Coding | str]) -> None:
        verification = _status_code(c.get("verificationStatus"))
        if verification == "entered-in-error":
            self.add("diagnoses", c, FhirNote.ENTERED_IN_ERROR, "condition marked entered-in-error; not used")
            return
        if verification == "refuted":
            self.add("diagnoses", c, FhirNote.NOT_ACTIVE, "condition refuted; not counted")
            return
        clinical = _status_code(c.get("clinicalStatus"))
        item = _coded_item(c.get("code"), (*ICD10, SNOMED)) or "unnamed condition (no code)"
        name = _shown(item)
        if clinical and clinical not in _ACTIVE_CONDITION:
            self.add("diagnoses", c, FhirNote.NOT_ACTIVE, f"condition '{name}' is {clinical}; not counted")
            return
        if not clinical:
            self.add("diagnoses", c, FhirNote.STATUS_MISSING,
                     f"condition '{name}' has no clinicalStatus; counted as active (the safer reading)")
        items.append(item)

    # --- medications
    @staticmethod
    def medication_item(resource: Mapping[str, Any], contained: Mapping[str, dict[str, Any]],
                        by_ref: Mapping[str, dict[str, Any]]) -> tuple[Coding | str, Any]:
        """(the medication as one item, its CodeableConcept or None)."""
        if "medicationCodeableConcept" in resource:
            concept = resource["medicationCodeableConcept"]
            return _coded_item(concept, (RXNORM,)) or "unnamed medication (no code)", concept
        reference = _dict(resource.get("medicationReference"))
        ref = _str(reference.get("reference"))
        target = contained.get(ref[1:]) if ref.startswith("#") else (
            by_ref.get(ref) or by_ref.get(ref.split("/_history")[0]))
        if target is not None:
            concept = target.get("code")
            return _coded_item(concept, (RXNORM,)) or _clean(_str(reference.get("display"))) or (
                "unnamed medication (no code)"), concept
        display = _clean(_str(reference.get("display")))
        return display or f"unresolved medication reference ({ref or 'none'})", None

    def medication(self, m: dict[str, Any], items: list[Coding | str], by_ref: Mapping[str, dict[str, Any]]) -> None:
        kind = str(m.get("resourceType"))
        status = _str(m.get("status"))
        contained = {_str(x.get("id")): x for x in _list(m.get("contained")) if isinstance(x, dict)}
        item, concept = self.medication_item(m, contained, by_ref)
        shown = _shown(item)
        if status == "entered-in-error":
            self.add("medications", m, FhirNote.ENTERED_IN_ERROR, f"{shown}: marked entered-in-error; not used")
            return
        if status not in _CURRENT_MEDICATION[kind]:
            self.add("medications", m, FhirNote.NOT_ACTIVE, f"{shown}: status '{status or 'none'}'; not counted")
            return
        if status == "unknown":
            self.add("medications", m, FhirNote.STATUS_MISSING, f"{shown}: status unknown; counted as current")
        items.append(item)
        terms = _medication_terms(item)
        magnesium = any(concept_.drug_class == "magnesium" for concept_, _, _ in terms.concepts)
        if magnesium and self.is_iv(m, concept):
            self.row["route"] = "iv"
        if kind == "MedicationRequest":
            self.row.orders.append(FhirOrder(_ref(m) if m.get("id") else "", shown, status, magnesium, item))
            if magnesium and m.get("dosageInstruction"):
                self.add("supplement_dose_mg", m, FhirNote.DOSE_NOT_READ,
                         f"{shown}: the ordered dose is not read; compare it with the dose range")

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
        by_ref = {_ref(r): r for r in self.resources if r.get("id")} if any(
            "medicationReference" in r for r in self.resources) else {}
        serum: list[dict[str, Any]] = []
        egfr: list[dict[str, Any]] = []
        pregnancy: list[dict[str, Any]] = []
        whole_blood: list[dict[str, Any]] = []
        diagnoses: list[Coding | str] = []
        medications: list[Coding | str] = []
        buckets = {"serum_mg": (serum, "serum_mg"), "egfr": (egfr, "egfr"), "pregnancy": (pregnancy, "pregnant"),
                   "whole_blood_mg": (whole_blood, "serum_mg")}
        for r in self.resources:
            kind = r.get("resourceType")
            try:
                if kind in ("Patient", "Medication"):
                    continue
                if kind == "Observation":
                    loinc = {_str(c.get("code")) for c in _codings(r.get("code")) if _str(c.get("system")) == LOINC}
                    lab = next((name for name in _LAB_ORDER if not loinc.isdisjoint(_LAB_CODES[name])), None)
                    if lab is not None:
                        bucket, field = buckets[lab]
                    else:
                        parts = _egfr_components(r)
                        if not parts:
                            self.not_read["Observation (other codes)"] += 1
                            continue
                        bucket, field, r = egfr, "egfr", parts[0]
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
        self.whole_blood(whole_blood)
        if diagnoses:
            self.row["diagnoses"] = list(dict.fromkeys(diagnoses))
        if medications:
            self.row["medications"] = list(dict.fromkeys(medications))
        if self.not_read:
            listed = ", ".join(f"{n} {kind}" for kind, n in sorted(self.not_read.items()))
            self.add("bundle", "not read", FhirNote.NOT_READ, f"not relevant to magnesium, not read: {listed}")
        return self.row


def _egfr_components(obs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An eGFR given as a component of another Observation (a renal panel), as an Observation of its own."""
    found = []
    for part in _list(obs.get("component")):
        part = _dict(part)
        if _has_code(part.get("code"), LOINC, EGFR_LOINC):
            whole = {k: v for k, v in obs.items() if not k.startswith("value") and k not in ("component", "code")}
            whole.update({k: v for k, v in part.items() if k.startswith("value") or k in ("code",
                                                                                        "dataAbsentReason")})
            found.append(whole)
    return found


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
