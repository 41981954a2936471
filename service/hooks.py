"""CDS Hooks 2.0 request -> cards, without any I/O: the pure half of the service.

A hook request (or a plain FHIR Bundle) is checked, its FHIR data are read into one patient row by
:func:`mgdecision.from_fhir`, the row is assessed by :func:`mgdecision.assess`, and the assessment's own cards
(:attr:`mgdecision.Assessment.cards`) are turned into CDS Hooks JSON: a ``uuid``, ``source.topic`` as a Coding
with a system, ``overrideReasons`` and, where the action is clear, ``suggestions``. No card text is rewritten,
so the service says exactly what ``mg.assess`` says for the same row. What the FHIR reader did not use goes on
one extra card ("FHIR data not used"), so nothing is dropped silently.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import mgdecision as mg
from mgdecision import FHIR_ATTENTION as ATTENTION
from mgdecision import Coding, FhirNote, FhirOrder, FhirRow, terminology

__all__ = [
    "IN_PLAY",
    "OVERRIDE_REASONS",
    "PREFETCH",
    "SERVICES",
    "BadRequest",
    "HookResult",
    "PreconditionFailed",
    "ServiceError",
    "Situation",
    "UnknownCard",
    "count_list_resources",
    "discovery",
    "evaluate",
    "in_play",
    "read_feedback",
]

TOPIC_SYSTEM = "urn:mgdecision:cds:topic"
OVERRIDE_SYSTEM = "urn:mgdecision:cds:override-reason"
EXTENSION = "org.mgdecision"
MEASURE_LOINC = "19123-9"  # what "measure serum magnesium" orders (a ServiceRequest)

_P = "{{context.patientId}}"


def _codes(measure: str) -> str:
    return ",".join(f"http://loinc.org|{c}" for c in terminology().lab_codes(measure))


# Within the restricted query subset of CDS Hooks (token equality, _sort, _count; no _include): a
# MedicationRequest's medicationReference is read from its display or a contained Medication.
PREFETCH: dict[str, str] = {
    "patient": f"Patient/{_P}",
    "serumMagnesium": f"Observation?patient={_P}&code={_codes('serum_mg')},{_codes('whole_blood_mg')}"
    "&_sort=-date&_count=5",
    "egfr": f"Observation?patient={_P}&code={_codes('egfr')}&_sort=-date&_count=5",
    "pregnancy": f"Observation?patient={_P}&code={_codes('pregnancy')}&_sort=-date&_count=1",
    "conditions": f"Condition?patient={_P}&clinical-status=active,recurrence,relapse",
    "medicationStatements": f"MedicationStatement?patient={_P}&status=active,intended,on-hold",
    "medicationRequests": f"MedicationRequest?patient={_P}&status=active,on-hold",
}
# what each prefetch key feeds, for the card that says it could not be read
PREFETCH_READS = {"patient": "age and sex", "serumMagnesium": "the serum magnesium", "egfr": "the eGFR",
                  "pregnancy": "pregnancy status", "conditions": "the diagnoses",
                  "medicationStatements": "the medications", "medicationRequests": "the medication orders"}
_MAGNESIUM_KEYS = frozenset({"serumMagnesium", "egfr", "conditions", "medicationStatements", "medicationRequests"})

_DESCRIPTION = (
    "Magnesium decision support: deficiency risk, dose range, contraindications (myasthenia gravis, severe "
    "kidney impairment, hypermagnesaemia, heart block with IV magnesium, ...) and drug interactions with the "
    "hours to keep between doses, each with its reason and source. Supports and does not replace clinical judgement."
)

SERVICES: dict[str, dict[str, Any]] = {
    "magnesium-patient-view": {
        "hook": "patient-view",
        "title": "Magnesium: risk, dose and safety",
        "description": _DESCRIPTION + " Shows the cards that need attention when a chart is opened.",
    },
    "magnesium-order-select": {
        "hook": "order-select",
        "title": "Magnesium: order check",
        "description": _DESCRIPTION + " Checks a selected magnesium order, or an order for a drug that interacts "
        "with magnesium.",
    },
    "magnesium-order-sign": {
        "hook": "order-sign",
        "title": "Magnesium: order check before signing",
        "description": _DESCRIPTION + " Checks magnesium orders and orders for interacting drugs before signing.",
    },
}

def _reason(code: str, display: str) -> dict[str, str]:
    return {"system": OVERRIDE_SYSTEM, "code": code, "display": display}


# The override reasons offered on each kind of card (topic), so a clinician picks one that fits.
OVERRIDE_REASONS: dict[str, list[dict[str, str]]] = {
    "contraindication": [_reason("specialist-supervised", "Under specialist supervision"),
                         _reason("benefit-outweighs-risk", "Benefit outweighs the risk for this patient"),
                         _reason("data-incorrect", "The diagnosis or value in the record is wrong")],
    "dose": [_reason("specialist-supervised", "Under specialist supervision"),
             _reason("will-monitor", "Will monitor serum magnesium"),
             _reason("data-incorrect", "The record is wrong (dose, serum value or kidney function)")],
    "risk": [_reason("already-treated", "Already treated or being checked"),
             _reason("data-incorrect", "The record is wrong")],
    "interaction": [_reason("will-separate", "Doses will be taken apart as advised"),
                    _reason("tolerated-before", "The patient has tolerated this combination before"),
                    _reason("will-monitor", "Will monitor the patient")],
    "input": [_reason("data-checked", "Checked: the record is right"),
              _reason("will-correct", "Will correct the record")],
    "fhir-input": [_reason("data-checked", "Checked: the record is right"),
                   _reason("will-correct", "Will correct the record")],
    "notes": [_reason("not-relevant", "Not relevant for this patient")],
}

_TOPIC_DISPLAY = {
    "contraindication": "Contraindication",
    "dose": "Dose",
    "risk": "Deficiency risk",
    "interaction": "Drug interaction",
    "input": "Input problems",
    "notes": "Notes",
    "fhir-input": "FHIR data not used",
    "summary": "Magnesium: nothing needs attention",
}
_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("patientId",),
    "order-select": ("patientId", "selections", "draftOrders"),
    "order-sign": ("patientId", "draftOrders"),
}
_ORDER = {"critical": 0, "warning": 1, "info": 2}
_SUMMARY_MAX = 139


class ServiceError(mg.MgDecisionError):
    """A request the service cannot answer; ``status`` is the HTTP status it is answered with."""

    status = 400


class BadRequest(ServiceError):
    """Malformed JSON, a missing or wrong field, a hook this service does not handle: HTTP 400."""

    status = 400


class UnknownCard(BadRequest):
    """Feedback on a card this service has no record of issuing: HTTP 400."""


class PreconditionFailed(ServiceError):
    """The request carries no patient data (no prefetch, no Bundle) and the service fetches none: HTTP 412."""

    status = 412


@dataclass(slots=True)
class HookResult:
    """What one hook call gives: the CDS Hooks response body and the cards issued (for the feedback audit)."""

    body: dict[str, Any]
    issued: list[dict[str, Any]] = field(default_factory=list)


def discovery() -> dict[str, Any]:
    """The ``GET /cds-services`` body."""
    return {
        "services": [
            {"id": sid, **spec, "prefetch": PREFETCH, "usageRequirements": "Prefetch (or a posted FHIR Bundle) "
             "with the patient's record; no FHIR server access is needed or used."}
            for sid, spec in SERVICES.items()
        ]
    }


# ---------------------------------------------------------------- request checking


def _require(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise BadRequest(f"{where}{key} is missing")
    if not isinstance(value, kind):
        raise BadRequest(f"{where}{key} must be {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check_request(service_id: str, body: Any) -> tuple[str, dict[str, Any], Any]:
    """(hook, context, FHIR input for ``from_fhir``) of a hook request, or of a plain FHIR Bundle posted instead.

    A posted Bundle is the patient's record; for the order hooks its MedicationRequests with status ``draft``
    are the orders being placed.
    """
    hook = SERVICES[service_id]["hook"]
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return hook, {}, body
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (a CDS Hooks request or a FHIR Bundle)")
    given = _require(body, "hook", str, "")
    if given != hook:
        raise BadRequest(f"this service handles the '{hook}' hook, not '{given}'")
    _require(body, "hookInstance", str, "")
    context = _require(body, "context", dict, "")
    kinds: dict[str, type] = {"selections": list, "draftOrders": dict}
    for key in _CONTEXT[hook]:
        _require(context, key, kinds.get(key, str), "context.")
    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("prefetch must be an object of FHIR resources or Bundles")
    if not prefetch or all(v is None for v in prefetch.values()):
        raise PreconditionFailed(
            "no prefetch data: this service reads the patient's record from prefetch (templates in the discovery "
            "document) or from a posted FHIR Bundle, and does not query the FHIR server"
        )
    if "selections" in context and not all(isinstance(x, str) for x in context["selections"]):
        raise BadRequest("context.selections must be an array of references such as 'MedicationRequest/123'")
    inputs = dict(prefetch)
    if "draftOrders" in context:
        drafts = context["draftOrders"]
        if drafts.get("resourceType") != "Bundle":
            raise BadRequest("context.draftOrders must be a FHIR Bundle of the orders being placed")
        for i, entry in enumerate(_list_of(drafts.get("entry"))):
            kind = entry.get("resource", {}).get("resourceType") if isinstance(entry, dict) and isinstance(
                entry.get("resource"), dict) else None
            if kind not in _ORDER_KINDS:
                raise BadRequest(f"context.draftOrders.entry[{i}] is a {kind or 'non-resource'}, not an order "
                                 f"({', '.join(sorted(_ORDER_KINDS))})")
        inputs["context.draftOrders"] = drafts
    return hook, context, inputs


def _list_of(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("a Bundle's entry must be an array")
    return value


_ORDER_KINDS = frozenset({"MedicationRequest", "ServiceRequest", "NutritionOrder", "MedicationStatement",
                          "DeviceRequest", "ProcedureRequest", "VisionPrescription", "SupplyRequest",
                          "CommunicationRequest", "ImmunizationRecommendation"})


_LIST_KINDS = frozenset({"Condition", "MedicationStatement", "MedicationRequest"})


def count_list_resources(body: Any, depth: int = 0) -> int:
    """How many Conditions and medication resources a request holds (the size budget is checked before reading)."""
    if depth > 8:
        return 0
    if isinstance(body, list):
        return sum(count_list_resources(x, depth + 1) for x in body)
    if not isinstance(body, dict):
        return 0
    kind = body.get("resourceType")
    if kind in _LIST_KINDS:
        return 1
    if kind == "Bundle":
        entries = body.get("entry")
        return sum(count_list_resources(e.get("resource"), depth + 1) for e in entries
                   if isinstance(e, dict)) if isinstance(entries, list) else 0
    if kind is None:  # a hook request: its prefetch and draft orders
        inner = [body.get("prefetch"), _dict_get(body.get("context"), "draftOrders")]
        inner += list(body["prefetch"].values()) if isinstance(body.get("prefetch"), dict) else []
        return sum(count_list_resources(x, depth + 1) for x in inner[1:])
    return 0


def _dict_get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


# ---------------------------------------------------------------- the alert budget


@dataclass(frozen=True, slots=True)
class Situation:
    """What one hook call is about: the assessment, the orders being placed and the prefetch keys that failed."""

    assessment: mg.Assessment
    magnesium_orders: tuple[FhirOrder, ...] = ()
    failed: tuple[str, ...] = ()


def _magnesium_listed(a: mg.Assessment) -> bool:
    """A current magnesium product: the medication list (any salt, brand or antacid) or the supplement columns."""
    return a.intake.any


def _serum(a: mg.Assessment) -> Any:
    return mg.serum_status(a.patient.serum) if a.patient.serum is not None else None


# When a patient-view card needs attention: magnesium is in play, or the next step is to measure it.
# One line per reason; the first that holds is named on the cards' extension.
IN_PLAY: tuple[tuple[str, Callable[[Situation], bool]], ...] = (
    ("a current magnesium product", lambda s: _magnesium_listed(s.assessment)),
    ("a magnesium order", lambda s: bool(s.magnesium_orders)),
    ("a magnesium suggestion", lambda s: s.assessment.dose.status == mg.DoseStatus.RECOMMENDED),
    ("an abnormal serum magnesium", lambda s: (st := _serum(s.assessment)) is not None and (st.below or st.above)),
    ("an urgent value", lambda s: (st := _serum(s.assessment)) is not None and st.urgent),
    ("the next step is to measure", lambda s: s.assessment.dose.status == mg.DoseStatus.CHECK_SERUM),
)
# Input problems that touch a magnesium decision (they warn; any other goes to the one info card)
_DECISION_FIELDS = frozenset({"serum_mg", "serum_mg_unit", "ref_low", "ref_high", "ref_range", "egfr"})


def in_play(situation: Situation) -> str | None:
    """Why the cards need attention (the first reason of :data:`IN_PLAY` that holds), or None."""
    return next((name for name, holds in IN_PLAY if holds(situation)), None)


def _touches_decision(p: mg.Problem) -> bool:
    if p.code in (FhirNote.PREFETCH_FAILED, FhirNote.PREFETCH_MISSING):
        return p.value in _MAGNESIUM_KEYS
    return p.field in _DECISION_FIELDS and (not p.code.startswith("fhir_") or p.code in ATTENTION)


# ---------------------------------------------------------------- cards


_RANDOM = bytearray()  # random bytes from the OS not yet used, read 4 KiB at a time (one call per 256 uuids)
_RANDOM_LOCK = threading.Lock()
os.register_at_fork(after_in_child=_RANDOM.clear)  # a forked process never repeats its parent's uuids


def new_uuids(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs, as :func:`uuid.uuid4` gives them."""
    size = 16 * n
    with _RANDOM_LOCK:
        if len(_RANDOM) < size:
            _RANDOM.extend(os.urandom(max(4096, size)))
        digits = _RANDOM[:size].hex()
        del _RANDOM[:size]
    return [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"
            for h in (digits[i:i + 32] for i in range(0, 2 * size, 32))]


def _uuid() -> str:
    return new_uuids(1)[0]


def _short(text: str) -> str:
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1].rstrip() + "…"


_DECIMAL_EGFR = re.compile(r"\beGFR (<|>|<=|>=)?(\d+\.\d+)")
_DECIMAL_AGE = re.compile(r"\bage (\d+\.\d+)")


def _as_written(text: str, hidden: tuple[str, ...]) -> str:
    """Numbers as people write them (eGFR whole, age in whole years) and identifying values hidden."""
    if "eGFR " in text:
        text = _DECIMAL_EGFR.sub(lambda m: f"eGFR {m.group(1) or ''}{round(float(m.group(2)))}", text)
    if "age " in text:
        text = _DECIMAL_AGE.sub(lambda m: f"age {int(float(m.group(1)))}", text)
    for value in hidden:
        if value in text:
            text = text.replace(value, "[withheld]")
    return text


def _card_json(card: mg.Card, version: str, hidden: tuple[str, ...] = (), reason: str | None = None
               ) -> dict[str, Any]:
    d = card.to_dict()
    d["summary"] = _short(_as_written(d["summary"], hidden))
    d["detail"] = _as_written(d["detail"], hidden)
    d["uuid"] = _uuid()
    d["source"]["topic"] = {"system": TOPIC_SYSTEM, "code": card.topic,
                            "display": _TOPIC_DISPLAY.get(card.topic, card.topic)}
    if card.indicator != "info":
        d["overrideReasons"] = OVERRIDE_REASONS.get(card.topic, OVERRIDE_REASONS["notes"])
    d["extension"] = {EXTENSION: {"knowledgeVersion": version, **({"inPlay": reason} if reason else {})}}
    return d


def _interaction_of(card: mg.Card, interactions: tuple[mg.Interaction, ...]) -> mg.Interaction | None:
    """The interaction a card is about (the card names it; never read back from its text)."""
    return card.interaction


def _input_card(problems: list[mg.Problem], failed: tuple[str, ...], indicator: str) -> mg.Card | None:
    """One card for the input problems given (core problems and FHIR notes alike)."""
    if not problems:
        return None
    unknown = [PREFETCH_READS.get(k, k) for k in failed]
    head = (f"Could not be read: {', '.join(unknown)} (the EHR query failed)" if unknown
            else f"{len(problems)} input problem(s) for the magnesium decision" if indicator == "warning"
            else f"{len(problems)} input note(s)")
    summary = head + ": " + "; ".join(p.message for p in problems if p.code != FhirNote.PREFETCH_FAILED)
    detail = "\n".join(f"- `{p.code}` {p.field}: {p.message}" for p in problems)
    return mg.Card(indicator, _short(summary.rstrip(": ")), detail, "mgdecision input check", "", "input")


def _summary_card(cards: list[mg.Card], notes: list[mg.Problem]) -> mg.Card | None:
    """The one info card of a patient-view with nothing in play: what was found, and the notes."""
    lines = [f"- {c.summary}" for c in cards] + [f"- `{p.code}` {p.field}: {p.message}" for p in notes]
    if not lines:
        return None
    worst = next((c.summary for c in cards if c.indicator != "info"), "")
    summary = "Magnesium not in play (none listed, ordered or suggested; serum not abnormal)" + (
        f"; if started: {worst}" if worst else "")
    return mg.Card("info", _short(summary), "\n".join(lines), "mgdecision alert budget", "", "summary")


def _suggestions(card: mg.Card, stop: bool, magnesium_orders: tuple[FhirOrder, ...], measure: bool,
                 patient_ref: str) -> tuple[list[dict[str, Any]], str]:
    """(suggestions, selectionBehavior) of one card: each carries an action (cds-resp-1: at most one is
    recommended under at-most-one)."""
    found: list[dict[str, Any]] = []
    if card.topic in ("contraindication", "dose") and card.indicator == "critical" and stop:
        for o in magnesium_orders:
            if o.reference:
                found.append({"label": _short(f"Remove the magnesium order ({o.text})"), "uuid": _uuid(),
                              "actions": [{"type": "delete", "description": f"Remove {o.text}",
                                           "resourceId": o.reference}]})
    if measure and card.topic in ("dose", "risk"):
        found.append({"label": "Order a serum magnesium", "uuid": _uuid(), "actions": [{
            "type": "create", "description": "Order serum magnesium (LOINC 19123-9)",
            "resource": {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                         "code": {"coding": [{"system": "http://loinc.org", "code": MEASURE_LOINC,
                                              "display": "Magnesium [Mass/volume] in Serum or Plasma"}]},
                         **({"subject": {"reference": patient_ref}} if patient_ref else {})}}]})
    if not found:
        return [], ""
    found[0]["isRecommended"] = True
    return found, "at-most-one" if len(found) == 1 else "any"


def _is_measure(suggestion: Mapping[str, Any]) -> bool:
    return any(a.get("resource", {}).get("resourceType") == "ServiceRequest" for a in suggestion["actions"])


def evaluate(service_id: str, body: Any, *, everything: bool = False, today: date | None = None) -> HookResult:
    """Answer one hook call. ``everything``: every card, not only those that need attention."""
    if service_id not in SERVICES:
        raise KeyError(service_id)
    hook, context, inputs = check_request(service_id, body)
    patient_id = context.get("patientId") or None
    today = today or datetime.now(UTC).date()
    try:
        row = mg.from_fhir(inputs, patient_id=patient_id, as_of=today)
    except mg.FhirError as exc:
        raise BadRequest(f"FHIR input: {exc}") from exc
    codes = {(n.code, n.field) for n in row.notes}
    if (FhirNote.OTHER_PATIENT, "patient") in codes and (FhirNote.NO_PATIENT, "patient") in codes:
        raise BadRequest("the Patient in the request is not context.patientId")
    if "resourceType" not in inputs and any(k in PREFETCH for k in inputs):
        for key in PREFETCH:
            if inputs.get(key) is None:
                row.notes.append(mg.Problem("prefetch", key, FhirNote.PREFETCH_MISSING,
                                            f"prefetch '{key}' was not provided; {PREFETCH_READS[key]} not read"))
    return _respond(hook, context, row, everything)


def _interacting(item: Coding | str) -> frozenset[str]:
    """The drugs a medication item alone interacts with magnesium as (memoised: the same items recur)."""
    if len(item if isinstance(item, str) else item.display) > _MEMO_TEXT:
        return _interacting_now(item)
    return _interacting_memo(item)


def _interacting_now(item: Coding | str) -> frozenset[str]:
    return frozenset(i.drug for i in mg.assess({"medications": [item]}).interactions)


_interacting_memo = lru_cache(maxsize=4096)(_interacting_now)
_MEMO_TEXT = 200  # longer item texts are not memoised


def _respond(hook: str, context: Mapping[str, Any], row: FhirRow, everything: bool) -> HookResult:
    assessment = mg.assess(row)
    version = assessment.knowledge_version
    hidden = tuple(v for v in (row.get("patient_id"), row.get("date_of_birth")) if isinstance(v, str) and v)
    selected = set(context.get("selections") or [])
    drafts = {f"MedicationRequest/{e['resource'].get('id')}" for e in (context.get("draftOrders") or {}).get("entry")
              or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)}
    orders = [o for o in row.orders if (o.status == "draft" or o.reference in drafts)
              and (hook != "order-select" or not selected or o.reference in selected)]
    magnesium_orders = tuple(o for o in orders if o.magnesium)
    situation = Situation(assessment, magnesium_orders, tuple(row.failed))
    reason = in_play(situation)
    ordered_drugs = {drug for o in orders if not o.magnesium for drug in _interacting(o.item)}
    stop = assessment.dose.status == mg.DoseStatus.DO_NOT_SUPPLEMENT
    measure = reason == "the next step is to measure"
    patient_ref = f"Patient/{row['patient_id']}" if row.get("patient_id") else ""

    problems = list(assessment.problems) + list(row.notes)
    warn = [p for p in problems if _touches_decision(p) or p.code == FhirNote.WHOLE_BLOOD]
    rest = [p for p in problems if p not in warn]
    shown: list[mg.Card] = []
    quiet: list[mg.Card] = []  # patient-view with nothing in play: into the one info card
    for card in assessment.cards:
        if card.topic == "input":
            continue  # rebuilt below from the problems that touch a decision
        interaction = _interaction_of(card, assessment.interactions) if card.topic == "interaction" else None
        if everything:
            wanted = True
        elif hook == "patient-view":
            # in play: what needs attention, and the decision (it carries the order to measure) unless the
            # critical contraindication card already says it
            wanted = reason is not None and (card.indicator != "info" or (card.topic == "dose" and not stop))
        elif interaction is not None:
            wanted = reason is not None and (bool(magnesium_orders) or interaction.drug in ordered_drugs)
        else:
            wanted = (card.indicator != "info" and reason is not None) or (
                card.topic == "dose" and bool(magnesium_orders))
        if wanted:
            shown.append(card)
        elif card.indicator != "info" or card.topic == "contraindication":
            quiet.append(card)
    cards: list[dict[str, Any]] = []
    for card in shown:
        d = _card_json(card, version, hidden, reason)
        suggestions, behaviour = _suggestions(card, stop, magnesium_orders, measure, patient_ref)
        measure = measure and not any(_is_measure(s) for s in suggestions)  # the order to measure once
        if suggestions:
            d["suggestions"], d["selectionBehavior"] = suggestions, behaviour
        cards.append(d)
    failed = tuple(k for k in row.failed if k in _MAGNESIUM_KEYS)
    extra = [_input_card(warn, failed, "warning")]
    if everything or reason is not None:
        extra.append(_input_card(rest, (), "info") if everything else None)
    else:
        extra.append(_summary_card(quiet, rest) if hook == "patient-view" else None)
    for card in filter(None, extra):
        cards.append(_card_json(card, version, hidden, reason))
    if failed and everything:  # the core's "no contraindication found" cannot speak for what was not read
        for d in cards:
            if d["source"]["topic"]["code"] == "contraindication" and d["indicator"] == "info":
                d["summary"] = _short(d["summary"] + "; not checked: " + ", ".join(PREFETCH_READS[k] for k in failed))
    cards.sort(key=lambda c: _ORDER[c["indicator"]])
    issued = [{"uuid": c["uuid"], "indicator": c["indicator"], "topic": c["source"]["topic"]["code"],
               "summary": c["summary"], "knowledge_version": version,
               "suggestions": [s["uuid"] for s in c.get("suggestions", [])],
               "override_codes": [r["code"] for r in c.get("overrideReasons", [])]} for c in cards]
    return HookResult({"cards": cards}, issued)


# ---------------------------------------------------------------- feedback


def _timestamp(value: str, where: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{where}outcomeTimestamp must be an ISO 8601 date-time, e.g. 2026-11-30T10:00:00Z") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{where}outcomeTimestamp must carry its time zone (Z or +hh:mm)")
    return moment.isoformat()


def read_feedback(body: Any, issued: Callable[[str], Mapping[str, Any] | None] | None = None
                  ) -> list[dict[str, Any]]:
    """The feedback items of a ``POST /cds-services/{id}/feedback`` body, checked; BadRequest otherwise.

    ``issued(card uuid)`` gives the card this service issued (its suggestion uuids and override reason codes),
    or None: feedback on a card never issued, an accepted card without suggestions that were issued with it,
    and an override without one of the card's override reasons are refused."""
    if not isinstance(body, dict):
        raise BadRequest("the feedback body must be a JSON object with a 'feedback' array")
    items = _require(body, "feedback", list, "")
    if not items:
        raise BadRequest("feedback is empty")
    out = []
    for n, item in enumerate(items):
        where = f"feedback[{n}]."
        if not isinstance(item, dict):
            raise BadRequest(f"feedback[{n}] must be an object")
        card_uuid = _require(item, "card", str, where)
        outcome = _require(item, "outcome", str, where)
        if outcome not in ("accepted", "overridden"):
            raise BadRequest(f"{where}outcome must be 'accepted' or 'overridden', not '{outcome}'")
        timestamp = _timestamp(_require(item, "outcomeTimestamp", str, where), where)
        card = issued(card_uuid) if issued is not None else {}
        if card is None:
            raise UnknownCard(f"{where}card: no card '{card_uuid[:64]}' was issued by this service")
        reason = item.get("overrideReason") or {}
        if not isinstance(reason, dict):
            raise BadRequest(f"{where}overrideReason must be an object")
        coding = reason.get("reason") or {}
        if not isinstance(coding, dict) or not all(isinstance(coding.get(k, ""), str) for k in ("system", "code")):
            raise BadRequest(f"{where}overrideReason.reason must be a Coding")
        comment = reason.get("userComment")
        if comment is not None and not isinstance(comment, str):
            raise BadRequest(f"{where}overrideReason.userComment must be a string")
        accepted = item.get("acceptedSuggestions") or []
        if not isinstance(accepted, list) or not all(isinstance(s, dict) and isinstance(s.get("id"), str)
                                                     for s in accepted):
            raise BadRequest(f"{where}acceptedSuggestions must be an array of {{'id': ...}}")
        ids = [s["id"] for s in accepted]
        if outcome == "accepted":
            if not ids:
                raise BadRequest(f"{where}acceptedSuggestions: an accepted card names the suggestions taken")
            unknown = [i for i in ids if card and i not in card.get("suggestions", [])]
            if unknown:
                raise BadRequest(f"{where}acceptedSuggestions: '{unknown[0][:64]}' was not issued with this card")
            if reason:
                raise BadRequest(f"{where}overrideReason is for overridden cards only")
        else:
            if ids:
                raise BadRequest(f"{where}acceptedSuggestions is for accepted cards only")
            code = coding.get("code") or ""
            if card and card.get("override_codes") and (
                    code not in card["override_codes"] or coding.get("system") != OVERRIDE_SYSTEM):
                raise BadRequest(f"{where}overrideReason.reason must be one of the card's overrideReasons "
                                 f"({', '.join(card['override_codes'])})")
        out.append({
            "card_uuid": card_uuid,
            "outcome": outcome,
            "outcome_timestamp": timestamp,
            "override_system": str(coding.get("system") or ""),
            "override_code": str(coding.get("code") or ""),
            "override_display": str(coding.get("display") or ""),
            "user_comment": comment or "",
            "accepted_suggestions": ids,
        })
    return out
