"""A knowledge folder checked in full when it is loaded, before anything uses it.

A clinical governance team editing the knowledge is a real user, and a folder may be wrong in any way. Every
failure is a :class:`~mgdecision.errors.KnowledgeError` that names the file and the key:

- the files: only the plain files the manifest names, inside the folder (no path, no link, no device), each of a
  bounded size, UTF-8, TOML of bounded nesting, every number finite;
- their shape: ``knowledge/schema.json`` (the one shipped, never the folder's), checked by
  :func:`mgdecision.json_schema.validate` (the subset of JSON Schema 2020-12 that file uses; no other dependency);
- what the numbers mean: serum limits in a plausible range for each unit and the same limit in every unit,
  CTCAE thresholds ordered by grade, the unit a CTCAE table borrows (mEq/L graded as mmol/L) being one the
  engine can halve into, age bands that cover every age once, eGFR thresholds in order (:data:`SERUM_RANGES` and
  the checks below);
- the rule texts: conditions of bounded length and nesting (counted on the text, before they are parsed), and
  message formats of bounded width and precision.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import stat
import string
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import KnowledgeError
from .json_schema import validate

__all__ = ["LIMITS", "SERUM_RANGES", "check_meaning", "read_folder"]

#: Sizes a knowledge folder may not exceed.
LIMITS = {
    "file_bytes": 1_000_000,  # the largest shipped file is about 20 KB
    "files": 40,
    "nesting": 8,  # tables and arrays within one another (the shipped files use 5)
    "text_chars": 4_000,
    "condition_chars": 600,
    "condition_nesting": 24,  # parentheses, not, and, or: the parser's depth grows with each
    "format_number": 64,  # the width or precision of a message format ({egfr:>1000000000} allocates 1 GB)
}
UNITS = {"mmol/L": 1.0, "mg/dL": 1 / 2.4305, "mEq/L": 0.5}  # serum units and their factor into mmol/L
UNIT_TOLERANCE = 0.10  # the same limit in two units may differ this much after conversion (rounding as published)
#: Plausible values in mmol/L (the published value of each lies inside): a limit outside is an error of editing.
SERUM_RANGES: Mapping[str, tuple[float, float]] = {
    "limits.lower": (0.6, 0.85),
    "limits.low_normal": (0.7, 0.95),
    "limits.upper": (0.9, 1.3),
    "urgent.above": (1.5, 3.5),
    "ctcae_hypo.2": (0.45, 0.55),
    "ctcae_hypo.3": (0.35, 0.45),
    "ctcae_hypo.4": (0.25, 0.35),
    "ctcae_hyper.3": (1.1, 1.4),
    "ctcae_hyper.4": (3.0, 3.6),
    "lab_range.low": (0.5, 0.95),  # the band of a lab's own lower limit (clinical-rules 9.6: 0.60-0.85)
    "lab_range.high": (0.85, 1.4),  # and of its upper limit (0.90-1.30)
    "plausible.min_mmol": (0.01, 0.2),
    "plausible.max_mmol": (4.0, 20.0),
}
EGFR_RANGES: Mapping[str, tuple[float, float]] = {
    "severe_below": (10, 45),
    "moderate_below": (30, 90),
    "k_sparing_below": (15, 90),
}
OLDEST = 120  # the oldest age read (fields.toml): the age bands must reach past it


def _fail(file: str, key: str, why: str) -> KnowledgeError:
    return KnowledgeError(f"knowledge file {file}" + (f", key {key}" if key else "") + f": {why}")


# ---------------------------------------------------------------- the files


def _read(folder: Path, name: str) -> bytes:
    """The bytes of ``folder/name``: a plain file of bounded size, never through a link, never blocking."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+\.toml", name):
        raise _fail("knowledge.toml", "files", f"{str(name)[:80]!r} is not a plain file name of this folder "
                                               "(lower-case letters and _, ending in .toml)")
    path = folder / name
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _fail(name, "", "is a link; the knowledge folder must hold the file itself")
        fd = os.open(path, flags)
    except KnowledgeError:
        raise
    except OSError as exc:
        raise _fail(name, "", f"cannot be read ({exc.strerror or exc})") from None
    limit = LIMITS["file_bytes"]
    with os.fdopen(fd, "rb") as handle:  # closes the descriptor
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _fail(name, "", "is not a plain file")
        if info.st_size > limit:
            raise _fail(name, "", f"holds {info.st_size:,} bytes (at most {limit:,})")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _fail(name, "", f"holds more than {limit:,} bytes")
    return data


def _parse(name: str, data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(name, "", f"is not UTF-8 text (byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(name, "", f"is not valid TOML ({exc})") from None
    except RecursionError:
        raise _fail(name, "", f"nests arrays or tables too deeply (at most {LIMITS['nesting']})") from None
    if not _sound(doc):  # then find where, naming the key
        for key, value, depth in _walk(doc):
            why = _unsound(value, depth)
            if why:
                raise _fail(name, key, why)
    return doc


def _unsound(value: Any, depth: int) -> str:
    if depth > LIMITS["nesting"]:
        return f"nests arrays or tables too deeply (at most {LIMITS['nesting']})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if isinstance(value, str) and len(value) > LIMITS["text_chars"]:
        return f"a text of {len(value):,} characters (at most {LIMITS['text_chars']:,})"
    return ""


def _sound(doc: Any) -> bool:
    """No value nested too deeply, no number that is not finite, no text too long (without recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if depth >= LIMITS["nesting"] and value:
                return False
            stack.extend((v, depth + 1) for v in (value.values() if kind is dict else value))
        elif (kind is float and not math.isfinite(value)) or (kind is str and len(value) > LIMITS["text_chars"]):
            return False
    return True


def _walk(doc: Any) -> Iterator[tuple[str, Any, int]]:
    """(key path, value, depth) of every value, without recursion."""
    stack: list[tuple[str, Any, int]] = [("", doc, 0)]
    while stack:
        key, value, depth = stack.pop()
        yield key, value, depth
        if depth > LIMITS["nesting"]:
            continue
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{key}[{k}]", v, depth + 1) for k, v in enumerate(value))


@cache
def _schema() -> dict[str, Any]:
    """The shipped schema (a folder's own copy is never used to check it)."""
    schema: dict[str, Any] = json.loads((resources.files("mgdecision") / "knowledge" / "schema.json").read_text())
    return schema


def read_folder(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file of a knowledge folder, parsed and checked (shape and meaning): file name -> its tables."""
    schema = _schema()
    manifest = _parse("knowledge.toml", _read(folder, "knowledge.toml"))
    _raise_first("knowledge.toml", validate(manifest, schema["properties"]["knowledge.toml"], schema))
    names = manifest["files"]
    if len(names) > LIMITS["files"]:
        raise _fail("knowledge.toml", "files", f"names {len(names)} files (at most {LIMITS['files']})")
    expected = [name for name in schema["required"] if name != "knowledge.toml"]
    missing = [name for name in expected if name not in names]
    unknown = [name for name in names if name not in schema["properties"] or name == "knowledge.toml"]
    if missing or unknown:
        raise _fail("knowledge.toml", "files", f"must name {', '.join(expected)}" +
                    (f"; missing {', '.join(missing)}" if missing else "") +
                    (f"; unknown {', '.join(unknown)}" if unknown else ""))
    docs = {"knowledge.toml": manifest, **{name: _parse(name, _read(folder, name)) for name in names}}
    for name, doc in docs.items():
        _raise_first(name, validate(doc, schema["properties"][name], schema))
    check_meaning(docs)
    return docs


def _raise_first(file: str, errors: list[tuple[str, str]]) -> None:
    if errors:
        raise _fail(file, errors[0][0], errors[0][1])


# ---------------------------------------------------------------- what the numbers mean


def check_meaning(docs: Mapping[str, Mapping[str, Any]]) -> None:
    """The checks a schema cannot state (the files already match their schema)."""
    _serum(docs["serum.toml"])
    _intake(docs["intake.toml"])
    levels = docs["risk.toml"]["levels"]
    if levels["moderate_from"] >= levels["high_from"]:
        raise _fail("risk.toml", "levels.moderate_from", "must be below levels.high_from")
    renal = docs["contraindications.toml"]["renal"]
    for name, (low, high) in EGFR_RANGES.items():
        if not low <= renal[name] <= high:
            raise _fail("contraindications.toml", f"renal.{name}", f"{renal[name]:g} is outside {low:g}-{high:g} "
                                                                    "mL/min")
    if renal["severe_below"] >= renal["moderate_below"]:
        raise _fail("contraindications.toml", "renal.severe_below", "must be below renal.moderate_below")
    dose = docs["dosing.toml"]["range"]
    if dose["min_mg"] > dose["max_mg"]:
        raise _fail("dosing.toml", "range.min_mg", "must not be above range.max_mg")
    for iid, entry in docs["interactions.toml"].items():
        for hours in ("before_h", "after_h"):
            if f"{hours}_min" in entry and (hours not in entry or entry[f"{hours}_min"] > entry[hours]):
                raise _fail("interactions.toml", f"{iid}.{hours}_min", f"needs {hours}, and may not exceed it")
    for k, entry in enumerate(docs["fields.toml"]["field"]):
        if "min" in entry and "max" in entry and entry["min"] >= entry["max"]:
            raise _fail("fields.toml", f"field[{k}].min", "must be below max")
    _rule_texts(docs["rules.toml"])


def _serum(serum: Mapping[str, Any]) -> None:
    file = "serum.toml"
    units = {u: spec for u, spec in serum["units"].items() if u != "source"}
    if set(units) != set(UNITS):
        raise _fail(file, "units", f"must define exactly {', '.join(UNITS)} (the units every limit is given in)")
    spellings = {unit.lower(): unit for unit in UNITS}
    for unit, factor in UNITS.items():
        if not math.isclose(units[unit]["to_mmol"], factor, rel_tol=0.005):
            raise _fail(file, f"units.{unit}.to_mmol", f"{units[unit]['to_mmol']:g} is not the factor from {unit} to "
                                                        f"mmol/L ({factor:.6g})")
        for spelling in units[unit]["spellings"]:
            written = spelling.lower().replace(" ", "")
            if spellings.setdefault(written, unit) != unit:
                raise _fail(file, f"units.{unit}.spellings", f"'{spelling}' also spells {spellings[written]}")

    for path in ("limits.lower", "limits.low_normal", "limits.upper", "urgent.above"):
        table, name = path.split(".")
        by_unit = serum[table][name]
        low, high = SERUM_RANGES[path]
        if not low <= by_unit["mmol/L"] <= high:
            raise _fail(file, f"{path}.mmol/L", f"{by_unit['mmol/L']:g} is outside the plausible {low:g}-{high:g} "
                                                "mmol/L")
        _same_in_every_unit(file, path, {u: by_unit[u] for u in UNITS})
    limits = serum["limits"]
    for unit in UNITS:
        if not limits["lower"][unit] < limits["low_normal"][unit] < limits["upper"][unit] < \
                serum["urgent"]["above"][unit]:
            raise _fail(file, f"limits.{unit}", "needs lower < low_normal < upper < urgent.above")
    lab = serum["lab_range"]
    for side in ("low", "high"):  # a band [min, max] per unit, inside the plausible range, alike in every unit
        for unit in UNITS:
            band = lab[side][unit]
            if len(band) != 2 or not band[0] < band[1]:
                raise _fail(file, f"lab_range.{side}.{unit}", "needs [min, max] with min below max")
            for value in band:
                _in_range(file, f"lab_range.{side}", value * UNITS[unit])
        for end in (0, 1):
            _same_in_every_unit(file, f"lab_range.{side}", {u: lab[side][u][end] for u in UNITS})
    for unit in UNITS:
        if not lab["low"][unit][1] < lab["high"][unit][0]:
            raise _fail(file, f"lab_range.{unit}", "needs the band of the lower limit below that of the upper")
    for name in ("min_mmol", "max_mmol"):
        _in_range(file, f"plausible.{name}", serum["plausible"][name])
    for table, side in (("ctcae_hypo", "below"), ("ctcae_hyper", "above")):
        _ctcae(file, table, side, serum[table], units, limits)


def _in_range(file: str, path: str, value: float) -> None:
    low, high = SERUM_RANGES[path]
    if not low <= value <= high:
        raise _fail(file, path, f"{value:g} is outside the plausible {low:g}-{high:g}")


def _same_in_every_unit(file: str, path: str, values: Mapping[str, float]) -> None:
    """One limit given in each unit: after conversion they agree (so no unit reads another patient's value)."""
    base = values["mmol/L"]
    for unit, value in values.items():
        if not math.isclose(value * UNITS[unit], base, rel_tol=UNIT_TOLERANCE):
            raise _fail(file, f"{path}.{unit}", f"{value:g} {unit} is {value * UNITS[unit]:.3g} mmol/L, not the "
                                                f"{base:g} mmol/L given in mmol/L")


def _ctcae(file: str, table: str, side: str, grades: Mapping[str, Any], units: Mapping[str, Any],
           limits: Mapping[str, Any]) -> None:
    """Each unit's steps: grades rising with the distance from normal; a unit may name another to be graded in
    after halving (the engine's only conversion): mEq/L as mmol/L."""
    steps = {u: v for u, v in grades.items() if u != "source"}
    if set(steps) != set(UNITS):
        raise _fail(file, table, f"must grade in exactly {', '.join(UNITS)}")
    tables = {}
    for unit, entry in steps.items():
        if isinstance(entry, str):
            if entry not in UNITS or isinstance(steps[entry], str) or \
                    not math.isclose(UNITS[unit] / UNITS[entry], 0.5, rel_tol=0.005):
                raise _fail(file, f"{table}.{unit}", f"'{entry}' is not a unit whose own steps {unit} can be graded "
                                                     "in after halving (only mEq/L as 'mmol/L')")
            continue
        for step in entry:
            if side not in step or set(step) != {side, "grade"}:
                raise _fail(file, f"{table}.{unit}", f"each step is {{ {side} = ..., grade = ... }}")
        grades_seen = [step["grade"] for step in entry]
        values = [step[side] for step in entry]
        rising = all(a < b for a, b in itertools.pairwise(grades_seen))
        ordered = all((a > b) if side == "below" else (a < b) for a, b in itertools.pairwise(values))
        if not rising or not ordered or min(grades_seen) < 2:
            raise _fail(file, f"{table}.{unit}", f"grades from 2 rise step by step as the value goes further {side} "
                                                 "normal")
        limit = limits["lower" if side == "below" else "upper"][unit]
        if (side == "below" and max(values) >= limit) or (side == "above" and min(values) <= limit):
            raise _fail(file, f"{table}.{unit}", f"every step lies {side} the normal limit {limit:g} {unit}")
        tables[unit] = dict(zip(grades_seen, values, strict=True))
    if "mmol/L" not in tables:
        raise _fail(file, f"{table}.mmol/L", "needs its own steps")
    for grade, value in tables["mmol/L"].items():
        key = f"{table}.{grade}"
        if key not in SERUM_RANGES or not SERUM_RANGES[key][0] <= value <= SERUM_RANGES[key][1]:
            low, high = SERUM_RANGES.get(key, (math.nan, math.nan))
            raise _fail(file, f"{table}.mmol/L", f"grade {grade} at {value:g} mmol/L is not CTCAE v5's "
                                                 f"({low:g}-{high:g})")
    for unit, found in tables.items():
        if set(found) != set(tables["mmol/L"]):
            raise _fail(file, f"{table}.{unit}", "grades the same grades as mmol/L")
        for grade, value in found.items():
            _same_in_every_unit(file, f"{table}.grade {grade}", {"mmol/L": tables["mmol/L"][grade], unit: value})


def _intake(intake: Mapping[str, Any]) -> None:
    for table, needs in (("rda", ("female", "male")), ("ul", ("ul",))):
        bands = intake[table]["bands"]
        at = 0.0
        for k, band in enumerate(bands):
            missing = [n for n in needs if n not in band]
            if missing:
                raise _fail("intake.toml", f"{table}.bands[{k}]", f"misses {', '.join(missing)}")
            if band["min"] != at or band["max"] <= band["min"]:
                raise _fail("intake.toml", f"{table}.bands[{k}]", f"the bands must run from age 0 in order, each "
                                                                  f"starting where the last ended ({at:g})")
            at = band["max"]
        if at <= OLDEST:
            raise _fail("intake.toml", f"{table}.bands", f"the last band must reach past age {OLDEST}")


# ---------------------------------------------------------------- rule texts


NAMED_FORMATS = ("years", "egfr", "date")  # the engine's own formats (engine/expr.py NAMED_FORMATS, one test)
_FORMAT = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d*)[_,]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?")


def _rule_texts(rules: Mapping[str, Any]) -> None:
    """Conditions of bounded length and nesting; message formats of bounded width and precision."""
    places = [("contraindications.fire", rules["contraindications"]["fire"]),
              ("risk.value_factors", rules["risk"]["value_factors"]), ("risk.bands", rules["risk"]["bands"]),
              ("dose.statuses", rules["dose"]["statuses"])]
    for where, entries in places:
        for k, entry in enumerate(entries):
            _condition(f"{where}[{k}].when", entry["when"])
            if "detail" in entry:
                _message(f"{where}[{k}].detail", entry["detail"])


def _condition(key: str, text: str) -> None:
    if len(text) > LIMITS["condition_chars"]:
        raise _fail("rules.toml", key, f"a condition of {len(text):,} characters (at most "
                                       f"{LIMITS['condition_chars']})")
    bare = re.sub(r"'[^']*'", "''", text)  # quoted texts hold no structure
    depth = deepest = 0
    for c in bare:
        depth += (c == "(") - (c == ")")
        deepest = max(deepest, depth)
    words = len(re.findall(r"\b(?:and|or|not)\b", bare))
    if deepest + words > LIMITS["condition_nesting"]:
        raise _fail("rules.toml", key, f"a condition nested {deepest + words} deep (parentheses, and, or, not; at "
                                       f"most {LIMITS['condition_nesting']})")


def _message(key: str, text: str) -> None:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise _fail("rules.toml", key, f"not a message format ({exc})") from None
    for _literal, name, spec, _conversion in fields:
        if name is None or not spec:
            continue
        if spec in NAMED_FORMATS:
            continue
        found = _FORMAT.fullmatch(spec)
        if found is None:
            raise _fail("rules.toml", key, f"'{{{name}:{spec[:40]}}}' has an unknown format code (a plain number or "
                                           "text format is expected, e.g. {egfr:g})")
        for part in ("width", "precision"):
            digits = found.group(part)
            if digits and (len(digits) > 4 or int(digits) > LIMITS["format_number"]):
                raise _fail("rules.toml", key, f"'{{{name}:{spec[:40]}}}' asks for a {part} of {found.group(part)} "
                                               f"(at most {LIMITS['format_number']})")
