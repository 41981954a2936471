"""Read list cells (diagnoses, medications, symptoms) into recognised concepts.

A cell is split on ``; , / | + &``, "and", "plus" and line breaks of every kind; names that hold one of
these ("dolutegravir/rilpivirine", "head and neck cancer", "h/o") are kept whole. Each item is matched
against the knowledge base: medications by every run of words that names a generic or brand (so
"Prilosec 20 mg" is omeprazole, the dose is ignored, and "omeprazole levothyroxine" is both); diagnoses by
name, then by ICD-10 code prefix (the most specific entry wins; "G35A" and "G35.A" are the same);
symptoms by whole-word phrases in free text. Items starting with a negation ("no cramps") or holding a
stopped, family-history or past-history word anywhere ("omeprazole - stopped 2023") are recognised and
not counted; ambiguous abbreviations ("HD") are reported and counted only for a safer reading.
Nothing is dropped: an item that matches nothing is returned in ``unrecognized`` with a problem, and a
close spelling is offered as "did you mean", never applied.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from .kb import Concept, Knowledge, knowledge, norm
from .models import Problem, shown_name
from .terminology import ICD10, SYSTEM_NAMES, Coding, is_valid, terminology
from .vocab import ProblemCode

__all__ = ["TermList", "parse_items", "parse_list", "prepare", "restore", "split_items", "unchecked_lines"]

# between list items: punctuation and every line break (vertical tab and form feed from Word, the Unicode ones)
SEPARATORS = ";,/|+&\n\r\t\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_SPLIT = re.compile(f"[{re.escape(SEPARATORS)}]+")
_WORD_SEPARATOR = re.compile(r"(?<!\s)\s+(?:and|plus)\s+", re.I)  # the look-behind keeps it linear
_STRENGTHS = re.compile(r"(?<=\d)\s*([/,])\s*(?=\d)")  # "Dovato 50/300", "3,4-DAP": one item
# inside a name kept whole, separators and spaces stand as private-use characters until the item is split off
_HIDE = {c: chr(0xE000 + k) for k, c in enumerate(SEPARATORS + " ")}
_SHOW = str.maketrans({v: k for k, v in _HIDE.items()})
_HIDE_TABLE = str.maketrans(_HIDE)
_HIDDEN = re.compile(f"[{''.join(_HIDE.values())}]")
_CODE = re.compile(r"^([A-TV-Za-tv-z])(\d)([0-9AaBb])\.?([0-9A-Za-z]{0,4})(?=$|[\s(\[:-])")
_BRACKETS = str.maketrans({"(": " ", ")": " ", "[": " ", "]": " ", '"': " ", "*": " "})
_MAX_PHRASE = 5


@cache
def _kept_whole() -> re.Pattern[str] | None:
    """One pattern for every name that holds a separator; a combination's parts may be joined by any of them."""
    parts = []
    for name in knowledge().kept_whole:
        pieces = [re.escape(p) for p in re.split(r"\s+", name)]
        pattern = r"\s+".join(pieces)
        if "/" in name and len(name) > 4:  # a combination written as generics: any joiner between its parts
            pattern = pattern.replace(re.escape("/"), r"\s*(?:/|\+|&|\band\b|\bplus\b)\s*")
        parts.append(pattern)
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.I) if parts else None


def _hide(match: re.Match[str]) -> str:
    text = match.group(0)
    for name in knowledge().kept_whole:  # a combination is shown by its name
        if "/" in name and len(name) > 4 and norm(re.sub(r"\W+", " ", text)) == norm(name.replace("/", " ")):
            text = name
            break
    return text.translate(_HIDE_TABLE)


def prepare(text: str) -> str:
    """A list cell ready to split on :data:`SEPARATORS`: names kept whole hidden, "and"/"plus" as ";"."""
    low = text.lower()
    words = "and" in low or "plus" in low
    if "/" in text or "," in text:  # strengths and numbered names: "Dovato 50/300", "3,4-DAP"
        text = _STRENGTHS.sub(lambda m: _HIDE[m.group(1)], text)
    if words or "/" in text or "+" in text or "&" in text:  # the joiners a name kept whole may hold
        pattern = _kept_whole()
        if pattern is not None:
            text = pattern.sub(_hide, text)
    return _WORD_SEPARATOR.sub(";", text) if words else text


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
    not_relevant: tuple[str, ...] = ()  # valid codes outside the knowledge (coded items only): checked, no rule

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
    """Every drug the item names: at each word the longest run naming a drug ("omeprazole levothyroxine")."""
    tokens = words.split()
    found: list[str] = []
    start = 0
    while start < len(tokens):
        for end in range(min(len(tokens), start + _MAX_PHRASE), start, -1):
            keys = kb.drug_names.get(" ".join(tokens[start:end]))
            if keys:
                found.extend(k for k in keys if k not in found)
                start = end
                break
        else:
            start += 1
    return tuple(found)


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
    return _names_within(words, kb)


@cache
def _condition_names_by_length() -> tuple[tuple[str, str], ...]:
    """(name, concept key) of the diagnosis names looked for inside a longer item, longest first: names of four
    or more letters, and shorter ones ("MG", "MI", "AKI") where the diagnosis carries a contraindication or caution."""
    kb = knowledge()
    names = [(name, key) for name, key in kb.condition_names.items() if len(name) >= 4 or kb.concepts[key].contra]
    return tuple(sorted(names, key=lambda x: len(x[0]), reverse=True))


def _names_within(words: str, kb: Knowledge) -> tuple[str, ...]:
    """Every diagnosis named inside a longer item ("thymoma with MG"), longest names first, never overlapping."""
    padded = f" {words} "
    taken = bytearray(len(padded))
    found: list[str] = []
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
    close = difflib.get_close_matches(probe, pool, n=1, cutoff=0.8) or difflib.get_close_matches(
        probe.split()[0] if probe else probe, pool, n=1, cutoff=0.85
    )
    return close[0] if close else None


@dataclass(frozen=True, slots=True)
class _Item:
    """One list item as read: the concept keys it counts, or why it was not counted.

    ``negated``: recognised and not counted (absent, stopped, family or past history); ``unrecognized``:
    not checked; ``history``: a past-history item naming a contraindication or caution (also not checked).
    """

    keys: tuple[str, ...]
    negated: bool
    problem: Problem | None
    unrecognized: bool = False
    history: bool = False


def _match(field: str, words: str, kb: Knowledge) -> tuple[str, ...]:
    if field == "medications":
        return _match_drug(words, kb)
    if field == "diagnoses":
        codes = words.split()
        if len(codes) > 1 and all(_CODE.fullmatch(c.upper()) or _CODE.match(c.upper() + " ") for c in codes):
            return tuple(dict.fromkeys(k for c in codes for k in _match_condition(c, kb)))  # "G35 N18.4"
        return _match_condition(words, kb)
    return _match_symptoms(words, kb)


_PUNCTUATION = re.compile(r"[^\w/]+")


def _has_word(plain: str, wanted: tuple[str, ...]) -> str | None:
    """The phrase of ``wanted`` found anywhere in an item already stripped of punctuation."""
    padded = f" {plain} "
    return next((w for w in wanted if f" {w} " in padded), None)


def _at_edge(plain: str, wanted: tuple[str, ...]) -> str | None:
    """The word of ``wanted`` that starts or ends the item ("hx of MG", "AKI - resolved")."""
    padded = f" {plain} "
    return next((w for w in wanted if padded.startswith(f" {w} ") or padded.endswith(f" {w} ")), None)


def _not_current(field: str, item: str, words: str, kb: Knowledge) -> _Item | None:
    """An item about a family member, a stopped drug or the past (amendment 2026-12, 10): not counted, listed.

    Family phrases ("family history of") count anywhere, a relative ("mother: MG") only first; stopped words
    anywhere in a medication, first or last in a diagnosis; past-history words first or last. So a current
    diagnosis is never lost to a word beside it ("myasthenia gravis with prior crisis", "son also affected")."""
    if kb.drug_names.get(words) or kb.condition_names.get(words) or kb.symptom_names.get(words):
        return None  # a known name as a whole ("prior mi")
    plain = _PUNCTUATION.sub(" ", words).strip()
    phrases = tuple(w for w in kb.family_words if " " in w)
    relatives = tuple(w for w in kb.family_words if " " not in w)
    if (marker := _has_word(plain, phrases) or _at_edge(plain, relatives)) is not None:
        code, how = ProblemCode.HISTORY, "family history; not counted"
    elif (marker := _has_word(plain, kb.stopped_words) if field == "medications" else None) or (
        marker := _at_edge(plain, kb.stopped_words)
    ):
        code, how = ProblemCode.NEGATED, "stopped; not counted"
    elif (marker := _at_edge(plain, kb.history_words)) is not None:
        code, how = ProblemCode.HISTORY, "past history; not counted as current"
    else:
        return None
    rest = f" {plain} ".replace(f" {marker} ", " ").strip()
    named = [kb.concepts[k] for k in _match(field, rest, kb)] if rest else []
    rules = [c.label for c in named if c.contra]
    message = f"'{item}' read as {how}"
    if rules:
        message += f": confirm it is not current ({', '.join(rules)} would apply)"
    return _Item((), True, Problem(field, item, code, message), history=bool(rules))


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
    past = _not_current(field, item, words, kb)
    if past is not None:
        return past
    words = _strip_uncertain(words, kb)  # shown as written ("?MG"), counted as present
    if field == "diagnoses" and words in kb.ambiguous:
        readings, keys = kb.ambiguous[words]
        counted = " and ".join(kb.concepts[k].label for k in keys)
        how = f"counted as {counted}, the safer reading" if keys else "not counted; write the diagnosis in full"
        return _Item(
            keys, False, Problem(field, item, ProblemCode.AMBIGUOUS, f"'{item}' is ambiguous ({readings}); {how}")
        )
    keys = _match(field, words, kb)
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
            unrecognized=True,
        )
    message = f"'{item}' not recognised; not checked"
    hint = _suggest(words, field, kb)
    if hint:
        message += f" (did you mean '{hint}'?)"
    return _Item((), False, Problem(field, item, ProblemCode.UNRECOGNIZED, message), unrecognized=True)


_ITEMS: dict[str, dict[str, tuple[tuple[tuple[Concept, str], ...], _Item | None]]] = {}  # field -> item -> reading


def _named_as(concept: Concept, named: str) -> str:
    """'omeprazole (Prilosec 20 mg)' when the row used another name, else the name as written."""
    return shown_name(concept.label, named)


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
    found: dict[str, tuple[Concept, str, str]] = {}  # concept key -> first naming
    unrecognized: list[str] = []
    negated: list[str] = []
    history: list[str] = []
    problems: list[Problem] = []
    for item in split_items(raw):
        entry = table.get(item)
        concepts, read = entry if entry is not None else item_reading(field, item)
        if read is None:
            continue
        if read.problem is not None:
            problems.append(read.problem)
            if read.negated:
                negated.append(item)
            elif read.unrecognized:
                unrecognized.append(item)
            if read.history:
                history.append(item)
        for concept, shown in concepts:
            if concept.key not in found:
                found[concept.key] = (concept, item, shown)
    return TermList(
        field,
        raw,
        tuple(found.values()),
        tuple(unrecognized) if unrecognized else (),
        tuple(negated) if negated else (),
        tuple(problems) if problems else (),
        tuple(history) if history else (),
    )


def parse_list(field: str, raw: str) -> TermList:
    """Parse one list cell of ``field`` ("diagnoses", "medications" or "symptoms"); items are memoised."""
    if not raw:
        return EMPTY[field]
    return _parse(field, raw)




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
            return tuple(concept.key for concept, _ in found), None, False
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
    unrecognized: list[str] = []
    negated: list[str] = []
    history: list[str] = []
    ignored: list[str] = []
    problems: list[Problem] = []
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
            pairs = [(concepts[k], _named(c), shown_name(concepts[k].label, c.display)) for k in keys]
        elif text:
            named_concepts, read = item_reading(field, text)
            if read is not None and read.problem is not None:
                problems.append(read.problem)
                if read.negated:
                    negated.append(text)
                elif read.unrecognized:
                    unrecognized.append(text)
                if read.history:
                    history.append(text)
            pairs = [(concept, text, shown) for concept, shown in named_concepts]
        else:
            continue
        for concept, named, shown in pairs:
            found.setdefault(concept.key, (concept, named, shown))
    return TermList(field, "; ".join(shown_items), tuple(found.values()), tuple(unrecognized), tuple(negated),
                    tuple(problems), tuple(history), tuple(ignored))
