"""The parts of one result cell as lab exports and clinicians write it: the analyte named before the value, the
lab's flags, the value with its comparator and unit, a lab range and the result's date.

"Mg++ 0.6 mmol/L L", "[L] 1.4 mg/dL (ref 1.7-2.4) 2025-03-04", "CRIT 0.3", "eGFR 45 (2025)", "CrCl 25 (CG)".
Each field gives the words it knows (:class:`Words`: its analyte names, its units); flags and filler words are
the lab-export knowledge of ``serum.toml``. Linear-time patterns only (bounded repetitions); never raises.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .dates import DateReading, find_dates, year_alone
from .kb import knowledge, norm

__all__ = ["FLAGS", "LabCell", "Words", "lab_cell", "parse_number", "phrase_key"]

FLAGS = ("low", "high", "critical_low", "critical_high", "critical", "abnormal")
_NUMBER = re.compile(r"([<>]=?|≤|≥)?\s*([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+))(.*)", re.S)  # on stripped text: linear
_MAX_PHRASE = 4  # words in the longest analyte, flag or filler phrase
_ION = re.compile(r"\bmg\s?(?:\(\s?2\s?\+\s?\)|\^?\s?2\s?\+|\+\s?2(?!\d)|\+\+)", re.I)
_BRACKET = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")
_TIME = re.compile(r"(?<![\d:.])\d{1,2}:\d{2}(?::\d{2})?(?:\s{0,2}[ap]\.?m\.?)?(?![\d:])", re.I)
_NUM = r"[+-]?(?:\d{1,6}(?:[.,]\d{1,6})?|[.,]\d{1,6})"
_UNIT_WORD = r"[^\W\d_][^\s()\[\]{},;]{0,19}"
_RANGE = (
    r"(?P<lo>" + _NUM + r")\s{0,3}(?:(?P<lu>" + _UNIT_WORD + r")\s{0,3})?(?:-|–|—|to)\s{0,3}(?P<hi>" + _NUM + r")"
    r"(?:\s{0,3}(?P<hu>" + _UNIT_WORD + r"))?"
)
_RANGE_KEY = (
    r"(?:ref(?:erence)?(?:\s{0,3}(?:range|interval|int|rng|values?))?|rr|nr|ri|normal(?:\s{0,3}range)?|range)"
    r"\.?\s{0,3}[:=]?\s{0,3}"
)
_KEYED_RANGE = re.compile(r"(?<![^\W\d_])" + _RANGE_KEY + _RANGE, re.I)
_BARE_RANGE = re.compile(r"(?<![\w.,])" + _RANGE, re.I)
_WHOLE_RANGE = re.compile(r"\s*(?:" + _RANGE_KEY + r")?" + _RANGE + r"\s*", re.I)
_TOKEN = re.compile(
    r"(?P<num>(?:[<>]=?|≤|≥)?\s{0,3}[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+))|(?P<sym>[*!↓↑]+)|(?P<word>[^\W\d_]+)"
)
_CHUNK = re.compile(r"[*!↓↑]+|[^\s*!↓↑]+")
_EDGES = " ,;:.=#~'\"`"


def parse_number(value: Any) -> tuple[float | None, str, str]:
    """(number, comparator, text after it) of a value; number None when it does not start with a number."""
    if isinstance(value, bool):
        return None, "", ""
    if isinstance(value, int):
        try:
            return float(value), "", ""
        except OverflowError:  # 10**400: a number, and far outside every plausible range
            return math.inf if value > 0 else -math.inf, "", ""
    if isinstance(value, float):
        return (None, "", "") if math.isnan(value) or math.isinf(value) else (value, "", "")
    if not isinstance(value, str):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return None, "", ""
        return (None, "", "") if math.isnan(number) else (number, "", "")
    match = _NUMBER.match(value.strip())
    if not match:
        return None, "", ""
    comparator, digits, rest = match.groups()
    rest = rest.strip()
    if digits.count(",") == 1 and "." not in digits:
        digits = digits.replace(",", ".")  # decimal comma: "1,5 mg/dL"
    elif "," in digits:
        return None, "", ""
    comparator = {"≤": "<=", "≥": ">="}.get(comparator or "", comparator or "")
    number = float(digits)
    return (None, "", "") if math.isinf(number) else (number, comparator, rest)


@dataclass(frozen=True, slots=True)
class Words:
    """What one field's cells may hold besides flags and fillers: analyte phrases (as :func:`phrase_key` gives
    them, each with the mark it gives: "egfr", "crcl", or "" for none), whether a text is one of its units, text in
    brackets it knows and drops (a CKD stage beside an eGFR), and whether "60+" means at least 60."""

    analytes: Mapping[str, str]
    is_unit: Callable[[str], bool]
    aside: Callable[[str], bool] = lambda _text: False
    plus_is_at_least: bool = False


@dataclass(frozen=True, slots=True)
class LabCell:
    """One result cell taken apart. ``unit`` is the unit as written when ``unit_known``; otherwise every word after
    the value that is neither flag, filler nor analyte (empty when there is none)."""

    number: float | None = None
    comparator: str = ""
    unit: str = ""
    unit_known: bool = False
    unknown_before: str = ""  # words before the value that are neither analyte, filler nor flag
    unknown_after: str = ""  # words after the value besides its unit that are neither flag, filler nor analyte
    flag: str | None = None  # one of FLAGS
    date: DateReading | None = None  # the oldest date written in the cell
    lab_range: str | None = None  # a lab range written in the cell, "1.7-2.4 mg/dL"
    marks: frozenset[str] = field(default_factory=frozenset)


@cache
def _flag_words() -> dict[str, str]:
    """Normalised flag word or phrase -> its class ("normal" for words read and dropped)."""
    flags = knowledge().serum["flags"]
    return {phrase_key(w): cls for cls in (*FLAGS, "normal") for w in flags[cls]}


@cache
def _fillers() -> frozenset[str]:
    return frozenset(phrase_key(w) for w in knowledge().serum["cell"]["fillers"])


def phrase_key(text: str) -> str:
    """A word or phrase as compared in a result cell: lower case, hyphens, slashes and other joiners as spaces,
    edges stripped ("Mg++" and "mg" compare equal, "S-Mg" and "s mg")."""
    return norm(text.replace("/", " ").replace("+", " ")).strip(_EDGES)


def _combine(classes: list[str]) -> str | None:
    """One flag for several ("L*" is low, "L!" critical_low)."""
    found = set(classes) - {"normal"}
    low = bool(found & {"low", "critical_low"})
    high = bool(found & {"high", "critical_high"})
    critical = bool(found & {"critical", "critical_low", "critical_high"})
    if low and high:
        return "critical" if critical else "abnormal"
    if low or high:
        return ("critical_" if critical else "") + ("low" if low else "high")
    if critical:
        return "critical"
    return "abnormal" if "abnormal" in found else None


class _Reader:
    """Collects the parts of one cell while its text is taken apart."""

    def __init__(self, words: Words) -> None:
        self.words = words
        self.flags: list[str] = []
        self.marks: set[str] = set()
        self.dates: list[DateReading] = []
        self.ranges: list[str] = []

    def range_text(self, m: re.Match[str]) -> str | None:
        """'lo-hi unit' of a matched range, or None when a word in it is not a unit."""
        is_unit = self.words.is_unit
        if m["lu"] and not is_unit(m["lu"]):
            return None
        unit = m["hu"] if m["hu"] and is_unit(m["hu"]) else ""
        low = f"{m['lo']} {m['lu']}" if m["lu"] else m["lo"]
        return f"{low}-{m['hi']} {unit}".strip()

    def range_end(self, m: re.Match[str]) -> int:
        return m.end() if m["hu"] and self.words.is_unit(m["hu"]) else m.end("hi")

    def known_phrases(self, tokens: list[str]) -> bool:
        """Read every token as a flag, analyte or filler (True), or nothing when one is none of these (False)."""
        flags: list[str] = []
        marks: set[str] = set()
        i = 0
        while i < len(tokens):
            taken = self.phrase(tokens, i, flags, marks)
            if not taken:
                return False
            i += taken
        self.flags += flags
        self.marks |= marks
        return True

    def phrase(
        self, tokens: list[str], i: int, flags: list[str], marks: set[str], end: int | None = None, after: bool = False
    ) -> int:
        """How many tokens from ``i`` (before ``end``) make the longest flag, analyte or filler phrase (0 if none);
        what they say is recorded in ``flags`` and ``marks``. ``after`` the value, only an analyte that marks the
        kind of result is read ("25 CrCl"): "0.8 mg" is no magnesium label there but a unit not understood."""
        flag_words, analytes, fillers = _flag_words(), self.words.analytes, _fillers()
        for j in range(min(len(tokens) if end is None else end, i + _MAX_PHRASE), i, -1):
            text = " ".join(tokens[i:j])
            if text in flag_words:
                flags.append(flag_words[text])
                return j - i
            if text in analytes and (analytes[text] or not after):
                if analytes[text]:
                    marks.add(analytes[text])
                return j - i
            if text in fillers:
                return j - i
        token = tokens[i]
        if token and token[0] in "*!↓↑" and all(ch in flag_words for ch in token):  # "*!": each on its own
            flags.extend(flag_words[ch] for ch in token)
            return 1
        return 0

    def bracket(self, m: re.Match[str]) -> str:
        """A bracketed part: a date, a range, or flags and analyte words are taken out; anything else stays."""
        content = m.group(1)
        if not content.strip(_EDGES):
            return " "
        found = year_alone(content)
        if found is None:
            dates = list(find_dates(content))
            if len(dates) == 1 and not (content[: dates[0][0]] + content[dates[0][1] :]).strip(_EDGES):
                found = dates[0][2]
        if found is not None:
            self.dates.append(found)
            return " "
        whole = _WHOLE_RANGE.fullmatch(content)
        if whole is not None and (not whole["hu"] or self.words.is_unit(whole["hu"])):
            text = self.range_text(whole)
            if text is not None:
                self.ranges.append(text)
                return " "
        if self.known_phrases([phrase_key(t) for t in _CHUNK.findall(content) if phrase_key(t)]):
            return " "
        if self.words.aside(content):
            return " "
        return f" {content} "

    def keyed_range(self, m: re.Match[str]) -> str:
        text = self.range_text(m)
        if text is None:
            return m.group(0)
        self.ranges.append(text)
        return " " + m.string[self.range_end(m) : m.end()]


def lab_cell(text: str, words: Words) -> LabCell:
    """Take one result cell apart (see the module docstring)."""
    number, comparator, rest = parse_number(text)
    if number is not None and (not rest or words.is_unit(rest)):  # "0.84", "<0.3 mmol/L": nothing else in it
        return LabCell(number, comparator, rest, bool(rest))
    reader = _Reader(words)
    t = _ION.sub(" mg ", unicodedata.normalize("NFKC", text))
    for _ in range(3):  # nested brackets, innermost first
        t = _BRACKET.sub(reader.bracket, t)
    parts, last = [], 0
    for start, end, found in find_dates(t):
        reader.dates.append(found)
        parts.append(t[last:start])
        last = end
    t = " ".join((*parts, t[last:]))
    t = _KEYED_RANGE.sub(reader.keyed_range, t)
    t = _TIME.sub(" ", t)
    t = re.sub(r"[()\[\]{}]", " ", t)

    tokens = [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(t)]
    normal = [phrase_key(x) if kind != "num" else x for kind, x, _ in tokens]
    before: list[str] = []
    i, value_at = 0, None
    while i < len(tokens):
        if tokens[i][0] == "num":
            value_at = tokens[i][2]
            break
        taken = reader.phrase(normal, i, reader.flags, reader.marks)
        if not taken:
            before.append(tokens[i][1])
            taken = 1
        i += taken
    if value_at is None:
        return _cell(reader, None, "", ("", False, ""), before)
    number, comparator, rest = parse_number(t[value_at:])
    if number is None:
        return _cell(reader, None, "", ("", False, ""), before)
    if words.plus_is_at_least and rest.startswith("+") and not comparator:
        comparator, rest = ">=", rest[1:].strip()
    bare = _BARE_RANGE.search(rest)
    if bare is not None and (found_range := reader.range_text(bare)) is not None:
        reader.ranges.append(found_range)
        rest = rest[: bare.start()] + " " + rest[reader.range_end(bare) :]
    return _cell(reader, number, comparator, _after_value(reader, rest), before)


def _after_value(reader: _Reader, rest: str) -> tuple[str, bool, str]:
    """(unit text, whether it is a unit, other words not understood) of the text after the value; flags,
    analytes, fillers and a year are recorded and dropped. Without a unit, the words not understood are the unit
    text."""
    chunks = [c.strip(",;:") for c in _CHUNK.findall(rest)]
    chunks = [c for c in chunks if c]
    is_unit = reader.words.is_unit
    unit_at: tuple[int, int] | None = None
    for i in range(len(chunks)):
        for j in range(min(len(chunks), i + _MAX_PHRASE), i, -1):
            if is_unit("".join(chunks[i:j]).rstrip(".")):
                unit_at = (i, j)
                break
        if unit_at is not None:
            break
    kept: list[str] = []
    normal = [phrase_key(c) for c in chunks]
    i = 0
    while i < len(chunks):
        if unit_at is not None and i == unit_at[0]:
            i = unit_at[1]
            continue
        if not normal[i]:
            i += 1
            continue
        stop = unit_at[0] if unit_at is not None and i < unit_at[0] else len(chunks)
        taken = reader.phrase(normal, i, reader.flags, reader.marks, stop, after=True)
        if not taken and (year := year_alone(chunks[i])) is not None:
            reader.dates.append(year)
            taken = 1
        if not taken:
            kept.append(chunks[i])
            taken = 1
        i += taken
    if unit_at is None:
        return " ".join(kept), False, ""
    return " ".join(chunks[unit_at[0] : unit_at[1]]).rstrip("."), True, " ".join(kept)


def _cell(
    reader: _Reader, number: float | None, comparator: str, after: tuple[str, bool, str], before: list[str]
) -> LabCell:
    dates = sorted(reader.dates, key=lambda d: d.value)
    return LabCell(
        number=number,
        comparator=comparator,
        unit=after[0],
        unit_known=after[1],
        unknown_before=" ".join(before),
        unknown_after=after[2],
        flag=_combine(reader.flags),
        date=dates[0] if dates else None,
        lab_range=reader.ranges[0] if reader.ranges else None,
        marks=frozenset(reader.marks),
    )
