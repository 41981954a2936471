"""mgdecision: magnesium decision support for clinicians (deficiency risk, dose, contraindications, interactions).

    import mgdecision as mg
    a = mg.assess({"age": 52, "sex": "F", "serum_mg": "0.62 mmol/L", "medications": "Prilosec 20 mg"})
    a.risk.level, a.contraindication.level, a.dose.text, a.interactions, a.problems
    mg.assess_frame(df)          # one output row per input row, input columns kept

The flags support and do not replace clinical judgement.
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers the DataFrame accessor df.mg)
from . import palette  # noqa: F401  (mg.palette: the colours of every level, one palette for all front-ends)
from .assessment import COLUMNS, Assessment, assess
from .engine import Engine, SerumStatus, rda_mg, serum_status, ul_mg
from .errors import FhirError, KnowledgeError, MgDecisionError, UsageError
from .extras import MissingExtra
from .extras import needed as requires_extra
from .fhir import ATTENTION as FHIR_ATTENTION
from .fhir import FhirNote, FhirOrder, FhirRow, from_fhir
from .frame import TableAssessment, assess_columns, assess_frame, assess_table, failure_cases
from .kb import Knowledge, knowledge
from .models import Card, Contraindication, Dose, Form, Interaction, Problem, Reason, Risk
from .reading import HeaderMap, convert_serum, map_headers
from .rulebook import rulebook
from .terminology import Coding, terminology
from .terms import split_items
from .units import elemental_mg
from .vocab import ContraLevel, DoseStatus, Indicator, ProblemCode, RiskLevel, Severity

__version__ = "0.1.0"
KNOWLEDGE_VERSION: str = knowledge().version

__all__ = [
    "COLUMNS",
    "FHIR_ATTENTION",
    "KNOWLEDGE_VERSION",
    "Assessment",
    "Card",
    "Coding",
    "ContraLevel",
    "Contraindication",
    "Dose",
    "DoseStatus",
    "Engine",
    "FhirError",
    "FhirNote",
    "FhirOrder",
    "FhirRow",
    "Form",
    "HeaderMap",
    "Indicator",
    "Interaction",
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
