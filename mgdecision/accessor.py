"""The ``df.mg`` pandas accessor: ``df.mg.assess()``, ``df.mg.style()``, ``df.mg.table()``.

    import mgdecision.accessor  # registers ``.mg`` (``import mgdecision`` does it too)
    out = df.mg.assess()        # == mg.assess_frame(df): input columns, then the output columns
    df.mg.style()               # a pandas Styler, flag columns coloured like the cards
    df.mg.table()               # the interactive CohortTable (needs the ``widgets`` extra)

Flag cells (the columns ``mgdecision.outputs`` declares with a palette) take their colours from
``mgdecision.palette`` (level words as in the batch workbook and Excel; interactions and input problems
in the cards' indicator colours), always with the text colour
that keeps WCAG AA contrast; the cell keeps its word, so colour is never the only signal.
ipywidgets is imported only by ``.table()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .frame import assess_frame
from .outputs import COLUMNS, FLAG_COLUMNS, INTERACTION, LEVEL, LEVEL_COLUMNS, OUTPUTS, PROBLEM
from .palette import INDICATORS, LEVELS, Swatch

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = ["FLAG_COLUMNS", "LEVEL_COLUMNS", "MgAccessor", "flag_css", "flag_swatch", "style_flags"]

_PALETTE = {o.name: o.palette for o in OUTPUTS}  # the colouring each output column declares


def flag_swatch(column: str, value: Any) -> Swatch | None:
    """The palette swatch of one flag cell, or None when it is not coloured (empty, or not a flag)."""
    if not isinstance(value, str) or not value:
        return None
    palette = _PALETTE.get(column)
    if palette == LEVEL:
        return LEVELS.get(value)
    if palette == INTERACTION:
        return INDICATORS["warning" if "(major)" in value else "info"]
    if palette == PROBLEM:
        return INDICATORS["warning"]
    return None


def flag_css(column: str, value: Any) -> str:
    """CSS for one flag cell ("" when uncoloured)."""
    swatch = flag_swatch(column, value)
    return "" if swatch is None else f"background-color: {swatch.fill}; color: {swatch.text}"


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
