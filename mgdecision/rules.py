"""The clinical rules (clinical-rules.md sections 2-5): one function, :func:`decide`, used by every path.

It takes a :class:`Patient` as read and returns the four findings: deficiency risk, contraindication
level, interactions, and dose with form and timing. Numbers, lists and texts come from the knowledge
base; this module holds only the shape of each rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from .kb import Concept, Knowledge, knowledge
from .models import Contraindication, Dose, Form, Interaction, Reason, Risk
from .reading import Patient, Serum
from .vocab import ContraLevel, DoseStatus, RiskLevel

__all__ = ["Findings", "decide", "rda_mg", "ul_mg"]

_SEVERITY_ORDER = {"major": 0, "moderate": 1, "minor": 2}
_FORM_PRIORITY = ("sleep", "anxiety", "cramps", "constipation", "brain_fog", "fatigue", "migraine")


@dataclass(frozen=True, slots=True)
class Findings:
    risk: Risk
    contraindication: Contraindication
    interactions: tuple[Interaction, ...]
    dose: Dose
    form: Form
    notes: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class _SerumStatus:
    below: bool
    above: bool
    low_normal: bool
    at_or_above_cut: bool
    lower: float
    upper: float
    cut: float
    hypo_grade: int | None
    hyper_grade: int | None


@cache
def _tables() -> dict[str, Any]:
    kb = knowledge()
    serum = kb.serum
    return {
        "lower": serum["limits"]["lower"],
        "upper": serum["limits"]["upper"],
        "cut": serum["limits"]["low_normal"],
        "limit_sources": tuple({*_src(serum["limits"]["lower"]), *_src(serum["limits"]["upper"])}),
        "ctcae_hypo": serum["ctcae_hypo"],
        "ctcae_hyper": serum["ctcae_hyper"],
        "factors": kb.risk["factors"],
        "levels": kb.risk["levels"],
        "symptom_rule": kb.risk["symptom_rule"],
        "rules": kb.contraindications["rules"],
        "renal": kb.contraindications["renal"],
        "interactions": kb.interactions,
        "dosing": kb.dosing,
        "rda": kb.intake["rda"]["bands"],
        "ul": kb.intake["ul"]["bands"],
        "ul_preg": kb.intake["ul"]["pregnancy_lactation_ul"],
        "intake_source": _src(kb.intake["rda"]),
    }


_SRC_CACHE: dict[int, tuple[str, ...]] = {}


def _src(entry: Any) -> tuple[str, ...]:
    """Source ids of a knowledge entry (memoised per entry; the knowledge tables are never mutated)."""
    key = id(entry)
    found = _SRC_CACHE.get(key)
    if found is None:
        raw = entry.get("source", ()) if isinstance(entry, dict) else ()
        found = _SRC_CACHE[key] = (raw,) if isinstance(raw, str) else tuple(raw)
    return found


# ---------------------------------------------------------------- reference intakes


def _band(bands: list[dict[str, Any]], age: float) -> dict[str, Any] | None:
    for band in bands:
        if band["min"] <= age < band["max"]:
            return band
    return None


def rda_mg(age: float, sex: str | None, pregnant: bool = False, lactating: bool = False) -> float | None:
    """RDA (or AI under 1 year) of magnesium in mg/day from all sources; None if sex is needed and not given."""
    band = _band(_tables()["rda"], float(age))
    if band is None:
        return None
    if pregnant and "pregnant" in band:
        return float(band["pregnant"])
    if lactating and "lactating" in band:
        return float(band["lactating"])
    if band["female"] == band["male"]:
        return float(band["female"])
    key = {"F": "female", "M": "male"}.get((sex or "").upper()[:1])
    return float(band[key]) if key else None


def ul_mg(age: float) -> float | None:
    """Upper limit of supplemental magnesium in mg/day for the age; None under 1 year (not established)."""
    band = _band(_tables()["ul"], float(age))
    if band is None or not band["ul"]:
        return None
    return float(band["ul"])


# ---------------------------------------------------------------- serum


def _grade(table: Any, value: float, unit: str, key: str) -> int:
    if isinstance(table.get(unit), str):  # mEq/L -> graded as mmol/L after halving
        value, unit = value / 2.0, table[unit]
    grade = 1
    for step in table[unit]:
        if (key == "below" and value < step["below"]) or (key == "above" and value > step["above"]):
            grade = step["grade"]
    return grade


def _serum_status(serum: Serum) -> _SerumStatus:
    t = _tables()
    unit, value = serum.unit, serum.value
    lower = serum.ref_low if serum.ref_low is not None else t["lower"][unit]
    upper = serum.ref_high if serum.ref_high is not None else t["upper"][unit]
    cut = t["cut"][unit]
    below, above = value < lower, value > upper
    return _SerumStatus(
        below=below,
        above=above,
        low_normal=not below and not above and value < cut,
        at_or_above_cut=value >= cut,
        lower=lower,
        upper=upper,
        cut=cut,
        hypo_grade=_grade(t["ctcae_hypo"], value, unit, "below") if below else None,
        hyper_grade=_grade(t["ctcae_hyper"], value, unit, "above") if above else None,
    )


# ---------------------------------------------------------------- helpers


def _who(concept: Concept, named: str) -> str:
    """'omeprazole (Prilosec 20 mg)' when the row used another name, else the name as written."""
    label = concept.label
    return named if named.lower() == label.lower() else f"{label} ({named})"


def _all_concepts(p: Patient) -> tuple[tuple[Concept, str], ...]:
    return p.diagnoses.concepts + p.medications.concepts + p.symptoms.concepts


def _symptom_ids(p: Patient) -> dict[str, str]:
    """Symptom id -> how the row named it, from the symptom list and symptom-like diagnoses."""
    found: dict[str, str] = {}
    for concept, named in _all_concepts(p):
        if concept.kind == "symptom" and concept.id != "other":
            found.setdefault(concept.id, named)
        elif concept.symptom:
            found.setdefault(concept.symptom, named)
    return found


# ---------------------------------------------------------------- the rules


def decide(p: Patient) -> Findings:
    """Apply every rule to one patient."""
    kb = knowledge()
    t = _tables()
    status = _serum_status(p.serum) if p.serum is not None else None
    concepts = _all_concepts(p)
    symptoms = _symptom_ids(p)
    pregnant = bool(p.pregnant) or any(c.sets == "pregnant" for c, _ in concepts)
    lactating = bool(p.lactating) or any(c.sets == "lactating" for c, _ in concepts)
    dialysis = bool(p.dialysis) or any(c.sets == "dialysis" for c, _ in concepts)

    risk = _risk(p, status, concepts, symptoms, t)
    contra = _contraindication(p, status, concepts, pregnant, dialysis, t, kb)
    interactions = _interactions(p, t)
    notes = _notes(p, concepts, kb)
    dose, form = _dose(p, status, risk, contra, concepts, symptoms, pregnant, lactating, t, kb)
    return Findings(risk, contra, interactions, dose, form, notes)


def _risk(p: Patient, status: _SerumStatus | None, concepts: Any, symptoms: dict[str, str], t: dict[str, Any]) -> Risk:
    factors = t["factors"]
    hits: dict[str, list[str]] = {}
    for concept, named in concepts:
        if concept.risk:
            hits.setdefault(concept.risk, []).append(_who(concept, named))
    if p.age is not None and p.age >= 65:
        hits["age65"] = [f"age {p.age:g}"]
    if status is not None and status.low_normal:
        hits["low_normal_serum"] = [f"serum {p.serum.display()} below {status.cut:g}"]  # type: ignore[union-attr]
    reasons: list[Reason] = []
    points = 0
    for fid, who in hits.items():
        factor = factors[fid]
        points += factor["points"]
        reasons.append(Reason(f"{factor['label']}: {', '.join(who)}", _src(factor), factor["points"]))
    rule = t["symptom_rule"]
    compatible = [named for sid, named in symptoms.items() if knowledge().concepts[f"symptom:{sid}"].compatible]
    if len(compatible) >= rule["min_count"]:
        points += rule["points"]
        reasons.append(Reason(f"{rule['label']}: {', '.join(compatible)}", _src(rule), rule["points"]))

    levels = t["levels"]
    grade = None
    if status is not None and status.below:
        grade = status.hypo_grade
        level = RiskLevel.HIGH
        reasons.insert(0, Reason(
            f"serum {p.serum.display()} below the lower limit {status.lower:g} {p.serum.unit}"  # type: ignore[union-attr]
            f" (CTCAE grade {grade})", ("ctcae_v5", *t["limit_sources"])))
    elif not (status is not None or p.age is not None or p.diagnoses.readable or p.medications.readable
              or p.symptoms.readable):
        return Risk(RiskLevel.UNKNOWN, 0, (Reason(
            "not enough data: no usable serum value, age, diagnosis, medication or symptom", ("mg_rules",)),))
    else:
        level = (RiskLevel.HIGH if points >= levels["high_from"]
                 else RiskLevel.MODERATE if points >= levels["moderate_from"] else RiskLevel.LOW)
        if level == RiskLevel.HIGH and status is not None and status.at_or_above_cut:
            level = RiskLevel(levels["cap_with_normal_serum"])
            reasons.append(Reason(f"capped at {level}: measured serum {p.serum.display()} is at or above "  # type: ignore[union-attr]
                                  f"{status.cut:g} {p.serum.unit}", ("rosanoff_2022",)))  # type: ignore[union-attr]
        if not reasons:
            reasons.append(Reason("no risk factor found in the data given", ("mg_rules",), 0))
    return Risk(level, points, tuple(reasons), grade)


def _contraindication(p: Patient, status: _SerumStatus | None, concepts: Any, pregnant: bool, dialysis: bool,
                      t: dict[str, Any], kb: Knowledge) -> Contraindication:
    rules = t["rules"]
    renal = t["renal"]
    fired: dict[str, list[str]] = {}

    def fire(rule_id: str, detail: str) -> None:
        fired.setdefault(rule_id, []).append(detail)

    renal_codes = False
    for concept, named in concepts:
        rule_id = concept.contra.get(p.route)
        if rule_id:
            fire(rule_id, _who(concept, named))
        if concept.id in ("ckd_3", "ckd_severe", "ckd_unstaged", "dialysis", "aki"):
            renal_codes = True
    if status is not None and status.above:
        fire("hypermagnesaemia", f"serum {p.serum.display()} above {status.upper:g} {p.serum.unit}"  # type: ignore[union-attr]
             f" (CTCAE grade {status.hyper_grade})")
    if p.egfr is not None:
        if p.egfr < renal["severe_below"]:
            fire("renal_severe", f"eGFR {p.egfr:g} below {renal['severe_below']}")
        elif p.egfr < renal["moderate_below"]:
            fire("renal_moderate", f"eGFR {p.egfr:g} ({renal['severe_below']}-{renal['moderate_below'] - 1})")
    if dialysis:
        fire("renal_severe", "dialysis")
    k_sparing_renal = fired.pop("k_sparing_renal", None)
    reduced = (p.egfr is not None and p.egfr < renal["k_sparing_below"]) or any(
        r in fired for r in ("renal_severe", "renal_moderate", "ckd_unstaged", "aki"))
    if k_sparing_renal and reduced:
        fire("k_sparing_renal", ", ".join(k_sparing_renal))
    if p.supplement_dose_mg is not None:
        limit = ul_mg(p.age) if p.age is not None else None
        if p.age is not None and limit is not None and p.supplement_dose_mg > limit:
            fire("supplement_above_ul", f"{p.supplement_dose_mg:g} mg/day > UL {limit:g} mg for age {p.age:g}")
        elif p.age is None and p.supplement_dose_mg > t["ul_preg"]:
            fire("supplement_above_ul", f"{p.supplement_dose_mg:g} mg/day > UL {t['ul_preg']:g} mg (any age)")
    if pregnant and p.route == "iv":
        fire("pregnancy_iv", "pregnant, route iv")

    reasons = []
    level = ContraLevel.NONE_FOUND
    for rule_id in sorted(fired, key=lambda r: rules[r]["level"] != "CONTRAINDICATED"):
        rule = rules[rule_id]
        reasons.append(Reason(f"{rule['text']} ({'; '.join(fired[rule_id])})", _src(rule)))
        if rule["level"] == "CONTRAINDICATED":
            level = ContraLevel.CONTRAINDICATED
        elif level == ContraLevel.NONE_FOUND:
            level = ContraLevel.CAUTION

    not_checked: list[str] = []
    if p.egfr is None and p.dialysis is None and not renal_codes:
        not_checked.append("kidney function (no eGFR, dialysis or CKD code)")
    if p.serum is None:
        not_checked.append("serum magnesium (no usable value): hypermagnesaemia not excluded")
    for terms in (p.diagnoses, p.medications):
        if terms.unrecognized:
            not_checked.append(f"{terms.field} not recognised: {', '.join(terms.unrecognized)}")
    if level == ContraLevel.NONE_FOUND:
        reasons.append(Reason("no contraindication found in the data given" +
                              (f"; not checked: {'; '.join(not_checked)}" if not_checked else ""), ("mg_rules",)))
    return Contraindication(level, tuple(reasons), tuple(not_checked))


def _interactions(p: Patient, t: dict[str, Any]) -> tuple[Interaction, ...]:
    found = []
    for concept, named in p.medications.concepts:
        if not concept.interaction:
            continue
        rule = t["interactions"][concept.interaction]
        severity = rule["severity"]
        if isinstance(severity, dict):
            severity = severity[p.route]
        found.append(Interaction(_who(concept, named), severity, rule["action"], rule.get("before_h"),
                                 rule.get("after_h"), _src(rule)))
    found.sort(key=lambda i: _SEVERITY_ORDER[i.severity])
    return tuple(found)


def _notes(p: Patient, concepts: Any, kb: Knowledge) -> tuple[Reason, ...]:
    notes = [Reason(f"{c.note} ({_who(c, named)})", c.sources) for c, named in concepts if c.note]
    if p.age_note:
        notes.append(Reason(p.age_note, ()))
    keys = {c.id for c, _ in concepts}
    for conflict in kb.seed_conflicts.values():
        if keys.intersection(conflict["when"]):
            notes.append(Reason(f"seed article conflict: {conflict['claim']}; the evidence: {conflict['fact']}",
                                _src(conflict)))
    return tuple(notes)


def _dose(p: Patient, status: _SerumStatus | None, risk: Risk, contra: Contraindication, concepts: Any,
          symptoms: dict[str, str], pregnant: bool, lactating: bool, t: dict[str, Any],
          kb: Knowledge) -> tuple[Dose, Form]:
    dosing = t["dosing"]
    texts = dosing["status"]
    age = p.age
    rda = rda_mg(age, p.sex, pregnant, lactating) if age is not None else None
    ul = ul_mg(age) if age is not None else None
    if age is not None and age >= 1 and (pregnant or lactating):
        ul = float(t["ul_preg"]) if age >= 14 else ul
    lo, hi = float(dosing["range"]["min_mg"]), float(dosing["range"]["max_mg"])
    indications = [c.label for c, _ in concepts if c.indication] + [
        kb.concepts[f"symptom:{sid}"].label for sid in symptoms if kb.concepts[f"symptom:{sid}"].indication]
    grade = status.hypo_grade if status is not None else None
    notes: list[Reason] = []
    ul_text = f"UL {ul:g}" if ul is not None else ("no UL under 1 year" if age is not None else "UL not known: age not given")

    if contra.level == ContraLevel.CONTRAINDICATED:
        status_, mn, mx, text = DoseStatus.DO_NOT_SUPPLEMENT, 0.0, 0.0, texts["DO_NOT_SUPPLEMENT"]["text"]
        if grade is not None and grade >= 2:
            text += f"; serum at CTCAE grade {grade}: urgent specialist review"
    elif grade is not None and grade >= 2:
        status_ = DoseStatus.REFER
        mn, mx = (lo, hi) if age is None or age >= 14 else (0.0, ul or 0.0)
        text = f"{texts['REFER']['text']}; {texts['REFER']['after']}: {mn:g}-{mx:g} mg/day elemental ({ul_text})"
    elif age is not None and age < 1:
        status_, mn, mx, text = DoseStatus.PRESCRIBER_ONLY, 0.0, 0.0, texts["PRESCRIBER_ONLY_INFANT"]["text"]
    elif age is not None and age < 14:
        status_, mn, mx = DoseStatus.PRESCRIBER_ONLY, 0.0, float(ul or 0)
        text = f"{texts['PRESCRIBER_ONLY_CHILD']['text']}: up to {mx:g} mg/day elemental ({ul_text})"
    elif risk.level in (RiskLevel.MODERATE, RiskLevel.HIGH) or indications:
        status_, mn, mx = DoseStatus.RECOMMENDED, lo, hi
        why = f"risk {risk.level}" if risk.level in (RiskLevel.MODERATE, RiskLevel.HIGH) else ", ".join(indications)
        text = f"{mn:g}-{mx:g} mg/day {texts['RECOMMENDED']['text']} ({ul_text}); for {why}"
        if age is None:
            text += f"; {dosing['age_unknown']['text']}"
        notes.append(Reason(dosing["above_ul"]["text"], _src(dosing["above_ul"])))
    else:
        status_, mn, mx = DoseStatus.NOT_INDICATED, 0.0, 0.0
        text = texts["NOT_INDICATED"]["text"]
    if rda is not None:
        text += f"; RDA {rda:g} mg/day from all sources"
    if contra.level == ContraLevel.CAUTION and status_ in (DoseStatus.RECOMMENDED, DoseStatus.REFER,
                                                            DoseStatus.PRESCRIBER_ONLY):
        text += f"; {dosing['caution']['text']}"
        notes.append(Reason(dosing["caution"]["text"], _src(dosing["caution"])))
    form = _form(status_, symptoms, concepts, kb, dosing)
    if form.timing and status_ in (DoseStatus.RECOMMENDED, DoseStatus.REFER, DoseStatus.PRESCRIBER_ONLY):
        text += f"; {form.form}, {form.timing}"
    dose = Dose(status_, mn, mx, rda, ul, text, tuple(notes))
    return dose, form


def _form(status: str, symptoms: dict[str, str], concepts: Any, kb: Knowledge, dosing: dict[str, Any]) -> Form:
    forms = dosing["forms"]
    if status in (DoseStatus.DO_NOT_SUPPLEMENT, DoseStatus.NOT_INDICATED):
        text = ("no supplement" if status == DoseStatus.DO_NOT_SUPPLEMENT
                else "no supplement; magnesium-rich foods (nuts, seeds, legumes, leafy greens, whole grains)")
        return Form("", "", text)
    wanted = [kb.concepts[f"symptom:{sid}"].form for sid in symptoms]
    wanted += [c.form for c, _ in concepts if c.form]
    chosen = [fid for fid in _FORM_PRIORITY if fid in wanted] or ["default"]
    avoid: tuple[str, ...] = tuple(forms["diarrhoea"]["avoid"]) if "diarrhoea" in wanted else ()
    parts, evidence = [], []
    first_form = first_timing = ""
    for fid in chosen:
        rule = forms[fid]
        options = [f for f in rule["form"].split(" or ") if f not in avoid] or [forms["diarrhoea"]["replacement"]]
        label = " or ".join(options)
        first_form, first_timing = first_form or label, first_timing or rule["timing"]
        parts.append(f"{label}, {rule['timing']}" + (f" ({fid.replace('_', ' ')})" if fid != "default" else ""))
        evidence.append(Reason(f"{fid.replace('_', ' ')}: {rule['evidence']}", _src(rule)))
    text = "; ".join(parts) + f"; {dosing['general']['text']}"
    if avoid:
        text += f"; {forms['diarrhoea']['text']}"
        evidence.append(Reason(forms["diarrhoea"]["text"], _src(forms["diarrhoea"])))
    return Form(first_form, first_timing, text, tuple(evidence), avoid)
