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
    factorize,
    first_of,
    group_bounds,
    group_texts,
    join_coded,
    objects,
    outcome_codes,
    row_join,
)
from ..errors import KnowledgeError
from ..formatting import cap_reasons, capped_joins, dose_group_text, format_reason, group_head
from ..list_columns import PLAIN, ListCells, TextCells, column_codes, read_list_column, unreadable
from ..models import Dose, Form, Interaction, Problem, Reason
from ..outputs import COLUMNS
from ..reading import LIST_FIELDS, SCALAR_GROUPS, Patient, near_miss_problem, read_fields
from ..terms import QUALIFIERS, parse_list
from ..vocab import ContraLevel, DoseStatus
from .core import ROUTES, Engine, default_engine
from .expr import Condition, Template
from .facts import COMBINED

__all__ = ["TableOutputs", "assess_columns"]

_NUMERIC = ("mg_dose_min_mg", "mg_dose_max_mg")


# ---------------------------------------------------------------- groups of scalar fields


@dataclass(slots=True)
class _Group:
    """One group of fields read together: a code per row and the reading of each distinct combination."""

    codes: np.ndarray
    read: list[Patient]

    def problems(self) -> tuple[np.ndarray, np.ndarray]:
        """A code per row, and the problems of each code as one text."""
        if not self.read:
            return np.full(len(self.codes), -1, dtype=np.intp), objects([])
        return self.codes, objects(["; ".join([str(x) for x in p.problems]) for p in self.read])

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
    sets_as_indication: np.ndarray
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
    labels_of_concepts: list[str]  # per concept number: its label (the generic of a drug)


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
    columns: dict[str, list[int]] = {name: [] for name in (*names, "conflicts", "renal", "sets_as_indication")}
    flags = list(engine.spec.flags)  # the flags concepts set, a bit each

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
            columns["sets"].append(1 << flags.index(e.sets) if e.sets else 0)
            written_for = kb.concepts[key].sets_as_indication
            columns["sets_as_indication"].append(1 << flags.index(written_for) if written_for else 0)
            columns["conflicts"].append(sum(1 << conflict_ids.index(c) for c in e.conflicts))
            columns["renal"].append(int(e.renal))
    if max(len(rules), len(forms), len(conflict_ids), len(flags)) > 62:  # each is a bit of an int64 mask per row
        raise KnowledgeError("more than 62 contraindication rules, form rules, flags or seed conflicts")
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
        labels_of_concepts=[c.label for c in kb.concepts.values()],
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

    def join(self, headers: Sequence[np.ndarray | str], capped: bool = False) -> list[str]:
        """Per row, every group (each given its header for the row) in group order, as one text (``capped``: as
        :func:`~mgdecision.formatting.cap_reasons` gives it)."""
        rows = np.concatenate([p[1] for p in self.parts]).astype(np.int64)
        group = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in self.parts])
        seq = np.concatenate([p[2] for p in self.parts])
        texts = np.concatenate([p[3] for p in self.parts])
        order = np.argsort((rows * self.groups + group) << 31 | seq, kind="stable")
        rows, group, texts = rows[order], group[order], texts[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (group[1:] != group[:-1])
        pieces = np.empty(2 * len(rows), dtype=object)
        pieces[0::2] = "; "
        at = np.flatnonzero(first)  # each group's first text: its header (per row, or one for every row) before it
        for g, header in enumerate(headers):
            mine = at[group[at] == g]
            pieces[2 * mine] = header if isinstance(header, str) else header[rows[mine]]
        pieces[1::2] = texts
        ends = 2 * np.cumsum(np.bincount(rows, minlength=self.n))
        listed, join = pieces.tolist(), "".join
        bounds = zip((ends - np.diff(ends, prepend=0)).tolist(), ends.tolist(), strict=True)
        if capped:
            return capped_joins(listed, bounds)
        return [join(listed[a:b]) for a, b in bounds]


_RISK, _CONTRA, _DOSE, _NOTES = range(4)  # the groups of the reasons column


class _TableRun:
    """What the lists contribute, merged per row, then the rules; every step works on whole columns."""

    def __init__(
        self,
        engine: Engine,
        n: int,
        groups: Mapping[str, _Group],
        lists: dict[str, ListCells],
        codes: Mapping[str, np.ndarray],
        pool: Pool,
        cell_texts: Mapping[str, list[str]],
    ) -> None:
        self.n = n
        self.groups = groups
        self.lists = lists
        self.cell_texts = cell_texts  # per list field, its distinct cells as read
        self.codes = codes
        self.pool = pool
        self.engine = engine
        self.spec = engine.spec
        self.e = effect_table(engine)
        self.reasons = _Segments(n, 4)
        self.facts = _ColumnFacts(self)
        self.made_objects: dict[str, tuple[np.ndarray, list[Any]]] = {}  # object facts: codes, distinct objects
        self.made: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the last column spread from codes

    def _spread(self, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """``values[codes]``, remembered as made from those codes (so that its facts need no factorising)."""
        out = values[codes]
        self.made = (out, codes, values)
        return out

    def fact_codes(self, name: str) -> np.ndarray:
        """A code per row for the values of a fact (equal codes, equal values); NaN and None have codes too."""
        found = self.facts.codes.get(name)
        if found is not None:
            return found
        spread = self.facts.spread.get(name)
        if spread is not None:  # spread from codes: equal values given one code, once per distinct value
            codes, values = spread
            try:
                same = _exact_codes(values)
            except TypeError:  # an unhashable value
                pass
            else:
                self.facts.codes[name] = same[codes]
                return self.facts.codes[name]
        codes = _exact_codes(np.broadcast_to(np.asarray(self.facts[name]), (self.n,)))
        if name in self.facts.made:  # worked out once: its codes are kept (other facts may be set again)
            self.facts.codes[name] = codes
        return codes

    # --- per row: the readers of the base facts (mgdecision.engine.facts)
    def per_reading(self, group: str, read: Callable[[Patient], Any], kind: str) -> np.ndarray:
        """``read`` once per distinct reading of ``group``, spread to every row."""
        found = self.groups[group]
        return self._spread(np.asarray([read(p) for p in found.read], dtype=_DTYPES[kind]), found.codes)

    def by_serum(self, read: Callable[[Any], Any], default: Any, kind: str) -> np.ndarray:
        """``read(status)`` per distinct serum reading (``default`` without a usable value or where it is None)."""
        values = [default if st is None else _given(read(st), default) for st in self.status]
        return self._spread(np.asarray(values, dtype=_DTYPES[kind]), self.groups["serum"].codes)

    def set_flag(self, name: str) -> np.ndarray:
        """Rows where a listed concept sets ``name`` (pregnant, lactating, dialysis, ...)."""
        return self.sets & (1 << self.spec.flags.index(name)) > 0

    def per_cell_object(self, field: str, values: Callable[[ListCells], Any], default: Any) -> np.ndarray:
        """Per row, an object of its cell of ``field`` (``default`` where the row has none)."""
        cell = self._cell(field)
        made = [] if field not in self.lists else values(self.lists[field])
        distinct = np.empty(len(made) + 1, dtype=object)
        distinct[0] = default
        distinct[1:] = made
        return self._spread(distinct, cell + 1)

    def attribute_of(self, fact: str, read: Callable[[Any], Any], kind: str) -> np.ndarray:
        """``read`` of an object fact, once per distinct object, spread to every row."""
        column = self.facts[fact]
        if fact in self.made_objects:  # made once per distinct combination of its inputs: read each once
            codes, distinct = self.made_objects[fact]
            return self._spread(np.asarray([read(x) for x in distinct], dtype=_DTYPES[kind]), codes)
        codes, uniques = factorize(np.asarray(column, dtype=object))
        return np.asarray([read(x) for x in uniques], dtype=_DTYPES[kind])[codes]

    def combine(self, inputs: tuple[str, ...], function: Callable[..., Any], kind: str, name: str = "") -> np.ndarray:
        """``function(engine, *values)`` once per distinct combination of the input facts, spread to every row."""
        columns = [np.asarray(self.facts[name]) for name in inputs]
        key, k = combine(*[self.fact_codes(name) for name in inputs])
        first = first_of(key, k)
        values = zip(*[c[first].tolist() for c in columns], strict=True)
        made = [function(self.engine, *v) for v in values]
        if kind == "object":
            out = np.empty(len(made), dtype=object)
            out[:] = made
            if name:
                self.made_objects[name] = (key, made)
            return self._spread(out, key)
        return self._spread(np.asarray(made, dtype=_DTYPES[kind]), key)

    def _scalars(self) -> None:
        status_of = self.engine.serum_status
        self.status = [status_of(p.serum) if p.serum is not None else None for p in self.groups["serum"].read]
        self.has_serum = np.asarray(self.facts["serum_measured"], dtype=bool)
        self.below = np.asarray(self.facts["serum_below"], dtype=bool)

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
        rows, concepts, named, shown, qualifiers, fields = [], [], [], [], [], []
        for field in LIST_FIELDS:
            if field not in self.lists:
                continue
            cells, cell = self.lists[field], self._cell(field)
            if not len(cells.readable):  # no cell holds anything
                continue
            count = np.bincount(cells.occ_cell, minlength=len(cells.readable)).astype(np.intp)
            start = np.cumsum(count) - count
            at = np.maximum(cell, 0)
            lens = np.where(cell >= 0, count[at], 0).astype(np.intp)
            total = int(lens.sum())
            src = np.repeat(start[at] - np.cumsum(lens) + lens, lens) + np.arange(total)
            rows.append(np.repeat(np.arange(self.n), lens))
            concepts.append(cells.occ_concept[src])
            named.append(cells.occ_named[src])
            shown.append(cells.occ_shown[src])
            qualifiers.append(cells.occ_qualifier[src])
            fields.append(np.full(total, LIST_FIELDS.index(field), dtype=np.int64))
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        order = np.argsort(row, kind="stable")
        row = row[order]
        concept = np.concatenate(concepts)[order] if rows else row
        # what the lists set does not depend on the route: the route the rules read comes from it (9.3)
        self.sets = self._mask(row, self.e.sets[concept])
        in_meds = (np.concatenate(fields)[order] if rows else row) == LIST_FIELDS.index("medications")
        self.sets |= self._mask(row[in_meds], self.e.sets_as_indication[concept[in_meds]])
        self.route_iv = np.asarray(self.facts["route"] == "iv", dtype=bool)
        per_route = len(self.e.active) // len(ROUTES)
        eff = self.route_iv[row] * per_route + concept
        active = self.e.active[eff].astype(bool)
        self.row, self.eff = row[active], eff[active]
        self.named = np.concatenate(named)[order][active] if rows else row
        self.shown = np.concatenate(shown)[order][active] if rows else row
        qualifier = np.concatenate(qualifiers)[order][active] if rows else np.zeros(0, dtype=np.int64)
        self.qualifier = qualifier
        self.plain = self.shown  # as shown before a qualifier is added (an interaction names the item as written)
        if (qualifier >= 0).any():  # how a qualified item is shown: its name, then how it was written
            at = np.flatnonzero(qualifier >= 0)
            texts, pool, engine = self.pool.texts, self.pool, self.engine
            self.shown = self.shown.copy()
            self.shown[at] = [
                pool.id(engine.qualified(texts[s], QUALIFIERS[q]))
                for s, q in zip(self.shown[at].tolist(), qualifier[at].tolist(), strict=True)
            ]
        self.concept = eff[active] % per_route
        self.m = len(self.row)
        self.idx = np.arange(self.m)
        self.readable = np.zeros(self.n, dtype=bool)
        for field in self.lists:
            self.readable |= self._per_cell(field, lambda c: c.readable, False)
        self.renal = np.zeros(self.n, dtype=bool)
        renal = self.e.renal[self.eff] == 1
        self.renal[self.row[renal]] = True
        past = renal & (self.qualifier == QUALIFIERS.index("history_chronic"))
        now = np.zeros(self.n, dtype=bool)
        now[self.row[renal & ~past]] = True
        self.kidney_history_only = np.zeros(self.n, dtype=bool)
        self.kidney_history_only[self.row[past]] = True
        self.kidney_history_only &= ~now

    def _mask(self, rows: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Per row, the bits given to it or-ed together."""
        mask = np.zeros(self.n, dtype=np.int64)
        if len(rows) and (rows[1:] >= rows[:-1]).all():  # sorted (as a rule): each run of a row reduced at once
            starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
            mask[rows[starts]] = np.bitwise_or.reduceat(np.asarray(bits, dtype=np.int64), starts)
        else:
            np.bitwise_or.at(mask, rows, bits)
        return mask

    def _select(self, column: np.ndarray) -> tuple[np.ndarray, ...]:
        """(rows, codes, names as shown, occurrence index) of the occurrences with a code in ``column``."""
        code = column[self.eff]
        sel = code >= 0
        return self.row[sel], code[sel], self.shown[sel], self.idx[sel]

    def _slot(self, name: str) -> np.ndarray:
        """Rows where the risk reason slot ``name`` is shown (its condition in rules.toml holds)."""
        return self.facts[f"slot:{name}"]  # type: ignore[no-any-return]

    # --- the findings, each for every row at once
    def _risk_factors(self) -> np.ndarray:
        """One reason per factor (its names in order, factors in order of first naming); the points per row."""
        e, texts = self.e, self.pool.texts
        r, f, w, i = self._select(e.risk)
        o = np.argsort(r.astype(np.int64) * len(e.factors) + f, kind="stable")  # occurrences are in (row, index) order
        r, f, w, i = r[o], f[o], w[o], i[o]
        starts, ends = group_bounds(r, f)
        counted = np.ones(len(r), dtype=bool)
        for fid, condition in self.spec.factor_counts.items():
            if fid in e.factors:
                holds = condition.column(self.facts, self.n)
                mine = f == e.factors.index(fid)
                counted[mine] = holds[r[mine]]
        count = len(e.factors)

        def reason(k: int, who: tuple[str, ...]) -> str:
            engine = self.engine
            found = (
                engine.not_counted_reason(e.factors[k - count])
                if k >= count
                else engine.factor_reason(e.factors[k], who)
            )
            return format_reason(found)

        made = group_texts(starts, ends, f + ~counted * count, w, texts, reason)
        shown = self._slot("list_factors")[r[starts]]
        self.reasons.add(_RISK, r[starts][shown], self._risk_seq("list_factors", i[starts][shown]), made[shown])
        factors = self.engine.factors
        points = np.asarray([factors[x]["points"] for x in e.factors], dtype=np.int64)
        weights = points[f[starts]] * counted[starts]
        keep = counted[starts]  # the factors that counted, a bit each (value factors join them in _risk)
        self.factor_mask = self._mask(r[starts][keep], np.left_shift(1, f[starts][keep]))
        return np.bincount(r[starts], weights=weights, minlength=self.n).astype(np.int64)

    def _symptoms(self) -> tuple[np.ndarray, ...]:
        """Each symptom once per row, named as first written: (rows, symptom codes) in the order named; rows the
        rule counts."""
        e = self.e
        sel = e.symptom[self.eff] >= 0
        r, sy, nm, i = self.row[sel], e.symptom[self.eff][sel], self.named[sel], self.idx[sel]
        named, distinct = factorize(r.astype(np.int64) * len(e.symptoms) + sy)
        once = first_of(named, len(distinct))  # the first naming of each, in order
        r, sy, nm, i = r[once], sy[once], nm[once], i[once]
        fits = e.symptom_fits[sy]
        self.compatible_count = np.bincount(r[fits], minlength=self.n).astype(np.float64)
        counted = self.spec.symptom_counts.column(self.facts, self.n)
        keep = fits & counted[r] & self._slot("symptom_rule")[r]
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
        self.symptom_mask = self._mask(r, np.left_shift(1, sy))
        return r, sy, counted

    def _indications_and_forms(
        self, sr: np.ndarray, sy: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str, ...]], np.ndarray, list[tuple[tuple[str, ...], bool]]]:
        """Indications in order (the concepts', then the symptoms') as a code per row; form rules as a bit mask."""
        e, n = self.e, self.n
        label, form = e.symptom_label, e.symptom_form
        r, lab, _w, _i = self._select(e.indication)
        s_sel = label[sy] >= 0
        ir = np.concatenate([r, sr[s_sel]])
        il = np.concatenate([lab, label[sy][s_sel]])
        # each indication once per row, where first named: the concepts' occurrences, then the symptoms', come in
        # the order named, so the first of each (row, indication) is where it is first named, and a stable sort by
        # row keeps that order
        pair, pairs = factorize(ir.astype(np.int64) * len(e.labels) + il)
        once = first_of(pair, len(pairs))
        ir, il = ir[once], il[once]
        o = np.argsort(ir, kind="stable")
        ir, il = ir[o], il[o]
        starts, ends = group_bounds(ir)
        rank = np.arange(len(ir)) - np.repeat(starts, (ends - starts).astype(np.intp))
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
        form_key, masks = factorize(forms)
        chosen = [self.engine.form_choice(_named_bits(int(b), e.forms)) for b in masks.tolist()]
        return ind_key, indications, form_key.astype(np.int64), chosen

    def _interactions(self) -> np.ndarray:
        """Per row, the interactions by severity, then in the order named."""
        e = self.e
        r, it, _w, _i = self._select(e.interaction)
        w = self.plain[e.interaction[self.eff] >= 0]
        severity = np.asarray([x[0] for x in e.interactions], dtype=np.int64)[it]  # (order, severity, ...)
        o = np.argsort(r * len(self.spec.severity_rank) + severity, kind="stable")
        r, it, w = r[o], it[o], w[o]
        self.interacting = (r, it, _i[o])  # rows, interaction codes, occurrences: the records
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
        codes, masks = factorize(conflicts[rows])
        notes = [self.engine.conflict_notes(_named_bits(int(b), e.conflict_ids)) for b in masks.tolist()]
        made = objects(["; ".join([format_reason(x) for x in found]) for found in notes])
        self.reasons.add(_NOTES, rows, m, made[codes] if len(rows) else made[:0])
        age_note = self.groups["age"].take_text(lambda p: format_reason(Reason(p.age_note, ())) if p.age_note else "")
        rows = np.flatnonzero(age_note != "")
        self.reasons.add(_NOTES, rows, m + 1, age_note[rows])

    def _contraindications(self) -> _Levels:
        """Every rule that fired, once, with every detail: what the lists name, then the triggers in order."""
        e, m, n, pool, engine = self.e, self.m, self.n, self.pool, self.engine
        rules = e.rules
        rule_of = {rid: k for k, rid in enumerate(rules)}
        r, rule, w, i = self._select(e.contra)
        fired_rows, fired_rules, fired_seq, fired_detail = [r], [rule], [i], [w]
        so_far = self._mask(r, np.left_shift(1, rule))
        facts = self.facts
        for rid in self.spec.held:
            facts[f"listed:{rid}"] = self._listed_rows(rule_of[rid])
        for seq, trigger in enumerate(self.spec.fire):
            k = rule_of[trigger.rule]
            for read in trigger.fired_reads:
                facts[f"fired:{read}"] = so_far & (1 << rule_of[read]) > 0
            listed = "listed" in trigger.detail.facts  # the names that listed the rule ("" where none did)
            needed = listed and "listed" in {f.removeprefix("known:") for f in trigger.when.facts}
            if needed:  # the condition reads them too
                facts["listed"] = self._listed(rule_of[trigger.listed_rule])
            hit = np.flatnonzero(trigger.when.column(facts, n))
            if not len(hit):
                continue
            if listed and not needed:  # (only where the rule fires)
                facts["listed"] = self._listed(rule_of[trigger.listed_rule])
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
        place = ranks[g_rule] * width + cq[starts]
        self.reasons.add(_CONTRA, g_row, place, made)
        first = np.full(n, -1, dtype=np.int64)  # the rule whose reason comes first on each row
        o = np.lexsort((place, g_row))
        leading = np.ones(len(o), dtype=bool)
        leading[1:] = g_row[o][1:] != g_row[o][:-1]
        first[g_row[o][leading]] = g_rule[o][leading]
        self.first_rule = first
        fired = self._mask(g_row, np.left_shift(1, g_rule))
        key, masks = factorize(fired)
        level = _levels(key, [engine.contra_level(_named_bits(int(x), rules)) for x in masks.tolist()])
        self._none_found(np.flatnonzero(level.each(lambda x: x == ContraLevel.NONE_FOUND, bool)))
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

    def _listed_rows(self, rule: int) -> np.ndarray:
        """Rows where :meth:`_listed` is not "" (without joining the names)."""
        sel = self.e.held[self.eff] == rule
        rows = self.row[sel]
        named = np.asarray([t != "" for t in self.pool.texts], dtype=np.float64)[self.shown[sel]]
        return (np.bincount(rows, minlength=self.n) > 1) | (np.bincount(rows, weights=named, minlength=self.n) > 0)

    def _texts(self, template: Template, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """``template`` for each of ``rows``, formatted once per distinct combination of the facts it names:
        (a code per row, the distinct texts)."""
        if not template.names:
            return np.zeros(len(rows), dtype=np.int64), [template.from_values(())]
        values = [np.asarray(self.facts[name])[rows] for name in template.names]
        key, k = combine(*[self._row_codes(name, rows, v) for name, v in zip(template.names, values, strict=True)])
        first = first_of(key, k).tolist()
        made = [template.from_values(tuple([_scalar(v[x]) for v in values])) for x in first]
        return key, made

    def _row_codes(self, name: str, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Codes of a fact's ``values`` on ``rows``: the fact's own where kept, else of these values alone."""
        facts = self.facts
        if name in facts.codes or name in facts.spread or name in facts.made:
            return self.fact_codes(name)[rows]
        return _exact_codes(np.broadcast_to(values, (len(rows),)))

    def _none_found(self, rows: np.ndarray) -> None:
        """The NONE_FOUND reason, with what could not be checked, for ``rows``."""
        engine, n = self.engine, self.n
        holds = [when.column(self.facts, n) for when, _text in self.spec.not_checked]
        dx, dx_lines = self._unrec_code("diagnoses")
        meds, med_lines = self._unrec_code("medications")
        key, k = combine(*[h[rows] for h in holds], dx[rows], meds[rows])

        def text(x: int) -> str:
            r = rows[x]
            lines = tuple(found[c] for c, found in ((dx[r], dx_lines), (meds[r], med_lines)) if c >= 0)
            not_checked = (*engine.not_checked_lines(tuple([bool(h[r]) for h in holds])), *lines)
            return format_reason(engine.none_found_reason(not_checked))

        self.reasons.add(_CONTRA, rows, 0, by_key(key, k, text) if len(rows) else objects([]))

    def _risk_seq(self, slot: str, within: np.ndarray | int) -> np.ndarray | int:
        """Where a risk reason goes: its slot (rules.toml risk.reasons), then its place in the slot."""
        return self.slot_rank[slot] * (self.m + len(self.spec.value_factors) + 1) + within

    def _risk(self, points: np.ndarray, counted: np.ndarray) -> _Levels:
        """The risk band, once per distinct (points, the facts the bands read); the row's values as reasons."""
        engine, n, facts, spec = self.engine, self.n, self.facts, self.spec
        points = points + counted * engine.symptom_rule["points"]
        shown_values = self._slot("value_factors")
        for k, vf in enumerate(spec.value_factors):
            hit = np.flatnonzero(vf.when.column(facts, n))
            if not len(hit):
                continue
            points[hit] += engine.factors[vf.factor]["points"]
            self.factor_mask[hit] |= 1 << self.e.factors.index(vf.factor)
            hit = hit[shown_values[hit]]
            codes, details = self._texts(vf.detail, hit)
            made = [engine.value_factor_reason(vf.factor, d) for d in details]
            texts = objects([format_reason(x) for x in made])[codes]
            self.reasons.add(_RISK, hit, self._risk_seq("value_factors", k), texts)
        key, k = combine(factorize(points)[0], *[self.fact_codes(name) for name in spec.band_reads])
        band_values = [np.asarray(facts[name]) for name in spec.band_reads]
        codes, outcomes = outcome_codes(
            key,
            k,
            lambda x: engine.risk_level(int(points[x]), tuple([_key(_scalar(v[x])) for v in band_values])),
        )
        level = _levels(codes, [o[0] for o in outcomes])
        capped = np.asarray([o[1] for o in outcomes], dtype=bool)[codes] & ~self.below & self.has_serum
        serum_read = self.groups["serum"]
        hit = np.flatnonzero(self.below & self.has_serum & self._slot("serum_below"))
        below_text = objects(
            [
                format_reason(engine.serum_below_reason(p.serum)) if p.serum is not None and st and st.below else ""
                for p, st in zip(serum_read.read, self.status, strict=True)
            ]
        )[serum_read.codes]
        self.reasons.add(_RISK, hit, self._risk_seq("serum_below", 0), below_text[hit])
        hit = np.flatnonzero(capped & self._slot("capped"))  # "capped at" the level of the band that capped it
        serum_codes = serum_read.codes[hit]
        key, k = combine(serum_codes, codes[hit])
        first = first_of(key, k).tolist()
        caps = [
            format_reason(engine.capped_reason(str(level.at(hit[x])), serum_read.read[serum_codes[x]].serum))
            for x in first
        ]
        self.reasons.add(_RISK, hit, self._risk_seq("capped", 0), objects(caps)[key] if len(hit) else objects([]))
        fixed = engine.slot_reasons
        for slot in spec.slots:
            if slot.name not in fixed:
                continue
            shown = self._slot(slot.name)
            if slot.fallback:
                rank = self.slot_rank[slot.name] * (self.m + len(spec.value_factors) + 1)
                earlier = [p[1][p[2] < rank] for p in self.reasons.parts if p[0] == _RISK]
                given = np.bincount(np.concatenate(earlier), minlength=n) > 0 if earlier else np.zeros(n, bool)
                shown = shown & ~given
            hit = np.flatnonzero(shown)
            text = format_reason(fixed[slot.name])
            self.reasons.add(_RISK, hit, self._risk_seq(slot.name, 0), np.full(len(hit), text, dtype=object))
        return level

    def run(self, near_lines: Sequence[np.ndarray], records: bool = False) -> dict[str, np.ndarray]:
        n = self.n
        self.slot_rank = {slot.name: k for k, slot in enumerate(self.spec.slots)}
        self._scalars()
        self._occurrences()
        points = self._risk_factors()
        sr, sy, counted = self._symptoms()
        ind_key, indications, form_key, chosen = self._indications_and_forms(sr, sy)
        interactions = self._interactions()
        self._notes()
        c_level = self._contraindications()
        r_level = self._risk(points, counted)

        status, low, high, dose_text, form_text, dose_group, headline = self._doses(
            c_level, r_level, ind_key, indications, form_key, chosen
        )
        self.reasons.add(_DOSE, np.arange(n), 0, dose_group)
        headers: list[np.ndarray | str] = [
            r_level.each(lambda x: f"{group_head('Risk', str(x))} - "),
            c_level.each(lambda x: f" | {group_head('Contraindication', str(x))} - "),
            " | ",
            " | Notes: ",
        ]
        groups = self.groups
        problems: list[tuple[np.ndarray, np.ndarray] | np.ndarray] = [
            groups["age"].problems(),
            groups["egfr"].problems(),
            groups["serum"].problems(),
        ]
        problems += [(self._cell(f), self.lists[f].problems) for f in LIST_FIELDS if f in self.lists]
        problems.append(groups["supplement"].problems())
        problems += list(near_lines)
        found_rows, found = self._found_problems()
        problems.append(row_join(n, found_rows, objects([str(p) for p in found]), "; "))
        if records:  # uncapped, for the records
            self.full_reasons: list[str] = self.reasons.join(headers)
            capped = [cap_reasons(x) for x in self.full_reasons]
        else:
            self.full_reasons, capped = [], self.reasons.join(headers, capped=True)
        return {
            "mg_decision": headline,
            "mg_risk": r_level.each(lambda x: f"{x}"),
            "mg_contraindication": c_level.each(lambda x: f"{x}"),
            "mg_dose_status": status,
            "mg_dose_min_mg": low.astype(np.float64),
            "mg_dose_max_mg": high.astype(np.float64),
            "mg_dose": dose_text,
            "mg_interactions": interactions,
            "mg_form": form_text,
            "mg_reasons": objects(capped),
            "mg_input_problems": join_coded(n, problems, "; "),
        }

    def _doses(
        self,
        c_level: _Levels,
        r_level: _Levels,
        ind_key: np.ndarray,
        indications: list[tuple[str, ...]],
        form_key: np.ndarray,
        chosen: list[tuple[tuple[str, ...], bool]],
    ) -> tuple[np.ndarray, ...]:
        """Dose and form, once per distinct set of inputs: status, min, max, dose text, form text, reasons."""
        facts, engine = self.facts, self.engine
        age, sex = facts["age"], facts["sex"]
        pregnant, lactating = np.asarray(facts["pregnant"], bool), np.asarray(facts["lactating"], bool)
        key, k = combine(self.groups["age"].codes, pregnant, lactating)
        rda_key, rdas = outcome_codes(
            key,
            k,
            lambda x: (engine.rda_for(_key(float(age[x])), sex[x], bool(pregnant[x]), bool(lactating[x])),),
        )  # (a tuple: factorising would give None no code)
        r_key, r_levels = r_level.codes, r_level.distinct
        c_key, c_levels = c_level.codes, c_level.distinct
        spec, e = self.spec, self.e
        f_key, f_masks = factorize(self.factor_mask)
        s_key, s_masks = factorize(self.symptom_mask)
        f_ids = [frozenset(f"factor:{x}" for x in _named_bits(int(m), e.factors)) for m in f_masks]
        s_ids = [frozenset(f"symptom:{x}" for x in _named_bits(int(m), e.symptoms)) for m in s_masks]

        def arguments(first: np.ndarray, reads: list[np.ndarray]) -> list[tuple[Any, ...]]:
            keys = list(zip(*[_keys(v[first]) for v in reads], strict=True)) if reads else [()] * len(first)
            picked = (c_key, r_key, ind_key, form_key, rda_key, f_key, s_key, self.first_rule)
            out = []
            for c, r, ind, f, rda, fm, sm, rule, values in zip(*(x[first].tolist() for x in picked), keys, strict=True):
                forms, diarrhoea = chosen[f]
                ids = f_ids[fm] | s_ids[sm]
                inputs = (c_levels[c], r_levels[r], indications[ind], forms, diarrhoea, rdas[rda][0], ids)
                out.append((*inputs, e.rules[rule] if rule >= 0 else None, values))
            return out

        columns = _DoseColumns(facts, (f_ids, f_key), (s_ids, s_key))
        columns.update(
            contra=objects(c_levels)[c_key],
            risk=objects(r_levels)[r_key],
            indicated=np.array([bool(x) for x in indications], dtype=bool)[ind_key],
            indications=objects([", ".join(x) for x in indications])[ind_key],
            rda=np.array([np.nan if x[0] is None else x[0] for x in rdas], dtype=np.float64)[rda_key],
        )
        rule_facts = [engine.rule_facts(e.rules[r] if r >= 0 else None) for r in range(-1, len(e.rules))]
        for name in ("contra_short", "urgent"):
            columns[name] = objects([x[name] for x in rule_facts])[self.first_rule + 1]
        codes = {
            "contra": c_key,
            "contra_short": self.first_rule,
            "urgent": self.first_rule,
            "risk": r_key,
            "indicated": ind_key,
            "indications": ind_key,
            "rda": rda_key,
        }
        by_ids = (([engine.factor_facts(x) for x in f_ids], f_key), ([engine.symptom_facts(x) for x in s_ids], s_key))
        for made, key in by_ids:
            for name in made[0] if made else ():
                value_code, values = factorize(objects([x[name] for x in made]))
                columns[name] = objects(values.tolist())[value_code][key]
                codes[name] = value_code.astype(np.int64)[key]
        if spec.dose_reads_texts:  # a rule reads a dose text: the row execution's decision per distinct input
            inputs = (c_key, r_key, ind_key, form_key, rda_key, f_key, s_key, self.first_rule)
            reads = [np.asarray(facts[name]) for name in spec.dose_reads]
            reads_codes = [factorize(v, use_na_sentinel=False)[0].astype(np.int64) for v in reads]
            key, k = combine(*inputs, *reads_codes)
            outcomes = [engine.dose_columns(*a) for a in arguments(first_of(key, k), reads)]
            return tuple(objects(column)[key] for column in zip(*outcomes, strict=True))
        return _DoseTable(self, columns, codes, form_key, chosen).outputs()

    def _found_problems(self) -> tuple[np.ndarray, list[Problem]]:
        """The problems the rules find (rules.toml [problems]), by row then in the order written."""
        rows: list[np.ndarray] = []
        seq: list[np.ndarray] = []
        made: list[Problem] = []
        for k, found in enumerate(self.spec.problems):
            hit = np.flatnonzero(found.when.column(self.facts, self.n))
            if not len(hit):
                continue
            names = (*found.value.names, *found.message.names)
            values = [np.asarray(self.facts[name])[hit] for name in names]
            key, kk = combine(*[self.fact_codes(name)[hit] for name in names])
            first = first_of(key, kk).tolist()
            made_k = [self.engine.found_problem(k, tuple([_scalar(v[x]) for v in values])) for x in first]
            rows.append(hit)
            seq.append(np.full(len(hit), k, dtype=np.int64))
            made += [made_k[x] for x in key.tolist()]
        if not rows:
            self.found: tuple[np.ndarray, list[Problem]] = (np.zeros(0, dtype=np.int64), [])
            return self.found
        r, s = np.concatenate(rows), np.concatenate(seq)
        o = np.lexsort((s, r))
        self.found = (r[o], [made[x] for x in o.tolist()])
        return self.found

    # --- the findings as records (long tables)
    def interaction_records(self) -> list[tuple[int, Interaction]]:
        """(row, interaction) in the order of ``mg_interactions``: the same records as the row execution's."""
        rows, codes, occurrences = self.interacting
        labels, named, texts = self.e.labels_of_concepts, self.named, self.pool.texts
        made = self.engine.interaction
        found = self.e.interactions
        return [
            (r, made(labels[self.concept[x]], texts[named[x]], found[c]))
            for r, c, x in zip(rows.tolist(), codes.tolist(), occurrences.tolist(), strict=True)
        ]

    def problem_records(self, near: Sequence[tuple[Any, str, list[Any]]]) -> list[tuple[int, Problem]]:
        """(row, problem) in the order of ``mg_input_problems``, read once per distinct combination of cells."""
        groups = self.groups
        sources = [_group_problems(groups[name]) for name in ("age", "egfr", "serum")]
        sources += [_cell_problems(f, self._cell(f), self.cell_texts[f]) for f in LIST_FIELDS if f in self.lists]
        sources.append(_group_problems(groups["supplement"]))
        sources += [_near_problems(column, probable, values) for column, probable, values in near]
        key, k = combine(*[codes for codes, _make in sources])
        first = first_of(key, k).tolist()
        per_key = [tuple(p for codes, make in sources for p in make(int(codes[r]))) for r in first]
        read = [(r, p) for r, x in enumerate(key.tolist()) for p in per_key[x]]
        found_rows, found = self.found
        if not found:
            return read
        return sorted([*read, *zip(found_rows.tolist(), found, strict=True)], key=lambda x: x[0])

    # --- small per-distinct-key helpers
    def _unrec_code(self, field: str) -> tuple[np.ndarray, list[str]]:
        """Per row, a code for its "not recognised" line (-1 for none), and the distinct lines."""
        if field not in self.lists:
            return self._cell(field), []
        lines = self.lists[field].unrecognized
        line_codes, distinct = factorize(lines)
        line_codes[lines == ""] = -1
        return self._per_cell(field, lambda c: line_codes, -1).astype(np.int64), distinct.tolist()


def _named_bits(bits: int, names: list[str]) -> frozenset[str]:
    named = []
    while bits:  # the set bits only, lowest first
        low = bits & -bits
        named.append(names[low.bit_length() - 1])
        bits ^= low
    return frozenset(named)


@dataclass(slots=True)
class _Levels:
    """A level per row, as a code per row and the distinct levels (equal codes, equal levels and the reverse)."""

    codes: np.ndarray
    distinct: list[Any]

    def at(self, row: int) -> Any:
        return self.distinct[self.codes[row]]

    def each(self, make: Callable[[Any], Any], dtype: Any = object) -> np.ndarray:
        """Per row, ``make`` of its level, made once per distinct level."""
        return np.asarray([make(x) for x in self.distinct], dtype=dtype)[self.codes]


def _levels(codes: np.ndarray, made: list[Any]) -> _Levels:
    """The levels of rows given a code per row and what each code gives (several codes may give one level)."""
    same, distinct = factorize(objects(made))
    return _Levels(same[codes] if len(made) else codes, distinct.tolist())


_DTYPES: Mapping[str, Any] = {"yes": bool, "number": np.float64, "text": object, "object": object}


class _ColumnFacts(dict[Any, Any]):
    """The facts of rules.toml as columns (one value per row), worked out on first use: the base facts by their
    column readers, the derived facts and the row conditions of the row program by their column execution."""

    def __init__(self, run: _TableRun) -> None:
        super().__init__()
        self.run = run
        self.made: set[str] = set()  # the facts worked out here (never set again)
        self.codes: dict[str, np.ndarray] = {}  # of some of them: a code per row (equal codes, equal values)
        self.spread: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # of others: the codes and values they came from
        spec = run.spec
        self.conditions = {
            **{f"counts:{fid}": c for fid, c in spec.factor_counts.items()},
            "counts:symptom_rule": spec.symptom_counts,
            **{f"slot:{s.name}": s.when for s in spec.slots},
        }

    def __missing__(self, name: str) -> Any:
        run = self.run
        run.made = None
        value = self[name] = self._make(name)
        self.made.add(name)
        if run.made is not None and run.made[0] is value:  # spread from codes (made minimal when asked for)
            self.spread[name] = run.made[1:]
        run.made = None
        return value

    def _make(self, name: str) -> Any:
        run, spec = self.run, self.run.spec
        if name in spec.base:
            return spec.base[name].column(run)
        if name in COMBINED:
            c = COMBINED[name]
            return run.combine(c.inputs, c.function, c.kind, name)
        if name in spec.derived:
            return spec.derived[name].values(self, run.n)
        if name.startswith("known:"):
            column = self[name[6:]]
            if name[6:] in self.spread:  # once per value it was spread from
                codes, values = self.spread[name[6:]]
                return ~pd.isna(values)[codes]
            return ~pd.isna(column)
        if name in self.conditions:
            return self.conditions[name].column(self, run.n)
        raise KeyError(name)


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _key(value: Any) -> Any:
    """A fact as part of a memo key: NaN (never equal to itself) as None."""
    return None if value != value else value


class _DoseTable:
    """The dose rules on whole columns, as Engine.dose_and_form runs them for one row: the status, the fixed
    form or the form rules, the variant and its range, the text picks and the parts that hold, found by the
    column execution of their conditions; each text made once per distinct set of the values it names."""

    def __init__(
        self,
        run: _TableRun,
        columns: _DoseColumns,
        codes: dict[str, np.ndarray],
        form_key: np.ndarray,
        chosen: list[tuple[tuple[str, ...], bool]],
    ) -> None:
        spec, n, engine = run.spec, run.n, run.engine
        self.spec, self.engine, self.columns, self.codes, self.n = spec, engine, columns, codes, n
        self.run = run
        statuses = spec.dose_statuses
        self._exact: dict[str, tuple[Any, np.ndarray]] = {}
        self.status = status = _first_holding([s.when for s in statuses], columns, n)
        columns["status"] = objects([s.status for s in statuses])[status]
        columns["supplementing"] = np.array([s.supplementing for s in statuses], dtype=bool)[status]
        self.fixed = fixed = _first_holding([when for when, _t in spec.fixed_form], columns, n, default=-1)
        form_of, form_k = combine(status, form_key, fixed)
        forms: list[Form | None] = []  # None: a fixed form, made from its text
        for x in first_of(form_of, form_k).tolist():
            wanted, diarrhoea = chosen[form_key[x]]
            made = None if fixed[x] >= 0 else engine.form(DoseStatus(statuses[status[x]].status), wanted, diarrhoea)
            forms.append(made)
        self.forms, self.form_of = forms, form_of
        columns["form_name"] = objects(["" if f is None else f.form for f in forms])[form_of]
        columns["form_timing"] = objects(["" if f is None else f.timing for f in forms])[form_of]
        codes["form_name"] = codes["form_timing"] = factorize(objects(forms))[0].astype(np.int64)[form_of]
        columns["min"], columns["max"] = np.full(n, np.nan), np.full(n, np.nan)
        self.variant = variant = np.full(n, -1, dtype=np.int64)
        low, high = np.full(n, np.nan), np.full(n, np.nan)
        for k, rule in enumerate(statuses):
            rows = status == k
            if not rows.any():
                continue
            v = _first_holding([x.when for x in rule.variants], columns, n)
            variant[rows] = v[rows]
            for j, x in enumerate(rule.variants):
                here = rows & (v == j)
                if x.low is not None and here.any():
                    low[here] = np.asarray(x.low.values(columns, n), dtype=np.float64)[here]
                if x.high is not None and here.any():
                    high[here] = np.asarray(x.high.values(columns, n), dtype=np.float64)[here]
        columns["min"], columns["max"] = self.low, self.high = low, high
        intake = np.asarray(columns["intake_daily"], np.float64) if "intake_daily" in spec.dose_reads else np.nan
        columns["room"] = high - intake
        for name, table in spec.dose_texts.items():  # in order: a later text may name an earlier one
            pick = self.first_holding([w for w, _t in table])  # (a long table on few facts)
            text_codes, texts = self.coded([(pick == j, t) for j, (_w, t) in enumerate(table)])
            columns[name], codes[name] = _spread(text_codes, texts), text_codes
        self.holds = [  # per status, per part: the rows of that status where it holds
            [(status == k) & p.when.column(columns, n) for p in rule.parts] for k, rule in enumerate(statuses)
        ]
        self.holds_all = [p.when.column(columns, n) for p in spec.dose_parts]  # the parts of every status

    def coded(self, uses: list[tuple[np.ndarray, Template]]) -> tuple[np.ndarray, list[str]]:
        """Per row, a code of the text of the template used there (-1 where none is), and the texts; each made
        once per distinct set of the values it names (equal codes, equal texts)."""
        out = np.full(self.n, -1, dtype=np.intp)
        texts: list[str] = []
        for rows, template in uses:
            where = np.flatnonzero(rows)
            if not len(where):
                continue
            if not template.names:
                out[where] = len(texts)
                texts.append(template.from_values(()))
                continue
            key, k = combine(*[self._codes_of(name, where) for name in template.names])
            values = [np.asarray(self.columns[name])[where] for name in template.names]
            first = first_of(key, k).tolist()
            out[where] = key + len(texts)
            texts += [template.from_values(tuple(_scalar(v[x]) for v in values)) for x in first]
        return out, texts

    def formatted(self, uses: list[tuple[np.ndarray, Template]]) -> np.ndarray:
        """Per row, the text of the template used there ("" where none is)."""
        return _spread(*self.coded(uses))

    def first_holding(self, conditions: Sequence[Condition], default: int = 0) -> np.ndarray:
        """:func:`_first_holding` worked out once per distinct combination of the facts the conditions read."""
        return _first_holding(conditions, self.columns, self.n, default, self.exact_codes)

    def exact_codes(self, name: str) -> np.ndarray:
        """A code per row for the values of a dose fact: equal codes, equal values (a missing value of one kind)."""
        found = self.codes.get(name)
        if found is not None:
            return found
        column = self.columns[name]
        if self.run.facts.get(name) is column and name in self.run.facts.made:  # a fact's own codes
            return self.run.fact_codes(name)
        known = self._exact.get(name)
        if known is not None and known[0] is column:  # (a column set again is coded again)
            return known[1]
        codes = _exact_codes(np.broadcast_to(column, (self.n,)))
        self._exact[name] = (column, codes)
        return codes

    def _codes_of(self, name: str, where: np.ndarray) -> np.ndarray:
        """A code for the value of a dose fact on each of ``where`` (equal values, equal codes)."""
        found = self.codes.get(name)
        if found is not None:
            return found[where]
        column = self.columns[name]
        if self.run.facts.get(name) is column and name in self.run.facts.made:  # a fact's own codes
            return self.run.fact_codes(name)[where]
        column = np.asarray(column)
        if 4 * len(where) < self.n:  # a few rows: only theirs
            return factorize(column[where], use_na_sentinel=False)[0]
        found = self.codes[name] = factorize(column, use_na_sentinel=False)[0]
        return found[where]

    def outputs(self) -> tuple[np.ndarray, ...]:
        """Status, min, max, dose text, form text, the dose's reasons and headline (as Engine._dose_columns)."""
        spec, engine = self.spec, self.engine
        statuses, status, variant = spec.dose_statuses, self.status, self.variant
        variants = [
            ((status == k) & (variant == j), v.text) for k, r in enumerate(statuses) for j, v in enumerate(r.variants)
        ]
        leads: list[tuple[np.ndarray, list[str]]] = []  # the texts in the order the row execution adds them
        body = [self.coded(variants)]
        for j in range(max((len(r.parts) for r in statuses), default=0)):
            for lead in (True, False):
                uses = [
                    (self.holds[k][j], r.parts[j].text)
                    for k, r in enumerate(statuses)
                    if j < len(r.parts) and r.parts[j].lead == lead
                ]
                if uses:
                    (leads if lead else body).append(self.coded(uses))
        for holds, part in zip(self.holds_all, spec.dose_parts, strict=True):
            (leads if part.lead else body).append(self.coded([(holds, part.text)]))
        pieces = [x for x in (*leads, *body) if x[1]]  # each text joined once per distinct combination
        if pieces:
            key, k = combine(*[c for c, _t in pieces])
            first = first_of(key, k)
            picked = np.stack([c[first] for c, _t in pieces], axis=1)  # per combination, per piece: its text
            offsets = np.cumsum([0, *[len(t) for _c, t in pieces]])
            every = objects([x for _c, t in pieces for x in t])
            used = picked >= 0
            used[used] = every[(picked + offsets[:-1])[used]] != ""
            combination, piece = np.nonzero(used)  # in order: by combination, then piece
            texts = every[picked[combination, piece] + offsets[piece]]
            text = row_join(k, combination, texts, "; ")[key]
        else:
            text = np.full(self.n, "", dtype=object)
        fixed_text = self.formatted([(self.fixed == j, t) for j, (_w, t) in enumerate(spec.fixed_form)])
        made_form = objects(["" if f is None else f.text for f in self.forms])[self.form_of]
        form_text = np.where(self.fixed >= 0, fixed_text, made_form)
        # the dose's reasons: its notes (the variant's, then each part's that holds) and the form's evidence
        noted = [
            h for row, r in zip(self.holds, statuses, strict=True) for h, p in zip(row, r.parts, strict=True) if p.note
        ]
        noted += [h for h, p in zip(self.holds_all, spec.dose_parts, strict=True) if p.note]  # (the others add none)
        seen: dict[Any, int] = {}  # of a form, only its evidence is written there
        evidence = np.asarray(
            [seen.setdefault(None if f is None else f.evidence, len(seen)) for f in self.forms], np.intp
        )
        notes_key, k = combine(status, variant, *noted, np.where(self.fixed >= 0, -1, evidence[self.form_of]))
        groups = []
        for x in first_of(notes_key, k).tolist():
            rule = statuses[status[x]]
            notes = [engine.dosing_note(m) for m in rule.variants[variant[x]].notes]
            parts = [
                *zip(self.holds[status[x]], rule.parts, strict=True),
                *zip(self.holds_all, spec.dose_parts, strict=True),
            ]
            notes += [engine.dosing_note(p.note) for holds, p in parts if p.note and holds[x]]
            form = self.forms[self.form_of[x]] if self.fixed[x] < 0 else None
            dose = Dose(DoseStatus(rule.status), None, None, None, None, "", tuple(notes), "", "")
            groups.append(dose_group_text(dose, form or _NO_FORM))
        names = objects([s.status for s in statuses])[status]
        return names, self.low, self.high, text, form_text, objects(groups)[notes_key], self.columns["headline"]


_NO_FORM = Form("", "", "")


class _DoseColumns(dict[str, Any]):
    """The facts the dose rules read, as columns: those the table run set, the row's facts, "known:x", and the
    risk factors and symptoms ("factor:x", "symptom:x") from each row's set of them (``(distinct, code)``)."""

    def __init__(self, facts: Mapping[str, Any], *ids: tuple[list[frozenset[str]], np.ndarray]) -> None:
        super().__init__()
        self.facts, self.ids = facts, dict(zip(("factor:", "symptom:"), ids, strict=True))

    def __missing__(self, name: str) -> Any:
        if name.startswith(("factor:", "symptom:")):
            distinct, key = self.ids[name[: name.index(":") + 1]]
            value = np.array([name in x for x in distinct], dtype=bool)[key]
        elif name.startswith("known:"):
            value = ~pd.isna(self[name[6:]])
        else:
            value = self.facts[name]
        self[name] = value
        return value


def _spread(codes: np.ndarray, texts: list[str]) -> np.ndarray:
    """Per row, the text of its code ("" for -1)."""
    return objects(["", *texts])[codes + 1]


def _first_holding(
    conditions: Sequence[Condition],
    facts: Mapping[str, Any],
    n: int,
    default: int = 0,
    codes: Callable[[str], np.ndarray] | None = None,
) -> np.ndarray:
    """Per row, the first condition that holds (``default`` where none does); with ``codes`` (a code per row for
    a fact: equal codes, equal values) once per distinct combination of the facts the conditions read."""
    names = sorted(frozenset().union(*(c.facts for c in conditions)))
    if codes is not None and names and n > 64:
        key, k = combine(*[codes(name) for name in names])
        if 2 * k < n:
            return _first_holding(conditions, _Rows(facts, first_of(key, k)), k, default)[key]
    found = np.full(n, -1, dtype=np.int64)
    for k, when in enumerate(conditions):
        found[(found < 0) & when.column(facts, n)] = k
    found[found < 0] = default
    return found


class _Rows(dict[str, Any]):
    """Facts on some rows only, each taken on first use."""

    def __init__(self, facts: Mapping[str, Any], rows: np.ndarray) -> None:
        super().__init__()
        self.facts, self.rows = facts, rows

    def __missing__(self, name: str) -> Any:
        column = np.asarray(self.facts[name])
        value = self[name] = column if column.ndim == 0 else column[self.rows]
        return value


def _exact_codes(values: np.ndarray) -> np.ndarray:
    """A code per value: equal codes for equal values, and for missing values of one kind (None, NaN, ...)."""
    if values.dtype != np.dtype(object):  # numbers, flags: NaN the one missing value
        return factorize(values, use_na_sentinel=False)[0]
    codes, distinct = factorize(values)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        kinds: dict[type, int] = {}
        codes = codes.copy()
        codes[missing] = [len(distinct) + kinds.setdefault(type(v), len(kinds)) for v in values[missing].tolist()]
    return codes


def _interval_codes(values: np.ndarray, cuts: tuple[float, ...]) -> np.ndarray:
    """Per row, which of the points ``cuts`` and the intervals around them the number falls in (-1: missing),
    as :func:`~mgdecision.engine.core.interval`."""
    x = np.asarray(values, dtype=np.float64)
    edges = np.asarray(cuts, dtype=np.float64)
    codes = np.searchsorted(edges, x, "left") + np.searchsorted(edges, x, "right")
    return np.where(np.isnan(x), -1, codes).astype(np.int64)


def _keys(values: np.ndarray) -> list[Any]:
    """Facts as parts of memo keys: Python values, NaN as None."""
    return [None if v != v else v for v in values.tolist()]


# ---------------------------------------------------------------- the driver


def _note_lines(column: Any, probable: str, values: list[Any]) -> np.ndarray:
    """Per row, the problem line of a column not used ("" where :func:`near_miss_problem` gives none)."""
    try:
        codes, distinct = factorize(objects(values), use_na_sentinel=False)
    except TypeError:  # unhashable cells: one by one
        codes, distinct = np.arange(len(values)), pd.Index(objects(values))
    made = [near_miss_problem(column, probable, v) for v in distinct.tolist()]
    return objects(["" if p is None else str(p) for p in made])[codes]


@dataclass(slots=True)
class TableOutputs:
    """What the table execution gives: the output columns, the rows it left to the row execution (a value it
    does not read), and, when asked for, the interactions and the input problems as records (row, model)."""

    columns: dict[str, np.ndarray]
    odd: list[int]
    interactions: list[tuple[int, Interaction]]
    problems: list[tuple[int, Problem]]
    reasons: list[str]  # every row's reasons in full (mg_reasons is capped), with the records; else empty


def assess_columns(
    cells: Mapping[str, list[Any]],
    n: int,
    units: Mapping[str, str],
    as_of: date | None,
    near_misses: Sequence[tuple[Any, str, list[Any]]] = (),
    engine: Engine | None = None,
    *,
    records: bool = False,
) -> TableOutputs:
    """The output :data:`~mgdecision.outputs.COLUMNS` for ``n`` rows given as field -> list of cell values.

    ``units`` are the units headers carry; ``near_misses`` are (column, probable field, values) of columns
    not used because their header looks like a misspelt field; ``engine`` runs another knowledge base's rules
    (default: the shipped one); ``records``: also give the interactions and the input problems as records.
    Columns are arrays (object, or float64 for the two dose numbers). The rows in ``odd`` hold a value this
    path does not read: the caller gives them the row execution's values.
    """
    if n == 0:
        empty = {c: np.zeros(0, dtype=np.float64 if c in _NUMERIC else object) for c in COLUMNS}
        return TableOutputs(empty, [], [], [], [])
    odd = np.zeros(n, dtype=bool)
    codes: dict[str, np.ndarray] = {}
    distinct: dict[str, list[Any]] = {}
    for name, values in cells.items():
        if name == "patient_id":  # only echoed back, never used in the output: checked, not read
            if not isinstance(values, TextCells) and not set(map(type, values)) <= PLAIN:
                odd |= np.fromiter(map(unreadable, values), dtype=bool, count=n)
            continue
        codes[name], distinct[name] = column_codes(values, odd)
    groups = {name: _read_group(g, cells, codes, odd, units, as_of) for name, g in SCALAR_GROUPS.items()}
    engine = engine or default_engine()
    pool = Pool()
    index = effect_table(engine).index
    lists = {f: read_list_column(f, distinct[f], pool, index) for f in LIST_FIELDS if f in cells}
    texts = {f: cells.texts for f, cells in lists.items()}
    lines = [_note_lines(column, probable, values) for column, probable, values in near_misses]
    run = _TableRun(engine, n, groups, lists, codes, pool, texts)
    columns = run.run(lines, records)
    odd_rows = np.flatnonzero(odd).tolist()
    interactions: list[tuple[int, Interaction]] = []
    problems: list[tuple[int, Problem]] = []
    reasons: list[str] = []
    if records:
        skip = set(odd_rows)
        interactions = [x for x in run.interaction_records() if x[0] not in skip]
        problems = [x for x in run.problem_records(near_misses) if x[0] not in skip]
        reasons = run.full_reasons
    return TableOutputs(columns, odd_rows, interactions, problems, reasons)


_Problems = tuple[np.ndarray, Callable[[int], tuple[Problem, ...]]]  # a code per row, and the problems of a code


def _group_problems(group: _Group) -> _Problems:
    return group.codes, lambda c: tuple(group.read[c].problems)


def _cell_problems(field: str, codes: np.ndarray, texts: list[str]) -> _Problems:
    return codes, lambda c: parse_list(field, texts[c]).problems if c >= 0 else ()


def _near_problems(column: Any, probable: str, values: list[Any]) -> _Problems:
    try:
        codes, distinct = factorize(objects(values), use_na_sentinel=False)
    except TypeError:  # unhashable cells: one by one
        codes, distinct = np.arange(len(values)), pd.Index(objects(values))
    seen = distinct.tolist()

    def make(c: int) -> tuple[Problem, ...]:
        problem = near_miss_problem(column, probable, seen[c])
        return () if problem is None else (problem,)

    return codes.astype(np.int64), make
