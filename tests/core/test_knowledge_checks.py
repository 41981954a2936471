"""Knowledge folders that lie: a real copy of the shipped folder, edited, loaded with ``mg.Engine(folder)``.

Every bad folder is refused with a KnowledgeError naming the file and the key, before anything uses it; random
numeric edits either are refused or leave an engine that never makes a decision the shipped checks call impossible.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mgdecision as mg
from mgdecision import knowledge_checks as kc
from mgdecision.errors import KnowledgeError
from mgdecision.json_schema import validate
from mgdecision.kb import load_knowledge

SHIPPED = Path(mg.__file__).parent / "knowledge"
SCHEMA = json.loads((SHIPPED / "schema.json").read_text())


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SHIPPED, folder)
    return folder


def _edit(folder: Path, name: str, change: Callable[[str], str]) -> None:
    path = folder / name
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the edit did not apply"
    path.write_text(after, encoding="utf-8")


def _refused(folder: Path, *needles: str) -> str:
    started = time.monotonic()
    with pytest.raises(KnowledgeError) as caught:
        mg.Engine(folder)
    assert time.monotonic() - started < 10  # refused at once, nothing allocated for it
    message = str(caught.value)
    for needle in needles:
        assert needle in message, message
    return message


def test_the_shipped_folder_loads_and_its_schema_uses_only_checked_keywords() -> None:
    docs = kc.read_folder(SHIPPED)
    assert set(docs) == set(SCHEMA["required"])
    for name, doc in docs.items():
        assert validate(doc, SCHEMA["properties"][name], SCHEMA) == []
    jsonschema = pytest.importorskip("jsonschema")  # a test dependency (not in a WebAssembly interpreter)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(docs, SCHEMA, cls=jsonschema.Draft202012Validator)  # the reference validator agrees


@pytest.mark.parametrize(
    ("name", "change", "needles"),
    [
        # numbers that are not numbers
        (
            "serum.toml",
            lambda t: t.replace('lower = { "mmol/L" = 0.75', 'lower = { "mmol/L" = nan'),
            ("serum.toml", "limits.lower.mmol/L", "not a finite number"),
        ),
        (
            "serum.toml",
            lambda t: t.replace('above = { "mmol/L" = 2.0', 'above = { "mmol/L" = nan'),
            ("serum.toml", "urgent.above.mmol/L", "finite"),
        ),
        (
            "serum.toml",
            lambda t: t.replace('upper = { "mmol/L" = 1.05', 'upper = { "mmol/L" = inf'),
            ("serum.toml", "limits.upper.mmol/L", "finite"),
        ),
        (
            "serum.toml",
            lambda t: t.replace("{ below = 0.5, grade = 2 }", "{ below = nan, grade = 2 }"),
            ("serum.toml", "ctcae_hypo.mmol/L[0].below", "finite"),
        ),
        (
            "serum.toml",
            lambda t: t.replace("{ below = 0.5, grade = 2 }", "{ below = 0.5, grade = nan }"),
            ("serum.toml", "ctcae_hypo.mmol/L[0].grade", "finite"),
        ),
        (
            "risk.toml",
            lambda t: t.replace("loop_diuretic = { points = 2", "loop_diuretic = { points = nan"),
            ("risk.toml", "factors.loop_diuretic.points"),
        ),
        (
            "risk.toml",
            lambda t: t.replace("loop_diuretic = { points = 2", "loop_diuretic = { points = -1e308"),
            ("risk.toml", "factors.loop_diuretic.points"),
        ),
        ("dosing.toml", lambda t: t.replace("max_mg = 350", "max_mg = inf"), ("dosing.toml", "range.max_mg")),
        ("intake.toml", lambda t: t.replace("ul = 350 }", "ul = 1e308 }"), ("intake.toml", "ul.bands[3].ul")),
        # numbers outside what they can mean
        (
            "serum.toml",
            lambda t: t.replace('lower = { "mmol/L" = 0.75', 'lower = { "mmol/L" = 0.2'),
            ("serum.toml", "limits.lower.mmol/L", "plausible"),
        ),
        (
            "serum.toml",
            lambda t: t.replace('"mg/dL" = 1.82', '"mg/dL" = 0.75'),
            ("serum.toml", "limits.lower.mg/dL", "not the 0.75 mmol/L"),
        ),
        (
            "serum.toml",
            lambda t: t.replace("{ below = 0.4, grade = 3 }", "{ below = 0.6, grade = 3 }"),
            ("serum.toml", "ctcae_hypo"),
        ),
        (
            "serum.toml",
            lambda t: t.replace("to_mmol = 0.411437975725159", "to_mmol = 1.0"),
            ("serum.toml", "units.mg/dL.to_mmol"),
        ),
        (
            "serum.toml",
            lambda t: t.replace('"mmol", "mmol/liter"', '"mmol", "mg/dl", "mmol/liter"'),
            ("serum.toml", "units.mmol/L.spellings", "also spells"),
        ),
        ("risk.toml", lambda t: t.replace("moderate_from = 2", "moderate_from = 5"), ("risk.toml", "moderate_from")),
        (
            "contraindications.toml",
            lambda t: t.replace("severe_below = 30", "severe_below = 0.01"),
            ("contraindications.toml", "renal.severe_below"),
        ),
        (
            "intake.toml",
            lambda t: t.replace("{ min = 4.0, max = 9.0, ul = 110 }", "{ min = 5.0, max = 9.0, ul = 110 }"),
            ("intake.toml", "ul.bands[2]"),
        ),
        (
            "interactions.toml",
            lambda t: t.replace("before_h = 2\nafter_h = 6", "before_h = 2\nafter_h = 60"),
            ("interactions.toml", "dolutegravir.after_h"),
        ),
        # unit aliases: a cycle, a chain, a unit the engine cannot halve into
        (
            "serum.toml",
            lambda t: t.replace('"mEq/L" = "mmol/L"\n\n[ctcae_hyper]', '"mEq/L" = "mEq/L"\n\n[ctcae_hyper]'),
            ("serum.toml", "ctcae_hypo.mEq/L"),
        ),
        (
            "serum.toml",
            lambda t: t.replace(
                '"mmol/L" = [{ below = 0.5, grade = 2 }, { below = 0.4, grade = 3 }, { below = 0.3, grade = 4 }]',
                '"mmol/L" = "mEq/L"',
            ),
            ("serum.toml", "ctcae_hypo"),
        ),
        (
            "serum.toml",
            lambda t: t.replace(
                '"mg/dL" = [{ above = 3.0, grade = 3 }, { above = 8.0, grade = 4 }]', '"mg/dL" = "mmol/L"'
            ),
            ("serum.toml", "ctcae_hyper.mg/dL", "halving"),
        ),
        # message formats and conditions
        (
            "rules.toml",
            lambda t: t.replace("{egfr:egfr} below", "{egfr:>1000000000} below"),
            ("rules.toml", "contraindications.fire[6].detail", "width"),
        ),
        (
            "rules.toml",
            lambda t: t.replace("{intake_daily:.0f}", "{intake_daily:.99999999999999999999f}"),
            ("rules.toml", "precision"),
        ),
        (
            "rules.toml",
            lambda t: t.replace('when = "dialysis and not iv_therapy"', 'when = "' + "not " * 250 + 'dialysis"'),
            ("rules.toml", "contraindications.fire[10].when"),
        ),
        (
            "rules.toml",
            lambda t: t.replace(
                'when = "dialysis and not iv_therapy"', 'when = "' + " or ".join(["dialysis"] * 300) + '"'
            ),
            ("rules.toml", "contraindications.fire[10].when"),
        ),
        (
            "rules.toml",
            lambda t: t.replace(
                'when = "dialysis and not iv_therapy"', 'when = "' + "(" * 100_000 + "dialysis" + ")" * 100_000 + '"'
            ),
            ("rules.toml",),
        ),
        (
            "rules.toml",
            lambda t: t.replace(
                'when = "dialysis and not iv_therapy"', 'when = "' + "(" * 30 + "dialysis" + ")" * 30 + '"'
            ),
            ("rules.toml", "nested 30 deep"),
        ),
        # malformed entries
        ("rules.toml", lambda t: t.replace('{ rule = "pregnancy_iv", ', "{ "), ("rules.toml", "misses rule")),
        (
            "rules.toml",
            lambda t: t.replace("urgent_review_grade = 2", 'urgent_review_grade = "2"'),
            ("rules.toml", "dose.urgent_review_grade", "integer"),
        ),
        (
            "risk.toml",
            lambda t: t.replace("[symptom_rule]", "[symptom_rule]\nextra = 1"),
            ("risk.toml", "symptom_rule.extra", "not a known key"),
        ),
        (
            "intake.toml",
            lambda t: t.replace("{ min = 1.0, max = 4.0, ul = 65 }", "{ min = 1.0, ul = 65 }"),
            ("intake.toml", "ul.bands[1]", "misses max"),
        ),
        (
            "dosing.toml",
            lambda t: t.replace("[status.REFER]\n", "[status.REFER]\nfoo = 1\n"),
            ("dosing.toml", "status.REFER.foo"),
        ),
        ("dosing.toml", lambda t: t.replace("oxide = 0.603", "oxide = 60.3"), ("dosing.toml", "elemental.oxide")),
        (
            "sources.toml",
            lambda t: t.replace("[ods]\n", "[ods]\nx = " + "[" * 5000 + "]" * 5000 + "\n"),
            ("sources.toml", "nests"),
        ),
        ("sources.toml", lambda t: t + "\n[" + ".".join(["deep"] * 200) + "]\nx = 1\n", ("sources.toml", "nests")),
        (
            "sources.toml",
            lambda t: t.replace('label = "NIH ODS"', 'label = "' + "x" * 5000 + '"'),
            ("sources.toml", "ods.label", "5,000 characters"),
        ),
        ("sources.toml", lambda t: t + "\n[broken\n", ("sources.toml", "not valid TOML")),
    ],
)
def test_a_folder_that_lies_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, name: str, change: Callable[[str], str], needles: tuple[str, ...]
) -> None:
    folder = _copy(tmp_path)
    _edit(folder, name, change)
    _refused(folder, *needles)


def test_files_that_are_not_text_of_this_folder_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "risk.toml").write_bytes((SHIPPED / "risk.toml").read_text().encode("utf-16"))
    _refused(folder, "risk.toml", "not UTF-8")

    for listed, needle in (
        ("/dev/zero", "not a plain file name"),
        ("../outside.toml", "not a plain file name"),
        ("sources.toml\\x", "not a plain file name"),
        ("extra.toml", "unknown extra.toml"),
    ):
        folder = _copy(tmp_path)
        _edit(
            folder,
            "knowledge.toml",
            lambda t, listed=listed: t.replace('"codes.toml"]', f'"codes.toml", {json.dumps(listed)}]'),
        )
        _refused(folder, "knowledge.toml", needle)
    folder = _copy(tmp_path)
    _edit(folder, "knowledge.toml", lambda t: t.replace(', "rules.toml"', ""))
    _refused(folder, "knowledge.toml", "missing rules.toml")

    folder = _copy(tmp_path)
    with (folder / "sources.toml").open("a") as fh:
        fh.write("\n# padding\n" + "#" * 2_000_000 + "\n")
    _refused(folder, "sources.toml", "at most 1,000,000")
    folder = _copy(tmp_path)
    (folder / "serum.toml").unlink()
    _refused(folder, "serum.toml", "cannot be read")


@pytest.mark.parametrize("kind", ["link out", "link to a device", "pipe"])
def test_a_link_or_a_pipe_in_place_of_a_file_is_refused(tmp_path: Path, kind: str) -> None:
    folder = _copy(tmp_path)
    (folder / "risk.toml").unlink()
    outside = tmp_path / "outside.toml"
    outside.write_text((SHIPPED / "risk.toml").read_text())
    try:
        if kind == "pipe":  # a pipe would block a plain open() forever
            os.mkfifo(folder / "risk.toml")
        else:
            (folder / "risk.toml").symlink_to(outside if kind == "link out" else Path("/dev/zero"))
    except (OSError, NotImplementedError, AttributeError):
        pytest.skip(f"this platform cannot make a {kind}")
    _refused(folder, "risk.toml", "not a plain file" if kind == "pipe" else "is a link")


def test_every_refusal_is_a_knowledge_error_from_load_knowledge_too(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(
        folder,
        "serum.toml",
        lambda t: t.replace('"mEq/L" = "mmol/L"\n\n[ctcae_hyper]', '"mEq/L" = "mg/dL"\n\n[ctcae_hyper]'),
    )
    with pytest.raises(KnowledgeError, match=r"serum\.toml, key ctcae_hypo\.mEq/L"):
        load_knowledge(folder)


# ---------------------------------------------------------------- random numeric edits


_NUMBER = re.compile(r"(?<![\w.\"'])[-+]?(?:\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|inf|nan)(?![\w.\"'])")


def _number_spans(text: str) -> list[tuple[int, int]]:
    """Where the numeric values of a TOML text are: outside strings, comments and keys."""
    spans = []
    offset = 0
    for line in text.splitlines(keepends=True):
        masked = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', lambda m: " " * len(m.group()), line)
        masked = masked.split("#", 1)[0]
        for match in _NUMBER.finditer(masked):
            before = masked[: match.start()].rstrip()
            if before.endswith(("=", "[", ",")):  # a value, not part of a key
                spans.append((offset + match.start(), offset + match.end()))
        offset += len(line)
    return spans


NUMERIC_FILES = [
    "serum.toml",
    "intake.toml",
    "risk.toml",
    "contraindications.toml",
    "dosing.toml",
    "interactions.toml",
    "rules.toml",
    "fields.toml",
]
_SPANS = {name: _number_spans((SHIPPED / name).read_text(encoding="utf-8")) for name in NUMERIC_FILES}
replacement = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "+inf", "0", "-1", "1e308", "-1e308", "9" * 30, "0.0", "1", "4", "2.5"]),
    st.integers(-10_000, 10_000).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.floats(0.5, 1.6).map(lambda f: f"*{f!r}"),  # a plausible edit: the value scaled
)
edits = st.lists(st.tuples(st.sampled_from(NUMERIC_FILES), st.integers(0, 10_000), replacement), min_size=1, max_size=4)
LOW = [
    {"age": 50, "sex": "F", "serum_mg": "0.3 mmol/L"},
    {"age": 8, "serum_mg": "0.7 mg/dL", "egfr": 90},
    {"age": 70, "sex": "M", "serum_mg": "0.6 mEq/L", "egfr": 80, "medications": "omeprazole"},
    {"age": 0.5, "serum_mg": "0.3 mmol/L"},
    {"serum_mg": "0.3 mmol/L"},
]
HIGH = [
    {"age": 50, "serum_mg": "3.5 mmol/L"},
    {"age": 30, "sex": "F", "serum_mg": "8.5 mg/dL"},
    {"age": 60, "serum_mg": "7 mEq/L", "egfr": 20},
    {"serum_mg": "3.5 mmol/L"},
]
NOT_A_NUMBER = re.compile(r"\b(?:nan|inf|infinity)\b", re.IGNORECASE)


def _apply(text: str, spans: list[tuple[int, int]], picks: list[tuple[int, str]]) -> str:
    chosen = {}
    for k, value in picks:
        a, b = spans[k % len(spans)]
        if value.startswith("*"):
            original = text[a:b].replace("_", "")
            try:
                scaled = float(original) * float(value[1:])
            except ValueError:
                continue
            value = repr(round(scaled)) if re.fullmatch(r"[-+]?\d+", original) else repr(scaled)
        chosen[a, b] = value
    for (a, b), value in sorted(chosen.items(), reverse=True):
        text = text[:a] + value + text[b:]
    return text


EXAMPLES = int(os.environ.get("MG_KNOWLEDGE_EXAMPLES", "150"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits)
def test_random_numeric_edits_are_refused_or_never_make_an_impossible_decision(tmp_path: Path, picks) -> None:
    folder = _copy(tmp_path)
    by_file: dict[str, list[tuple[int, str]]] = {}
    for name, k, value in picks:
        by_file.setdefault(name, []).append((k, value))
    for name, chosen in by_file.items():
        path = folder / name
        path.write_text(_apply(path.read_text(encoding="utf-8"), _SPANS[name], chosen), encoding="utf-8")
    try:
        engine = mg.Engine(folder)
    except KnowledgeError:
        return  # refused, as it should be when the edit makes no sense
    rows = [*LOW, *HIGH]
    assessed = [engine.assess(row).row() for row in rows]
    framed = engine.assess_frame(pd.DataFrame(rows)).to_dict("records")
    for found in (assessed, framed):
        for row, out in zip(rows, found, strict=True):
            for column in ("mg_dose", "mg_reasons", "mg_form", "mg_interactions"):
                assert not NOT_A_NUMBER.search(str(out[column])), (row, column, out[column])
            for column in ("mg_dose_min_mg", "mg_dose_max_mg"):
                value = out[column]
                assert value is None or math.isnan(value) or 0 <= value <= 10_000, (row, column, value)
        for row, out in zip(LOW, found[: len(LOW)], strict=True):
            assert out["mg_risk"] == "HIGH", (row, out["mg_risk"], out["mg_reasons"])
            assert out["mg_dose_status"] not in ("NOT_INDICATED", "RECOMMENDED"), (row, out["mg_dose"])
        for row, out in zip(HIGH, found[len(LOW) :], strict=True):
            assert out["mg_contraindication"] == "CONTRAINDICATED", (row, out["mg_reasons"])


def test_the_numeric_edits_reach_every_number_of_those_files() -> None:
    for name, spans in _SPANS.items():
        text = (SHIPPED / name).read_text(encoding="utf-8")
        doc = tomllib.loads(text)
        numbers = [v for _, v, _ in kc._walk(doc) if isinstance(v, int | float) and not isinstance(v, bool)]
        assert len(spans) == len(numbers), name


def test_the_named_formats_the_checks_allow_are_the_engines():
    from mgdecision.engine.expr import NAMED_FORMATS
    from mgdecision.knowledge_checks import NAMED_FORMATS as CHECKED

    assert set(CHECKED) == set(NAMED_FORMATS)
