"""Read list cells (diagnoses, medications, symptoms) into recognised concepts.

A cell is split on ``; , / |`` and new lines. Each item is matched against the knowledge base:
medications by the longest run of words that names a generic or brand (so "Prilosec 20 mg" is
omeprazole and the dose is ignored); diagnoses by name, then by ICD-10 code prefix (the most specific
entry wins; "G35A" and "G35.A" are the same); symptoms by whole-word phrases in free text.
Items starting with a negation ("no cramps", "stopped furosemide") are recognised as absent.
Nothing is dropped: an item that matches nothing is returned in ``unrecognized`` with a problem, and a
close spelling is offered as "did you mean", never applied.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .kb import Concept, Knowledge, knowledge, norm
from .models import Problem
from .vocab import ProblemCode

__all__ = ["TermList", "parse_list", "split_items"]

SEPARATORS = ";,/|\n\r\t"  # between list items
_SPLIT = re.compile(f"[{re.escape(SEPARATORS)}]+")
_CODE = re.compile(r"^([A-TV-Za-tv-z])(\d)([0-9AaBb])\.?([0-9A-Za-z]{0,4})(?=$|[\s(\[:-])")
_BRACKETS = str.maketrans({"(": " ", ")": " ", "[": " ", "]": " ", '"': " ", "*": " "})
_MAX_PHRASE = 5


def split_items(text: str) -> list[str]:
    """Split a list cell into its items, keeping their original spelling."""
    return [item for item in map(str.strip, _SPLIT.split(text)) if item]


@dataclass(slots=True, eq=False)
class TermList:
    """A parsed list cell: recognised concepts (with the text that named them) and what was not read."""

    field: str
    raw: str
    concepts: tuple[tuple[Concept, str, str], ...]  # (concept, how the row named it, 'label (as named)')
    unrecognized: tuple[str, ...]
    negated: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def given(self) -> bool:
        return bool(self.concepts or self.unrecognized or self.negated)

    @property
    def readable(self) -> bool:
        """At least one item was recognised (present or negated)."""
        return bool(self.concepts or self.negated)


EMPTY = {f: TermList(f, "", (), (), (), ()) for f in ("diagnoses", "medications", "symptoms")}


def _is_negated(words: str, kb: Knowledge) -> bool:
    return any(words == n or words.startswith(n + " ") for n in kb.symptom_negations)


def _strip_uncertain(words: str, kb: Knowledge) -> str:
    """'?mg' / 'query mg' / 'suspected mg' -> 'mg': suspected items count as present."""
    for prefix in kb.uncertain_prefixes:
        if prefix == "?" and words.startswith("?"):
            return words[1:].strip()
        if words.startswith(prefix + " "):
            return words[len(prefix) + 1 :]
    return words


def _match_drug(words: str, kb: Knowledge) -> tuple[str, ...]:
    """Longest run of words naming a drug; runs starting at the first three words are tried."""
    tokens = words.split()
    for start in range(min(3, len(tokens))):
        for end in range(min(len(tokens), start + _MAX_PHRASE), start, -1):
            keys = kb.drug_names.get(" ".join(tokens[start:end]))
            if keys:
                return keys
    return ()


def _match_condition(words: str, kb: Knowledge) -> tuple[str, ...]:
    key = kb.condition_names.get(words) or kb.symptom_names.get(words)
    if key:
        return (key,)
    code = _CODE.match(words)
    if code:
        letter, d1, d2, rest = code.groups()
        compact = f"{letter}{d1}{d2}{rest}".upper()
        exact = kb.condition_exact_codes.get(compact)
        if exact:
            return (exact,)
        for end in range(len(compact), 0, -1):
            hit = kb.condition_codes.get(compact[:end])
            if hit:
                return (hit,)
        return ()
    padded = f" {words} "
    return tuple(key for name, key in kb.condition_names.items() if len(name) >= 4 and f" {name} " in padded)[:1]


def _match_symptoms(words: str, kb: Knowledge) -> tuple[str, ...]:
    key = kb.symptom_names.get(words)
    if key:
        return (key,)
    padded = f" {words} "
    found: list[str] = []
    for name, key in kb.symptom_names.items():
        if f" {name} " in padded and key not in found:
            found.append(key)
    if not found:
        key = kb.condition_names.get(words)
        if key:
            found.append(key)
    return tuple(found)


def _suggest(words: str, kind: str, kb: Knowledge) -> str | None:
    if kind == "medications":
        pool = list(kb.drug_names)
        probe = " ".join(words.split()[:2])
    elif kind == "diagnoses":
        pool = list(kb.condition_names)
        probe = words
    else:
        pool = list(kb.symptom_names)
        probe = words
    close = difflib.get_close_matches(probe, pool, n=1, cutoff=0.8) or difflib.get_close_matches(
        probe.split()[0] if probe else probe, pool, n=1, cutoff=0.85
    )
    return close[0] if close else None


@dataclass(frozen=True, slots=True)
class _Item:
    """One list item as read: the concept keys it names, or why it was not counted."""

    keys: tuple[str, ...]
    negated: bool
    problem: Problem | None


def _read_item(field: str, item: str) -> _Item | None:
    """Match one item (memoised by :func:`item_reading`: the same drug or code recurs across many list cells)."""
    kb = knowledge()
    words = norm(item.translate(_BRACKETS))
    if not words:
        return None
    if _is_negated(words, kb):
        return _Item(
            (), True, Problem(field, item, ProblemCode.NEGATED, f"'{item}' read as absent or stopped; not counted")
        )
    words = _strip_uncertain(words, kb)  # shown as written ("?MG"), counted as present
    if field == "medications":
        keys = _match_drug(words, kb)
    elif field == "diagnoses":
        keys = _match_condition(words, kb)
    else:
        keys = _match_symptoms(words, kb)
    if keys:
        return _Item(keys, False, None)
    if field == "diagnoses" and _CODE.match(item.strip()):
        return _Item(
            (),
            False,
            Problem(
                field,
                item,
                ProblemCode.UNRECOGNIZED_CODE,
                f"ICD-10 code '{item}' is not in the knowledge base; not checked",
            ),
        )
    message = f"'{item}' not recognised; not checked"
    hint = _suggest(words, field, kb)
    if hint:
        message += f" (did you mean '{hint}'?)"
    return _Item((), False, Problem(field, item, ProblemCode.UNRECOGNIZED, message))


_ITEMS: dict[str, dict[str, tuple[tuple[tuple[Concept, str], ...], _Item | None]]] = {}  # field -> item -> reading


def _named_as(concept: Concept, named: str) -> str:
    """'omeprazole (Prilosec 20 mg)' when the row used another name, else the name as written."""
    label = concept.label
    return named if named.lower() == label.lower() else f"{label} ({named})"


def item_reading(field: str, item: str) -> tuple[tuple[tuple[Concept, str], ...], _Item | None]:
    """(concepts with the name as shown, how it was read) of one stripped item; memoised per field."""
    table = _ITEMS.setdefault(field, {})
    found = table.get(item)
    if found is not None:
        return found
    if len(table) > 65536:
        table.clear()
    read = _read_item(field, item)
    concepts = knowledge().concepts
    found = table[item] = (tuple((concepts[k], _named_as(concepts[k], item)) for k in read.keys) if read else (), read)
    return found


def _parse(field: str, raw: str) -> TermList:
    table = _ITEMS.setdefault(field, {})
    found: dict[int, tuple[Concept, str, str]] = {}
    unrecognized: list[str] = []
    negated: list[str] = []
    problems: list[Problem] = []
    for item in split_items(raw):
        entry = table.get(item)
        concepts, read = entry if entry is not None else item_reading(field, item)
        if read is None:
            continue
        if read.problem is not None:
            problems.append(read.problem)
            (negated if read.negated else unrecognized).append(item)
        for concept, shown in concepts:
            if id(concept) not in found:
                found[id(concept)] = (concept, item, shown)
    return TermList(
        field,
        raw,
        tuple(found.values()),
        tuple(unrecognized) if unrecognized else (),
        tuple(negated) if negated else (),
        tuple(problems) if problems else (),
    )


def parse_list(field: str, raw: str) -> TermList:
    """Parse one list cell of ``field`` ("diagnoses", "medications" or "symptoms"); items are memoised."""
    if not raw:
        return EMPTY[field]
    return _parse(field, raw)
