"""The flag cards shown by the widgets: the core's rendering (``mgdecision.render``), nothing else.

``flags_html`` adds only a small style block for the form (its problem lines, and on a phone each label
above its box); the cards themselves are ``render.to_html(assessment)``, the same HTML as
``Assessment._repr_html_``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mgdecision import Assessment

__all__ = ["FORM_CSS", "flags_html"]

FORM_CSS = """
.mg-problem{color:var(--jp-ui-font-color1,#111);background:var(--jp-layout-color2,#f3f3f3);
  border-left:4px solid #E69F00;padding:1px 6px;margin:1px 0 4px;font-size:0.9em;line-height:1.3}
.mg-section{margin:10px 0 2px;font-weight:600;color:var(--jp-ui-font-color1,#111)}
.mg-title{font-size:1.5em;margin:4px 0 0}
.mg-cards{line-height:1.4}
.mg-empty{color:var(--jp-ui-font-color1,#111);background:var(--jp-layout-color2,#f3f3f3);border-radius:4px;
  padding:8px 10px;margin:4px 0}
@media (max-width: 600px) {  /* phones: the results first, pinned while the fields scroll; labels above boxes */
  .mg-patient-form .mg-form-body{flex-direction:column !important}
  .mg-patient-form .mg-form-results{order:-1;position:sticky;top:0;z-index:5;max-height:45vh;overflow-y:auto !important;
    background:var(--jp-layout-color1,#fff);border-bottom:2px solid var(--jp-border-color1,#bbb);
    flex:0 0 auto !important;padding:4px 4px 6px !important}
  .mg-patient-form .mg-form-inputs{flex:0 0 auto !important}
  /* sticky needs every box above it to let the page scroll (widget boxes scroll on their own by default) */
  .mg-root, .mg-root .widget-box, .mg-root .jupyter-widget-TabPanel-tabContents,
  .mg-patient-form, .mg-patient-form .widget-box{overflow:visible !important}
  .mg-patient-form .widget-box.mg-form-results{overflow-x:hidden !important;overflow-y:auto !important}
  .mg-patient-form .widget-inline-hbox{flex-wrap:wrap;height:auto !important}
  .mg-patient-form select{min-height:28px}
  .mg-patient-form .widget-inline-hbox > .widget-label{width:100% !important;max-width:100% !important;
    text-align:left;margin-bottom:0}
  .mg-patient-form .widget-inline-hbox > :not(.widget-label){flex:1 1 auto;min-width:0}
  .mg-patient-form .mg-field-error, .mg-patient-form .jupyter-widget-tagsinput{margin-left:0 !important}
  .mg-app .lm-TabBar-tab{min-width:0;flex:1 1 auto}
  .mg-app > .widget-tab-contents, .mg-app .lm-TabPanel-stackedPanel{padding:4px}
}
"""


def flags_html(a: Assessment) -> str:
    """The cards of one assessment as HTML (the core's rendering) plus the form's problem style."""
    return f"<style>{FORM_CSS}</style>" + a._repr_html_()
