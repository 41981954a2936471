"""``PatientForm``: one patient's inputs with live flag cards from the core.

    form = PatientForm()
    form.load({"age": 52, "sex": "F", "serum_mg": "0.62 mmol/L", "medications": "Prilosec"})
    form                              # displays inputs and cards; every change re-assesses at once
    form.assessment                   # the current mg.Assessment (None while the form is empty): a trait
    form.observe(lambda ch: print(ch["new"].risk.level), "assessment")   # or traitlets.link / dlink it

The form never decides anything itself: it collects the values as typed, calls ``mg.assess`` and shows
the core's cards (``mgdecision.render``) and the core's input problems next to the field they concern.
Before anything is entered it shows no cards, only what to enter. On a phone the results come first and stay
pinned at the top while the fields scroll beneath them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
import traitlets

import mgdecision as mg
from mgdecision import knowledge

from .cards import FORM_CSS, flags_html
from .inputs import ChoiceInput, FieldInput, SerumInput, TagInput, TextInput, is_empty

__all__ = ["PatientForm"]

_NOT_GIVEN = ("not given", "")
_YESNO = [_NOT_GIVEN, ("no", "no"), ("yes", "yes")]
_LABELS = {  # shorter labels for the form; the knowledge base's label is the tooltip
    "serum_mg": "Serum Mg",
    "pregnant": "Pregnant",
    "lactating": "Lactating",
    "dialysis": "Dialysis",
    "sex": "Sex",
    "route": "Route",
    "egfr": "eGFR / CrCl (mL/min)",
    "diagnoses": "Diagnoses",
    "medications": "Medications",
    "symptoms": "Symptoms",
    "supplement_form": "Supplement form",
    "supplement_dose_mg": "Dose (elemental mg/day)",
    "supplement_compound_mg": "Dose as salt (mg/day)",
    "ref_low": "Lab range low",
    "ref_high": "Lab range high",
}
_SECTIONS = (
    ("Patient", ("patient_id", "age", "sex", "pregnant", "lactating")),
    ("Kidneys and serum", ("serum_mg", "ref_low", "ref_high", "egfr", "dialysis")),
    ("Diagnoses, medications, symptoms", ("diagnoses", "medications", "symptoms")),
    ("Supplement", ("route", "supplement_form", "supplement_dose_mg", "supplement_compound_mg")),
    ("Dates (optional)", ("date_of_birth", "assessment_date")),
)


def _make_input(name: str, kind: str, label: str) -> FieldInput:
    kb = knowledge()
    if kind == "sex":
        return ChoiceInput(name, label, [_NOT_GIVEN, ("female", "F"), ("male", "M")])
    if kind == "yesno":
        return ChoiceInput(name, label, _YESNO)
    if kind == "route":
        return ChoiceInput(name, label, [("not given (oral)", ""), ("oral", "oral"), ("IV", "iv")])
    if kind == "serum":
        return SerumInput(label)
    if kind == "drugs":
        return TagInput(name, label, sorted(kb.drug_names), "medication, then Enter")
    if kind == "conditions":
        return TagInput(name, label, sorted(kb.condition_names), "diagnosis or ICD-10 code, then Enter")
    if kind == "symptoms":
        return TagInput(name, label, sorted(kb.symptom_names), "symptom, then Enter")
    if kind == "salt_form":
        forms = sorted(k for k in kb.dosing["elemental"] if k != "source")
        return TextInput(name, label, "e.g. glycinate", completions=forms)
    placeholder = {"age": "years, or e.g. 18 months", "date": "YYYY-MM-DD", "serum_limit": "same unit as serum"}
    return TextInput(name, label, placeholder.get(kind, ""))


EMPTY_HINT = ('<div class="mg-empty" role="status" aria-live="polite">Enter a patient\'s details (age, sex, '
              "serum magnesium with its unit, kidney function, diagnoses, medications) to see the magnesium "
              "flags here.</div>")


class PatientForm(w.VBox):
    """Inputs for every patient field and the flag cards, updated on every change.

    ``assessment`` is a trait: observe it, or link it to another widget's trait, to follow the patient.
    """

    assessment = traitlets.Instance(mg.Assessment, allow_none=True, default_value=None,
                                    help="the current assessment; None while nothing is entered")

    def __init__(self, row: Mapping[str, Any] | None = None, *,
                 on_save: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.inputs: dict[str, FieldInput] = {}
        for field in knowledge().fields:
            if field.kind == "unit":
                continue  # the serum unit is the dropdown next to the serum value
            inp = _make_input(field.name, field.kind, _LABELS.get(field.name, field.label))
            for widget in inp.observed()[:1]:
                widget.tooltip = field.label
            self.inputs[field.name] = inp
        self.serum: SerumInput = self.inputs["serum_mg"]  # type: ignore[assignment]
        self.extra: dict[str, Any] = {}  # loaded columns that are no patient field, passed on unchanged
        self.general = w.HTML("")
        self.general.add_class("mg-form-problems")
        self.cards = w.HTML("")
        self.cards.add_class("mg-flags")
        self.on_save = on_save
        self.save_button = w.Button(description="Save patient", button_style="primary",
                                    tooltip="Save this patient back to the table",
                                    layout=w.Layout(display="flex" if on_save else "none"))
        self.save_button.add_class("mg-save")
        self.save_button.on_click(lambda _b: self.save())
        self.clear_button = w.Button(description="Clear form", tooltip="Empty every field (the unit too)")
        self.clear_button.add_class("mg-clear")
        self.clear_button.on_click(lambda _b: self.load({}))
        self.status = w.HTML("")
        self._loading = False

        sections = []
        for title, names in _SECTIONS:
            wide = [self.inputs[n].box for n in names if n == "serum_mg"]  # value and unit side by side
            boxes = [self.inputs[n].box for n in names if n in self.inputs and n != "serum_mg"]
            grid = w.GridBox(boxes, layout=w.Layout(
                grid_template_columns="repeat(auto-fill, minmax(min(330px, 100%), 1fr))", grid_gap="2px 16px",
                width="100%", overflow="visible", padding="0 8px 0 0"))
            sections.append(w.HTML(f'<h4 class="mg-section">{html.escape(title)}</h4>'))
            sections.extend([*wide, grid])
        buttons = w.HBox([self.save_button, self.clear_button, self.status])
        left = w.VBox([*sections, buttons], layout=w.Layout(flex="1 1 520px", min_width="min(340px, 100%)",
                                                             padding="0 8px"))
        left.add_class("mg-form-inputs")
        right = w.VBox([self.general, self.cards], layout=w.Layout(flex="1 1 420px", min_width="min(320px, 100%)",
                                                                     padding="0 8px"))
        right.add_class("mg-form-results")
        body = w.HBox([left, right], layout=w.Layout(flex_flow="row wrap", width="100%"))
        body.add_class("mg-form-body")
        super().__init__([body])
        self.add_class("mg-patient-form")

        self.inputs["sex"].on_change(self._sex_changed)
        for inp in self.inputs.values():
            inp.on_change(self.update)
        self.load(row or {})

    # --- values -----------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The row the form describes: field name -> value as given (blank fields left out)."""
        row = dict(self.extra)
        for name, inp in self.inputs.items():
            value = inp.get()
            if not is_empty(value):
                row[name] = value
        if "serum_mg" in row:
            unit = self.serum.unit.get()
            if not is_empty(unit):
                row["serum_mg_unit"] = unit
        return row

    def load(self, row: Mapping[str, Any]) -> None:
        """Fill the form from a row with any accepted headers (``mg.map_headers``); blank the rest."""
        hmap = mg.map_headers(list(row.keys()))
        given = {name: row[col] for name, col in hmap.fields.items()}
        self._loading = True
        try:
            for name, inp in self.inputs.items():
                value = given.get(name)
                unit = hmap.units.get(name, "")
                if unit and name == "age" and not is_empty(value):
                    value = f"{value} {unit}"
                inp.set(value)
            unit = given.get("serum_mg_unit")
            self.serum.unit.set(hmap.units.get("serum_mg", "") if is_empty(unit) else unit)  # never a default
            used = set(hmap.fields.values())
            self.extra = {k: v for k, v in row.items() if k not in used}
        finally:
            self._loading = False
        self._sex_changed()
        self.update()

    # --- reactions --------------------------------------------------------------------------------
    def _sex_changed(self) -> None:
        male = self.inputs["sex"].get() == "M"
        for name in ("pregnant", "lactating"):
            # disabled, not reset: a "yes" already given stays visible and the core reports the conflict
            self.inputs[name].observed()[0].disabled = male

    def has_input(self) -> bool:
        """True once any patient field holds a value (a unit chosen alone is not a patient yet)."""
        return any(not is_empty(inp.get()) for inp in self.inputs.values())

    def update(self) -> None:
        """Re-assess the current values and redraw the cards and the field problems."""
        if self._loading:
            return
        if not self.has_input() and not self.extra:  # nothing entered: nothing to assess, no cards
            self.assessment = None
            for inp in self.inputs.values():
                inp.show([])
            self.general.value = ""
            self.cards.value = f"<style>{FORM_CSS}</style>{EMPTY_HINT}"
            return
        try:
            a = mg.assess(self.values())
        except Exception as exc:  # never leave stale cards: say what happened instead
            self.assessment = None
            self.cards.value = (f'<div class="mg-error" role="alert">Could not assess this patient: '
                                f"{html.escape(str(exc))}</div>")
            return
        self.assessment = a
        by_field: dict[str, list[str]] = {}
        for p in a.problems:
            name = "serum_mg" if p.field == "serum_mg_unit" else p.field
            by_field.setdefault(name if name in self.inputs else "", []).append(p.message)
        for name, inp in self.inputs.items():
            inp.show(by_field.get(name, []))
        other = by_field.get("", [])
        self.general.value = "".join(f'<div class="mg-problem" role="alert">⚠ {html.escape(m)}</div>' for m in other)
        self.cards.value = flags_html(a)

    def save(self) -> dict[str, Any]:
        """Hand the current row to ``on_save`` (the cohort table) and return it."""
        row = self.values()
        if self.on_save is not None:
            self.on_save(row)
            self.status.value = '<span class="mg-saved" role="status">Saved</span>'
        return row

    # --- convenience ------------------------------------------------------------------------------
    def problems_for(self, name: str) -> str:
        """The problem text shown below field ``name`` (empty when none)."""
        return self.inputs[name].messages
