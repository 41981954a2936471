"""``ScrollTo``: brings a part of the page into view from Python (a row clicked in the table opens the form
below it; on a small screen the form would otherwise stay out of sight).

An anywidget with no look of its own: each ``scroll()`` increments ``request`` and the browser scrolls the
first element matching ``target`` (a CSS selector) into view. Its few lines of JavaScript travel inside the
package.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ScrollTo"]

_ESM = """
function render({ model, el }) {
  el.style.display = "none";
  model.on("change:request", () => {
    const target = document.querySelector(model.get("target"));
    if (target) target.scrollIntoView({ behavior: "smooth", block: "start" });
  });
}
export default { render };
"""


class ScrollTo(anywidget.AnyWidget):
    """Scrolls the element matching ``target`` into view each time :meth:`scroll` is called."""

    _esm = _ESM
    target = traitlets.Unicode("").tag(sync=True)
    request = traitlets.Int(0).tag(sync=True)

    def scroll(self) -> None:
        self.request += 1
