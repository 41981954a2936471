"""The row execution: every rule of the engine applied to one :class:`~mgdecision.reading.Patient`.

The lists' concepts are merged (each factor, rule and symptom once, in the order first named); then the
rules of ``rules.toml`` run in order on the row's facts: contraindication triggers, value factors, the risk
band, the dose status. :mod:`.table` does the same for whole columns; the snapshot and parity tests hold
them equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import KnowledgeError
from ..models import Contraindication, Dose, Form, Interaction, Reason, Risk
from ..terms import TermList, unchecked_lines
from ..vocab import ContraLevel
from .expr import Reader, Template, function, python
from .spec import RISK_SLOTS, SERUM_FACTS, RuleSpec

if TYPE_CHECKING:
    from ..reading import Patient
    from .core import Engine, SerumStatus

__all__ = ["Findings", "ListEffects", "RowRules", "compile_row", "decide", "merge", "row_reader"]

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


# ---------------------------------------------------------------- rules.toml compiled for one row

_PARAMS = "p, st, e, pregnant, lactating, dialysis, held"  # the row, its serum status, the engine, what merge set
_READS = {
    # numbers as floats, -0.0 read as 0.0 (equal keys of a memo must print alike)
    "age": "(NAN if p.age is None else p.age + 0.0)",
    "egfr": "(NAN if p.egfr is None else p.egfr + 0.0)",
    "dose": "(NAN if p.supplement_dose_mg is None else p.supplement_dose_mg + 0.0)",
    "age_months": "(NAN if p.age is None else p.age * 12 + 0.0)",
    "route": "p.route",
    "sex": "p.sex",
    "pregnant": "pregnant",
    "lactating": "lactating",
    "dialysis": "dialysis",
    "ul_age": "e.ul_age(p.age)",
    "ul_any_age": "e.ul_any_age",
    "serum": "(None if p.serum is None else p.serum.display())",
    "serum_unit": "(None if p.serum is None else p.serum.unit)",
}
_READS.update(
    {
        name: f"({'NAN' if default != default else repr(default)} if st is None or st.{attribute} is None"
        f" else st.{attribute})"
        for name, (attribute, default) in SERUM_FACTS.items()
    }
)
_NAMESPACE = {"NAN": _NAN, "KNOWN": lambda v: v is not None and v == v}  # NaN is not equal to itself


def row_reader(rule: str | None = None) -> Reader:
    """How a generated row function reads each fact (``rule``: the rule whose names ``listed`` joins)."""

    def read(name: str) -> str:
        if name in _READS:
            return _READS[name]
        kind, _, arg = name.partition(":")
        if kind == "known" and arg:
            return f"KNOWN({read(arg)})"
        if kind == "listed" and arg:
            return f"({arg!r} in held)"
        if kind == "fired" and arg:
            return f"({arg!r} in fired)"
        if name == "listed" and rule is not None:
            return f"', '.join(held.get({rule!r}, ()))"
        raise KnowledgeError(f"rules.toml: the fact {name!r} cannot be read for one row here")

    return read


@dataclass(frozen=True)
class RowRules:
    """The row execution of rules.toml: one generated function per list of conditions, and per message the
    function that reads the values it names (its memo key)."""

    fire: Callable[..., int]  # (_PARAMS, rules fired by the lists) -> a bit per trigger that fires
    fire_values: tuple[Callable[..., tuple[Any, ...]], ...]
    value_factors: Callable[..., int]  # (_PARAMS) -> a bit per value factor that holds
    value_factor_values: tuple[Callable[..., tuple[Any, ...]], ...]
    risk_reasons: Callable[..., tuple[Reason, ...]]  # the risk reasons joined in the order of rules.toml


def compile_row(spec: RuleSpec) -> RowRules:
    def values(template: Template, rule: str | None = None) -> Callable[..., tuple[Any, ...]]:
        read = row_reader(rule)
        items = "".join(f"{read(name)}, " for name in template.names)
        return function(_PARAMS, [f"return ({items})"], _NAMESPACE)  # type: ignore[no-any-return]

    # the triggers in order, as one function returning a bit per trigger that fires (an int: nothing for the
    # garbage collector to track); fired(rule) reads a local flag, set from the rules the lists fired and
    # by each earlier trigger of that rule
    read_fired = sorted({rule for t in spec.fire for rule in t.fired_reads})
    local = {rule: f"fired_{k}" for k, rule in enumerate(read_fired)}

    def read_trigger(name: str) -> str:
        kind, _, arg = name.partition(":")
        return local[arg] if kind == "fired" else row_reader()(name)

    lines = [f"{local[rule]} = {rule!r} in fired" for rule in read_fired] + ["hits = 0"]
    for k, trigger in enumerate(spec.fire):
        lines += [f"if {python(trigger.when.tree, read_trigger)}:", f"    hits |= {1 << k}"]
        if trigger.rule in local:
            lines.append(f"    {local[trigger.rule]} = True")
    fire = function(f"{_PARAMS}, fired", [*lines, "return hits"], _NAMESPACE)
    lines = ["hits = 0"]
    for k, vf in enumerate(spec.value_factors):
        lines += [f"if {python(vf.when.tree, row_reader())}:", f"    hits |= {1 << k}"]
    value_factors = function(_PARAMS, [*lines, "return hits"], _NAMESPACE)
    return RowRules(
        fire,
        tuple(values(t.detail, t.rule) for t in spec.fire),
        value_factors,
        tuple(values(vf.detail) for vf in spec.value_factors),
        # the risk reasons joined in the order of rules.toml (only slot numbers reach the generated code)
        function(
            ", ".join(f"g{k}" for k in range(len(RISK_SLOTS))),
            [f"return ({', '.join(f'*g{k}' for k in spec.risk_order)},)"],
        ),
    )


def decide(engine: Engine, p: Patient) -> Findings:
    """Apply every rule to one patient."""
    le = merge(engine, p.diagnoses, p.medications, p.symptoms, p.route)
    status = engine.serum_status(p.serum) if p.serum is not None else None
    sets = le.sets
    pregnant = bool(p.pregnant) or "pregnant" in sets
    lactating = bool(p.lactating) or "lactating" in sets
    dialysis = bool(p.dialysis) or "dialysis" in sets
    kidney_unknown = p.egfr is None and not p.dialysis and not le.renal_codes  # "no dialysis" says nothing of eGFR
    row = (p, status, engine, pregnant, lactating, dialysis, le.held)  # what the generated functions read
    risk = _risk(engine, p, status, le, row)
    contra = _contraindication(engine, p, le, row, kidney_unknown)
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


def _risk(engine: Engine, p: Patient, status: SerumStatus | None, le: ListEffects, row: tuple[Any, ...]) -> Risk:
    points = le.risk_points
    listed: Sequence[Reason] = le.risk_reasons
    if listed and status is not None and not status.below:  # a history that a measured normal value overrides
        factors = engine.factors
        for k, fid in enumerate(le.risk_factors):
            if factors[fid].get("not_with_normal_serum"):
                points -= factors[fid]["points"]
                listed = [*listed[:k], engine.overridden_reason(fid), *listed[k + 1 :]]
    rules = engine.row_rules
    valued: Sequence[Reason] = _NO_REASONS
    hits = rules.value_factors(*row)
    if hits:
        made = rules.value_factor_values
        valued = [engine.value_reason(k, made[k](*row)) for k in _set_bits(hits)]
        for reason in valued:
            points += reason.points or 0
    symptoms = le.symptom_reason
    if symptoms is not None:
        points += symptoms.points or 0
    below = status is not None and status.below
    unknown = status is None and p.age is None and not le.readable
    level, capped = engine.risk_level(points, below, unknown, status is not None and status.at_or_above_cut)
    serum = p.serum
    unused = (engine.serum_unused_reason,) if serum is None and p.serum_given else _NO_REASONS
    if unknown:
        return Risk(level, 0, (engine.unknown_reason, *unused))
    shown_below = shown_cap = _NO_REASONS
    if serum is not None:
        if below:
            shown_below = (engine.serum_reason("below", serum),)
        elif capped:
            shown_cap = (engine.serum_reason(f"capped at {level}", serum),)
    sym = (symptoms,) if symptoms is not None else _NO_REASONS
    if listed or valued or sym or shown_below or shown_cap:
        found = rules.risk_reasons(shown_below, listed, valued, sym, shown_cap, unused)
    else:
        found = (engine.no_factor_reason, *unused)
    return Risk(level, points, found, status.hypo_grade if below and status else None)


_NO_REASONS: tuple[Reason, ...] = ()


@lru_cache(maxsize=4096)
def _set_bits(mask: int) -> tuple[int, ...]:
    """The positions of the set bits of ``mask``, lowest first (which triggers or value factors hold)."""
    return tuple(k for k in range(mask.bit_length()) if mask >> k & 1)


def _contraindication(
    engine: Engine, p: Patient, le: ListEffects, row: tuple[Any, ...], kidney_unknown: bool
) -> Contraindication:
    fired: dict[str, tuple[str, ...]] = dict(le.contra) if le.contra else {}
    rules, triggers = engine.row_rules, engine.spec.fire
    hits = rules.fire(*row, fired)
    for k in _set_bits(hits) if hits else ():
        rule = triggers[k].rule
        fired[rule] = (*fired.get(rule, ()), engine.trigger_detail(k, rules.fire_values[k](*row)))
    level, order = engine.contra_outcome(tuple(fired))
    reasons = [engine.contra_reason(rule_id, fired[rule_id]) for rule_id in order]
    not_checked = engine.unchecked(kidney_unknown, p.serum is None, le.unrecognized)
    if level == ContraLevel.NONE_FOUND:
        reasons.append(engine.none_found_reason(not_checked))
    return Contraindication(level, tuple(reasons), not_checked, order)
