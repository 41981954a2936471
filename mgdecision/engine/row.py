"""The row execution: every rule of the engine applied to one :class:`~mgdecision.reading.Patient`.

The lists' concepts are merged (each factor, rule and symptom once, in the order first named); then the
rules of ``rules.toml`` run in order on the row's facts: contraindication triggers, value factors, the risk
band, the dose status. :mod:`.table` does the same for whole columns; the snapshot and parity tests hold
them equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..models import Contraindication, Dose, Form, Interaction, Reason, Risk
from ..terms import TermList, unchecked_lines
from ..vocab import ContraLevel

if TYPE_CHECKING:
    from ..reading import Patient
    from .core import Engine, SerumStatus

__all__ = ["Findings", "ListEffects", "decide", "merge"]

_NAN = math.nan


@dataclass(slots=True)
class Findings:
    risk: Risk
    contraindication: Contraindication
    interactions: tuple[Interaction, ...]
    dose: Dose
    form: Form
    notes: tuple[Reason, ...]


@dataclass(slots=True)
class ListEffects:
    """Everything the diagnosis, medication and symptom lists contribute, for one route."""

    risk_factors: tuple[str, ...]  # factor ids, in the order of risk_reasons
    risk_reasons: tuple[Reason, ...]
    risk_points: int
    symptom_reason: Reason | None
    contra: Mapping[str, tuple[str, ...]]  # rule id -> what named it (rules the lists fire)
    held: Mapping[str, tuple[str, ...]]  # rule id -> what named it (rules fired by their condition)
    renal_codes: bool
    interactions: tuple[Interaction, ...]
    indications: tuple[str, ...]
    forms: tuple[str, ...]  # form rule ids in priority order
    diarrhoea: bool
    notes: tuple[Reason, ...]
    sets: frozenset[str]
    readable: bool
    unrecognized: tuple[str, ...]  # "not checked" lines for what could not be checked


_NONE: Mapping[str, tuple[str, ...]] = MappingProxyType({})
_NO_SETS: frozenset[str] = frozenset()


def merge(engine: Engine, dx: TermList, meds: TermList, sym: TermList, route: str) -> ListEffects:
    """What the three lists contribute together: each factor, rule and symptom counts once."""
    hits: dict[str, list[str]] = {}
    contra: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    symptoms: dict[str, str] = {}
    interactions: list[tuple[int, int, Interaction]] = []
    indications: dict[str, None] = {}
    forms: set[str] = set()
    notes: list[Reason] = []
    conflicts: set[str] = set()
    sets: set[str] = set()
    renal = False
    effects = engine.effects[route]
    for concept, named, who in (*dx.concepts, *meds.concepts, *sym.concepts):
        e = effects[concept.key]
        if not e.active:
            continue
        if e.renal:
            renal = True
        if e.risk:
            hits.setdefault(e.risk, []).append(who)
        if e.contra:
            contra.setdefault(e.contra, []).append(who)
        if e.held:
            held.setdefault(e.held, []).append(who)
        if e.symptom and e.symptom not in symptoms:
            symptoms[e.symptom] = named
        if e.interaction:
            interactions.append(
                (e.interaction[0], len(interactions), engine.interaction(concept.label, named, e.interaction))
            )
        if e.indication:
            indications[e.indication] = None
        if e.form:
            forms.add(e.form)
        if e.note:
            notes.append(engine.note_reason(e.note, who, e.sources))
        if e.sets:
            sets.add(e.sets)
        if e.conflicts:
            conflicts.update(e.conflicts)
    compatible = []
    if symptoms:
        table = engine.symptom_effects
        for sid, named in symptoms.items():
            indication, form, fits = table[sid]
            if indication:
                indications[indication] = None
            if form:
                forms.add(form)
            if fits:
                compatible.append(named)
    factors = engine.factors
    if len(interactions) > 1:
        interactions.sort()
    chosen, diarrhoea = engine.form_choice(frozenset(forms)) if forms else ((), False)
    unrecognized: tuple[str, ...] = ()
    if dx.unrecognized or meds.unrecognized or dx.history or meds.history:
        unrecognized = (
            *unchecked_lines(dx.field, dx.unrecognized, dx.history),
            *unchecked_lines(meds.field, meds.unrecognized, meds.history),
        )
    min_count = engine.symptom_rule["min_count"]
    return ListEffects(
        risk_factors=tuple(hits) if hits else (),
        risk_reasons=tuple([engine.factor_reason(fid, tuple(who)) for fid, who in hits.items()]) if hits else (),
        risk_points=sum([factors[fid]["points"] for fid in hits]) if hits else 0,
        symptom_reason=engine.symptom_reason(tuple(compatible)) if len(compatible) >= min_count else None,
        contra={k: tuple(v) for k, v in contra.items()} if contra else _NONE,
        held={k: tuple(v) for k, v in held.items()} if held else _NONE,
        renal_codes=renal,
        interactions=tuple([i for _, _, i in interactions]) if interactions else (),
        indications=tuple(indications) if indications else (),
        forms=chosen,
        diarrhoea=diarrhoea,
        notes=(*notes, *engine.conflict_notes(frozenset(conflicts))) if conflicts else tuple(notes) if notes else (),
        sets=frozenset(sets) if sets else _NO_SETS,
        readable=dx.readable or meds.readable or sym.readable,
        unrecognized=unrecognized,
    )


class RowFacts(dict[str, Any]):
    """The facts of one row that the conditions and messages of rules.toml read, worked out on first use."""

    def __init__(
        self, engine: Engine, p: Patient, status: SerumStatus | None, pregnant: bool, lactating: bool, dialysis: bool
    ) -> None:
        super().__init__(pregnant=pregnant, lactating=lactating, dialysis=dialysis)
        self.engine, self.p, self.status = engine, p, status

    def __missing__(self, name: str) -> Any:
        value = row_fact(self.engine, self.p, self.status, name)
        self[name] = value
        return value


def row_fact(engine: Engine, p: Patient, st: SerumStatus | None, name: str) -> Any:
    """One fact of the row (NaN for a number the row does not give)."""
    if name == "age":
        return _NAN if p.age is None else p.age
    if name == "egfr":
        return _NAN if p.egfr is None else p.egfr
    if name == "dose":
        return _NAN if p.supplement_dose_mg is None else p.supplement_dose_mg
    if name == "route":
        return p.route
    if name == "sex":
        return p.sex
    if name == "age_months":
        return _NAN if p.age is None else p.age * 12
    if name == "ul_age":
        ul = engine.ul_for_age(p.age) if p.age is not None else None
        return _NAN if ul is None else ul
    if name == "ul_any_age":
        return engine.ul_any_age
    if name.startswith("known:"):
        value = row_fact(engine, p, st, name[6:])
        return value is not None and not (isinstance(value, float) and math.isnan(value))
    serum = p.serum
    if name == "serum":
        return serum.display() if serum is not None else None
    if name == "serum_unit":
        return serum.unit if serum is not None else None
    if st is None:
        return False if name in _SERUM_FLAGS else 0 if name in _GRADES else _NAN
    if name in _SERUM_FLAGS:
        return getattr(st, _SERUM_FLAGS[name])
    if name in _GRADES:
        return getattr(st, name) or 0
    return float(getattr(st, _SERUM_NUMBERS[name]))


_SERUM_FLAGS = {
    "serum_above": "above",
    "serum_below": "below",
    "serum_urgent": "urgent",
    "serum_low_normal": "low_normal",
    "serum_normal": "at_or_above_cut",
}
_GRADES = ("hypo_grade", "hyper_grade")
_SERUM_NUMBERS = {"serum_upper": "upper", "serum_cut": "cut", "urgent_limit": "urgent_limit"}


def decide(engine: Engine, p: Patient) -> Findings:
    """Apply every rule to one patient."""
    le = merge(engine, p.diagnoses, p.medications, p.symptoms, p.route)
    status = engine.serum_status(p.serum) if p.serum is not None else None
    sets = le.sets
    pregnant = bool(p.pregnant) or "pregnant" in sets
    lactating = bool(p.lactating) or "lactating" in sets
    dialysis = bool(p.dialysis) or "dialysis" in sets
    kidney_unknown = p.egfr is None and not p.dialysis and not le.renal_codes  # "no dialysis" says nothing of eGFR
    facts = RowFacts(engine, p, status, pregnant, lactating, dialysis)
    risk = _risk(engine, p, status, le, facts)
    contra = _contraindication(engine, p, le, facts, kidney_unknown)
    rda, ul, age_class = engine.intake_for(p.age, p.sex, pregnant, lactating)
    grade = status.hypo_grade if status is not None else None
    dose, form = engine.dose_and_form(
        contra.level,
        risk.level,
        grade,
        age_class,
        rda,
        ul,
        le.indications,
        le.forms,
        le.diarrhoea,
        status is not None and status.urgent,
        kidney_unknown,
        p.serum is None,
    )
    notes = (*le.notes, Reason(p.age_note, ())) if p.age_note else le.notes
    return Findings(risk, contra, le.interactions, dose, form, notes)


def _risk(engine: Engine, p: Patient, status: SerumStatus | None, le: ListEffects, facts: RowFacts) -> Risk:
    spec = engine.spec
    factors = engine.factors
    slots: list[tuple[int, int, Reason]] = []
    slot = spec.risk_slots
    points = le.risk_points
    if le.risk_reasons:
        reasons = list(le.risk_reasons)
        if status is not None and not status.below:  # a history that a measured normal value overrides
            for k, fid in enumerate(le.risk_factors):
                if factors[fid].get("not_with_normal_serum"):
                    points -= factors[fid]["points"]
                    reasons[k] = engine.overridden_reason(fid)
        slots += [(slot["list_factors"], k, r) for k, r in enumerate(reasons)]
    for k, vf in enumerate(spec.value_factors):
        if vf.when.row(facts):
            reason = engine.value_factor_reason(vf.factor, vf.detail.format(facts))
            points += reason.points or 0
            slots.append((slot["value_factors"], k, reason))
    if le.symptom_reason is not None:
        points += le.symptom_reason.points or 0
        slots.append((slot["symptom_rule"], 0, le.symptom_reason))
    below = status is not None and status.below
    unknown = status is None and p.age is None and not le.readable
    level, capped = engine.risk_level(points, below, unknown, status is not None and status.at_or_above_cut)
    serum = p.serum
    if unknown:
        found: tuple[Reason, ...] = (engine.unknown_reason,)
        return Risk(level, 0, (*found, engine.serum_unused_reason) if p.serum_given else found)
    if below and serum is not None:
        slots.append((slot["serum_below"], 0, engine.serum_reason("below", serum)))
    elif capped and serum is not None:
        slots.append((slot["capped"], 0, engine.serum_reason(f"capped at {level}", serum)))
    if serum is None and p.serum_given:
        slots.append((slot["serum_unused"], 0, engine.serum_unused_reason))
    slots.sort(key=_slot_order)
    found = tuple([r for _, _, r in slots])
    if not found or found == (engine.serum_unused_reason,):
        found = (engine.no_factor_reason, *found)
    return Risk(level, points, found, status.hypo_grade if below and status is not None else None)


def _slot_order(item: tuple[int, int, Reason]) -> tuple[int, int]:
    return item[0], item[1]


def _contraindication(
    engine: Engine, p: Patient, le: ListEffects, facts: RowFacts, kidney_unknown: bool
) -> Contraindication:
    fired: dict[str, tuple[str, ...]] = dict(le.contra) if le.contra else {}
    held = le.held
    for rule in engine.spec.held:
        facts[f"listed:{rule}"] = rule in held
    for trigger in engine.spec.fire:
        for rule in trigger.fired_reads:
            facts[f"fired:{rule}"] = rule in fired
        facts["listed"] = ", ".join(held.get(trigger.rule, ()))
        if trigger.when.row(facts):
            fired[trigger.rule] = (*fired.get(trigger.rule, ()), trigger.detail.format(facts))
    level, order = engine.contra_outcome(tuple(fired))
    reasons = [engine.contra_reason(rule_id, fired[rule_id]) for rule_id in order]
    not_checked = engine.unchecked(kidney_unknown, p.serum is None, le.unrecognized)
    if level == ContraLevel.NONE_FOUND:
        reasons.append(engine.none_found_reason(not_checked))
    return Contraindication(level, tuple(reasons), not_checked, order)
