"""Column-wide reading: the distinct cells of a column, and list columns split and matched for the whole column.

Each input column is factorised (:func:`column_codes`); a list column's distinct cells are split at once
(one pass of :func:`~mgdecision.terms.prepare` over all of them) and each distinct item is matched once by
the same reader as a single row (:func:`~mgdecision.terms.item_reading`). Cells holding a value this path
does not read are marked ``odd`` and read one by one by the row reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Number
from typing import Any, overload

import numpy as np
import pandas as pd

from .arrays import Pool, combine, factorize, first_of, objects, row_join
from .reading import CONTAINERS, normal_cell, shown_text
from .terms import QUALIFIERS, SEPARATORS, item_reading, parse_list, prepare, restore, unchecked_lines

__all__ = [
    "END",
    "PLAIN",
    "SEP",
    "ListCells",
    "TextCells",
    "cell_join",
    "column_codes",
    "read_list_column",
    "unreadable",
]

END, SEP = "\x02", "\x03"  # row ends and item separators in the column-wide joins (numpy drops a trailing NUL)
PLAIN = frozenset({str, int, float, type(None)})
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate: pandas before 3.0 factorises such texts as equal


class TextCells(Sequence[Any]):
    """The cells of a pandas column holding only text or missing values in an array that codes them without
    reading each cell (Arrow strings); the cells are made Python values when first read (a list column's never
    are: the table execution reads its distinct cells only)."""

    def __init__(self, column: pd.Series) -> None:
        self.column = column
        self._cells: list[Any] | None = None

    def cells(self) -> list[Any]:
        if self._cells is None:
            self._cells = self.column.tolist()
        return self._cells

    def __len__(self) -> int:
        return len(self.column)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self.cells()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.cells())

    def coded(self) -> tuple[np.ndarray, list[str]]:
        """Codes (-1 for missing) and distinct texts."""
        codes, distinct = pd.factorize(self.column.array)
        return codes, distinct.tolist()


def column_codes(values: list[Any], odd: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1 for None or NaN) and distinct values of one column; rows this path cannot read set in ``odd``."""
    if isinstance(values, TextCells):  # text or missing only: no row is odd unless it holds a separator of the joins
        codes, distinct = values.coded()
        joined = _texts(distinct)
        if joined.isascii() or _SURROGATE.search(joined) is None:
            if END in joined or SEP in joined:
                odd |= np.isin(codes, [k for k, v in enumerate(distinct) if END in v or SEP in v])
            return codes.astype(np.intp, copy=False), distinct
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
    joined = _texts(distinct)
    if not joined.isascii() and _SURROGATE.search(joined):  # cells holding a lone surrogate: read one by one
        bad = np.fromiter(
            (type(v) is str and _SURROGATE.search(v) is not None for v in values), dtype=bool, count=len(values)
        )
        odd |= bad
        arr[bad] = None
        codes, uniques = factorize(arr)
        distinct = uniques.tolist()
        joined = _texts(distinct)
    clean = END not in joined and SEP not in joined
    marked = [] if clean else [k for k, v in enumerate(distinct) if type(v) is str and (END in v or SEP in v)]
    numbers = {t for t in kinds if issubclass(t, Number)}
    if len(numbers) > 1 and not numbers <= {int, float}:
        # equal numbers of different types share a code but are not always read alike: an age of TRUE is not
        # 1 year, and Decimal("1.0") is shown as written
        marked += [k for k, v in enumerate(distinct) if isinstance(v, Number)]
    if marked:
        odd |= np.isin(codes, marked)
    return codes.astype(np.intp, copy=False), distinct


def _texts(distinct: list[Any]) -> str:
    try:
        return "".join(distinct)
    except TypeError:  # not all text
        return "".join(v for v in distinct if type(v) is str)


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
    occ_qualifier: np.ndarray  # index in terms.QUALIFIERS, -1 for a concept counted as written
    intake: np.ndarray  # per cell: tuple of IntakeItem (magnesium products named in it)
    texts: list[str]  # per cell: its text as a single row reads it


_QUALIFIER_CODE = {q: k for k, q in enumerate(QUALIFIERS)}


def read_list_column(field: str, distinct: list[Any], pool: Pool, index: Mapping[str, int]) -> ListCells:
    """Every distinct cell of a list column read as :func:`~mgdecision.terms.parse_list` reads it.

    Cells are split at once and each distinct item is read once; a cell where a negation starting an item may
    carry over to the next one ("no cramps, tremor") is read whole by ``parse_list`` instead."""
    k = len(distinct)
    if set(map(type, distinct)) == {str}:  # as a single row reads a cell
        texts = as_read = list(map(str.strip, distinct))
    else:
        texts = as_read = [v.strip() if type(v) is str else shown_text(v) for v in distinct]
    big = END.join(texts)
    if SEP in big or big.count(END) != k - 1:  # cells holding them are read one by one (see column_codes)
        texts = [x if SEP not in x and END not in x else "" for x in texts]
    big = prepare(END.join(texts))  # no pattern of prepare crosses a row end: one pass for the column
    for separator in SEPARATORS:
        big = big.replace(separator, SEP)
    piece_codes, piece_texts, cell_of = split_pieces(big, k)

    # each distinct piece: stripped, matched once (memoised per item across calls)
    concepts_of: list[list[tuple[int, int, int, int]]] = []  # (concept, named id, shown id, qualifier)
    problem_of: list[str | None] = []
    unrec_of: list[str | None] = []
    history_of: list[str | None] = []
    intake_of: list[tuple[Any, ...]] = []
    counted, carries, empty = [], [], []
    for piece in piece_texts:
        item = restore(piece)
        found, read = item_reading(field, item) if item else ((), None)
        concepts_of.append(
            [(index[c.key], pool.id(n), pool.id(shown), _QUALIFIER_CODE.get(q or "", -1)) for c, n, shown, q in found]
        )
        problem_of.append("; ".join(map(str, read.problems)) if read is not None and read.problems else None)
        unrec_of.append(SEP.join(read.unrecognized) if read is not None and read.unrecognized else None)
        history_of.append(SEP.join(read.history) if read is not None and read.history else None)
        intake_of.append(read.intake if read is not None else ())
        counted.append(bool(found) or (read is not None and bool(read.negated)))
        carries.append(read is not None and read.carries)
        empty.append(read is None)

    # a cell with an item whose negation may carry over to a later item of the cell is read whole
    carrying = np.asarray(carries, dtype=bool)[piece_codes]
    later = np.zeros(len(cell_of), dtype=bool)
    if len(cell_of) and k:
        filled = ~np.asarray(empty, dtype=bool)[piece_codes]
        last_filled = np.zeros(k, dtype=np.int64) - 1
        np.maximum.at(last_filled, cell_of[filled], np.flatnonzero(filled))
        later = np.arange(len(cell_of)) < last_filled[cell_of]
    whole = np.zeros(k, dtype=bool)
    whole[cell_of[carrying & later]] = True
    if whole.any():
        fast = ~whole[cell_of]
        piece_codes, cell_of = piece_codes[fast], cell_of[fast]

    readable = np.zeros(k, dtype=bool)
    readable[cell_of[np.asarray(counted, dtype=bool)[piece_codes]]] = True
    problems = cell_join(k, cell_of, piece_codes, problem_of, "; ")
    unrec = cell_join(k, cell_of, piece_codes, unrec_of, SEP)  # no item holds SEP (see column_codes)
    past = cell_join(k, cell_of, piece_codes, history_of, SEP)
    intake = np.empty(k, dtype=object)
    intake[:] = [()] * k
    with_intake = np.flatnonzero(np.asarray([bool(t) for t in intake_of], dtype=bool)[piece_codes])
    for j in with_intake.tolist():  # rare: magnesium products
        intake[cell_of[j]] = (*intake[cell_of[j]], *intake_of[piece_codes[j]])

    sizes = np.asarray([len(c) for c in concepts_of], dtype=np.intp)  # repeat counts: the platform's index type
    flat = np.asarray([t for c in concepts_of for t in c], dtype=np.intp).reshape(-1, 4)
    starts = np.cumsum(sizes) - sizes
    per_piece = sizes[piece_codes]
    total = int(per_piece.sum())
    where = np.repeat(starts[piece_codes] - np.cumsum(per_piece) + per_piece, per_piece) + np.arange(total)
    occ_cell = np.repeat(cell_of, per_piece)
    occ = flat[where] if total else np.zeros((0, 4), dtype=np.intp)
    if whole.any():
        occ_cell, occ = _read_whole(
            field, texts, np.flatnonzero(whole), pool, index, occ_cell, occ, (readable, problems, unrec, past, intake)
        )
    # a concept counts once per cell, named by its first item (as in a single row); the key in int64 (cells x
    # concepts passes 2**31 on a 32-bit platform)
    named, count = factorize(occ_cell.astype(np.int64) * len(index) + occ[:, 0])
    first = first_of(named, len(count))  # ascending: codes are numbered in order of first appearance
    # ... but a naming as written (no history, suspected or held word) outweighs a qualified one: its place stays
    # that of the first naming, its name and qualifier are those of the first naming as written
    as_written = np.flatnonzero(occ[:, 3] < 0)
    chosen = first.copy()
    chosen[named[as_written[::-1]]] = as_written[::-1]
    unrecognized = np.full(k, "", dtype=object)  # only diagnoses and medications are "not checked" unrecognised
    if field != "symptoms":
        some = np.flatnonzero((unrec != "") | (past != ""))
        pair, pairs = combine(factorize(unrec[some])[0], factorize(past[some])[0])
        made = []  # once per distinct (unrecognised, past) items
        for x in first_of(pair, pairs).tolist():
            u, h = unrec[some[x]], past[some[x]]
            made.append("; ".join(unchecked_lines(field, u.split(SEP) if u else (), h.split(SEP) if h else ())))
        unrecognized[some] = objects(made)[pair]
    return ListCells(
        readable,
        problems,
        unrecognized,
        occ_cell[first],
        occ[first, 0],
        occ[chosen, 1],
        occ[chosen, 2],
        occ[chosen, 3],
        intake,
        as_read,
    )


def split_pieces(big: str, k: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The items of ``k`` cells joined with :data:`END`, items parted by :data:`SEP`: per item its code and its
    cell, and the distinct items (coded in order of first appearance)."""
    if k > 1 and _arrow_split is not None:
        found = _arrow_split(big)
        if found is not None:
            return found
    pieces = big.replace(END, SEP + END + SEP).split(SEP)
    piece_codes, piece_texts = factorize(objects(pieces))
    is_end = piece_codes == (piece_texts.tolist().index(END) if k > 1 else -2)
    cell_of = np.cumsum(is_end, dtype=np.intp) - is_end  # each piece's cell
    keep = ~is_end
    return piece_codes[keep], piece_texts.tolist(), cell_of[keep]


def _split_with_arrow(big: str) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """:func:`split_pieces` by Arrow's string kernels (None where Arrow cannot hold the text)."""
    try:
        joined = pa.array([big], pa.large_string())
    except (UnicodeError, pa.ArrowException):  # a lone surrogate
        return None
    items = pc.split_pattern(pc.split_pattern(joined, END).flatten(), SEP)
    encoded = items.flatten().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    cells = pc.list_parent_indices(items).to_numpy(zero_copy_only=False).astype(np.intp)
    return codes, encoded.dictionary.to_pylist(), cells


try:
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # an optional dependency: the same split by Python's str methods
    _arrow_split = None
else:
    _arrow_split = _split_with_arrow


def _read_whole(
    field: str,
    texts: list[str],
    cells: np.ndarray,
    pool: Pool,
    index: Mapping[str, int],
    occ_cell: np.ndarray,
    occ: np.ndarray,
    per_cell: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Cells read whole by :func:`~mgdecision.terms.parse_list`: their per-cell values set in ``per_cell``
    (readable, problems, unrecognised items, past items, intake), their concepts added to the occurrences."""
    readable, problems, unrec, past, intake = per_cell
    rows, more = [], []
    for cell in cells.tolist():
        terms = parse_list(field, texts[cell])
        readable[cell] = terms.readable
        problems[cell] = "; ".join(map(str, terms.problems))
        unrec[cell] = SEP.join(terms.unrecognized)
        past[cell] = SEP.join(terms.history)
        intake[cell] = terms.intake
        for concept, named, shown in terms.concepts:
            code = _QUALIFIER_CODE.get(terms.qualifiers.get(concept.key, ""), -1)
            rows.append(cell)
            more.append((index[concept.key], pool.id(named), pool.id(shown), code))
    if not rows:
        return occ_cell, occ
    occ_cell = np.concatenate([occ_cell, np.asarray(rows, dtype=np.intp)])
    occ = np.concatenate([occ, np.asarray(more, dtype=np.intp).reshape(-1, 4)])
    order = np.argsort(occ_cell, kind="stable")
    return occ_cell[order], occ[order]


def cell_join(k: int, cell_of: np.ndarray, piece_codes: np.ndarray, texts: list[str | None], sep: str) -> np.ndarray:
    """Per cell, the texts of its pieces that have one, joined in order."""
    has = np.asarray([t is not None for t in texts], dtype=bool)[piece_codes] if texts else np.zeros(0, dtype=bool)
    return row_join(k, cell_of[has], objects(texts)[piece_codes[has]], sep)
