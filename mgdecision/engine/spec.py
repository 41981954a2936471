"""The rule specification (``knowledge/rules.toml``) compiled once per knowledge base, and checked.

Every condition is parsed (:mod:`.expr`), every rule, factor and fact it names must exist, and each decision
table may only read the facts its decision is made from (so it can be decided once per distinct key).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import KnowledgeError
from ..kb import Knowledge
from .expr import Condition, Template, first_holding, parse

__all__ = [
    "FACTS",
    "NUMBERS",
    "RISK_SLOTS",
    "SERUM_FACTS",
    "TEXTS",
    "Band",
    "DoseStatusRule",
    "RuleSpec",
    "Trigger",
    "ValueFactor",
]

# The facts of a row a condition or a message may read (see knowledge/rules.toml), by kind: a yes/no fact
# stands alone or under and/or/not; numbers and texts are compared (texts with == and != only).
YES_NO = frozenset(
    {"pregnant", "lactating", "dialysis", "serum_above", "serum_below", "serum_urgent", "serum_low_normal",
     "serum_normal", "unknown", "indicated"}
)  # fmt: skip
NUMBERS = frozenset(
    {"age", "age_months", "egfr", "dose", "ul_age", "ul_any_age", "serum_upper", "serum_cut", "urgent_limit",
     "hypo_grade", "hyper_grade", "points"}
)  # fmt: skip
TEXTS = frozenset({"sex", "route", "serum", "serum_unit", "listed", "contra", "risk", "age_class"})
# The facts read from a SerumStatus (engine/core.py): name -> (its attribute, the value without a usable
# serum value or where the attribute is None). Both executions read them from here.
SERUM_FACTS: Mapping[str, tuple[str, bool | int | float]] = {
    "serum_above": ("above", False),
    "serum_below": ("below", False),
    "serum_urgent": ("urgent", False),
    "serum_low_normal": ("low_normal", False),
    "serum_normal": ("at_or_above_cut", False),
    "serum_upper": ("upper", math.nan),
    "serum_cut": ("cut", math.nan),
    "urgent_limit": ("urgent_limit", math.nan),
    "hypo_grade": ("hypo_grade", 0),  # 0: not graded
    "hyper_grade": ("hyper_grade", 0),
}
BAND_FACTS = frozenset({"points", "serum_below", "unknown", "serum_normal"})
DOSE_FACTS = frozenset({"contra", "risk", "hypo_grade", "age_class", "indicated"})
# what a trigger or a value factor reads: every fact of the row, not those only a band or a dose status has
FACTS = (YES_NO | NUMBERS | TEXTS) - {"points", "unknown", "contra", "risk", "age_class", "indicated"}
RISK_SLOTS = ("serum_below", "list_factors", "value_factors", "symptom_rule", "capped", "serum_unused")
DOSE_KINDS = frozenset({"do_not_supplement", "refer", "infant", "child", "recommended", "not_indicated"})
_SAMPLE = {"yes": True, "number": 1.5, "text": "x"}


def _kind(node: tuple[Any, ...]) -> str:
    """The kind of a term: 'yes' (true/false), 'number' or 'text'."""
    if node[0] == "const":
        value = node[1]
        return "yes" if isinstance(value, bool) else "text" if isinstance(value, str) else "number"
    if node[0] == "fact":
        name = node[1]
        if ":" in name:
            return "yes"  # fired(...), listed(...), known(...)
        return "number" if name in NUMBERS else "text" if name in TEXTS else "yes"
    return "yes"


def _check_kinds(node: tuple[Any, ...], text: str, where: str) -> None:
    """A yes/no where one is needed; numbers compared with numbers, texts only for equality with texts."""
    kind = node[0]
    if kind in ("and", "or", "not"):
        for part in node[1:]:
            if _kind(part) != "yes":
                raise KnowledgeError(f"rules.toml {where}: {text!r}: a number or a text where yes/no is needed")
            _check_kinds(part, text, where)
    elif kind == "cmp":
        left, right = _kind(node[2]), _kind(node[3])
        if left != right or left == "yes" or (left == "text" and node[1] not in ("==", "!=")):
            raise KnowledgeError(f"rules.toml {where}: {text!r}: cannot compare {left} {node[1]} {right}")
    elif _kind(node) != "yes":
        raise KnowledgeError(f"rules.toml {where}: {text!r}: a number or a text where yes/no is needed")


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
            _check_kinds(found.tree, text, where)
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
            sample = tuple(_SAMPLE["number" if n in NUMBERS else "text" if n in TEXTS else "yes"] for n in found.names)
            try:  # every format spec is tried now, not when the rule first fires
                found.from_values(sample)
            except (ValueError, TypeError) as exc:
                raise KnowledgeError(f"rules.toml {where}: {text!r}: {exc}") from None
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
        for k, b in enumerate(self.bands):
            if b.level not in ("LOW", "MODERATE", "HIGH", "UNKNOWN"):
                raise KnowledgeError(f"rules.toml risk.bands[{k}]: unknown level {b.level!r}")
        self.band_row = first_holding([b.when for b in self.bands])
        if self.bands[-1].when.text != "true":
            raise KnowledgeError('rules.toml risk.bands: the last band must be `when = "true"`')
        if sorted(risk["reasons"]) != sorted(RISK_SLOTS):
            raise KnowledgeError(f"rules.toml risk.reasons: must order exactly {', '.join(RISK_SLOTS)}")
        self.risk_slots: Mapping[str, int] = {name: k for k, name in enumerate(risk["reasons"])}
        self.risk_order: tuple[int, ...] = tuple(RISK_SLOTS.index(name) for name in risk["reasons"])

        dose = spec["dose"]
        self.dose_statuses: tuple[DoseStatusRule, ...] = tuple(
            DoseStatusRule(condition(d["when"], DOSE_FACTS, f"dose.statuses[{k}]"), d["status"], d["kind"])
            for k, d in enumerate(dose["statuses"])
        )
        self.dose_status_row = first_holding([d.when for d in self.dose_statuses])
        if self.dose_statuses[-1].when.text != "true":
            raise KnowledgeError('rules.toml dose.statuses: the last status must be `when = "true"`')
        statuses = ("DO_NOT_SUPPLEMENT", "REFER", "PRESCRIBER_ONLY", "RECOMMENDED", "NOT_INDICATED")
        for k, d in enumerate(self.dose_statuses):
            if d.kind not in DOSE_KINDS or d.status not in statuses:
                raise KnowledgeError(f"rules.toml dose.statuses[{k}]: unknown status {d.status!r} or kind {d.kind!r}")
        grade = dose["urgent_review_grade"]
        if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 4:
            raise KnowledgeError("rules.toml dose.urgent_review_grade: a CTCAE grade from 1 to 4")
        self.urgent_review_grade: int = grade
        self.form_priority: tuple[str, ...] = tuple(dose["form_priority"])
        unknown_forms = set(self.form_priority) - set(kb.dosing["forms"])
        if unknown_forms:
            raise KnowledgeError(f"rules.toml dose.form_priority: unknown form rules {sorted(unknown_forms)}")
        order = spec["interactions"]["severity_order"]
        self.severity_rank: Mapping[str, int] = {s: k for k, s in enumerate(order)}
        for iid, entry in kb.interactions.items():
            if not isinstance(entry, dict):
                continue
            severities = entry["severity"].values() if isinstance(entry["severity"], dict) else [entry["severity"]]
            if not set(severities) <= set(order):
                raise KnowledgeError(f"interactions.toml {iid}: a severity not in rules.toml severity_order")
