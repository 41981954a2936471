"""Load the golden cases (tests/core/cases/*.yaml) and check an assessment against a case's expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


def mismatches(a: Any, expect: dict[str, Any]) -> list[str]:
    """Every expectation the assessment ``a`` does not meet (empty list = the case passes)."""
    row = a.row()
    bad: list[str] = []

    def check(ok: bool, key: str, want: Any, got: Any) -> None:
        if not ok:
            bad.append(f"{key}: expected {want!r}, got {got!r}")

    for key, want in expect.items():
        if key in row:
            got = row[key]
            check(got == want or (isinstance(want, (int, float)) and got == float(want)), key, want, got)
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
        elif key == "reasons_order":
            text = row["mg_reasons"]
            at = [text.find(w) for w in want]
            check(-1 not in at and at == sorted(at), key, want, text)
        elif key == "first_card":
            first = a.cards[0]
            check(first.indicator == want[0] and want[1] in first.summary, key, want, (first.indicator, first.summary))
        elif key == "card":
            cards = [(c.indicator, c.summary) for c in a.cards]
            check(any(i == want[0] and want[1] in t for i, t in cards), key, want, cards)
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
