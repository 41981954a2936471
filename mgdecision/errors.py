"""Exception hierarchy. Only programmer and set-up errors raise; bad patient data never does.

MgDecisionError
├── KnowledgeError      a knowledge file is missing, malformed or cites an unknown id
├── UsageError          the caller passed something the API cannot take (wrong type, no mappable column)
│   └── MissingExtra    a command needs an extra that is not installed (mgdecision.extras; the pip line)
└── FhirError           ``from_fhir`` was given something that is not FHIR JSON at all (also a ValueError)
"""

from __future__ import annotations

__all__ = ["FhirError", "KnowledgeError", "MgDecisionError", "UsageError"]


class MgDecisionError(Exception):
    """Base class of every exception raised by mgdecision."""


class KnowledgeError(MgDecisionError):
    """The knowledge base is inconsistent (checked when it is loaded)."""


class UsageError(MgDecisionError, TypeError):
    """The API was called with an argument it cannot take."""


class FhirError(MgDecisionError, ValueError):
    """The input to ``from_fhir`` is not FHIR JSON (not an object, no resourceType, a malformed Bundle).

    Unusable parts of valid FHIR never raise: they are listed in the row's ``notes``.
    """
