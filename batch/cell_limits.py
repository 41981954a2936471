"""The most a spreadsheet cell holds, and text made to fit it with a note that says where the rest is.

Every writer of an output sheet keeps to :data:`MAX_CELL_CHARS` (Excel repairs a file with a longer cell); the
texts are cut by :func:`fit_cell`, whose note gives the length and where the full text can be read.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_CELL_CHARS", "fit_cell", "safe_text"]

MAX_CELL_CHARS = 32_767  # the most characters one spreadsheet cell holds


def fit_cell(text: str, where: str = "longer than a cell holds") -> str:
    """``text`` unchanged when a cell holds it, else its start and ``[cut: N characters; where]``."""
    if len(text) <= MAX_CELL_CHARS:
        return text
    note = f" [cut: {len(text):,} characters; {where}]"
    return text[:MAX_CELL_CHARS - len(note)] + note


def safe_text(value: Any) -> str:
    """``str(value)``, or a description of the value when it has no text (its ``str`` raises)."""
    try:
        return str(value)
    except Exception:  # a value of any type may come in: it is described, never allowed to stop a run
        return f"(a {type(value).__name__} value that cannot be shown as text)"
