"""The clinical rules (clinical-rules.md sections 2-5): one function, :func:`decide`, used by every path.

It takes a :class:`Patient` as read and returns the four findings: deficiency risk, contraindication
level, interactions, and dose with form and timing. Numbers, lists and texts come from the knowledge
base; this module holds only the shape of each rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

from .kb import Concept, knowledge
from .models import Contraindication, Dose, Form, Interaction, Reason, Risk
from .reading import Patient, Serum
from .terms import TermList, unchecked_lines
from .vocab import ContraLevel, DoseStatus, RiskLevel

__all__ = ["Findings", "decide", "rda_mg", "ul_mg"]

SEVERITY_ORDER = {"major": 0, "moderate": 1, "minor": 2}
_FORM_PRIORITY = ("sleep", "anxiety", "cramps", "constipation", "brain_fog", "fatigue", "migraine")


@dataclass(slots=True)
class Findings:
    risk: Risk
    contraindication: Contraindication
    interactions: tuple[Interaction, ...]
    dose: Dose
    form: Form
    notes: tuple[Reason, ...]


@dataclass(slots=True)
class _SerumStatus:
    below: bool
    above: bool
    low_normal: bool
    at_or_above_cut: bool
    lower: float
    upper: float
    cut: float
    hypo_grade: int | None
    hyper_grade: int | None
    urgent: bool  # above the urgent limit for hypermagnesaemia


@cache
def tables() -> dict[str, Any]:
    kb = knowledge()
    serum = kb.serum
    return {
        "lower": serum["limits"]["lower"],
        "upper": serum["limits"]["upper"],
        "cut": serum["limits"]["low_normal"],
        "limit_sources": tuple({*_src(serum["limits"]["lower"]), *_src(serum["limits"]["upper"])}),
        "ctcae_hypo": serum["ctcae_hypo"],
        "ctcae_hyper": serum["ctcae_hyper"],
        "urgent": serum["urgent"]["above"],
        "flag_hypo_grade": serum["lab_range"]["flag_hypo_grade"],
        "factors": kb.risk["factors"],
        "levels": kb.risk["levels"],
        "symptom_rule": kb.risk["symptom_rule"],
        "rules": kb.contraindications["rules"],
        "renal": kb.contraindications["renal"],
        "interactions": kb.interactions,
        "dosing": kb.dosing,
        "rda": kb.intake["rda"]["bands"],
        "ul": kb.intake["ul"]["bands"],
        "ul_preg": kb.intake["ul"]["pregnancy_lactation_ul"],
        "intake_source": _src(kb.intake["rda"]),
    }


_SRC_CACHE: dict[int, tuple[str, ...]] = {}


def _src(entry: Any) -> tuple[str, ...]:
    """Source ids of a knowledge entry (memoised per entry; the knowledge tables are never mutated)."""
    key = id(entry)
    found = _SRC_CACHE.get(key)
    if found is None:
        raw = entry.get("source", ()) if isinstance(entry, dict) else ()
        found = _SRC_CACHE[key] = (raw,) if isinstance(raw, str) else tuple(raw)
    return found


# ---------------------------------------------------------------- reference intakes


def _band(bands: list[dict[str, Any]], age: float) -> dict[str, Any] | None:
    for band in bands:
        if band["min"] <= age < band["max"]:
            return band
    return None


def rda_mg(age: float, sex: str | None, pregnant: bool = False, lactating: bool = False) -> float | None:
    """RDA (or AI under 1 year) of magnesium in mg/day from all sources; None if sex is needed and not given."""
    band = _band(tables()["rda"], float(age))
    if band is None:
        return None
    if pregnant and "pregnant" in band:
        return float(band["pregnant"])
    if lactating and "lactating" in band:
        return float(band["lactating"])
    if band["female"] == band["male"]:
        return float(band["female"])
    key = {"F": "female", "M": "male"}.get((sex or "").upper()[:1])
    return float(band[key]) if key else None


def ul_mg(age: float) -> float | None:
    """Upper limit of supplemental magnesium in mg/day for the age; None under 1 year (not established)."""
    band = _band(tables()["ul"], float(age))
    if band is None or not band["ul"]:
        return None
    return float(band["ul"])


# ---------------------------------------------------------------- serum


def _grade(table: Any, value: float, unit: str, key: str) -> int:
    if isinstance(table.get(unit), str):  # mEq/L -> graded as mmol/L after halving
        value, unit = value / 2.0, table[unit]
    grade = 1
    for step in table[unit]:
        if (key == "below" and value < step["below"]) or (key == "above" and value > step["above"]):
            grade = step["grade"]
    return grade


@lru_cache(maxsize=65536)
def serum_status(serum: Serum) -> _SerumStatus:
    t = tables()
    unit, value = serum.unit, serum.value
    lower = serum.ref_low if serum.ref_low is not None else t["lower"][unit]
    upper = serum.ref_high if serum.ref_high is not None else t["upper"][unit]
    cut = t["cut"][unit]
    urgent = value > t["urgent"][unit]
    below, above = value < lower, value > upper or urgent
    if not below and value < t["lower"][unit]:  # a lab range never hides CTCAE grade 3-4 (amendment 2026-12, 3)
        below = _grade(t["ctcae_hypo"], value, unit, "below") >= t["flag_hypo_grade"]
    return _SerumStatus(
        below=below,
        above=above,
        low_normal=not below and not above and value < cut,
        at_or_above_cut=value >= cut,
        lower=lower,
        upper=upper,
        cut=cut,
        hypo_grade=_grade(t["ctcae_hypo"], value, unit, "below") if below else None,
        hyper_grade=_grade(t["ctcae_hyper"], value, unit, "above") if above else None,
        urgent=urgent,
    )


# ---------------------------------------------------------------- what the lists say (resolved per concept)


@dataclass(slots=True)
class _ListEffects:
    """Everything the diagnosis, medication and symptom lists contribute, for one route."""

    risk_factors: tuple[str, ...]  # factor ids, in the order of risk_reasons
    risk_reasons: tuple[Reason, ...]
    risk_points: int
    symptom_reason: Reason | None
    contra: Mapping[str, tuple[str, ...]]  # rule id -> what triggered it
    k_sparing: tuple[str, ...]
    renal_codes: bool
    interactions: tuple[Interaction, ...]
    indications: tuple[str, ...]
    forms: tuple[str, ...]  # form rule ids in priority order
    diarrhoea: bool
    notes: tuple[Reason, ...]
    sets: frozenset[str]
    readable: bool
    unrecognized: tuple[str, ...]  # "field not recognised: ..." lines for what could not be checked


_NO_RULES: Mapping[str, tuple[str, ...]] = MappingProxyType({})
_NO_SETS: frozenset[str] = frozenset()


@lru_cache(maxsize=16384)
def factor_reason(fid: str, who: tuple[str, ...]) -> Reason:
    factor = tables()["factors"][fid]
    return Reason(f"{factor['label']}: {', '.join(who)}", _src(factor), factor["points"])


@lru_cache(maxsize=1024)
def symptom_reason(names: tuple[str, ...]) -> Reason:
    rule = tables()["symptom_rule"]
    return Reason(f"{rule['label']}: {', '.join(names)}", _src(rule), rule["points"])


@lru_cache(maxsize=64)
def conflict_notes(conflicts: frozenset[str]) -> tuple[Reason, ...]:
    kb = knowledge()
    return tuple(
        Reason(f"seed article conflict: {c['claim']}; the evidence: {c['fact']}", _src(c))
        for cid, c in kb.seed_conflicts.items()
        if cid in conflicts
    )


@dataclass(slots=True)
class _Effect:
    """What one concept does for one route, resolved once from the knowledge base."""

    risk: str | None
    contra: str | None
    symptom: str | None
    interaction: tuple[int, str, str, Any, Any, tuple[str, ...]] | None  # (order, severity, action, h, h, sources)
    indication: str | None
    form: str | None
    note: str | None
    sources: tuple[str, ...]
    sets: str | None
    conflicts: tuple[str, ...]
    renal: bool
    active: bool  # does anything at all


_EFFECTS: dict[str, dict[int, _Effect]] = {}  # route -> id(concept) -> effect (concepts live as long as the process)


def route_effects(route: str) -> dict[int, _Effect]:
    found = _EFFECTS.get(route)
    if found is None:
        found = _EFFECTS[route] = {id(c): _resolve_effect(c, route) for c in knowledge().concepts.values()}
    return found


def _resolve_effect(concept: Concept, route: str) -> _Effect:
    t = tables()
    interaction = None
    if concept.interaction:
        inter = t["interactions"][concept.interaction]
        severity, action = inter["severity"], inter["action"]
        severity = severity[route] if isinstance(severity, dict) else severity  # by route where they differ
        action = action[route] if isinstance(action, dict) else action
        interaction = (
            SEVERITY_ORDER[severity],
            severity,
            action,
            inter.get("before_h"),
            inter.get("after_h"),
            _src(inter),
        )
    symptom = concept.id if concept.kind == "symptom" and concept.id != "other" else concept.symptom
    conflicts = tuple(cid for cid, c in knowledge().seed_conflicts.items() if concept.id in c["when"])
    contra = concept.contra.get(route)
    indication = concept.label if concept.indication else None
    renal = concept.kidney
    active = any((concept.risk, contra, symptom, interaction, indication, concept.form, concept.note, concept.sets))
    return _Effect(
        concept.risk,
        contra,
        symptom,
        interaction,
        indication,
        concept.form,
        concept.note,
        concept.sources,
        concept.sets,
        conflicts,
        renal,
        active or renal or bool(conflicts),
    )


@lru_cache(maxsize=8192)
def _interaction(drug: str, written: str, found: tuple[int, str, str, Any, Any, tuple[str, ...]]) -> Interaction:
    _order, severity, action, before, after, sources = found
    return Interaction(drug, severity, action, before, after, sources, written)


@lru_cache(maxsize=8192)
def interaction_text(shown: str, found: tuple[int, str, str, Any, Any, tuple[str, ...]]) -> str:
    """The interaction as listed in ``mg_interactions`` (``str`` of its :class:`Interaction`), from the name shown."""
    return f"{shown} ({found[1]}): {found[2]}"


@lru_cache(maxsize=8192)
def note_reason(note: str, who: str, sources: tuple[str, ...]) -> Reason:
    return Reason(f"{note} ({who})", sources)


@cache
def symptom_effects() -> dict[str, tuple[str | None, str | None, bool]]:
    """Symptom id -> (indication label, form rule, compatible with low magnesium)."""
    out = {}
    for key, c in knowledge().concepts.items():
        if key.startswith("symptom:"):
            out[c.id] = (c.label if c.indication else None, c.form, c.compatible)
    return out


def _merge(dx: TermList, meds: TermList, sym: TermList, route: str) -> _ListEffects:
    """What the three lists contribute together: each factor, rule and symptom counts once."""
    t = tables()
    hits: dict[str, list[str]] = {}
    contra: dict[str, list[str]] = {}
    k_sparing: list[str] = []
    symptoms: dict[str, str] = {}
    interactions: list[tuple[int, int, Interaction]] = []
    indications: dict[str, None] = {}
    forms: set[str] = set()
    notes: list[Reason] = []
    conflicts: set[str] = set()
    sets: set[str] = set()
    renal = False
    effects = route_effects(route)
    for concept, named, who in (*dx.concepts, *meds.concepts, *sym.concepts):
        e = effects[id(concept)]
        if not e.active:
            continue
        if e.renal:
            renal = True
        if e.risk:
            if e.risk in hits:
                hits[e.risk].append(who)
            else:
                hits[e.risk] = [who]
        if e.contra:
            if e.contra == "k_sparing_renal":
                k_sparing.append(who)
            elif e.contra in contra:
                contra[e.contra].append(who)
            else:
                contra[e.contra] = [who]
        if e.symptom and e.symptom not in symptoms:
            symptoms[e.symptom] = named
        if e.interaction:
            interactions.append(
                (e.interaction[0], len(interactions), _interaction(concept.label, named, e.interaction))
            )
        if e.indication:
            indications[e.indication] = None
        if e.form:
            forms.add(e.form)
        if e.note:
            notes.append(note_reason(e.note, who, e.sources))
        if e.sets:
            sets.add(e.sets)
        if e.conflicts:
            conflicts.update(e.conflicts)
    compatible = []
    if symptoms:
        table = symptom_effects()
        for sid, named in symptoms.items():
            indication, form, fits = table[sid]
            if indication:
                indications[indication] = None
            if form:
                forms.add(form)
            if fits:
                compatible.append(named)
    factors = t["factors"]
    if len(interactions) > 1:
        interactions.sort()
    chosen, diarrhoea = form_choice(frozenset(forms)) if forms else ((), False)
    unrecognized: tuple[str, ...] = ()
    if dx.unrecognized or meds.unrecognized or dx.history or meds.history:
        unrecognized = (
            *unchecked_lines(dx.field, dx.unrecognized, dx.history),
            *unchecked_lines(meds.field, meds.unrecognized, meds.history),
        )
    return _ListEffects(
        risk_factors=tuple(hits) if hits else (),
        risk_reasons=tuple([factor_reason(fid, tuple(who)) for fid, who in hits.items()]) if hits else (),
        risk_points=sum([factors[fid]["points"] for fid in hits]) if hits else 0,
        symptom_reason=symptom_reason(tuple(compatible)) if len(compatible) >= t["symptom_rule"]["min_count"] else None,
        contra={k: tuple(v) for k, v in contra.items()} if contra else _NO_RULES,
        k_sparing=tuple(k_sparing) if k_sparing else (),
        renal_codes=renal,
        interactions=tuple([i for _, _, i in interactions]) if interactions else (),
        indications=tuple(indications) if indications else (),
        forms=chosen,
        diarrhoea=diarrhoea,
        notes=(*notes, *conflict_notes(frozenset(conflicts))) if conflicts else tuple(notes) if notes else (),
        sets=frozenset(sets) if sets else _NO_SETS,
        readable=dx.readable or meds.readable or sym.readable,
        unrecognized=unrecognized,
    )


@lru_cache(maxsize=256)
def form_choice(forms: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    """(form rules in priority order, diarrhoea) for the form rules the lists asked for."""
    return tuple([fid for fid in _FORM_PRIORITY if fid in forms]), "diarrhoea" in forms


# ---------------------------------------------------------------- the rules


def decide(p: Patient) -> Findings:
    """Apply every rule to one patient."""
    t = tables()
    le = _merge(p.diagnoses, p.medications, p.symptoms, p.route)
    status = serum_status(p.serum) if p.serum is not None else None
    pregnant = bool(p.pregnant) or "pregnant" in le.sets
    lactating = bool(p.lactating) or "lactating" in le.sets
    dialysis = bool(p.dialysis) or "dialysis" in le.sets
    kidney_unknown = p.egfr is None and not p.dialysis and not le.renal_codes  # "no dialysis" says nothing of eGFR
    risk = _risk(p, status, le, t)
    contra = _contraindication(p, status, le, pregnant, dialysis, kidney_unknown, t)
    rda, ul, age_class = intake_for(p.age, p.sex, pregnant, lactating)
    grade = status.hypo_grade if status is not None else None
    urgent = status is not None and status.urgent
    dose, form = dose_and_form(
        contra.level,
        risk.level,
        grade,
        age_class,
        rda,
        ul,
        le.indications,
        le.forms,
        le.diarrhoea,
        urgent,
        kidney_unknown,
        p.serum is None,
    )
    notes = (*le.notes, Reason(p.age_note, ())) if p.age_note else le.notes
    return Findings(risk, contra, le.interactions, dose, form, notes)


@lru_cache(maxsize=8192)
def intake_for(age: float | None, sex: str | None, pregnant: bool, lactating: bool) -> tuple[Any, Any, str | None]:
    """(RDA, UL, age class) for the person; UL 350 in pregnancy and lactation from age 14."""
    if age is None:
        return None, None, None
    ul = ul_mg(age)
    if age >= 14 and (pregnant or lactating):
        ul = float(tables()["ul_preg"])
    return rda_mg(age, sex, pregnant, lactating), ul, "infant" if age < 1 else "child" if age < 14 else "adult"


def _risk(p: Patient, status: _SerumStatus | None, le: _ListEffects, t: dict[str, Any]) -> Risk:
    factors = t["factors"]
    reasons = list(le.risk_reasons)
    points = le.risk_points
    if status is not None and not status.below:  # a history that a measured normal value overrides
        for k, fid in enumerate(le.risk_factors):
            if factors[fid].get("not_with_normal_serum"):
                points -= factors[fid]["points"]
                reasons[k] = overridden_reason(fid)
    if p.age is not None and p.age >= 65:
        factor = factors["age65"]
        points += factor["points"]
        reasons.append(age_reason(p.age))
    serum = p.serum
    if status is not None and serum is not None and status.low_normal:
        factor = factors["low_normal_serum"]
        points += factor["points"]
        reasons.append(serum_reason("low_normal", serum))
    if le.symptom_reason is not None:
        points += le.symptom_reason.points or 0
        reasons.append(le.symptom_reason)
    below = status is not None and status.below
    unknown = status is None and p.age is None and not le.readable
    level, capped = risk_level(points, below, unknown, status is not None and status.at_or_above_cut)
    if below and serum is not None and status is not None:
        reasons.insert(0, serum_reason("below", serum))
        return Risk(level, points, tuple(reasons), status.hypo_grade)
    if unknown:
        return Risk(level, 0, (UNKNOWN_REASON, SERUM_UNUSED_REASON) if p.serum_given else (UNKNOWN_REASON,))
    if capped and serum is not None:
        reasons.append(serum_reason(f"capped at {level}", serum))
    found = tuple(reasons) or (NO_FACTOR_REASON,)
    return Risk(level, points, (*found, SERUM_UNUSED_REASON) if serum is None and p.serum_given else found)


@lru_cache(maxsize=1024)
def risk_level(points: int, below: bool, unknown: bool, normal_serum: bool) -> tuple[RiskLevel, bool]:
    """(level, capped): HIGH below the serum limit, UNKNOWN without data, else by points, capped by a normal serum."""
    levels = tables()["levels"]
    if below:
        return RiskLevel.HIGH, False
    if unknown:
        return RiskLevel.UNKNOWN, False
    if points >= levels["high_from"]:
        if normal_serum:
            return RiskLevel(levels["cap_with_normal_serum"]), True
        return RiskLevel.HIGH, False
    return (RiskLevel.MODERATE if points >= levels["moderate_from"] else RiskLevel.LOW), False


@cache
def overridden_reason(fid: str) -> Reason:
    """A history factor not counted because the row's measured serum value is not low."""
    factor = tables()["factors"][fid]
    return Reason(f"{factor['label']}: history, not counted: the current serum value is not low", _src(factor), 0)


@lru_cache(maxsize=256)
def age_reason(age: float) -> Reason:
    factor = tables()["factors"]["age65"]
    return Reason(f"{factor['label']}: age {age:g}", _src(factor), factor["points"])


@lru_cache(maxsize=8192)
def serum_reason(kind: str, serum: Serum) -> Reason:
    """The risk reason a serum value gives: 'below' the limit, 'low_normal', or a cap ('capped at LEVEL')."""
    t = tables()
    status = serum_status(serum)
    if kind == "below":
        return Reason(
            f"serum {serum.display()} below the lower limit {status.lower:g} {serum.unit}"
            f" (CTCAE grade {status.hypo_grade})",
            ("ctcae_v5", *t["limit_sources"]),
        )
    if kind == "low_normal":
        factor = t["factors"]["low_normal_serum"]
        return Reason(
            f"{factor['label']}: serum {serum.display()} below {status.cut:g}", _src(factor), factor["points"]
        )
    return Reason(
        f"{kind}: measured serum {serum.display()} is at or above {status.cut:g} {serum.unit}", ("rosanoff_2022",)
    )


DIALYSIS_DETAIL = "dialysis"
PREGNANCY_IV_DETAIL = "pregnant, route iv"
RENAL_RULES = ("renal_severe", "renal_moderate", "ckd_unstaged", "aki")  # kidney rules a potassium-sparing drug joins
UNKNOWN_REASON = Reason("not enough data: no usable serum value, age, diagnosis, medication or symptom", ("mg_rules",))
NO_FACTOR_REASON = Reason("no risk factor found in the data given", ("mg_rules",), 0)
SERUM_UNUSED_REASON = Reason(
    "the serum magnesium value on the row could not be used (see the input problems): this level leaves it out",
    ("mg_rules",),
)


def _contraindication(
    p: Patient,
    status: _SerumStatus | None,
    le: _ListEffects,
    pregnant: bool,
    dialysis: bool,
    kidney_unknown: bool,
    t: dict[str, Any],
) -> Contraindication:
    renal = t["renal"]
    fired: dict[str, tuple[str, ...]] = dict(le.contra) if le.contra else {}
    serum = p.serum
    if status is not None and serum is not None and status.above:
        _fire(fired, *hyper_detail(serum))
    egfr = p.egfr
    if egfr is not None:
        found = egfr_detail(egfr)
        if found is not None:
            _fire(fired, *found)
    if dialysis:
        _fire(fired, "renal_severe", DIALYSIS_DETAIL)
    if le.k_sparing and (
        (egfr is not None and egfr < renal["k_sparing_below"]) or any(r in fired for r in RENAL_RULES)
    ):
        _fire(fired, "k_sparing_renal", ", ".join(le.k_sparing))
    dose = p.supplement_dose_mg
    if dose is not None:
        found = dose_detail(dose, p.age)
        if found is not None:
            _fire(fired, *found)
    if pregnant and p.route == "iv":
        _fire(fired, "pregnancy_iv", PREGNANCY_IV_DETAIL)

    level, order = _contra_outcome(tuple(fired))
    reasons = [contra_reason(rule_id, fired[rule_id]) for rule_id in order]
    not_checked = unchecked(kidney_unknown, serum is None, le.unrecognized)
    if level == ContraLevel.NONE_FOUND:
        reasons.append(none_found_reason(not_checked))
    return Contraindication(level, tuple(reasons), not_checked, order)


def unchecked(kidney_unknown: bool, serum_unknown: bool, unrecognized: tuple[str, ...]) -> tuple[str, ...]:
    """What the contraindication check could not cover on the row."""
    not_checked: tuple[str, ...] = ()
    if kidney_unknown:
        not_checked = ("kidney function (no eGFR, dialysis or CKD code)",)
    if serum_unknown:
        not_checked = (*not_checked, "serum magnesium (no usable value): hypermagnesaemia not excluded")
    return (*not_checked, *unrecognized) if unrecognized else not_checked


def _fire(fired: dict[str, tuple[str, ...]], rule_id: str, detail: str) -> None:
    fired[rule_id] = (*fired.get(rule_id, ()), detail)


@lru_cache(maxsize=1024)
def _contra_outcome(rule_ids: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Level and reason order (contraindications first, else in the order they fired) for the rules that fired."""
    return contra_level(frozenset(rule_ids)), tuple(sorted(rule_ids, key=contra_rank))


@cache
def contra_rank(rule_id: str) -> int:
    """Where a fired rule's reason goes: 0 for an urgent rule, 1 for a contraindication, 2 for a caution."""
    rule = tables()["rules"][rule_id]
    if rule.get("urgent"):
        return 0
    return 1 if rule["level"] == ContraLevel.CONTRAINDICATED else 2


@lru_cache(maxsize=1024)
def contra_level(rule_ids: frozenset[str]) -> ContraLevel:
    """The highest level among the rules that fired (NONE_FOUND when none did)."""
    if not rule_ids:
        return ContraLevel.NONE_FOUND
    return ContraLevel.CAUTION if all(contra_rank(r) == 2 for r in rule_ids) else ContraLevel.CONTRAINDICATED


@lru_cache(maxsize=4096)
def hyper_detail(serum: Serum) -> tuple[str, str]:
    """(rule, detail) for a serum value above the upper limit; the urgent rule above the urgent limit."""
    status = serum_status(serum)
    rule, limit = (
        ("hypermagnesaemia_severe", tables()["urgent"][serum.unit])
        if status.urgent
        else ("hypermagnesaemia", status.upper)
    )
    return rule, f"serum {serum.display()} above {limit:g} {serum.unit} (CTCAE grade {status.hyper_grade})"


@lru_cache(maxsize=4096)
def egfr_detail(egfr: float) -> tuple[str, str] | None:
    renal = tables()["renal"]
    if egfr < renal["severe_below"]:
        return "renal_severe", f"eGFR {egfr:g} below {renal['severe_below']}"
    if egfr < renal["moderate_below"]:
        return "renal_moderate", f"eGFR {egfr:g} ({renal['severe_below']}-{renal['moderate_below'] - 1})"
    return None


@lru_cache(maxsize=8192)
def dose_detail(dose: float, age: float | None) -> tuple[str, str] | None:
    """(rule, detail) when a current supplement dose needs a caution: an infant on any dose, a dose above the UL."""
    if age is not None and age < 1:
        return ("infant_supplement", f"{dose:g} mg/day at age {age * 12:.0f} months") if dose > 0 else None
    limit = ul_mg(age) if age is not None else float(tables()["ul_preg"])
    if limit is None or dose <= limit:
        return None
    return "supplement_above_ul", f"{dose:g} mg/day > UL {limit:g} mg" + (
        f" for age {age:g}" if age is not None else " (any age)"
    )


@lru_cache(maxsize=16384)
def contra_reason(rule_id: str, details: tuple[str, ...]) -> Reason:
    rule = tables()["rules"][rule_id]
    return Reason(f"{rule['text']} ({'; '.join(details)})", _src(rule))


@lru_cache(maxsize=4096)
def none_found_reason(not_checked: tuple[str, ...]) -> Reason:
    return Reason(
        "no contraindication found in the data given"
        + (f"; not checked: {'; '.join(not_checked)}" if not_checked else ""),
        ("mg_rules",),
    )


@lru_cache(maxsize=65536)
def dose_and_form(
    contra: str,
    risk: str,
    grade: int | None,
    age_class: str | None,
    rda: float | None,
    ul: float | None,
    indications: tuple[str, ...],
    forms: tuple[str, ...],
    diarrhoea: bool,
    urgent: bool = False,
    kidney_unknown: bool = False,
    serum_unknown: bool = False,
) -> tuple[Dose, Form]:
    """Dose status, range and text, with form and timing; a function of discrete inputs only (memoised).

    ``urgent``: severe hypermagnesaemia; ``kidney_unknown``: no eGFR, dialysis or kidney diagnosis;
    ``serum_unknown``: no usable serum value (amendments 2026-12, 1, 4 and 6).
    """
    status, mn, mx, text, notes = _dose_range(contra, risk, grade, age_class, rda, ul, indications)
    dosing = tables()["dosing"]
    supplementing = status in (DoseStatus.RECOMMENDED, DoseStatus.REFER, DoseStatus.PRESCRIBER_ONLY)
    if age_class == "infant" and status == DoseStatus.PRESCRIBER_ONLY:
        supplementing = False  # no supplement for infants unless prescribed: nothing to keep to or check before
    if contra == ContraLevel.CAUTION and supplementing:
        text += f"; {dosing['caution']['text']}"
        notes = (*notes, _dosing_note("caution"))
    leads = []
    if urgent:
        leads.append(tables()["rules"]["hypermagnesaemia_severe"]["text"].split(": ", 1)[1])
    if serum_unknown and status == DoseStatus.RECOMMENDED and risk in (RiskLevel.MODERATE, RiskLevel.HIGH):
        leads.append(dosing["check_serum"]["text"])
        notes = (*notes, _dosing_note("check_serum"))
    if kidney_unknown and supplementing:
        leads.append(dosing["check_egfr"]["text"])
        notes = (*notes, _dosing_note("check_egfr"))
    if leads:
        text = "; ".join([*leads, text])
    form = _form(status, forms, diarrhoea) if age_class != "infant" else _infant_form(dosing)
    if form.timing and supplementing:
        text += f"; {form.form}, {form.timing}"
    return Dose(status, mn, mx, rda, ul, text, notes), form


@lru_cache(maxsize=16384)
def _dose_range(
    contra: str,
    risk: str,
    grade: int | None,
    age_class: str | None,
    rda: float | None,
    ul: float | None,
    indications: tuple[str, ...],
) -> tuple[DoseStatus, float | None, float | None, str, tuple[Reason, ...]]:
    """Status, range, text up to the RDA, and notes: the part of the dose that does not depend on the form."""
    t = tables()
    dosing = t["dosing"]
    texts = dosing["status"]
    lo, hi = float(dosing["range"]["min_mg"]), float(dosing["range"]["max_mg"])
    notes: list[Reason] = []
    ul_text = (
        f"UL {ul:g}"
        if ul is not None
        else "no UL under 1 year"
        if age_class is not None
        else "UL not known: age not given"
    )
    severe = grade is not None and grade >= 2
    mn: float | None
    mx: float | None
    refer = texts["REFER"]
    if contra == ContraLevel.CONTRAINDICATED:
        status, mn, mx, text = DoseStatus.DO_NOT_SUPPLEMENT, 0.0, 0.0, texts["DO_NOT_SUPPLEMENT"]["text"]
        if grade:
            text += f"; {dosing['low_serum_contraindicated']['text']} (CTCAE grade {grade})"
            notes.append(_dosing_note("low_serum_contraindicated"))
        if severe:
            text += "; urgent specialist review"
    elif severe:  # at any age, before the infant and child statuses (amendment 2026-12, 2)
        status = DoseStatus.REFER
        if age_class == "adult":
            mn, mx = lo, hi
            text = f"{refer['text']}; {refer['after']}: {mn:g}-{mx:g} mg/day elemental ({ul_text})"
        elif age_class == "child":
            mn, mx = 0.0, float(ul or 0)
            text = f"{refer['text']}; {refer['after_child']}, up to {mx:g} mg/day elemental ({ul_text})"
        elif age_class == "infant":
            mn = mx = None
            text = f"{refer['text']}; {refer['after_infant']}"
        else:
            mn = mx = None
            text = f"{refer['text']}; {dosing['age_unknown']['text']}"
    elif age_class == "infant":
        status, mn, mx, text = DoseStatus.PRESCRIBER_ONLY, 0.0, 0.0, texts["PRESCRIBER_ONLY_INFANT"]["text"]
    elif age_class == "child":
        status, mn, mx = DoseStatus.PRESCRIBER_ONLY, 0.0, float(ul or 0)
        text = f"{texts['PRESCRIBER_ONLY_CHILD']['text']}: up to {mx:g} mg/day elemental ({ul_text})"
    elif risk in (RiskLevel.MODERATE, RiskLevel.HIGH) or indications:
        status = DoseStatus.RECOMMENDED
        why = f"risk {risk}" if risk in (RiskLevel.MODERATE, RiskLevel.HIGH) else ", ".join(indications)
        if age_class is None:  # no numeric range without the age (amendment 2026-12, 6)
            mn = mx = None
            text = f"{dosing['age_unknown']['text']}; for {why}"
            notes.append(_dosing_note("age_unknown"))
        else:
            mn, mx = lo, hi
            text = f"{mn:g}-{mx:g} mg/day {texts['RECOMMENDED']['text']} ({ul_text}); for {why}"
        notes.append(_dosing_note("above_ul"))
    else:
        status, mn, mx, text = DoseStatus.NOT_INDICATED, 0.0, 0.0, texts["NOT_INDICATED"]["text"]
    if rda is not None:
        text += f"; RDA {rda:g} mg/day from all sources"
    return status, mn, mx, text, tuple(notes)


@cache
def _dosing_note(key: str) -> Reason:
    entry = tables()["dosing"][key]
    return Reason(entry["text"], _src(entry))


def _infant_form(dosing: dict[str, Any]) -> Form:
    return Form("", "", dosing["status"]["PRESCRIBER_ONLY_INFANT"]["form"])


@lru_cache(maxsize=1024)
def _form(status: str, wanted: tuple[str, ...], diarrhoea: bool) -> Form:
    dosing = tables()["dosing"]
    forms = dosing["forms"]
    if status in (DoseStatus.DO_NOT_SUPPLEMENT, DoseStatus.NOT_INDICATED):
        text = (
            "no supplement"
            if status == DoseStatus.DO_NOT_SUPPLEMENT
            else "no supplement; magnesium-rich foods (nuts, seeds, legumes, leafy greens, whole grains)"
        )
        return Form("", "", text)
    chosen = wanted or ("default",)
    avoid: tuple[str, ...] = tuple(forms["diarrhoea"]["avoid"]) if diarrhoea else ()
    parts, evidence = [], []
    first_form = first_timing = ""
    for fid in chosen:
        rule = forms[fid]
        options = [f for f in rule["form"].split(" or ") if f not in avoid] or [forms["diarrhoea"]["replacement"]]
        label = " or ".join(options)
        first_form, first_timing = first_form or label, first_timing or rule["timing"]
        parts.append(f"{label}, {rule['timing']}" + (f" ({fid.replace('_', ' ')})" if fid != "default" else ""))
        evidence.append(Reason(f"{fid.replace('_', ' ')}: {rule['evidence']}", _src(rule)))
    text = "; ".join(parts) + f"; {dosing['general']['text']}"
    if avoid:
        text += f"; {forms['diarrhoea']['text']}"
        evidence.append(Reason(forms["diarrhoea"]["text"], _src(forms["diarrhoea"])))
    return Form(first_form, first_timing, text, tuple(evidence), avoid)
