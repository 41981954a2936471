"""The ``df.mg`` pandas accessor: ``df.mg.assess()``, ``df.mg.style()``, ``df.mg.table()``.

    import mgdecision.accessor  # registers ``.mg`` (``import mgdecision`` does it too)
    out = df.mg.assess()        # == mg.assess_frame(df): input columns, then the output columns
    df.mg.style()               # a pandas Styler, flag columns coloured like the cards
    df.mg.table()               # the interactive CohortTable (needs the ``widgets`` extra)

The flag colours are the cards' Okabe-Ito palette (``mgdecision.render.PALETTE``), always with the text
colour that keeps WCAG AA contrast; the cell keeps its word, so colour is never the only signal.
ipywidgets is imported only by ``.table()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .assessment import COLUMNS
from .frame import assess_frame
from .render import PALETTE, TEXT_ON

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = ["FLAG_COLUMNS", "MgAccessor", "flag_css", "flag_indicator", "style_flags"]

FLAG_COLUMNS = ("mg_risk", "mg_contraindication", "mg_dose_status", "mg_interactions", "mg_input_problems")
_LEVELS = {
    "mg_risk": {"HIGH": "warning", "MODERATE": "info"},
    "mg_contraindication": {"CONTRAINDICATED": "critical", "CAUTION": "warning"},
    "mg_dose_status": {"REFER": "critical", "DO_NOT_SUPPLEMENT": "warning", "PRESCRIBER_ONLY": "info"},
}


def flag_indicator(column: str, value: Any) -> str | None:
    """The card indicator (critical, warning, info) for one flag cell, or None when it needs no colour."""
    if not isinstance(value, str) or not value:
        return None
    if column in _LEVELS:
        return _LEVELS[column].get(value)
    if column == "mg_interactions":
        return "warning" if "(major)" in value else "info"
    if column == "mg_input_problems":
        return "warning"
    return None


def flag_css(column: str, value: Any) -> str:
    """CSS for one flag cell ("" when uncoloured)."""
    indicator = flag_indicator(column, value)
    if indicator is None:
        return ""
    return f"background-color: {PALETTE[indicator]}; color: {TEXT_ON[indicator]}"


def style_flags(frame: pd.DataFrame) -> Styler:
    """A Styler of ``frame`` (already assessed) with its flag columns coloured."""
    styler = frame.style
    for column in FLAG_COLUMNS:
        if column in frame.columns:
            styler = styler.map(lambda v, c=column: flag_css(c, v), subset=[column])
    return styler


@pd.api.extensions.register_dataframe_accessor("mg")
class MgAccessor:
    """Magnesium decision support on a DataFrame of patient rows (any accepted headers)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def assess(self, **kwargs: Any) -> pd.DataFrame:
        """``mg.assess_frame(df, **kwargs)``: a new frame; ``df`` is not changed."""
        return assess_frame(self._df, **kwargs)

    def _assessed(self) -> pd.DataFrame:
        return self._df if all(c in self._df.columns for c in COLUMNS) else self.assess()

    def style(self) -> Styler:
        """The assessed frame as a Styler, flag columns coloured (frames already assessed are not re-assessed)."""
        return style_flags(self._assessed())

    def table(self, **kwargs: Any) -> Any:
        """An interactive :class:`mgdecision.widgets.CohortTable` of these patients."""
        from mgdecision.widgets import CohortTable

        return CohortTable(self._df, **kwargs)
