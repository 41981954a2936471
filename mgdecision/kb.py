"""Load the knowledge base (TOML files in ``mgdecision/knowledge/``) into indexed, read-only tables.

Everything clinical that is a number, a list or a text lives in those files with its source; this module
only parses them, builds look-up indexes and checks that every cross-reference resolves
(an unknown source id, factor, rule or interaction raises :class:`KnowledgeError` at import time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import KnowledgeError
from .knowledge_checks import read_folder

__all__ = ["Concept", "Field", "Knowledge", "Source", "knowledge", "load_knowledge", "norm"]

_APOSTROPHES = str.maketrans({"’": "", "‘": "", "`": "", "'": "", "-": " ", "_": " ", "–": " ", "—": " "})
_SPACES = re.compile(r"\s+")


def norm(text: str) -> str:
    """Normalise a term for matching: lower case, no apostrophes, hyphens as spaces, single spaces."""
    return _SPACES.sub(" ", text.translate(_APOSTROPHES).lower()).strip(" .;:,")


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    label: str
    title: str
    url: str
    grade: str


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str
    label: str
    aliases: tuple[str, ...]
    min: float | None = None
    max: float | None = None
    yes: tuple[str, ...] = ()  # further words read as yes in this column ("HD" for dialysis)
    dose_header: str | None = None  # the field a header with a dose unit maps to instead


@dataclass(frozen=True, slots=True)
class Concept:
    """A recognised drug, diagnosis or symptom and what it does in the rules."""

    id: str
    label: str
    kind: str  # "drug" | "condition" | "symptom"
    sources: tuple[str, ...]
    risk: str | None = None
    contra: Mapping[str, str] = field(default_factory=dict)  # route -> contraindication rule id
    interaction: str | None = None
    indication: bool = False
    symptom: str | None = None
    compatible: bool = False
    form: str | None = None
    sets: str | None = None
    sets_as_indication: str | None = None  # the flag it sets when written as a medication's indication ("for ...")
    note: str | None = None
    confirmed: bool = True
    drug_class: str | None = None
    kidney: bool = False  # the concept tells the kidney function (a CKD stage, dialysis, AKI)
    chronic: bool = False  # after a history word it still counts, qualified "history_chronic"
    resolved_counts: bool = False  # also after "resolved" or "in remission" (myasthenia gravis, LEMS)
    past_as: str | None = None  # the concept key a past mention counts as
    key: str = ""  # "kind:id", its key in Knowledge.concepts


@dataclass(frozen=True)
class Knowledge:
    """The whole knowledge base, indexed. Obtain it with :func:`knowledge`."""

    version: str
    released: str
    status: str
    notice: str
    sources: Mapping[str, Source]
    fields: tuple[Field, ...]
    serum: Mapping[str, Any]
    kidney: Mapping[str, Any]  # kidney.toml: the CKD-EPI 2021 equation, creatinine units, words of eGFR cells
    intake: Mapping[str, Any]
    risk: Mapping[str, Any]
    contraindications: Mapping[str, Any]
    interactions: Mapping[str, Any]
    dosing: Mapping[str, Any]
    seed_conflicts: Mapping[str, Any]
    rules: Mapping[str, Any]  # rules.toml: how the rules run (firing order, conditions, bands, orders)
    concepts: Mapping[str, Concept]  # "kind:id" -> concept
    drug_names: Mapping[str, tuple[str, ...]]  # normalised name -> concept keys
    condition_names: Mapping[str, str]
    condition_codes: Mapping[str, str]  # code prefix -> concept key
    condition_exact_codes: Mapping[str, str]
    symptom_names: Mapping[str, str]
    unit_spellings: Mapping[str, str]  # normalised spelling -> canonical unit
    form_names: Mapping[str, str]  # normalised salt name -> elemental table key
    ambiguous: Mapping[str, tuple[str, tuple[str, ...]]]  # abbreviation -> (its readings, concept keys counted)
    list_words: Mapping[str, tuple[str, ...]]  # symptoms.toml word lists (negations, history_words, ...), normalised
    kept_whole: tuple[str, ...]  # names and abbreviations that hold a list separator ("dolutegravir/rilpivirine")
    ckd_stages: Mapping[str, tuple[str, ...]]  # CKD stage ("3b", "5d") -> concept keys
    route_forms: Mapping[str, Mapping[str, str]]  # drug concept key -> route word list -> concept key of that form
    route_words: Mapping[str, tuple[str, ...]]  # route word list ("injection", "subcutaneous") -> normalised words
    products: Mapping[str, Any]  # products.toml: product id -> entry, and its word lists and tables
    product_names: Mapping[str, str]  # normalised product name -> product id

    def source(self, source_id: str) -> Source:
        return self.sources[source_id]

    def source_labels(self, ids: tuple[str, ...]) -> str:
        return "; ".join(self.sources[i].label for i in ids)


def _sources_of(entry: Mapping[str, Any], default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = entry.get("source", default)
    return (raw,) if isinstance(raw, str) else tuple(raw)


def _drug_concepts(
    drugs: Mapping[str, Any], products: Mapping[str, Any]
) -> tuple[dict[str, Concept], dict[str, tuple[str, ...]]]:
    concepts: dict[str, Concept] = {}
    for class_id, cls in drugs["classes"].items():
        for member in cls["members"]:
            key = f"drug:{member}"
            if key in concepts:
                raise KnowledgeError(f"drugs.toml: {member} is in two classes")
            contra = cls.get("contra")
            concepts[key] = Concept(
                id=member,
                label=member,
                kind="drug",
                sources=_sources_of(cls),
                risk=cls.get("risk"),
                contra=dict(contra) if isinstance(contra, dict) else {"oral": contra, "iv": contra} if contra else {},
                interaction=cls.get("interaction"),
                note=cls.get("note"),
                drug_class=class_id,
                sets=cls.get("sets"),
            )
    for member in drugs["neutral"]["members"]:
        concepts.setdefault(f"drug:{member}", Concept(id=member, label=member, kind="drug", sources=()))
    names: dict[str, tuple[str, ...]] = {norm(c.id): (key,) for key, c in concepts.items()}
    for alias, target in drugs["synonyms"].items():
        generics = (target,) if isinstance(target, str) else tuple(target)
        keys = tuple(f"drug:{g}" for g in generics)
        missing = [k for k in keys if k not in concepts]
        if missing:
            raise KnowledgeError(f"drugs.toml: synonym {alias!r} names unknown generics {missing}")
        names[norm(alias)] = keys
    for cid, word in drugs.get("class_words", {}).items():
        classes = [drugs["classes"][c] for c in word["classes"]]
        risks = {c.get("risk") for c in classes}
        key = f"drug:{word['label']}"
        concepts[key] = Concept(
            id=word["label"],
            label=word["label"],
            kind="drug",
            sources=tuple(dict.fromkeys(s for c in classes for s in _sources_of(c))),
            risk=risks.pop() if len(risks) == 1 else None,
            interaction=f"class_{cid}" if any(c.get("interaction") for c in classes) else None,
            drug_class=f"class_word:{cid}",
        )
        for name in word["names"]:
            if names.get(norm(name), (key,)) != (key,):
                raise KnowledgeError(f"drugs.toml: class word {name!r} is already a drug name")
            names[norm(name)] = (key,)
    for pid, product in products["products"].items():
        keys = tuple(f"drug:{g}" for g in product["generics"])
        missing = [k for k in keys if k not in concepts]
        if missing:
            raise KnowledgeError(f"products.toml: {pid} names unknown generics {missing}")
        for name in product["names"]:
            if names.get(norm(name), keys) != keys:
                raise KnowledgeError(f"products.toml: {pid} name {name!r} is already a name of {names[norm(name)]}")
            names[norm(name)] = keys
    return concepts, names


def _class_interactions(drugs: Mapping[str, Any], interactions: dict[str, Any], order: list[str]) -> None:
    """One interaction per class word, from its classes' interactions: the largest hours before and after
    magnesium, the most severe severity, "avoid" (an interaction with no hours that says so) before any spacing,
    and "confirm the drug" (clinical-rules.md 9.8)."""
    for cid, word in drugs.get("class_words", {}).items():
        found = [interactions[i] for c in word["classes"] if (i := drugs["classes"][c].get("interaction"))]
        if not found:
            continue
        entry: dict[str, Any] = {"source": list(dict.fromkeys(s for f in found for s in _sources_of(f)))}
        by_route = {}
        for route in ("oral", "iv"):
            severities = [f["severity"][route] if isinstance(f["severity"], dict) else f["severity"] for f in found]
            advice = [f.get("advice", "") for f in found]
            advice = [a[route] if isinstance(a, dict) else a for a in advice]
            avoid = [a for f, a in zip(found, advice, strict=True) if a.startswith("avoid") and not _spaced(f)]
            shared = advice[0] if len(set(advice)) == 1 else ""  # advice every class gives ("iv: potentiated block")
            by_route[route] = (min(severities, key=order.index), avoid[0] if avoid else shared)
        for name, pick in (("severity", 0), ("advice", 1)):
            oral, iv = by_route["oral"][pick], by_route["iv"][pick]
            if name == "advice":
                oral, iv = (f"{a}; confirm the drug" if a else "confirm the drug" for a in (oral, iv))
            entry[name] = oral if oral == iv else {"oral": oral, "iv": iv}
        if not any(by_route[r][1].startswith("avoid") for r in by_route):  # the largest spacing asked by any
            for hours in ("before_h", "after_h"):
                given = [f[hours] for f in found if hours in f]
                if given:
                    entry[hours] = max(given)
            if any(f.get("at_least") for f in found):
                entry["at_least"] = True
        interactions[f"class_{cid}"] = entry


def _spaced(entry: Mapping[str, Any]) -> bool:
    return "before_h" in entry or "after_h" in entry


def _term_concepts(table: Mapping[str, Any], kind: str, default_source: tuple[str, ...]) -> dict[str, Concept]:
    concepts = {}
    for cid, entry in table.items():
        if not isinstance(entry, dict) or cid == "ambiguous":
            continue
        concepts[f"{kind}:{cid}"] = Concept(
            id=cid,
            label=entry["label"],
            kind=kind,
            sources=_sources_of(entry, default_source),
            risk=entry.get("risk"),
            contra=dict(entry.get("contra", {})),
            indication=bool(entry.get("indication", False)),
            symptom=entry.get("symptom"),
            compatible=bool(entry.get("compatible", False)),
            form=entry.get("form"),
            sets=entry.get("sets"),
            sets_as_indication=entry.get("sets_as_indication"),
            note=entry.get("note"),
            confirmed=bool(entry.get("confirmed", True)),
            kidney=bool(entry.get("kidney", False)),
            chronic=bool(entry.get("chronic", False)),
            resolved_counts=bool(entry.get("resolved_counts", False)),
            past_as=f"{kind}:{entry['past_as']}" if "past_as" in entry else None,
        )
    return concepts


def _hours(entry: Mapping[str, Any], key: str) -> str:
    low = entry.get(f"{key}_min")
    return f"{low:g}-{entry[key]:g} h" if low is not None and low != entry[key] else f"{entry[key]:g} h"


def spacing_text(entry: Mapping[str, Any]) -> str:
    """The spacing an interaction asks for, rendered from its hours ("take 2 h before or 4-6 h after magnesium")."""
    before, after = entry.get("before_h"), entry.get("after_h")
    least = "at least " if entry.get("at_least") else ""
    if before is not None and after is not None:
        if _hours(entry, "before_h") == _hours(entry, "after_h"):
            return f"keep {least}{_hours(entry, 'before_h')} apart"
        return f"take {least}{_hours(entry, 'before_h')} before or {_hours(entry, 'after_h')} after magnesium"
    if after is not None:
        return f"take {least}{_hours(entry, 'after_h')} after magnesium"
    if before is not None:
        return f"take {least}{_hours(entry, 'before_h')} before magnesium"
    return ""


def _render_actions(interactions: Mapping[str, Any]) -> None:
    """Fill each interaction's ``action`` (by route where its advice differs) from its hours and advice."""
    for iid, entry in interactions.items():
        if "action" in entry:
            raise KnowledgeError(f"interactions.toml: {iid}: write hours and advice, not the action text")
        spacing = spacing_text(entry)
        advice = entry.get("advice", "")

        def join(text: str, spacing: str = spacing) -> str:
            return "; ".join(part for part in (spacing, text) if part)

        entry["action"] = {r: join(a) for r, a in advice.items()} if isinstance(advice, dict) else join(advice)
        if not entry["action"]:
            raise KnowledgeError(f"interactions.toml: {iid} has neither hours nor advice")


def _code_key(code: str) -> str:
    return code.upper().replace(".", "")


def _check(kb: Knowledge) -> None:
    """Every id a knowledge entry points at must exist."""
    errors: list[str] = []
    cited: set[str] = set()

    def cite(where: str, ids: tuple[str, ...]) -> None:
        for sid in ids:
            cited.add(sid)
            if sid not in kb.sources:
                errors.append(f"{where}: unknown source {sid!r}")

    for fid, factor in kb.risk["factors"].items():
        cite(f"risk factor {fid}", _sources_of(factor))
    for rid, rule in kb.contraindications["rules"].items():
        cite(f"contraindication {rid}", _sources_of(rule))
        if rule["level"] not in ("CONTRAINDICATED", "CAUTION"):
            errors.append(f"contraindication {rid}: bad level {rule['level']!r}")
    for iid, inter in kb.interactions.items():
        cite(f"interaction {iid}", _sources_of(inter))
    for key, concept in kb.concepts.items():
        cite(key, concept.sources)
        if concept.risk and concept.risk not in kb.risk["factors"]:
            errors.append(f"{key}: unknown risk factor {concept.risk!r}")
        for route, rule in concept.contra.items():
            if route not in ("oral", "iv"):
                errors.append(f"{key}: unknown route {route!r}")
            if rule not in kb.contraindications["rules"]:
                errors.append(f"{key}: unknown contraindication rule {rule!r}")
        if concept.interaction and concept.interaction not in kb.interactions:
            errors.append(f"{key}: unknown interaction {concept.interaction!r}")
        if concept.symptom and f"symptom:{concept.symptom}" not in kb.concepts:
            errors.append(f"{key}: unknown symptom {concept.symptom!r}")
        if concept.form and concept.form not in kb.dosing["forms"]:
            errors.append(f"{key}: unknown form rule {concept.form!r}")
        if concept.past_as and concept.past_as not in kb.concepts:
            errors.append(f"{key}: unknown concept {concept.past_as!r} for a past mention")
    for key, forms in kb.route_forms.items():
        for words, target in forms.items():
            if key not in kb.concepts or target not in kb.concepts or words not in kb.route_words:
                errors.append(f"drugs.toml route_forms: {key} -> {words} -> {target} names nothing")
    _check_products(kb, errors, cite)
    for abbreviation, (_readings, keys) in kb.ambiguous.items():
        for key in keys:
            if key not in kb.concepts:
                errors.append(f"ambiguous {abbreviation!r}: unknown concept {key!r}")
            elif not kb.concepts[key].contra:
                errors.append(f"ambiguous {abbreviation!r}: counts {key!r}, which is no contraindication or caution")
    cite("rules.toml", _sources_of(kb.rules))
    cite("products.toml", _sources_of(kb.products))
    for name, section in (("forms", kb.dosing["forms"]), ("seed conflicts", kb.seed_conflicts)):
        for sid, entry in section.items():
            cite(f"{name} {sid}", _sources_of(entry))
    for table in ("serum", "kidney", "intake"):
        for sub in getattr(kb, table).values():
            if isinstance(sub, dict) and "source" in sub:
                cite(table, _sources_of(sub))
    if errors:
        raise KnowledgeError("knowledge base is inconsistent:\n  " + "\n  ".join(errors))


def _check_products(kb: Knowledge, errors: list[str], cite: Any) -> None:
    """Every product's salt has a fraction (or is an `other_salts` salt), every source exists, and every drug name
    of the magnesium class is a product's name (so the intake of every magnesium item can be read)."""
    fractions, others = kb.dosing["elemental"], set(kb.products["other_salts"])
    for pid, product in kb.products["products"].items():
        cite(f"product {pid}", _sources_of(product))
        salt = product.get("salt")
        if salt is not None and salt not in fractions and salt not in others:
            errors.append(f"product {pid}: salt {salt!r} has no elemental fraction in dosing.toml")
        for other in (product.get("liquid"),):
            if other is not None and other not in kb.products["products"]:
                errors.append(f"product {pid}: unknown product {other!r}")
    for salt in kb.products["salt_weight_salts"]:
        if salt not in fractions:
            errors.append(f"products.toml: salt weight salt {salt!r} has no elemental fraction")
    magnesium = f"{kb.products['drug_class']}"
    for name, keys in kb.drug_names.items():
        if name not in kb.product_names and any(kb.concepts[k].drug_class == magnesium for k in keys):
            errors.append(f"drug name {name!r} of a magnesium product is not a name in products.toml")


def load_knowledge(folder: str | Path | None = None) -> Knowledge:
    """Read and check a knowledge folder (default: the one shipped in the package): every file, its shape and the
    meaning of its numbers are checked before anything uses it (:mod:`mgdecision.knowledge_checks`)."""
    base = Path(folder) if folder is not None else Path(str(resources.files("mgdecision") / "knowledge"))
    data = read_folder(base)
    manifest = data["knowledge.toml"]
    sources = {
        sid: Source(sid, s["label"], s["title"], s["url"], s["grade"]) for sid, s in data["sources.toml"].items()
    }
    fields = tuple(
        Field(
            f["name"],
            f["kind"],
            f["label"],
            tuple(f["aliases"]),
            f.get("min"),
            f.get("max"),
            tuple(norm(w) for w in f.get("yes", ())),
            f.get("dose_header"),
        )
        for f in data["fields.toml"]["field"]
    )
    products = data["products.toml"]
    _class_interactions(
        data["drugs.toml"], data["interactions.toml"], data["rules.toml"]["interactions"]["severity_order"]
    )
    _render_actions(data["interactions.toml"])
    drug_concepts, drug_names = _drug_concepts(data["drugs.toml"], products)
    conditions = data["conditions.toml"]
    symptoms = data["symptoms.toml"]
    condition_concepts = _term_concepts(conditions, "condition", _sources_of(conditions))
    symptom_concepts = _term_concepts(symptoms, "symptom", _sources_of(symptoms))
    concepts = {k: replace(c, key=k) for k, c in {**drug_concepts, **condition_concepts, **symptom_concepts}.items()}

    condition_names: dict[str, str] = {}
    condition_codes: dict[str, str] = {}
    exact_codes: dict[str, str] = {}
    for cid, entry in conditions.items():
        if not isinstance(entry, dict):
            continue
        for name in entry.get("names", ()):
            if condition_names.get(norm(name), f"condition:{cid}") != f"condition:{cid}":
                raise KnowledgeError(f"conditions.toml: name {name!r} is used twice")
            condition_names[norm(name)] = f"condition:{cid}"
        for code in entry.get("codes", ()):
            condition_codes[_code_key(code)] = f"condition:{cid}"
        for code in entry.get("exact_codes", ()):
            exact_codes[_code_key(code)] = f"condition:{cid}"
    symptom_names = {
        norm(name): f"symptom:{sid}"
        for sid, entry in symptoms.items()
        if isinstance(entry, dict)
        for name in entry.get("names", ())
    }
    unit_spellings: dict[str, str] = {}
    for unit, spec in data["serum.toml"]["units"].items():
        if isinstance(spec, dict):
            for spelling in (unit, *spec["spellings"]):
                unit_spellings[spelling.lower().replace(" ", "")] = unit
    dosing = data["dosing.toml"]
    form_names = {norm(k): k for k in dosing["elemental"] if k != "source"}
    form_names.update({norm(k): v for k, v in dosing["form_synonyms"].items()})

    ambiguous = {
        norm(abbreviation): (entry["readings"], tuple(f"condition:{c}" for c in _listed(entry.get("count", ()))))
        for abbreviation, entry in conditions.get("ambiguous", {}).items()
    }
    joined = re.compile(r"[/&+,;|]|\band\b|\bplus\b")
    kept_whole = [
        *(name for name in (*drug_names, *condition_names, *symptom_names) if joined.search(name)),
        *symptoms.get("joined_abbreviations", ()),
    ]
    ckd_stages: dict[str, tuple[str, ...]] = {}
    for cid, entry in conditions.items():
        for stage in entry.get("ckd_stages", ()) if isinstance(entry, dict) else ():
            ckd_stages[stage] = (*ckd_stages.get(stage, ()), f"condition:{cid}")
    forms = data["drugs.toml"].get("route_forms", {})
    route_words = {k: _by_length(v) for k, v in forms.items() if k != "generics"}
    route_forms = {
        f"drug:{generic}": {words: f"drug:{target}" for words, target in by_words.items()}
        for generic, by_words in forms.get("generics", {}).items()
    }
    product_names = {norm(name): pid for pid, p in products["products"].items() for name in p["names"]}
    kb = Knowledge(
        version=manifest["version"],
        released=manifest["released"],
        status=manifest["status"],
        notice=manifest["notice"],
        sources=sources,
        fields=fields,
        serum=data["serum.toml"],
        kidney=data["kidney.toml"],
        intake=data["intake.toml"],
        risk=data["risk.toml"],
        contraindications=data["contraindications.toml"],
        interactions=data["interactions.toml"],
        dosing=dosing,
        seed_conflicts=data["seed_conflicts.toml"],
        rules=data["rules.toml"],
        concepts=concepts,
        drug_names=drug_names,
        condition_names=condition_names,
        condition_codes=condition_codes,
        condition_exact_codes=exact_codes,
        symptom_names=symptom_names,
        unit_spellings=unit_spellings,
        form_names=form_names,
        ambiguous=ambiguous,
        list_words={
            k: _by_length(v) for k, v in symptoms.items() if isinstance(v, list) and k != "joined_abbreviations"
        },
        kept_whole=tuple(sorted(set(kept_whole), key=len, reverse=True)),
        ckd_stages=ckd_stages,
        route_forms=route_forms,
        route_words=route_words,
        products=products,
        product_names=product_names,
    )
    _check(kb)
    return kb


def _listed(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _by_length(words: Any) -> tuple[str, ...]:
    return tuple(sorted({norm(w) for w in words}, key=len, reverse=True))


@cache
def knowledge() -> Knowledge:
    """The shipped knowledge base, loaded once."""
    return load_knowledge()
