"""Magnesium a patient already takes, read from one medication item (clinical-rules.md 9.2 and 9.3).

:func:`read_intake` is pure and memoised: the product (from ``knowledge/products.toml``) and the item as written
give the amount of elemental magnesium per dose and per day. Strength x frequency ("Mag-Ox 400 BID", "magnesium
oxide 800 mg daily", "2 tabs", "x2", "q8h"); liquids by volume ("MOM 30 mL", "Maalox 10 mL qid", "2 tbsp");
PRN with its written maximum, else one dose; salt weight to elemental with ``dosing.toml [elemental]`` for the
salts whose weight is written (oxide, hydroxide, sulfate, carbonate, chloride), other salts read as elemental;
an elemental figure written on the row ("241.3 mg elemental", "7 mEq") wins. IV/IM magnesium is therapy, not
intake; topical products are not intake at all. What cannot be read is ``None`` with a question in ``confirm``.
Reading never decides: the engine sums, compares with the UL and words the advice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from .kb import knowledge, norm

__all__ = ["KINDS", "IntakeItem", "IntakeSummary", "indication_text", "read_intake", "summarise", "topical"]

KINDS = ("supplement", "laxative", "antacid", "phosphate_binder", "bowel_prep", "iv_therapy")
MG_PER_MEQ, MG_PER_MMOL = 24.305 / 2, 24.305  # elemental magnesium (clinical-facts.md section 0)


@dataclass(frozen=True, slots=True)
class IntakeItem:
    """One magnesium product on the medication list and how much elemental magnesium it gives."""

    product: str  # product id in products.toml
    label: str
    as_written: str
    salt: str | None
    kind: str  # one of KINDS
    route: str  # "oral" | "iv" | "im"
    per_dose_elemental_mg: float | None
    doses_per_day: float | None
    daily_elemental_mg: float | None  # None: not readable (confirm the daily dose)
    prn: bool
    prn_max_per_day: float | None
    confirm: tuple[str, ...]
    indication: str | None  # written in the item ("PRN constipation", "for leg cramps")
    strength_from: str | None  # "row" | "product_table" | None
    prescribed: bool


_NUMBER = r"(\d+(?:\.\d+)?)"
_RANGE = _NUMBER + r"(?:\s*(?:-|to)\s*" + _NUMBER + r")?"
_VOLUME_UNITS = r"ml|mls|milliliters?|millilitres?|cc"
_MASS = re.compile(_RANGE + r"\s*(mg|milligrams?|g|gm|gms|grams?|mcg|meq|mmol)(?![a-z])")
_ELEMENTAL = re.compile(
    _NUMBER + r"\s*mg\s*(?:of\s*)?elemental|elemental\s*(?:magnesium\s*|mg\s*)?(?:of\s*)?" + _NUMBER + r"\s*mg"
)
_CONCENTRATION = re.compile(_NUMBER + r"\s*(mg|g|gm)\s*/\s*(\d+(?:\.\d+)?)?\s*(" + _VOLUME_UNITS + r"|l)(?![a-z])")
_RATE = re.compile(_NUMBER + r"\s*(g|gm|grams?|mg)\s*/\s*(?:h|hr|hrs|hour)(?![a-z])")
_COUNT = re.compile(
    _RANGE
    + r"\s*(tabs?|tablets?|caps?|capsules?|caplets?|pills?|sachets?|packets?|bottles?|chewables?|scoops?)(?![a-z])"
)
_TIMES = re.compile(r"(?<![a-z])[x\u00d7]\s*(\d+)(?!\s*(?:days?|d\b|weeks?|wks?|months?|\d))")
_TIMES_A_DAY = re.compile(r"(\d+)\s*(?:x|times)\s*(?:a|per|/)?\s*(?:day|daily|d)(?![a-z])")
_EVERY_HOURS = re.compile(r"(?<![a-z])(?:q|every)\s*(\d+)\s*(?:-\s*(\d+)\s*)?(?:h|hr|hrs|hours?)(?![a-z])")
_MAX_PER_DAY = re.compile(
    _NUMBER + r"\s*(doses?|tabs?|tablets?|caps?|capsules?|times|x|" + _VOLUME_UNITS + r")?\s*(?:/|a|per|in|each)?\s*"
    r"(?:day|daily|24\s*h(?:ours?|rs?)?|d)(?![a-z])"
)
_AMOUNT_MAX = re.compile(
    _NUMBER + r"\s*(mg|g|gm)\s*(?:/|a|per|in|each)\s*(?:day|daily|24\s*h(?:ours?|rs?)?|d)(?![a-z])"
)
_FOR = re.compile(r"(?<![a-z])for\s+([a-z][a-z' \-]*)")
_BARE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)(?:\s+|$)(?!(?:mg|g|gm|mcg|meq|mmol|ml|mls|cc|tabs?|tablets?|caps?|capsules?|%)(?![a-z]))"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_SPACES = re.compile(r"\s+")
_TEXT_TABLE = str.maketrans("()[]", "    ", "'’")
_ORAL = ("po", "p.o", "oral", "orally", "by mouth")


@cache
def _words(kind: str) -> re.Pattern[str]:
    """One whole-word pattern for a word list of products.toml (longest first)."""
    products = knowledge().products
    listed = products["prn"][kind] if kind in products["prn"] else products.get(kind, ())
    return _pattern(sorted({norm(w) for w in listed}, key=len, reverse=True))


def _pattern(words: list[str]) -> re.Pattern[str]:
    parts = [(r"(?<![\w/])" if w[:1].isalnum() else "") + re.escape(w) + r"(?![\w])" for w in words]
    return re.compile("|".join(parts) if parts else r"(?!)")


@cache
def _frequencies() -> tuple[re.Pattern[str], Mapping[str, float]]:
    table = {norm(k) if k[:1].isalnum() else k: float(v) for k, v in knowledge().products["frequency"].items()}
    return _pattern(sorted(table, key=len, reverse=True)), table


@cache
def _volume_units() -> tuple[re.Pattern[str], Mapping[str, float]]:
    table = {k: float(v) for k, v in knowledge().products["units"].items()}
    words = "|".join(re.escape(w) for w in sorted(table, key=len, reverse=True))
    return re.compile(_RANGE + r"\s*(" + _VOLUME_UNITS + "|" + words + r")(?![a-z])"), table


def _text(item: str) -> str:
    """The item in lower case, brackets and hyphens between letters as spaces, thousands separators dropped."""
    text = item.lower().translate(_TEXT_TABLE)
    text = _DECIMAL_COMMA.sub(".", _THOUSANDS.sub("", text))
    return _SPACES.sub(" ", _HYPHEN.sub(" ", text)).strip()


def topical(item: str) -> bool:
    """The item is magnesium for the skin ("Epsom salt bath", "magnesium oil spray")."""
    return _words("topical_words").search(_text(item)) is not None


def _upper(match: re.Match[str], first: int = 1) -> float:
    """The number of a match, the upper figure of a range ("1-2 tabs" -> 2)."""
    high = match.group(first + 1)
    return float(high if high is not None else match.group(first))


def _frequency(text: str) -> float | None:
    """Doses a day written in the item (the largest where several are written)."""
    found: list[float] = []
    pattern, table = _frequencies()
    found += [table[m.group(0)] for m in pattern.finditer(text) if m.group(0) in table]
    found += [float(m.group(1)) for m in _TIMES_A_DAY.finditer(text)]
    for m in _EVERY_HOURS.finditer(text):
        hours = min(float(m.group(1)), float(m.group(2) or m.group(1)))
        if hours > 0:
            found.append(24 / hours)
    return max(found) if found else None


def indication_text(item: str) -> str | None:
    """What a medication item says it is for ("eculizumab for PNH", "MOM PRN constipation"), as plain words."""
    text = _text(item)
    prn = _words("words").search(text)
    return _indication(text, prn.end() if prn is not None else None)


def _indication(text: str, prn_at: int | None) -> str | None:
    """What the item says the product is for: after "for", else the words after PRN ("PRN constipation")."""
    m = _FOR.search(text)
    if m is not None:
        words = m.group(1)
    elif prn_at is not None:
        words = re.split(r"[\d;,]", text[prn_at:], maxsplit=1)[0]
    else:
        return None
    pattern, _ = _frequencies()
    words = _words("words").sub(" ", pattern.sub(" ", words))
    words = _SPACES.sub(" ", re.sub(r"(?<![a-z])(?:po|oral|orally|tabs?|tablets?|daily|max)(?![a-z])", " ", words))
    return words.strip(" -") or None


def _salt_to_elemental(mg: float, salt: str | None, confirm: list[str]) -> float:
    """Elemental mg for a figure in mg of ``salt``: salt weight for oxide, hydroxide, sulfate, carbonate and
    chloride; any other salt (or none named) read as elemental, with a question."""
    products = knowledge().products
    if salt is not None and salt in products["salt_weight_salts"]:
        return mg * float(knowledge().dosing["elemental"][salt])
    confirm.append("confirm elemental amount")
    return mg


def _unit_elemental(product: Mapping[str, Any]) -> float | None:
    """Elemental mg per unit (or per ``volume_ml``) of a product with a labelled strength."""
    if "elemental_mg" in product:
        return float(product["elemental_mg"])
    salt = product.get("salt")
    if "salt_mg" in product and salt in knowledge().products["salt_weight_salts"]:
        return float(product["salt_mg"]) * float(knowledge().dosing["elemental"][salt])
    return None


@lru_cache(maxsize=16384)
def read_intake(item: str, product_id: str) -> IntakeItem | None:
    """Read the magnesium of one medication ``item`` naming ``product_id``; None for a product for the skin."""
    products = knowledge().products
    product = products["products"][product_id]
    text = _text(item)
    if product["kind"] == "topical" or topical(item):
        return None
    # the product's own name is not a strength ("Mag-Ox 400"): blank it before reading numbers
    rest, after = text, ""
    for name in sorted((norm(n) for n in product["names"]), key=len, reverse=True):
        at = re.search(r"(?<![\w/])" + re.escape(name) + r"(?![\w])", rest)
        if at is not None:
            rest, after = rest[: at.start()] + " " * len(name) + rest[at.end() :], rest[at.end() :]
            break
    rate = _RATE.search(rest)
    concentration = _CONCENTRATION.search(rest)
    rest = _CONCENTRATION.sub(" ", _RATE.sub(" ", rest))
    volume_pattern, volume_table = _volume_units()
    volume = volume_pattern.search(rest)
    if volume is not None and product.get("liquid") and product.get("unit") != "mL":
        product_id = product["liquid"]
        product = products["products"][product_id]
    confirm: list[str] = []
    salt = product.get("salt")
    kind, route = product["kind"], "oral"
    injected = _words("iv_words").search(text) or _words("injection_words").search(text) or rate
    intramuscular = _words("im_words").search(text)
    oral = any(re.search(rf"(?<![\w.]){re.escape(w)}(?![\w])", text) for w in _ORAL)
    if product.get("iv") and (injected or intramuscular or (product.get("route_unstated") == "iv" and not oral)):
        kind, route = "iv_therapy", "im" if intramuscular and not injected else "iv"
        if not (injected or intramuscular):
            confirm.append("confirm the route (read as IV)")
        if salt is None:  # "Mag 2 g IV": the injection is magnesium sulfate
            salt = "sulfate"
            confirm.append("confirm the salt (read as sulfate)")
    elif kind == "laxative" and _words("prep_words").search(text):
        kind = "bowel_prep"
    elif kind in ("supplement", "antacid") and _words("binder_words").search(text):
        kind = "phosphate_binder"
    per_dose, strength_from = _per_dose(rest, after, product, salt, (volume, concentration), volume_table, confirm)
    prn_match = _words("words").search(text)
    prn = prn_match is not None
    frequency = _frequency(rest)
    times = _TIMES.search(rest)
    if times is not None:
        if frequency is None:
            frequency = float(times.group(1))
        elif per_dose is not None:
            per_dose *= float(times.group(1))
    prn_max = None
    if prn:
        prn_max = frequency
        for m in _MAX_PER_DAY.finditer(rest):
            before = rest[max(0, m.start() - 24) : m.start()]
            if _words("max_words").search(before) or "max" in before:
                unit = m.group(2) or ""
                count = float(m.group(1))
                units = _COUNT.search(rest)
                if unit.startswith(("ml", "cc", "milli")) and volume is not None:
                    count /= _upper(volume) * volume_table.get(volume.group(3), 1.0)
                elif units is not None and (unit.startswith(("tab", "cap")) or not unit):
                    count /= _upper(units)  # "2 tabs PRN, max 10/day": ten tablets, five doses
                prn_max = count
                break
        doses = prn_max
        amount = _AMOUNT_MAX.search(rest)
        if amount is not None and _words("amount_max_words").search(rest[max(0, amount.start() - 16) : amount.start()]):
            # "max 400 mg/day": the written daily amount, as elemental like any other amount written for this salt
            per_day = float(amount.group(1)) * (1000.0 if amount.group(2).startswith("g") else 1.0)
            written = _MASS.search(rest[: amount.start()])  # the dose, written in the same unit
            if written is not None and written.group(3) in ("mg", "g", "gm"):
                each = float(written.group(1)) * (1000.0 if written.group(3).startswith("g") else 1.0)
                doses = per_day / each if each > 0 else doses
    else:
        doses = frequency
    daily = None
    if kind in ("iv_therapy", "bowel_prep"):  # therapy and one-off preparations are not daily intake
        confirm = [c for c in confirm if c.startswith(("confirm the route", "confirm the salt", "confirm elemental"))]
        doses = doses if kind == "iv_therapy" else None
        daily = per_dose * doses if per_dose is not None and doses is not None and kind == "iv_therapy" else None
    elif per_dose is not None:
        if doses is None:
            confirm.append("confirm how often")
        daily = per_dose * (doses if doses is not None else 1.0)
    if product.get("confirm"):  # the product's own question replaces the general one
        confirm = [c for c in confirm if c != "confirm the strength"]
        if not any(c.startswith(product["confirm"]) for c in confirm):
            confirm.append(product["confirm"])
    prescribed = bool(product.get("rx")) or kind == "iv_therapy" or bool(_words("prescribed_words").search(text))
    return IntakeItem(
        product=product_id,
        label=product["label"],
        as_written=item,
        salt=salt,
        kind=kind,
        route=route,
        per_dose_elemental_mg=None if per_dose is None else round(per_dose, 1),
        doses_per_day=None if doses is None else round(doses, 3),
        daily_elemental_mg=None if daily is None else round(daily, 1),
        prn=prn,
        prn_max_per_day=prn_max,
        confirm=tuple(dict.fromkeys(confirm)),
        indication=_indication(text, prn_match.end() if prn_match is not None else None),
        strength_from=strength_from,
        prescribed=prescribed,
    )


def _per_dose(
    rest: str,
    after: str,
    product: Mapping[str, Any],
    salt: str | None,
    liquid: tuple[re.Match[str] | None, re.Match[str] | None],
    volume_table: Mapping[str, float],
    confirm: list[str],
) -> tuple[float | None, str | None]:
    """(elemental mg per dose, where the strength came from) of one item."""
    volume, concentration = liquid
    count_match = _COUNT.search(rest)
    count = _upper(count_match) if count_match is not None else None
    unit = _unit_elemental(product)
    ml = _upper(volume) * volume_table.get(volume.group(3), 1.0) if volume is not None else None
    elemental = _ELEMENTAL.search(rest)
    if elemental is not None:
        return float(elemental.group(1) or elemental.group(2)) * (count or 1.0), "row"
    mass = _MASS.search(rest)
    if mass is not None and mass.group(3) in ("meq", "mmol"):
        per = MG_PER_MEQ if mass.group(3) == "meq" else MG_PER_MMOL
        return _upper(mass) * per * (count or 1.0), "row"
    if concentration is not None and ml is None:
        confirm.append("confirm the volume per dose")
        return None, None
    if concentration is not None and ml is not None:
        per_ml = float(concentration.group(1)) * (1000 if concentration.group(2) != "mg" else 1)
        per_ml /= float(concentration.group(3) or 1) * (1000 if concentration.group(4) == "l" else 1)
        return _salt_to_elemental(per_ml * ml, salt, confirm), "row"
    if ml is not None and product.get("unit") == "mL":
        if unit is None:
            confirm.append("confirm the strength")
            return None, None
        return unit * ml / float(product["volume_ml"]), "product_table"
    if mass is None and product.get("unit") != "mL":
        bare = _BARE.match(after)
        if bare is not None and float(bare.group(1)) >= 10:
            confirm.append("confirm the unit (a number with no unit is read as mg)")
            mass_mg = float(bare.group(1))
            return _from_mass(mass_mg, count, product, salt, unit, confirm), "row"
    if mass is not None:
        mg = _upper(mass) * {"g": 1000, "gm": 1000, "gms": 1000, "mcg": 0.001}.get(mass.group(3), 1.0)
        if mass.group(3).startswith("gram"):
            mg = _upper(mass) * 1000
        return _from_mass(mg, count, product, salt, unit, confirm), "row"
    if unit is not None and product.get("unit") != "mL":
        return unit * (count or 1.0), "product_table"
    confirm.append("confirm the volume per dose" if product.get("unit") == "mL" else "confirm the strength")
    return None, None


def _from_mass(
    mg: float, count: float | None, product: Mapping[str, Any], salt: str | None, unit: float | None, confirm: list[str]
) -> float:
    """Elemental mg of a dose written as mg of the product: a whole number of its labelled units uses the label's
    elemental figure; a count of units written beside a unit strength multiplies it."""
    salt_mg = product.get("salt_mg")
    if not salt_mg and unit is not None and 0.5 * unit <= mg <= 1.5 * unit:  # the label's elemental figure
        if abs(mg - unit) > 0.5:  # ("Slow-Mag 64 mg", an older label), not a salt weight
            confirm.append("confirm elemental amount")
        return mg * (count or 1.0)
    if salt_mg and unit is not None:
        units = mg / float(salt_mg)
        if abs(units - round(units)) < 1e-9 and units >= 1:
            if count is not None and round(units) == 1:
                units = count
            return unit * units
    per = _salt_to_elemental(mg, salt, confirm)
    if count is not None and not (salt_mg and abs(mg - count * float(salt_mg)) < 1e-9):
        per *= count
    return per


@dataclass(frozen=True, slots=True)
class IntakeSummary:
    """The magnesium a patient takes, as the rules read it (clinical-rules.md 9.2): the daily total counted against
    the upper limit and what else the list says. Made by :func:`summarise`; the rules decide what it means."""

    any: bool = False  # a current magnesium product (daily or as needed), or the supplement columns
    daily_mg: float = math.nan  # elemental mg/day counted against the UL (NaN: nothing counted)
    unreadable: bool = False  # a product counted daily whose daily amount could not be read
    prn_laxative: bool = False  # a magnesium laxative or antacid taken as needed
    iv: bool = False  # IV or IM magnesium therapy
    prescribed: bool = False
    binder: bool = False  # a magnesium phosphate binder
    names: str = ""  # the products as written
    larger: str = ""  # when one product is in both places: which figure counted
    confirm: str = ""  # what reading asks to confirm about the products ("confirm how often")
    bowel_prep_contraindicated: str = ""  # bowel preparations contraindicated at CrCl < 30 (label), as written
    bowel_prep_caution: str = ""  # those to use with caution in renal impairment (label), as written


_NO_INTAKE = IntakeSummary()
DAILY_KINDS = ("supplement", "laxative", "antacid", "phosphate_binder")  # counted against the UL when daily
PRN_KINDS = ("laxative", "antacid")  # not counted against the UL when taken as needed


@lru_cache(maxsize=16384)
def summarise(items: tuple[IntakeItem, ...], supplement_form: str | None, supplement_mg: float) -> IntakeSummary:
    """What the medication list's products and the supplement columns (salt, elemental mg/day; NaN when not
    given) add up to. A product named in both places counts once, with the larger daily figure."""
    given = supplement_mg == supplement_mg
    if not items and not given and supplement_form is None:
        return _NO_INTAKE
    counted: list[float] = []
    unreadable = False
    names: list[str] = []
    larger = ""
    for item in items:
        names.append(item.as_written)
        if item.kind not in DAILY_KINDS or (item.prn and item.kind in PRN_KINDS):
            continue
        if item.daily_elemental_mg is None:
            unreadable = True
            continue
        if given and supplement_form is not None and item.salt == supplement_form:  # the same product twice
            larger = f"{item.as_written} and the supplement column: the larger figure counts"
            counted.append(max(item.daily_elemental_mg, supplement_mg))
            given = False
            continue
        counted.append(item.daily_elemental_mg)
    if given:
        counted.append(supplement_mg)
        names.append(f"{supplement_form or 'supplement'} {supplement_mg:g} mg/day")
    elif supplement_form is not None and supplement_mg != supplement_mg and not larger:
        unreadable = True  # a supplement named without its dose
        names.append(supplement_form)
    preps = {k: [i.as_written for i in items if i.kind == "bowel_prep" and _prep(i.product) == k] for k in PREP_LEVELS}
    return IntakeSummary(
        any=bool(names),
        daily_mg=sum(counted) if counted else math.nan,
        unreadable=unreadable,
        prn_laxative=any(i.prn and i.kind in PRN_KINDS for i in items),
        iv=any(i.kind == "iv_therapy" for i in items),
        prescribed=any(i.prescribed and i.kind != "iv_therapy" for i in items),
        binder=any(i.kind == "phosphate_binder" for i in items),
        names="; ".join(names),
        larger=larger,
        confirm="; ".join(dict.fromkeys(c for i in items if i.kind != "iv_therapy" for c in i.confirm)),
        bowel_prep_contraindicated=", ".join(preps["contraindicated"]),
        bowel_prep_caution=", ".join(preps["caution"]),
    )


PREP_LEVELS = ("contraindicated", "caution")


def _prep(product: str) -> str:
    """How a bowel preparation's label treats renal impairment (products.toml ``renal``)."""
    return str(knowledge().products["products"][product].get("renal", "caution"))
