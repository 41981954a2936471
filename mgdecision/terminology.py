"""Code systems as knowledge data: SNOMED CT, RxNorm, ICD-10(-CM) and LOINC codes of the concepts in the knowledge.

    term = terminology()
    term.concepts_of("http://snomed.info/sct", "91637004")   # ("condition:myasthenia_gravis",)
    term.lab_codes("egfr")                                   # every eGFR LOINC the FHIR reader takes
    term.is_valid("http://loinc.org", "2601-3")              # the code's own check digit

The codes live in ``knowledge/codes*.toml`` files listed in knowledge.toml ``files``, each code with its display
and its source. Loading refuses a code whose concept the knowledge base does not hold, a code that fails its
system's check, a system or source that is not declared and a code given to two different concepts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from .errors import KnowledgeError
from .kb import Knowledge, knowledge, load_knowledge

__all__ = [
    "ICD10",
    "LOINC",
    "RXNORM",
    "SNOMED",
    "SYSTEM_NAMES",
    "Code",
    "Coding",
    "Terminology",
    "is_valid",
    "load_terminology",
    "terminology",
]

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")


SYSTEM_NAMES = {SNOMED: "SNOMED CT", RXNORM: "RxNorm", LOINC: "LOINC", ICD10[0]: "ICD-10-CM", ICD10[1]: "ICD-10"}


class Coding(NamedTuple):
    """A coded list item as an EHR sends it: a code system URI, a code and its display (which may be empty)."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class Code:
    """One code of the knowledge: its system URI, code, published display, source id and what it names."""

    system: str
    code: str
    display: str
    source: str
    target: str  # a concept key ("condition:myasthenia_gravis") or a lab measure ("egfr")
    kind: str = ""  # labs only: "mass", "moles", "egfr", "status"


# ---------------------------------------------------------------- check digits

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P: list[tuple[int, ...]] = [(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)]
for _ in range(6):  # each row is the previous one permuted by the second
    _VERHOEFF_P.append(tuple(_VERHOEFF_P[-1][_VERHOEFF_P[1][j]] for j in range(10)))
_SCTID = re.compile(r"[1-9]\d{5,17}")
_LOINC = re.compile(r"(\d{1,7})-(\d)")
_RXCUI = re.compile(r"[1-9]\d{0,8}")
_ICD10 = re.compile(r"[A-TV-Z]\d[0-9AB](\.?[0-9A-Z]{1,4})?")


def _verhoeff(digits: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(digit)]]
    return check == 0


def _loinc_check(number: str) -> int:
    """The LOINC mod-10 check digit of the code's number (doubling every other digit from the right)."""
    total = 0
    for i, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if i % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def is_valid(system: str, code: str) -> bool:
    """Whether ``code`` is well formed in ``system``: SNOMED CT ids by their Verhoeff check digit (partition
    00/01/02/10/11/12 for concepts, descriptions and relationships), LOINC codes by their mod-10 check digit,
    RxNorm ids as positive integers, ICD-10(-CM) codes by their pattern. A system not listed here: True."""
    if system == SNOMED:
        return bool(_SCTID.fullmatch(code)) and _verhoeff(code)
    if system == LOINC:
        m = _LOINC.fullmatch(code)
        return m is not None and _loinc_check(m.group(1)) == int(m.group(2))
    if system == RXNORM:
        return bool(_RXCUI.fullmatch(code))
    if system in ICD10:
        return bool(_ICD10.fullmatch(code.upper()))
    return True


# ---------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Terminology:
    """Every code of the knowledge, indexed by (system URI, code)."""

    systems: Mapping[str, str]  # short name ("snomed") -> URI
    sources: Mapping[str, Any]
    codes: Mapping[tuple[str, str], Code]
    labs: Mapping[str, tuple[Code, ...]]  # measure -> its LOINC codes

    def concepts_of(self, system: str, code: str) -> tuple[str, ...]:
        """The concept keys a code names (empty when the code is not in the knowledge)."""
        found = self.codes.get((system, code))
        return (found.target,) if found is not None and ":" in found.target else ()

    def lab_codes(self, measure: str) -> tuple[str, ...]:
        """The LOINC codes of one lab measure ("serum_mg", "whole_blood_mg", "egfr", "creatinine", "pregnancy")."""
        return tuple(c.code for c in self.labs.get(measure, ()))

    def lab_of(self, code: str) -> Code | None:
        """The lab measure a LOINC code reads (``target``), with its kind, or None."""
        found = self.codes.get((LOINC, code))
        return found if found is not None and ":" not in found.target else None

    def known_system(self, system: str) -> bool:
        return system in self.systems.values() or system in ICD10


def _rows(where: str, value: Any, width: int) -> list[list[str]]:
    if not isinstance(value, list) or not all(
        isinstance(r, list) and len(r) == width and all(isinstance(x, str) and x for x in r) for r in value
    ):
        raise KnowledgeError(f"{where}: expected a list of [{width} texts] rows")
    return value


def _parse(name: str, data: Mapping[str, Any], kb: Knowledge, term: dict[str, Any]) -> None:
    systems: dict[str, str] = term["systems"]
    systems.update(data.get("systems", {}))
    term["sources"].update(data.get("sources", {}))
    codes: dict[tuple[str, str], Code] = term["codes"]

    def add(code: Code, where: str) -> None:
        if not is_valid(code.system, code.code):
            raise KnowledgeError(f"{where}: {code.code!r} is not a valid code of {code.system}")
        if code.source not in term["sources"] and code.source not in kb.sources:
            raise KnowledgeError(f"{where}: {code.code}: unknown source {code.source!r}")
        other = codes.get((code.system, code.code))
        if other is not None and other.target != code.target:
            raise KnowledgeError(f"{where}: {code.code} is given to {other.target} and to {code.target}")
        codes[(code.system, code.code)] = code

    for key, by_system in data.get("concepts", {}).items():
        where = f"{name}: {key}"
        if key not in kb.concepts:
            raise KnowledgeError(f"{where}: no such concept in the knowledge base")
        for short, rows in by_system.items():
            if short not in systems:
                raise KnowledgeError(f"{where}: unknown code system {short!r}")
            for code, display, source in _rows(f"{where}.{short}", rows, 3):
                add(Code(systems[short], code, display, source, key), where)
    for measure, by_system in data.get("labs", {}).items():
        where = f"{name}: labs.{measure}"
        found = term["labs"].setdefault(measure, [])
        for code, display, kind, source in _rows(f"{where}.loinc", by_system.get("loinc"), 4):
            entry = Code(LOINC, code, display, source, measure, kind)
            add(entry, where)
            found.append(entry)


def load_terminology(folder: str | Path | None = None, kb: Knowledge | None = None) -> Terminology:
    """Read and check the ``codes*.toml`` files listed in a knowledge folder's knowledge.toml (default: shipped)."""
    base = Path(folder) if folder is not None else Path(str(resources.files("mgdecision") / "knowledge"))
    if kb is None:
        kb = knowledge() if folder is None else load_knowledge(base)
    try:
        manifest = tomllib.loads((base / "knowledge.toml").read_text(encoding="utf-8"))
        files = {n: tomllib.loads((base / n).read_text(encoding="utf-8")) for n in manifest["files"]
                 if n.startswith("codes")}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"code files: {exc}") from exc
    term: dict[str, Any] = {"systems": {}, "sources": {}, "codes": {}, "labs": {}}
    for data in files.values():  # sources and systems first: any file may cite those of another
        term["systems"].update(data.get("systems", {}))
        term["sources"].update(data.get("sources", {}))
    for name, data in files.items():
        _parse(name, data, kb, term)
    return Terminology(term["systems"], term["sources"], term["codes"],
                       {m: tuple(c) for m, c in term["labs"].items()})


@cache
def terminology() -> Terminology:
    """The shipped terminology, loaded once."""
    return load_terminology()
