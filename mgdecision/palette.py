"""The one colour palette of every front-end: level word or card indicator -> fill and text colour.

Okabe-Ito colour-blind-safe hues (benign and neutral levels get a light tint of one), each with the text
colour that keeps WCAG AA contrast (4.5:1) on it. The word is always shown too: colour is never the only
signal. One meaning per hue: vermillion stop, orange act, yellow check, green no concern, sky not known,
blue information. Pure data; front-ends (cards, accessor, widgets, batch, Excel) read it, none redefines it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .outputs import INTERACTION, LEVEL, OUTPUTS, PROBLEM
from .vocab import interaction_indicator

__all__ = ["HEADER", "INDICATORS", "LEVELS", "SEVERITIES", "Swatch", "flag_css", "flag_swatch"]


class Swatch(NamedTuple):
    """A fill colour and the text colour to write on it, both ``#RRGGBB``."""

    fill: str
    text: str


VERMILLION = Swatch("#D55E00", "#000000")  # stop: contraindicated, refer, critical card
ORANGE = Swatch("#E69F00", "#000000")  # act: high risk, caution, do not supplement, warning card
YELLOW = Swatch("#F0E442", "#000000")  # check: moderate risk, prescriber only
GREEN = Swatch("#B3E2D5", "#000000")  # no concern found (tint of bluish green #009E73)
SKY = Swatch("#CCE8F8", "#000000")  # not known / not indicated (tint of sky blue #56B4E9)
BLUE = Swatch("#0072B2", "#FFFFFF")  # information card, header rows

LEVELS: dict[str, Swatch] = {
    # RiskLevel
    "HIGH": ORANGE, "MODERATE": YELLOW, "LOW": GREEN, "UNKNOWN": SKY,
    # ContraLevel
    "CONTRAINDICATED": VERMILLION, "CAUTION": ORANGE, "NONE_FOUND": GREEN,
    # DoseStatus
    "REFER": VERMILLION, "DO_NOT_SUPPLEMENT": ORANGE, "CHECK_SERUM": YELLOW, "PRESCRIBER_ONLY": YELLOW,
    "RECOMMENDED": GREEN,
    "NOT_INDICATED": SKY,
}
INDICATORS: dict[str, Swatch] = {"critical": VERMILLION, "warning": ORANGE, "info": BLUE}  # card indicators
SEVERITIES: dict[str, Swatch] = {"major": VERMILLION, "moderate": ORANGE, "minor": YELLOW}  # interaction severity
HEADER = BLUE


# ---------------------------------------------------------------- the colour of one flag cell

_PALETTE = {o.name: o.palette for o in OUTPUTS}  # the colouring each output column declares


def flag_swatch(column: str, value: Any, severities: Sequence[str] = ()) -> Swatch | None:
    """The palette swatch of one flag cell, or None when it is not coloured (empty, or not a flag).

    ``severities``: the severities of the row's interactions (from the interaction records), for that cell."""
    if not isinstance(value, str) or not value:
        return None
    palette = _PALETTE.get(column)
    if palette == LEVEL:
        return LEVELS.get(value)
    if palette == INTERACTION:
        return INDICATORS[interaction_indicator(severities)]
    if palette == PROBLEM:
        return INDICATORS["warning"]
    return None


def flag_css(column: str, value: Any, severities: Sequence[str] = ()) -> str:
    """CSS for one flag cell ("" when uncoloured)."""
    swatch = flag_swatch(column, value, severities)
    return "" if swatch is None else f"background-color: {swatch.fill}; color: {swatch.text}"
