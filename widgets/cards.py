"""The flag cards shown by the widgets: the core's rendering (``mgdecision.render``), nothing else.

``flags_html`` adds only a small style block for the form's own problem lines; the cards themselves are
``render.to_html(assessment)``, the same HTML as ``Assessment._repr_html_``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgdecision import render

if TYPE_CHECKING:
    from mgdecision import Assessment

__all__ = ["FORM_CSS", "flags_html"]

FORM_CSS = """
.mg-problem{color:var(--jp-ui-font-color1,#111);background:var(--jp-layout-color2,#f3f3f3);
  border-left:4px solid #E69F00;padding:1px 6px;margin:1px 0 4px;font-size:0.9em;line-height:1.3}
.mg-section{margin:10px 0 2px;font-weight:600;color:var(--jp-ui-font-color1,#111)}
"""


def flags_html(a: Assessment) -> str:
    """The cards of one assessment as HTML (the core's rendering) plus the form's problem style."""
    return f"<style>{FORM_CSS}</style>" + render.to_html(a)
