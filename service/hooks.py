"""CDS Hooks 2.0 request -> cards, without any I/O: the pure half of the service.

A hook request (or a plain FHIR Bundle) is checked, its FHIR data are read into one patient row by
:func:`mgdecision.from_fhir`, the row is assessed by :func:`mgdecision.assess`, and the assessment's own cards
(:attr:`mgdecision.Assessment.cards`) are turned into CDS Hooks JSON: a ``uuid``, ``source.topic`` as a Coding
with a system, ``overrideReasons`` and, where the action is clear, ``suggestions``. No card text is rewritten,
so the service says exactly what ``mg.assess`` says for the same row. What the FHIR reader did not use goes on
one extra card ("FHIR data not used"), so nothing is dropped silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import mgdecision as mg
from mgdecision.fhir import ATTENTION, FhirNote, FhirRow

__all__ = [
    "OVERRIDE_REASONS",
    "PREFETCH",
    "SERVICES",
    "BadRequest",
    "HookResult",
    "PreconditionFailed",
    "ServiceError",
    "discovery",
    "evaluate",
    "read_feedback",
]

TOPIC_SYSTEM = "https://mgdecision.invalid/cds/topic"
OVERRIDE_SYSTEM = "https://mgdecision.invalid/cds/override-reason"
EXTENSION = "org.mgdecision"

_P = "{{context.patientId}}"
PREFETCH: dict[str, str] = {
    "patient": f"Patient/{_P}",
    "serumMagnesium": f"Observation?patient={_P}&code=http://loinc.org|19123-9,http://loinc.org|2601-3"
    "&_sort=-date&_count=5",
    "egfr": f"Observation?patient={_P}&code=http://loinc.org|33914-3,http://loinc.org|48642-3,"
    "http://loinc.org|48643-1,http://loinc.org|62238-1,http://loinc.org|98979-8&_sort=-date&_count=5",
    "pregnancy": f"Observation?patient={_P}&code=http://loinc.org|82810-3,http://loinc.org|11449-6&_sort=-date&_count=1",
    "conditions": f"Condition?patient={_P}&clinical-status=active,recurrence,relapse",
    "medicationStatements": f"MedicationStatement?patient={_P}&status=active,intended,on-hold",
    "medicationRequests": f"MedicationRequest?patient={_P}&status=active,on-hold&_include=MedicationRequest:medication",
}

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

OVERRIDE_REASONS: list[dict[str, str]] = [
    {"system": OVERRIDE_SYSTEM, "code": "specialist-supervised", "display": "Under specialist supervision"},
    {"system": OVERRIDE_SYSTEM, "code": "will-monitor", "display": "Will monitor serum magnesium / the patient"},
    {"system": OVERRIDE_SYSTEM, "code": "tolerated-before", "display": "Patient has tolerated this before"},
    {"system": OVERRIDE_SYSTEM, "code": "data-incorrect", "display": "Patient data in the record are wrong"},
    {"system": OVERRIDE_SYSTEM, "code": "not-relevant", "display": "Not relevant for this patient"},
]

_TOPIC_DISPLAY = {
    "contraindication": "Contraindication",
    "dose": "Dose",
    "risk": "Deficiency risk",
    "interaction": "Drug interaction",
    "input": "Input problems",
    "notes": "Notes",
    "fhir-input": "FHIR data not used",
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


def _check_request(service_id: str, body: Any) -> tuple[str, dict[str, Any], Any]:
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
    inputs = dict(prefetch)
    if "draftOrders" in context:
        inputs["context.draftOrders"] = context["draftOrders"]
    return hook, context, inputs


# ---------------------------------------------------------------- cards


def _uuid() -> str:
    return str(uuid.uuid4())


def _short(text: str) -> str:
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1].rstrip() + "…"


def _card_json(card: mg.Card, version: str) -> dict[str, Any]:
    d = card.to_dict()
    d["uuid"] = _uuid()
    d["source"]["topic"] = {"system": TOPIC_SYSTEM, "code": card.topic,
                            "display": _TOPIC_DISPLAY.get(card.topic, card.topic)}
    if card.indicator != "info":
        d["overrideReasons"] = OVERRIDE_REASONS
    d["extension"] = {EXTENSION: {"knowledgeVersion": version}}
    return d


def _interaction_of(card: mg.Card, interactions: tuple[mg.Interaction, ...]) -> mg.Interaction | None:
    """The interaction a card is about: by its summary (whole or shortened), else by the action in its detail."""
    shown = card.summary.removesuffix("…")
    for i in interactions:
        if str(i) in card.summary or f"Interaction: {i}".startswith(shown):
            return i
    return next((i for i in interactions if i.action and i.action in card.detail), None)


def _fhir_card(notes: list[mg.Problem], version: str) -> dict[str, Any] | None:
    if not notes:
        return None
    attention = [n for n in notes if n.code in ATTENTION]
    shown = attention or notes
    summary = _short(f"FHIR data not used ({len(notes)}): " + "; ".join(n.message for n in shown))
    card = mg.Card("warning" if attention else "info", summary,
                   "\n".join(f"- `{n.code}` {n.field} ({n.value}): {n.message}" for n in notes),
                   "mgdecision FHIR reader", "", "fhir-input")
    return _card_json(card, version)


def evaluate(service_id: str, body: Any, *, everything: bool = False, today: date | None = None) -> HookResult:
    """Answer one hook call. ``everything``: every card, not only those that need attention."""
    if service_id not in SERVICES:
        raise KeyError(service_id)
    hook, context, inputs = _check_request(service_id, body)
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
                                            f"prefetch '{key}' was not provided; its data not read"))
    return _respond(hook, context, row, everything)


def _respond(hook: str, context: Mapping[str, Any], row: FhirRow, everything: bool) -> HookResult:
    assessment = mg.assess(row)
    version = assessment.knowledge_version
    interactions = assessment.interactions
    selected = set(context.get("selections") or [])
    drafts = {f"MedicationRequest/{e['resource'].get('id')}" for e in (context.get("draftOrders") or {}).get("entry")
              or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)}
    orders = [o for o in row.orders if (o.status == "draft" or o.reference in drafts)
              and (hook != "order-select" or not selected or o.reference in selected)]
    magnesium_orders = [o for o in orders if o.magnesium]
    ordered_drugs = {i.drug for o in orders if not o.magnesium for i in mg.assess({"medications": o.text}).interactions}
    stop = assessment.dose.status == mg.DoseStatus.DO_NOT_SUPPLEMENT

    cards: list[dict[str, Any]] = []
    for card in assessment.cards:
        interaction = _interaction_of(card, interactions) if card.topic == "interaction" else None
        wanted = everything or card.indicator != "info"
        if hook != "patient-view":
            if interaction is not None and (magnesium_orders or interaction.drug in ordered_drugs):
                wanted = True
            wanted = wanted or (card.topic == "dose" and bool(magnesium_orders))
        if not wanted:
            continue
        d = _card_json(card, version)
        suggestions = []
        if interaction is not None:
            spaced = interaction.before_h is not None or interaction.after_h is not None
            label = f"Separate {interaction.drug} from magnesium" if spaced else f"{interaction.drug} with magnesium"
            suggestions.append({"label": _short(f"{label}: {interaction.action}"), "uuid": _uuid(),
                                "isRecommended": True})
        if card.topic in ("contraindication", "dose") and card.indicator == "critical" and stop:
            for o in magnesium_orders:
                if o.reference:
                    suggestions.append({
                        "label": _short(f"Remove the magnesium order ({o.text})"), "uuid": _uuid(),
                        "isRecommended": True,
                        "actions": [{"type": "delete", "description": f"Remove {o.text}", "resourceId": o.reference}],
                    })
        if suggestions:
            d["suggestions"] = suggestions
            d["selectionBehavior"] = "at-most-one"
        cards.append(d)
    fhir = _fhir_card(row.notes, version)
    if fhir is not None and (everything or fhir["indicator"] != "info"):
        cards.append(fhir)
    cards.sort(key=lambda c: _ORDER[c["indicator"]])
    issued = [{"uuid": c["uuid"], "indicator": c["indicator"], "topic": c["source"]["topic"]["code"],
               "summary": c["summary"], "knowledge_version": version} for c in cards]
    return HookResult({"cards": cards}, issued)


# ---------------------------------------------------------------- feedback


def read_feedback(body: Any) -> list[dict[str, Any]]:
    """The feedback items of a ``POST /cds-services/{id}/feedback`` body, checked; BadRequest otherwise."""
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
        card = _require(item, "card", str, where)
        outcome = _require(item, "outcome", str, where)
        if outcome not in ("accepted", "overridden"):
            raise BadRequest(f"{where}outcome must be 'accepted' or 'overridden', not '{outcome}'")
        timestamp = _require(item, "outcomeTimestamp", str, where)
        reason = item.get("overrideReason") or {}
        if not isinstance(reason, dict):
            raise BadRequest(f"{where}overrideReason must be an object")
        coding = reason.get("reason") or {}
        if not isinstance(coding, dict):
            raise BadRequest(f"{where}overrideReason.reason must be a Coding")
        comment = reason.get("userComment")
        if comment is not None and not isinstance(comment, str):
            raise BadRequest(f"{where}overrideReason.userComment must be a string")
        accepted = item.get("acceptedSuggestions") or []
        if not isinstance(accepted, list) or not all(isinstance(s, dict) and isinstance(s.get("id"), str)
                                                     for s in accepted):
            raise BadRequest(f"{where}acceptedSuggestions must be an array of {{'id': ...}}")
        out.append({
            "card_uuid": card,
            "outcome": outcome,
            "outcome_timestamp": timestamp,
            "override_system": str(coding.get("system") or ""),
            "override_code": str(coding.get("code") or ""),
            "override_display": str(coding.get("display") or ""),
            "user_comment": comment or "",
            "accepted_suggestions": [s["id"] for s in accepted],
        })
    return out
