"""The rule specification (``knowledge/rules.toml`` and the sentences of the knowledge) compiled once per
knowledge base, and checked.

Every condition is parsed (:mod:`.expr`); every fact, rule, factor and constant it names must exist, and each
decision may only read the facts it is made from (so it can be made once per distinct combination of them).
The facts of a row are the base facts (:mod:`.facts`) and the derived facts of ``[facts]``; the row execution
of everything that reads only them is one function compiled from syntax-tree nodes (:func:`compile_row`), the
table execution evaluates the same trees on columns.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import KnowledgeError
from ..kb import Knowledge
from ..terms import QUALIFIERS
from .expr import Condition, Node, Template, first_match, function, parse, row_expression
from .facts import COMBINED, FACTS, BaseFact, Kind, Member, Path, listed_flag

__all__ = [
    "DOSE_FACTS",
    "RISK_SLOTS",
    "ROW_OUTPUTS",
    "Band",
    "DosePart",
    "DoseStatusRule",
    "DoseVariant",
    "FoundProblem",
    "RowProgram",
    "RuleSpec",
    "Slot",
    "Trigger",
    "ValueFactor",
]

# Facts a decision gives, readable by the decisions after it (never by the row's own conditions).
BAND_FACTS: Mapping[str, Kind] = {"points": "number"}
DOSE_FACTS: Mapping[str, Kind] = {
    "contra": "text",
    "contra_short": "text",  # what the first contraindication or caution is, in a few words
    "urgent": "yes",  # an urgent rule fired (severe hypermagnesaemia)
    "room": "number",  # how much more the current intake may rise to the top of the range
    "risk": "text",
    "indicated": "yes",
    "indications": "text",
    "factors": "text",  # the risk factors counted on the row, by label
    "loss_factor": "yes",  # a factor of ongoing magnesium loss (2 points or more) is counted
    "loss_factors": "text",  # those factors, by label
    "symptoms": "text",
    "recheck_factor": "text",  # the factor that sets how often a normal serum is rechecked, and that interval
    "recheck_interval": "text",
    "rda": "number",
    "status": "text",
    "supplementing": "yes",
    "min": "number",
    "max": "number",
    "ul_text": "text",
    "why": "text",
    "form_name": "text",
    "form_timing": "text",
}
DOSE_TABLES = ("ul_text", "why", "headline", "indicator")  # first-match texts of [dose], in this order
# Facts a text names beside those of the row: the level of the band that capped the risk, a factor's label,
# what could not be checked.
TEXT_FACTS: Mapping[str, Kind] = {"level": "text", "label": "text", "not_checked": "text", "listed": "text"}
# Facts the drivers read beside those the rules name: the reference intakes (age, sex, pregnancy, lactation),
# the serum state of the risk reasons, and what the risk band needs.
DRIVER_FACTS = (
    "age",
    "sex",
    "pregnant",
    "lactating",
    "serum_measured",
    "serum_below",
    "hypo_grade",
    "unknown",
    "route",
)
RISK_SLOTS = (
    "unknown",
    "serum_below",
    "list_factors",
    "value_factors",
    "symptom_rule",
    "capped",
    "no_factor",
    "serum_unused",
)
STATUSES = ("DO_NOT_SUPPLEMENT", "REFER", "PRESCRIBER_ONLY", "CHECK_SERUM", "RECOMMENDED", "NOT_INDICATED")
INDICATORS = ("info", "warning", "critical")
DOSE_CALLS = ("known", "factor", "symptom")  # the calls the dose rules may use
LEVELS = ("LOW", "MODERATE", "HIGH", "UNKNOWN")
_SAMPLE: Mapping[Kind, Any] = {"yes": True, "number": 1.5, "text": "x"}


@dataclass(frozen=True)
class Trigger:
    """One row-value contraindication rule: fires ``rule`` with ``detail`` when ``when`` holds."""

    rule: str
    when: Condition
    detail: Template
    fired_reads: tuple[str, ...]  # rules whose fired(...) the condition reads
    held: bool  # the condition reads listed(rule): the lists do not fire it on their own
    listed_rule: str  # whose naming items {listed} joins: the first rule the condition asks listed() about


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
class FoundProblem:
    """A problem the rules find on the row (rules.toml [problems]): reported with its field, code and message."""

    when: Condition
    field: str
    code: str
    value: Template
    message: Template


@dataclass(frozen=True)
class Slot:
    """Where a kind of risk reason goes, and when it is shown."""

    name: str
    when: Condition
    fallback: bool  # shown only when no slot before it gave a reason


@dataclass(frozen=True)
class DoseVariant:
    when: Condition
    low: Condition | None  # the range, None for no range
    high: Condition | None
    text: Template
    notes: tuple[str, ...]  # dosing.toml entries shown as notes


@dataclass(frozen=True)
class DosePart:
    when: Condition
    text: Template
    note: str | None
    lead: bool


@dataclass(frozen=True)
class DoseStatusRule:
    when: Condition
    status: str
    supplementing: bool
    variants: tuple[DoseVariant, ...]
    parts: tuple[DosePart, ...]


class RowProgram:
    """The row execution of every rule that reads only the facts of a row, as one function.

    ``run(engine, patient, serum_status, list_effects, fired)`` returns a tuple: the triggers that fire (each as
    (its number, the values its message names)), the value factors that hold and the problems found (likewise),
    then one tuple per
    name of :data:`ROW_OUTPUTS`: the values each later decision reads, in the order :meth:`outputs` gives
    (numbers in a memo key with NaN, never equal to itself, as None)."""

    def __init__(self, run: Callable[..., tuple[Any, ...]], spec: RuleSpec) -> None:
        self.run = run
        self.counts: Mapping[str, int] = {fid: k for k, fid in enumerate(spec.factor_counts)}

    @staticmethod
    def outputs(spec: RuleSpec) -> dict[str, tuple[tuple[str, bool], ...]]:
        """Per output, (the fact or condition it holds, as a memo key) in order."""
        return {
            "dose_key": tuple((n, True) for n in spec.dose_reads),
            "band_key": tuple((n, True) for n in spec.band_reads),
            "intake": tuple((n, True) for n in ("age", "sex", "pregnant", "lactating")),
            "below": (("serum_below", False), ("hypo_grade", False)),
            "slots": tuple((f"slot:{s.name}", False) for s in spec.slots),
            "not_checked": tuple((f"not_checked:{k}", False) for k in range(len(spec.not_checked))),
            "counts": tuple((f"counts:{fid}", False) for fid in spec.factor_counts),
            "symptom": (("counts:symptom_rule", False),),
            "route": (("route", False),),
        }


ROW_OUTPUTS = ("dose_key", "band_key", "intake", "below", "slots", "not_checked", "counts", "symptom", "route")


def _facts_in_order(node: Node) -> list[str]:
    """The facts a tree reads, in the order written."""
    if node[0] == "fact":
        return [node[1]]
    if node[0] == "const":
        return []
    return [f for part in node[1:] if isinstance(part, tuple) for f in _facts_in_order(part)]


def _check_kinds(node: Node, kinds: Mapping[str, Kind], text: str, where: str) -> Kind:
    """The kind of a tree, checking on the way: yes/no where one is needed; numbers compared with numbers,
    texts only for equality with texts; the values of a first-match table all of one kind."""
    kind = node[0]
    if kind == "const":
        value = node[1]
        return "yes" if isinstance(value, bool) else "text" if isinstance(value, str) else "number"
    if kind == "fact":
        name = node[1]
        return "yes" if ":" in name else kinds[name]  # fired(...), listed(...), known(...)
    if kind in ("and", "or", "not"):
        for part in node[1:]:
            if _check_kinds(part, kinds, text, where) != "yes":
                raise KnowledgeError(f"{where}: {text!r}: a number or a text where yes/no is needed")
        return "yes"
    if kind == "arith":
        if (
            _check_kinds(node[2], kinds, text, where) != "number"
            or _check_kinds(node[3], kinds, text, where) != "number"
        ):
            raise KnowledgeError(f"{where}: {text!r}: only numbers are added or subtracted")
        return "number"
    if kind == "if":
        if _check_kinds(node[1], kinds, text, where) != "yes":
            raise KnowledgeError(f"{where}: {text!r}: a number or a text where yes/no is needed")
        then, otherwise = _check_kinds(node[2], kinds, text, where), _check_kinds(node[3], kinds, text, where)
        if then != otherwise:
            raise KnowledgeError(f"{where}: {text!r}: the values of a table must be of one kind")
        return then
    left, right = _check_kinds(node[2], kinds, text, where), _check_kinds(node[3], kinds, text, where)
    if left != right or left == "yes" or (left == "text" and node[1] not in ("==", "!=")):
        raise KnowledgeError(f"{where}: {text!r}: cannot compare {left} {node[1]} {right}")
    return "yes"


class RuleSpec:
    """``knowledge/rules.toml`` and the sentences it assembles, parsed and checked against the knowledge."""

    def __init__(self, kb: Knowledge) -> None:
        spec = kb.rules
        self.rules: Mapping[str, Any] = kb.contraindications["rules"]
        factors = kb.risk["factors"]
        renal = kb.contraindications["renal"]
        band = f"{renal['severe_below']}-{renal['moderate_below'] - 1}"  # the eGFR band of renal_moderate
        self.constants: dict[str, Any] = {
            "renal": {**renal, "moderate_band": band},
            "levels": kb.risk["levels"],
            "symptom_rule": kb.risk["symptom_rule"],
            "dose": spec["dose"],
            "dosing": kb.dosing,
            "intake": kb.intake,
            "serum": kb.serum,
            "kidney": kb.kidney,
        }
        self.source: str = spec["source"]
        self.factor_ids = frozenset(factors)
        self.symptom_ids = frozenset(c.id for c in kb.concepts.values() if c.kind == "symptom")
        # the base facts: the declared ones, the combined ones, and `<flag>_listed` for every flag a concept sets
        self.base: dict[str, BaseFact] = dict(FACTS)
        self.flags: tuple[str, ...] = tuple(
            sorted({f for c in kb.concepts.values() for f in (c.sets, c.sets_as_indication) if f})
        )
        for flag in self.flags:
            fact = listed_flag(flag)
            self.base[fact.name] = fact
        # what a rule may read (object facts are read by other facts only)
        self.kinds: dict[str, Kind] = {name: fact.kind for name, fact in self.base.items() if fact.kind != "object"}
        self.kinds.update({name: c.kind for name, c in COMBINED.items() if c.kind != "object"})
        self.derived: dict[str, Condition] = {}
        for name, entry in spec.get("facts", {}).items():
            self._derive(name, entry)
        row_facts = frozenset(self.kinds)

        triggers = []
        for k, entry in enumerate(spec["contraindications"]["fire"]):
            where = f"contraindications.fire[{k}]"
            if entry["rule"] not in self.rules:
                raise KnowledgeError(f"rules.toml {where}: unknown rule {entry['rule']!r}")
            when = self.condition(entry["when"], row_facts, where, ("fired", "listed", "known"))
            fired = tuple(sorted(f.split(":", 1)[1] for f in when.facts if f.startswith("fired:")))
            held = f"listed:{entry['rule']}" in when.facts
            detail = self.template(entry["detail"], where, row_facts | {"listed"})
            named = [f.split(":", 1)[1] for f in _facts_in_order(when.tree) if f.startswith("listed:")]
            triggers.append(Trigger(entry["rule"], when, detail, fired, held, named[0] if named else entry["rule"]))
        self.fire: tuple[Trigger, ...] = tuple(triggers)
        self.held: frozenset[str] = frozenset(
            f.split(":", 1)[1] for t in triggers for f in t.when.facts if f.startswith("listed:")
        )
        from ..vocab import ProblemCode

        codes = {str(c) for c in ProblemCode}
        found_problems = []
        for k, e in enumerate(spec.get("problems", {}).get("found", ())):
            where = f"problems.found[{k}]"
            if e["code"] not in codes:
                raise KnowledgeError(f"rules.toml {where}: unknown problem code {e['code']!r}")
            found_problems.append(
                FoundProblem(
                    self.condition(e["when"], row_facts, where, ("known",)),
                    str(e["field"]),
                    e["code"],
                    self.template(e["value"], where, row_facts),
                    self.template(e["message"], where, row_facts),
                )
            )
        self.problems: tuple[FoundProblem, ...] = tuple(found_problems)
        qualified = spec.get("lists", {}).get("qualifiers", {})
        if set(qualified) != set(QUALIFIERS) or not all(isinstance(v, str) and v for v in qualified.values()):
            raise KnowledgeError(f"rules.toml lists.qualifiers: a text for each of {', '.join(QUALIFIERS)}")
        self.qualifier_texts: tuple[str, ...] = tuple(qualified[q] for q in QUALIFIERS)
        self.not_checked: tuple[tuple[Condition, str], ...] = tuple(
            (self.condition(e["when"], row_facts, f"contraindications.not_checked[{k}]", ("known",)), e["text"])
            for k, e in enumerate(spec["contraindications"]["not_checked"])
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
                    self.condition(entry["when"], row_facts, where, ("known",)),
                    self.template(entry["detail"], where, row_facts),
                )
            )
        self.value_factors: tuple[ValueFactor, ...] = tuple(value_factors)
        self.factor_counts: dict[str, Condition] = {
            fid: self.condition(f["counts_when"], row_facts, f"risk.toml factors.{fid}.counts_when", ("known",))
            for fid, f in factors.items()
            if "counts_when" in f
        }
        self.symptom_counts = self.condition(
            kb.risk["symptom_rule"]["counts_when"], row_facts, "risk.toml symptom_rule.counts_when", ("known",)
        )
        band_facts = row_facts | set(BAND_FACTS)
        self.bands: tuple[Band, ...] = tuple(
            Band(
                self.condition(b["when"], band_facts, f"risk.bands[{k}]", ("known",)),
                b["level"],
                bool(b.get("capped")),
            )
            for k, b in enumerate(risk["bands"])
        )
        for k, b in enumerate(self.bands):
            if b.level not in LEVELS:
                raise KnowledgeError(f"rules.toml risk.bands[{k}]: unknown level {b.level!r}")
        if self.bands[-1].when.text != "true":
            raise KnowledgeError('rules.toml risk.bands: the last band must be `when = "true"`')
        self.band_reads: tuple[str, ...] = tuple(
            sorted(set().union(*(b.when.facts for b in self.bands)) - set(BAND_FACTS))
        )
        slots = risk["reasons"]
        names = [s.get("slot") if isinstance(s, Mapping) else s for s in slots]
        if sorted(map(str, names)) != sorted(RISK_SLOTS):
            raise KnowledgeError(f"rules.toml risk.reasons: must place exactly {', '.join(RISK_SLOTS)}")
        self.slots: tuple[Slot, ...] = tuple(
            Slot(
                s["slot"],
                self.condition(s["when"], row_facts, f"risk.reasons[{k}]", ("known",)),
                bool(s.get("fallback")),
            )
            for k, s in enumerate(slots)
        )
        texts = kb.risk["texts"]
        self.risk_texts: Mapping[str, Template] = {
            key: self.template(texts[key], f"risk.toml texts.{key}", row_facts | {"level", "label"})
            for key in ("unknown", "no_factor", "serum_unused", "not_counted", "serum_below", "capped")
        }
        contra_texts = kb.contraindications["texts"]
        self.contra_texts: Mapping[str, Template] = {
            key: self.template(contra_texts[key], f"contraindications.toml texts.{key}", frozenset({"not_checked"}))
            for key in ("none_found", "not_checked")
        }

        dose = spec["dose"]
        dose_facts = row_facts | set(DOSE_FACTS)
        self.dose_statuses: tuple[DoseStatusRule, ...] = tuple(
            self._dose_status(k, d, dose_facts) for k, d in enumerate(dose["statuses"])
        )
        if self.dose_statuses[-1].when.text != "true":
            raise KnowledgeError('rules.toml dose.statuses: the last status must be `when = "true"`')
        self.dose_parts: tuple[DosePart, ...] = tuple(
            self._dose_part(p, f"dose.parts[{k}]", dose_facts) for k, p in enumerate(dose["parts"])
        )
        # the form column where one of these holds (the first), else the form rules of dosing.toml
        self.fixed_form: tuple[tuple[Condition, Template], ...] = self._text_table(
            dose["fixed_form"], "dose.fixed_form", dose_facts, complete=False
        )
        self.dose_texts: Mapping[str, tuple[tuple[Condition, Template], ...]] = {
            name: self._text_table(dose[name], f"dose.{name}", dose_facts) for name in DOSE_TABLES
        }
        self._check_dose_text_reads()
        templates = [t for _w, t in self.fixed_form] + [t for table in self.dose_texts.values() for _w, t in table]
        templates += [v.text for s in self.dose_statuses for v in s.variants]
        templates += [p.text for s in self.dose_statuses for p in s.parts] + [p.text for p in self.dose_parts]
        self.dose_ids: tuple[str, ...] = tuple(
            sorted(
                {n for c in self._dose_conditions() for n in c.facts if n.startswith(("factor:", "symptom:"))}
                | {n for t in templates for n in t.names if n.startswith(("factor:", "symptom:"))}
            )
        )
        for k, (_when, text) in enumerate(self.dose_texts["indicator"]):
            if text.names or text.text not in INDICATORS:
                raise KnowledgeError(f"rules.toml dose.indicator[{k}]: one of {', '.join(INDICATORS)}")
        grade = dose["urgent_review_grade"]
        if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 4:
            raise KnowledgeError("rules.toml dose.urgent_review_grade: a CTCAE grade from 1 to 4")
        self.urgent_review_grade: int = grade
        self.dose_reads: tuple[str, ...] = self._dose_reads()
        self.dose_reads_texts = self._dose_reads_texts()
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
        self.program = compile_row(self)

    # ------------------------------------------------------------ parsing with checks

    def condition(
        self, text: str, allowed: frozenset[str] | set[str], where: str, calls: tuple[str, ...] = ()
    ) -> Condition:
        """``calls``: the functions the condition may use (fired and listed name rules, known a fact)."""
        found = parse(text, self.constants)
        self._check(found, allowed, where, calls)
        return found

    def _check(self, found: Condition, allowed: frozenset[str] | set[str], where: str, calls: tuple[str, ...]) -> None:
        for fact in found.facts:
            kind, _, arg = fact.partition(":")
            if not arg:
                ok = fact in allowed
            elif kind in ("factor", "symptom"):
                ok = kind in calls and arg in (self.factor_ids if kind == "factor" else self.symptom_ids)
            else:
                ok = kind in calls and (arg in allowed if kind == "known" else arg in self.rules)
            if not ok:
                raise KnowledgeError(f"rules.toml {where}: {found.text!r} reads {fact!r}, which it cannot read")
        if _check_kinds(found.tree, self._all_kinds, found.text, f"rules.toml {where}") != "yes":
            raise KnowledgeError(f"rules.toml {where}: {found.text!r}: a number or a text where yes/no is needed")

    @property
    def _all_kinds(self) -> Mapping[str, Kind]:
        return {**self.kinds, **BAND_FACTS, **DOSE_FACTS, **TEXT_FACTS}

    def template(self, text: str, where: str, allowed: frozenset[str] | set[str]) -> Template:
        found = Template(text, self.constants)
        if not found.facts <= allowed:
            raise KnowledgeError(f"rules.toml {where}: {text!r} names {sorted(found.facts - set(allowed))}")
        kinds = self._all_kinds
        sample = tuple(_SAMPLE[kinds.get(n, "text")] for n in found.names)
        try:  # every format spec is tried now, not when the text is first shown
            found.from_values(sample)
        except (ValueError, TypeError) as exc:
            raise KnowledgeError(f"rules.toml {where}: {text!r}: {exc}") from None
        return found

    def _derive(self, name: str, entry: Any) -> None:
        """A derived fact: a condition, or a first-match table of {when, value} ending with ``true``."""
        where = f"facts.{name}"
        if not name.isidentifier() or keyword.iskeyword(name) or name in self.kinds or ":" in name:
            raise KnowledgeError(f"rules.toml {where}: not a new fact name")
        allowed = frozenset(self.kinds)
        if isinstance(entry, str):
            found = self.condition(entry, allowed, where, ("known",))
        elif isinstance(entry, list) and entry and all(isinstance(e, Mapping) for e in entry):
            pairs: list[tuple[Node, Node]] = []
            for k, e in enumerate(entry):
                when = self.condition(e["when"], allowed, f"{where}[{k}]", ("known",))
                value = parse(str(e["value"]), self.constants)
                if value.tree[0] not in ("const", "fact") or not value.facts <= allowed:
                    raise KnowledgeError(f"rules.toml {where}[{k}]: a value is a number, a 'text' or a fact")
                pairs.append((when.tree, value.tree))
            if entry[-1]["when"] != "true":
                raise KnowledgeError(f'rules.toml {where}: the last entry must be `when = "true"`')
            tree = first_match(pairs)
            found = Condition(f"first match of {where}", tree)
            _check_kinds(tree, self.kinds, found.text, f"rules.toml {where}")
        else:
            raise KnowledgeError(f"rules.toml {where}: a condition or a list of {{ when, value }}")
        self.kinds[name] = _check_kinds(found.tree, self.kinds, found.text, f"rules.toml {where}")
        self.derived[name] = found

    def _check_dose_text_reads(self) -> None:
        """A dose text exists once it is picked: a text table's condition may read the texts before it, a part's
        any text; no status, fixed form or variant reads one. ``dose_texts_read``: the texts a condition reads."""
        texts = set(DOSE_TABLES)
        made: set[str] = set()
        allowed: list[tuple[Condition, set[str]]] = []
        for name, table in self.dose_texts.items():
            allowed += [(when, set(made)) for when, _t in table]
            made.add(name)
        allowed += [(x.when, texts) for s in self.dose_statuses for x in s.parts]
        allowed += [(p.when, texts) for p in self.dose_parts]
        checked = {id(when) for when, _ in allowed}
        allowed += [(when, set()) for when in self._dose_conditions() if id(when) not in checked]
        read: set[str] = set()
        for when, may in allowed:
            named = {n.removeprefix("known:") for n in when.facts} & texts
            wrong = sorted(named - may)
            if wrong:
                raise KnowledgeError(
                    f"rules.toml dose: {when.text!r} reads a dose text not made before it ({', '.join(wrong)})"
                )
            read |= named
        self.dose_texts_read: frozenset[str] = frozenset(read)

    def _text_table(
        self,
        entries: Sequence[Mapping[str, str]],
        where: str,
        allowed: frozenset[str] | set[str],
        complete: bool = True,
    ) -> tuple[tuple[Condition, Template], ...]:
        """A first-match table of {when, text}; ``complete``: its last entry must hold always."""
        table = tuple(
            (
                self.condition(e["when"], allowed, f"{where}[{k}]", DOSE_CALLS),
                self.template(e["text"], f"{where}[{k}]", allowed),
            )
            for k, e in enumerate(entries)
        )
        if complete and (not table or table[-1][0].text != "true"):
            raise KnowledgeError(f'rules.toml {where}: the last entry must be `when = "true"`')
        return table

    def _number(self, text: Any, where: str, allowed: frozenset[str] | set[str]) -> Condition | None:
        if text is None:
            return None
        found = parse(str(text), self.constants)
        if found.tree[0] not in ("const", "fact") or not found.facts <= allowed:
            raise KnowledgeError(f"rules.toml {where}: a range end is a number, a constant or a fact")
        if _check_kinds(found.tree, self._all_kinds, found.text, where) != "number":
            raise KnowledgeError(f"rules.toml {where}: a range end is a number")
        return found

    def _dose_part(self, entry: Mapping[str, Any], where: str, allowed: frozenset[str] | set[str]) -> DosePart:
        note = entry.get("note")
        if note is not None and note not in self.constants["dosing"]:
            raise KnowledgeError(f"rules.toml {where}: unknown dosing.toml entry {note!r}")
        return DosePart(
            self.condition(entry["when"], allowed, where, DOSE_CALLS),
            self.template(entry["text"], where, allowed),
            note,
            bool(entry.get("lead")),
        )

    def _dose_status(self, k: int, entry: Mapping[str, Any], allowed: frozenset[str] | set[str]) -> DoseStatusRule:
        where = f"dose.statuses[{k}]"
        if entry.get("status") not in STATUSES:
            raise KnowledgeError(f"rules.toml {where}: unknown status {entry.get('status')!r}")
        variants = []
        for j, v in enumerate(entry["variants"]):
            at = f"{where}.variants[{j}]"
            notes = tuple(v.get("notes", ()))
            for note in notes:
                if note not in self.constants["dosing"]:
                    raise KnowledgeError(f"rules.toml {at}: unknown dosing.toml entry {note!r}")
            variants.append(
                DoseVariant(
                    self.condition(v["when"], allowed, at, DOSE_CALLS),
                    self._number(v.get("min"), at, allowed),
                    self._number(v.get("max"), at, allowed),
                    self.template(v["text"], at, allowed),
                    notes,
                )
            )
        if not variants or variants[-1].when.text != "true":
            raise KnowledgeError(f'rules.toml {where}: the last variant must be `when = "true"`')
        return DoseStatusRule(
            self.condition(entry["when"], allowed - {"status", "supplementing", "min", "max"}, where, DOSE_CALLS),
            entry["status"],
            bool(entry.get("supplementing")),
            tuple(variants),
            tuple(self._dose_part(p, f"{where}.parts[{j}]", allowed) for j, p in enumerate(entry.get("parts", ()))),
        )

    def _dose_reads(self) -> tuple[str, ...]:
        """The facts of the row the dose decision reads (its memo key), beside the decisions before it."""
        read: set[str] = set()
        for s in self.dose_statuses:
            read |= s.when.facts
            for v in s.variants:
                read |= v.when.facts | v.text.facts
                read |= set().union(*(x.facts for x in (v.low, v.high) if x is not None))
            for p in s.parts:
                read |= p.when.facts | p.text.facts
        for p in self.dose_parts:
            read |= p.when.facts | p.text.facts
        for table in self.dose_texts.values():
            for when, text in table:
                read |= when.facts | text.facts
        for when, text in self.fixed_form:
            read |= when.facts | text.facts
        names = {f.split(":", 1)[1] if f.startswith("known:") else f for f in read}
        return tuple(sorted(n for n in names if n in self.kinds))

    def _dose_conditions(self) -> list[Condition]:
        """Every condition and number the dose rules evaluate."""
        found: list[Condition] = []
        for s in self.dose_statuses:
            found.append(s.when)
            for v in s.variants:
                found += [v.when, *(x for x in (v.low, v.high) if x is not None)]
            found += [p.when for p in s.parts]
        found += [p.when for p in self.dose_parts]
        found += [when for table in (*self.dose_texts.values(), self.fixed_form) for when, _text in table]
        return found

    def _dose_reads_texts(self) -> bool:
        """Whether a dose condition reads a text the dose itself picked (then the column execution decides per
        distinct input, as the row execution does)."""
        read = set().union(*(c.facts for c in self._dose_conditions()))
        return bool({n.removeprefix("known:") for n in read} & set(DOSE_TABLES))


# ---------------------------------------------------------------- the row execution, compiled once


def _store(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_load(name), args=list(args), keywords=[])


def _local(fact: str) -> str:
    return f"f_{fact}"


def compile_row(spec: RuleSpec) -> RowProgram:
    """One function for a row: its base and derived facts, the triggers in order, the value factors, and every
    other condition that reads only the row's facts (factor conditions, the symptom rule, reason slots, what
    could not be checked). A base fact named only by a message is read when its rule fires."""
    conditions: dict[str, Condition] = {}
    for fid, c in spec.factor_counts.items():
        conditions[f"counts:{fid}"] = c
    conditions["counts:symptom_rule"] = spec.symptom_counts
    for s in spec.slots:
        conditions[f"slot:{s.name}"] = s.when
    for k, (c, _text) in enumerate(spec.not_checked):
        conditions[f"not_checked:{k}"] = c
    reads: set[str] = set(spec.derived) | set(spec.band_reads) | set(spec.dose_reads) | set(DRIVER_FACTS)
    for c in (*conditions.values(), *(t.when for t in spec.fire), *(v.when for v in spec.value_factors)):
        reads |= c.facts
    for c in spec.derived.values():
        reads |= c.facts
    needed = {f.split(":", 1)[1] if f.startswith("known:") else f for f in reads}
    while True:  # and the facts they are worked out from
        more = {d for name in needed if name in spec.base for d in spec.base[name].depends}
        more |= {i for name in needed | more if name in COMBINED for i in COMBINED[name].inputs}
        if more <= needed:
            break
        needed |= more

    namespace: dict[str, Any] = {}

    def base(name: str) -> ast.expr:
        """How a base fact is read: inline for an attribute, else a call of its reader."""
        if name in COMBINED:
            combined = COMBINED[name]
            namespace[f"C_{name}"] = combined.function
            return _call(f"C_{name}", _load("e"), *[_load(_local(i)) for i in combined.inputs])
        fact = spec.base[name]
        if isinstance(fact.row, Path):
            return _path(fact.row, f"v_{name}")
        if isinstance(fact.row, Member):
            member = fact.row
            return ast.Compare(
                left=ast.Constant(value=member.item), ops=[ast.In()], comparators=[_attribute("le", member.attribute)]
            )
        namespace[f"R_{name}"] = fact.row
        if fact.patient_only:
            return _call(f"R_{name}", _load("e"), _load("p"))
        return _call(f"R_{name}", _load("e"), _load("p"), _load("st"), _load("le"))

    first = sorted(n for n in needed & set(spec.base) if not spec.base[n].depends)
    dependent = sorted(n for n in needed & set(spec.base) if spec.base[n].depends)
    body: list[ast.stmt] = [_store(_local(name), base(name)) for name in first]
    body += [_store(_local(name), base(name)) for name in COMBINED if name in needed]  # in the order declared
    body += [_store(_local(name), base(name)) for name in dependent]
    fired_rules = sorted({r for t in spec.fire for r in t.fired_reads})
    fired_local = {r: f"fired_{k}" for k, r in enumerate(fired_rules)}

    def read(name: str, rule: str | None = None) -> ast.expr:
        kind, _, arg = name.partition(":")
        if kind == "known" and arg:  # inline: a number is known when not NaN, a text when not None
            value = read(arg)
            if spec.kinds[arg] == "number":
                return ast.Compare(left=value, ops=[ast.Eq()], comparators=[read(arg)])
            return ast.Compare(left=value, ops=[ast.IsNot()], comparators=[ast.Constant(value=None)])
        if kind == "fired" and arg:
            return _load(fired_local[arg])
        if kind == "listed" and arg:
            return ast.Compare(left=ast.Constant(value=arg), ops=[ast.In()], comparators=[_attribute("le", "held")])
        if name == "listed":
            namespace["LISTED"] = _listed_names
            return _call("LISTED", _load("le"), ast.Constant(value=rule or ""))
        if name in needed:
            return _load(_local(name))
        if name in COMBINED:
            raise KnowledgeError(f"rules.toml: {name!r} is worked out from other facts: name it in a condition")
        return base(name)  # named only by a message: read where it is shown

    for name, c in spec.derived.items():  # in the order written: each reads only those above it
        body.append(_store(_local(name), row_expression(c.tree, read)))
    for rule, local in fired_local.items():
        body.append(
            _store(local, ast.Compare(left=ast.Constant(value=rule), ops=[ast.In()], comparators=[_load("fired")]))
        )
    body += [
        _store("hits", ast.List(elts=[], ctx=ast.Load())),
        _store("valued", ast.List(elts=[], ctx=ast.Load())),
        _store("found", ast.List(elts=[], ctx=ast.Load())),
    ]
    for k, trigger in enumerate(spec.fire):
        values = ast.Tuple(elts=[read(n, trigger.listed_rule) for n in trigger.detail.names], ctx=ast.Load())
        then: list[ast.stmt] = [
            ast.Expr(_method("hits", "append", ast.Tuple(elts=[ast.Constant(value=k), values], ctx=ast.Load())))
        ]
        if trigger.rule in fired_local:
            then.append(_store(fired_local[trigger.rule], ast.Constant(value=True)))
        body.append(ast.If(test=row_expression(trigger.when.tree, read), body=then, orelse=[]))
    for k, vf in enumerate(spec.value_factors):
        values = ast.Tuple(elts=[read(n) for n in vf.detail.names], ctx=ast.Load())
        item = ast.Tuple(elts=[ast.Constant(value=k), values], ctx=ast.Load())
        append: list[ast.stmt] = [ast.Expr(_method("valued", "append", item))]
        body.append(ast.If(test=row_expression(vf.when.tree, read), body=append, orelse=[]))
    for k, problem in enumerate(spec.problems):
        names = (*problem.value.names, *problem.message.names)
        values = ast.Tuple(elts=[read(n) for n in names], ctx=ast.Load())
        item = ast.Tuple(elts=[ast.Constant(value=k), values], ctx=ast.Load())
        append = [ast.Expr(_method("found", "append", item))]
        body.append(ast.If(test=row_expression(problem.when.tree, read), body=append, orelse=[]))
    for name, c in conditions.items():
        body.append(_store(_local(name.replace(":", "__")), row_expression(c.tree, read)))

    def output(name: str, as_key: bool) -> ast.expr:
        value = _load(_local(name.replace(":", "__")))
        if as_key and spec.kinds.get(name) == "number":  # NaN as None
            test = ast.Compare(left=value, ops=[ast.NotEq()], comparators=[value])
            return ast.IfExp(test=test, body=ast.Constant(value=None), orelse=value)
        return value

    groups = RowProgram.outputs(spec)
    result: list[ast.expr] = [_load("hits"), _load("valued"), _load("found")]
    for group in ROW_OUTPUTS:
        result.append(ast.Tuple(elts=[output(n, key) for n, key in groups[group]], ctx=ast.Load()))
    body.append(ast.Return(value=ast.Tuple(elts=result, ctx=ast.Load())))
    run = function(["e", "p", "st", "le", "fired"], body, namespace)
    return RowProgram(run, spec)


def _path(path: Path, temp: str) -> ast.expr:
    """``path`` read inline: ``missing`` where the owner (the serum status) or a link of the chain is None."""
    missing = ast.Constant(value=path.missing)
    parts = path.attribute.split(".")
    current: ast.expr = _load(path.owner)
    steps: list[tuple[str, ast.expr]] = []
    if path.owner == "st":
        steps.append((f"{temp}_0", current))
        current = _load(f"{temp}_0")
    for k, part in enumerate(parts, start=1):
        steps.append((f"{temp}_{k}", ast.Attribute(value=current, attr=part, ctx=ast.Load())))
        current = _load(f"{temp}_{k}")
    final: ast.expr = ast.BinOp(left=current, op=ast.Add(), right=ast.Constant(value=0.0)) if path.number else current
    for name, value in reversed(steps):
        final = ast.IfExp(
            test=ast.Compare(
                left=ast.NamedExpr(target=ast.Name(id=name, ctx=ast.Store()), value=value),
                ops=[ast.Is()],
                comparators=[ast.Constant(value=None)],
            ),
            body=missing,
            orelse=final,
        )
    return final


def _attribute(owner: str, name: str) -> ast.Attribute:
    return ast.Attribute(value=_load(owner), attr=name, ctx=ast.Load())


def _method(owner: str, name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_attribute(owner, name), args=list(args), keywords=[])


def _listed_names(le: Any, rule: str) -> str:
    """The names (as shown) that listed a held rule, joined with ", " ("" where none did)."""
    return ", ".join(le.held.get(rule, ()))
