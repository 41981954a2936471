"""The :class:`Engine`: one knowledge base, its compiled rule specification, and the decisions made from them.

The decisions (serum status, reference intakes, what a concept does, reasons, risk band, contraindication
outcome, dose and form) are methods memoised per engine in bounded caches (:meth:`Engine._memoise`). Both
executions use them: the row driver (:mod:`.row`) for one patient, the table driver (:mod:`.table`) once per
distinct key of a column. What they say is written in the knowledge (rules.toml, risk.toml,
contraindications.toml, dosing.toml): these methods fill its templates in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError
from ..formatting import dose_group_text
from ..kb import Concept, Knowledge, knowledge, load_knowledge
from ..memo import remember
from ..models import Dose, Form, Interaction, Problem, Reason
from ..reading import Patient, Serum
from ..terms import QUALIFIERS
from ..vocab import ContraLevel, DoseStatus, RiskLevel
from .expr import KEPT_TYPES as _KEPT_TYPES
from .expr import all_holding, first_holding
from .row import Findings
from .row import decide as decide_row
from .spec import RuleSpec

__all__ = ["DRIVERS", "Effect", "Engine", "SerumStatus", "default_engine", "rda_mg", "sources_of", "ul_mg"]


@dataclass(frozen=True, slots=True)
class SerumStatus:
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
    urgent_limit: float


@dataclass(frozen=True, slots=True)
class Effect:
    """What one concept does for one route, resolved once from the knowledge base."""

    risk: str | None
    contra: str | None  # a rule the lists fire
    held: str | None  # a rule the lists name, fired by its condition in rules.toml
    symptom: str | None
    interaction: tuple[int, str, str, Any, Any, tuple[str, ...]] | None  # (rank, severity, action, h, h, sources)
    indication: str | None
    form: str | None
    note: str | None
    sources: tuple[str, ...]
    sets: str | None
    conflicts: tuple[str, ...]
    renal: bool
    active: bool  # does anything at all


def sources_of(entry: Any) -> tuple[str, ...]:
    """Source ids of a knowledge entry."""
    raw = entry.get("source", ()) if isinstance(entry, Mapping) else ()
    return (raw,) if isinstance(raw, str) else tuple(raw)


ROUTES = ("oral", "iv")
# The functions that read rows and run an engine (mgdecision.assess, mgdecision.assess_frame), registered by the
# modules that define them, so that the engine never imports them.
DRIVERS: dict[str, Callable[..., Any]] = {}
# The decisions memoised per engine, each with the share of ``cache_size`` its cache may hold.
MEMOISED: Mapping[str, float] = {
    "serum_status": 1,
    "rda_for": 1 / 8,
    "ul_age": 1 / 64,
    "factor_reason": 1 / 4,
    "not_counted_reason": 1 / 64,
    "value_reason": 1 / 4,
    "value_factor_reason": 1 / 4,
    "trigger_detail": 1 / 4,
    "found_problem": 1 / 16,
    "symptom_reason": 1 / 64,
    "serum_below_reason": 1 / 8,
    "capped_reason": 1 / 8,
    "conflict_notes": 1 / 64,
    "interaction": 1 / 8,
    "interaction_text": 1 / 8,
    "note_reason": 1 / 8,
    "form_choice": 1 / 64,
    "risk_level": 1 / 64,
    "contra_outcome": 1 / 64,
    "contra_level": 1 / 64,
    "contra_rank": 1 / 64,
    "contra_reason": 1 / 4,
    "none_found_reason": 1 / 16,
    "not_checked_lines": 1 / 64,
    "rule_facts": 1 / 64,
    "factor_facts": 1 / 4,
    "symptom_facts": 1 / 4,
    "dose_and_form": 1,
    "plan_reads": 1 / 64,
    "dose_columns": 1 / 4,
    "dosing_note": 1 / 64,
    "form": 1 / 64,
}


class Engine:
    """The rules of one knowledge base: ``Engine()`` for the shipped one, ``Engine(folder)`` for another.

    Another folder changes how the rules run and what they say (rules.toml, thresholds, levels, texts, what a
    concept does); the rows are still read with the shipped vocabulary (drug, diagnosis and symptom names,
    codes, units, salt fractions), so its concepts and sources must be the shipped ones.
    """

    def __init__(self, kb: Knowledge | str | Path | None = None, *, cache_size: int = 65536) -> None:
        self.kb: Knowledge = kb if isinstance(kb, Knowledge) else knowledge() if kb is None else load_knowledge(kb)
        if self.kb is not knowledge():
            _same_vocabulary(self.kb, knowledge())
        self.spec = RuleSpec(self.kb)
        spec = self.spec
        kb_ = self.kb
        self.factors: Mapping[str, Any] = kb_.risk["factors"]
        self.symptom_rule: Mapping[str, Any] = kb_.risk["symptom_rule"]
        self.rules: Mapping[str, Any] = kb_.contraindications["rules"]
        self.dosing: Mapping[str, Any] = kb_.dosing
        self.limits: Mapping[str, Any] = kb_.serum["limits"]
        self.limit_sources = tuple({*sources_of(self.limits["lower"]), *sources_of(self.limits["upper"])})
        self.ul_any_age = float(kb_.intake["ul"]["pregnancy_lactation_ul"])
        self.rule_source = (spec.source,)
        texts = spec.risk_texts
        self.unknown_reason = Reason(texts["unknown"].format({}), sources_of(kb_.risk["texts"]))
        self.no_factor_reason = Reason(texts["no_factor"].format({}), sources_of(kb_.risk["texts"]), 0)
        self.serum_unused_reason = Reason(texts["serum_unused"].format({}), sources_of(kb_.risk["texts"]))
        self.slot_reasons: Mapping[str, Reason] = {  # the risk reason slots that hold one fixed reason
            "unknown": self.unknown_reason,
            "no_factor": self.no_factor_reason,
            "serum_unused": self.serum_unused_reason,
        }
        self.effects: Mapping[str, Mapping[str, Effect]] = {
            route: {key: self._resolve_effect(c, route) for key, c in kb_.concepts.items()} for route in ROUTES
        }
        self.symptom_effects: Mapping[str, tuple[str | None, str | None, bool]] = {
            c.id: (c.label if c.indication else None, c.form, c.compatible)
            for key, c in kb_.concepts.items()
            if key.startswith("symptom:")
        }
        self.symptom_labels: Mapping[str, str] = {c.id: c.label for c in kb_.concepts.values() if c.kind == "symptom"}
        # the ids a dose decision's factor and symptom facts read ("factor:x", "symptom:x")
        self.factor_ids = frozenset(f"factor:{fid}" for fid in self.factors)
        self.symptom_ids = frozenset(f"symptom:{sid}" for sid in self.symptom_labels)
        # the factors whose recheck interval a normal serum follows, most frequent recheck first
        self.recheck_order: tuple[str, ...] = tuple(
            sorted(
                (f for f, x in self.factors.items() if "recheck" in x), key=lambda f: self.factors[f]["recheck_rank"]
            )
        )
        self.dose_numbers = tuple(n for n in spec.dose_reads if spec.kinds[n] == "number")
        self.band_row = first_holding([b.when for b in spec.bands])
        self.status_row = first_holding([s.when for s in spec.dose_statuses])
        # the other choices of a dose decision, each one compiled function over the facts
        self.fixed_row = first_holding([when for when, _text in spec.fixed_form])
        self.variant_rows = [first_holding([v.when for v in s.variants]) for s in spec.dose_statuses]
        self.text_rows = {name: first_holding([w for w, _t in table]) for name, table in spec.dose_texts.items()}
        self.parts_rows = [all_holding([p.when for p in (*s.parts, *spec.dose_parts)]) for s in spec.dose_statuses]
        self.parts_of = [(*s.parts, *spec.dose_parts) for s in spec.dose_statuses]
        self.text_picks = [self.text_rows[name] for name in spec.dose_texts]
        self.dose_ids = frozenset(spec.dose_ids)  # the "factor:x" and "symptom:x" facts the dose rules read
        self.no_dose_ids = dict.fromkeys(spec.dose_ids, False)
        self._worded: dict[tuple[Any, ...], Dose] = {}  # worded doses by plan and the values their texts show
        self._worded_size = max(1024, cache_size // 4)
        self.status_of = [DoseStatus(s.status) for s in spec.dose_statuses]
        self.derived: dict[str, Any] = {}  # tables the drivers derive from this engine's knowledge, made once
        self._memoise(cache_size)

    def _memoise(self, cache_size: int) -> None:
        """Each decision of :data:`MEMOISED` behind a bounded cache owned by this engine."""
        small = max(1024, cache_size // 64)
        for name, share in MEMOISED.items():
            size = max(small, int(cache_size * share))
            setattr(self, name, lru_cache(maxsize=size)(getattr(self, f"_{name}")))

    def __repr__(self) -> str:
        return f"Engine(knowledge {self.kb.version})"

    # ------------------------------------------------------------ the drivers

    def decide(self, p: Patient) -> Findings:
        """The row execution: every rule applied to one patient as read."""
        return decide_row(self, p)

    def assess(self, row: Any, **options: Any) -> Any:
        """:func:`mgdecision.assess` with this engine's knowledge."""
        return DRIVERS["assess"](row, engine=self, **options)

    def assess_frame(self, df: Any, **options: Any) -> Any:
        """:func:`mgdecision.assess_frame` with this engine's knowledge (the table execution)."""
        return DRIVERS["assess_frame"](df, engine=self, **options)

    # ------------------------------------------------------------ reference intakes

    @staticmethod
    def _band(bands: list[dict[str, Any]], age: float) -> dict[str, Any] | None:
        for band in bands:
            if band["min"] <= age < band["max"]:
                return band
        return None

    def rda_mg(self, age: float, sex: str | None, pregnant: bool = False, lactating: bool = False) -> float | None:
        """RDA (or AI under 1 year) in mg/day from all sources; None if sex is needed and not given."""
        band = self._band(self.kb.intake["rda"]["bands"], float(age))
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

    def ul_mg(self, age: float) -> float | None:
        """Upper limit of supplemental magnesium in mg/day for the age; None under 1 year (not established)."""
        band = self._band(self.kb.intake["ul"]["bands"], float(age))
        if band is None or not band["ul"]:
            return None
        return float(band["ul"])

    def _rda_for(self, age: float | None, sex: str | None, pregnant: bool, lactating: bool) -> float | None:
        """The RDA for the person (None without an age)."""
        return None if age is None else self.rda_mg(age, sex, pregnant, lactating)

    def _ul_age(self, age: float | None) -> float:
        """The UL for the age (no pregnancy adjustment), NaN without an age or under 1 year."""
        ul = self.ul_mg(age) if age is not None else None
        return math.nan if ul is None else ul

    # ------------------------------------------------------------ serum

    def _grade(self, table: Any, value: float, unit: str, key: str) -> int:
        if isinstance(table.get(unit), str):  # mEq/L -> graded as mmol/L after halving
            value, unit = value / 2.0, table[unit]
        grade = 1
        for step in table[unit]:
            if (key == "below" and value < step["below"]) or (key == "above" and value > step["above"]):
                grade = step["grade"]
        return grade

    def _serum_status(self, serum: Serum) -> SerumStatus:
        s = self.kb.serum
        unit, value = serum.unit, serum.value
        lower = serum.ref_low if serum.ref_low is not None else self.limits["lower"][unit]
        upper = serum.ref_high if serum.ref_high is not None else self.limits["upper"][unit]
        cut = self.limits["low_normal"][unit]
        urgent_limit = s["urgent"]["above"][unit]
        urgent = value > urgent_limit
        below, above = value < lower, value > upper or urgent
        lab = s["lab_range"]
        if not below and value < self.limits["lower"][unit]:  # a lab range never hides CTCAE grade 2-4 (9.6)
            below = self._grade(s["ctcae_hypo"], value, unit, "below") >= lab["flag_hypo_grade"]
        if not above and value > self.limits["upper"][unit]:  # nor hypermagnesaemia of grade 3 or more
            above = self._grade(s["ctcae_hyper"], value, unit, "above") >= lab["flag_hyper_grade"]
        return SerumStatus(
            below=below,
            above=above,
            low_normal=not below and not above and value < cut,
            at_or_above_cut=value >= cut,
            lower=lower,
            upper=upper,
            cut=cut,
            hypo_grade=self._grade(s["ctcae_hypo"], value, unit, "below") if below else None,
            hyper_grade=self._grade(s["ctcae_hyper"], value, unit, "above") if above else None,
            urgent=urgent,
            urgent_limit=urgent_limit,
        )

    # ------------------------------------------------------------ what each concept does

    def _resolve_effect(self, concept: Concept, route: str) -> Effect:
        interaction = None
        if concept.interaction:
            inter = self.kb.interactions[concept.interaction]
            severity, action = inter["severity"], inter["action"]
            severity = severity[route] if isinstance(severity, dict) else severity  # by route where they differ
            action = action[route] if isinstance(action, dict) else action
            rank = self.spec.severity_rank[severity]
            interaction = (rank, severity, action, inter.get("before_h"), inter.get("after_h"), sources_of(inter))
        symptom = concept.id if concept.kind == "symptom" and concept.id != "other" else concept.symptom
        conflicts = tuple(cid for cid, c in self.kb.seed_conflicts.items() if concept.id in c["when"])
        rule = concept.contra.get(route)
        held = rule if rule in self.spec.held else None
        indication = concept.label if concept.indication else None
        active = any((concept.risk, rule, symptom, interaction, indication, concept.form, concept.note, concept.sets))
        return Effect(
            concept.risk,
            None if held else rule,
            held,
            symptom,
            interaction,
            indication,
            concept.form,
            concept.note,
            concept.sources,
            concept.sets,
            conflicts,
            concept.kidney,
            active or concept.kidney or bool(conflicts),
        )

    def _form_choice(self, forms: frozenset[str]) -> tuple[tuple[str, ...], bool]:
        """(form rules in priority order, diarrhoea) for the form rules the lists asked for."""
        return tuple([fid for fid in self.spec.form_priority if fid in forms]), "diarrhoea" in forms

    # ------------------------------------------------------------ reasons

    def _factor_reason(self, fid: str, who: tuple[str, ...]) -> Reason:
        factor = self.factors[fid]
        return Reason(f"{factor['label']}: {', '.join(who)}", sources_of(factor), factor["points"])

    def _not_counted_reason(self, fid: str) -> Reason:
        """A factor whose ``counts_when`` does not hold on the row (a history a normal serum overrides)."""
        factor = self.factors[fid]
        return Reason(self.spec.risk_texts["not_counted"].format({"label": factor["label"]}), sources_of(factor), 0)

    def _value_reason(self, k: int, values: tuple[Any, ...]) -> Reason:
        """The reason of the ``k``-th value factor of rules.toml, for the values of the facts its detail names."""
        vf = self.spec.value_factors[k]
        return self.value_factor_reason(vf.factor, vf.detail.from_values(values))

    def _value_factor_reason(self, fid: str, detail: str) -> Reason:
        factor = self.factors[fid]
        return Reason(f"{factor['label']}: {detail}", sources_of(factor), factor["points"])

    def _found_problem(self, k: int, values: tuple[Any, ...]) -> Problem:
        """The ``k``-th problem of rules.toml [problems] for the values of the facts its texts name."""
        found = self.spec.problems[k]
        split = len(found.value.names)
        return Problem(
            found.field, found.value.from_values(values[:split]), found.code, found.message.from_values(values[split:])
        )

    def _trigger_detail(self, k: int, values: tuple[Any, ...]) -> str:
        """The detail of the ``k``-th contraindication trigger of rules.toml for the values its message names."""
        return self.spec.fire[k].detail.from_values(values)

    def _symptom_reason(self, names: tuple[str, ...]) -> Reason:
        rule = self.symptom_rule
        return Reason(f"{rule['label']}: {', '.join(names)}", sources_of(rule), rule["points"])

    def _serum_facts(self, serum: Serum) -> dict[str, Any]:
        status = self.serum_status(serum)
        return {
            "serum": serum.display(),
            "serum_unit": serum.unit,
            "serum_lower": status.lower,
            "serum_cut": status.cut,
            "hypo_grade": status.hypo_grade or 0,
        }

    def _serum_below_reason(self, serum: Serum) -> Reason:
        """The risk reason of a serum value below the lower limit."""
        text = self.spec.risk_texts["serum_below"].format(self._serum_facts(serum))
        return Reason(text, ("ctcae_v5", *self.limit_sources))

    def _capped_reason(self, level: str, serum: Serum) -> Reason:
        """The risk reason of a measured serum value that capped the level."""
        text = self.spec.risk_texts["capped"].format({**self._serum_facts(serum), "level": level})
        return Reason(text, sources_of(self.limits["low_normal"]))

    def _conflict_notes(self, conflicts: frozenset[str]) -> tuple[Reason, ...]:
        return tuple(
            Reason(f"seed article conflict: {c['claim']}; the evidence: {c['fact']}", sources_of(c))
            for cid, c in self.kb.seed_conflicts.items()
            if cid in conflicts
        )

    def _interaction(self, drug: str, written: str, found: tuple[Any, ...]) -> Interaction:
        _rank, severity, action, before, after, sources = found
        return Interaction(drug, severity, action, before, after, sources, written)

    def _interaction_text(self, shown: str, found: tuple[Any, ...]) -> str:
        """The interaction as listed in ``mg_interactions`` (``str`` of its :class:`Interaction`)."""
        return f"{shown} ({found[1]}): {found[2]}"

    def qualified(self, who: str, qualifier: str) -> str:
        """A name as shown with how it was written ("myasthenia gravis (suspected - confirm)")."""
        return f"{who} ({self.spec.qualifier_texts[QUALIFIERS.index(qualifier)]})"

    def _note_reason(self, note: str, who: str, sources: tuple[str, ...]) -> Reason:
        return Reason(f"{note} ({who})", sources)

    # ------------------------------------------------------------ decisions made once per distinct key

    def _risk_level(self, points: int, values: tuple[Any, ...]) -> tuple[RiskLevel, bool]:
        """(level, capped): the first band of rules.toml whose condition holds, for the points and the values of
        the facts the bands read (``spec.band_reads``)."""
        facts = {n: math.nan if v is None else v for n, v in zip(self.spec.band_reads, values, strict=True)}
        facts["points"] = points
        band = self.spec.bands[self.band_row(facts)]  # the last band always holds (checked on loading)
        return RiskLevel(band.level), band.capped

    def _contra_outcome(self, rule_ids: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """Level and reason order (urgent, contraindications, cautions; each in firing order)."""
        return self.contra_level(frozenset(rule_ids)), tuple(sorted(rule_ids, key=self.contra_rank))

    def _contra_rank(self, rule_id: str) -> int:
        """Where a fired rule's reason goes: 0 for an urgent rule, 1 for a contraindication, 2 for a caution."""
        rule = self.rules[rule_id]
        if rule.get("urgent"):
            return 0
        return 1 if rule["level"] == ContraLevel.CONTRAINDICATED else 2

    def _contra_level(self, rule_ids: frozenset[str]) -> ContraLevel:
        """The highest level among the rules that fired (NONE_FOUND when none did)."""
        if not rule_ids:
            return ContraLevel.NONE_FOUND
        return ContraLevel.CAUTION if all(self.contra_rank(r) == 2 for r in rule_ids) else ContraLevel.CONTRAINDICATED

    def _contra_reason(self, rule_id: str, details: tuple[str, ...]) -> Reason:
        rule = self.rules[rule_id]
        text, detail = rule["text"], "; ".join(details)
        head, colon, rest = text.partition(": ")  # a card says what was found right after the rule's name
        summary = f"{head} ({detail}): {rest}" if colon and detail and detail.lower() not in head.lower() else ""
        return Reason(f"{text} ({detail})", sources_of(rule), summary=summary)

    def _none_found_reason(self, not_checked: tuple[str, ...]) -> Reason:
        texts = self.spec.contra_texts
        text = texts["none_found"].format({})
        if not_checked:
            text += "; " + texts["not_checked"].format({"not_checked": "; ".join(not_checked)})
        return Reason(text, sources_of(self.kb.contraindications["texts"]))

    def _not_checked_lines(self, holds: tuple[bool, ...]) -> tuple[str, ...]:
        """The lines of rules.toml [contraindications] not_checked whose condition holds on the row."""
        return tuple(text for (_when, text), ok in zip(self.spec.not_checked, holds, strict=True) if ok)

    def _rule_facts(self, contra_rule: str | None) -> dict[str, Any]:
        """The dose facts of the first contraindication rule that fired: its short name, and whether urgent."""
        rule = self.rules[contra_rule] if contra_rule else {}
        return {"contra_short": rule.get("short", ""), "urgent": bool(rule.get("urgent"))}

    def _factor_facts(self, ids: frozenset[str]) -> dict[str, Any]:
        """The dose facts of the row's risk factors ("factor:x" in ``ids``)."""
        counted = [fid for fid in self.factors if f"factor:{fid}" in ids] if ids else []
        loss = [fid for fid in counted if self.factors[fid]["points"] >= 2]
        recheck = next((fid for fid in self.recheck_order if fid in counted), None)
        return {
            "factors": ", ".join(self.factors[fid]["short"] for fid in counted),
            "loss_factors": ", ".join(self.factors[fid]["short"] for fid in loss),
            "loss_factor": bool(loss),
            "recheck_factor": self.factors[recheck]["short"] if recheck else "",
            "recheck_interval": self.factors[recheck]["recheck"] if recheck else "",
        }

    def _symptom_facts(self, ids: frozenset[str]) -> dict[str, Any]:
        """The dose facts of the row's symptoms ("symptom:x" in ``ids``)."""
        return {"symptoms": ", ".join(self.symptom_labels[s[8:]] for s in sorted(ids) if s.startswith("symptom:"))}

    def _dose_and_form(
        self,
        contra: str,
        risk: str,
        indications: tuple[str, ...],
        forms: tuple[str, ...],
        diarrhoea: bool,
        rda: float | None,
        ids: frozenset[str],
        contra_rule: str | None,
        values: tuple[Any, ...],
    ) -> tuple[Dose, Form]:
        """Dose status, range, text, headline and indicator, with form and timing, for the decisions before it
        (contraindication level and its first rule, risk level), the lists' indications and forms, the RDA, the
        factors and symptoms on the row (``ids``: "factor:x", "symptom:x") and the values of the facts the dose
        rules read (``spec.dose_reads``)."""
        spec = self.spec
        facts = dict(zip(spec.dose_reads, values, strict=True))
        for name in self.dose_numbers:  # a missing number is NaN in the rules (None only in the memo key)
            if facts[name] is None:
                facts[name] = math.nan
        facts.update(self.no_dose_ids)  # the "factor:x" and "symptom:x" facts the dose rules read
        for name in ids & self.dose_ids:
            facts[name] = True
        facts.update(
            contra=contra,
            risk=risk,
            indicated=bool(indications),
            indications=", ".join(indications),
            rda=math.nan if rda is None else rda,
            **self.rule_facts(contra_rule),
            **self.factor_facts(ids & self.factor_ids),  # each memoised on the ids it reads
            **self.symptom_facts(ids & self.symptom_ids),
        )
        k = self.status_row(facts)  # the last status always holds (checked on loading)
        rule = spec.dose_statuses[k]
        status = self.status_of[k]
        facts.update(status=rule.status, supplementing=rule.supplementing)
        f = self.fixed_row(facts)
        fixed = spec.fixed_form[f][1] if f >= 0 else None
        form = Form("", "", fixed.format(facts)) if fixed else self.form(status, forms, diarrhoea)
        facts.update(form_name=form.form, form_timing=form.timing, min=math.nan, max=math.nan)
        v = self.variant_rows[k](facts)
        variant = rule.variants[v]
        low = None if variant.low is None else float(variant.low.row(facts))
        high = None if variant.high is None else float(variant.high.row(facts))
        facts.update(min=math.nan if low is None else low, max=math.nan if high is None else high)
        facts["room"] = facts["max"] - facts.get("intake_daily", math.nan)
        # every choice is made before the dose is worded (a choice reads only the texts made before it)
        picks = []
        for (name, table), pick in zip(spec.dose_texts.items(), self.text_picks, strict=True):
            picks.append(pick(facts))
            if name in spec.dose_texts_read:  # a later choice reads it
                facts[name] = table[picks[-1]][1].format(facts)
        plan = (k, f, v, tuple(picks), tuple(self.parts_rows[k](facts)))
        reads = self.plan_reads(plan)
        shown = tuple([facts[name] for name in reads])
        ul = facts.get("ul")
        ul = None if ul is None or ul != ul else ul
        if not _KEPT_TYPES.issuperset(map(type, shown)):  # True equals 1 but is not worded alike
            return self._worded_dose(plan, facts, status, low, high, rda, ul), form
        key = (plan, low, high, rda, ul, shown)
        dose = self._worded.get(key)
        if dose is None:
            dose = remember(
                self._worded, key, self._worded_dose(plan, facts, status, low, high, rda, ul), self._worded_size
            )
        return dose, form

    def _worded_dose(
        self,
        plan: tuple[int, int, int, tuple[int, ...], tuple[int, ...]],
        facts: dict[str, Any],
        status: DoseStatus,
        low: float | None,
        high: float | None,
        rda: float | None,
        ul: float | None,
    ) -> Dose:
        """The dose of a plan (status, fixed form, variant, text and part choices), worded from the facts."""
        spec = self.spec
        k, _f, v, picks, part_rows = plan
        rule = spec.dose_statuses[k]
        variant = rule.variants[v]
        for (name, table), pick in zip(spec.dose_texts.items(), picks, strict=True):
            facts[name] = table[pick][1].format(facts)
        body = [variant.text.format(facts)]
        leads: list[str] = []
        notes = [self.dosing_note(n) for n in variant.notes]
        parts = self.parts_of[k]
        for j in part_rows:
            part = parts[j]
            (leads if part.lead else body).append(part.text.format(facts))
            if part.note:
                notes.append(self.dosing_note(part.note))
        return Dose(
            status,
            low,
            high,
            rda,
            ul,
            "; ".join([x for x in (*leads, *body) if x]),
            tuple(notes),
            facts["headline"],
            facts["indicator"],
        )

    def _plan_reads(self, plan: tuple[int, int, int, tuple[int, ...], tuple[int, ...]]) -> tuple[str, ...]:
        """The facts the texts of a plan show (the dose texts it makes itself aside): with the plan, the range,
        the RDA and the UL, they decide the worded dose."""
        spec = self.spec
        k, f, v, picks, part_rows = plan
        rule = spec.dose_statuses[k]
        templates = [rule.variants[v].text, *(self.parts_of[k][j].text for j in part_rows)]
        templates += [table[pick][1] for table, pick in zip(spec.dose_texts.values(), picks, strict=True)]
        if f >= 0:
            templates.append(spec.fixed_form[f][1])
        return tuple(sorted({n for t in templates for n in t.names} - set(spec.dose_texts)))

    def _dose_columns(self, *key: Any) -> tuple[Any, ...]:
        """The dose output columns (status, min, max, dose text, form text, dose reasons, headline) for a dose key."""
        dose, form = self.dose_and_form(*key)
        low, high = (math.nan if x is None else x for x in (dose.min_mg, dose.max_mg))
        return str(dose.status), low, high, dose.text, form.text, dose_group_text(dose, form), dose.headline

    def _dosing_note(self, key: str) -> Reason:
        entry = self.dosing[key]
        return Reason(entry["text"], sources_of(entry))

    def _form(self, status: str, wanted: tuple[str, ...], diarrhoea: bool) -> Form:
        dosing = self.dosing
        forms = dosing["forms"]
        if status == DoseStatus.DO_NOT_SUPPLEMENT:
            return Form("", "", dosing["no_supplement"]["do_not_supplement"])
        if status == DoseStatus.NOT_INDICATED:
            return Form("", "", dosing["no_supplement"]["not_indicated"])
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
            evidence.append(Reason(f"{fid.replace('_', ' ')}: {rule['evidence']}", sources_of(rule)))
        text = "; ".join(parts) + f"; {dosing['general']['text']}"
        if avoid:
            text += f"; {forms['diarrhoea']['text']}"
            evidence.append(Reason(forms["diarrhoea"]["text"], sources_of(forms["diarrhoea"])))
        return Form(first_form, first_timing, text, tuple(evidence), avoid)

    # memoised at __init__ (see MEMOISED); declared here for type checkers
    serum_status: Callable[[Serum], SerumStatus]
    rda_for: Callable[[float | None, str | None, bool, bool], float | None]
    ul_age: Callable[[float | None], float]
    factor_reason: Callable[[str, tuple[str, ...]], Reason]
    not_counted_reason: Callable[[str], Reason]
    value_reason: Callable[[int, tuple[Any, ...]], Reason]
    value_factor_reason: Callable[[str, str], Reason]
    ul_any_age: float
    trigger_detail: Callable[[int, tuple[Any, ...]], str]
    found_problem: Callable[[int, tuple[Any, ...]], Problem]
    symptom_reason: Callable[[tuple[str, ...]], Reason]
    serum_below_reason: Callable[[Serum], Reason]
    capped_reason: Callable[[str, Serum], Reason]
    conflict_notes: Callable[[frozenset[str]], tuple[Reason, ...]]
    interaction: Callable[..., Interaction]
    interaction_text: Callable[..., str]
    note_reason: Callable[..., Reason]
    form_choice: Callable[[frozenset[str]], tuple[tuple[str, ...], bool]]
    risk_level: Callable[[int, tuple[Any, ...]], tuple[RiskLevel, bool]]
    contra_outcome: Callable[[tuple[str, ...]], tuple[str, tuple[str, ...]]]
    contra_level: Callable[[frozenset[str]], ContraLevel]
    contra_rank: Callable[[str], int]
    contra_reason: Callable[[str, tuple[str, ...]], Reason]
    none_found_reason: Callable[[tuple[str, ...]], Reason]
    not_checked_lines: Callable[[tuple[bool, ...]], tuple[str, ...]]
    rule_facts: Callable[[str | None], dict[str, Any]]
    factor_facts: Callable[[frozenset[str]], dict[str, Any]]
    symptom_facts: Callable[[frozenset[str]], dict[str, Any]]
    dose_and_form: Callable[..., tuple[Dose, Form]]
    plan_reads: Callable[[tuple[int, int, int, tuple[int, ...], tuple[int, ...]]], tuple[str, ...]]
    dose_columns: Callable[..., tuple[Any, ...]]
    dosing_note: Callable[[str], Reason]
    form: Callable[[str, tuple[str, ...], bool], Form]


def _same_vocabulary(kb: Knowledge, shipped: Knowledge) -> None:
    """Another folder's rules run on the rows as the shipped knowledge reads them (names, codes, units) and
    are shown with its source labels: the concepts and sources must be the same."""
    concepts = set(kb.concepts) ^ set(shipped.concepts)
    sources = set(kb.sources) - set(shipped.sources)
    if concepts or sources:
        raise KnowledgeError(
            "Engine(folder) runs another folder's rules on the shipped vocabulary; this folder differs in "
            + "; ".join(
                part
                for part in (
                    f"concepts {sorted(concepts)[:5]}" if concepts else "",
                    f"sources {sorted(sources)[:5]}" if sources else "",
                )
                if part
            )
            + ": add drugs, diagnoses, symptoms and sources to the shipped knowledge"
        )


_DEFAULT: list[Engine] = []


def default_engine() -> Engine:
    """The engine of the shipped knowledge base (made on first use)."""
    if not _DEFAULT:
        _DEFAULT.append(Engine())
    return _DEFAULT[0]


def rda_mg(age: float, sex: str | None, pregnant: bool = False, lactating: bool = False) -> float | None:
    """RDA (or AI under 1 year) of magnesium in mg/day from all sources; None if sex is needed and not given."""
    return default_engine().rda_mg(age, sex, pregnant, lactating)


def ul_mg(age: float) -> float | None:
    """Upper limit of supplemental magnesium in mg/day for the age; None under 1 year (not established)."""
    return default_engine().ul_mg(age)


def serum_status(serum: Serum) -> SerumStatus:
    """A serum value (``assessment.patient.serum``) against the knowledge's range: below, above, its CTCAE
    grades and whether it is at the urgent level."""
    return default_engine().serum_status(serum)
