"""Output vocabulary (clinical-rules.md) and stable reason codes for input problems."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["ContraLevel", "DoseStatus", "Indicator", "ProblemCode", "RiskLevel", "Severity", "interaction_indicator"]


class RiskLevel(StrEnum):
    LOW = "LOW"
    MODERATE = "MODERATE"
    HIGH = "HIGH"
    UNKNOWN = "UNKNOWN"


class ContraLevel(StrEnum):
    CONTRAINDICATED = "CONTRAINDICATED"
    CAUTION = "CAUTION"
    NONE_FOUND = "NONE_FOUND"


class DoseStatus(StrEnum):
    RECOMMENDED = "RECOMMENDED"
    NOT_INDICATED = "NOT_INDICATED"
    DO_NOT_SUPPLEMENT = "DO_NOT_SUPPLEMENT"
    PRESCRIBER_ONLY = "PRESCRIBER_ONLY"
    REFER = "REFER"
    CHECK_SERUM = "CHECK_SERUM"  # measure (or repeat) serum magnesium before any decision


class Severity(StrEnum):
    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"


class Indicator(StrEnum):
    """CDS Hooks card indicator, in increasing urgency."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def interaction_indicator(severities: Iterable[str]) -> Indicator:
    """How an interaction (or a row's interactions) is shown: a warning for a major one, else information."""
    return Indicator.WARNING if Severity.MAJOR in severities else Indicator.INFO


class ProblemCode(StrEnum):
    """Why a value on a row could not be used. Stable: front-ends and users filter on these."""

    UNIT_MISSING = "unit_missing"
    UNIT_UNKNOWN = "unit_unknown"
    NOT_A_NUMBER = "not_a_number"
    IMPLAUSIBLE = "implausible_value"
    INVALID_CHOICE = "invalid_choice"
    INVALID_DATE = "invalid_date"
    CONFLICT = "conflicting_values"
    UNRECOGNIZED = "unrecognized_term"
    UNRECOGNIZED_CODE = "unrecognized_code"
    CENSORED = "censored_value"
    NEGATED = "negated_term"
    HISTORY = "history_term"
    AMBIGUOUS = "ambiguous_term"
    UNKNOWN_FIELD = "unknown_field"
    UNREADABLE = "unreadable_value"
    RESULT_NOT_CURRENT = "result_not_current"  # a dated result too old to count as current (clinical-rules 9.8)
    COMPUTED = "computed_value"  # a value the row did not give, worked out from others (eGFR from creatinine)
    DATE_AMBIGUOUS = "date_ambiguous"  # a day and month that read both ways (03/04/2025): the older reading is used
