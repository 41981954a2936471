"""Column-wide helpers on numpy arrays: codes per distinct combination, texts joined per row or per group.

Generic machinery of the table execution (no clinical knowledge): both the list reading
(:mod:`mgdecision.list_columns`) and the engine's table driver (:mod:`mgdecision.engine.table`) use it.

Codes, counts and positions are ``np.intp`` (the platform's index type: 32 bits in WebAssembly, where numpy
refuses int64 repeat counts and bincount input); only keys that combine several codes are computed in int64.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Pool",
    "by_key",
    "combine",
    "factorize",
    "first_of",
    "group_bounds",
    "group_texts",
    "join_coded",
    "objects",
    "outcome_codes",
    "row_join",
]


def objects(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


_SURROGATE = re.compile("[\ud800-\udfff]")


def factorize(values: np.ndarray, *, use_na_sentinel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` (codes as ``np.intp``, distinct values), exact for texts holding a lone surrogate.

    Some pandas builds (WebAssembly's among them) hash every text that UTF-8 cannot encode alike, so two such cells
    would share a code; the first of them is then among the distinct values, and the column is coded again exactly.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=use_na_sentinel)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":  # numbers, flags: no text to check
        return codes.astype(np.intp, copy=False), uniques
    texts = [u for u in uniques.tolist() if type(u) is str]
    joined = "".join(texts)
    if joined.isascii() or _SURROGATE.search(joined) is None:
        return codes.astype(np.intp, copy=False), uniques
    index: dict[Any, int] = {}
    coded = []
    for value in values.tolist() if isinstance(values, np.ndarray) else list(values):
        missing = value is None or (type(value) is float and value != value)
        coded.append(-1 if missing and use_na_sentinel else index.setdefault(value, len(index)))
    return np.asarray(coded, dtype=np.intp), objects(list(index))


def row_join(n: int, rows: np.ndarray, texts: np.ndarray, sep: str) -> np.ndarray:
    """Per row, its texts joined with ``sep`` ("" for a row without any); ``rows`` ascending, texts in order."""
    out = np.full(n, "", dtype=object)
    if not len(rows):
        return out
    counts = np.bincount(rows.astype(np.intp, copy=False), minlength=n)
    ends = np.cumsum(counts)
    starts = ends - counts
    one = counts == 1
    out[one] = texts[starts[one]]
    many = np.flatnonzero(counts > 1)
    if len(many):
        listed, join = texts.tolist(), sep.join
        bounds = zip(starts[many].tolist(), ends[many].tolist(), strict=True)
        out[many] = objects([join(listed[a:b]) for a, b in bounds])
    return out


def join_coded(n: int, parts: Sequence[tuple[np.ndarray, np.ndarray] | np.ndarray], sep: str) -> np.ndarray:
    """Per row, the non-empty parts joined with ``sep``; a part is a text per row, or a code per row (-1 for none)
    and the text of each code (then only the rows with a text are read)."""
    given: list[np.ndarray] = []
    columns: list[tuple[np.ndarray | None, np.ndarray]] = []
    for part in parts:
        if isinstance(part, tuple):
            codes, texts = part
            texts = np.append(np.asarray(texts, dtype=object), "")  # code -1: ""
            given.append((texts != "")[codes])
            columns.append((codes, texts))
        else:
            given.append(part != "")
            columns.append((None, part))
    out = np.full(n, "", dtype=object)
    rows = np.flatnonzero(np.logical_or.reduce(given)) if given else np.zeros(0, dtype=np.intp)
    if not len(rows):
        return out
    table = np.stack([texts[rows] if codes is None else texts[codes[rows]] for codes, texts in columns], axis=1)
    filled = np.stack([g[rows] for g in given], axis=1)
    out[rows] = row_join(len(rows), np.nonzero(filled)[0], table[filled], sep)
    return out


def first_of(codes: np.ndarray, k: int) -> np.ndarray:
    """For each of ``k`` codes, the first position holding it."""
    first = np.zeros(k, dtype=np.intp)
    where = np.flatnonzero(codes >= 0)
    first[codes[where[::-1]]] = where[::-1]
    return first


def combine(*codes: np.ndarray) -> tuple[np.ndarray, int]:
    """One code per distinct combination of the given code columns (codes may be -1)."""
    key = codes[0].astype(np.int64) + 1
    size = int(key.max(initial=0)) + 1
    for more in codes[1:]:
        radix = int(more.max(initial=-1)) + 2
        if size * radix >= 1 << 62:  # renumber before the key could overflow
            key = pd.factorize(key)[0].astype(np.int64)
            size = int(key.max(initial=0)) + 1
        key = key * radix + more + 1
        size *= radix
    combined, distinct = pd.factorize(key)
    return combined.astype(np.intp, copy=False), len(distinct)


def by_key(codes: np.ndarray, k: int, make: Callable[[int], Any]) -> np.ndarray:
    """``make(row)`` once per distinct code (on the first row holding it), spread back to every row."""
    made = objects([make(int(r)) for r in first_of(codes, k)])
    return made[codes]


def outcome_codes(codes: np.ndarray, k: int, make: Callable[[int], Any]) -> tuple[np.ndarray, list[Any]]:
    """Like :func:`by_key`, as (a code per row, the distinct outcomes): equal outcomes share a code."""
    outcome_codes, outcomes = factorize(objects([make(int(r)) for r in first_of(codes, k)]))
    return outcome_codes[codes].astype(np.intp, copy=False), outcomes.tolist()


def group_bounds(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of equal keys (arrays already sorted by them)."""
    m = len(keys[0])
    change = np.zeros(m, dtype=bool)
    if m:
        change[0] = True
        for key in keys:
            change[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(change)
    return starts, np.append(starts[1:], m).astype(np.intp)


def group_texts(
    starts: np.ndarray,
    ends: np.ndarray,
    keys: np.ndarray,
    names: np.ndarray,
    pool: list[str],
    make: Callable[[int, tuple[str, ...]], str],
) -> np.ndarray:
    """``make(key, names of the group)`` per group, called once per distinct (key, names)."""
    out = np.empty(len(starts), dtype=object)
    if not len(starts):
        return out
    sizes = ends - starts
    code = keys[starts].astype(np.int64)
    for j in range(int(sizes.max())):
        named = np.where(sizes > j, names[np.minimum(starts + j, len(names) - 1)] + 1, 0)
        code = pd.factorize(code * (len(pool) + 1) + named)[0].astype(np.int64)
    pairs, distinct = pd.factorize(code)
    first = first_of(pairs, len(distinct)).tolist()
    made = [make(int(keys[starts[g]]), tuple([pool[i] for i in names[starts[g] : ends[g]].tolist()])) for g in first]
    out[:] = objects(made)[pairs]
    return out


class Pool:
    """Strings given small integer ids (names as shown, contraindication details)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []

    def id(self, text: str) -> int:
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return found
