"""The rulebook of a knowledge base, for a clinical governance committee to review and sign off: every rule,
threshold, interaction, dose status and text, each with its sources, and the knowledge version.

    from mgdecision.rulebook import rulebook
    book = rulebook()                  # the shipped knowledge; rulebook(folder) or rulebook(engine) for another
    book.markdown(), book.html()       # GitHub Markdown; one standalone, print-friendly HTML page

Generated from the loaded knowledge alone (:mod:`mgdecision.document` renders it): conditions are quoted as
``rules.toml`` writes them, with the values of the constants they name; texts as the engine assembles them, with
``{name}`` where a value of the row goes. The same knowledge gives byte-identical output. ``mgdecision rules``
prints it; ``knowledge/RULEBOOK.md`` is the shipped copy (a test keeps it current).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .document import Block, Bullets, Cite, Code, Document, Heading, Inline, Line, Link, Para, Table, source_anchor
from .engine import Engine
from .engine.core import sources_of
from .engine.expr import Template, constant
from .engine.spec import RuleSpec
from .errors import KnowledgeError
from .kb import Concept, Knowledge, knowledge, load_knowledge
from .terminology import SYSTEM_NAMES, Terminology, load_terminology, terminology

__all__ = ["REGENERATE", "SHIPPED", "rulebook"]

SHIPPED = Path(__file__).parent / "knowledge" / "RULEBOOK.md"  # the shipped copy: `python3 dev.py rules` writes it
REGENERATE = "python3 dev.py rules"  # the command that writes it, named when it is not current

Cell = str | Inline | Line | list[Line] | None
Row = Sequence[Cell]
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_ROUTE_NAMES = {"oral": "oral", "iv": "IV"}


def rulebook(source: Knowledge | Engine | str | Path | None = None, *,
             codes: Terminology | None = None) -> Document:
    """The rulebook of the shipped knowledge (``None``), of a knowledge folder, of a loaded :class:`Knowledge` or
    of an :class:`Engine`'s knowledge. ``codes``: the terminology whose codes it lists (by default the shipped
    one, or the folder's, when the knowledge is too; none for another loaded knowledge)."""
    if isinstance(source, Engine):
        kb, spec = source.kb, source.spec
    else:
        if source is None or isinstance(source, Knowledge):
            kb = source if source is not None else knowledge()
        else:
            kb = load_knowledge(source)
            codes = codes if codes is not None else load_terminology(source, kb)
        spec = RuleSpec(kb)
    if codes is None and kb is knowledge():
        codes = terminology()
    return _Book(kb, spec, codes).document()


# ---------------------------------------------------------------------- values as shown


def _num(value: Any) -> str:
    """A value as the knowledge writes it: whole numbers without ".0", other numbers in their shortest form."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _listed(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _keyed(entry: Mapping[str, Any]) -> list[Line]:
    """The values of a table, one a line, each after its key (its ``text`` without one)."""
    return [(f"{k}: " if k != "text" else "", _num(v)) for k, v in entry.items() if k != "source"]


def _points(points: Any) -> str:
    return f"{_num(points)} point" + ("" if points == 1 else "s")


def _longest_first(words: Iterable[str]) -> list[str]:
    """Words as the reader tries them, longest first (alphabetical among equals, so the order never varies)."""
    return sorted(words, key=lambda w: (-len(w), w))


def _icd(code_key: str) -> str:
    """An ICD-10-CM code as written (the index keeps it without its dot, which always follows the third character)."""
    return code_key if len(code_key) <= 3 else f"{code_key[:3]}.{code_key[3:]}"


def _words(words: Iterable[Any]) -> Line:
    """Words as the reader looks for them, each quoted, separated by commas (one line)."""
    out: list[Inline] = []
    for word in words:
        if out:
            out.append(", ")
        out.append(Code(str(word)))
    return tuple(out)


def _lines(value: Cell) -> tuple[Line, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(tuple(x) for x in value)
    if isinstance(value, tuple):
        return (value,)
    return ((value,),)


def _table(header: Sequence[str], rows: Iterable[Row], ids: Sequence[str] = ()) -> Table:
    return Table(tuple(header), tuple(tuple(_lines(c) for c in row) for row in rows), tuple(ids))


def _by_route(value: Any) -> list[Line]:
    """A value that may differ by route ({oral = ..., iv = ...}): one line, or one a route."""
    if isinstance(value, Mapping):
        return [(f"{_ROUTE_NAMES.get(r, r)}: {_num(v)}",) for r, v in value.items()]
    return [(_num(value),)]


class _Book:
    """Builds the rulebook's blocks from one knowledge base and its compiled rule specification."""

    def __init__(self, kb: Knowledge, spec: RuleSpec, codes: Terminology | None) -> None:
        self.kb, self.spec, self.codes = kb, spec, codes
        self.labels = {sid: s.label for sid, s in kb.sources.items()}
        if codes is not None:
            for sid, s in codes.sources.items():
                self.labels.setdefault(sid, s.get("label", sid) if isinstance(s, Mapping) else sid)
        self.triggers: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
        for k, entry in enumerate(kb.rules["contraindications"]["fire"], start=1):
            self.triggers.setdefault(entry["rule"], []).append((k, entry))

    # ------------------------------------------------------------------ pieces

    def cite(self, *entries: Any) -> Cite:
        """The sources of knowledge entries (or of source ids given as texts), each once, in order."""
        ids: list[str] = []
        for entry in entries:
            for sid in (sources_of(entry) if isinstance(entry, Mapping) else _listed(entry)):
                if sid not in ids:
                    ids.append(sid)
        return Cite(tuple((sid, self.labels.get(sid, sid)) for sid in ids))

    def constants(self, text: str) -> list[Inline]:
        """The dotted constants a condition names, with their values ("renal.severe_below = 30")."""
        found: list[Inline] = []
        for name in dict.fromkeys(_DOTTED.findall(_QUOTED.sub("", text))):
            try:
                value = constant(name, self.spec.constants, text)
            except KnowledgeError:
                continue
            found += ["; " if found else "where ", Code(f"{name} = {_num(value)}")]
        return found

    def condition(self, text: str) -> list[Line]:
        """A condition as written, and the values of the constants it names on a second line."""
        where = self.constants(text)
        return [(Code(text),), tuple(where)] if where else [(Code(text),)]

    def text(self, template: str) -> str:
        """A message as the engine assembles it: constants filled in, ``{name}`` where a row value goes."""
        found = Template(template, self.spec.constants)
        return "".join(p if isinstance(p, str) else "{" + found.names[p[0]] + "}" for p in found.pieces)

    def amount(self, expression: Any) -> str:
        """A range end of a dose variant: a constant's value, or the fact it names."""
        text = str(expression)
        if _DOTTED.fullmatch(text):
            return _num(constant(text, self.spec.constants, text))
        return text if re.fullmatch(r"[\d.]+", text) else "{" + text + "}"

    def concept_names(self, keys: Iterable[str], route_of: Mapping[str, str] | None = None) -> Line:
        """Concepts by label, with the route where a rule applies to one route only (one line)."""
        out: list[Inline] = []
        for key in keys:
            concept = self.kb.concepts[key]
            route = f" ({route_of[key]})" if route_of and route_of.get(key) else ""
            out.append(("; " if out else "") + concept.label + route)
        return tuple(out)

    def sources_blurb(self, *entries: Any) -> Para:
        return Para(("Sources: ", self.cite(*entries)))

    # ------------------------------------------------------------------ the document

    def document(self) -> Document:
        kb = self.kb
        preamble: list[Block] = [
            Para((f"Knowledge version {kb.version}, released {kb.released}, status {kb.status}.",)),
            Para((kb.notice,)),
            Para((
                "Generated from the knowledge files (",
                Code("mgdecision/knowledge/*.toml"),
                ") by ",
                Code("mgdecision rules"),
                "; do not edit it by hand. Every entry names its sources by their labels (full references in ",
                "the list of sources at the end). Conditions are quoted as ",
                Code("rules.toml"),
                " writes them; texts as the engine assembles them.",
            )),
        ]
        sections = [
            ("How to read this rulebook", self.how_to_read),
            ("Contraindications", self.contraindications),
            ("Deficiency risk", self.risk),
            ("Serum magnesium", self.serum),
            ("Kidney function", self.kidney),
            ("Facts derived from a row", self.facts),
            ("Dose decision", self.dose),
            ("Dosing texts and forms", self.dosing),
            ("Reference intakes", self.intake),
            ("Interactions", self.interactions),
            ("Magnesium products", self.products),
            ("Medications", self.drugs),
            ("Diagnoses and symptoms", self.conditions),
            ("Input fields", self.fields),
            ("Codes", self.code_tables),
            ("Seed article claims that conflict with the evidence", self.seed_conflicts),
            ("Sources", self.sources),
        ]
        blocks = list(preamble)
        number = 0
        for title, build in sections:
            body = build()
            if body:
                number += 1
                blocks.append(Heading(2, f"{number}. {title}"))
                blocks += body
        return Document(f"mgdecision rulebook, knowledge {kb.version}", tuple(blocks))

    # ------------------------------------------------------------------ sections

    def how_to_read(self) -> list[Block]:
        return [
            Para((
                "Conditions are written in a small language: comparisons (", Code("< <= > >= == !="), "), ",
                Code("and"), ", ", Code("or"), ", ", Code("not"), ", numbers, ", Code("'texts'"), ", ",
                Code("true"), " and ", Code("false"), ". Plain names are facts of the row (listed in ",
                Code("rules.toml"), "; derived ones in the section on facts derived from a row); dotted names are ",
                "constants of the knowledge, shown with their values below the condition. ",
                "A missing number makes every comparison with it false.",
            )),
            Bullets((
                (Code("fired(rule)"), ": the rule has fired already on this row (rules fire in the order listed)"),
                (Code("listed(rule)"), ": a diagnosis or medication on the row names the rule; a rule that a trigger "
                 "asks this about is held: the lists do not fire it on their own"),
                (Code("known(fact)"), ": the row gives the value"),
                (Code("factor(x)"), ", ", Code("symptom(x)"), ": the risk factor or the symptom x is on the row"),
                ("In a text, ", Code("{name}"), " is where the value of the row goes."),
            )),
        ]

    def contraindications(self) -> list[Block]:
        kb = self.kb
        rules = kb.contraindications["rules"]
        fire = kb.rules["contraindications"]["fire"]
        blocks: list[Block] = [
            Para((
                "Levels: CONTRAINDICATED, then CAUTION; with no rule fired, NONE_FOUND. The highest level wins and "
                "every rule that fired is listed with its text and sources. Rules named by a diagnosis or a "
                "medication fire first, in the order the row names them; then the triggers below, in this order.",
            )),
            Heading(3, "Triggers in firing order"),
            _table(("#", "rule", "level", "when", "detail"), (
                (str(k), Code(e["rule"]), rules[e["rule"]]["level"], self.condition(e["when"]), self.text(e["detail"]))
                for k, e in enumerate(fire, start=1)
            )),
            Heading(3, "Rules"),
        ]
        named = self._named_by()
        for rid, rule in rules.items():
            blocks.append(Heading(4, f"{rid}: {rule['short']} ({rule['level']})"))
            facts: list[Line] = [
                ("Level: ", rule["level"], "; urgent (leads the dose text)" if rule.get("urgent") else ""),
                ("Short: ", rule["short"]),
                ("Text: ", rule["text"]),
                ("Sources: ", self.cite(rule)),
            ]
            if rid in named:
                facts.append(("Named by: ", *named[rid]))
            if rid in self.spec.held:
                facts.append(("Held: the lists do not fire it on their own; the triggers below decide.",))
            blocks.append(Bullets(tuple(facts)))
            triggers = self.triggers.get(rid, [])
            if triggers:
                blocks.append(_table(("#", "when", "detail"), (
                    (str(k), self.condition(e["when"]), self.text(e["detail"])) for k, e in triggers
                )))
            elif rid not in named:
                blocks.append(Para(("Fired by no trigger and named by no list item.",)))
        texts = kb.contraindications["texts"]
        blocks += [
            Heading(3, "No contraindication found"),
            Para(("With no rule fired the result says ", Code(texts["none_found"]), "; and ",
                  Code(texts["not_checked"]), " with what the row did not allow to check, in this order (then the "
                  "list items not recognised or not counted as current):")),
            _table(("when", "not checked"), (
                (self.condition(e["when"]), e["text"]) for e in kb.rules["contraindications"]["not_checked"]
            )),
            self.sources_blurb(texts, kb.rules),
        ]
        return blocks

    def _named_by(self) -> dict[str, list[Inline]]:
        """Per contraindication rule: the diagnoses, medications and ambiguous abbreviations that name it."""
        routes: dict[str, dict[str, str]] = {}
        for key, concept in self.kb.concepts.items():
            by_rule: dict[str, list[str]] = {}
            for route, rid in concept.contra.items():
                by_rule.setdefault(rid, []).append(route)
            for rid, on in by_rule.items():
                shown = "" if set(on) == set(_ROUTE_NAMES) else ", ".join(_ROUTE_NAMES[r] for r in on)
                routes.setdefault(rid, {})[key] = shown
        out: dict[str, list[Inline]] = {}
        for rid, keys in routes.items():
            parts: list[Inline] = []
            for kind, title in (("condition", "diagnoses"), ("drug", "medications"), ("symptom", "symptoms")):
                mine = [k for k in keys if self.kb.concepts[k].kind == kind]
                if mine:
                    parts += [(" | " if parts else "") + f"{title}: ", *self.concept_names(mine, keys)]
            ambiguous = [a for a, (_r, counted) in self.kb.ambiguous.items()
                         if any(rid in self.kb.concepts[k].contra.values() for k in counted)]
            if ambiguous:
                parts += [" | ambiguous abbreviations: ", *_words(ambiguous)]
            out[rid] = parts
        return out

    def risk(self) -> list[Block]:
        kb = self.kb
        risk = kb.risk
        levels = risk["levels"]
        value_factors: dict[str, list[Mapping[str, Any]]] = {}
        for entry in kb.rules["risk"]["value_factors"]:
            value_factors.setdefault(entry["factor"], []).append(entry)
        listed: dict[str, list[str]] = {}
        for key, concept in kb.concepts.items():
            if concept.risk:
                listed.setdefault(concept.risk, []).append(key)
        rows: list[Row] = []
        for fid, factor in risk["factors"].items():
            counted_by: list[Line] = []
            if fid in listed:
                counted_by.append(("listed: ", *self.concept_names(listed[fid])))
            for entry in value_factors.get(fid, ()):
                counted_by += [("row value: ", Code(entry["when"])), (f"detail: {self.text(entry['detail'])}",)]
            if "counts_when" in factor:
                counted_by.append(("counts only when ", Code(factor["counts_when"])))
            recheck = factor.get("recheck", "")
            rows.append((Code(fid), factor["label"], _num(factor["points"]), counted_by, recheck, self.cite(factor)))
        symptom = risk["symptom_rule"]
        rows.append((Code("symptom_rule"), symptom["label"], _num(symptom["points"]),
                     self.condition(symptom["counts_when"]), "", self.cite(symptom)))
        texts = risk["texts"]
        return [
            Para((
                "Each factor counts once, however many items on the row give it; the points add up. Levels: "
                f"HIGH from {_points(levels['high_from'])}, MODERATE from {_points(levels['moderate_from'])}; a "
                "measured serum at or above the evidence-based cut-off caps the level at "
                f"{levels['cap_with_normal_serum']} (the bands below). ",
                "Sources: ", self.cite(levels),
            )),
            Heading(3, "Risk factors"),
            _table(("factor", "label", "points", "counted from", "normal serum rechecked", "sources"), rows),
            Heading(3, "Risk bands"),
            Para(("The first band whose condition holds gives the level (facts: ", Code("points"), ", ",
                  Code("serum_below"), ", ", Code("serum_normal"), ", ", Code("unknown"), ").")),
            _table(("#", "when", "level", "capped by a normal serum"), (
                (str(k), self.condition(b["when"]), b["level"], "yes" if b.get("capped") else "")
                for k, b in enumerate(kb.rules["risk"]["bands"], start=1)
            )),
            Heading(3, "Risk reasons"),
            Para(("Where each risk reason goes, in this order (a fallback slot only when no slot before it gave a "
                  "reason):",)),
            _table(("#", "slot", "when", "fallback"), (
                (str(k), Code(s["slot"]), self.condition(s["when"]), "yes" if s.get("fallback") else "")
                for k, s in enumerate(kb.rules["risk"]["reasons"], start=1)
            )),
            _table(("text", "says"), ((Code(k), self.text(v)) for k, v in texts.items() if k != "source")),
            self.sources_blurb(texts),
        ]

    def serum(self) -> list[Block]:
        serum = self.kb.serum
        units = [u for u, spec in serum["units"].items() if isinstance(spec, Mapping)]
        limits, lab = serum["limits"], serum["lab_range"]

        def per_unit(values: Mapping[str, Any], show: Any = _num) -> list[str]:
            return [show(values[u]) if u in values else "" for u in units]

        def band(pair: Sequence[Any]) -> str:
            return f"{_num(pair[0])} to {_num(pair[1])}"

        limit_rows: list[list[Cell]] = [
            ["lower limit (below: low)", *per_unit(limits["lower"]), self.cite(limits["lower"])],
            ["upper limit (above: high)", *per_unit(limits["upper"]), self.cite(limits["upper"])],
            ["evidence-based cut-off (below, within range: low-normal)", *per_unit(limits["low_normal"]),
             self.cite(limits["low_normal"])],
            ["urgent: severe hypermagnesaemia above", *per_unit(serum["urgent"]["above"]),
             self.cite(serum["urgent"]["above"])],
            ["a lab's own lower limit is used when within", *per_unit(lab["low"], band), self.cite(lab)],
            ["a lab's own upper limit is used when within", *per_unit(lab["high"], band), self.cite(lab)],
        ]
        grade_rows: list[Row] = []
        for table, direction, word in (("ctcae_hypo", "low", "below"), ("ctcae_hyper", "high", "above")):
            steps = serum[table]
            for unit in units:
                given = steps.get(unit)
                if isinstance(given, str):
                    shown = f"graded as {given}, after conversion"
                else:
                    limit = "the lower limit" if word == "below" else "the upper limit"
                    shown = "; ".join([f"grade 1: {word} {limit}",
                                       *(f"grade {s['grade']}: {word} {_num(s[word])}" for s in given or ())])
                grade_rows.append((direction, unit, shown, self.cite(steps)))
        other: list[Row] = [
            ("plausible range (outside: an input problem, not used)",
             f"{_num(serum['plausible']['min_mmol'])} to {_num(serum['plausible']['max_mmol'])} mmol/L",
             self.cite(serum["plausible"])),
            ("flagged low whatever the lab range says, from CTCAE grade", _num(lab["flag_hypo_grade"]), self.cite(lab)),
            ("flagged high whatever the lab range says, from CTCAE grade", _num(lab["flag_hyper_grade"]),
             self.cite(lab)),
            ("a result older than this many days counts for the risk, not for the dose status",
             _num(serum["current"]["days"]), self.cite(serum["current"])),
            ("on IV magnesium therapy, a serum above the upper limit up to this level (mmol/L) is a caution",
             _num(serum["iv_therapy"]["caution_up_to_mmol"]), self.cite(serum["iv_therapy"])),
        ]
        flags = serum["flags"]
        return [
            Heading(3, "Units"),
            _table(("unit", "1 unit in mmol/L", "also read as"), (
                (u, _num(serum["units"][u]["to_mmol"]), _words(serum["units"][u]["spellings"])) for u in units
            )),
            self.sources_blurb(serum["units"]),
            Heading(3, "Limits"),
            Para(("Written per unit as published (not converted). A lab range on the row overrides the lower and "
                  "upper limits when plausible.",)),
            _table(("limit", *units, "sources"), limit_rows),
            Heading(3, "CTCAE v5 grades"),
            _table(("serum", "unit", "grades", "sources"), grade_rows),
            Heading(3, "Other serum thresholds"),
            _table(("threshold", "value", "sources"), other),
            Heading(3, "Lab flags"),
            Para(("The flag a lab writes beside a result, read into one of these (flags never change the value):",)),
            _table(("flag", "written as"), ((Code(k), _words(v)) for k, v in flags.items() if k != "source")),
            _table(("words of a result cell", "read"), (
                (Code(k), _words(v)) for k, v in serum.get("cell", {}).items() if isinstance(v, list)
            )),
            self.sources_blurb(flags, serum.get("cell", {})),
        ]

    def kidney(self) -> list[Block]:
        kb = self.kb
        renal = self.spec.constants["renal"]
        used: dict[str, list[str]] = {}
        for k, entry in enumerate(kb.rules["contraindications"]["fire"], start=1):
            for name in _DOTTED.findall(entry["when"] + " " + entry["detail"]):
                if name.startswith("renal."):
                    used.setdefault(name, []).append(f"#{k} {entry['rule']}")
        rows: list[Row] = []
        for key, value in renal.items():
            name = f"renal.{key}"
            rules = [u.split(" ", 1)[1] for u in used.get(name, ())]
            cited = self.cite(*(kb.contraindications["rules"][r] for r in dict.fromkeys(rules)))
            rows.append((Code(name), _num(value), ", ".join(dict.fromkeys(used.get(name, ()))), cited))
        ckd = kb.kidney["ckd_epi_2021"]
        coefficients: list[Row] = []
        for key, value in ckd.items():
            if key == "source":
                continue
            if isinstance(value, Mapping):
                value = ", ".join(f"{k} = {_num(v)}" for k, v in value.items())
            coefficients.append((Code(key), _num(value)))
        creatinine = kb.kidney["creatinine"]
        words = kb.kidney.get("egfr", {})
        return [
            Heading(3, "Renal thresholds"),
            Para(("eGFR or CrCl thresholds in mL/min/1.73 m2 (",
                  Code("contraindications.toml [renal]"), "), with the triggers that read them; sources of those "
                  "rules.")),
            _table(("constant", "value", "read by triggers", "sources"), rows),
            Heading(3, "eGFR from creatinine (CKD-EPI 2021)"),
            Para(("Used only when the facts allow it (", Code("egfr_computed"), " in the facts derived from a row).",
                  " Sources: ", self.cite(ckd))),
            _table(("coefficient", "value"), coefficients),
            _table(("creatinine unit", "per 1 mg/dL", "also read as"), (
                (u, _num(spec["per_mg_dl"]), _words(spec["spellings"])) for u, spec in creatinine["units"].items()
            )),
            _table(("words of an eGFR cell", "read"), (
                (Code(k), _words(v)) for k, v in words.items() if isinstance(v, list)
            )),
            Para((f"An eGFR older than {_num(kb.kidney['current']['days'])} days is used with \"recheck eGFR\" "
                  "leading the dose text. Sources: ", self.cite(kb.kidney["current"], creatinine, words))),
        ]

    def facts(self) -> list[Block]:
        rows: list[Row] = []
        for name, entry in self.kb.rules.get("facts", {}).items():
            if isinstance(entry, str):
                rows.append((Code(name), self.condition(entry)))
            else:
                table: list[Line] = []
                for e in entry:
                    table.append(("when ", Code(e["when"]), ": ", Code(str(e["value"]))))
                    where = self.constants(e["when"])
                    if where:
                        table.append(tuple(where))
                rows.append((Code(name), table))
        return [
            Para(("Written once in ", Code("rules.toml [facts]"), " and read like the facts of the row. A table is "
                  "first-match: the first ", Code("when"), " that holds gives the value. Sources: ",
                  self.cite(self.kb.rules))),
            _table(("fact", "definition"), rows),
        ]

    def dose(self) -> list[Block]:
        dose = self.kb.rules["dose"]
        blocks: list[Block] = [
            Para(("The first status whose condition holds decides (one precedence list). A status's variants: the "
                  "first that holds gives the range, the text and its notes (no range where none is given); its "
                  "parts: every one that holds is added (", Code("lead"), ": before the text). ",
                  Code("supplementing"), ": magnesium is given, so the monitoring, eGFR and form texts apply.")),
            Heading(3, "Statuses in precedence order"),
        ]
        for k, status in enumerate(dose["statuses"], start=1):
            blocks.append(Heading(4, f"Status {k}: {status['status']}"))
            blocks.append(Bullets((
                ("When: ", Code(status["when"]), *([" ", *where] if (where := self.constants(status["when"])) else [])),
                ("Supplementing: ", _num(bool(status.get("supplementing")))),
                ("Sources: ", self._dose_cite(status)),
            )))
            blocks.append(_table(("#", "variant when", "range (mg/day)", "text", "notes"), (
                (str(j), self.condition(v["when"]), self._range(v), self.text(v["text"]), _words(v.get("notes", ())))
                for j, v in enumerate(status["variants"], start=1)
            )))
            if status.get("parts"):
                blocks.append(self._parts(status["parts"]))
        blocks += [
            Heading(3, "Parts added to every dose text"),
            Para(("In this order, each that holds (", Code("lead"), ": before the status text; otherwise after it "
                  "and its parts).",)),
            self._parts(dose["parts"]),
            Heading(3, "Form column"),
            Para(("Where one of these holds, the first gives the form column (no oral supplement form is "
                  "suggested); otherwise the form rules of the dosing texts.",)),
            self._first_match(dose["fixed_form"]),
            Para((f"Under a contraindication, a low serum of CTCAE grade {_num(dose['urgent_review_grade'])} or "
                  "more calls for urgent specialist review. Forms asked for by symptoms are offered in this "
                  "order: ", *_words(dose["form_priority"]), ".")),
        ]
        for name, title, lead in (
            ("ul_text", "Upper-limit text", "How the dose texts name the upper limit (first that holds):"),
            ("why", "Why text", "What the dose texts give as the reason (first that holds):"),
            ("headline", "Headline", "The decision in a few plain words, first in every front-end (first that "
                                     "holds):"),
            ("indicator", "Card indicator", "How urgent the dose card is (CDS Hooks indicator; first that holds):"),
        ):
            blocks += [Heading(3, title), Para((lead,)), self._first_match(dose[name])]
        found = self.kb.rules.get("problems", {}).get("found", ())
        if found:
            blocks += [
                Heading(3, "Input problems the rules find"),
                _table(("when", "field", "code", "message"), (
                    (self.condition(e["when"]), Code(e["field"]), Code(e["code"]), self.text(e["message"]))
                    for e in found
                )),
            ]
        blocks.append(self.sources_blurb(self.kb.rules))
        return blocks

    def _range(self, variant: Mapping[str, Any]) -> str:
        if "min" not in variant and "max" not in variant:
            return "no range"
        return f"{self.amount(variant.get('min', ''))}-{self.amount(variant.get('max', ''))}"

    def _parts(self, parts: Sequence[Mapping[str, Any]]) -> Table:
        return _table(("#", "part when", "lead", "text", "note"), (
            (str(j), self.condition(p["when"]), "yes" if p.get("lead") else "", self.text(p["text"]),
             Code(p["note"]) if p.get("note") else "")
            for j, p in enumerate(parts, start=1)
        ))

    def _first_match(self, entries: Sequence[Mapping[str, Any]]) -> Table:
        return _table(("#", "when", "text"), (
            (str(j), self.condition(e["when"]), self.text(e["text"])) for j, e in enumerate(entries, start=1)
        ))

    def _dose_cite(self, status: Mapping[str, Any]) -> Cite:
        """The rules' source and those of the dosing texts a status shows (its notes and the texts it names)."""
        dosing = self.kb.dosing
        named: list[str] = []
        pieces = [*status["variants"], *status.get("parts", ())]
        for piece in pieces:
            named += _listed(piece.get("notes")) + _listed(piece.get("note"))
            named += [n.split(".")[1] for n in _DOTTED.findall(piece["text"]) if n.startswith("dosing.")]
        entries = [dosing[n] for n in dict.fromkeys(named) if isinstance(dosing.get(n), Mapping)]
        return self.cite(self.kb.rules, *entries)

    def dosing(self) -> list[Block]:
        dosing = self.kb.dosing
        skip = {"forms", "elemental", "form_synonyms"}
        rows: list[Row] = []
        for key, entry in dosing.items():
            if key in skip or not isinstance(entry, Mapping):
                continue
            tables = {f"{key}.{k}": v for k, v in entry.items()} if key == "status" else {key: entry}
            rows += [(Code(name), _keyed(texts), self.cite(texts)) for name, texts in tables.items()]
        forms = dosing["forms"]
        form_rows: list[Row] = []
        for fid, form in forms.items():
            if "form" in form:
                form_rows.append((Code(fid), form["form"], form.get("timing", ""), form.get("evidence", ""),
                                  self.cite(form)))
            else:
                form_rows.append((Code(fid), "avoid " + ", ".join(form.get("avoid", ())),
                                  "instead: " + form.get("replacement", ""), form.get("text", ""), self.cite(form)))
        elemental = dosing["elemental"]
        synonyms: dict[str, list[str]] = {}
        for name, salt in dosing.get("form_synonyms", {}).items():
            synonyms.setdefault(salt, []).append(name)
        return [
            Heading(3, "Dosing texts"),
            Para(("The entries of ", Code("dosing.toml"), " that the dose texts, notes and forms name.",)),
            _table(("entry", "text", "sources"), rows),
            Heading(3, "Forms and timing"),
            _table(("form rule", "form", "timing", "evidence", "sources"), form_rows),
            Heading(3, "Elemental magnesium by salt"),
            Para(("Fraction of elemental magnesium by weight of the salt (the label value wins when known). "
                  "Sources: ", self.cite(elemental))),
            _table(("salt", "fraction", "also written"), (
                (k, _num(v), _words(synonyms.get(k, ()))) for k, v in elemental.items() if k != "source"
            )),
        ]

    def intake(self) -> list[Block]:
        intake = self.kb.intake
        rda, ul = intake["rda"], intake["ul"]

        def ages(b: Mapping[str, Any]) -> str:
            return f"{_num(b['min'])} to under {_num(b['max'])}"

        return [
            Para(("Elemental magnesium, mg/day. RDA or AI: the total from food, drinks, supplements and medicines. "
                  "UL: supplements and medicines only. Ages in years.",)),
            Heading(3, "RDA and AI"),
            _table(("age", "female", "male", "pregnant", "lactating", "kind"), (
                (ages(b), _num(b["female"]), _num(b["male"]), _num(b.get("pregnant", "")),
                 _num(b.get("lactating", "")), b.get("kind", "RDA"))
                for b in rda["bands"]
            )),
            self.sources_blurb(rda),
            Heading(3, "Upper limit (UL) for supplements"),
            _table(("age", "UL"), ((ages(b), _num(b["ul"]) if b["ul"] else "none established") for b in ul["bands"])),
            Para((f"In pregnancy and lactation (from age 14): {_num(ul['pregnancy_lactation_ul'])}. Sources: ",
                  self.cite(ul))),
        ]

    def interactions(self) -> list[Block]:
        kb = self.kb
        drugs: dict[str, list[str]] = {}
        for key, concept in kb.concepts.items():
            if concept.interaction:
                drugs.setdefault(concept.interaction, []).append(key)
        rows: list[Row] = []
        for iid, entry in kb.interactions.items():
            before = self._hours(entry, "before_h")
            after = self._hours(entry, "after_h")
            rows.append((Code(iid), _by_route(entry["severity"]), before, after, _by_route(entry["action"]),
                         self.concept_names(drugs.get(iid, ())), self.cite(entry)))
        return [
            Para(("Listed by severity in this order: ", *_words(kb.rules["interactions"]["severity_order"]),
                  "; then in the order named. Hours: how long the drug is taken before or after magnesium "
                  "(\"at least\" where the source says so). The action is rendered from the hours and the advice. "
                  "Entries named ", Code("class_..."), " belong to a drug class written instead of a drug: the "
                  "largest hours and the most severe severity of its classes.")),
            _table(("interaction", "severity", "drug before Mg (h)", "drug after Mg (h)", "action", "drugs",
                    "sources"), rows),
        ]

    @staticmethod
    def _hours(entry: Mapping[str, Any], key: str) -> str:
        if key not in entry:
            return ""
        low = entry.get(f"{key}_min")
        hours = f"{_num(low)}-{_num(entry[key])}" if low is not None and low != entry[key] else _num(entry[key])
        return f"at least {hours}" if entry.get("at_least") else hours

    def products(self) -> list[Block]:
        products = self.kb.products
        rows: list[Row] = []
        for pid, p in products["products"].items():
            per = f"per {_num(p['volume_ml'])} mL" if "volume_ml" in p else f"per {p['unit']}" if "unit" in p else ""
            strength = [f"{label} {_num(p[k])} mg {per}".replace("  ", " ").strip()
                        for k, label in (("salt_mg", "salt"), ("elemental_mg", "elemental")) if k in p]
            flags = [f"{k}: {_num(p[k])}" for k in ("rx", "iv", "route_unstated", "renal", "liquid") if k in p]
            if p.get("confirm"):
                flags.append(f"confirm: {p['confirm']}")
            rows.append((
                Code(pid), p["label"], [(x,) for x in (p.get("kind", ""), p.get("salt", "")) if x],
                "; ".join(strength) if strength else "from the row",
                "; ".join(flags), _words(p["names"]), self.cite(p) if "source" in p else self.cite(products),
            ))
        word_lists = [(Code(k), _words(v)) for k, v in products.items() if isinstance(v, list)]
        frequency: dict[str, list[str]] = {}
        for word, per_day in products.get("frequency", {}).items():
            frequency.setdefault(_num(per_day), []).append(word)
        units = products.get("units", {})
        return [
            Para(("Magnesium products a patient may take, as written on the medication list. Strengths per unit as "
                  "labelled (the elemental figure wins when both are given); a product with no strength takes the "
                  "strength written on the row. ", "Sources of entries with none of their own: ",
                  self.cite(products))),
            Heading(3, "Products"),
            _table(("product", "label", "kind and salt", "strength", "notes", "names", "sources"), rows),
            Heading(3, "Words read with a product"),
            _table(("list", "words"), word_lists),
            Heading(3, "How often"),
            _table(("doses a day", "written as"), ((n, _words(w)) for n, w in frequency.items())),
            _table(("as needed", "written as"), (
                (Code(k), _words(v)) for k, v in products.get("prn", {}).items() if isinstance(v, list)
            )),
            _table(("household measure", "mL"), ((Code(k), _num(v)) for k, v in units.items())),
        ]

    def drugs(self) -> list[Block]:
        kb = self.kb
        names: dict[str, list[str]] = {}
        products = set(kb.product_names)
        for name, keys in kb.drug_names.items():
            for key in keys:
                if name != kb.concepts[key].id and name not in products:
                    names.setdefault(key, []).append(name)
        classes: dict[str, list[Concept]] = {}
        neutral: list[Concept] = []
        for concept in kb.concepts.values():
            if concept.kind != "drug":
                continue
            if concept.drug_class:
                classes.setdefault(concept.drug_class, []).append(concept)
            else:
                neutral.append(concept)
        rows: list[Row] = []
        words: list[Row] = []
        for cid, members in classes.items():
            first = members[0]
            row = (
                Code(cid.split(":", 1)[1] if cid.startswith("class_word:") else cid),
                "; ".join(m.label for m in members),
                _words(n for m in members for n in names.get(m.key, ())),
                self._effects(first),
                self.cite(*self._effect_sources(first)),
            )
            (words if cid.startswith("class_word:") else rows).append(row)
        route_rows = [(self.kb.concepts[key].label, Code(words_id), self.kb.concepts[target].label)
                      for key, forms in kb.route_forms.items() for words_id, target in forms.items()]
        return [
            Para(("What each drug does here: its risk factor, its interaction, the contraindication rule it names "
                  "(by route where they differ), the flag it sets and the note shown with it. Sources: those of "
                  "its factor, interaction and rules. Brand names and spellings are compared after normalisation "
                  "(lower case, no apostrophes, hyphens as spaces); magnesium products are in their own section.",)),
            Heading(3, "Drug classes"),
            _table(("class", "members", "other names", "effects", "sources"), rows),
            Heading(3, "Drug classes written instead of a drug"),
            _table(("class word", "stands for", "written as", "effects", "sources"), words),
            Heading(3, "Route forms"),
            Para(("A generic written with one of these word lists in the same item is read as the other form.",)),
            _table(("generic", "words", "read as"), route_rows),
            _table(("word list", "words"), ((Code(k), _words(_longest_first(v))) for k, v in kb.route_words.items())),
            Heading(3, "Drugs with no magnesium rule"),
            Para(("Recognised, so that \"no finding\" means checked: ", *_words(c.label for c in neutral),
                  *([" Other names: ", *_words(n for c in neutral for n in names.get(c.key, ()))]
                    if any(c.key in names for c in neutral) else []))),
        ]

    def _effects(self, concept: Concept) -> list[Line]:
        kb = self.kb
        out: list[Line] = []
        if concept.risk:
            factor = kb.risk["factors"][concept.risk]
            out.append(("risk factor ", Code(concept.risk), f" ({_points(factor['points'])})"))
        if concept.interaction:
            out.append(("interaction ", Code(concept.interaction)))
        if concept.contra:
            rules = set(concept.contra.values())
            if len(rules) == 1 and set(concept.contra) == set(_ROUTE_NAMES):
                out.append(("rule ", Code(next(iter(rules)))))
            else:
                for route, rid in concept.contra.items():
                    out.append((f"rule ({_ROUTE_NAMES[route]}) ", Code(rid)))
        for flag, label in ((concept.sets, "sets "), (concept.sets_as_indication, "as an indication sets ")):
            if flag:
                out.append((label, Code(f"{flag}_listed")))
        if concept.indication:
            out.append(("indication for a supplement",))
        if concept.symptom:
            out.append(("counts as the symptom ", Code(concept.symptom)))
        if concept.form:
            out.append(("form rule ", Code(concept.form)))
        if concept.kidney:
            out.append(("tells the kidney function",))
        if concept.chronic:
            out.append(("chronic: counts after a history word" +
                        (", and after resolved or in remission" if concept.resolved_counts else ""),))
        if concept.past_as:
            out.append(("a past mention counts as ", Code(concept.past_as.split(":", 1)[1])))
        if concept.note:
            out.append(("note: " + concept.note,))
        if not concept.confirmed:
            out.append(("code not re-verified by lookup",))
        return out

    def _effect_sources(self, concept: Concept) -> list[Any]:
        kb = self.kb
        found: list[Any] = [concept.sources]
        if concept.risk:
            found.append(kb.risk["factors"][concept.risk])
        if concept.interaction:
            found.append(kb.interactions[concept.interaction])
        found += [kb.contraindications["rules"][r] for r in dict.fromkeys(concept.contra.values())]
        return found

    def conditions(self) -> list[Block]:
        kb = self.kb
        codes: dict[str, list[str]] = {}
        for code, key in kb.condition_codes.items():
            codes.setdefault(key, []).append(_icd(code))
        exact: dict[str, list[str]] = {}
        for code, key in kb.condition_exact_codes.items():
            exact.setdefault(key, []).append(_icd(code))
        names: dict[str, list[str]] = {}
        for name, key in [*kb.condition_names.items(), *kb.symptom_names.items()]:
            names.setdefault(key, []).append(name)
        stages: dict[str, list[str]] = {}
        for stage, keys in kb.ckd_stages.items():
            for key in keys:
                stages.setdefault(key, []).append(stage)
        rows: list[Row] = []
        symptoms: list[Row] = []
        for key, concept in kb.concepts.items():
            if concept.kind == "condition":
                coded: list[Line] = []
                if codes.get(key):
                    coded.append(("codes (and more specific): ", *_words(codes[key])))
                if exact.get(key):
                    coded.append(("exactly: ", *_words(exact[key])))
                if stages.get(key):
                    coded.append(("CKD stages: ", *_words(stages[key])))
                rows.append((Code(concept.id), concept.label, coded, _words(names.get(key, ())),
                             self._effects(concept), self.cite(*self._effect_sources(concept))))
            elif concept.kind == "symptom":
                symptoms.append((Code(concept.id), concept.label, _words(names.get(key, ())),
                                 "yes" if concept.compatible else "", self._effects(concept),
                                 self.cite(*self._effect_sources(concept))))
        ambiguous = [(Code(a), readings, self.concept_names(keys) if keys else "not counted")
                     for a, (readings, keys) in kb.ambiguous.items()]
        return [
            Para(("Diagnoses by ICD-10-CM code (matched by prefix, the most specific entry wins; \"exactly\": only "
                  "the code as written, a category too general to decide on) and by name (after normalisation).",)),
            Heading(3, "Diagnoses"),
            _table(("diagnosis", "label", "ICD-10-CM", "names", "effects", "sources"), rows),
            Heading(3, "Ambiguous abbreviations"),
            Para(("Reported as ambiguous on the row; counted only as the reading that is a contraindication or "
                  "caution, the safer reading.",)),
            _table(("abbreviation", "readings", "counted as"), ambiguous),
            Heading(3, "Symptoms"),
            _table(("symptom", "label", "names", "compatible with low magnesium", "effects", "sources"), symptoms),
            Heading(3, "How list items are read"),
            Para(("Words that decide how a list item counts (negated, held, family, history, past, resolved, "
                  "uncertain), matched as whole words, longest first.",)),
            _table(("word list", "words"), ((Code(k), _words(_longest_first(v))) for k, v in kb.list_words.items())),
        ]

    def fields(self) -> list[Block]:
        return [
            Para(("The input fields of one patient row, in the template's column order; a value outside the "
                  "plausible range is an input problem and is not used.",)),
            _table(("field", "label", "kind", "plausible from", "plausible to", "also read as yes"), (
                (Code(f.name), f.label, f.kind, _num(f.min) if f.min is not None else "",
                 _num(f.max) if f.max is not None else "", _words(f.yes))
                for f in self.kb.fields
            )),
        ]

    def code_tables(self) -> list[Block]:
        if self.codes is None:
            return []
        by_system: dict[str, list[Any]] = {}
        for code in self.codes.codes.values():
            by_system.setdefault(code.system, []).append(code)
        blocks: list[Block] = [Para((
            "Codes an EHR sends that map to the concepts of this knowledge (and the LOINC codes of the lab "
            "results read). A valid code not listed is outside this knowledge base.",
        ))]
        for system, found in by_system.items():
            name = SYSTEM_NAMES.get(system, system)
            blocks += [
                Heading(3, name),
                _table(("code", "display", "reads as", "source"), (
                    (Code(c.code), c.display, self._target(c.target, c.kind), self.cite(c.source))
                    for c in sorted(found, key=lambda c: (c.target, c.code))
                )),
            ]
        return blocks

    def _target(self, target: str, kind: str) -> Line:
        concept = self.kb.concepts.get(target)
        if concept is not None:
            return (f"{concept.kind} ", Code(concept.id))
        return ("lab ", Code(target), f" ({kind})" if kind else "")

    def seed_conflicts(self) -> list[Block]:
        return [
            Para(("Claims of the seed articles that conflict with the evidence; the product follows the evidence "
                  "and shows each conflict here and in the batch Sources sheet.",)),
            _table(("conflict", "claim", "evidence", "sources"), (
                (Code(cid), c["claim"], c["fact"], self.cite(c)) for cid, c in self.kb.seed_conflicts.items()
            )),
        ]

    def sources(self) -> list[Block]:
        sources = dict(self.kb.sources)
        extra = {} if self.codes is None else {
            sid: s for sid, s in self.codes.sources.items() if sid not in sources and isinstance(s, Mapping)
        }
        grades = {"P": "primary", "S": "secondary", "L": "low-grade"}
        rows: list[Row] = [
            (Code(s.id), s.label, grades.get(s.grade, s.grade), s.title, Link(s.url, s.url) if s.url else "")
            for s in sources.values()
        ]
        rows += [(Code(sid), s.get("label", ""), grades.get(s.get("grade", ""), s.get("grade", "")),
                  s.get("title", ""), Link(s["url"], s["url"]) if s.get("url") else "") for sid, s in extra.items()]
        return [
            Para(("Grade: primary (official), secondary (a copy or summary of a primary source) or low-grade "
                  "(corroboration only).",)),
            _table(("id", "label", "grade", "reference", "address"), rows,
                   ids=[source_anchor(s.id) for s in sources.values()] + [source_anchor(sid) for sid in extra]),
        ]
