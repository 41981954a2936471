"""The :class:`Engine`: one knowledge base, its compiled rule specification, and the decisions made from them.

The decisions (serum status, reference intakes, what a concept does, reasons, risk bands, contraindication
outcome, dose and form) are methods memoised per engine in bounded caches. Both executions use them: the row
driver (:mod:`.row`) for one patient, the table driver (:mod:`.table`) once per distinct key of a column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError
from ..formatting import dose_group_text
from ..kb import Concept, Knowledge, knowledge, load_knowledge
from ..models import Dose, Form, Interaction, Reason
from ..reading import Patient, Serum
from ..vocab import ContraLevel, DoseStatus, RiskLevel
from .row import Findings, compile_row
from .row import decide as decide_row
from .spec import RuleSpec

__all__ = ["Effect", "Engine", "SerumStatus", "default_engine", "rda_mg", "sources_of", "ul_mg"]

NO_FACTOR_TEXT = "no risk factor found in the data given"


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
        self.row_rules = compile_row(self.spec)
        # the row execution: the findings for one patient as read
        self.decide: Callable[[Patient], Findings] = partial(decide_row, self)
        kb_ = self.kb
        serum = kb_.serum
        self.factors: Mapping[str, Any] = kb_.risk["factors"]
        self.levels: Mapping[str, Any] = kb_.risk["levels"]
        self.symptom_rule: Mapping[str, Any] = kb_.risk["symptom_rule"]
        self.rules: Mapping[str, Any] = kb_.contraindications["rules"]
        self.dosing: Mapping[str, Any] = kb_.dosing
        self.limits: Mapping[str, Any] = serum["limits"]
        self.limit_sources = tuple({*sources_of(serum["limits"]["lower"]), *sources_of(serum["limits"]["upper"])})
        self.ul_any_age = float(kb_.intake["ul"]["pregnancy_lactation_ul"])
        self.rule_source = (self.spec.source,)
        self.unknown_reason = Reason(
            "not enough data: no usable serum value, age, diagnosis, medication or symptom", self.rule_source
        )
        self.no_factor_reason = Reason(NO_FACTOR_TEXT, self.rule_source, 0)
        self.serum_unused_reason = Reason(
            "the serum magnesium value on the row could not be used (see the input problems): this level leaves it out",
            self.rule_source,
        )
        self.effects: Mapping[str, Mapping[str, Effect]] = {
            route: {key: self._resolve_effect(c, route) for key, c in kb_.concepts.items()} for route in ROUTES
        }
        self.symptom_effects: Mapping[str, tuple[str | None, str | None, bool]] = {
            c.id: (c.label if c.indication else None, c.form, c.compatible)
            for key, c in kb_.concepts.items()
            if key.startswith("symptom:")
        }
        self.derived: dict[str, Any] = {}  # tables the drivers derive from this engine's knowledge, made once
        small, size = max(1024, cache_size // 64), cache_size

        def cached(fn: Callable[..., Any], maxsize: int = small) -> Any:
            return lru_cache(maxsize=maxsize)(fn)

        # bounded caches, owned by this engine
        self.serum_status: Callable[[Serum], SerumStatus] = cached(self._serum_status, size)
        self.intake_for: Callable[..., tuple[Any, Any, str | None]] = cached(self._intake_for, size // 8)
        self.factor_reason: Callable[[str, tuple[str, ...]], Reason] = cached(self._factor_reason, size // 4)
        self.value_factor_reason: Callable[[str, str], Reason] = cached(self._value_factor_reason, size // 4)
        self.value_reason: Callable[[int, tuple[Any, ...]], Reason] = cached(self._value_reason, size // 4)
        self.trigger_detail: Callable[[int, tuple[Any, ...]], str] = cached(self._trigger_detail, size // 4)
        self.ul_age: Callable[[float | None], float] = cached(self._ul_age, small)
        self.overridden_reason: Callable[[str], Reason] = cached(self._overridden_reason)
        self.symptom_reason: Callable[[tuple[str, ...]], Reason] = cached(self._symptom_reason)
        self.serum_reason: Callable[[str, Serum], Reason] = cached(self._serum_reason, size // 8)
        self.conflict_notes: Callable[[frozenset[str]], tuple[Reason, ...]] = cached(self._conflict_notes)
        self.interaction: Callable[..., Interaction] = cached(self._interaction, size // 8)
        self.interaction_text: Callable[..., str] = cached(self._interaction_text, size // 8)
        self.note_reason: Callable[..., Reason] = cached(self._note_reason, size // 8)
        self.form_choice: Callable[[frozenset[str]], tuple[tuple[str, ...], bool]] = cached(self._form_choice)
        self.risk_level: Callable[[int, bool, bool, bool], tuple[RiskLevel, bool]] = cached(self._risk_level)
        self.contra_outcome: Callable[[tuple[str, ...]], tuple[str, tuple[str, ...]]] = cached(self._contra_outcome)
        self.contra_level: Callable[[frozenset[str]], ContraLevel] = cached(self._contra_level)
        self.contra_rank: Callable[[str], int] = cached(self._contra_rank)
        self.contra_reason: Callable[[str, tuple[str, ...]], Reason] = cached(self._contra_reason, size // 4)
        self.none_found_reason: Callable[[tuple[str, ...]], Reason] = cached(self._none_found_reason, size // 16)
        self.dose_and_form: Callable[..., tuple[Dose, Form]] = cached(self._dose_and_form, size)
        self.dose_columns: Callable[..., tuple[Any, ...]] = cached(self._dose_columns, size // 4)
        self.dose_range: Callable[..., tuple[DoseStatus, Any, Any, str, tuple[Reason, ...]]] = cached(
            self._dose_range, size // 4
        )
        self.dose_status: Callable[..., tuple[str, str]] = cached(self._dose_status)
        self.dosing_note: Callable[[str], Reason] = cached(self._dosing_note)
        self.form: Callable[[str, tuple[str, ...], bool], Form] = cached(self._form)

    def __repr__(self) -> str:
        return f"Engine(knowledge {self.kb.version})"

    # ------------------------------------------------------------ the drivers

    def assess(self, row: Any, **options: Any) -> Any:
        """:func:`mgdecision.assess` with this engine's knowledge."""
        from ..assessment import assess

        return assess(row, engine=self, **options)

    def assess_frame(self, df: Any, **options: Any) -> Any:
        """:func:`mgdecision.assess_frame` with this engine's knowledge (the table execution)."""
        from ..frame import assess_frame

        return assess_frame(df, engine=self, **options)

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

    def _intake_for(
        self, age: float | None, sex: str | None, pregnant: bool, lactating: bool
    ) -> tuple[Any, Any, str | None]:
        """(RDA, UL, age class) for the person; the pregnancy and lactation UL from age 14."""
        if age is None:
            return None, None, None
        ul = self.ul_mg(age)
        if age >= 14 and (pregnant or lactating):
            ul = self.ul_any_age
        return self.rda_mg(age, sex, pregnant, lactating), ul, "infant" if age < 1 else "child" if age < 14 else "adult"

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
        if not below and value < self.limits["lower"][unit]:  # a lab range never hides CTCAE grade 3-4
            below = self._grade(s["ctcae_hypo"], value, unit, "below") >= s["lab_range"]["flag_hypo_grade"]
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

    def _value_factor_reason(self, fid: str, detail: str) -> Reason:
        factor = self.factors[fid]
        return Reason(f"{factor['label']}: {detail}", sources_of(factor), factor["points"])

    def _value_reason(self, k: int, values: tuple[Any, ...]) -> Reason:
        """The reason of the ``k``-th value factor of rules.toml, for the values of the facts its detail names."""
        vf = self.spec.value_factors[k]
        return self._value_factor_reason(vf.factor, vf.detail.from_values(values))

    def _trigger_detail(self, k: int, values: tuple[Any, ...]) -> str:
        """The detail of the ``k``-th contraindication trigger of rules.toml for the values its message names."""
        return self.spec.fire[k].detail.from_values(values)

    def _ul_age(self, age: float | None) -> float:
        """The UL for the age (no pregnancy adjustment), NaN without an age or under 1 year."""
        ul = self.ul_mg(age) if age is not None else None
        return math.nan if ul is None else ul

    def _overridden_reason(self, fid: str) -> Reason:
        """A history factor not counted because the row's measured serum value is not low."""
        factor = self.factors[fid]
        return Reason(
            f"{factor['label']}: history, not counted: the current serum value is not low", sources_of(factor), 0
        )

    def _symptom_reason(self, names: tuple[str, ...]) -> Reason:
        rule = self.symptom_rule
        return Reason(f"{rule['label']}: {', '.join(names)}", sources_of(rule), rule["points"])

    def _serum_reason(self, kind: str, serum: Serum) -> Reason:
        """The risk reason a serum value gives: 'below' the limit, or a cap ('capped at LEVEL')."""
        status = self.serum_status(serum)
        if kind == "below":
            return Reason(
                f"serum {serum.display()} below the lower limit {status.lower:g} {serum.unit}"
                f" (CTCAE grade {status.hypo_grade})",
                ("ctcae_v5", *self.limit_sources),
            )
        return Reason(
            f"{kind}: measured serum {serum.display()} is at or above {status.cut:g} {serum.unit}",
            sources_of(self.limits["low_normal"]),
        )

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

    def _note_reason(self, note: str, who: str, sources: tuple[str, ...]) -> Reason:
        return Reason(f"{note} ({who})", sources)

    # ------------------------------------------------------------ decisions made once per distinct key

    def _risk_level(self, points: int, below: bool, unknown: bool, normal: bool) -> tuple[RiskLevel, bool]:
        """(level, capped): the first band of rules.toml whose condition holds."""
        facts = {"points": points, "serum_below": below, "unknown": unknown, "serum_normal": normal}
        band = self.spec.bands[self.spec.band_row(facts)]  # the last band always holds (checked on loading)
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
        return Reason(f"{rule['text']} ({'; '.join(details)})", sources_of(rule))

    def _none_found_reason(self, not_checked: tuple[str, ...]) -> Reason:
        return Reason(
            "no contraindication found in the data given"
            + (f"; not checked: {'; '.join(not_checked)}" if not_checked else ""),
            self.rule_source,
        )

    @staticmethod
    def unchecked(kidney_unknown: bool, serum_unknown: bool, unrecognized: tuple[str, ...]) -> tuple[str, ...]:
        """What the contraindication check could not cover on the row."""
        not_checked: tuple[str, ...] = ()
        if kidney_unknown:
            not_checked = ("kidney function (no eGFR, dialysis or CKD code)",)
        if serum_unknown:
            not_checked = (*not_checked, "serum magnesium (no usable value): hypermagnesaemia not excluded")
        return (*not_checked, *unrecognized) if unrecognized else not_checked

    def _dose_and_form(
        self,
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
        """Dose status, range and text, with form and timing; a function of discrete inputs only."""
        status, mn, mx, text, notes = self.dose_range(contra, risk, grade, age_class, rda, ul, indications)
        dosing = self.dosing
        supplementing = status in (DoseStatus.RECOMMENDED, DoseStatus.REFER, DoseStatus.PRESCRIBER_ONLY)
        if age_class == "infant" and status == DoseStatus.PRESCRIBER_ONLY:
            supplementing = False  # no supplement for infants unless prescribed: nothing to keep to or check
        if contra == ContraLevel.CAUTION and supplementing:
            text += f"; {dosing['caution']['text']}"
            notes = (*notes, self.dosing_note("caution"))
        leads = []
        if urgent:
            leads.append(self.rules["hypermagnesaemia_severe"]["text"].split(": ", 1)[1])
        if serum_unknown and status == DoseStatus.RECOMMENDED and risk in (RiskLevel.MODERATE, RiskLevel.HIGH):
            leads.append(dosing["check_serum"]["text"])
            notes = (*notes, self.dosing_note("check_serum"))
        if kidney_unknown and supplementing:
            leads.append(dosing["check_egfr"]["text"])
            notes = (*notes, self.dosing_note("check_egfr"))
        if leads:
            text = "; ".join([*leads, text])
        form = self.form(status, forms, diarrhoea) if age_class != "infant" else self._infant_form()
        if form.timing and supplementing:
            text += f"; {form.form}, {form.timing}"
        return Dose(status, mn, mx, rda, ul, text, notes), form

    def _dose_columns(self, *key: Any) -> tuple[Any, ...]:
        """The dose output columns (status, min, max, dose text, form text, dose reasons) for a dose key."""
        dose, form = self.dose_and_form(*key)
        low, high = (math.nan if x is None else x for x in (dose.min_mg, dose.max_mg))
        return str(dose.status), low, high, dose.text, form.text, dose_group_text(dose, form)

    def _dose_status(
        self, contra: str, risk: str, grade: int | None, age_class: str | None, indicated: bool
    ) -> tuple[str, str]:
        """(status, kind): the first dose status of rules.toml whose condition holds."""
        facts = {
            "contra": contra,
            "risk": risk,
            "hypo_grade": grade or 0,
            "age_class": age_class,
            "indicated": indicated,
        }
        rule = self.spec.dose_statuses[self.spec.dose_status_row(facts)]  # the last one always holds
        return rule.status, rule.kind

    def _dose_range(
        self,
        contra: str,
        risk: str,
        grade: int | None,
        age_class: str | None,
        rda: float | None,
        ul: float | None,
        indications: tuple[str, ...],
    ) -> tuple[DoseStatus, float | None, float | None, str, tuple[Reason, ...]]:
        """Status, range, text up to the RDA, and notes: the part of the dose that does not depend on the form."""
        dosing = self.dosing
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
        word, kind = self.dose_status(contra, risk, grade, age_class, bool(indications))
        status = DoseStatus(word)
        mn: float | None
        mx: float | None
        refer = texts["REFER"]
        if kind == "do_not_supplement":
            mn, mx, text = 0.0, 0.0, texts["DO_NOT_SUPPLEMENT"]["text"]
            if grade:
                text += f"; {dosing['low_serum_contraindicated']['text']} (CTCAE grade {grade})"
                notes.append(self.dosing_note("low_serum_contraindicated"))
            if grade is not None and grade >= self.spec.urgent_review_grade:
                text += "; urgent specialist review"
        elif kind == "refer":  # at any age, before the infant and child statuses
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
        elif kind == "infant":
            mn, mx, text = 0.0, 0.0, texts["PRESCRIBER_ONLY_INFANT"]["text"]
        elif kind == "child":
            mn, mx = 0.0, float(ul or 0)
            text = f"{texts['PRESCRIBER_ONLY_CHILD']['text']}: up to {mx:g} mg/day elemental ({ul_text})"
        elif kind == "recommended":
            why = f"risk {risk}" if risk in (RiskLevel.MODERATE, RiskLevel.HIGH) else ", ".join(indications)
            if age_class is None:  # no numeric range without the age
                mn = mx = None
                text = f"{dosing['age_unknown']['text']}; for {why}"
                notes.append(self.dosing_note("age_unknown"))
            else:
                mn, mx = lo, hi
                text = f"{mn:g}-{mx:g} mg/day {texts['RECOMMENDED']['text']} ({ul_text}); for {why}"
            notes.append(self.dosing_note("above_ul"))
        else:
            mn, mx, text = 0.0, 0.0, texts["NOT_INDICATED"]["text"]
        if rda is not None:
            text += f"; RDA {rda:g} mg/day from all sources"
        return status, mn, mx, text, tuple(notes)

    def _dosing_note(self, key: str) -> Reason:
        entry = self.dosing[key]
        return Reason(entry["text"], sources_of(entry))

    def _infant_form(self) -> Form:
        return Form("", "", self.dosing["status"]["PRESCRIBER_ONLY_INFANT"]["form"])

    def _form(self, status: str, wanted: tuple[str, ...], diarrhoea: bool) -> Form:
        dosing = self.dosing
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
            evidence.append(Reason(f"{fid.replace('_', ' ')}: {rule['evidence']}", sources_of(rule)))
        text = "; ".join(parts) + f"; {dosing['general']['text']}"
        if avoid:
            text += f"; {forms['diarrhoea']['text']}"
            evidence.append(Reason(forms["diarrhoea"]["text"], sources_of(forms["diarrhoea"])))
        return Form(first_form, first_timing, text, tuple(evidence), avoid)


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
