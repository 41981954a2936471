"""The row execution: every rule of the engine applied to one :class:`~mgdecision.reading.Patient`.

The lists' concepts are merged (each factor, rule and symptom once, in the order first named); then the
compiled row program of ``rules.toml`` (:class:`~mgdecision.engine.spec.RowProgram`) gives the row's facts,
the triggers that fire and the value factors that hold; the decisions (risk band, contraindication level,
dose) are the engine's memoised methods, which the table execution (:mod:`.table`) calls too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..models import Contraindication, Dose, Form, Interaction, Problem, Reason, Risk
from ..terms import QUALIFIERS, TermList, unchecked_lines
from ..vocab import ContraLevel

if TYPE_CHECKING:
    from ..reading import Patient
    from .core import Engine
    from .spec import RowProgram

__all__ = ["Findings", "ListEffects", "decide", "merge"]


@dataclass(slots=True)
class Findings:
    risk: Risk
    contraindication: Contraindication
    interactions: tuple[Interaction, ...]
    dose: Dose
    form: Form
    notes: tuple[Reason, ...]
    problems: tuple[Problem, ...] = ()  # what the rules found on the row's values (rules.toml [problems])


@dataclass(slots=True)
class ListEffects:
    """Everything the diagnosis, medication and symptom lists contribute, for one route."""

    risk_factors: tuple[str, ...]  # factor ids, in the order first named
    risk_names: tuple[tuple[str, ...], ...]  # per factor, the names that gave it
    compatible: tuple[str, ...]  # symptoms compatible with low magnesium, as first written
    symptom_ids: tuple[str, ...]  # every symptom on the row
    contra: Mapping[str, tuple[str, ...]]  # rule id -> what named it (rules the lists fire)
    held: Mapping[str, tuple[str, ...]]  # rule id -> what named it (rules fired by their condition)
    renal_codes: bool
    kidney_history_only: bool  # every item that tells the kidney function was written as history (9.4)
    interactions: tuple[Interaction, ...]
    indications: tuple[str, ...]
    forms: tuple[str, ...]  # form rule ids in priority order
    diarrhoea: bool
    notes: tuple[Reason, ...]
    sets: frozenset[str]
    readable: bool
    unrecognized: tuple[str, ...]  # "not checked" lines for what could not be checked


_NONE: Mapping[str, tuple[str, ...]] = MappingProxyType({})
HISTORY = QUALIFIERS[0]  # "history_chronic"
_NO_SETS: frozenset[str] = frozenset()
_NO_REASONS: tuple[Reason, ...] = ()


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
    renal_now = renal_past = False
    effects = engine.effects[route]
    if meds.concepts:  # a symptom written as a medication's indication ("pyridostigmine for constipation")
        for concept, _named, _who in meds.concepts:
            if concept.sets_as_indication:
                sets.add(concept.sets_as_indication)
    # each naming with the qualifiers of its own list (a diagnosis is not history because a symptom says so)
    for quals, (concept, named, who) in ((t.qualifiers, c) for t in (dx, meds, sym) for c in t.concepts):
        e = effects[concept.key]
        if not e.active:
            continue
        q = quals.get(concept.key) if quals else None
        if q is not None:  # written as history of a chronic condition, as suspected or as held: said with the name
            who = engine.qualified(who, q)
        if e.renal:
            renal = True
            if q == HISTORY:
                renal_past = True
            else:
                renal_now = True
        if e.risk:  # (no setdefault: it would make a list for every concept)
            if e.risk in hits:
                hits[e.risk].append(who)
            else:
                hits[e.risk] = [who]
        if e.contra:
            if e.contra in contra:
                contra[e.contra].append(who)
            else:
                contra[e.contra] = [who]
        if e.held:
            if e.held in held:
                held[e.held].append(who)
            else:
                held[e.held] = [who]
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
    if len(interactions) > 1:
        interactions.sort()
    chosen, diarrhoea = engine.form_choice(frozenset(forms)) if forms else ((), False)
    unrecognized: tuple[str, ...] = ()
    if dx.unrecognized or meds.unrecognized or dx.history or meds.history:
        unrecognized = (
            *unchecked_lines(dx.field, dx.unrecognized, dx.history),
            *unchecked_lines(meds.field, meds.unrecognized, meds.history),
        )
    return ListEffects(
        risk_factors=tuple(hits) if hits else (),
        risk_names=tuple([tuple(who) for who in hits.values()]) if hits else (),
        compatible=tuple(compatible),
        symptom_ids=tuple(symptoms),
        contra={k: tuple(v) for k, v in contra.items()} if contra else _NONE,
        held={k: tuple(v) for k, v in held.items()} if held else _NONE,
        renal_codes=renal,
        kidney_history_only=renal_past and not renal_now,
        interactions=tuple([i for _, _, i in interactions]) if interactions else (),
        indications=tuple(indications) if indications else (),
        forms=chosen,
        diarrhoea=diarrhoea,
        notes=(*notes, *engine.conflict_notes(frozenset(conflicts))) if conflicts else tuple(notes) if notes else (),
        sets=frozenset(sets) if sets else _NO_SETS,
        readable=dx.readable or meds.readable or sym.readable,
        unrecognized=unrecognized,
    )


def decide(engine: Engine, p: Patient) -> Findings:
    """Apply every rule to one patient."""
    status = engine.serum_status(p.serum) if p.serum is not None else None
    program = engine.spec.program
    route = p.route
    while True:  # the route the rules read may differ from the one written (IV magnesium on the list): read again
        le = merge(engine, p.diagnoses, p.medications, p.symptoms, route)
        fired: dict[str, tuple[str, ...]] = dict(le.contra) if le.contra else {}
        hits, valued, found, dose_key, band_key, intake, below, slots, not_checked, counts, symptom, ran = program.run(
            engine, p, status, le, fired
        )
        if ran[0] == route:
            break
        route = ran[0]
    risk, counted = _risk(engine, p, le, valued, band_key, below, slots, counts, symptom[0], program)
    contra = _contraindication(engine, le, fired, hits, not_checked)
    ids = frozenset([*(f"factor:{f}" for f in counted), *(f"symptom:{s}" for s in le.symptom_ids)])
    dose, form = engine.dose_and_form(
        contra.level,
        risk.level,
        le.indications,
        le.forms,
        le.diarrhoea,
        engine.rda_for(*intake),
        ids,
        contra.rules[0] if contra.rules else None,
        dose_key,
    )
    notes = (*le.notes, Reason(p.age_note, ())) if p.age_note else le.notes
    problems = tuple([engine.found_problem(k, v) for k, v in found]) if found else ()
    return Findings(risk, contra, le.interactions, dose, form, notes, problems)


def _risk(
    engine: Engine,
    p: Patient,
    le: ListEffects,
    valued: list[tuple[int, tuple[Any, ...]]],
    band_key: tuple[Any, ...],
    serum_below: tuple[bool, int],
    slots: tuple[bool, ...],
    counts: tuple[bool, ...],
    symptom_counts: bool,
    program: RowProgram,
) -> tuple[Risk, list[str]]:
    """The risk, and the factors that counted (list factors, then value factors)."""
    spec = engine.spec
    listed: list[Reason] = []
    counted: list[str] = []
    points = 0
    conditional = program.counts
    for fid, who in zip(le.risk_factors, le.risk_names, strict=True):
        if fid in conditional and not counts[conditional[fid]]:
            listed.append(engine.not_counted_reason(fid))
        else:
            listed.append(engine.factor_reason(fid, who))
            counted.append(fid)
            points += engine.factors[fid]["points"]
    valued_reasons = [engine.value_reason(k, v) for k, v in valued] if valued else _EMPTY
    counted += [spec.value_factors[k].factor for k, _v in valued]
    for reason in valued_reasons:
        points += reason.points or 0
    symptoms = engine.symptom_reason(le.compatible) if symptom_counts else None
    if symptoms is not None:
        points += symptoms.points or 0
    below, grade = serum_below
    level, capped = engine.risk_level(points, band_key)
    serum = p.serum
    reasons: list[Reason] = []
    for slot, shown in zip(spec.slots, slots, strict=True):
        if not shown or (slot.fallback and reasons):
            continue
        name = slot.name
        if name == "list_factors":
            reasons += listed
        elif name == "value_factors":
            reasons += valued_reasons
        elif name == "symptom_rule":
            if symptoms is not None:
                reasons.append(symptoms)
        elif name == "serum_below":
            if below and serum is not None:
                reasons.append(engine.serum_below_reason(serum))
        elif name == "capped":
            if capped and serum is not None and not below:
                reasons.append(engine.capped_reason(level, serum))
        else:  # the slots of one fixed reason: unknown, no_factor, serum_unused
            reasons.append(engine.slot_reasons[name])
    shown_points = sum([r.points or 0 for r in reasons])
    return Risk(level, shown_points, tuple(reasons), (grade or None) if below else None), counted


_EMPTY: list[Reason] = []


def _contraindication(
    engine: Engine,
    le: ListEffects,
    fired: dict[str, tuple[str, ...]],
    hits: list[tuple[int, tuple[Any, ...]]],
    holds: tuple[bool, ...],
) -> Contraindication:
    triggers = engine.spec.fire
    for k, detail in hits:
        rule = triggers[k].rule
        fired[rule] = (*fired.get(rule, ()), engine.trigger_detail(k, detail))
    level, order = engine.contra_outcome(tuple(fired))
    reasons = [engine.contra_reason(rule_id, fired[rule_id]) for rule_id in order]
    lines = engine.not_checked_lines(holds)
    not_checked = (*lines, *le.unrecognized) if le.unrecognized else lines
    if level == ContraLevel.NONE_FOUND:
        reasons.append(engine.none_found_reason(not_checked))
    return Contraindication(level, tuple(reasons), not_checked, order)
