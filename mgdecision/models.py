"""Pure result models: what an assessment says, with reasons and sources. No I/O, no rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Card",
    "Contraindication",
    "Dose",
    "Form",
    "Interaction",
    "Problem",
    "Reason",
    "Risk",
    "shown_name",
]


@dataclass(frozen=True, slots=True)
class Reason:
    """One factor behind a flag, with the ids of its sources (labels via ``mg.source``)."""

    text: str
    sources: tuple[str, ...] = ()
    points: int | None = None
    summary: str = ""  # the same in the words a card's summary leads with, where they differ (the why up front)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "sources": list(self.sources), "points": self.points}


@dataclass(frozen=True, slots=True)
class Problem:
    """A value on the row that could not be used as given. ``code`` is a stable :class:`ProblemCode`."""

    field: str
    value: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Risk:
    level: str
    points: int
    reasons: tuple[Reason, ...]
    ctcae_grade: int | None = None


@dataclass(frozen=True, slots=True)
class Contraindication:
    """The contraindication level, the reasons (urgent first, then by level, each in firing order), what could
    not be checked, and the ids of the rules that fired, in the order of their reasons."""

    level: str
    reasons: tuple[Reason, ...]
    not_checked: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


def shown_name(generic: str, written: str) -> str:
    """'omeprazole (Prilosec 20 mg)' when the row used another name, else the name as written."""
    if not written:
        return generic
    return written if written.lower() == generic.lower() else f"{generic} ({written})"


@dataclass(frozen=True, slots=True)
class Interaction:
    """An interaction with a drug on the row. ``drug`` is the canonical generic, ``as_written`` the row's text;
    ``before_h`` / ``after_h`` are the hours the drug is taken before / after magnesium, from which ``action``
    is rendered."""

    drug: str
    severity: str
    action: str
    before_h: float | None = None
    after_h: float | None = None
    sources: tuple[str, ...] = ()
    as_written: str = ""

    def __str__(self) -> str:
        return f"{shown_name(self.drug, self.as_written)} ({self.severity}): {self.action}"


@dataclass(frozen=True, slots=True)
class Dose:
    """The dose decision: status, range, reference intakes, the dose text and its notes; ``headline`` says the
    decision in a few plain words, ``indicator`` how urgent it is (a CDS Hooks indicator)."""

    status: str
    min_mg: float | None
    max_mg: float | None
    rda_mg: float | None
    ul_mg: float | None
    text: str
    notes: tuple[Reason, ...] = ()
    headline: str = ""
    indicator: str = "info"


@dataclass(frozen=True, slots=True)
class Form:
    form: str
    timing: str
    text: str
    evidence: tuple[Reason, ...] = ()
    avoid: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Card:
    """A finding in the shape of a CDS Hooks card (``summary`` under 140 characters)."""

    indicator: str
    summary: str
    detail: str
    source_label: str
    source_url: str
    topic: str
    links: tuple[tuple[str, str], ...] = ()  # (label, url) of every source behind the card
    interaction: Interaction | None = None  # the interaction an interaction card is about (not in the JSON)

    def to_dict(self) -> dict[str, Any]:
        """The CDS Hooks JSON shape (every source beyond the first as an absolute link)."""
        source: dict[str, Any] = {"label": self.source_label, "topic": {"code": self.topic}}
        if self.source_url:
            source["url"] = self.source_url
        card: dict[str, Any] = {
            "summary": self.summary,
            "indicator": self.indicator,
            "detail": self.detail,
            "source": source,
        }
        links = [{"label": label, "url": url, "type": "absolute"} for label, url in self.links if url]
        if links:
            card["links"] = links
        return card
