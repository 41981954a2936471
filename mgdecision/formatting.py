"""How a reason and a dose's notes are written in the output columns and on cards (memoised)."""

from __future__ import annotations

from functools import lru_cache

from .kb import knowledge
from .models import Dose, Form, Reason

__all__ = ["dose_group_text", "format_reason"]


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


def dose_group_text(dose: Dose, form: Form) -> str:
    """'Dose STATUS: notes and evidence'."""
    reasons = (*dose.notes, *form.evidence)
    return f"Dose {dose.status}" + (": " + "; ".join([format_reason(r) for r in reasons]) if reasons else "")
