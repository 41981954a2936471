"""The condition language of rules.toml: parsed without eval, the same answer row by row and column by column."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mgdecision.engine.expr import Template, parse
from mgdecision.errors import KnowledgeError

CONSTANTS = {"renal": {"severe_below": 30, "moderate_band": "30-59"}}
CONDITIONS = [
    "egfr < renal.severe_below",
    "egfr >= 30 and egfr < 60",
    "not dialysis",
    "dialysis or egfr < 15",
    "not (dialysis or egfr < 15) and route == 'iv'",
    "route != 'iv'",
    "known(egfr) and not known(age)",
    "age >= 1 and dose > ul",
    "true",
    "false or (pregnant and route == 'iv')",
    "fired(aki) or listed(k) and egfr < 60",
]
VALUES = {
    "egfr": [math.nan, 10.0, 15.0, 29.9, 30.0, 59.0, 60.0],
    "dialysis": [False, True],
    "route": ["oral", "iv"],
    "age": [math.nan, 0.5, 1.0, 40.0],
    "dose": [math.nan, 0.0, 400.0],
    "ul": [math.nan, 350.0],
    "pregnant": [False, True],
}


def _facts(row: dict[str, object]) -> dict[str, object]:
    out = dict(row)
    for name in ("egfr", "age"):
        value = row[name]
        out[f"known:{name}"] = not (isinstance(value, float) and math.isnan(value))
    out["fired:aki"] = row["dialysis"]
    out["listed:k"] = row["pregnant"]
    return out


ROWS = [_facts(dict(zip(VALUES, combo, strict=True))) for combo in itertools.product(*VALUES.values())]


@pytest.mark.parametrize("text", CONDITIONS)
def test_row_and_column_executions_agree(text):
    condition = parse(text, CONSTANTS)
    columns = {name: np.asarray([r[name] for r in ROWS], dtype=object if name == "route" else None) for name in ROWS[0]}
    got = condition.column(columns, len(ROWS))
    assert got.dtype == bool and len(got) == len(ROWS)
    assert [bool(condition.row(r)) for r in ROWS] == got.tolist()


def test_a_missing_number_makes_every_comparison_false():
    for op in ("<", "<=", ">", ">=", "=="):
        condition = parse(f"egfr {op} 30", CONSTANTS)
        assert not condition.row({"egfr": math.nan})
        assert not condition.column({"egfr": np.array([np.nan])}, 1)[0]


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    condition = parse("a or b and not c", {})
    assert condition.tree == ("or", ("fact", "a"), ("and", ("fact", "b"), ("not", ("fact", "c"))))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "egfr.__class__ < 1",
        "egfr < 30)",
        "(egfr < 30",
        "egfr < < 30",
        "egfr < 30 30",
        "lambda: 1",
        "egfr[0] < 1",
        "'a' + 'b'",
        'egfr < "30"',
        "open(x)",
        "",
    ],
)
def test_anything_outside_the_language_is_refused(text):
    with pytest.raises(KnowledgeError):
        parse(text, CONSTANTS)


def test_templates_format_facts_and_constants_and_nothing_else():
    t = Template("eGFR {egfr:g} below {renal.severe_below} ({renal.moderate_band})", CONSTANTS)
    assert t.names == ("egfr",)
    assert t.format({"egfr": 25.0}) == "eGFR 25 below 30 (30-59)"
    for bad in ("{egfr.__class__}", "{egfr!r}", "{egfr[0]}", "{0}", "{}"):
        with pytest.raises(KnowledgeError):
            Template(bad, CONSTANTS)


def test_a_template_remembers_what_it_made_only_for_values_shown_alike():
    """True equals 1 but is not shown alike; -0.0 reads as 0 either way."""
    t = Template("on {x:g} mg/day, {y}", {})
    assert t.format({"x": 0.0, "y": 1}) == "on 0 mg/day, 1"
    assert t.format({"x": -0.0, "y": True}) == "on 0 mg/day, True"
    assert Template("on {x:g} mg/day", {}).format({"x": -0.0}) == "on 0 mg/day"
