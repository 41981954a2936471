"""The knowledge base is data: every file loads, every cross-reference resolves, every entry cites a source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.kb import load_knowledge

KNOWLEDGE_DIR = Path(mg.__file__).parent / "knowledge"


def test_every_source_has_label_url_and_grade():
    for sid, s in mg.knowledge().sources.items():
        assert s.label and s.grade in {"P", "S", "L"}, sid
        assert s.url.startswith("http") or (sid == "mg_rules" and s.url == ""), sid  # the product's own rules


def test_every_source_is_cited_somewhere():
    text = "\n".join(p.read_text() for p in KNOWLEDGE_DIR.glob("*.toml") if p.name != "sources.toml")
    unused = [sid for sid in mg.knowledge().sources if f'"{sid}"' not in text]
    assert unused == []


def test_broken_reference_is_refused(tmp_path):
    folder = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    risk = folder / "risk.toml"
    risk.write_text(risk.read_text().replace('source = ["fda_ppi_2011"]', 'source = ["no_such_source"]'))
    with pytest.raises(mg.KnowledgeError, match="no_such_source"):
        load_knowledge(folder)


def test_changing_a_threshold_is_a_data_edit(tmp_path):
    folder = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    contra = folder / "contraindications.toml"
    contra.write_text(contra.read_text().replace("severe_below = 30", "severe_below = 20"))
    assert load_knowledge(folder).contraindications["renal"]["severe_below"] == 20


def test_elemental_fractions_match_the_fact_sheet():
    el = mg.knowledge().dosing["elemental"]
    assert (el["oxide"], el["citrate"], el["glycinate"], el["malate"]) == (0.603, 0.162, 0.141, 0.155)


def test_brand_names_from_the_specification_are_known():
    names = mg.knowledge().drug_names
    for brand in [
        "tivicay",
        "triumeq",
        "dovato",
        "juluca",
        "biktarvy",
        "isentress",
        "vibramycin",
        "doryx",
        "minocin",
        "cipro",
        "levaquin",
        "avelox",
        "fosamax",
        "actonel",
        "boniva",
        "synthroid",
        "levoxyl",
        "euthyrox",
        "promacta",
        "revolade",
        "neurontin",
        "cellcept",
        "myfortic",
        "lanoxin",
        "aldactone",
        "prilosec",
        "mestinon",
    ]:
        assert brand in names, brand
