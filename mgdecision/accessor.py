"""The ``df.mg`` pandas accessor: ``df.mg.assess()``, ``df.mg.style()``, ``df.mg.table()``.

    import mgdecision.accessor  # registers ``.mg`` (``import mgdecision`` does it too)
    out = df.mg.assess()        # == mg.assess_frame(df): input columns, then the output columns
    df.mg.style()               # a pandas Styler, flag columns coloured like the cards
    df.mg.table()               # the interactive CohortTable (needs the ``widgets`` extra)

Flag cells (the columns ``mgdecision.outputs`` declares with a palette) take their colours from
``mgdecision.palette`` (level words as in the batch workbook and Excel; interactions and input problems
in the cards' indicator colours), always with the text colour
that keeps WCAG AA contrast; the cell keeps its word, so colour is never the only signal.
The interactions cell is coloured by the most severe interaction of the row, read from the interaction
records of :func:`mgdecision.assess_table`, never from the text. ``.table()`` finds the cohort table through
the ``mgdecision.frontends`` entry point (the ``widgets`` extra installs it); the core imports no front-end.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import UsageError
from .frame import assess_frame, assess_table
from .outputs import COLUMNS, FLAG_COLUMNS, LEVEL_COLUMNS
from .palette import flag_css, flag_swatch

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "FLAG_COLUMNS",
    "LEVEL_COLUMNS",
    "MgAccessor",
    "flag_css",
    "flag_swatch",
    "row_severities",
    "style_flags",
]

def row_severities(interactions: pd.DataFrame, n: int) -> list[tuple[str, ...]]:
    """Per row position, the severities of its interactions (from :func:`mgdecision.assess_table`)."""
    found: list[list[str]] = [[] for _ in range(n)]
    for row, severity in zip(interactions["row"].tolist(), interactions["severity"].tolist(), strict=True):
        found[row].append(severity)
    return [tuple(s) for s in found]


def style_flags(frame: pd.DataFrame, interactions: pd.DataFrame | None = None) -> Styler:
    """A Styler of ``frame`` (already assessed) with its flag columns coloured; ``interactions``: the interaction
    records of the same rows (:func:`mgdecision.assess_table`), else worked out from the frame's input columns."""
    if interactions is None:
        inputs = frame.loc[:, [c not in COLUMNS for c in frame.columns]]
        interactions = assess_table(inputs).interactions if len(inputs.columns) else None
    severities = row_severities(interactions, len(frame)) if interactions is not None else [()] * len(frame)
    styler = frame.style
    for column in FLAG_COLUMNS:
        if column not in frame.columns:
            continue
        values = list(frame[column])
        styles = [flag_css(column, v, s) for v, s in zip(values, severities, strict=True)]
        styler = styler.apply(lambda _col, css=styles: css, axis=0, subset=[column])
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
        if all(c in self._df.columns for c in COLUMNS):
            return style_flags(self._df)
        found = assess_table(self._df)
        return style_flags(found.frame, found.interactions)

    def table(self, **kwargs: Any) -> Any:
        """An interactive cohort table of these patients (the ``widgets`` extra's ``CohortTable``)."""
        found = [e for e in entry_points(group="mgdecision.frontends") if e.name == "table"]
        if not found:
            raise UsageError('the cohort table needs the widgets extra: pip install "mgdecision[widgets]"')
        return found[0].load()(self._df, **kwargs)
