"""How a reason and a dose's notes are written in the output columns and on cards (memoised)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from .kb import knowledge
from .models import Dose, Form, Reason
from .outputs import REASONS_MAX, VALUE_LABELS

__all__ = ["cap_reasons", "capped_joins", "dose_group_text", "format_reason", "group_head", "whole_words"]


def format_reason(reason: Reason) -> str:
    """'text (+points) [source labels]', as shown in the mg_reasons column and on cards."""
    return _formatted(reason.text, reason.sources, reason.points)


@lru_cache(maxsize=65536)
def _formatted(text: str, sources: tuple[str, ...], points: int | None) -> str:
    return f"{text}{f' (+{points})' if points else ''}{_labels(sources)}"


@lru_cache(maxsize=4096)
def _labels(ids: tuple[str, ...]) -> str:
    """' [label; label]' for source ids ('' for none)."""
    sources = knowledge().sources
    return f" [{'; '.join(sources[s].label if s in sources else s for s in ids)}]" if ids else ""


def group_head(group: str, value: str) -> str:
    """One group of the reasons text as people read it: 'Risk: High', 'Dose: Measure serum first'."""
    return f"{group}: {VALUE_LABELS.get(value, value)}"


def dose_group_text(dose: Dose, form: Form) -> str:
    """'Dose: Status - notes and evidence'."""
    reasons = (*dose.notes, *form.evidence)
    head = group_head("Dose", str(dose.status))
    return head + (" - " + "; ".join([format_reason(r) for r in reasons]) if reasons else "")


SEE_CARD = " ... (see card)"


def whole_words(text: str, limit: int, ending: str = "…") -> str:
    """``text`` in at most ``limit`` characters, cut at a word boundary (never mid-word), ``ending`` added."""
    if len(text) <= limit:
        return text
    room = limit - len(ending)
    cut = text[: room + 1]
    at = cut.rfind(" ")
    head = cut[:at] if at > 0 else text[:room]
    return head.rstrip(" ;,:|-") + ending


def cap_reasons(text: str) -> str:
    """The reasons of a row in at most :data:`~mgdecision.outputs.REASONS_MAX` characters; a longer text ends
    with "... (see card)" (the cards hold it in full)."""
    return text if len(text) <= REASONS_MAX else whole_words(text, REASONS_MAX, SEE_CARD)


def capped_joins(pieces: list[str], bounds: Iterable[tuple[int, int]]) -> list[str]:
    """``cap_reasons("".join(pieces[a:b]))`` for each ``(a, b)`` of ``bounds``: the rows of a table, each capped
    as soon as it is joined (the same steps as :func:`whole_words`, written out for speed)."""
    join, limit, room, ending = "".join, REASONS_MAX, REASONS_MAX - len(SEE_CARD), SEE_CARD
    return [
        text
        if len(text := join(pieces[a:b])) <= limit
        else text[: at if (at := text.rfind(" ", 0, room + 1)) > 0 else room].rstrip(" ;,:|-") + ending
        for a, b in bounds
    ]
