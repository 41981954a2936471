"""The knowledge files against their JSON Schema, and every ICD-10-CM code against the official code list."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import jsonschema
import pytest
import simple_icd_10_cm as icd

import mgdecision as mg

KNOWLEDGE_DIR = Path(mg.__file__).parent / "knowledge"
SCHEMA = json.loads((KNOWLEDGE_DIR / "schema.json").read_text())
# Chapter letters used as prefixes on purpose (every code of the chapter is recognised, with no rule):
# C neoplasms, H eye and ear, L skin. They are not codes, so the official list does not hold them.
CHAPTER_PREFIXES = {"C", "H", "L"}


def _files(folder: Path = KNOWLEDGE_DIR) -> dict[str, object]:
    names = tomllib.loads((folder / "knowledge.toml").read_text())["files"]
    return {name: tomllib.loads((folder / name).read_text()) for name in ["knowledge.toml", *names]}


def test_the_knowledge_files_match_their_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(_files(), SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_schema_refuses_a_misspelt_key_and_a_bad_level(tmp_path):
    folder = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    contra = folder / "contraindications.toml"
    contra.write_text(contra.read_text().replace('level = "CAUTION"', 'level = "WARNING"', 1))
    with pytest.raises(jsonschema.ValidationError, match="WARNING"):
        jsonschema.validate(_files(folder), SCHEMA)
    contra.write_text((KNOWLEDGE_DIR / "contraindications.toml").read_text().replace("text =", "txt =", 1))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_files(folder), SCHEMA)


def _codes() -> list[tuple[str, str]]:
    conditions = tomllib.loads((KNOWLEDGE_DIR / "conditions.toml").read_text())
    return [
        (cid, code)
        for cid, entry in conditions.items()
        if isinstance(entry, dict) and cid != "ambiguous"
        for code in (*entry.get("codes", ()), *entry.get("exact_codes", ()))
    ]


def test_every_icd10_code_is_in_the_official_code_list():
    unknown = [(cid, code) for cid, code in _codes() if code not in CHAPTER_PREFIXES and not icd.is_valid_item(code)]
    assert unknown == []


@pytest.mark.parametrize(
    ("concept", "words"),
    [
        ("myasthenia_gravis", "myasthenia gravis"),
        ("lems", "lambert-eaton"),
        ("hypermagnesaemia", "hypermagnesemia"),
        ("hypomagnesaemia", "hypomagnesemia|magnesium deficiency"),
        ("ckd_3", "stage 3"),
        ("ckd_severe", "kidney disease, stage 4|stage 5|end stage renal"),
        ("dialysis", "dialysis"),
        ("aki", "acute kidney failure"),
        ("heart_block_high", "atrioventricular block"),
        ("myocardial_damage", "myocardial infarction|myocarditis"),
        ("multiple_sclerosis", "multiple sclerosis"),
        ("t2d", "type 2 diabetes"),
        ("alcohol_use_disorder", "alcohol dependence"),
    ],
)
def test_codes_behind_a_rule_mean_what_the_rule_says(concept, words):
    """The official description of each code behind a contraindication or risk factor names its condition."""
    for cid, code in _codes():
        if cid == concept:
            description = icd.get_description(code).lower()
            assert any(w in description for w in words.split("|")), (code, description)
