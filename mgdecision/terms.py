"""Read list cells (diagnoses, medications, symptoms) into recognised concepts.

A cell is split on ``; , | + &``, "and", "plus", line breaks of every kind, and "/" except beside a number, a
unit or a single letter; names that hold one of these ("dolutegravir/rilpivirine", "head and neck cancer",
"h/o") and dose expressions ("2 g/h", "10 MG/ML", "3,4-DAP", "BMI 30+") are kept whole. Each item is matched
against the knowledge base: medications by every run of words that names a generic, brand or class word (so
"Prilosec 20 mg" is omeprazole, the dose is ignored, and "omeprazole levothyroxine" is both); diagnoses by name,
CKD stage ("CKD G4A2", "G5D") or ICD-10 code prefix (the most specific entry wins; "G35A" and "G35.A" are the
same); symptoms by whole-word phrases in free text.

Words around a concept decide how it counts (clinical-rules.md 9.4, 9.5; the word lists are in symptoms.toml):
a negation before it reaches the end of its clause (".", "but", "however", "except") and, when it starts an
item, the following items joined by "," "/" "&" "+" "and" up to ";" or a new line; a negation after it reaches
back to the clause start; pseudo-negations ("not stopped", "continue") never negate; family history never
counts; a history word before a chronic condition counts, qualified "history_chronic"; "held" and "suspected"
count, qualified. Ambiguous abbreviations ("HD") are reported and counted only for a safer reading. Nothing is
dropped: an item that matches nothing is returned in ``unrecognized`` with a problem, and a close spelling is
offered as "did you mean", never applied. Magnesium products on the medication list are also read for the
magnesium they give (:mod:`mgdecision.intake`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as _field
from functools import cache
from types import MappingProxyType
from typing import Any

from .intake import IntakeItem, indication_text, read_intake
from .kb import Concept, Knowledge, knowledge, norm
from .memo import remember
from .models import Problem, shown_name
from .terminology import ICD10, SYSTEM_NAMES, Coding, is_valid, terminology
from .vocab import ProblemCode

__all__ = [
    "QUALIFIERS",
    "TermList",
    "item_reading",
    "parse_items",
    "parse_list",
    "prepare",
    "restore",
    "split_items",
    "split_joined",
    "unchecked_lines",
]

QUALIFIERS = ("history_chronic", "suspected", "held")  # how a counted concept is qualified (codes 0, 1, 2)

# between list items: punctuation and every line break (vertical tab and form feed from Word, the Unicode ones)
SEPARATORS = ";,/|+&\n\r\t\v\f\x1c\x1d\x1e\x85\u2028\u2029"
CONTINUING = frozenset(",/+&")  # a negation starting an item carries over items joined by these
_SPLIT = re.compile(f"[{re.escape(SEPARATORS)}]+")
_SPLIT_KEEP = re.compile(f"([{re.escape(SEPARATORS)}]+)")
# "and"/"plus" in any case of ASCII letters only, as the `in text.lower()` test before it ("pluſ" is not "plus");
# the look-behind keeps it linear
_WORD_SEPARATOR = re.compile(r"(?<!\s)\s+(?:[aA][nN][dD]|[pP][lL][uU][sS])\s+")
_STRENGTHS = re.compile(r"(?<=\d)\s*([/,])\s*(?=\d)")  # "Dovato 50/300", "3,4-DAP": one item
_PLUS_AFTER_NUMBER = re.compile(r"(?<=\d)\+")  # "Body mass index 30+"
_CHUNK = re.compile(r"[^\s/;,|+&\x00-\x1f]+")  # never across a row end of the column-wide join
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_LETTER_SLASH = re.compile(r"(?<!\w)\w/\w(?!\w)")  # "s/p", "h/o"
_SLASH = re.compile(r"\s*/\s*")
# units beside a "/" keep it inside an item ("2 g/h", "mg/kg", "units/kg/h", "25 mcg/hour", "400 mg/5 mL")
_UNITS = frozenset(
    [
        "mg",
        "g",
        "gm",
        "ml",
        "l",
        "dl",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "min",
        "kg",
        "iu",
        "mcg",
        "ug",
        "unit",
        "units",
        "mmol",
        "meq",
        "day",
        "d",
        "dose",
        "m2",
        "wk",
        "week",
        "tab",
        "tabs",
    ]
)
# inside a name kept whole, separators and spaces stand as private-use characters until the item is split off
_HIDE = {c: chr(0xE000 + k) for k, c in enumerate(SEPARATORS + " ")}
_SHOW = str.maketrans({v: k for k, v in _HIDE.items()})
_HIDE_TABLE = str.maketrans(_HIDE)
_HIDDEN = re.compile(f"[{''.join(_HIDE.values())}]")
_CODE = re.compile(r"^([A-TV-Za-tv-z])(\d)([0-9AaBb])\.?([0-9A-Za-z]{0,4})(?=$|[\s(\[:-])")
_BRACKETS = str.maketrans({"(": " ", ")": " ", "[": " ", "]": " ", '"': " ", "*": " "})
_MAX_PHRASE = 5
# CKD stages as written ("CKD G4A2", "G3b", "G5D", "CKD 3b", "stage 4 CKD", "CKD IV"); albuminuria ignored
_STAGE = r"(?:g\s*)?([1-5]|iv|v|i{1,3})\s*([ab])?\s*(?:a\s*[123])?\s*(d)?"
_CKD_STAGE = re.compile(
    r"(?<![\w/])(?:(?:ckd|chronic kidney disease)\s*(?:stage\s*)?" + _STAGE + r"|g([1-5])([ab])?(?:a[123])?(d)?"
    r"|stage\s*([1-5]|iv|v|i{1,3})\s*([ab])?\s*(d)?\s*(?:ckd|chronic kidney disease))(?![\w/])"
)
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_TOKEN = re.compile(r"(?P<w>[^\W_]+(?:[./'’`][^\W_]+)*)|(?P<q>\?)|(?P<dot>\.(?=\s|$))")
_ENDS = frozenset({"but", "however", "except"})
_NO_QUALIFIERS: Mapping[str, str] = MappingProxyType({})


@cache
def _kept_whole() -> re.Pattern[str] | None:
    """One pattern for every name that holds a separator; a combination's parts may be joined by any of them."""
    parts = []
    for name in knowledge().kept_whole:
        pieces = [re.escape(p) for p in re.split(r"\s+", name)]
        pattern = r"\s+".join(pieces)
        if _combination(name):  # a combination written as generics: any joiner between its parts
            pattern = pattern.replace(re.escape("/"), r"\s*(?:/|\+|&|\band\b|\bplus\b)\s*")
        parts.append(pattern)
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.I) if parts else None


def _combination(name: str) -> bool:
    """A name whose "/" joins two names ("dolutegravir/rilpivirine"), not an abbreviation ("esrd s/p transplant")."""
    return "/" in name and len(name) > 4 and _LETTER_SLASH.search(name) is None


def _hide(match: re.Match[str]) -> str:
    text = match.group(0)
    for name in knowledge().kept_whole:  # a combination is shown by its name
        if _combination(name) and norm(re.sub(r"\W+", " ", text)) == norm(name.replace("/", " ")):
            text = name
            break
    return text.translate(_HIDE_TABLE)


def _hide_slashes(text: str) -> str:
    """ "/" separates items only between two words; it stays inside an item beside a number, a unit or a single
    letter ("2 g/h", "10 MG/ML", "s/p", "w/"), clinical-rules.md 9.8. Codes are words here: "G35.B0/N18.31" is
    two items."""
    starts: dict[int, str] = {}
    ends: dict[int, str] = {}
    for m in _CHUNK.finditer(text):
        starts[m.start()] = ends[m.end()] = m.group(0)
    out, last = [], 0
    for m in _SLASH.finditer(text):
        left, right = ends.get(m.start(), ""), starts.get(m.end(), "")
        if _keeps(_neighbour(left), _neighbour(right)):
            out.append(text[last : m.start()])
            out.append(m.group(0).translate(_HIDE_TABLE))
            last = m.end()
    out.append(text[last:])
    return "".join(out)


def _neighbour(chunk: str) -> str:
    """What stands beside a "/": "number", "unit", "letter" (one character or none) or "word"."""
    word = chunk.strip("()[]{}.'\"*:").lower()
    if len(word) < 2:
        return "letter"
    if _NUMBER.fullmatch(word) is not None:
        return "number"
    return "unit" if word in _UNITS else "word"


def _keeps(left: str, right: str) -> bool:
    """A "/" stays inside an item beside a number or a single letter, and between a unit and a unit or a number
    ("2 g/h", "mg/kg", "400 mg/5 mL"); a unit before a name ("600 mg/ferrous sulfate") still parts two items."""
    sides = {left, right}
    return bool(sides & {"number", "letter"}) or sides == {"unit"}


def prepare(text: str) -> str:
    """A list cell ready to split on :data:`SEPARATORS`: names and dose expressions hidden, "and"/"plus" as ","."""
    low = text.lower()
    words = "and" in low or "plus" in low
    if "/" in text or "," in text:  # strengths and numbered names: "Dovato 50/300", "3,4-DAP"
        text = _STRENGTHS.sub(lambda m: _HIDE[m.group(1)], text)
    if "+" in text:
        text = _PLUS_AFTER_NUMBER.sub(_HIDE["+"], text)
    if words or "/" in text or "+" in text or "&" in text:  # the joiners a name kept whole may hold
        pattern = _kept_whole()
        if pattern is not None:
            text = pattern.sub(_hide, text)
    if "/" in text:
        text = _hide_slashes(text)
    return _WORD_SEPARATOR.sub(",", text) if words else text


def restore(item: str) -> str:
    """An item as written (the separators :func:`prepare` hid put back), stripped."""
    return _restore(item) if _HIDDEN.search(item) is not None else item.strip()


def _restore(item: str) -> str:
    return item.translate(_SHOW).strip()


def split_items(text: str) -> list[str]:
    """Split a list cell into its items, keeping their original spelling."""
    prepared = prepare(text)
    if _HIDDEN.search(prepared) is None:  # nothing hidden: no character to put back
        return [item for item in map(str.strip, _SPLIT.split(prepared)) if item]
    return [item for item in map(_restore, _SPLIT.split(prepared)) if item]


def split_joined(text: str) -> list[tuple[str, bool]]:
    """(item, joined): ``joined`` when only continuing separators ("," "/" "+" "&" "and") stand between the item
    and the one before, so a negation starting that one carries over to it."""
    out: list[tuple[str, bool]] = []
    continuing = False
    prepared = prepare(text)
    strip = _restore if _HIDDEN.search(prepared) is not None else str.strip
    for k, part in enumerate(_SPLIT_KEEP.split(prepared)):
        if k % 2:
            continuing = continuing and CONTINUING.issuperset(part)
            continue
        item = strip(part)
        if item:
            out.append((item, continuing and bool(out)))
            continuing = True
    return out


def unchecked_lines(field: str, unrecognized: Sequence[str], history: Sequence[str]) -> tuple[str, ...]:
    """The "not checked" lines of one list: items not recognised, and past-history items that name a rule."""
    lines = []
    if unrecognized:
        lines.append(f"{field} not recognised: {', '.join(unrecognized)}")
    if history:
        lines.append(f"{field} not counted as current (confirm): {', '.join(history)}")
    return tuple(lines)


@dataclass(slots=True, eq=False)
class TermList:
    """A parsed list cell: recognised concepts (with the text that named them) and what was not read."""

    field: str
    raw: str
    concepts: tuple[tuple[Concept, str, str], ...]  # (concept, how the row named it, 'label (as named)')
    unrecognized: tuple[str, ...]
    negated: tuple[str, ...]
    problems: tuple[Problem, ...]
    history: tuple[str, ...] = ()  # past-history items that name a contraindication or caution: not checked
    # concept key -> one of QUALIFIERS (absent: counted as written)
    qualifiers: Mapping[str, str] = _field(default_factory=lambda: _NO_QUALIFIERS)
    intake: tuple[IntakeItem, ...] = ()  # the magnesium products of a medication list, one per item naming one
    not_relevant: tuple[str, ...] = ()  # valid codes outside the knowledge (coded items only): checked, no rule

    @property
    def given(self) -> bool:
        return bool(self.concepts or self.unrecognized or self.negated)

    @property
    def readable(self) -> bool:
        """At least one item was recognised (present or negated)."""
        return bool(self.concepts or self.negated)


EMPTY = {f: TermList(f, "", (), (), (), ()) for f in ("diagnoses", "medications", "symptoms")}


# ---------------------------------------------------------------- matching names


def _drug_runs(words: str, kb: Knowledge) -> list[tuple[str, tuple[str, ...]]]:
    """(name, concept keys) of every drug the item names: at each word the longest run naming a drug."""
    tokens = words.split()
    found: list[tuple[str, tuple[str, ...]]] = []
    start = 0
    while start < len(tokens):
        for end in range(min(len(tokens), start + _MAX_PHRASE), start, -1):
            name = " ".join(tokens[start:end])
            keys = kb.drug_names.get(name)
            if keys:
                found.append((name, keys))
                start = end
                break
        else:
            start += 1
    return found


def _match_drug(words: str, kb: Knowledge) -> tuple[str, ...]:
    """Every drug the item names ("omeprazole levothyroxine")."""
    return tuple(dict.fromkeys(k for _, keys in _drug_runs(words, kb) for k in keys))


def _ckd_stages(words: str, kb: Knowledge) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, concept keys) of every CKD stage written in the item."""
    found = []
    for m in _CKD_STAGE.finditer(words):
        groups = [g for g in m.groups()]
        number, letter, dialysis = next(
            (groups[k], groups[k + 1], groups[k + 2]) for k in (0, 3, 6) if groups[k] is not None
        )
        stage = _ROMAN.get(number, number) + (letter or "") + (dialysis or "")
        keys = kb.ckd_stages.get(stage) or kb.ckd_stages.get(stage.rstrip("d").rstrip("ab") + (dialysis or ""))
        if keys:
            found.append((m.start(), m.end(), keys))
    return found


def _match_condition(words: str, kb: Knowledge) -> tuple[str, ...]:
    key = kb.condition_names.get(words) or kb.symptom_names.get(words)
    if key:
        return (key,)
    stages = _ckd_stages(words, kb)
    if len(stages) == 1 and stages[0][:2] == (0, len(words)):
        return stages[0][2]
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
    return _names_within(words, kb, stages)


@cache
def _condition_names_by_length() -> tuple[tuple[str, str], ...]:
    """(name, concept key) of the diagnosis names looked for inside a longer item, longest first: names of four
    or more letters, and shorter ones ("MG", "MI", "AKI") where the diagnosis carries a contraindication or caution."""
    kb = knowledge()
    names = [(name, key) for name, key in kb.condition_names.items() if len(name) >= 4 or kb.concepts[key].contra]
    return tuple(sorted(names, key=lambda x: len(x[0]), reverse=True))


def _names_within(words: str, kb: Knowledge, stages: list[tuple[int, int, tuple[str, ...]]]) -> tuple[str, ...]:
    """Every diagnosis named inside a longer item ("thymoma with MG"), CKD stages first, then names longest first,
    never overlapping."""
    padded = f" {words} "
    taken = bytearray(len(padded))
    found: list[str] = []
    for start, end, keys in stages:
        taken[start + 1 : end + 1] = b"\x01" * (end - start)
        found.extend(k for k in keys if k not in found)
    for name, key in _condition_names_by_length():
        at = padded.find(f" {name} ")
        while at >= 0:
            start, end = at + 1, at + 1 + len(name)
            if not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                if key not in found:
                    found.append(key)
            at = padded.find(f" {name} ", at + 1)
    return tuple(found)


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
    probe = probe[:60]  # no known name is longer; difflib's cost grows with the length compared
    close = difflib.get_close_matches(probe, pool, n=1, cutoff=0.8) or difflib.get_close_matches(
        probe.split()[0] if probe else probe, pool, n=1, cutoff=0.85
    )
    return close[0] if close else None


def _unslash(words: str, kb: Knowledge) -> str:
    """A "/" kept inside an item beside a unit ("40 mg/lamivudine") still parts two names, unless the word holding
    it is a name itself ("dolutegravir/rilpivirine", "h/o")."""
    if words in kb.drug_names or words in kb.condition_names or words in kb.symptom_names:
        return words
    kept = _kept_tokens()
    return " ".join(t.replace("/", " ") if "/" in t and t not in kept else t for t in words.split())


@cache
def _kept_tokens() -> frozenset[str]:
    """Words holding a "/" that are names or abbreviations themselves ("dolutegravir/rilpivirine", "s/p")."""
    kb = knowledge()
    names = (*kb.drug_names, *kb.condition_names, *kb.symptom_names, *kb.kept_whole)
    return frozenset(word for name in names for word in name.split() if "/" in word)


def _match(field: str, words: str, kb: Knowledge) -> tuple[str, ...]:
    if "/" in words:
        words = _unslash(words, kb)
    if field == "medications":
        return _match_drug(words, kb)
    if field == "diagnoses":
        codes = words.split()
        if len(codes) > 1 and all(_CODE.fullmatch(c.upper()) or _CODE.match(c.upper() + " ") for c in codes):
            return tuple(dict.fromkeys(k for c in codes for k in _match_condition(c, kb)))  # "G35 N18.4"
        return _match_condition(words, kb)
    return _match_symptoms(words, kb)


# ---------------------------------------------------------------- the words around a concept

_NEG, _NEG_AFTER, _PSEUDO, _HELD, _HISTORY, _PAST, _RESOLVED, _UNSURE, _UNSURE_AFTER = (
    "negations",
    "negations_after",
    "pseudo_negations",
    "held_words",
    "history_words",
    "past_words",
    "resolved_words",
    "uncertain",
    "uncertain_after",
)
_BEFORE = {_NEG: "neg", _HELD: "held", _HISTORY: "history", _PAST: "past", _UNSURE: "suspected"}
_AFTER = {_NEG_AFTER: "neg", _HELD: "held", _RESOLVED: "resolved", _UNSURE_AFTER: "suspected"}


@cache
def _markers() -> tuple[Mapping[tuple[str, ...], tuple[str | None, str | None]], int]:
    """Marker phrase (as tokens) -> (flag it gives what follows, flag it gives what precedes); longest phrase."""
    kb = knowledge()
    table: dict[tuple[str, ...], tuple[str | None, str | None]] = {}
    for lists in (_PSEUDO, *_BEFORE, *_AFTER):
        for phrase in kb.list_words.get(lists, ()):
            tokens = tuple(norm(t.group(0)) if t.lastgroup == "w" else "?" for t in _TOKEN.finditer(phrase))
            before, after = table.get(tokens, (None, None))
            if lists == _PSEUDO:
                table[tokens] = ("pseudo", "pseudo")
                continue
            if before == "pseudo":
                continue
            table[tokens] = (_BEFORE.get(lists, before), _AFTER.get(lists, after))
    return table, max((len(t) for t in table), default=1)


@dataclass(frozen=True, slots=True)
class _Part:
    """A run of words between reading words, with the flags those words give it."""

    words: str
    span: tuple[int, int]  # characters in the item, with the reading words that govern it
    flags: frozenset[str]  # "neg", "held", "history", "past", "resolved", "suspected"
    initial_negation: bool  # negated by a negation that starts the item


@dataclass(frozen=True, slots=True)
class _Scope:
    """The parts of an item and what its reading words do over the whole item."""

    parts: tuple[_Part, ...]
    flags: frozenset[str]  # every flag a reading word of the item gives, either way
    initial_negation: bool  # the item starts with a negation (what precedes it names nothing)
    carries: bool  # ... and it reaches the end of the item


@cache
def _may_hold_markers() -> re.Pattern[str]:
    """Finds in a normalised item any word that could be a reading word (items without one skip the scan)."""
    first = {phrase[0] for phrase in _markers()[0]}
    words = sorted((w for w in first if w != "?"), key=len, reverse=True)
    return re.compile(r"\?|(?<![\w/])(?:" + "|".join(map(re.escape, words)) + r")(?![\w/])")


def _clauses(item: str) -> list[list[tuple[str, int, int]]]:
    """The item's tokens (normalised word, start, end), in clauses ended by ".", "but", "however", "except"."""
    clauses: list[list[tuple[str, int, int]]] = [[]]
    previous = ""
    for m in _TOKEN.finditer(item):
        if m.lastgroup == "dot":
            if len(previous) > 1 and "." not in previous:  # "b.i.d." and "q.d." are not clause ends
                clauses.append([])
            continue
        word = norm(m.group(0)) if m.lastgroup == "w" else "?"
        previous = word
        if word in _ENDS:
            clauses.append([])
            continue
        clauses[-1].append((word, m.start(), m.end()))
    return [c for c in clauses if c]


def _markers_of(words: list[str]) -> list[tuple[int, int, str | None, str | None]]:
    """(start, end, flag forwards, flag backwards) of the reading words of one clause, longest phrase first."""
    table, longest = _markers()
    found = []
    k = 0
    while k < len(words):
        for n in range(min(longest, len(words) - k), 0, -1):
            roles = table.get(tuple(words[k : k + n]))
            if roles is not None:
                found.append((k, k + n, *roles))
                k += n
                break
        else:
            k += 1
    return found


def _scope(item: str, field: str, kb: Knowledge) -> _Scope | None:
    """The parts of an item and the flags its reading words give them; None when it has no reading word."""
    clauses = _clauses(item)
    parts: list[_Part] = []
    flags: set[str] = set()
    initial = carries = False
    any_marker = False
    for c, clause in enumerate(clauses):
        words = [t[0] for t in clause]
        markers = _markers_of(words)
        any_marker = any_marker or bool(markers)
        forward: set[str] = set()
        governs = None  # where the reading word acting forwards starts (characters)
        named_before = False
        clause_initial = False
        edges = [0, *(x for m in markers for x in m[:2]), len(words)]
        for j in range(len(markers) + 1):
            a, b = edges[2 * j], edges[2 * j + 1]
            text = " ".join(words[a:b])
            names = bool(text) and bool(_match(field, text, kb))
            marker = markers[j] if j < len(markers) else None
            back = None
            if marker is not None and marker[3] not in (None, "pseudo") and (names or marker[2] is None):
                back = marker[3]  # it acts backwards: what precedes it names something (or it only can)
            if text:
                start = governs if governs is not None and forward else clause[a][1]
                end = clause[marker[1] - 1][2] if back is not None and marker is not None else clause[b - 1][2]
                part_flags = frozenset(forward | ({back} if back else set()))
                parts.append(_Part(text, (start, end), part_flags, clause_initial and "neg" in forward))
            named_before = named_before or names
            if marker is None:
                continue
            for flag in marker[2:]:
                if flag not in (None, "pseudo"):
                    flags.add(flag)
            if back is None and marker[2] not in (None, "pseudo"):
                forward.add(marker[2])
                if governs is None:
                    governs = clause[marker[0]][1]
                if marker[2] == "neg" and c == 0 and not named_before:
                    clause_initial = initial = True
        if c == 0:
            carries = clause_initial and len(clauses) == 1
    if not any_marker:
        return None
    return _Scope(tuple(parts), frozenset(flags), initial, carries)


# ---------------------------------------------------------------- one item as read


@dataclass(frozen=True, slots=True)
class _Item:
    """One list item as read: the concepts it counts (with their qualifiers) and what it does not count.

    ``negated``: the parts recognised and not counted (absent, stopped, family or past history), as written;
    ``unrecognized``: not checked; ``history``: not-counted parts naming a contraindication or caution (also
    not checked); ``carries``: a negation starting the item reaches its end, so it carries over the next items
    joined to it; ``takes_carry``: the item has no reading word of its own and may take one carried to it.
    """

    keys: tuple[str, ...]
    qualifiers: tuple[str | None, ...]
    negated: tuple[str, ...]
    problems: tuple[Problem, ...]
    unrecognized: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    carries: bool = False
    takes_carry: bool = True
    intake: tuple[IntakeItem, ...] = ()
    named: tuple[str, ...] = ()  # per key, the part of the item that named it (empty: the whole item)


def _rules_of(keys: Sequence[str], kb: Knowledge) -> list[str]:
    return [kb.concepts[k].label for k in keys if kb.concepts[k].contra]


def _not_counted(
    field: str, item: str, part: str, keys: Sequence[str], how: str, code: ProblemCode, confirm: bool, kb: Knowledge
) -> tuple[Problem, bool]:
    """The problem for a part not counted, and whether it names a rule to list as not checked."""
    rules = _rules_of(keys, kb) if confirm else []
    message = f"'{part}' read as {how}"
    if rules:
        message += f": confirm it is not current ({', '.join(rules)} would apply)"
    return Problem(field, item, code, message), bool(rules)


_ABSENT, _STOPPED, _PAST_TEXT, _FAMILY = (
    "absent or stopped; not counted",
    "stopped; not counted",
    "past history; not counted as current",
    "family history; not counted",
)


def _family(words: str, kb: Knowledge) -> str | None:
    """A family phrase anywhere in the item or a relative first or last: someone else's diagnosis."""
    plain = _PUNCTUATION.sub(" ", words).strip()
    padded = f" {plain} "
    family = kb.list_words.get("family_words", ())
    for w in family:
        if (" " in w and f" {w} " in padded) or (
            " " not in w and (padded.startswith(f" {w} ") or padded.endswith(f" {w} "))
        ):
            return w
    return None


_PUNCTUATION = re.compile(r"[^\w/]+")


def _read_item(field: str, item: str) -> _Item | None:
    """Match one item (memoised by :func:`item_reading`: the same drug or code recurs across many list cells)."""
    kb = knowledge()
    words = norm(item.translate(_BRACKETS))
    if not words:
        return None
    if not (kb.drug_names.get(words) or kb.condition_names.get(words) or kb.symptom_names.get(words)):
        if (marker := _family(words, kb)) is not None:
            rest = f" {_PUNCTUATION.sub(' ', words)} ".replace(f" {marker} ", " ").strip()
            named = _match(field, rest, kb) if rest else ()
            problem, rules = _not_counted(field, item, item, named, _FAMILY, ProblemCode.HISTORY, True, kb)
            return _Item((), (), (item,), (problem,), history=(item,) if rules else (), takes_carry=False)
        scope = _scope(item, field, kb) if _may_hold_markers().search(words) is not None else None
        if scope is not None:
            return _read_scope(field, item, scope, kb)
    return _read_plain(field, item, words, kb)


def _read_plain(field: str, item: str, words: str, kb: Knowledge, takes_carry: bool = True) -> _Item:
    """An item with no reading word: every concept it names counts."""
    takes_carry = takes_carry and not (field == "medications" and any(c.isdigit() for c in item))
    found = _ambiguous(field, words, item, kb)
    if found is not None:
        keys, message = found
        return _Item(
            keys,
            (None,) * len(keys),
            (),
            (Problem(field, item, ProblemCode.AMBIGUOUS, message),),
            takes_carry=takes_carry,
        )
    keys = _match(field, words, kb)
    if keys:
        counted: dict[str, tuple[str | None, str]] = {k: (None, item) for k in keys}
        return _with_products(field, item, words, counted, _Item((), (), (), ()), takes_carry)
    if field == "diagnoses" and _CODE.match(item.strip()):
        message = f"ICD-10 code '{item}' is not in the knowledge base; not checked"
        problem = Problem(field, item, ProblemCode.UNRECOGNIZED_CODE, message)
        return _Item((), (), (), (problem,), (item,), takes_carry=takes_carry)
    message = f"'{item}' not recognised; not checked"
    hint = _suggest(words, field, kb)
    if hint:
        message += f" (did you mean '{hint}'?)"
    problem = Problem(field, item, ProblemCode.UNRECOGNIZED, message)
    return _Item((), (), (), (problem,), (item,), takes_carry=takes_carry)


def _read_scope(field: str, item: str, scope: _Scope, kb: Knowledge) -> _Item:
    """An item with reading words: each part counts, counts qualified, or is listed as not counted."""
    keys: dict[str, tuple[str | None, str]] = {}  # concept key -> (qualifier, the part that named it)
    counted_words: list[str] = []
    problems: list[Problem] = []
    not_counted: list[tuple[str, list[str], str, ProblemCode, bool]] = []  # (part, keys, how, code, confirm)
    derived: set[str] = set()
    for part in scope.parts:
        found = _ambiguous(field, part.words, item, kb)
        if found is not None:
            problems.append(Problem(field, item, ProblemCode.AMBIGUOUS, found[1]))
        part_keys = found[0] if found is not None else _match(field, part.words, kb)
        written = item[part.span[0] : part.span[1]].strip(" -,.:")
        if "neg" in part.flags:
            if part_keys:
                how = _ABSENT if part.initial_negation else _STOPPED
                not_counted.append((written, list(part_keys), how, ProblemCode.NEGATED, not part.initial_negation))
            continue
        past = []
        for key in part_keys:
            concept = kb.concepts[key]
            qualifier = _qualifier(part.flags, concept)
            if qualifier != "past":
                keys.setdefault(key, (qualifier, written or item))
                continue
            past.append(key)
            if concept.past_as is not None:  # not current, and recognised as what its past stands for
                keys.setdefault(concept.past_as, (None, written or item))
                derived.add(concept.past_as)
        if past:
            not_counted.append((written, past, _PAST_TEXT, ProblemCode.HISTORY, True))
        if part_keys and len(past) < len(part_keys):
            counted_words.append(part.words)
    if not keys and not not_counted:  # nothing named: the item as a whole, by its reading words
        if scope.initial_negation:
            return _Item(
                (),
                (),
                (item,),
                (_problem(field, item, _ABSENT, ProblemCode.NEGATED),),
                carries=scope.carries,
                takes_carry=False,
            )
        if "neg" in scope.flags:
            return _Item((), (), (item,), (_problem(field, item, _STOPPED, ProblemCode.NEGATED),), takes_carry=False)
        if scope.flags & {"past", "history", "resolved"}:
            return _Item((), (), (item,), (_problem(field, item, _PAST_TEXT, ProblemCode.HISTORY),), takes_carry=False)
        words = " ".join(p.words for p in scope.parts) or norm(item.translate(_BRACKETS))
        return _read_plain(field, item, words, kb, takes_carry=False)
    negated: list[str] = []
    history: list[str] = []
    whole = set(keys) <= derived and len(not_counted) == 1
    for written, named, how, code, confirm in not_counted:
        shown = item if whole or not written else written
        problem, rules = _not_counted(field, item, shown, named, how, code, confirm, kb)
        problems.append(problem)
        negated.append(shown)
        if rules:
            history.append(shown)
    base = _Item(
        (), (), tuple(negated), tuple(problems), history=tuple(history), carries=scope.carries, takes_carry=False
    )
    if not keys:
        return base
    if not not_counted:  # everything it names counts: named by the whole item, as written
        keys = {k: (q, item) for k, (q, _) in keys.items()}
    return _with_products(field, item, " ".join(counted_words), keys, base, False)


def _problem(field: str, item: str, how: str, code: ProblemCode) -> Problem:
    return Problem(field, item, code, f"'{item}' read as {how}")


def _ambiguous(field: str, words: str, written: str, kb: Knowledge) -> tuple[tuple[str, ...], str] | None:
    """(concept keys counted, message) for an ambiguous abbreviation ("HD") written as ``written``."""
    if field != "diagnoses" or words not in kb.ambiguous:
        return None
    readings, keys = kb.ambiguous[words]
    counted = " and ".join(kb.concepts[k].label for k in keys)
    how = f"counted as {counted}, the safer reading" if keys else "not counted; write the diagnosis in full"
    return keys, f"'{written}' is ambiguous ({readings}); {how}"


def _qualifier(flags: frozenset[str], concept: Concept) -> str | None:
    """How a named concept counts under the flags of its part: "past" (not counted) or a qualifier."""
    if "past" in flags:
        return "past"
    if "history" in flags:
        return "history_chronic" if concept.chronic else "past"
    if "resolved" in flags:
        return "history_chronic" if concept.resolved_counts else "past"
    if "held" in flags:
        return "held"
    if "suspected" in flags:
        return "suspected"
    return None


def _with_products(
    field: str,
    item: str,
    words: str,
    counted: dict[str, tuple[str | None, str]],
    base: _Item,
    takes_carry: bool,
) -> _Item:
    """The counted concepts of an item (concept key -> qualifier, part that named it); a medication is also read
    for its route form, the indication written in it and the magnesium it gives."""
    intake: tuple[IntakeItem, ...] = ()
    if field == "medications":
        kb = knowledge()
        counted = _route_forms(item, counted, kb)
        if " for " in f" {words} " or "prn" in words or "as needed" in words:
            written_for = indication_text(item)  # it counts: "eculizumab for PNH", "MOM PRN constipation"
            if written_for:
                for_words = norm(written_for)
                for k in (*_match_condition(for_words, kb), *_match_symptoms(for_words, kb)):
                    counted.setdefault(k, (None, item))
        products = []
        if not _product_keys().isdisjoint(counted):
            runs = _drug_runs(_unslash(words, kb) if "/" in words else words, kb)
            products = _one_per_generics([kb.product_names[name] for name, _ in runs if name in kb.product_names], kb)
        if products:
            read = [read_intake(item, p) for p in products]
            if all(r is None for r in read):  # magnesium for the skin: recognised, not intake
                topical = f"drug:{_topical_generic()}"
                magnesium = kb.products["drug_class"]
                counted = {(topical if kb.concepts[k].drug_class == magnesium else k): v for k, v in counted.items()}
            intake = tuple(r for r in read if r is not None)
            if len(intake) > 1:
                intake = tuple(_unattributed(r) for r in intake)
    return _Item(
        tuple(counted),
        tuple(q for q, _ in counted.values()),
        base.negated,
        base.problems,
        base.unrecognized,
        base.history,
        base.carries,
        takes_carry,
        intake,
        tuple(n for _, n in counted.values()),
    )


def _one_per_generics(products: list[str], kb: Knowledge) -> list[str]:
    """Products named in one item, one per set of generics: a brand with a labelled strength before its salt
    ("magnesium chloride 64 mg (Slow-Mag)" is Slow-Mag)."""
    table = kb.products["products"]
    chosen: dict[tuple[str, ...], str] = {}
    for pid in dict.fromkeys(products):
        generics = tuple(table[pid]["generics"])
        if generics not in chosen or ("unit" in table[pid] and "unit" not in table[chosen[generics]]):
            chosen[generics] = pid
    return list(chosen.values())


@cache
def _product_keys() -> frozenset[str]:
    """The concepts a magnesium product stands for: an item counting none of them names no product."""
    kb = knowledge()
    magnesium = kb.products["drug_class"]
    return frozenset(k for k, c in kb.concepts.items() if c.drug_class == magnesium)


@cache
def _topical_generic() -> str:
    """The generic every product for the skin stands for."""
    return next(p["generics"][0] for p in knowledge().products["products"].values() if p["kind"] == "topical")


def _unattributed(read: IntakeItem) -> IntakeItem:
    """Two products in one item: the dose written cannot be given to either."""
    return replace(
        read,
        per_dose_elemental_mg=None,
        daily_elemental_mg=None,
        strength_from=None,
        confirm=(*read.confirm, "confirm the dose of each product"),
    )


def _route_forms(
    item: str, counted: dict[str, tuple[str | None, str]], kb: Knowledge
) -> dict[str, tuple[str | None, str]]:
    """A generic written with a route word of another form is that form ("neostigmine 2.5 mg IV")."""
    if not any(k in kb.route_forms for k in counted):
        return counted
    tokens = {t.group(0) for t in _TOKEN.finditer(item.lower())}
    padded = f" {norm(item.translate(_BRACKETS))} "
    out: dict[str, tuple[str | None, str]] = {}
    for key, value in counted.items():
        for words, target in kb.route_forms.get(key, {}).items():
            if any(w in tokens or f" {w} " in padded for w in kb.route_words[words]):
                key = target
                break
        out.setdefault(key, value)
    return out


def _carried(read: _Item, field: str, item: str) -> _Item:
    """An item negated by a negation that starts an item before it and carries over to it."""
    kb = knowledge()
    problem, rules = _not_counted(
        field,
        item,
        item,
        read.keys,
        "absent (negated with the item before); not counted",
        ProblemCode.NEGATED,
        True,
        kb,
    )
    return _Item((), (), (item,), (problem,), history=(item,) if rules else (), carries=True, takes_carry=True)


_Reading = tuple[tuple[tuple[Concept, str, str, str | None], ...], "_Item | None"]
MEMO_SIZE = 65536  # readings kept per field, of items and of cells
_ITEMS: dict[str, dict[str, _Reading]] = {}
_CARRIED: dict[str, dict[str, _Reading]] = {}


def _named_as(concept: Concept, named: str) -> str:
    """'omeprazole (Prilosec 20 mg)' when the row used another name, else the name as written."""
    return shown_name(concept.label, named)


def item_reading(field: str, item: str, carried: bool = False) -> _Reading:
    """((concept, how the row named it, name as shown, qualifier), how it was read) of one stripped item; memoised
    per field. ``carried``: the item as read under a negation carried over from the item before it."""
    table = (_CARRIED if carried else _ITEMS).setdefault(field, {})
    found = table.get(item)
    if found is not None:
        return found
    read = _read_item(field, item)
    if carried and read is not None:
        read = _carried(read, field, item)
    concepts = knowledge().concepts
    named = read.named if read is not None and read.named else (item,) * (len(read.keys) if read else 0)
    found = (
        tuple(
            (concepts[k], n, _named_as(concepts[k], n), q)
            for k, q, n in zip(read.keys, read.qualifiers, named, strict=True)
        )
        if read
        else (),
        read,
    )
    return remember(table, item, found, MEMO_SIZE)


def _parse(field: str, raw: str) -> TermList:
    table = _ITEMS.setdefault(field, {})
    items = split_items(raw)
    readings = []
    for item in items:
        entry = table.get(item)
        readings.append(entry if entry is not None else item_reading(field, item))
    if any(read is not None and read.carries for _, read in readings[:-1]):  # a negation may carry over: which
        readings = _carry_over(field, raw, readings)  # items are joined to the one before (rare)
    found: dict[str, tuple[Concept, str, str]] = {}  # concept key -> first naming
    qualifiers: dict[str, str] = {}
    unrecognized: list[str] = []
    negated: list[str] = []
    history: list[str] = []
    problems: list[Problem] = []
    intake: list[IntakeItem] = []
    for concepts, read in readings:
        if read is None:
            continue
        if read.problems:
            problems.extend(read.problems)
            negated.extend(read.negated)
            unrecognized.extend(read.unrecognized)
            history.extend(read.history)
        if read.intake:
            intake.extend(read.intake)
        for concept, named, shown, qualifier in concepts:
            if concept.key not in found:
                found[concept.key] = (concept, named, shown)
                if qualifier is not None:
                    qualifiers[concept.key] = qualifier
            elif qualifier is None and concept.key in qualifiers:  # named as written too: that naming counts
                found[concept.key] = (concept, named, shown)  # (in the place of the first naming)
                del qualifiers[concept.key]
    return TermList(
        field,
        raw,
        tuple(found.values()),
        tuple(unrecognized) if unrecognized else (),
        tuple(negated) if negated else (),
        tuple(problems) if problems else (),
        tuple(history) if history else (),
        MappingProxyType(qualifiers) if qualifiers else _NO_QUALIFIERS,
        tuple(intake) if intake else (),
    )


def _carry_over(field: str, raw: str, readings: list[_Reading]) -> list[_Reading]:
    """The readings of a cell's items with a negation that starts an item carried over the items joined to it."""
    out = []
    carry = False
    for (item, joined), reading in zip(split_joined(raw), readings, strict=True):
        read = reading[1]
        if read is None:
            out.append(reading)
            continue
        if norm(item).partition(" ")[0] in _ENDS:  # "however insomnia": the clause, and the carry, end here
            carry = False
        if carry and joined and read.takes_carry:
            reading = item_reading(field, item, carried=True)
        else:
            carry = read.carries
        out.append(reading)
    return out


_CELLS: dict[str, dict[str, TermList]] = {}


def parse_list(field: str, raw: str) -> TermList:
    """Parse one list cell of ``field`` ("diagnoses", "medications" or "symptoms"); cells and items are memoised
    (a reading is immutable)."""
    if not raw:
        return EMPTY[field]
    table = _CELLS.setdefault(field, {})
    found = table.get(raw)
    if found is None:
        found = remember(table, raw, _parse(field, raw), MEMO_SIZE)
    return found




# ---------------------------------------------------------------- coded items (lists from EHRs)

_CODED = ("system", "code", "display")


def _coding(item: Any) -> Coding | None:
    """A coded item as a Coding (texts stripped), or None when it is not one."""
    if isinstance(item, Mapping):
        parts = [item.get(k) for k in _CODED]
    elif isinstance(item, tuple) and len(item) == len(_CODED):
        parts = list(item)
    else:
        return None
    if not all(p is None or isinstance(p, str) for p in parts):
        return None
    system, code, display = (p.strip() if p else "" for p in parts)
    return Coding(system, code, display)


def _read_coded(field: str, c: Coding) -> tuple[tuple[str, ...], Problem | None, bool]:
    """(concept keys, problem, read the display as a text item) of one coded item.

    No keys and no problem: a valid code outside the knowledge, not relevant here."""
    term = terminology()
    keys = term.concepts_of(c.system, c.code)
    if keys:
        return keys, None, False
    if not c.code or not term.known_system(c.system):  # a local or missing code: the display is all there is
        if c.display:
            return (), None, True
        return (), Problem(field, _named(c), ProblemCode.UNRECOGNIZED_CODE,
                           f"coded item '{_named(c)}' has no display and no known code system; not checked"), False
    if not is_valid(c.system, c.code):  # its display, when there is one, is all there is
        if c.display:
            return (), None, True
        return (), Problem(field, _named(c), ProblemCode.UNRECOGNIZED_CODE,
                           f"'{c.code}' is not a valid code of {c.system}; not checked"), False
    if c.system in ICD10 and field == "diagnoses":
        found, _read = item_reading(field, c.code)
        if found:
            return tuple(concept.key for concept, *_rest in found), None, False
    words = norm(c.display.translate(_BRACKETS))
    return (_match(field, words, knowledge()) if words else ()), None, False


def _named(c: Coding) -> str:
    return c.display or " ".join(part for part in (SYSTEM_NAMES.get(c.system, c.system), c.code) if part)


def parse_items(field: str, items: Any) -> TermList:
    """Read a list given as a sequence of items, each a text or a coded item, none of them split again.

    A coded item is a :class:`~mgdecision.terminology.Coding` ``(system, code, display)``, a tuple of those three
    or a mapping with those keys. Its code decides when the terminology knows it (a missing or misspelt display
    does not matter); a valid code of a known system that it does not know is read by its display as one item,
    and when that names nothing in the knowledge the item is outside it (``not_relevant``), not an input problem.
    A code of no known system is read by its display like a text item; a text item is one item of a list cell.
    A single coded item may be passed instead of a sequence.
    """
    if _coding(items) is not None:
        items = [items]
    concepts = knowledge().concepts
    found: dict[str, tuple[Concept, str, str]] = {}
    qualifiers: dict[str, str] = {}
    unrecognized: list[str] = []
    negated: list[str] = []
    history: list[str] = []
    ignored: list[str] = []
    problems: list[Problem] = []
    intake: list[IntakeItem] = []
    shown_items: list[str] = []
    for item in items:
        c = None if isinstance(item, str) else _coding(item)
        if c is None and not isinstance(item, str):
            kind = type(item).__name__
            problems.append(Problem(field, kind, ProblemCode.UNREADABLE, f"a {kind} is not a list item; not read"))
            unrecognized.append(kind)
            continue
        text = item.strip() if isinstance(item, str) else ""
        keys: tuple[str, ...] = ()
        if c is not None:
            if not any(c):
                continue
            keys, problem, as_text = _read_coded(field, c)
            shown_items.append(_named(c))
            if problem is not None:
                problems.append(problem)
                unrecognized.append(problem.value)
                continue
            if as_text:
                text = c.display
            elif not keys:
                ignored.append(_named(c))
                continue
        elif text:
            shown_items.append(text)
        if keys and c is not None:
            quads: list[tuple[Concept, str, str, str | None]] = [
                (concepts[k], _named(c), shown_name(concepts[k].label, c.display), None) for k in keys
            ]
            if c.display and field == "medications":  # the strength and frequency a coded product's display gives
                _named_concepts, read = item_reading(field, c.display.strip())
                if read is not None and read.intake:
                    intake.extend(read.intake)
        elif text:
            named_concepts, read = item_reading(field, text)
            if read is not None:
                if read.problems:
                    problems.extend(read.problems)
                    negated.extend(read.negated)
                    unrecognized.extend(read.unrecognized)
                    history.extend(read.history)
                if read.intake:
                    intake.extend(read.intake)
            quads = list(named_concepts)
        else:
            continue
        for concept, named, shown, qualifier in quads:
            if concept.key not in found:
                found[concept.key] = (concept, named, shown)
                if qualifier is not None:
                    qualifiers[concept.key] = qualifier
    return TermList(
        field,
        "; ".join(shown_items),
        tuple(found.values()),
        tuple(unrecognized),
        tuple(negated),
        tuple(problems),
        tuple(history),
        MappingProxyType(qualifiers) if qualifiers else _NO_QUALIFIERS,
        tuple(intake),
        tuple(ignored),
    )
