"""Kidney function facts: the race-free CKD-EPI 2021 creatinine equation, creatinine units, and CKD stages as
clinicians write them ("G3b", "CKD 4", "stage IV", "G5D", "N18.32").

The coefficients and units are knowledge (``knowledge/kidney.toml``, Inker NEJM 2021); whether the equation applies
to a row (adult, sex known, not pregnant, no AKI, not on dialysis) is decided by the engine.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from typing import Any, NamedTuple

from .kb import knowledge

__all__ = ["KidneyStage", "creatinine_mg_dl", "creatinine_unit", "egfr_ckd_epi_2021", "kidney_stage"]

_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_STAGE = re.compile(
    r"(?:(?P<ckd>ckd|chronic kidney disease)\s?)?(?:(?P<stage>stage)\s?)?(?:(?P<g>g)\s?)?"
    r"(?P<n>[1-5]|iii|ii|iv|v|i)\s?(?P<sub>[ab](?![1-3]))?\s?(?:a[1-3])?\s?(?P<d>d)?(?:\s?(?P<after>ckd))?",
    re.A,
)
_CODE = re.compile(r"n\s?18\.?(?P<n>[1-6])(?P<sub>[0-2])?", re.A)
_FAILURE = frozenset({"esrd", "eskd", "end stage renal disease", "end stage kidney disease", "kidney failure"})
_CODE_STAGE = {"1": "G1", "2": "G2", "4": "G4", "5": "G5", "6": "G5"}


class KidneyStage(NamedTuple):
    """A CKD stage as written: "G1".."G5", "G3a" or "G3b" ("G3" when 3 is not divided), and a trailing D (dialysis)."""

    stage: str
    dialysis: bool = False


def kidney_stage(text: str) -> KidneyStage | None:
    """The CKD stage a cell holds instead of a number, or None. A bare number ("4") is a value, never a stage; a
    stage needs CKD, "stage", G, a or b, or D with it ("G3b", "CKD 4", "3b", "5D", "stage IV", "CKD G4A2")."""
    words = re.sub(r"[\s_,:.()\[\]-]+", " ", unicodedata.normalize("NFKC", text).lower()).strip()
    if words in _FAILURE:
        return KidneyStage("G5")
    m = _STAGE.fullmatch(words)
    if m is not None:
        n, named = m["n"], m["ckd"] or m["stage"] or m["after"]
        if n in _ROMAN:
            if not named:  # "iv" alone is a route, "v" a letter
                return None
            n = _ROMAN[n]
        if not (named or m["g"] or m["sub"] or m["d"]):
            return None
        sub = m["sub"] if n == "3" else None
        if m["sub"] and n != "3":  # "4b" is no stage
            return None
        return KidneyStage(f"G{n}{sub or ''}", bool(m["d"]))
    m = _CODE.fullmatch(words.replace(" ", ""))
    if m is None:
        return None
    if m["n"] == "3":
        return KidneyStage({"1": "G3a", "2": "G3b"}.get(m["sub"] or "", "G3"))
    return None if m["sub"] else KidneyStage(_CODE_STAGE[m["n"]])


@cache
def _creatinine_units() -> dict[str, tuple[str, float]]:
    """Normalised spelling -> (canonical unit, how many of it make 1 mg/dL)."""
    found: dict[str, tuple[str, float]] = {}
    for unit, spec in knowledge().kidney["creatinine"]["units"].items():
        for spelling in (unit, *spec["spellings"]):
            found[_unit_key(spelling)] = (unit, float(spec["per_mg_dl"]))
    return found


def _unit_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "").replace("litre", "l").replace("liter", "l")


def creatinine_unit(text: str) -> str | None:
    """The canonical creatinine unit ("mg/dL", "umol/L", "mmol/L") for a spelling, or None."""
    found = _creatinine_units().get(_unit_key(text))
    return found[0] if found else None


def creatinine_mg_dl(value: float, unit: str) -> float:
    """A creatinine value in mg/dL (106 umol/L is 1.2 mg/dL). Raises ``ValueError`` for an unknown unit."""
    found = _creatinine_units().get(_unit_key(unit))
    if found is None:
        raise ValueError(f"unknown creatinine unit: {unit!r}")
    return float(value) / found[1]


def egfr_ckd_epi_2021(scr_mg_dl: float, age: float, sex: str, coefficients: Mapping[str, Any] | None = None) -> float:
    """eGFR in mL/min/1.73 m2 by the race-free CKD-EPI 2021 creatinine equation (Inker, NEJM 2021):
    142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 if female; k 0.7 F / 0.9 M, a -0.241 F /
    -0.302 M. ``sex`` is "F" or "M"; ``coefficients`` default to the shipped ``kidney.toml``. The equation is for
    adults (``applies_from_age``); the caller decides whether it applies. Raises ``ValueError`` for a creatinine
    that is not a positive number, a negative or non-finite age, or another sex."""
    c = coefficients if coefficients is not None else knowledge().kidney["ckd_epi_2021"]
    if sex not in ("F", "M"):
        raise ValueError(f"sex must be 'F' or 'M', not {sex!r}")
    if not (isinstance(scr_mg_dl, (int, float)) and math.isfinite(scr_mg_dl) and scr_mg_dl > 0):
        raise ValueError(f"creatinine must be a positive number of mg/dL, not {scr_mg_dl!r}")
    if not (isinstance(age, (int, float)) and math.isfinite(age) and age >= 0):
        raise ValueError(f"age must be a number of years, not {age!r}")
    by_sex = c["female"] if sex == "F" else c["male"]
    ratio = scr_mg_dl / by_sex["k"]
    return float(
        c["constant"]
        * min(ratio, 1.0) ** by_sex["a"]
        * max(ratio, 1.0) ** c["above_k_exponent"]
        * c["age_base"] ** age
        * by_sex["factor"]
    )
