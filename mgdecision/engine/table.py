"""The table execution: the rules of an :class:`~mgdecision.engine.Engine`, worked out column by column.

Each input column is factorised, and each distinct cell (or combination of cells read together) is read
once by the same reader as a single row. List cells are split for the whole column at once and each distinct
item is matched once. What the lists contribute is grouped with numpy; the conditions of ``rules.toml`` run
on whole columns of facts (:meth:`~mgdecision.engine.expr.Condition.column`); the decisions (risk band,
contraindication level, dose and form) are made once per distinct combination of their inputs by the
engine's methods, which the row execution also uses; reasons are built by the same memoised constructors,
and the text columns are joined for the whole column at once. Rows holding a value this path does not read
(a container, a control character, booleans beside numbers) go through the row execution one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..arrays import (
    Pool,
    by_key,
    combine,
    first_of,
    group_bounds,
    group_texts,
    join_given,
    objects,
    outcome_codes,
    row_join,
)
from ..assessment import COLUMNS, Assessment
from ..errors import KnowledgeError
from ..formatting import format_reason
from ..list_columns import PLAIN, ListCells, column_codes, read_list_column, unreadable
from ..models import Reason
from ..reading import LIST_FIELDS, SCALAR_GROUPS, Patient, near_miss_problem, read_fields
from ..vocab import ContraLevel
from .core import ROUTES, Engine, default_engine
from .expr import Template
from .spec import SERUM_FACTS

__all__ = ["assess_columns"]

_SETS = {"pregnant": 1, "lactating": 2, "dialysis": 4}
_NUMERIC = ("mg_dose_min_mg", "mg_dose_max_mg")


# ---------------------------------------------------------------- groups of scalar fields


@dataclass(slots=True)
class _Group:
    """One group of fields read together: a code per row and the reading of each distinct combination."""

    codes: np.ndarray
    read: list[Patient]

    def problems(self) -> np.ndarray:
        return self.take_text(lambda p: "; ".join([str(x) for x in p.problems]))

    def take_text(self, make: Callable[[Patient], str]) -> np.ndarray:
        if not self.read:
            return np.full(len(self.codes), "", dtype=object)
        return objects([make(p) for p in self.read])[self.codes]


def _read_group(
    group: tuple[str, ...],
    cells: Mapping[str, list[Any]],
    codes: Mapping[str, np.ndarray],
    odd: np.ndarray,
    units: Mapping[str, str],
    as_of: date | None,
) -> _Group:
    """Read ``group`` once per distinct combination of its cells (on a row this path reads)."""
    present = [f for f in group if f in cells]
    if not present:
        return _Group(np.zeros(len(odd), dtype=np.int64), [Patient()])
    combined, k = combine(*[codes[f] for f in present])
    first = first_of(np.where(odd, -1, combined), k)  # an unhashable cell shares the code of an empty one
    read = [read_fields({f: cells[f][r] for f in present}, units, as_of) for r in first.tolist()]
    return _Group(combined, read)


# ---------------------------------------------------------------- what each concept does, as arrays


@dataclass(slots=True)
class EffectTable:
    """Per (route, concept): what it does, as integer codes (-1 for nothing); index route * concepts + concept."""

    index: Mapping[str, int]  # concept key -> its number
    active: np.ndarray
    risk: np.ndarray
    contra: np.ndarray
    held: np.ndarray
    symptom: np.ndarray
    interaction: np.ndarray
    indication: np.ndarray
    form: np.ndarray
    note: np.ndarray
    sets: np.ndarray
    conflicts: np.ndarray
    renal: np.ndarray
    symptom_label: np.ndarray  # per symptom: the indication it gives, the form rule it asks for, low-Mg compatible
    symptom_form: np.ndarray
    symptom_fits: np.ndarray
    factors: list[str]
    rules: list[str]
    symptoms: list[str]
    interactions: list[Any]
    labels: list[str]
    forms: list[str]
    notes: list[tuple[str, tuple[str, ...]]]
    conflict_ids: list[str]


def effect_table(engine: Engine) -> EffectTable:
    """The engine's concept effects as arrays (made once per engine)."""
    found = engine.derived.get("effect_table")
    if found is None:
        found = engine.derived["effect_table"] = _effect_table(engine)
    return found  # type: ignore[no-any-return]


def _effect_table(engine: Engine) -> EffectTable:
    kb = engine.kb
    factors = list(engine.factors)
    rules = list(engine.rules)
    symptom_effects = engine.symptom_effects
    symptoms = sorted(symptom_effects)
    conflict_ids = list(kb.seed_conflicts)
    interactions: list[Any] = []
    labels: list[str] = []
    forms: list[str] = sorted({e[1] for e in symptom_effects.values() if e[1]})
    notes: list[tuple[str, tuple[str, ...]]] = []
    names = ("active", "risk", "contra", "held", "symptom", "interaction", "indication", "form", "note", "sets")
    columns: dict[str, list[int]] = {name: [] for name in (*names, "conflicts", "renal")}

    def code(values: list[Any], value: Any) -> int:
        if value is None:
            return -1
        if value not in values:
            values.append(value)
        return values.index(value)

    for route in ROUTES:
        effects = engine.effects[route]
        for key in kb.concepts:
            e = effects[key]
            columns["active"].append(int(e.active))
            columns["risk"].append(factors.index(e.risk) if e.risk else -1)
            columns["contra"].append(rules.index(e.contra) if e.contra else -1)
            columns["held"].append(rules.index(e.held) if e.held else -1)
            columns["symptom"].append(symptoms.index(e.symptom) if e.symptom else -1)
            columns["interaction"].append(code(interactions, e.interaction))
            columns["indication"].append(code(labels, e.indication))
            columns["form"].append(code(forms, e.form))
            columns["note"].append(code(notes, (e.note, e.sources) if e.note else None))
            columns["sets"].append(_SETS.get(e.sets or "", 0))
            columns["conflicts"].append(sum(1 << conflict_ids.index(c) for c in e.conflicts))
            columns["renal"].append(int(e.renal))
    if max(len(rules), len(forms), len(conflict_ids)) > 62:  # each is a bit of an int64 mask per row
        raise KnowledgeError("more than 62 contraindication rules, form rules or seed conflicts")
    arrays = {name: np.asarray(values, dtype=np.int64) for name, values in columns.items()}
    return EffectTable(
        index={key: k for k, key in enumerate(kb.concepts)},
        **arrays,
        symptom_label=np.asarray([code(labels, symptom_effects[s][0]) for s in symptoms], dtype=np.int64),
        symptom_form=np.asarray([code(forms, symptom_effects[s][1]) for s in symptoms], dtype=np.int64),
        symptom_fits=np.asarray([symptom_effects[s][2] for s in symptoms], dtype=bool),
        factors=factors,
        rules=rules,
        symptoms=symptoms,
        interactions=interactions,
        labels=labels,
        forms=forms,
        notes=notes,
        conflict_ids=conflict_ids,
    )


class _Segments:
    """The texts of one output cell per row, in groups: a header before each group, "; " between its texts."""

    def __init__(self, n: int, groups: int) -> None:
        self.n, self.groups = n, groups
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, group: int, rows: np.ndarray, seq: np.ndarray | int, texts: np.ndarray) -> None:
        """Texts of ``group`` for ``rows``, placed in the group by ``seq`` (smaller first; below 2**31)."""
        seq = np.broadcast_to(np.asarray(seq, dtype=np.int64), rows.shape)
        self.parts.append((group, rows, seq, texts))

    def join(self, headers: Sequence[np.ndarray]) -> np.ndarray:
        """Per row, every group (each given its header for the row) in group order, as one text."""
        rows = np.concatenate([p[1] for p in self.parts]).astype(np.int64)
        group = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in self.parts])
        seq = np.concatenate([p[2] for p in self.parts])
        texts = np.concatenate([p[3] for p in self.parts])
        order = np.argsort((rows * self.groups + group) << 31 | seq, kind="stable")
        rows, group, texts = rows[order], group[order], texts[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (group[1:] != group[:-1])
        pieces = np.empty(2 * len(rows), dtype=object)
        pieces[0::2] = np.where(first, np.stack(headers, axis=1)[rows, group], "; ")
        pieces[1::2] = texts
        ends = 2 * np.cumsum(np.bincount(rows, minlength=self.n))
        listed, join = pieces.tolist(), "".join
        bounds = zip((ends - np.diff(ends, prepend=0)).tolist(), ends.tolist(), strict=True)
        return objects([join(listed[a:b]) for a, b in bounds])


_RISK, _CONTRA, _DOSE, _NOTES = range(4)  # the groups of the reasons column


class _TableRun:
    """What the lists contribute, merged per row, then the rules; every step works on whole columns."""

    def __init__(
        self,
        engine: Engine,
        n: int,
        groups: list[_Group],
        lists: dict[str, ListCells],
        codes: Mapping[str, np.ndarray],
        pool: Pool,
    ) -> None:
        self.n = n
        self.age, self.egfr, self.serum, self.supp = groups
        self.choice = self.age  # age and sex are read together ("45M")
        self.lists = lists
        self.codes = codes
        self.pool = pool
        self.engine = engine
        self.spec = engine.spec
        self.e = effect_table(engine)
        self.reasons = _Segments(n, 4)
        self.facts = _ColumnFacts(self)

    # --- per row: the row's values, read once per distinct group of cells
    def _flag(self, group: _Group, test: Callable[[Patient], Any]) -> np.ndarray:
        return np.asarray([bool(test(p)) for p in group.read], dtype=bool)[group.codes]

    def _number(self, group: _Group, attribute: str) -> np.ndarray:
        values = [getattr(p, attribute) for p in group.read]
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)[group.codes]

    def _by_serum(self, make: Callable[[Any, Any], Any], default: Any, dtype: Any = object) -> np.ndarray:
        """``make(serum, status)`` per distinct serum reading (``default`` without a usable value)."""
        pairs = zip(self.serum.read, self.status, strict=True)
        values = [make(p.serum, st) if st is not None else default for p, st in pairs]
        return np.asarray(values, dtype=dtype)[self.serum.codes]

    def _scalars(self) -> None:
        self.age_value = self._number(self.age, "age")
        self.route_iv = self._flag(self.choice, lambda p: p.route == "iv")
        self.egfr_value = self._number(self.egfr, "egfr")
        status_of = self.engine.serum_status
        self.status = [status_of(p.serum) if p.serum is not None else None for p in self.serum.read]
        self.has_serum = self._by_serum(lambda s, st: True, False, bool)
        self.below = self._by_serum(lambda s, st: st.below, False, bool)
        self.grade = self._by_serum(lambda s, st: st.hypo_grade or 0, 0, np.int64)

    # --- per row: what the concepts of its list cells do
    def _cell(self, field: str) -> np.ndarray:
        return self.codes[field] if field in self.lists else np.full(self.n, -1, dtype=np.int64)

    def _per_cell(self, field: str, values: Callable[[ListCells], np.ndarray], default: Any) -> np.ndarray:
        """Per row, the value of its cell of ``field`` (``default`` where the row has none)."""
        cell = self._cell(field)
        out = np.full(self.n, default, dtype=object if isinstance(default, str) else type(default))
        given = cell >= 0
        if given.any():
            out[given] = values(self.lists[field])[cell[given]]
        return out

    def _occurrences(self) -> None:
        """Every recognised concept on every row, in row order, then diagnoses, medications, symptoms."""
        rows, concepts, named, shown = [], [], [], []
        for field in LIST_FIELDS:
            if field not in self.lists:
                continue
            cells, cell = self.lists[field], self._cell(field)
            if not len(cells.readable):  # no cell holds anything
                continue
            count = np.bincount(cells.occ_cell, minlength=len(cells.readable))
            start = np.cumsum(count) - count
            at = np.maximum(cell, 0)
            lens = np.where(cell >= 0, count[at], 0)
            total = int(lens.sum())
            src = np.repeat(start[at] - np.cumsum(lens) + lens, lens) + np.arange(total)
            rows.append(np.repeat(np.arange(self.n), lens))
            concepts.append(cells.occ_concept[src])
            named.append(cells.occ_named[src])
            shown.append(cells.occ_shown[src])
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        order = np.argsort(row, kind="stable")
        row = row[order]
        per_route = len(self.e.active) // len(ROUTES)
        eff = self.route_iv[row] * per_route + (np.concatenate(concepts)[order] if rows else row)
        active = self.e.active[eff].astype(bool)
        self.row, self.eff = row[active], eff[active]
        self.named = np.concatenate(named)[order][active] if rows else row
        self.shown = np.concatenate(shown)[order][active] if rows else row
        self.m = len(self.row)
        self.idx = np.arange(self.m)
        self.readable = np.zeros(self.n, dtype=bool)
        for field in self.lists:
            self.readable |= self._per_cell(field, lambda c: c.readable, False)
        self.sets = self._mask(self.row, self.e.sets[self.eff])
        self.pregnant = self._flag(self.choice, lambda p: p.pregnant) | (self.sets & _SETS["pregnant"] > 0)
        self.lactating = self._flag(self.choice, lambda p: p.lactating) | (self.sets & _SETS["lactating"] > 0)

    def _mask(self, rows: np.ndarray, bits: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.n, dtype=np.int64)
        np.bitwise_or.at(mask, rows, bits)
        return mask

    def _select(self, column: np.ndarray) -> tuple[np.ndarray, ...]:
        """(rows, codes, names as shown, occurrence index) of the occurrences with a code in ``column``."""
        code = column[self.eff]
        sel = code >= 0
        return self.row[sel], code[sel], self.shown[sel], self.idx[sel]

    # --- the findings, each for every row at once
    def _risk_factors(self) -> np.ndarray:
        """One reason per factor (its names in order, factors in order of first naming); the points per row."""
        e, texts = self.e, self.pool.texts
        r, f, w, i = self._select(e.risk)
        o = np.argsort(r * len(e.factors) + f, kind="stable")  # occurrences are in (row, index) order
        r, f, w, i = r[o], f[o], w[o], i[o]
        starts, ends = group_bounds(r, f)
        factors = self.engine.factors
        history = np.asarray([bool(factors[x].get("not_with_normal_serum")) for x in e.factors], dtype=bool)
        not_low = self._by_serum(lambda s, st: not st.below, False, bool)
        overridden = history[f] & not_low[r]  # a history a measured serum value overrides
        count = len(e.factors)

        def reason(k: int, who: tuple[str, ...]) -> str:
            engine = self.engine
            found = (
                engine.overridden_reason(e.factors[k - count])
                if k >= count
                else engine.factor_reason(e.factors[k], who)
            )
            return format_reason(found)

        made = group_texts(starts, ends, f + overridden * count, w, texts, reason)
        self.reasons.add(_RISK, r[starts], self._risk_seq("list_factors", i[starts]), made)
        points = np.asarray([factors[x]["points"] for x in e.factors], dtype=np.int64)
        weights = points[f[starts]] * ~overridden[starts]
        return np.bincount(r[starts], weights=weights, minlength=self.n).astype(np.int64)

    def _symptoms(self) -> tuple[np.ndarray, ...]:
        """Each symptom once per row, named as first written: (rows, symptom codes, index); rows the rule counts."""
        e = self.e
        sel = e.symptom[self.eff] >= 0
        r, sy, nm, i = self.row[sel], e.symptom[self.eff][sel], self.named[sel], self.idx[sel]
        _, once = np.unique(r * len(e.symptoms) + sy, return_index=True)
        once.sort()
        r, sy, nm, i = r[once], sy[once], nm[once], i[once]
        fits = e.symptom_fits[sy]
        rule = self.engine.symptom_rule
        counted = np.bincount(r[fits], minlength=self.n) >= rule["min_count"]
        keep = fits & counted[r]
        starts, ends = group_bounds(r[keep])
        made = group_texts(
            starts,
            ends,
            np.zeros(int(keep.sum()), np.int64),
            nm[keep],
            self.pool.texts,
            lambda _k, names: format_reason(self.engine.symptom_reason(names)),
        )
        self.reasons.add(_RISK, r[keep][starts], self._risk_seq("symptom_rule", 0), made)
        return r, sy, i, counted

    def _indications_and_forms(
        self, sr: np.ndarray, sy: np.ndarray, si: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str, ...]], np.ndarray, list[tuple[tuple[str, ...], bool]]]:
        """Indications in order (the concepts', then the symptoms') as a code per row; form rules as a bit mask."""
        e, m, n = self.e, self.m, self.n
        label, form = e.symptom_label, e.symptom_form
        r, lab, _w, i = self._select(e.indication)
        s_sel = label[sy] >= 0
        ir = np.concatenate([r, sr[s_sel]])
        il = np.concatenate([lab, label[sy][s_sel]])
        iq = np.concatenate([i, m + si[s_sel]])
        o = np.argsort((ir * len(e.labels) + il) * (2 * m + 1) + iq)
        starts, _ = group_bounds(ir[o], il[o])  # each indication once per row, where first named
        ir, il, iq = ir[o][starts], il[o][starts], iq[o][starts]
        o = np.argsort(ir * (2 * m + 1) + iq)
        ir, il = ir[o], il[o]
        starts, ends = group_bounds(ir)
        rank = np.arange(len(ir)) - np.repeat(starts, ends - starts)
        columns = []
        for k in range(int(rank.max(initial=-1)) + 1):
            column = np.zeros(n, dtype=np.int64)
            column[ir[rank == k]] = il[rank == k] + 1
            columns.append(column)
        ind_key, k = combine(*columns) if columns else (np.zeros(n, dtype=np.int64), 1)
        indications = [tuple(e.labels[int(c[x]) - 1] for c in columns if c[x]) for x in first_of(ind_key, k).tolist()]
        r, f, _w, _i = self._select(e.form)
        f_sel = form[sy] >= 0
        forms = self._mask(np.concatenate([r, sr[f_sel]]), np.left_shift(1, np.concatenate([f, form[sy][f_sel]])))
        form_key, masks = pd.factorize(forms)
        chosen = [self.engine.form_choice(_named_bits(int(b), e.forms)) for b in masks.tolist()]
        return ind_key, indications, form_key.astype(np.int64), chosen

    def _interactions(self) -> np.ndarray:
        """Per row, the interactions by severity, then in the order named."""
        e = self.e
        r, it, w, _i = self._select(e.interaction)
        severity = np.asarray([x[0] for x in e.interactions], dtype=np.int64)[it]  # (order, severity, ...)
        o = np.argsort(r * len(self.spec.severity_rank) + severity, kind="stable")
        r, it, w = r[o], it[o], w[o]
        single = np.arange(len(r))
        made = group_texts(
            single,
            single + 1,
            it,
            w,
            self.pool.texts,
            lambda k, who: self.engine.interaction_text(who[0], e.interactions[k]),
        )
        return row_join(self.n, r, made, "; ")

    def _notes(self) -> None:
        """Concept notes in order, then seed-article conflicts, then how the age was worked out."""
        e, m = self.e, self.m
        r, nt, w, i = self._select(e.note)
        single = np.arange(len(r))
        made = group_texts(
            single,
            single + 1,
            nt,
            w,
            self.pool.texts,
            lambda k, who: format_reason(self.engine.note_reason(e.notes[k][0], who[0], e.notes[k][1])),
        )
        self.reasons.add(_NOTES, r, i, made)
        conflicts = self._mask(self.row, e.conflicts[self.eff])
        rows = np.flatnonzero(conflicts)
        codes, masks = pd.factorize(conflicts[rows])
        notes = [self.engine.conflict_notes(_named_bits(int(b), e.conflict_ids)) for b in masks.tolist()]
        made = objects(["; ".join([format_reason(x) for x in found]) for found in notes])
        self.reasons.add(_NOTES, rows, m, made[codes] if len(rows) else made[:0])
        age_note = self.age.take_text(lambda p: format_reason(Reason(p.age_note, ())) if p.age_note else "")
        rows = np.flatnonzero(age_note != "")
        self.reasons.add(_NOTES, rows, m + 1, age_note[rows])

    def _contraindications(self) -> np.ndarray:
        """Every rule that fired, once, with every detail: what the lists name, then the triggers in order."""
        e, m, n, pool, engine = self.e, self.m, self.n, self.pool, self.engine
        rules = e.rules
        rule_of = {rid: k for k, rid in enumerate(rules)}
        r, rule, w, i = self._select(e.contra)
        fired_rows, fired_rules, fired_seq, fired_detail = [r], [rule], [i], [w]
        so_far = self._mask(r, np.left_shift(1, rule))
        facts = self.facts
        for rid in self.spec.held:
            facts[f"listed:{rid}"] = self._listed(rule_of[rid]) != ""
        for seq, trigger in enumerate(self.spec.fire):
            k = rule_of[trigger.rule]
            for read in trigger.fired_reads:
                facts[f"fired:{read}"] = so_far & (1 << rule_of[read]) > 0
            if "listed" in trigger.detail.facts:  # the names that listed the rule ("" where none did)
                facts["listed"] = self._listed(k)
            hit = np.flatnonzero(trigger.when.column(facts, n))
            if not len(hit):
                continue
            key, texts = self._texts(trigger.detail, hit)
            fired_rows.append(hit)
            fired_rules.append(np.full(len(hit), k, dtype=np.int64))
            fired_seq.append(np.full(len(hit), m + seq, dtype=np.int64))
            fired_detail.append(np.asarray([pool.id(x) for x in texts], dtype=np.int64)[key])
            so_far[hit] |= 1 << k

        cr, cu, cq, cd = (
            np.concatenate(x).astype(np.int64) for x in (fired_rows, fired_rules, fired_seq, fired_detail)
        )
        width = m + len(self.spec.fire)
        o = np.argsort((cr * len(rules) + cu) * width + cq)
        cr, cu, cq, cd = cr[o], cu[o], cq[o], cd[o]
        starts, ends = group_bounds(cr, cu)
        made = group_texts(
            starts, ends, cu, cd, pool.texts, lambda k, details: format_reason(engine.contra_reason(rules[k], details))
        )
        ranks = np.asarray([engine.contra_rank(x) for x in rules], dtype=np.int64)
        g_row, g_rule = cr[starts], cu[starts]
        self.reasons.add(_CONTRA, g_row, ranks[g_rule] * width + cq[starts], made)
        fired = self._mask(g_row, np.left_shift(1, g_rule))
        key, k = combine(pd.factorize(fired)[0].astype(np.int64))
        level = by_key(key, k, lambda x: engine.contra_level(_named_bits(int(fired[x]), rules)))
        self._none_found(np.flatnonzero(level == ContraLevel.NONE_FOUND))
        return level

    def _listed(self, rule: int) -> np.ndarray:
        """Per row, the names (as shown, joined with ", ") of the items that name a held rule ("" for none)."""
        found = self.facts.get(("listed", rule))
        if found is None:
            sel = self.e.held[self.eff] == rule
            texts = self.pool.texts
            found = row_join(self.n, self.row[sel], objects([texts[x] for x in self.shown[sel].tolist()]), ", ")
            self.facts[("listed", rule)] = found
        return found  # type: ignore[no-any-return]

    def _texts(self, template: Template, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """``template`` for each of ``rows``, formatted once per distinct combination of the facts it names:
        (a code per row, the distinct texts)."""
        if not template.names:
            return np.zeros(len(rows), dtype=np.int64), [template.from_values(())]
        values = [np.asarray(self.facts[name])[rows] for name in template.names]
        key, k = combine(*[pd.factorize(v, use_na_sentinel=False)[0].astype(np.int64) for v in values])
        first = first_of(key, k).tolist()
        made = [template.from_values(tuple([_scalar(v[x]) for v in values])) for x in first]
        return key, made

    def _kidney_unknown(self) -> None:
        """Rows without an eGFR, a dialysis answer or a diagnosis that tells the kidney function."""
        renal = np.zeros(self.n, dtype=bool)
        renal[self.row[self.e.renal[self.eff] == 1]] = True
        given = self._flag(self.choice, lambda p: p.dialysis is True)  # "no dialysis" says nothing of the eGFR
        self.kidney_unknown = np.isnan(self.egfr_value) & ~given & ~renal

    def _none_found(self, rows: np.ndarray) -> None:
        """The NONE_FOUND reason, with what could not be checked, for ``rows``."""
        kidney_unknown, engine = self.kidney_unknown, self.engine
        dx, dx_lines = self._unrec_code("diagnoses")
        meds, med_lines = self._unrec_code("medications")
        key, k = combine(kidney_unknown[rows], self.has_serum[rows], dx[rows], meds[rows])

        def text(x: int) -> str:
            r = rows[x]
            lines = tuple(found[c] for c, found in ((dx[r], dx_lines), (meds[r], med_lines)) if c >= 0)
            not_checked = engine.unchecked(bool(kidney_unknown[r]), not self.has_serum[r], lines)
            return format_reason(engine.none_found_reason(not_checked))

        self.reasons.add(_CONTRA, rows, 0, by_key(key, k, text) if len(rows) else objects([]))

    def _risk_seq(self, slot: str, within: np.ndarray | int) -> np.ndarray | int:
        """Where a risk reason goes: its slot (rules.toml risk.reasons), then its place in the slot."""
        return self.spec.risk_slots[slot] * (self.m + len(self.spec.value_factors) + 1) + within

    def _risk(self, points: np.ndarray, counted: np.ndarray) -> np.ndarray:
        """The risk band, once per distinct (points, serum state); the row's values as reasons."""
        engine, n, facts = self.engine, self.n, self.facts
        points = points + counted * engine.symptom_rule["points"]
        unknown = ~self.has_serum & np.isnan(self.age_value) & ~self.readable  # its only reason is that
        for k, vf in enumerate(self.spec.value_factors):
            hit = np.flatnonzero(vf.when.column(facts, n))
            if not len(hit):
                continue
            points[hit] += engine.factors[vf.factor]["points"]
            hit = hit[~unknown[hit]]
            codes, details = self._texts(vf.detail, hit)
            made = [engine.value_factor_reason(vf.factor, d) for d in details]
            texts = objects([format_reason(x) for x in made])[codes]
            self.reasons.add(_RISK, hit, self._risk_seq("value_factors", k), texts)
        normal = self._by_serum(lambda s, st: st.at_or_above_cut, False, bool)
        key, k = combine(pd.factorize(points)[0].astype(np.int64), self.below, unknown, normal)
        codes, outcomes = outcome_codes(
            key, k, lambda x: engine.risk_level(int(points[x]), bool(self.below[x]), bool(unknown[x]), bool(normal[x]))
        )
        level = objects([o[0] for o in outcomes])[codes]
        capped = np.asarray([o[1] for o in outcomes], dtype=bool)[codes] & ~self.below & self.has_serum & ~unknown
        hit = np.flatnonzero(self.below & ~unknown)
        below = self._by_serum(lambda s, st: format_reason(engine.serum_reason("below", s)) if st.below else "", "")
        self.reasons.add(_RISK, hit, self._risk_seq("serum_below", 0), below[hit])
        hit = np.flatnonzero(capped)  # "capped at" the level of the band that capped it
        serum_codes = self.serum.codes[hit]
        key, k = combine(serum_codes, codes[hit])
        first = first_of(key, k).tolist()
        caps = [
            format_reason(engine.serum_reason(f"capped at {level[hit[x]]}", self.serum.read[serum_codes[x]].serum))
            for x in first
        ]
        self.reasons.add(_RISK, hit, self._risk_seq("capped", 0), objects(caps)[key] if len(hit) else objects([]))
        given = np.bincount(np.concatenate([p[1] for p in self.reasons.parts if p[0] == _RISK]), minlength=n) > 0
        hit = np.flatnonzero(unknown)
        self.reasons.add(_RISK, hit, 0, np.full(len(hit), format_reason(engine.unknown_reason), dtype=object))
        hit = np.flatnonzero(~given & ~unknown)
        self.reasons.add(_RISK, hit, 0, np.full(len(hit), format_reason(engine.no_factor_reason), dtype=object))
        hit = np.flatnonzero(self._flag(self.serum, lambda p: p.serum is None and p.serum_given))
        reason = format_reason(engine.serum_unused_reason)
        self.reasons.add(_RISK, hit, self._risk_seq("serum_unused", 0), np.full(len(hit), reason, dtype=object))
        return level

    def run(self, near_lines: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        n = self.n
        self._scalars()
        self._occurrences()
        points = self._risk_factors()
        sr, sy, si, counted = self._symptoms()
        ind_key, indications, form_key, chosen = self._indications_and_forms(sr, sy, si)
        interactions = self._interactions()
        self._notes()
        self._kidney_unknown()
        c_level = self._contraindications()
        r_level = self._risk(points, counted)

        status, low, high, dose_text, form_text, dose_group = self._doses(
            c_level, r_level, ind_key, indications, form_key, chosen
        )
        self.reasons.add(_DOSE, np.arange(n), 0, dose_group)
        headers = [
            _prefix("Risk ", r_level, ": "),
            _prefix(" | Contraindication ", c_level, ": "),
            np.full(n, " | ", dtype=object),
            np.full(n, " | Notes: ", dtype=object),
        ]
        problems = [self.age.problems(), self.egfr.problems(), self.serum.problems()]
        problems += [self._per_cell(field, lambda c: c.problems, "") for field in LIST_FIELDS]
        problems.append(self.supp.problems())
        problems += list(near_lines)
        return {
            "mg_risk": _strings(r_level),
            "mg_contraindication": _strings(c_level),
            "mg_dose_status": status,
            "mg_dose_min_mg": low.astype(np.float64),
            "mg_dose_max_mg": high.astype(np.float64),
            "mg_dose": dose_text,
            "mg_interactions": interactions,
            "mg_form": form_text,
            "mg_reasons": self.reasons.join(headers),
            "mg_input_problems": join_given(problems, "; "),
        }

    def _doses(
        self,
        c_level: np.ndarray,
        r_level: np.ndarray,
        ind_key: np.ndarray,
        indications: list[tuple[str, ...]],
        form_key: np.ndarray,
        chosen: list[tuple[tuple[str, ...], bool]],
    ) -> tuple[np.ndarray, ...]:
        """Dose and form, once per distinct set of inputs: status, min, max, dose text, form text, reasons."""
        pregnant, lactating = self.pregnant, self.lactating
        key, k = combine(self.age.codes, pregnant, lactating)
        intake_key, intakes = outcome_codes(
            key,
            k,
            lambda x: self.engine.intake_for(self._age_of(x), self._sex_of(x), bool(pregnant[x]), bool(lactating[x])),
        )
        r_key, r_levels = pd.factorize(r_level)
        c_key, c_levels = pd.factorize(c_level)
        urgent = self._by_serum(lambda s, st: st.urgent, False, bool)
        checks = (urgent, self.kidney_unknown, ~self.has_serum)
        key, k = combine(c_key, r_key, self.grade, intake_key, ind_key, form_key, *checks)
        first = first_of(key, k)
        made = []
        columns = (x[first].tolist() for x in (c_key, r_key, self.grade, intake_key, ind_key, form_key, *checks))
        for c, r, g, i, ind, f, u, kidney, serum in zip(*columns, strict=True):
            rda, ul, age_class = intakes[i]
            inputs = (c_levels[c], r_levels[r], g or None, age_class, rda, ul, indications[ind], *chosen[f])
            made.append(self.engine.dose_columns(*inputs, u, kidney, serum))
        return tuple(objects(column)[key] for column in zip(*made, strict=True))

    # --- small per-distinct-key helpers
    def _age_of(self, r: int) -> float | None:
        return self.age.read[int(self.age.codes[r])].age

    def _sex_of(self, r: int) -> str | None:
        return self.choice.read[int(self.choice.codes[r])].sex

    def _unrec_code(self, field: str) -> tuple[np.ndarray, list[str]]:
        """Per row, a code for its "not recognised" line (-1 for none), and the distinct lines."""
        if field not in self.lists:
            return self._cell(field), []
        lines = self.lists[field].unrecognized
        line_codes, distinct = pd.factorize(lines)
        line_codes[lines == ""] = -1
        return self._per_cell(field, lambda c: line_codes, -1).astype(np.int64), distinct.tolist()


def _named_bits(bits: int, names: list[str]) -> frozenset[str]:
    return frozenset(name for k, name in enumerate(names) if bits >> k & 1)


def _strings(levels: np.ndarray) -> np.ndarray:
    """Level enums as plain text."""
    return _prefix("", levels, "")


def _prefix(before: str, levels: np.ndarray, after: str) -> np.ndarray:
    codes, distinct = pd.factorize(levels)
    return objects([f"{before}{x}{after}" for x in distinct.tolist()])[codes]


class _ColumnFacts(dict[Any, Any]):
    """The facts of rules.toml as columns (one value per row), worked out on first use."""

    def __init__(self, run: _TableRun) -> None:
        super().__init__()
        self.run = run

    def __missing__(self, name: str) -> Any:
        value = self[name] = self._make(name)
        return value

    def _make(self, name: str) -> Any:
        run = self.run
        if name == "age":  # numbers with -0.0 read as 0.0, as in the row execution
            return run.age_value + 0.0
        if name == "egfr":
            return run.egfr_value + 0.0
        if name == "dose":
            return run._number(run.supp, "supplement_dose_mg") + 0.0
        if name == "age_months":
            return run.age_value * 12 + 0.0
        if name == "ul_age":
            ul = run.engine.ul_age
            return np.asarray([ul(p.age) for p in run.age.read], dtype=np.float64)[run.age.codes]
        if name == "ul_any_age":
            return np.full(run.n, run.engine.ul_any_age)
        if name in ("pregnant", "lactating"):
            return getattr(run, name)
        if name == "dialysis":
            return run._flag(run.choice, lambda p: p.dialysis) | (run.sets & _SETS["dialysis"] > 0)
        if name in ("route", "sex"):
            return run.choice.take_text(lambda p: getattr(p, name))
        if name.startswith("known:"):
            values = self[name[6:]]
            return ~pd.isna(values)
        if name == "serum":
            return run._by_serum(lambda s, st: s.display(), None)
        if name == "serum_unit":
            return run._by_serum(lambda s, st: s.unit, None)
        if name in SERUM_FACTS:
            attribute, default = SERUM_FACTS[name]
            dtype = bool if isinstance(default, bool) else np.int64 if isinstance(default, int) else np.float64
            return run._by_serum(lambda s, st: _given(getattr(st, attribute), default), default, dtype)
        raise KeyError(name)


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------- the driver


def _note_lines(column: Any, probable: str, values: list[Any]) -> np.ndarray:
    """Per row, the problem line of a column not used ("" where :func:`near_miss_problem` gives none)."""
    try:
        codes, distinct = pd.factorize(objects(values), use_na_sentinel=False)
    except TypeError:  # unhashable cells: one by one
        codes, distinct = np.arange(len(values)), pd.Index(objects(values))
    made = [near_miss_problem(column, probable, v) for v in distinct.tolist()]
    return objects(["" if p is None else str(p) for p in made])[codes]


def assess_columns(
    cells: Mapping[str, list[Any]],
    n: int,
    units: Mapping[str, str],
    as_of: date | None,
    near_misses: Sequence[tuple[Any, str, list[Any]]] = (),
    engine: Engine | None = None,
) -> dict[str, np.ndarray]:
    """The output :data:`~mgdecision.COLUMNS` for ``n`` rows given as field -> list of cell values.

    ``units`` are the units headers carry; ``near_misses`` are (column, probable field, values) of columns
    not used because their header looks like a misspelt field; ``engine`` runs another knowledge base's rules
    (default: the shipped one). Returns column name -> array (object, or
    float64 for the two dose numbers).
    """
    if n == 0:
        return {c: np.zeros(0, dtype=np.float64 if c in _NUMERIC else object) for c in COLUMNS}
    odd = np.zeros(n, dtype=bool)
    codes: dict[str, np.ndarray] = {}
    distinct: dict[str, list[Any]] = {}
    for name, values in cells.items():
        if name == "patient_id":  # only echoed back, never used in the output: checked, not read
            if not set(map(type, values)) <= PLAIN:
                odd |= np.fromiter(map(unreadable, values), dtype=bool, count=n)
            continue
        codes[name], distinct[name] = column_codes(values, odd)
    groups = [_read_group(g, cells, codes, odd, units, as_of) for g in SCALAR_GROUPS]
    engine = engine or default_engine()
    pool = Pool()
    index = effect_table(engine).index
    lists = {f: read_list_column(f, distinct[f], pool, index) for f in LIST_FIELDS if f in cells}
    lines = [_note_lines(column, probable, values) for column, probable, values in near_misses]
    out = _TableRun(engine, n, groups, lists, codes, pool).run(lines)
    if odd.any():  # rows read one by one
        version = engine.kb.version
        for r in np.flatnonzero(odd).tolist():
            patient = read_fields({f: cells[f][r] for f in cells}, units, as_of)
            for column, probable, values in near_misses:
                if (note := near_miss_problem(column, probable, values[r])) is not None:
                    patient.problems.append(note)
            row = Assessment(patient, engine.decide(patient), version).row_values()
            for column, value in zip(COLUMNS, row, strict=True):
                out[column][r] = value
    return out
