"""One input per patient field: the widget, its raw value for the core, and a visible problem line.

Every input hands the core the text or choice as given (the core reads, converts and validates it);
nothing is clamped or coerced here. A value loaded from a row is kept exactly as loaded until the
user edits it, so the form and ``mg.assess`` of that row always agree. Problems the core reports for
a field are shown in a line right below it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import ipywidgets as w

from mgdecision import split_items

__all__ = ["ChoiceInput", "FieldInput", "SerumInput", "TagInput", "TextInput", "display_text", "is_empty"]

LABEL_WIDTH = "170px"
_STYLE = {"description_width": LABEL_WIDTH}
_BOX = {"width": "100%", "overflow": "visible"}


def is_empty(value: Any) -> bool:
    """None, NaN/NaT, or blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # pandas NaT / NA
    except (TypeError, ValueError):
        return False


def display_text(value: Any) -> str:
    """How a loaded cell value is shown in a text box (12.0 -> "12", a midnight datetime -> a date)."""
    if is_empty(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class FieldInput:
    """Base: ``box`` (what is displayed), ``get()``, ``set(raw)``, ``show(messages)``, ``on_change(fn)``."""

    name: str
    box: w.Widget

    def __init__(self, name: str) -> None:
        self.name = name
        self.error = w.HTML("", layout=w.Layout(margin="0 0 0 " + LABEL_WIDTH))
        self.error.add_class("mg-field-error")
        self.error.add_class(f"mg-error-{name}")

    def get(self) -> Any:
        raise NotImplementedError

    def set(self, raw: Any) -> None:
        raise NotImplementedError

    def observed(self) -> Sequence[w.Widget]:
        raise NotImplementedError

    def on_change(self, fn: Callable[[], None]) -> None:
        for widget in self.observed():
            widget.observe(lambda _change: fn(), "value")

    def show(self, messages: Sequence[str]) -> None:
        """Show the core's problems for this field (empty list: clear)."""
        self.error.value = "".join(
            f'<div class="mg-problem" role="alert">⚠ {html.escape(m)}</div>' for m in messages)

    @property
    def messages(self) -> str:
        return self.error.value


class TextInput(FieldInput):
    """Free text (numbers included): the core reports anything it cannot read."""

    def __init__(self, name: str, label: str, placeholder: str = "", width: str = "100%",
                 completions: Sequence[str] = ()) -> None:
        super().__init__(name)
        common = {"description": label, "placeholder": placeholder, "style": _STYLE,
                  "layout": w.Layout(width=width), "continuous_update": True}
        self.text = (w.Combobox(options=list(completions), ensure_option=False, **common) if completions
                     else w.Text(**common))
        self.text.add_class(f"mg-in-{name}")
        self._raw: Any = None
        self._shown = ""
        self.box = w.VBox([self.text, self.error], layout=_BOX)

    def get(self) -> Any:
        current = self.text.value
        if self._raw is not None and current == self._shown:
            return self._raw
        return current if current.strip() else None

    def set(self, raw: Any) -> None:
        self._raw = None if is_empty(raw) else raw
        self._shown = display_text(raw)
        self.text.value = self._shown

    def observed(self) -> Sequence[w.Widget]:
        return (self.text,)


class ChoiceInput(FieldInput):
    """A dropdown of canonical choices; a loaded value that is none of them is kept as its own option."""

    def __init__(self, name: str, label: str, choices: Sequence[tuple[str, Any]]) -> None:
        super().__init__(name)
        self._choices = list(choices)
        self.dropdown = w.Dropdown(description=label, options=self._choices, value=self._choices[0][1],
                                   style=_STYLE, layout=w.Layout(width="100%"))
        self.dropdown.add_class(f"mg-in-{name}")
        self.box = w.VBox([self.dropdown, self.error], layout=_BOX)

    def get(self) -> Any:
        value = self.dropdown.value
        return None if is_empty(value) else value

    def set(self, raw: Any) -> None:
        if is_empty(raw):
            self.dropdown.options = self._choices
            self.dropdown.value = self._choices[0][1]
            return
        text = display_text(raw).strip().lower()
        for label, value in self._choices:
            if not isinstance(raw, bool) and text in (str(value).lower(), label.lower()):
                self.dropdown.options = self._choices
                self.dropdown.value = value
                return
        # not a canonical choice: keep the value exactly as given so the core reads (and reports) it
        self.dropdown.options = [*self._choices, (f"{display_text(raw)} (as given)", raw)]
        self.dropdown.value = raw

    def observed(self) -> Sequence[w.Widget]:
        return (self.dropdown,)


class SerumInput(FieldInput):
    """Serum magnesium value and its unit; the unit applies to the lab range too.

    There is no default unit: 0.8 mmol/L is normal, 0.8 mg/dL life-threatening. A number with no unit
    chosen reaches the core without one, and the core reports ``unit_missing`` below the field.
    """

    UNITS = ("mmol/L", "mg/dL", "mEq/L")
    NO_UNIT = "choose unit"  # the label of the empty choice, shown until the user picks a unit

    def __init__(self, label: str = "Serum Mg") -> None:
        super().__init__("serum_mg")
        self.value = TextInput("serum_mg", label, placeholder="e.g. 0.62", width="auto")
        self.value.text.layout = w.Layout(flex="1 1 260px", min_width="0")
        self.value.text.add_class("mg-serum-value")
        self.unit = ChoiceInput("serum_mg_unit", "Unit", [(self.NO_UNIT, ""), *((u, u) for u in self.UNITS)])
        self.unit.dropdown.description = ""
        self.unit.dropdown.layout = w.Layout(width="120px", flex="0 0 120px")
        self.unit.dropdown.tooltip = "Serum Mg unit (required: no unit is ever assumed)"
        self.box = w.VBox([w.HBox([self.value.text, self.unit.dropdown],
                                  layout=w.Layout(width="100%", flex_flow="row wrap")),
                           self.error], layout={**_BOX, "max_width": "560px"})

    def get(self) -> Any:
        return self.value.get()

    def set(self, raw: Any) -> None:
        self.value.set(raw)

    def observed(self) -> Sequence[w.Widget]:
        return (self.value.text, self.unit.dropdown)


class TagInput(FieldInput):
    """A list as tags: type (with completion from the knowledge base) and press Enter to add a tag.

    Any text is accepted as a tag; the core reports terms it does not recognise, shown below the field.
    """

    def __init__(self, name: str, label: str, completions: Sequence[str], placeholder: str = "") -> None:
        super().__init__(name)
        self.entry = w.Combobox(description=label, options=list(completions), ensure_option=False,
                                placeholder=placeholder or "type, then Enter", continuous_update=False,
                                style=_STYLE, layout=w.Layout(width="100%"))
        self.entry.add_class(f"mg-in-{name}")
        self.tags = w.TagsInput(value=[], allow_duplicates=False, placeholder="",
                                layout=w.Layout(margin="0 0 0 " + LABEL_WIDTH, width="auto"))
        self.tags.add_class(f"mg-tags-{name}")
        self.entry.observe(self._add_entry, "value")
        self.tags.observe(self._show_tags, "value")
        self._loaded: tuple[str | None, list[str]] = (None, [])  # the text set() was given, and its tags
        self._show_tags()
        self.box = w.VBox([self.entry, self.tags, self.error], layout=_BOX)

    def _add_entry(self, change: dict[str, Any]) -> None:
        new = [t for t in split_items(change["new"] or "") if t not in self.tags.value]
        if new:
            self.tags.value = [*self.tags.value, *new]
        if change["new"]:
            self.entry.value = ""

    def _show_tags(self, _change: Any = None) -> None:
        self.tags.layout.display = "flex" if self.tags.value else "none"  # no empty tag box

    def get(self) -> Any:
        # the text as loaded while its tags are unchanged: its separators carry meaning ("no cramps, tremor;
        # anxiety": the negation carries over the comma, not the semicolon); tags added here are separate items
        loaded, tags = self._loaded
        if loaded is not None and list(self.tags.value) == tags:
            return loaded
        return "; ".join(self.tags.value) or None

    def set(self, raw: Any) -> None:
        self.entry.value = ""
        text = display_text(raw)
        self.tags.value = list(dict.fromkeys(split_items(text)))
        self._loaded = (text if text.strip() else None, list(self.tags.value))

    def observed(self) -> Sequence[w.Widget]:
        return (self.tags,)
