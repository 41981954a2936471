"""Load the golden cases (tests/core/cases/*.yaml) and check an assessment against a case's expectations."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"

SUMMARY_MAX = 140  # a CDS Hooks card summary is at most 140 characters
_ELLIPSES = ("…", "...")


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


def _texts(want: Any) -> list[str]:
    return [want] if isinstance(want, str) else list(want)


def all_text(a: Any) -> str:
    """Everything the row says: its text columns, every card summary and detail."""
    parts = [v for v in a.row().values() if isinstance(v, str)]
    parts += [t for c in a.cards for t in (c.summary, c.detail)]
    return "\n".join(parts)


def cut_mid_word(summary: str, full_texts: list[str]) -> bool:
    """True when a shortened summary ends inside a word: its last word before the ellipsis occurs as a whole
    word in none of the full texts (a summary cut at a word boundary ends on a word the full text holds)."""
    stem = summary.rstrip()
    for ellipsis in _ELLIPSES:
        if stem.endswith(ellipsis):
            stem = stem[: -len(ellipsis)].rstrip()
            break
    else:
        return False
    last = re.search(r"(\w+)$", stem)
    if last is None:
        return False
    word = re.compile(rf"(?<!\w){re.escape(last.group(1))}(?!\w)")
    return not any(word.search(text) for text in full_texts)


def _reason_segments(reasons: str) -> list[str]:
    """The single reasons of an mg_reasons cell (groups split on " | ", reasons on "; ")."""
    segments = []
    reasons = re.sub(r"\s*\[[^\[\]]*\]", "", reasons)  # the source labels: one source may back several reasons
    for group in reasons.split(" | "):
        group = re.sub(r"^(Risk|Contraindication|Dose): [A-Za-z ]+? - ", "", group)  # "Risk: High - "
        segments += [s.strip() for s in group.split("; ") if len(s.strip()) >= 20]
    return segments


def _special_checks(a: Any, row: dict[str, Any]) -> dict[str, Callable[[Any], tuple[bool, Any]]]:
    """Expectation keys beyond the output columns: key -> check(want) -> (ok, what was found)."""
    rules = list(a.contraindication.rules)
    codes = sorted({str(p.code) for p in a.problems})
    summaries = [(str(c.indicator), c.summary) for c in a.cards]
    with_detail = [(str(c.indicator), c.summary + "\n" + c.detail, c.topic) for c in a.cards]
    dose_cards = [(str(c.indicator), c.summary + "\n" + c.detail) for c in a.cards if c.topic == "dose"]

    def whole_words(want: bool) -> tuple[bool, Any]:
        full = [c.detail for c in a.cards] + [v for k, v in row.items() if isinstance(v, str) and k != "mg_reasons"]
        bad = [s for _, s in summaries if len(s) > SUMMARY_MAX or cut_mid_word(s, full)]
        return (not bad) == bool(want), bad

    def reasons_unique(want: bool) -> tuple[bool, Any]:
        repeated = [s for s, n in Counter(_reason_segments(row["mg_reasons"])).items() if n > 1]
        return (not repeated) == bool(want), repeated

    return {
        "fired_contains": lambda want: (all(r in rules for r in want), rules),
        "fired_not_contains": lambda want: (not any(r in rules for r in want), rules),
        "problem_codes_contains": lambda want: (all(c in codes for c in want), codes),
        "card_contains": lambda want: (  # [indicator, text] or [indicator, text, topic]
            any(i == want[0] and want[1] in t and topic == (want[2:] or [topic])[0] for i, t, topic in with_detail),
            summaries,
        ),
        "no_card_contains": lambda want: (not any(want in s for _, s in summaries), summaries),
        "dose_card": lambda want: (
            len(dose_cards) == 1 and dose_cards[0][0] == want[0] and want[1] in dose_cards[0][1],
            dose_cards,
        ),
        "summaries_whole_words": whole_words,
        "mg_reasons_max_len": lambda want: (len(row["mg_reasons"]) <= want, len(row["mg_reasons"])),
        "reasons_unique": reasons_unique,
        "text_contains": lambda want: (all(t in all_text(a) for t in _texts(want)), all_text(a)),
        "text_not_contains": lambda want: (not any(t in all_text(a) for t in _texts(want)), all_text(a)),
        "unrecognized_not_contains": lambda want: (want not in a.unrecognized, list(a.unrecognized)),
    }


def mismatches(a: Any, expect: dict[str, Any]) -> list[str]:
    """Every expectation the assessment ``a`` does not meet (empty list = the case passes)."""
    row = a.row()
    bad: list[str] = []
    special = _special_checks(a, row)

    def check(ok: bool, key: str, want: Any, got: Any) -> None:
        if not ok:
            bad.append(f"{key}: expected {want!r}, got {got!r}")

    def column(key: str, suffix: str) -> str | None:
        col = key.removesuffix(suffix)
        if col not in row:
            bad.append(f"unknown expectation key {key!r}")
            return None
        return col

    for key, want in expect.items():
        if key in special:
            ok, got = special[key](want)
            check(ok, key, want, got)
        elif key in row:
            got = row[key]
            check(got == want or (isinstance(want, (int, float)) and got == float(want)), key, want, got)
        elif key.endswith("_startswith"):
            if col := column(key, "_startswith"):
                check(str(row[col]).lower().startswith(want.lower()), key, want, row[col])
        elif key.endswith("_contains_any"):
            if col := column(key, "_contains_any"):
                check(any(w in row[col] for w in want), key, want, row[col])
        elif key.endswith("_not_contains"):
            col = key.removesuffix("_not_contains")
            check(want not in row[col], key, want, row[col])
        elif key.endswith("_contains"):
            col = key.removesuffix("_contains")
            check(want in row[col], key, want, row[col])
        elif key == "ctcae_grade":
            check(a.risk.ctcae_grade == want, key, want, a.risk.ctcae_grade)
        elif key == "risk_points":
            check(a.risk.points == want, key, want, a.risk.points)
        elif key == "rda":
            check(a.dose.rda_mg == want, key, want, a.dose.rda_mg)
        elif key == "ul":
            check(a.dose.ul_mg == want, key, want, a.dose.ul_mg)
        elif key == "problem_codes":
            got_codes = sorted({str(p.code) for p in a.problems})
            check(got_codes == sorted(set(want)), key, sorted(set(want)), got_codes)
        elif key == "unrecognized":
            check(list(a.unrecognized) == want, key, want, list(a.unrecognized))
        elif key == "interactions":
            texts = [str(i) for i in a.interactions]
            ok = len(texts) == len(want) and all(any(t.startswith(w) for t in texts) for w in want)
            check(ok, key, want, texts)
        elif key == "interactions_order":
            check([i.severity for i in a.interactions] == want, key, want, [i.severity for i in a.interactions])
        elif key == "fired":
            check(list(a.contraindication.rules) == want, key, want, list(a.contraindication.rules))
        elif key == "reasons_order":  # in the full reasons (the mg_reasons cell is capped)
            text = a.reasons_text()
            at = [text.find(w) for w in want]
            check(-1 not in at and at == sorted(at), key, want, text)
        elif key == "first_card":
            first = a.cards[0]
            ok = first.indicator == want[0] and want[1].lower() in first.summary.lower()  # capitals are presentation
            check(ok, key, want, (first.indicator, first.summary))
        elif key == "card":
            cards = [(c.indicator, c.summary) for c in a.cards]
            check(any(i == want[0] and want[1].lower() in t.lower() for i, t in cards), key, want, cards)
        elif key == "drugs":
            check(
                [(i.drug, i.as_written) for i in a.interactions] == [tuple(x) for x in want],
                key,
                want,
                [(i.drug, i.as_written) for i in a.interactions],
            )
        elif key == "hours":
            got_hours = [a.interactions[0].before_h, a.interactions[0].after_h] if a.interactions else None
            check(got_hours == want, key, want, got_hours)
        else:
            bad.append(f"unknown expectation key {key!r}")
    return bad
