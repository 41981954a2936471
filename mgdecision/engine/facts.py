"""The base facts of a row that ``knowledge/rules.toml`` may read, each with its row reader and its column reader.

A fact read from a row's values is declared once, by the function that reads it from one reading of its
group of fields (:data:`~mgdecision.reading.SCALAR_GROUPS`): the row execution calls it on the row's
:class:`~mgdecision.reading.Patient`, the table execution once per distinct reading of the group. Serum facts
are read the same way from the row's :class:`~mgdecision.engine.core.SerumStatus`. Facts the lists give
(diagnoses, medications and symptoms merged) have a row reader and a column reader side by side. Derived facts
(``rules.toml`` ``[facts]``) are written in the rule language and compiled for both executions by
:mod:`.spec`. Every fact has both readers: checked when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..intake import IntakeSummary, summarise
from ..kidney import egfr_ckd_epi_2021

if TYPE_CHECKING:
    from ..reading import Patient
    from .core import Engine, SerumStatus
    from .row import ListEffects

__all__ = ["COMBINED", "FACTS", "KINDS", "BaseFact", "Combined", "Kind", "Member", "Path", "listed_flag"]

Kind = Literal["yes", "number", "text", "object"]  # an object fact is read by other facts only, never by a rule
KINDS: tuple[Kind, ...] = ("yes", "number", "text", "object")
_NAN = math.nan

RowReader = Callable[["Engine", "Patient", "SerumStatus | None", "ListEffects"], Any]
PatientReader = Callable[["Engine", "Patient"], Any]
ColumnReader = Callable[[Any], np.ndarray]  # the table run (mgdecision.engine.table) -> one value per row


@dataclass(frozen=True, slots=True)
class Path:
    """A fact read as an attribute (``serum.unit``: a chain) of the patient (``p``), its serum status (``st``),
    the merged lists (``le``) or the engine (``e``); ``missing`` where the owner or a link of the chain is None.
    The row execution reads it inline; the table execution reads the same attribute of each distinct reading.
    """

    owner: str  # "p", "st", "le", "e", or "f_<fact>": an object fact worked out before it
    attribute: str
    missing: Any = None
    number: bool = False  # a number: -0.0 read as 0.0 (equal memo keys print alike)

    def read(self, owner: Any) -> Any:
        value = owner
        for part in self.attribute.split("."):
            if value is None:
                return self.missing
            value = getattr(value, part)
        if value is None:
            return self.missing
        return value + 0.0 if self.number else value


@dataclass(frozen=True, slots=True)
class Member:
    """A fact that holds when ``item`` is in a set of the merged lists (``le.<attribute>``); the row execution
    reads it inline."""

    attribute: str
    item: str

    def __call__(self, e: Engine, p: Patient, st: SerumStatus | None, le: ListEffects) -> bool:
        return self.item in getattr(le, self.attribute)


@dataclass(frozen=True, slots=True)
class BaseFact:
    """One base fact: its kind and how it is read for one row and for a whole column."""

    name: str
    kind: Kind
    row: Path | Member | RowReader | PatientReader  # a PatientReader reads (engine, patient) only
    column: ColumnReader
    patient_only: bool = False
    depends: tuple[str, ...] = ()  # the object facts it is read from


@dataclass(frozen=True, slots=True)
class Combined:
    """A fact worked out by one function (given the engine and the values of ``inputs``, other base facts): the
    row execution calls it with the row's values, the table execution once per distinct combination of the
    input columns."""

    name: str
    kind: Kind
    inputs: tuple[str, ...]
    function: Callable[..., Any]


def _ordinal(day: date | None) -> float:
    """A date as a number of days (NaN when not given), so that dates can be compared and subtracted."""
    return _NAN if day is None else float(day.toordinal())


def _ckd_epi(e: Engine, creatinine: float, age: float, sex: str | None) -> float:
    """eGFR by CKD-EPI 2021 from a creatinine value (NaN where an input is missing), with the engine's
    coefficients; when it applies is decided by rules.toml."""
    if creatinine != creatinine or age != age or sex not in ("F", "M") or not creatinine > 0 or age < 0:
        return _NAN
    return egfr_ckd_epi_2021(creatinine, age, sex, e.kb.kidney["ckd_epi_2021"])


def _intake(e: Engine, items: Any, form: str | None, dose: float) -> IntakeSummary:
    """The magnesium the patient takes: the medication list's products and the supplement columns."""
    return summarise(items or (), form, dose)


def _of_intake(name: str, kind: Kind, attribute: str, missing: Any) -> BaseFact:
    """A fact of the intake summary (:class:`~mgdecision.intake.IntakeSummary`)."""
    path = Path("f_intake", attribute, missing)
    return BaseFact(name, kind, path, lambda t: t.attribute_of("intake", path.read, kind), depends=("intake",))


def listed_flag(flag: str) -> BaseFact:
    """``<flag>_listed``: a diagnosis or medication on the row sets ``flag`` (conditions.toml/drugs.toml `sets`)."""
    return BaseFact(f"{flag}_listed", "yes", Member("sets", flag), lambda t: t.set_flag(flag))


def _reading(name: str, kind: Kind, group: str, read: PatientReader) -> BaseFact:
    """A fact worked out from one reading of a group of fields: one function for both executions."""
    return BaseFact(name, kind, read, lambda t: t.per_reading(group, lambda p: read(t.engine, p), kind), True)


def _attribute(name: str, kind: Kind, group: str, attribute: str, missing: Any = None) -> BaseFact:
    """A fact that is an attribute of the patient as read (NaN for a missing number)."""
    number = kind == "number"
    path = Path("p", attribute, _NAN if number else missing, number)
    return BaseFact(name, kind, path, lambda t: t.per_reading(group, path.read, kind))


def _serum(name: str, kind: Kind, attribute: str, default: Any) -> BaseFact:
    """A fact of the serum status (``default`` without a usable serum value or where it is None)."""
    path = Path("st", attribute, default)
    return BaseFact(name, kind, path, lambda t: t.by_serum(path.read, default, kind))


def _listed(name: str, kind: Kind, row: Path | RowReader, column: ColumnReader) -> BaseFact:
    """A fact the merged lists give, read from the row's list effects and from the table's merged columns."""
    return BaseFact(name, kind, row, column)


_DECLARED: tuple[BaseFact, ...] = (
    # the row's values
    _attribute("age", "number", "age", "age"),
    _reading("age_months", "number", "age", lambda e, p: _NAN if p.age is None else p.age * 12 + 0.0),
    _attribute("sex", "text", "age", "sex"),
    _attribute("route_written", "text", "age", "route"),
    _attribute("pregnant_written", "yes", "age", "pregnant", False),
    _attribute("lactating_written", "yes", "age", "lactating", False),
    _attribute("dialysis_written", "yes", "age", "dialysis", False),
    _reading("ul_age", "number", "age", lambda e, p: e.ul_age(p.age)),
    BaseFact("ul_any_age", "number", Path("e", "ul_any_age"), lambda t: np.full(t.n, t.engine.ul_any_age)),
    _attribute("egfr_written", "number", "egfr", "egfr"),
    _attribute("egfr_kind", "text", "egfr", "egfr_kind"),
    _attribute("kidney_stage", "text", "egfr", "kidney_stage"),
    _attribute("kidney_stage_dialysis", "yes", "egfr", "kidney_stage_dialysis", False),
    _attribute("creatinine", "number", "egfr", "creatinine_mg_dl"),
    _reading("egfr_day", "number", "egfr", lambda e, p: _ordinal(p.egfr_date)),
    _reading("creatinine_day", "number", "egfr", lambda e, p: _ordinal(p.creatinine_date)),
    _reading("run_day", "number", "age", lambda e, p: _ordinal(p.run_date)),
    _reading("reference_day", "number", "age", lambda e, p: _ordinal(p.reference_date)),
    _reading("serum_day", "number", "serum", lambda e, p: _ordinal(p.serum_date)),
    _attribute("serum_given", "yes", "serum", "serum_given", False),
    _attribute("serum_mmol", "number", "serum", "serum.mmol"),
    _attribute("supplement_form", "text", "supplement", "supplement_form"),
    BaseFact(
        "med_intake",
        "object",
        Path("p", "medications.intake", ()),
        lambda t: t.per_cell_object("medications", lambda cells: cells.intake, ()),
    ),
    _attribute("serum_flag", "text", "serum", "serum_flag"),
    _attribute("dose", "number", "supplement", "supplement_dose_mg"),
    _reading("serum", "text", "serum", lambda e, p: None if p.serum is None else p.serum.display()),
    _attribute("serum_unit", "text", "serum", "serum.unit"),
    _reading("serum_measured", "yes", "serum", lambda e, p: p.serum is not None),
    _reading("serum_unusable", "yes", "serum", lambda e, p: p.serum is None and p.serum_given),
    # the serum value against the limits (SerumStatus)
    _serum("serum_above", "yes", "above", False),
    _serum("serum_below", "yes", "below", False),
    _serum("serum_urgent", "yes", "urgent", False),
    _serum("serum_low_normal", "yes", "low_normal", False),
    _serum("serum_normal", "yes", "at_or_above_cut", False),
    _serum("serum_lower", "number", "lower", _NAN),
    _serum("serum_upper", "number", "upper", _NAN),
    _serum("serum_cut", "number", "cut", _NAN),
    _serum("urgent_limit", "number", "urgent_limit", _NAN),
    _serum("hypo_grade", "number", "hypo_grade", 0),  # 0: not graded
    _serum("hyper_grade", "number", "hyper_grade", 0),
    # what the merged lists say
    _listed("kidney_listed", "yes", Path("le", "renal_codes", False), lambda t: t.renal),
    _listed("kidney_history_only", "yes", Path("le", "kidney_history_only", False), lambda t: t.kidney_history_only),
    _listed("lists_readable", "yes", Path("le", "readable", False), lambda t: t.readable),
    _listed(
        "symptoms_compatible", "number", lambda e, p, st, le: float(len(le.compatible)), lambda t: t.compatible_count
    ),
    # the magnesium the patient takes (9.2, 9.3)
    _of_intake("intake_any", "yes", "any", False),
    _of_intake("intake_daily", "number", "daily_mg", _NAN),
    _of_intake("intake_unreadable", "yes", "unreadable", False),
    _of_intake("intake_prn_laxative", "yes", "prn_laxative", False),
    _of_intake("intake_iv", "yes", "iv", False),
    _of_intake("intake_prescribed", "yes", "prescribed", False),
    _of_intake("intake_binder", "yes", "binder", False),
    _of_intake("intake_names", "text", "names", ""),
    _of_intake("intake_larger", "text", "larger", ""),
    _of_intake("intake_confirm", "text", "confirm", ""),
    _of_intake("bowel_prep_contraindicated", "text", "bowel_prep_contraindicated", ""),
    _of_intake("bowel_prep_caution", "text", "bowel_prep_caution", ""),
)

FACTS: Mapping[str, BaseFact] = {f.name: f for f in _DECLARED}
COMBINED: Mapping[str, Combined] = {
    c.name: c
    for c in (
        Combined("egfr_ckd_epi", "number", ("creatinine", "age", "sex"), _ckd_epi),
        Combined("intake", "object", ("med_intake", "supplement_form", "dose"), _intake),
    )
}


def _check() -> None:
    """Every base fact is declared once, with a kind and both readers."""
    if len(FACTS) != len(_DECLARED) or set(FACTS) & set(COMBINED):
        raise RuntimeError("a base fact is declared twice")
    for combined in COMBINED.values():
        if not set(combined.inputs) <= set(FACTS) or combined.kind not in KINDS:
            raise RuntimeError(f"combined fact {combined.name!r} reads an unknown fact or lacks a kind")
    for fact in _DECLARED:
        if not set(fact.depends) <= set(COMBINED):
            raise RuntimeError(f"base fact {fact.name!r} depends on an unknown fact")
    for fact in _DECLARED:
        if (
            fact.kind not in KINDS
            or not (isinstance(fact.row, Path) or callable(fact.row))
            or not callable(fact.column)
        ):
            raise RuntimeError(f"base fact {fact.name!r} lacks a kind, a row reader or a column reader")


_check()
