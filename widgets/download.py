"""``DownloadButton``: one click makes a file in Python and the browser saves it (no link to click next).

The button is an anywidget: its few lines of JavaScript travel inside the package (nothing from a CDN).
On click the browser asks the kernel for the file; ``make()`` builds it and the bytes come back as a
binary buffer, saved through a temporary ``blob:`` link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["DownloadButton"]

_ESM = """
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button mg-download-button";
  button.type = "button";
  const label = () => { button.textContent = model.get("description"); button.title = model.get("tooltip"); };
  label();
  model.on("change:description", label);
  model.on("change:tooltip", label);
  button.addEventListener("click", () => {
    button.disabled = true;
    model.send({ event: "download" });
  });
  model.on("msg:custom", (msg, buffers) => {
    button.disabled = false;
    if (!msg || msg.event !== "file" || !buffers || !buffers.length) return;
    const blob = new Blob([buffers[0]], { type: msg.mime });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = msg.filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });
  el.appendChild(button);
}
export default { render };
"""


class DownloadButton(anywidget.AnyWidget):
    """A button that saves ``make()`` (bytes) as ``filename`` in the browser, in one click."""

    _esm = _ESM
    description = traitlets.Unicode("Download").tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)

    def __init__(self, make: Callable[[], bytes], filename: str, mime: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.make, self.filename, self.mime = make, filename, mime
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "download":
            self.deliver()

    def deliver(self) -> bytes:
        """Build the file and send it to the browser; return its bytes."""
        data = self.make()
        self.send({"event": "file", "filename": self.filename, "mime": self.mime}, buffers=[data])
        return data
