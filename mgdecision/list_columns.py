"""Column-wide reading: the distinct cells of a column, and list columns split and matched for the whole column.

Each input column is factorised (:func:`column_codes`); a list column's distinct cells are split at once
(one pass of :func:`~mgdecision.terms.prepare` over all of them) and each distinct item is matched once by
the same reader as a single row (:func:`~mgdecision.terms.item_reading`). Cells holding a value this path
does not read are marked ``odd`` and read one by one by the row reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np

from .arrays import Pool, factorize, objects, row_join
from .reading import CONTAINERS, normal_cell, shown_text
from .terms import SEPARATORS, item_reading, prepare, restore, unchecked_lines

__all__ = ["END", "PLAIN", "SEP", "ListCells", "cell_join", "column_codes", "read_list_column", "unreadable"]

END, SEP = "\x02", "\x03"  # row ends and item separators in the column-wide joins (numpy drops a trailing NUL)
PLAIN = frozenset({str, int, float, type(None)})


def column_codes(values: list[Any], odd: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1 for None or NaN) and distinct values of one column; rows this path cannot read set in ``odd``."""
    kinds = set(map(type, values))
    if not kinds <= PLAIN:  # numpy scalars and pandas nulls read as a single row reads them
        values = [normal_cell(v) for v in values]
        kinds = set(map(type, values))
    arr = objects(values)
    if not kinds <= PLAIN:
        bad = np.fromiter((unreadable(v) for v in values), dtype=bool, count=len(values))
        if bad.any():
            odd |= bad
            arr[bad] = None
    codes, uniques = factorize(arr)
    distinct = uniques.tolist()
    try:
        joined = "".join(distinct)
        clean = END not in joined and SEP not in joined
    except TypeError:  # not all text
        clean = False
    marked = [] if clean else [k for k, v in enumerate(distinct) if type(v) is str and (END in v or SEP in v)]
    numbers = {t for t in kinds if issubclass(t, Number)}
    if len(numbers) > 1 and not numbers <= {int, float}:
        # equal numbers of different types share a code but are not always read alike: an age of TRUE is not
        # 1 year, and Decimal("1.0") is shown as written
        marked += [k for k, v in enumerate(distinct) if isinstance(v, Number)]
    if marked:
        odd |= np.isin(codes, marked)
    return codes.astype(np.intp, copy=False), distinct


def unreadable(value: Any) -> bool:
    if type(value) in CONTAINERS:
        return True
    try:
        hash(value)
    except TypeError:
        return True
    return False


@dataclass(slots=True)
class ListCells:
    """The distinct cells of one list column, as read: per cell flags and texts, and what each names."""

    readable: np.ndarray  # per cell
    problems: np.ndarray  # per cell: problem lines joined
    unrecognized: np.ndarray  # per cell: "field not recognised: ..." or ""
    occ_cell: np.ndarray  # per recognised concept (first naming in its cell), in cell order
    occ_concept: np.ndarray
    occ_named: np.ndarray  # pool id of the item as written
    occ_shown: np.ndarray  # pool id of 'label (as written)'


def read_list_column(field: str, distinct: list[Any], pool: Pool, index: Mapping[str, int]) -> ListCells:
    k = len(distinct)
    texts = [v.strip() if type(v) is str else shown_text(v) for v in distinct]  # as a single row reads a cell
    big = END.join(texts)
    if SEP in big or big.count(END) != k - 1:  # cells holding them are read one by one (see column_codes)
        texts = [x if SEP not in x and END not in x else "" for x in texts]
    big = prepare(END.join(texts))  # no pattern of prepare crosses a row end: one pass for the column
    for separator in SEPARATORS:
        big = big.replace(separator, SEP)
    pieces = big.replace(END, SEP + END + SEP).split(SEP)
    piece_codes, piece_texts = factorize(objects(pieces))
    is_end = piece_codes == (piece_texts.tolist().index(END) if k > 1 else -2)
    cell_of = np.cumsum(is_end, dtype=np.intp) - is_end  # each piece's cell
    keep = ~is_end
    piece_codes, cell_of = piece_codes[keep], cell_of[keep]

    # each distinct piece: stripped, matched once (memoised per item across calls)
    concepts_of: list[list[tuple[int, int, int]]] = []  # (concept, named id, shown id)
    problem_of: list[str | None] = []
    unrec_of: list[str | None] = []
    history_of: list[str | None] = []
    counted = []
    for piece in piece_texts.tolist():
        item = restore(piece)
        found, read = item_reading(field, item) if item else ((), None)
        named = pool.id(item)
        concepts_of.append([(index[c.key], named, pool.id(shown)) for c, shown in found])
        problem = read.problem if read is not None else None
        problem_of.append(str(problem) if problem is not None else None)
        unrec_of.append(item if read is not None and read.unrecognized else None)
        history_of.append(item if read is not None and read.history else None)
        counted.append(bool(found) or (read is not None and read.negated))

    readable = np.zeros(k, dtype=bool)
    readable[cell_of[np.asarray(counted, dtype=bool)[piece_codes]]] = True
    problems = cell_join(k, cell_of, piece_codes, problem_of, "; ")
    unrec = cell_join(k, cell_of, piece_codes, unrec_of, SEP)  # no item holds SEP (see column_codes)
    past = cell_join(k, cell_of, piece_codes, history_of, SEP)
    unrecognized = np.full(k, "", dtype=object)  # only diagnoses and medications are "not checked" unrecognised
    if field != "symptoms":
        some = np.flatnonzero((unrec != "") | (past != ""))
        unrecognized[some] = objects(
            [
                "; ".join(unchecked_lines(field, u.split(SEP) if u else (), h.split(SEP) if h else ()))
                for u, h in zip(unrec[some].tolist(), past[some].tolist(), strict=True)
            ]
        )

    sizes = np.asarray([len(c) for c in concepts_of], dtype=np.intp)  # repeat counts: the platform's index type
    flat = np.asarray([t for c in concepts_of for t in c], dtype=np.intp).reshape(-1, 3)
    starts = np.cumsum(sizes) - sizes
    per_piece = sizes[piece_codes]
    total = int(per_piece.sum())
    where = np.repeat(starts[piece_codes] - np.cumsum(per_piece) + per_piece, per_piece) + np.arange(total)
    occ_cell = np.repeat(cell_of, per_piece)
    occ = flat[where] if total else np.zeros((0, 3), dtype=np.intp)
    # a concept counts once per cell, named by its first item (as in a single row); the key in int64 (cells x
    # concepts passes 2**31 on a 32-bit platform)
    _, first = np.unique(occ_cell.astype(np.int64) * len(index) + occ[:, 0], return_index=True)
    first.sort()
    return ListCells(readable, problems, unrecognized, occ_cell[first], occ[first, 0], occ[first, 1], occ[first, 2])


def cell_join(k: int, cell_of: np.ndarray, piece_codes: np.ndarray, texts: list[str | None], sep: str) -> np.ndarray:
    """Per cell, the texts of its pieces that have one, joined in order."""
    has = np.asarray([t is not None for t in texts], dtype=bool)[piece_codes] if texts else np.zeros(0, dtype=bool)
    return row_join(k, cell_of[has], objects(texts)[piece_codes[has]], sep)
