"""Exception hierarchy. Only programmer and set-up errors raise; bad patient data never does.

MgDecisionError
├── KnowledgeError      a knowledge file is missing, malformed or cites an unknown id
└── UsageError          the caller passed something the API cannot take (wrong type, no mappable column)
"""

from __future__ import annotations

__all__ = ["KnowledgeError", "MgDecisionError", "UsageError"]


class MgDecisionError(Exception):
    """Base class of every exception raised by mgdecision."""


class KnowledgeError(MgDecisionError):
    """The knowledge base is inconsistent (checked when it is loaded)."""


class UsageError(MgDecisionError, TypeError):
    """The API was called with an argument it cannot take."""
