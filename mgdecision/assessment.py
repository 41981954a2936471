"""``assess(row)``: read one row, apply the rules, return an :class:`Assessment` that renders itself."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import Any

from . import render
from .engine import Engine, Findings, default_engine
from .engine.core import DRIVERS
from .errors import UsageError
from .formatting import cap_reasons, dose_group_text, format_reason, group_head, whole_words
from .intake import IntakeSummary, summarise
from .kb import knowledge
from .models import Card, Contraindication, Dose, Form, Interaction, Problem, Reason, Risk
from .outputs import COLUMNS, VALUE_LABELS  # declared once, with their types and layout, in outputs.py
from .reading import HeaderMap, Patient, read_row, read_values
from .vocab import ContraLevel, DoseStatus, Indicator, RiskLevel, interaction_indicator

__all__ = ["COLUMNS", "Assessment", "assess"]

_SUMMARY_MAX = 139  # a CDS Hooks card summary is under 140 characters


class Assessment:
    """Everything mgdecision says about one patient row. Renders as text (``str``) and HTML (notebooks)."""

    __slots__ = ("__dict__", "findings", "knowledge_version", "patient")

    def __init__(self, patient: Patient, findings: Findings, knowledge_version: str) -> None:
        self.patient = patient
        self.findings = findings
        self.knowledge_version = knowledge_version

    # --- findings -------------------------------------------------------------------------------
    @property
    def patient_id(self) -> str | None:
        return self.patient.patient_id

    @property
    def risk(self) -> Risk:
        return self.findings.risk

    @property
    def contraindication(self) -> Contraindication:
        return self.findings.contraindication

    @property
    def interactions(self) -> tuple[Interaction, ...]:
        return self.findings.interactions

    @property
    def dose(self) -> Dose:
        return self.findings.dose

    @property
    def form(self) -> Form:
        return self.findings.form

    @property
    def notes(self) -> tuple[Reason, ...]:
        return self.findings.notes

    @property
    def problems(self) -> tuple[Problem, ...]:
        """What could not be read on the row, then what the rules found on its values (an old result)."""
        return (*self.patient.problems, *self.findings.problems)

    @property
    def unrecognized(self) -> tuple[str, ...]:
        p = self.patient
        return p.diagnoses.unrecognized + p.medications.unrecognized + p.symptoms.unrecognized

    # --- the output row ---------------------------------------------------------------------------
    def reasons_text(self) -> str:
        """Every reason behind the flags, in full (the cards show it; ``mg_reasons`` is capped)."""
        f = self.findings
        groups = [
            group_head("Risk", str(f.risk.level)) + " - " + "; ".join([format_reason(r) for r in f.risk.reasons]),
            group_head("Contraindication", str(f.contraindication.level))
            + " - "
            + "; ".join([format_reason(r) for r in f.contraindication.reasons]),
            dose_group_text(f.dose, f.form),
        ]
        if f.notes:
            groups.append("Notes: " + "; ".join([format_reason(r) for r in f.notes]))
        return " | ".join(groups)

    def row_values(self) -> tuple[Any, ...]:
        """The output values in :data:`COLUMNS` order."""
        f = self.findings
        return (
            f.dose.headline,
            str(f.risk.level),
            str(f.contraindication.level),
            str(f.dose.status),
            f.dose.min_mg,
            f.dose.max_mg,
            f.dose.text,
            "; ".join([str(i) for i in f.interactions]),
            f.form.text,
            cap_reasons(self.reasons_text()),
            "; ".join([str(p) for p in self.problems]),
        )

    def row(self) -> dict[str, Any]:
        """The output columns of clinical-rules.md section 6, in :data:`COLUMNS` order."""
        return dict(zip(COLUMNS, self.row_values(), strict=True))

    # --- cards ------------------------------------------------------------------------------------
    @cached_property
    def cards(self) -> tuple[Card, ...]:
        """One CDS Hooks-shaped card per finding, the decision first, then by urgency. Summaries lead with what
        to do and are cut at a word boundary; what is urgent is in the summary and the indicator says so."""
        kb = knowledge()
        f = self.findings
        cards: list[Card] = []

        def card(
            indicator: str,
            summary: str,
            reasons: Sequence[Reason],
            topic: str,
            extra: str = "",
            about: Interaction | None = None,
        ) -> None:
            ids = list(dict.fromkeys(s for r in reasons for s in r.sources)) or ["mg_rules"]
            source = kb.sources[ids[0]]
            links = tuple((kb.sources[i].label, kb.sources[i].url) for i in ids)
            detail = "\n".join(f"- {format_reason(r)}" for r in reasons)
            cards.append(
                Card(
                    Indicator(indicator),
                    whole_words(summary, _SUMMARY_MAX),
                    (extra + "\n" + detail).strip(),
                    source.label,
                    source.url,
                    topic,
                    links,
                    about,
                )
            )

        c, d, r = f.contraindication, f.dose, f.risk
        # the decision: the headline, then what the dose text leads with; REFER: the urgent text only
        lead = d.text.split("; ")[0] if d.text else ""
        if d.status == DoseStatus.REFER:
            summary = f"{d.headline}: {kb.dosing['status']['REFER']['text']}"
        elif lead and d.status != DoseStatus.NOT_INDICATED:
            summary = _decision_summary(d.headline, lead)
        else:
            summary = d.headline
        when = " (after stabilisation)" if d.status == DoseStatus.REFER else ""
        # the body repeats the headline only when the summary had to be shortened
        said = whole_words(summary, _SUMMARY_MAX) == summary and summary.startswith(d.headline)
        card(
            d.indicator,
            summary,
            (*d.notes, *f.form.evidence),
            "dose",
            extra=("" if said else f"**{d.headline}.** ") + f"{d.text}\n\n**Form and timing{when}:** {f.form.text}",
        )
        if c.level == ContraLevel.CONTRAINDICATED:  # with what to do first (stop or review a current product)
            first = "Do not give magnesium: " + (c.reasons[0].summary or c.reasons[0].text)
            # the dose body once: here only when the dose card is not itself critical (then it is shown first)
            body = "" if d.indicator == Indicator.CRITICAL else f"**{d.headline}.** {d.text}"
            card(Indicator.CRITICAL, first, c.reasons, "contraindication", body)
        elif c.level == ContraLevel.CAUTION:
            card(
                Indicator.WARNING,
                "Caution: " + (c.reasons[0].summary or c.reasons[0].text),
                c.reasons,
                "contraindication",
            )
        else:
            summary = "No contraindication found" + (
                "; not checked: " + "; ".join(c.not_checked) if c.not_checked else ""
            )
            card(Indicator.INFO, summary, c.reasons, "contraindication")
        level = VALUE_LABELS[str(r.level)].lower()
        if r.ctcae_grade:
            risk_summary = f"Deficiency risk: {level}, serum below range (CTCAE grade {r.ctcae_grade})"
        elif r.level == RiskLevel.UNKNOWN:
            risk_summary = f"Deficiency risk: {level}" + (
                ", the serum value could not be used: check the result"
                if self.patient.serum is None and self.patient.serum_given
                else ", not enough data"
            )
        else:
            risk_summary = f"Deficiency risk: {level} ({r.points} point{'' if r.points == 1 else 's'})"
        card(Indicator.WARNING if r.level == RiskLevel.HIGH else Indicator.INFO, risk_summary, r.reasons, "risk")
        in_play = self.intake.any
        for i in f.interactions:
            if in_play and i.severity == "minor":
                continue  # with a current magnesium product a minor interaction stays in mg_interactions only
            indicator = (
                Indicator.WARNING
                if in_play and i.severity in ("major", "moderate")
                else interaction_indicator((i.severity,))
            )
            card(indicator, f"Interaction: {i}", (Reason(i.action, i.sources),), "interaction", about=i)
        if self.problems:
            probs = self.problems
            card(
                Indicator.WARNING,
                f"{len(probs)} input problem{'' if len(probs) == 1 else 's'}: " + "; ".join(str(p) for p in probs),
                (),
                "input",
                extra="\n".join(f"- `{p.code}` {p}" for p in probs),
            )
        if f.notes:
            card(Indicator.INFO, "Notes: " + f.notes[0].text, f.notes, "notes")
        order = {Indicator.CRITICAL: 0, Indicator.WARNING: 1, Indicator.INFO: 2}
        return tuple(sorted(cards, key=lambda x: order[Indicator(x.indicator)]))

    @property
    def intake(self) -> IntakeSummary:
        """The magnesium the patient already takes (the medication list and the supplement columns)."""
        p = self.patient
        dose = p.supplement_dose_mg
        return summarise(p.medications.intake, p.supplement_form, math.nan if dose is None else dose)

    # --- rendering --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            **self.row(),
            "cards": [c.to_dict() for c in self.cards],
            "problems": [p.to_dict() for p in self.problems],
            "knowledge_version": self.knowledge_version,
        }

    def __str__(self) -> str:
        return render.to_text(self)

    def __repr__(self) -> str:
        f = self.findings
        return (
            f"<Assessment {self.patient_id or ''} risk={f.risk.level} contra={f.contraindication.level} "
            f"dose={f.dose.status}>"
        )

    def _repr_html_(self) -> str:
        return render.to_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = {
            "text/plain": repr(self) + "\n" + str(self),
            "text/html": self._repr_html_(),
            "application/json": self.to_dict(),
        }
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ("the", "a", "an")]


def _decision_summary(headline: str, lead: str) -> str:
    """The headline, then what the dose text leads with, unless the headline says it already (then only what
    follows the lead's first colon)."""
    if lead.lower() in headline.lower():
        return headline
    if set(_words(lead)[:3]) <= set(_words(headline)):
        rest = lead.split(": ", 1)[1] if ": " in lead else ""
        said = set(_words(headline))
        return f"{headline}: {rest}" if rest and not set(_words(rest)) <= said else headline
    return f"{headline}: {lead}"


def assess(
    row: Mapping[Any, Any] | Sequence[Any],
    *,
    headers: Sequence[Any] | None = None,
    header_map: HeaderMap | None = None,
    as_of: date | None = None,
    engine: Engine | None = None,
) -> Assessment:
    """Assess one patient row.

    ``row`` is a mapping of column name to value (any header variant: "Serum Mg (mg/dL)", "Meds", "Dx"),
    a pandas Series, or a sequence of cell values with ``headers`` (or in the template's column order).
    Bad values never raise: they are reported in ``Assessment.problems``. ``as_of`` is the date used to
    turn a date of birth into an age when the row has no assessment date. ``engine`` runs the rules of
    another knowledge base (:class:`mgdecision.engine.Engine`); the default is the shipped one.
    """
    if isinstance(row, Mapping):
        patient = read_row(row, header_map=header_map, as_of=as_of)
    elif hasattr(row, "to_dict") and hasattr(row, "index"):  # a pandas Series: its labels may repeat
        patient = read_values(list(row), list(row.index), as_of=as_of)  # type: ignore[call-overload]
    elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
        patient = read_values(row, headers, as_of=as_of)
    else:
        raise UsageError(f"assess() takes a mapping, a pandas Series or a sequence of cells, not {type(row).__name__}")
    engine = engine or default_engine()
    return Assessment(patient, engine.decide(patient), engine.kb.version)


DRIVERS["assess"] = assess
