"""Codes as knowledge data (knowledge/codes*.toml, mgdecision/terminology.py) and coded list items
(terms.parse_items): every code well formed and sourced, a code read by its code, never split, and a valid code
outside the knowledge not relevant rather than an input problem."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.errors import KnowledgeError
from mgdecision.kb import knowledge
from mgdecision.terminology import ICD10, LOINC, RXNORM, SNOMED, Coding, is_valid, load_terminology, terminology
from mgdecision.terms import parse_items
from mgdecision.vocab import ProblemCode

KNOWLEDGE = Path(mg.__file__).parent / "knowledge"


def _code_files() -> dict[str, dict]:
    names = [p.name for p in KNOWLEDGE.glob("codes*.toml")]
    return {n: tomllib.loads((KNOWLEDGE / n).read_text()) for n in names}


@pytest.mark.parametrize(
    ("system", "code", "valid"),
    [
        (SNOMED, "91637004", True), (SNOMED, "91637005", False), (SNOMED, "138875005", True), (SNOMED, "0123", False),
        (SNOMED, "140031000119103", True), (LOINC, "2601-3", True), (LOINC, "2601-4", False),
        (LOINC, "19123-9", True), (LOINC, "21377-7", True), (LOINC, "98979-8", True), (LOINC, "26013", False),
        (RXNORM, "4603", True), (RXNORM, "46o3", False), (RXNORM, "", False), (ICD10[0], "R73.03", True),
        (ICD10[0], "R7", False), ("urn:local", "anything", True),
    ],
)
def test_codes_are_checked_by_their_own_check_digit(system: str, code: str, valid: bool) -> None:
    assert is_valid(system, code) is valid


def test_every_code_is_well_formed_tied_to_a_concept_and_a_source() -> None:
    kb = knowledge()
    files = _code_files()
    systems = {**{k: v for d in files.values() for k, v in d.get("systems", {}).items()}}
    sources = {**kb.sources, **{k: v for d in files.values() for k, v in d.get("sources", {}).items()}}
    shipped = tomllib.loads((KNOWLEDGE / "knowledge.toml").read_text())["files"]
    count = 0
    for name, data in files.items():
        for key, by_system in data.get("concepts", {}).items():
            if name in shipped:
                assert key in kb.concepts, key
            for short, rows in by_system.items():
                for code, display, source in rows:
                    assert is_valid(systems[short], code), (key, code)
                    assert display and source in sources, (key, code, source)
                    count += 1
        for rows in data.get("labs", {}).values():
            for code, display, _kind, source in rows["loinc"]:
                assert is_valid(LOINC, code) and display and source in sources
                count += 1
    assert count >= 200
    for source in [s for d in files.values() for s in d.get("sources", {}).values()]:
        assert source["url"].startswith("http") and source["grade"] in "PSL"


def test_the_codes_the_fhir_reader_needs_are_there() -> None:
    term = terminology()
    assert set(term.lab_codes("egfr")) >= {"33914-3", "48642-3", "48643-1", "62238-1", "98979-8", "88293-6",
                                           "88294-4", "69405-9", "50044-7", "77147-7", "98980-6", "50210-4"}
    assert term.lab_codes("serum_mg") == ("19123-9", "2601-3") and term.lab_codes("whole_blood_mg") == ("21377-7",)
    assert {"2160-0", "14682-9"} <= set(term.lab_codes("creatinine"))
    for concept in ("myasthenia_gravis", "hypermagnesaemia", "ckd_severe", "dialysis", "aki", "heart_block_high",
                    "multiple_sclerosis", "t2d", "crohns"):
        assert any(c.target == f"condition:{concept}" and c.system == SNOMED for c in term.codes.values()), concept
    for drug in ("furosemide", "omeprazole", "digoxin", "ciprofloxacin", "tacrolimus", "simvastatin"):
        assert any(c.target == f"drug:{drug}" and c.system == RXNORM for c in term.codes.values()), drug


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE, folder)
    return folder


def test_the_loader_refuses_a_code_of_an_unknown_concept_a_bad_code_or_source(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    codes = folder / "codes.toml"
    text = codes.read_text()
    codes.write_text(text + '\n[concepts."condition:no_such_thing"]\nsnomed = [["91637004", "x", "snomed_ct"]]\n')
    with pytest.raises(KnowledgeError, match="no such concept"):
        load_terminology(folder)
    codes.write_text(text.replace('"91637004", "Myasthenia gravis"', '"91637005", "Myasthenia gravis"'))
    with pytest.raises(KnowledgeError, match="not a valid code"):
        load_terminology(folder)
    codes.write_text(text.replace('["91637004", "Myasthenia gravis", "snomed_ct"]',
                                  '["91637004", "Myasthenia gravis", "nowhere"]'))
    with pytest.raises(KnowledgeError, match="unknown source"):
        load_terminology(folder)
    codes.write_text(text.replace('"24700007", "Multiple sclerosis"', '"91637004", "Multiple sclerosis"'))
    with pytest.raises(KnowledgeError, match="given to"):
        load_terminology(folder)


def _keys(items: list, field: str = "diagnoses") -> list[str]:
    return [c.key for c, _, _ in parse_items(field, items).concepts]


def test_a_known_code_decides_whatever_its_display() -> None:
    assert _keys([Coding(SNOMED, "91637004")]) == ["condition:myasthenia_gravis"]
    assert _keys([Coding(SNOMED, "91637004", "Some misspelt thing")]) == ["condition:myasthenia_gravis"]
    assert _keys([Coding(RXNORM, "316672", "Simvistatin 10 MG")], "medications") == ["drug:simvastatin"]
    assert _keys([{"system": RXNORM, "code": "1719286"}], "medications") == ["drug:furosemide"]
    assert _keys([(ICD10[0], "G70.00", "")]) == ["condition:myasthenia_gravis"]


def test_a_valid_code_outside_the_knowledge_is_not_relevant_and_its_display_not_split() -> None:
    t = parse_items("diagnoses", [Coding(ICD10[0], "R73.03", "Prediabetes"),
                                  Coding(SNOMED, "444814009", "Viral sinusitis (disorder)"),
                                  Coding(SNOMED, "74400008", "Appendicitis")])
    assert t.concepts == () and t.problems == () and t.unrecognized == ()
    assert t.not_relevant == ("Prediabetes", "Viral sinusitis (disorder)", "Appendicitis")
    meds = parse_items("medications", [Coding(RXNORM, "1234567", "10 ML Furosemide 10 MG/ML Injection"),
                                       Coding(RXNORM, "7654321", "25 mcg/hour patch / Medication/uscore-med2")])
    assert [c.key for c, _, _ in meds.concepts] == ["drug:furosemide"] and meds.problems == ()
    assert meds.not_relevant == ("25 mcg/hour patch / Medication/uscore-med2",)


def test_bad_codes_and_items_are_input_problems() -> None:
    t = parse_items("diagnoses", [Coding(SNOMED, "91637005"), Coding("", "", ""), 42, Coding("urn:x", "1", "")])
    assert [p.code for p in t.problems] == [ProblemCode.UNRECOGNIZED_CODE, ProblemCode.UNREADABLE,
                                            ProblemCode.UNRECOGNIZED_CODE]
    t = parse_items("diagnoses", [Coding("urn:local", "77", "xyzzy disease")])  # a local code: its display is read
    assert t.unrecognized == ("xyzzy disease",)
    t = parse_items("diagnoses", [Coding(SNOMED, "91637005", "myasthenia gravis")])  # a bad code: its display
    assert [c.key for c, _, _ in t.concepts] == ["condition:myasthenia_gravis"]


def test_text_items_are_never_split_and_rows_take_lists() -> None:
    assert _keys(["Crohn's disease, small intestine"]) == ["condition:crohns"]
    a = mg.assess({"age": 60, "sex": "F", "diagnoses": [Coding(SNOMED, "91637004")],
                   "medications": [Coding(RXNORM, "316672", "Simvistatin 10 MG"), "Mag-Ox 400 BID"]})
    b = mg.assess({"age": 60, "sex": "F", "diagnoses": "myasthenia gravis", "medications": "simvastatin; Mag-Ox"})
    assert a.contraindication.level == b.contraindication.level == mg.ContraLevel.CONTRAINDICATED
    assert a.problems == () and a.dose.status == b.dose.status
    single = mg.assess({"age": 60, "diagnoses": Coding(SNOMED, "91637004")})
    assert single.contraindication.level == mg.ContraLevel.CONTRAINDICATED


@pytest.mark.parametrize(("system", "code", "concept"), [
    (RXNORM, "316049", "drug:hydrochlorothiazide"),  # "Hydrochlorothiazide 25 MG", as an earlier Synthea wrote it
    (RXNORM, "315971", "drug:furosemide"),  # "Lasix 40mg"
    (SNOMED, "368581000119106", "condition:t2d"),  # neuropathy due to type 2 diabetes
    (SNOMED, "72892002", "condition:pregnancy"),  # normal pregnancy
])
def test_codes_of_earlier_synthea_records_are_read_without_their_display(system: str, code: str,
                                                                          concept: str) -> None:
    assert terminology().concepts_of(system, code) == (concept,)
    assert _keys([Coding(system, code, "")], "medications" if system == RXNORM else "diagnoses") == [concept]
