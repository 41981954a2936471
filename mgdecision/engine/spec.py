"""The rule specification (``knowledge/rules.toml``) compiled once per knowledge base, and checked.

Every condition is parsed (:mod:`.expr`), every rule, factor and fact it names must exist, and each decision
table may only read the facts its decision is made from (so it can be decided once per distinct key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..errors import KnowledgeError
from ..kb import Knowledge
from .expr import Condition, Template, first_holding, parse

__all__ = ["FACTS", "Band", "DoseStatusRule", "RuleSpec", "Trigger", "ValueFactor"]

# The facts of a row a condition or a message may read (see knowledge/rules.toml).
FACTS = frozenset(
    {
        "age", "age_months", "sex", "pregnant", "lactating", "route", "dialysis", "egfr", "dose", "ul_age",
        "ul_any_age", "serum", "serum_unit", "serum_above", "serum_below", "serum_urgent", "serum_low_normal",
        "serum_normal", "serum_upper", "serum_cut", "urgent_limit", "hypo_grade", "hyper_grade", "listed",
    }
)  # fmt: skip
BAND_FACTS = frozenset({"points", "serum_below", "unknown", "serum_normal"})
DOSE_FACTS = frozenset({"contra", "risk", "hypo_grade", "age_class", "indicated"})


@dataclass(frozen=True)
class Trigger:
    """One row-value contraindication rule: fires ``rule`` with ``detail`` when ``when`` holds."""

    rule: str
    when: Condition
    detail: Template
    fired_reads: tuple[str, ...]  # rules whose fired(...) the condition reads
    held: bool  # the condition reads listed(rule): the lists do not fire it on their own


@dataclass(frozen=True)
class ValueFactor:
    factor: str
    when: Condition
    detail: Template


@dataclass(frozen=True)
class Band:
    when: Condition
    level: str
    capped: bool


@dataclass(frozen=True)
class DoseStatusRule:
    when: Condition
    status: str
    kind: str


class RuleSpec:
    """``knowledge/rules.toml`` parsed and checked against the rest of the knowledge."""

    def __init__(self, kb: Knowledge) -> None:
        spec = kb.rules
        rules = kb.contraindications["rules"]
        factors = kb.risk["factors"]
        renal = kb.contraindications["renal"]
        band = f"{renal['severe_below']}-{renal['moderate_below'] - 1}"  # the eGFR band of renal_moderate
        constants: dict[str, Any] = {
            "renal": {**renal, "moderate_band": band},
            "levels": kb.risk["levels"],
            "dose": spec["dose"],
        }
        self.source: str = spec["source"]

        def condition(text: str, allowed: frozenset[str], where: str, calls: tuple[str, ...] = ()) -> Condition:
            """``calls``: the functions the condition may use (fired and listed name rules, known a fact)."""
            found = parse(text, constants)
            for fact in found.facts:
                kind, _, arg = fact.partition(":")
                if not arg:
                    ok = fact in allowed and fact != "listed"
                else:
                    ok = kind in calls and (arg in FACTS if kind == "known" else arg in rules)
                if not ok:
                    raise KnowledgeError(f"rules.toml {where}: {text!r} reads {fact!r}, which it cannot read")
            return found

        def template(text: str, where: str) -> Template:
            found = Template(text, constants)
            if not found.facts <= FACTS:
                raise KnowledgeError(f"rules.toml {where}: {text!r} names {sorted(found.facts - FACTS)}")
            return found

        triggers = []
        for k, entry in enumerate(spec["contraindications"]["fire"]):
            where = f"contraindications.fire[{k}]"
            if entry["rule"] not in rules:
                raise KnowledgeError(f"rules.toml {where}: unknown rule {entry['rule']!r}")
            when = condition(entry["when"], FACTS, where, ("fired", "listed", "known"))
            fired = tuple(sorted(f.split(":", 1)[1] for f in when.facts if f.startswith("fired:")))
            held = f"listed:{entry['rule']}" in when.facts
            triggers.append(Trigger(entry["rule"], when, template(entry["detail"], where), fired, held))
        self.fire: tuple[Trigger, ...] = tuple(triggers)
        self.held: frozenset[str] = frozenset(
            f.split(":", 1)[1] for t in triggers for f in t.when.facts if f.startswith("listed:")
        )
        self.listed_fact: Mapping[str, str] = {rule: f"listed:{rule}" for rule in self.held}

        risk = spec["risk"]
        value_factors = []
        for k, entry in enumerate(risk["value_factors"]):
            if entry["factor"] not in factors:
                raise KnowledgeError(f"rules.toml risk.value_factors[{k}]: unknown factor {entry['factor']!r}")
            where = f"risk.value_factors[{k}]"
            value_factors.append(
                ValueFactor(
                    entry["factor"],
                    condition(entry["when"], FACTS, where, ("known",)),
                    template(entry["detail"], where),
                )
            )
        self.value_factors: tuple[ValueFactor, ...] = tuple(value_factors)
        self.bands: tuple[Band, ...] = tuple(
            Band(condition(b["when"], BAND_FACTS, f"risk.bands[{k}]"), b["level"], bool(b.get("capped")))
            for k, b in enumerate(risk["bands"])
        )
        self.band_row = first_holding([b.when for b in self.bands])
        if self.bands[-1].when.text != "true":
            raise KnowledgeError('rules.toml risk.bands: the last band must be `when = "true"`')
        self.risk_slots: Mapping[str, int] = {name: k for k, name in enumerate(risk["reasons"])}
        self.risk_slot = SimpleNamespace(**self.risk_slots)  # the same, as attributes (read for every row)

        dose = spec["dose"]
        self.dose_statuses: tuple[DoseStatusRule, ...] = tuple(
            DoseStatusRule(condition(d["when"], DOSE_FACTS, f"dose.statuses[{k}]"), d["status"], d["kind"])
            for k, d in enumerate(dose["statuses"])
        )
        self.dose_status_row = first_holding([d.when for d in self.dose_statuses])
        if self.dose_statuses[-1].when.text != "true":
            raise KnowledgeError('rules.toml dose.statuses: the last status must be `when = "true"`')
        self.urgent_review_grade: int = dose["urgent_review_grade"]
        self.form_priority: tuple[str, ...] = tuple(dose["form_priority"])
        unknown_forms = set(self.form_priority) - set(kb.dosing["forms"])
        if unknown_forms:
            raise KnowledgeError(f"rules.toml dose.form_priority: unknown form rules {sorted(unknown_forms)}")
        order = spec["interactions"]["severity_order"]
        self.severity_rank: Mapping[str, int] = {s: k for k, s in enumerate(order)}
        for iid, entry in kb.interactions.items():
            severities = entry["severity"].values() if isinstance(entry["severity"], dict) else [entry["severity"]]
            if not set(severities) <= set(order):
                raise KnowledgeError(f"interactions.toml {iid}: a severity not in rules.toml severity_order")
