"""The public API is pinned; the core imports no front-end library; errors never escape for bad data."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import mgdecision as mg

EXPECTED_API = [
    "Assessment",
    "COLUMNS",
    "Card",
    "Coding",
    "ContraLevel",
    "Contraindication",
    "Dose",
    "DoseStatus",
    "Engine",
    "FHIR_ATTENTION",
    "FhirError",
    "FhirNote",
    "FhirOrder",
    "FhirRow",
    "Form",
    "HeaderMap",
    "Indicator",
    "Interaction",
    "KNOWLEDGE_VERSION",
    "Knowledge",
    "KnowledgeError",
    "MgDecisionError",
    "MissingExtra",
    "Problem",
    "ProblemCode",
    "Reason",
    "Risk",
    "RiskLevel",
    "SerumStatus",
    "Severity",
    "TableAssessment",
    "UsageError",
    "__version__",
    "assess",
    "assess_columns",
    "assess_frame",
    "assess_table",
    "convert_serum",
    "elemental_mg",
    "failure_cases",
    "from_fhir",
    "knowledge",
    "map_headers",
    "rda_mg",
    "requires_extra",
    "rulebook",
    "serum_status",
    "split_items",
    "terminology",
    "ul_mg",
]


def test_public_api_is_pinned():
    assert sorted(mg.__all__) == sorted(EXPECTED_API)
    for name in mg.__all__:
        assert hasattr(mg, name), name


def test_output_columns_match_the_specification():
    assert mg.COLUMNS == (
        "mg_decision",  # the decision first, in plain words (clinical-rules 9.9)
        "mg_risk",
        "mg_contraindication",
        "mg_dose_status",
        "mg_dose_min_mg",
        "mg_dose_max_mg",
        "mg_dose",
        "mg_interactions",
        "mg_form",
        "mg_reasons",
        "mg_input_problems",
    )


def test_core_imports_no_front_end_library():
    code = (
        "import sys, mgdecision as mg; mg.assess({'age': 50}); "
        "bad = [m for m in ('ipywidgets', 'xlwings', 'openpyxl', 'xlsxwriter', 'voila', 'fastapi', 'uvicorn') "
        "if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exception_hierarchy():
    assert issubclass(mg.KnowledgeError, mg.MgDecisionError)
    assert issubclass(mg.UsageError, mg.MgDecisionError)
    assert issubclass(mg.FhirError, mg.MgDecisionError) and issubclass(mg.FhirError, ValueError)
    assert issubclass(mg.MissingExtra, mg.UsageError)
    with pytest.raises(mg.UsageError):
        mg.assess(42)  # type: ignore[arg-type]
    with pytest.raises(mg.UsageError):
        mg.assess_frame(pd.DataFrame({"foo": [1], "bar": [2]}))


def test_knowledge_version_travels_with_results():
    assert mg.assess({"age": 40}).knowledge_version == mg.KNOWLEDGE_VERSION == mg.knowledge().version


def test_helpers():
    assert mg.rda_mg(40, "F") == 320 and mg.rda_mg(40, "M") == 420 and mg.rda_mg(25, "F", pregnant=True) == 350
    assert mg.rda_mg(0.3, None) == 30 and mg.rda_mg(40, None) is None
    assert [mg.ul_mg(a) for a in (0.5, 1, 3.9, 4, 8, 9, 40)] == [None, 65, 65, 110, 110, 350, 350]
    with pytest.raises(ValueError):
        mg.convert_serum(1, "mg/L", "mmol/L")
    with pytest.raises(ValueError):
        mg.elemental_mg("unobtainium", 100)


def test_assessment_renders_text_html_and_cards():
    a = mg.assess({"age": 52, "serum_mg": "0.45 mmol/L", "medications": "Vibramycin", "diagnoses": "xyz"})
    assert "[CRITICAL]" in str(a)
    html = a._repr_html_()
    assert 'role="status"' in html and 'data-indicator="critical"' in html and "<details>" in html
    bundle = a._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "application/json"}
    indicators = [c.indicator for c in a.cards]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert indicators == sorted(indicators, key=order.__getitem__)
    assert all(c.to_dict()["source"]["label"] for c in a.cards)


@pytest.mark.parametrize(
    ("field", "cell"),
    [("egfr", [45]), ("medications", {"drug": "furosemide"}), ("medications", pd.Series([1, 2])),
     ("medications", bytearray(b"x"))],
)
def test_a_cell_that_is_a_container_is_reported_not_dropped(field, cell):
    """A list field takes a list of items (terms.parse_items); any other container is reported."""
    a = mg.assess({"age": 52, "sex": "F", field: cell})
    codes = {(p.field, p.code) for p in a.problems}
    assert (field, mg.ProblemCode.UNREADABLE) in codes
    assert field in a.row()["mg_input_problems"]


def test_rows_sharing_their_keys_do_not_share_problems():
    first = mg.assess({"age": "abc", "sex": "F"})
    second = mg.assess({"age": 40, "sex": "F"})
    assert [p.field for p in first.problems] == ["age"]
    assert second.problems == ()


def test_a_boolean_is_never_read_as_the_number_it_equals():
    """TRUE == 1 in Python; a cached reading of one must not be handed to the other (a dose of TRUE is not 1 mg)."""
    for first, second in ((True, 1), (1, True), (1.0, True), (False, 0)):
        mg.assess({"age": 40, "supplement_dose_mg": first})
        found = mg.assess({"age": 40, "supplement_dose_mg": second})
        if isinstance(second, bool):
            assert found.patient.supplement_dose_mg is None and found.problems[0].code == "not_a_number"
        else:
            assert found.patient.supplement_dose_mg == second and not found.problems


def test_no_core_module_imports_a_private_name_of_another():
    """Shared pieces are public: a module's underscore names are its own (issue 11)."""
    import ast
    from pathlib import Path

    root = Path(mg.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("mgdecision")):
                found += [f"{path.relative_to(root)}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []
