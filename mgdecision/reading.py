"""Read one messy patient row into a :class:`Patient`, collecting every problem instead of raising.

Rules (clinical-rules.md section 1): header variants and units in headers are understood; a serum
number with no unit anywhere is never used (``unit_missing``), whatever its size; implausible values
are reported and not used; every unreadable value becomes a :class:`Problem` with a stable code.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .dates import DateReading, find_dates, read_date
from .kb import Field, knowledge, norm
from .kidney import KidneyStage, creatinine_mg_dl, creatinine_unit, kidney_stage
from .lab_cells import LabCell, Words, lab_cell, parse_number, phrase_key
from .models import Problem
from .terms import EMPTY, TermList, parse_items, parse_list
from .units import salt_form
from .vocab import ProblemCode

__all__ = [
    "HeaderMap",
    "Patient",
    "Serum",
    "convert_serum",
    "map_headers",
    "patient_id",
    "read_row",
    "read_values",
]

_RANGE = re.compile(r"(.*?\d)\s*(?:-|–|—|to)\s*([.,]?\d.*)", re.S)
_BRACKETED = re.compile(r"[(\[{]([^)\]}]*)[)\]}]")
_TRAILING_YEAR = re.compile(r"[(\[]?\s{0,3}((?:19|20)\d{2})\s{0,3}[)\]]?\s{0,3}$")
_HEADER_UNITS = re.compile(r"(mmol/l|mg/dl|meq/l|mg%|months|month|mo|years|yrs|y|weeks|wk|days)\s*$", re.I)
_YES = frozenset(
    {"yes", "y", "true", "t", "1", "x", "✓", "✔", "☑", "pregnant", "lactating", "breastfeeding", "on dialysis", "ja"}
)
_NOT_NOW = frozenset({"no", "not", "pre", "planned", "plan", "future", "declined", "never", "stopped", "ceased", "off"})
_NO = frozenset({"no", "n", "false", "f", "0", "not pregnant", "none", "nein"})
_UNKNOWN = frozenset({"unknown", "unk", "?", "n/a", "na", "not known", "not applicable", "-", "--", "nk"})
_FEMALE = frozenset({"f", "female", "woman", "w", "fem", "girl"})
_MALE = frozenset({"m", "male", "man", "boy"})
_ROUTES = {
    "oral": "oral",
    "po": "oral",
    "by mouth": "oral",
    "per os": "oral",
    "enteral": "oral",
    "iv": "iv",
    "intravenous": "iv",
    "i.v.": "iv",
    "i.v": "iv",
    "ivi": "iv",
    "iv infusion": "iv",
    "intravenous infusion": "iv",
    "infusion": "iv",
    "iv bolus": "iv",
    "im": "iv",
    "intramuscular": "iv",
    "parenteral": "iv",
}
_AGE_UNITS = {
    "": 1.0,
    "y": 1.0,
    "yr": 1.0,
    "yrs": 1.0,
    "year": 1.0,
    "years": 1.0,
    "yo": 1.0,
    "y/o": 1.0,
    "years old": 1.0,
    "mo": 1 / 12,
    "mos": 1 / 12,
    "mth": 1 / 12,
    "mths": 1 / 12,
    "month": 1 / 12,
    "months": 1 / 12,
    "wk": 7 / 365.25,
    "wks": 7 / 365.25,
    "week": 7 / 365.25,
    "weeks": 7 / 365.25,
    "d": 1 / 365.25,
    "day": 1 / 365.25,
    "days": 1 / 365.25,
}
_DOSE_UNITS = {
    "": 1.0,
    "mg": 1.0,
    "mg/day": 1.0,
    "mg/d": 1.0,
    "mg daily": 1.0,
    "mg per day": 1.0,
    "g": 1000.0,
    "g/day": 1000.0,
    "mmol": 24.305,
    "mmol/day": 24.305,
}
_EXCEL_EPOCH = date(1899, 12, 30)
_AGE_SEX = {"m": "M", "f": "F"}  # "45M", "70 f": age and sex in one cell
_AGE_SEX_FROM = 40  # below this "24m" may be months: not read


def normal_cell(value: Any) -> Any:
    """A cell as plain Python: numpy scalars as their Python value, every kind of missing value as None.

    ``pd.NA``, ``pd.NaT``, nullable-dtype nulls and NaN are empty; ``np.True_`` is a boolean, never 1; a Decimal
    that is no number (NaN, sNaN, Infinity) is its text, read (and reported) as any other text.
    """
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None or kind is bool:
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if kind is Decimal and not value.is_finite():
        return str(value)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        return None if value is pd.NaT else value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    try:  # values unequal to themselves (NaN of another type)
        return bool(value != value)
    except Exception:  # a comparison that raises (a signalling NaN, a foreign object): a value, not empty
        return False


SHOWN_CHARS = 200  # the most of a value that is not text shown in a message


def patient_id(value: Any) -> str | None:
    """A patient id cell as a row echoes it (None when empty)."""
    value = normal_cell(value)
    if value is None or (isinstance(value, float) and value != value) or _is_empty(value):
        return None
    return shown_text(value)


def shown_text(value: Any) -> str:
    """A value as read and shown in a message: text as written; an integer too long to print is described, never
    printed; any other value by its text, at most :data:`SHOWN_CHARS` of it, or described when it has none."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and abs(value) >= 10**30:  # never printed whole (beyond 4300 digits it cannot be)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = str(value).strip()
    except Exception:  # an object whose text raises: described, never allowed to stop the reading
        return f"(a {type(value).__name__} value that cannot be shown as text)"
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class Serum:
    """A usable serum magnesium value in the unit reported, with the lab range if given (same unit)."""

    value: float
    unit: str
    mmol: float
    ref_low: float | None = None
    ref_high: float | None = None
    comparator: str = ""

    def display(self) -> str:
        return f"{self.comparator}{self.value:g} {self.unit}"


@dataclass(slots=True)
class Patient:
    """One row as read: usable values only (``None`` = not given or not usable), plus its problems."""

    patient_id: str | None = None
    age: float | None = None
    age_note: str = ""
    sex: str | None = None
    pregnant: bool | None = None
    lactating: bool | None = None
    serum: Serum | None = None
    serum_given: bool = False  # a serum value was on the row (usable or not)
    egfr: float | None = None
    dialysis: bool | None = None
    diagnoses: TermList = EMPTY["diagnoses"]
    medications: TermList = EMPTY["medications"]
    symptoms: TermList = EMPTY["symptoms"]
    route: str = "oral"
    supplement_form: str | None = None
    supplement_dose_mg: float | None = None
    problems: list[Problem] = field(default_factory=list)
    # Lab and record exports (clinical-rules.md 9.8): facts only; the engine decides what they change.
    serum_flag: str | None = None  # the lab's flag beside the serum value (lab_cells.FLAGS), even if unusable
    serum_date: date | None = None  # the serum result's date (in the cell or its date column)
    egfr_date: date | None = None
    egfr_kind: str | None = None  # "egfr" or "crcl" when the cell says which ("CrCl 25 (CG)"), else None
    kidney_stage: str | None = None  # "G1".."G5", "G3a", "G3b" when the eGFR column holds a stage, not a number
    kidney_stage_dialysis: bool = False  # the stage was written with a D ("G5D")
    creatinine_mg_dl: float | None = None  # serum creatinine in mg/dL (umol/L / 88.4)
    creatinine_date: date | None = None
    reference_date: date | None = None  # the assessment date column (the engine defaults it to the run date)
    run_date: date | None = None  # the date the row is assessed on (``as_of``, else today)


# ---------------------------------------------------------------- numbers and units


def _censor(number: float, comparator: str) -> float:
    """'<0.3' lies just below 0.3 and '>90' just above 90, so thresholds compare correctly."""
    if comparator == "<":
        return math.nextafter(number, -math.inf)
    if comparator == ">":
        return math.nextafter(number, math.inf)
    return number


def serum_unit(text: str) -> str | None:
    """Canonical serum unit for a spelling ("mmol/l", "mg/dL", "mEq/L" ...), or None."""
    return knowledge().unit_spellings.get(text.lower().replace(" ", "").replace("liter", "l").replace("litre", "l"))


def convert_serum(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a serum magnesium value between mg/dL, mmol/L and mEq/L (1 mmol/L = 2.4305 mg/dL = 2 mEq/L)."""
    units = knowledge().serum["units"]
    source, target = serum_unit(from_unit), serum_unit(to_unit)
    if source is None or target is None:
        raise ValueError(f"unknown serum magnesium unit: {from_unit if source is None else to_unit!r}")
    return float(value) * units[source]["to_mmol"] / units[target]["to_mmol"]


# ---------------------------------------------------------------- headers


_LIST_KINDS = ("drugs", "conditions")  # the list fields whose absence leaves checks undone on every row


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Which input column feeds which field, the unit a header carries, and what was ignored."""

    fields: Mapping[str, Any]  # field name -> original column key
    units: Mapping[str, str]  # field name -> unit text found in its header
    ignored: tuple[Any, ...]
    duplicates: tuple[tuple[Any, str], ...]
    near_misses: Mapping[Any, str]  # ignored column -> field it is probably a misspelling of

    @property
    def missing_lists(self) -> tuple[str, ...]:
        """The list fields (medications, diagnoses) that no column gives: what they are checked for (interactions,
        contraindications from conditions) could not be checked on any row."""
        return tuple(f.name for f in knowledge().fields if f.kind in _LIST_KINDS and f.name not in self.fields)

    def notes(self) -> tuple[tuple[Any, str], ...]:
        """(column, probable field or message) of every column that is not used but is reported on each row:
        a misspelt field, and a second column for a field already given (only the first is read)."""
        seconds = tuple(
            (col, f"column '{col}' not used: an earlier column already gives {name}; only the first is read")
            for col, name in self.duplicates
        )
        return (*self.near_misses.items(), *seconds)

    def describe(self) -> str:
        lines = [
            f"  {col!s} -> {name}" + (f" ({self.units[name]})" if name in self.units else "")
            for name, col in self.fields.items()
        ]
        if self.ignored:
            lines.append("  ignored: " + ", ".join(str(c) for c in self.ignored))
        return "\n".join(lines)


@lru_cache(maxsize=4096)
def _header_field(header: str) -> tuple[str | None, str, str | None]:
    """(field name or None, unit text from the header, probable field if misspelt)."""
    text, unit, base = _header_parts(header)
    aliases = _alias_index()
    if base in aliases:
        return _by_unit(aliases[base], unit), unit, None
    trailing = _HEADER_UNITS.search(text.strip())
    if trailing and not unit:
        stem = re.sub(r"[^0-9a-z]+", " ", text[: trailing.start()].lower()).strip()
        if stem in aliases:
            return _by_unit(aliases[stem], trailing.group(1)), trailing.group(1), None
    close = _close_aliases(base) if len(base) >= 4 else []
    if not close:  # "Serum Mg repeat (mg/dL)": holds a field's name of two or more words
        padded = f" {base} "
        close = [a for a in _contained_aliases() if f" {a} " in padded]
    return None, unit, aliases[close[0]] if close else None


def _header_parts(header: str) -> tuple[str, str, str]:
    """(header without its bracketed part, the bracketed unit, the header as aliases are compared)."""
    text = header.strip()
    unit = ""
    bracket = _BRACKETED.search(text)
    if bracket:
        unit = bracket.group(1).strip()
        text = _BRACKETED.sub(" ", text)
    return text, unit, re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


@lru_cache(maxsize=4096)
def _shared_options(header: str) -> tuple[str, ...]:
    """The fields a generic header can mean ("Result date": the date of whichever result the sheet holds)."""
    return _shared_aliases().get(_header_parts(header)[2], ())


@cache
def _shared_aliases() -> dict[str, tuple[str, ...]]:
    """Aliases listed under more than one field, with those fields in their order."""
    found: dict[str, list[str]] = {}
    for f in knowledge().fields:
        for alias in dict.fromkeys(re.sub(r"[^0-9a-z]+", " ", a.lower()).strip() for a in f.aliases):
            found.setdefault(alias, []).append(f.name)
    return {alias: tuple(names) for alias, names in found.items() if len(names) > 1}


_CONTAINED = ("serum_mg", "egfr", "dialysis", "supplement_dose_mg", "medications", "diagnoses")


@cache
def _contained_aliases() -> tuple[str, ...]:
    """Aliases of two or more words of the fields a column must not be dropped for silently, longest first."""
    aliases = _alias_index()
    found = [a for a, name in aliases.items() if " " in a and name in _CONTAINED]
    return tuple(sorted(found, key=len, reverse=True))


def _by_unit(name: str, unit: str) -> str:
    """The field a header names, its unit deciding where it could mean two ("Magnesium supplement (mg/day)")."""
    redirect = _fields()[name].dose_header
    if redirect and unit and unit.lower().strip().rstrip(".") in _DOSE_UNITS:
        return redirect
    return name


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.85 and a != b


_SLOTS = {c: k for k, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789 ")}


def _letter_counts(text: str) -> np.ndarray:
    counts = np.zeros(len(_SLOTS) + 1, dtype=np.intp)
    for c in text:
        counts[_SLOTS.get(c, len(_SLOTS))] += 1
    return counts


@cache
def _alias_letters() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    aliases = tuple(_alias_index())
    return aliases, np.array([_letter_counts(a) for a in aliases]), np.array([len(a) for a in aliases])


def _close_aliases(base: str) -> list[str]:
    """The aliases :func:`_similar` to ``base``, in order; it is asked only where the letters the two share allow
    a ratio of 0.85 (a ratio counts matching letters, so it is at most twice the shared letters over both lengths:
    a header of any length or number of columns costs one array operation)."""
    aliases, letters, lengths = _alias_letters()
    shared = np.minimum(letters, _letter_counts(base)).sum(axis=1)
    possible = np.flatnonzero(2.0 * shared / (lengths + len(base)) >= 0.85)
    return [aliases[k] for k in possible.tolist() if _similar(base, aliases[k])]


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for f in knowledge().fields:
        label = _BRACKETED.sub(" ", f.label)  # the template's own header text maps back to its field
        for alias in (f.name, *f.aliases, label):
            index.setdefault(re.sub(r"[^0-9a-z]+", " ", alias.lower()).strip(), f.name)
    return index


def map_headers(headers: Iterable[Any], overrides: Mapping[str, str] | None = None) -> HeaderMap:
    """Map column headers to fields. ``overrides`` maps a header (as written) to a field name."""
    valid = {f.name for f in knowledge().fields}
    overrides = dict(overrides or {})
    bad = [v for v in overrides.values() if v not in valid]
    if bad:
        from .errors import UsageError

        raise UsageError(f"unknown field(s) in column map: {bad}; fields are {sorted(valid)}")
    fields: dict[str, Any] = {}
    units: dict[str, str] = {}
    ignored: list[Any] = []
    duplicates: list[tuple[Any, str]] = []
    near: dict[Any, str] = {}
    generic: list[tuple[Any, tuple[str, ...], str]] = []
    for col in headers:
        label = "" if col is None else str(col)
        name, unit, probable = _header_field(label)
        if label in overrides:
            name = overrides[label]
        elif name is not None and (options := _shared_options(label)):
            generic.append((col, options, unit))
            continue
        if name is None:
            ignored.append(col)
            if probable:
                near[col] = probable
        elif name in fields:
            duplicates.append((col, name))
            ignored.append(col)
        else:
            fields[name] = col
            if unit:
                units[name] = unit
    for col, options, unit in generic:  # "Result date": the date of the one result the sheet holds
        fitting = [name for name in options if name.removesuffix("_date") in fields]
        if len(fitting) == 1 and fitting[0] not in fields:
            fields[fitting[0]] = col
            if unit:
                units[fitting[0]] = unit
        else:
            ignored.append(col)
            if len(fitting) == 1:
                duplicates.append((col, fitting[0]))
            else:  # several results, or none: which one it dates is not known
                near[col] = (fitting or options)[0]
    return HeaderMap(fields, units, tuple(ignored), tuple(duplicates), near)


# ---------------------------------------------------------------- field readers (cached on the raw value and its type)


def _p(field_name: str, value: Any, code: str, message: str) -> Problem:
    return Problem(field_name, shown_text(value), code, message)


def _in_range(
    field_name: str, value: Any, number: float, comparator: str, lo: float | None, hi: float | None, shown: str = ""
) -> tuple[float | None, tuple[Problem, ...]]:
    """A number within its plausible range, censored ("<15" just below 15), else None; ``shown`` follows the
    number in messages (its unit)."""
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        return None, (
            _p(
                field_name,
                value,
                ProblemCode.IMPLAUSIBLE,
                f"{number:g}{shown} is outside the plausible range {lo:g}-{hi:g}; not used",
            ),
        )
    if not comparator:
        return number, ()
    side = "below" if "<" in comparator else "above"
    message = f"'{shown_text(value)}' read as just {side} {number:g}{shown}"
    return _censor(number, comparator), (_p(field_name, value, ProblemCode.CENSORED, message),)


class EgfrReading(NamedTuple):
    """An eGFR cell as read: the value, or the CKD stage written instead, with its kind and date."""

    egfr: float | None
    problems: tuple[Problem, ...]
    kind: str | None = None  # "egfr" or "crcl" when the cell says which
    stage: KidneyStage | None = None
    date: DateReading | None = None


@lru_cache(maxsize=65536, typed=True)
def _read_egfr(value: Any) -> EgfrReading:
    """An eGFR cell: "45", "eGFR 45 (2025)", "45*", "CrCl 25 (CG)", ">60", "45 mL/min/1.73m2", or a CKD stage
    written instead ("G3b", "CKD 4", "G5D")."""
    f = _fields()["egfr"]
    not_a_number = (_p("egfr", value, ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a number"),)
    if not isinstance(value, str):
        number, _comparator, _rest = parse_number(value)
        if number is None:
            return EgfrReading(None, not_a_number)
        return EgfrReading(*_in_range("egfr", value, number, "", f.min, f.max))
    stage, when = _stage_cell(value)
    if stage is not None:
        return EgfrReading(None, (), stage=stage, date=when)
    cell = lab_cell(value, _egfr_words())
    kind = next(iter(cell.marks)) if len(cell.marks) == 1 else None
    if cell.number is None:
        return EgfrReading(None, not_a_number, kind, date=cell.date)
    problem = _unread_words("egfr", value, cell)
    if problem is None and cell.unit and not cell.unit_known:
        problem = _p("egfr", value, ProblemCode.UNIT_UNKNOWN, f"unit '{cell.unit}' not understood")
    if problem is not None:
        return EgfrReading(None, (problem,), kind, date=cell.date)
    return EgfrReading(*_in_range("egfr", value, cell.number, cell.comparator, f.min, f.max), kind, date=cell.date)


def _stage_cell(text: str) -> tuple[KidneyStage | None, DateReading | None]:
    """A CKD stage written in an eGFR cell, with a date beside it ("G3b", "CKD 4 (2024)"), or (None, None)."""
    stage = kidney_stage(text)
    if stage is not None:
        return stage, None
    dates, kept, last = [], [], 0
    for start, end, found in find_dates(text):
        dates.append(found)
        kept.append(text[last:start])
        last = end
    rest = " ".join((*kept, text[last:]))
    year = _TRAILING_YEAR.search(rest)
    if year is not None and year.start() > 0:
        dates.append(DateReading(date(int(year.group(1)), 1, 1)))
        rest = rest[: year.start()]
    stage = kidney_stage(rest.strip(" ,;:()[]")) if dates else None
    return (stage, min(dates, key=lambda d: d.value)) if stage is not None else (None, None)


def _unread_words(field_name: str, value: Any, cell: LabCell) -> Problem | None:
    """The problem for words beside a value that name no analyte, flag or filler: before it, another result may
    have been written in the column ("Ca 2.3", "iMg 0.5"); after its unit, a comment may change what it means
    ("hemolysed"). The value is not used."""
    if cell.unknown_before:
        where, words = "before the value", cell.unknown_before
        hint = " (another result?)"
    elif cell.unknown_after:
        where, words, hint = "after the value", cell.unknown_after, ""
    else:
        return None
    return _p(field_name, value, ProblemCode.UNRECOGNIZED, f"'{words}' {where} not understood{hint}; value not used")


@lru_cache(maxsize=4096, typed=True)
def _read_age(value: Any, header_unit: str) -> tuple[float | None, tuple[Problem, ...], str | None]:
    """(years, problems, sex written with the age: "45M" is 45 years and male; months need "mo")."""
    number, comparator, rest = parse_number(value)
    if number is None:
        return None, (_p("age", value, ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not an age"),), None
    unit_text = (rest or header_unit).lower().strip().rstrip(".")
    sex = _AGE_SEX.get(rest.lower().strip().rstrip("."))
    if sex is not None:
        if number < _AGE_SEX_FROM and sex == "M" and not comparator:
            message = f"'{shown_text(value)}' could be {number:g} months or {number:g} years and male; not used"
            message += ": write mo for months"
            return None, (_p("age", value, ProblemCode.AMBIGUOUS, message),), None
        unit_text = header_unit.lower().strip().rstrip(".")
    factor = _AGE_UNITS.get(unit_text)
    if factor is None:
        return None, (_p("age", value, ProblemCode.UNIT_UNKNOWN, f"age unit '{unit_text}' not understood"),), None
    years = number * factor
    if comparator or not 0 <= years <= 120:
        return (
            None,
            (_p("age", value, ProblemCode.IMPLAUSIBLE, f"age '{shown_text(value)}' is outside 0-120 years; not used"),),
            None,
        )
    return years, (), sex


def _names_yes(field_name: str, text: str) -> bool:
    """A cell such as "Yes - HD", "HD MWF", "?PD" or "haemodialysis 3x/week" in a column whose words mean yes:
    one of its words is such a word, and none says it is not current ("pre-dialysis", "HD planned")."""
    yes = _fields()[field_name].yes
    if not yes:
        return False
    words = re.sub(r"[^\w/]+", " ", norm(text).replace("?", " ")).split()
    if not words or _NOT_NOW.intersection(words):
        return False
    padded = f" {' '.join(words)} "
    return words[0] in _YES or any(f" {w} " in padded for w in yes)


@lru_cache(maxsize=1024, typed=True)
def _read_choice(field_name: str, kind: str, value: Any) -> tuple[Any, tuple[Problem, ...]]:
    text = shown_text(value).lower().strip(" .")
    if kind == "yesno":
        if isinstance(value, bool):
            return value, ()
        if text in _YES or norm(text) in _fields()[field_name].yes or _names_yes(field_name, text):
            return True, ()
        if text in _NO:
            return False, ()
        allowed = "yes/no, y/n, true/false, 1/0 or x"
    elif kind == "sex":
        if text in _FEMALE:
            return "F", ()
        if text in _MALE:
            return "M", ()
        allowed = "F or M"
    else:  # route
        if text in _ROUTES:
            return _ROUTES[text], ()
        allowed = "oral or iv"
    if text in _UNKNOWN:
        return None, ()
    return None, (
        _p(field_name, value, ProblemCode.INVALID_CHOICE, f"'{shown_text(value)}' not understood; use {allowed}"),
    )


def _read_date(field_name: str, value: Any) -> tuple[date | None, tuple[Problem, ...]]:
    if isinstance(value, datetime):
        return value.date(), ()
    if isinstance(value, date):
        return value, ()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        return _EXCEL_EPOCH + timedelta(days=int(value)), ()  # Excel serial number
    to_pydatetime = getattr(value, "to_pydatetime", None)
    if to_pydatetime is not None:
        return to_pydatetime().date(), ()
    text = shown_text(value)
    try:
        return date.fromisoformat(text[:10]), ()
    except ValueError:
        return None, (
            _p(field_name, value, ProblemCode.INVALID_DATE, f"'{text}' is not a date; write it as YYYY-MM-DD"),
        )


class SerumReading(NamedTuple):
    """A serum cell as read: the usable value (None if not), the lab's flag, the date and lab range written in it."""

    serum: Serum | None
    problems: tuple[Problem, ...]
    flag: str | None = None
    date: DateReading | None = None
    lab_range: str | None = None


@lru_cache(maxsize=65536, typed=True)
def _read_serum(value: Any, unit_cell: str, header_unit: str) -> SerumReading:
    """A serum magnesium cell ("0.62 mmol/L", "Mg++ 0.6 mmol/L L", "1.4 mg/dL (ref 1.7-2.4)", "critical 0.3")
    with the unit column and the header's unit. A number with no unit anywhere is never used, whatever stands
    before it; the flag is kept even then."""
    kb = knowledge()
    if isinstance(value, str):
        cell = lab_cell(value, _serum_words())
    else:
        number, comparator, rest = parse_number(value)
        cell = LabCell(number, comparator, rest)
    number, comparator, rest = cell.number, cell.comparator, cell.unit
    flag = None if cell.unknown_before else cell.flag

    def unusable(code: str, message: str) -> SerumReading:
        return SerumReading(None, (_p("serum_mg", value, code, message),), flag, cell.date)

    if number is None:
        return unusable(ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a serum magnesium value")
    candidates = [(text, serum_unit(text)) for text in (rest, unit_cell, header_unit) if text]
    for text, unit in candidates:
        if unit is None:
            return unusable(
                ProblemCode.UNIT_UNKNOWN, f"unit '{text}' not understood; use mmol/L, mg/dL or mEq/L; value not used"
            )
    units = {unit for _, unit in candidates if unit is not None}
    if not units:
        return unusable(
            ProblemCode.UNIT_MISSING,
            f"{number:g} has no unit (cell, unit column or header); value not used: "
            "0.8 mmol/L is normal, 0.8 mg/dL is life-threatening",
        )
    if len(units) > 1:
        return unusable(ProblemCode.CONFLICT, f"units disagree ({', '.join(t for t, _ in candidates)}); value not used")
    if (problem := _unread_words("serum_mg", value, cell)) is not None:
        return SerumReading(None, (problem,), flag, cell.date)
    canonical = units.pop()
    mmol = number * kb.serum["units"][canonical]["to_mmol"]
    plausible = kb.serum["plausible"]
    if not plausible["min_mmol"] <= mmol <= plausible["max_mmol"]:
        return unusable(
            ProblemCode.IMPLAUSIBLE,
            f"{number:g} {canonical} is outside the plausible range "
            f"{plausible['min_mmol']:g}-{plausible['max_mmol']:g} mmol/L; value not used",
        )
    problems: tuple[Problem, ...] = ()
    if comparator:
        problems = (
            _p(
                "serum_mg",
                value,
                ProblemCode.CENSORED,
                f"'{shown_text(value)}' read as just {'below' if '<' in comparator else 'above'} "
                f"{number:g} {canonical}",
            ),
        )
    serum = Serum(_censor(number, comparator), canonical, mmol, comparator=comparator.rstrip("="))
    return SerumReading(serum, problems, flag, cell.date, cell.lab_range)


class CreatinineReading(NamedTuple):
    """A creatinine cell as read: the value in mg/dL (None if not usable) and the date written in it."""

    mg_dl: float | None
    problems: tuple[Problem, ...]
    date: DateReading | None = None


@lru_cache(maxsize=65536, typed=True)
def _read_creatinine(value: Any, header_unit: str) -> CreatinineReading:
    """A creatinine cell ("Creatinine 1.2 mg/dL", "106 umol/L", "SCr 0.9 (H) 2025-03-04"): mg/dL or umol/L (/88.4),
    the unit from the cell or the header; a number with no unit is never used."""
    f = _fields()["creatinine"]
    if isinstance(value, str):
        cell = lab_cell(value, _creatinine_words())
    else:
        number, comparator, rest = parse_number(value)
        cell = LabCell(number, comparator, rest)

    def unusable(code: str, message: str) -> CreatinineReading:
        return CreatinineReading(None, (_p("creatinine", value, code, message),), cell.date)

    if cell.number is None:
        return unusable(ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a creatinine value")
    candidates = [(text, creatinine_unit(text)) for text in (cell.unit, header_unit) if text]
    for text, unit in candidates:
        if unit is None:
            return unusable(ProblemCode.UNIT_UNKNOWN, f"unit '{text}' not understood; use mg/dL or umol/L; not used")
    units = {unit for _, unit in candidates if unit is not None}
    if not units:
        return unusable(
            ProblemCode.UNIT_MISSING,
            f"{cell.number:g} has no unit (cell or header); not used: creatinine 1.2 mg/dL is 106 umol/L",
        )
    if len(units) > 1:
        return unusable(ProblemCode.CONFLICT, f"units disagree ({', '.join(t for t, _ in candidates)}); not used")
    if (problem := _unread_words("creatinine", value, cell)) is not None:
        return CreatinineReading(None, (problem,), cell.date)
    mg_dl = creatinine_mg_dl(cell.number, units.pop())
    found, problems = _in_range("creatinine", value, mg_dl, cell.comparator, f.min, f.max, " mg/dL")
    return CreatinineReading(found, problems, cell.date)


@cache
def _serum_words() -> Words:
    cell = knowledge().serum["cell"]
    return Words({phrase_key(w): "" for w in cell["analyte"]}, lambda text: serum_unit(text) is not None)


@cache
def _creatinine_words() -> Words:
    analytes = knowledge().kidney["creatinine"]["analyte"]
    return Words({phrase_key(w): "" for w in analytes}, lambda text: creatinine_unit(text) is not None)


@cache
def _egfr_words() -> Words:
    words = knowledge().kidney["egfr"]
    units = frozenset(_egfr_unit_key(u) for u in words["units"])
    return Words(
        {phrase_key(w): kind for kind in ("egfr", "crcl") for w in words[kind]},
        lambda text: _egfr_unit_key(text) in units,
        aside=lambda text: kidney_stage(text) is not None,
        plus_is_at_least=True,
    )


def _egfr_unit_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "").replace("^", "")


def _read_result_date(field_name: str, value: Any) -> tuple[DateReading | None, tuple[Problem, ...]]:
    """A date column (a result's date, the assessment date): see :func:`mgdecision.dates.read_date`."""
    found = read_date(value)
    if found is None:
        text = shown_text(value)
        return None, (
            _p(field_name, value, ProblemCode.INVALID_DATE, f"'{text}' is not a date; write it as YYYY-MM-DD"),
        )
    return found, _ambiguity(field_name, value, found)


def _ambiguity(field_name: str, value: Any, found: DateReading | None) -> tuple[Problem, ...]:
    """The problem for a date whose day and month read both ways (none for any other)."""
    if found is None or found.later is None:
        return ()
    used, other = found.value.isoformat(), found.later.isoformat()
    message = f"day and month read both ways ({used} or {other}); the older, {used}, is used: write YYYY-MM-DD"
    return (_p(field_name, value, ProblemCode.DATE_AMBIGUOUS, message),)


def _plausible_limit(
    field_name: str, value: Any, limit: tuple[float, str] | None, unit: str, problems: list[Problem]
) -> float | None:
    """A lab limit (number, unit written) within its plausible band in that unit, converted to the serum's unit;
    else None with a problem (that limit's default applies)."""
    if limit is None:
        return None
    number, own = limit[0], limit[1] or unit
    side = "low" if field_name == "ref_low" else "high"
    lo, hi = knowledge().serum["lab_range"][side][own]
    if lo <= number <= hi:
        return _in_unit(limit, unit)
    problems.append(
        _p(
            field_name,
            value,
            ProblemCode.IMPLAUSIBLE,
            f"lab range {side} {number:g} {own} is outside {lo:g}-{hi:g} {own}; the default limit is used",
        )
    )
    return None


def _in_unit(limit: tuple[float, str] | None, unit: str) -> float | None:
    """A lab limit (number, unit written with it or "") in the serum's unit."""
    if limit is None:
        return None
    return convert_serum(limit[0], limit[1], unit) if limit[1] else limit[0]


def _read_limit(field_name: str, value: Any, unit: str) -> tuple[tuple[float, str] | None, tuple[Problem, ...]]:
    """(number, the unit written with it or "" for the serum's) of a lab limit."""
    number, _comparator, rest = parse_number(value)
    if number is None:
        return None, (_p(field_name, value, ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a number"),)
    if rest:
        own = serum_unit(rest)
        if own is None:
            return None, (_p(field_name, value, ProblemCode.UNIT_UNKNOWN, f"unit '{rest}' not understood"),)
        return (number, own), ()
    return (number, ""), ()


@lru_cache(maxsize=1024, typed=True)
def _read_salt(value: Any) -> tuple[str | None, tuple[Problem, ...]]:
    form = salt_form(shown_text(value))
    if form is not None:
        return form, ()
    return None, (
        _p(
            "supplement_form",
            value,
            ProblemCode.UNRECOGNIZED,
            f"supplement form '{shown_text(value)}' not recognised (e.g. glycinate, citrate, oxide)",
        ),
    )


@lru_cache(maxsize=4096, typed=True)
def _read_dose(
    field_name: str, value: Any, limit: float, header_unit: str = ""
) -> tuple[float | None, tuple[Problem, ...]]:
    number, comparator, rest = parse_number(value)
    factor = _DOSE_UNITS.get((rest or header_unit).lower().strip()) if number is not None else None
    if number is None or factor is None or comparator:
        return None, (_p(field_name, value, ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a dose in mg"),)
    mg = number * factor
    if not 0 <= mg <= limit:
        return None, (
            _p(field_name, value, ProblemCode.IMPLAUSIBLE, f"dose {mg:g} mg is outside 0-{limit:g} mg; not used"),
        )
    return mg, ()


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return None
    return value


# ---------------------------------------------------------------- the row


def read_row(
    row: Mapping[Any, Any],
    *,
    header_map: HeaderMap | None = None,
    as_of: date | None = None,
) -> Patient:
    """Read one row given as a mapping of column name (any header variant) to cell value."""
    if header_map is None:
        header_map = _headers_of(tuple(row.keys()))
    if header_map.duplicates:  # a second column for a field fills the first's blank
        labels = list(row.keys())
        return _read_cells(header_map, labels, [row[label] for label in labels], as_of)
    values = {name: row[col] for name, col in header_map.fields.items()}
    patient = read_fields(values, header_map.units, as_of)
    for col, probable in header_map.near_misses.items():
        if (note := near_miss_problem(col, probable, row[col])) is not None:
            patient.problems.append(note)
    return patient


def _read_cells(header_map: HeaderMap, labels: Sequence[Any], values: Sequence[Any], as_of: date | None) -> Patient:
    """One row given by its labels (which may repeat) and cells, read through :func:`gather_columns`."""
    cells, notes = gather_columns(header_map, labels, lambda k: [values[k]])
    patient = read_fields({name: column[0] for name, column in cells.items()}, header_map.units, as_of)
    for col, probable, column in notes:
        if (note := near_miss_problem(col, probable, column[0])) is not None:
            patient.problems.append(note)
    return patient


def _with_unit(value: Any, unit: str) -> Any:
    """A bare number from a column whose header gives its unit, as text with that unit ("0.4 mmol/L")."""
    number, _comparator, rest = parse_number(normal_cell(value))
    return f"{shown_text(value)} {unit}" if number is not None and not rest else value


def gather_columns(
    header_map: HeaderMap, labels: Sequence[Any], column: Callable[[int], list[Any]]
) -> tuple[dict[str, list[Any]], list[tuple[Any, str, list[Any]]]]:
    """The cells of each field, and (column, note, cells) of each column reported on the rows, for a table
    given by its header labels and a function returning the cells of the column at a position.

    Columns are taken by position, so a repeated header never raises. A second column for a field whose header
    gives the same unit fills the first's blank cells; where both hold different values, and wherever a second
    column with another unit holds one, it is reported on the row (:meth:`HeaderMap.notes`)."""
    taken: set[int] = set()

    def cells(label: Any) -> list[Any]:
        position = next(k for k, c in enumerate(labels) if c == label and k not in taken)
        taken.add(position)
        return column(position)

    mapped = {name: cells(col) for name, col in header_map.fields.items()}
    notes = [(col, note, [normal_cell(v) for v in cells(col)]) for col, note in header_map.near_misses.items()]
    for (col, name), (_, note) in zip(
        header_map.duplicates, header_map.notes()[len(header_map.near_misses) :], strict=True
    ):
        second = cells(col)
        unit = _header_field("" if col is None else str(col))[1]
        own = header_map.units.get(name, "")
        if own and unit.lower() != own.lower():  # another unit than the first column's: reported, never mixed
            notes.append((col, note, [normal_cell(v) for v in second]))
            continue
        first = mapped[name] = list(mapped[name])
        reported: list[Any] = []
        for i, (a, b) in enumerate(zip(first, second, strict=True)):
            a_empty, b_empty = _is_empty(normal_cell(a)), _is_empty(normal_cell(b))
            if a_empty and not b_empty:
                first[i] = _with_unit(b, unit) if unit and not own else b
            reported.append(normal_cell(b) if not a_empty and not b_empty and shown_text(a) != shown_text(b) else None)
        notes.append((col, note, reported))
    return mapped, notes


@lru_cache(maxsize=256)
def _headers_of(headers: tuple[Any, ...]) -> HeaderMap:
    """The header map of one set of row keys (memoised: a caller's rows usually share their keys)."""
    return map_headers(headers)


def near_miss_problem(column: Any, probable: str, value: Any) -> Problem | None:
    """The problem for a column that was not used: its header looks like the misspelt field ``probable``,
    or ``probable`` is the message of :meth:`HeaderMap.notes` for a second column of one field, reported only
    where that column holds a value (None where it is empty)."""
    value = normal_cell(value)
    empty = _is_empty(value)
    if probable not in _fields():
        return None if empty else _p(str(column), value, ProblemCode.CONFLICT, probable)
    shown = "" if empty else value
    return _p(str(column), shown, ProblemCode.UNKNOWN_FIELD, f"column '{column}' not used; did you mean '{probable}'?")


def read_values(values: Sequence[Any], headers: Sequence[Any] | None = None, *, as_of: date | None = None) -> Patient:
    """Read one row given as cell values, with its headers or in the template's documented column order."""
    if headers is None:
        names = [f.name for f in knowledge().fields]
        if len(values) > len(names):
            patient = read_fields(dict(zip(names, values, strict=False)), {}, as_of)
            patient.problems.append(
                Problem(
                    "row",
                    str(len(values)),
                    ProblemCode.UNKNOWN_FIELD,
                    f"{len(values)} cells given; the template has {len(names)} columns; extra cells not used",
                )
            )
            return patient
        return read_fields(dict(zip(names, values, strict=False)), {}, as_of)
    labels = list(headers)[: len(values)]
    return _read_cells(_headers_of(tuple(labels)), labels, list(values)[: len(labels)], as_of)


@cache
def _fields() -> dict[str, Field]:
    return {f.name: f for f in knowledge().fields}


CONTAINERS = (list, dict, set, tuple, bytes, frozenset)
_CHOICES = ("sex", "pregnant", "lactating", "dialysis", "route")
LIST_FIELDS = ("diagnoses", "medications", "symptoms")
# The fields that are read together, in the order read_fields reports their problems (the lists come between
# the serum and the supplement). Age and sex are one group ("45M" gives both). No group's reading depends on
# another's, so a table can read each group once
# per distinct combination of its cells (patient_id is only echoed).
SCALAR_GROUPS: Mapping[str, tuple[str, ...]] = {
    "age": ("age", "date_of_birth", "assessment_date", "sex", "pregnant", "lactating", "dialysis", "route"),  # "45M"
    "egfr": ("egfr", "egfr_date", "creatinine", "creatinine_date"),  # kidney function
    "serum": ("serum_mg", "serum_mg_unit", "ref_low", "ref_high", "ref_range", "serum_mg_date"),
    "supplement": ("supplement_form", "supplement_dose_mg", "supplement_compound_mg"),
}


def read_fields(values: Mapping[str, Any], header_units: Mapping[str, str], as_of: date | None) -> Patient:
    fields = _fields()
    p = Patient(run_date=as_of or date.today())
    problems = p.problems

    present: dict[str, Any] = {}
    for name, value in values.items():
        kind = type(value)
        if kind is not str and kind is not int and kind is not float and value is not None:
            value = normal_cell(value)
            kind = type(value)
        if kind is str:
            if value and not value.isspace():
                present[name] = value
        elif kind is int or (kind is float and value == value):
            present[name] = value
        elif value is None or kind is float:
            continue
        elif name in LIST_FIELDS and isinstance(value, (list, tuple)):
            present[name] = value  # items or coded items (terms.parse_items): read one by one, never split
        elif kind in CONTAINERS or _hashable(value) is None:
            problems.append(_p(name, value, ProblemCode.UNREADABLE, f"a {kind.__name__} cannot be read here"))
        elif not _is_empty(value):
            present[name] = value
    given = present.get

    if (v := given("patient_id")) is not None:
        p.patient_id = shown_text(v)
    age_sex = None
    if (v := given("age")) is not None:
        p.age, found, age_sex = _read_age(
            v if v is not True and v is not False else "TRUE", header_units.get("age", "")
        )
        if found:
            problems.extend(found)
    dob = given("date_of_birth")
    visit = given("assessment_date")
    visit_problems: tuple[Problem, ...] = ()
    if visit is not None:
        reference, visit_problems = _read_result_date("assessment_date", visit)
        p.reference_date = reference.value if reference is not None else None
    if dob is None:
        problems.extend(visit_problems)
    else:
        born, found = _read_date("date_of_birth", dob)
        problems.extend(found)
        on = p.reference_date if visit is not None else as_of or date.today()
        problems.extend(visit_problems)
        if born is not None and on is not None:
            years = (on - born).days / 365.25
            if not 0 <= years <= 120:
                problems.append(
                    _p(
                        "date_of_birth",
                        dob,
                        ProblemCode.IMPLAUSIBLE,
                        f"age from date of birth would be {years:.1f} years; not used",
                    )
                )
            elif p.age is None:
                p.age = years
                p.age_note = f"age {years:.1f} from date of birth at {on.isoformat()}"
            elif abs(p.age - years) >= 1.0:
                problems.append(
                    _p(
                        "date_of_birth",
                        dob,
                        ProblemCode.CONFLICT,
                        f"date of birth gives age {years:.1f}, the age column {p.age:g}; the age column is used",
                    )
                )
    for name in _CHOICES:
        if (v := given(name)) is not None:
            choice, found = _read_choice(name, fields[name].kind, v)
            if found:
                problems.extend(found)
            if choice is not None:
                setattr(p, name, choice)
    if age_sex is not None:
        if p.sex is None:
            p.sex = age_sex
        elif p.sex != age_sex:
            problems.append(
                _p(
                    "age",
                    given("age"),
                    ProblemCode.CONFLICT,
                    f"age cell says sex {age_sex}, the sex column {p.sex}; the sex column is used",
                )
            )
    if p.sex == "M" and (p.pregnant or p.lactating):
        problems.append(
            Problem(
                "pregnant" if p.pregnant else "lactating",
                "yes",
                ProblemCode.CONFLICT,
                "marked pregnant or lactating but sex is M; pregnancy cautions still applied",
            )
        )
    _read_kidney(p, given, header_units)
    serum_date: DateReading | None = None
    if (v := given("serum_mg")) is not None:
        p.serum_given = True
        unit_cell = given("serum_mg_unit")
        read = _read_serum(v, "" if unit_cell is None else shown_text(unit_cell), header_units.get("serum_mg", ""))
        if read.problems:
            problems.extend(read.problems)
        serum = read.serum
        if serum is not None:
            low, high = _lab_limits(given("ref_low"), given("ref_high"), given("ref_range"), read.lab_range, problems)
            serum = _with_range(serum, low, high, problems)
        p.serum, p.serum_flag, serum_date = serum, read.flag, read.date
        problems.extend(_ambiguity("serum_mg", v, serum_date))
    p.serum_date = _result_date("serum_mg_date", given("serum_mg_date"), serum_date, problems)
    if p.serum is None:  # a lab range without a usable value is not used, but an unreadable one is still reported
        for name in ("ref_low", "ref_high"):
            if (v := given(name)) is not None and parse_number(v)[0] is None:
                problems.append(_p(name, v, ProblemCode.NOT_A_NUMBER, f"'{shown_text(v)}' is not a number"))
        if (v := given("ref_range")) is not None and _split_range(v) is None:
            problems.append(_range_problem(v))
    for name in LIST_FIELDS:
        if (v := given(name)) is not None:
            terms = parse_items(name, v) if isinstance(v, (list, tuple)) else parse_list(name, shown_text(v))
            setattr(p, name, terms)
            if terms.problems:
                problems.extend(terms.problems)
    if (v := given("supplement_form")) is not None:
        p.supplement_form, found = _read_salt(v)
        if found:
            problems.extend(found)
    if (v := given("supplement_dose_mg")) is not None:
        p.supplement_dose_mg, found = _read_dose(
            "supplement_dose_mg",
            v,
            fields["supplement_dose_mg"].max or 10000,
            header_units.get("supplement_dose_mg", ""),
        )
        if found:
            problems.extend(found)
    elif (v := given("supplement_compound_mg")) is not None:
        compound, found = _read_dose("supplement_compound_mg", v, fields["supplement_compound_mg"].max or 60000)
        problems.extend(found)
        if compound is not None:
            if p.supplement_form is None:
                problems.append(
                    _p(
                        "supplement_compound_mg",
                        v,
                        ProblemCode.UNIT_MISSING,
                        "salt weight given without a supplement form; elemental dose unknown",
                    )
                )
            else:
                p.supplement_dose_mg = compound * knowledge().dosing["elemental"][p.supplement_form]
    return p


def _read_kidney(p: Patient, given: Callable[[str], Any], header_units: Mapping[str, str]) -> None:
    """The kidney-function group: eGFR (or a CKD stage) and creatinine, each with its date."""
    problems = p.problems
    egfr_date: DateReading | None = None
    if (v := given("egfr")) is not None:
        read = _read_egfr(v)
        if read.problems:
            problems.extend(read.problems)
        p.egfr, p.egfr_kind, egfr_date = read.egfr, read.kind, read.date
        if read.stage is not None:
            p.kidney_stage, p.kidney_stage_dialysis = read.stage
        problems.extend(_ambiguity("egfr", v, egfr_date))
    p.egfr_date = _result_date("egfr_date", given("egfr_date"), egfr_date, problems)
    creatinine_date: DateReading | None = None
    if (v := given("creatinine")) is not None:
        creatinine = _read_creatinine(v, header_units.get("creatinine", ""))
        problems.extend(creatinine.problems)
        p.creatinine_mg_dl, creatinine_date = creatinine.mg_dl, creatinine.date
        problems.extend(_ambiguity("creatinine", v, creatinine_date))
    p.creatinine_date = _result_date("creatinine_date", given("creatinine_date"), creatinine_date, problems)


def _result_date(field_name: str, column: Any, in_cell: DateReading | None, problems: list[Problem]) -> date | None:
    """A result's date from its date column and from its cell; where both give one and they differ, the older is
    used and the row says so."""
    if column is None:
        return in_cell.value if in_cell is not None else None
    found, read_problems = _read_result_date(field_name, column)
    problems.extend(read_problems)
    if found is None:
        return in_cell.value if in_cell is not None else None
    if in_cell is None or in_cell.value == found.value:
        return found.value
    older = min(in_cell.value, found.value)
    problems.append(
        _p(
            field_name,
            column,
            ProblemCode.CONFLICT,
            f"the result cell is dated {in_cell.value.isoformat()}, this column {found.value.isoformat()}; "
            f"the older, {older.isoformat()}, is used",
        )
    )
    return older


def _split_range(value: Any) -> tuple[str, str] | None:
    """('0.70', '1.00 mmol/L') from '0.70-1.00 mmol/L' (the unit after the high end applies to both)."""
    match = _RANGE.fullmatch(shown_text(value))
    if match is None:
        return None
    low, high = match.group(1).strip(), match.group(2).strip()
    number, _comparator, unit = parse_number(high)
    if number is not None and unit and parse_number(low)[2] == "":
        low = f"{low} {unit}"
    return low, high


def _range_problem(value: Any) -> Problem:
    return _p(
        "ref_range", value, ProblemCode.NOT_A_NUMBER, f"'{shown_text(value)}' is not a lab range; write it as 0.70-1.00"
    )


def _lab_limits(low: Any, high: Any, both: Any, in_cell: str | None, problems: list[Problem]) -> tuple[Any, Any]:
    """The lab limits, from their own columns, else from a range column ("0.70-1.00"), else from a range written in
    the serum cell ("(ref 1.7-2.4)"), for the ones not given."""
    if both is not None:
        parts = _split_range(both)
        if parts is None:
            problems.append(_range_problem(both))
        else:
            if _differ(low, high, parts):
                problems.append(
                    _p(
                        "ref_range",
                        both,
                        ProblemCode.CONFLICT,
                        "lab range differs from the low/high columns; the columns are used",
                    )
                )
            low, high = (parts[0] if low is None else low), (parts[1] if high is None else high)
    if in_cell is None:
        return low, high
    parts = _split_range(in_cell)
    if parts is None:  # a range the cell reader found always splits
        return low, high
    if _differ(low, high, parts):
        problems.append(
            _p(
                "serum_mg",
                in_cell,
                ProblemCode.CONFLICT,
                "lab range in the serum cell differs from the lab range columns; the columns are used",
            )
        )
    return (parts[0] if low is None else low), (parts[1] if high is None else high)


def _differ(low: Any, high: Any, parts: tuple[str, str]) -> bool:
    return (low is not None and parse_number(low)[0] != parse_number(parts[0])[0]) or (
        high is not None and parse_number(high)[0] != parse_number(parts[1])[0]
    )


def _with_range(serum: Serum, low: Any, high: Any, problems: list[Problem]) -> Serum:
    """The serum value with the lab's own range where it is plausible (clinical-rules.md 9.6)."""
    read_low = read_high = None
    if low is not None:
        read_low, found = _read_limit("ref_low", low, serum.unit)
        problems.extend(found)
    if high is not None:
        read_high, found = _read_limit("ref_high", high, serum.unit)
        problems.extend(found)
    ref_low = _in_unit(read_low, serum.unit)
    ref_high = _in_unit(read_high, serum.unit)
    if ref_low is not None and ref_high is not None and ref_low >= ref_high:  # written backwards: neither is used
        problems.append(
            Problem(
                "ref_low",
                f"{ref_low:g}-{ref_high:g}",
                ProblemCode.CONFLICT,
                "lab range low is not below high; default limits used",
            )
        )
        return serum
    ref_low = _plausible_limit("ref_low", low, read_low, serum.unit, problems)
    ref_high = _plausible_limit("ref_high", high, read_high, serum.unit, problems)
    if ref_low is None and ref_high is None:
        return serum
    return Serum(serum.value, serum.unit, serum.mmol, ref_low, ref_high, serum.comparator)
