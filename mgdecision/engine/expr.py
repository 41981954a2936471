"""The small condition language of the rule specification (``knowledge/rules.toml``), parsed without ``eval``.

    egfr < renal.severe_below and not dialysis
    listed(k_sparing_renal) and (egfr < renal.k_sparing_below or fired(aki))
    route == 'iv' or risk == 'HIGH'

Grammar: ``or`` / ``and`` / ``not``, one comparison (``< <= > >= == !=``) between two terms, parentheses. A term
is a number, a quoted string (single quotes), ``true``/``false``, a fact name (``egfr``), a constant of the
knowledge (``renal.severe_below``: a dotted name, resolved when the rule is compiled), a call ``f(arg)`` that
names a fact ``f:arg`` (``fired(aki)`` is the fact ``fired:aki``), or a sum or difference of numbers
(``reference_day - serum_day``). A missing number is NaN, so every comparison with it is false, and every sum
with it NaN, in both executions.

The text is parsed by the standard library (``ast.parse(mode="eval")``) and only a whitelist of node types is
turned into the checked tree (:data:`Node`); anything else is refused. Each tree compiles twice: for one row,
into Python syntax-tree nodes that :func:`function` compiles (never from source text), and for a table, into
numpy operations on whole columns (:meth:`Condition.column`). Message templates (``"eGFR {egfr:g} below
{renal.severe_below}"``) name facts and constants the same way.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import string
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np

from .. import vocab
from ..errors import KnowledgeError
from ..memo import remember

__all__ = [
    "FUNCTIONS",
    "Condition",
    "Node",
    "Reader",
    "Template",
    "all_holding",
    "constant",
    "first_holding",
    "function",
    "known",
    "parse",
    "row_expression",
]

# calls name facts: fired(x) is the fact "fired:x"; factor(x) and symptom(x): the risk factor or symptom x is on
# the row (read by the dose rules)
FUNCTIONS = ("fired", "listed", "known", "factor", "symptom")
MAX_TEXT = 2_000  # characters of one condition
MAX_DEPTH = 40  # nesting of and/or/not/comparison/parentheses

Node = tuple[Any, ...]  # ("and"|"or", a, b) | ("not", a) | ("cmp", op, a, b) | ("fact", name) | ("const", value)
# | ("arith", "+"|"-", a, b) | ("if", condition, then, otherwise): a first-match value table (:func:`first_match`)

_OPERATORS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_AST_COMPARE: dict[str, type[ast.cmpop]] = {v: k for k, v in _OPERATORS.items()}
_ARITHMETIC: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-"}
_AST_ARITHMETIC: dict[str, type[ast.operator]] = {v: k for k, v in _ARITHMETIC.items()}
_CALCULATE: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub}
_FACT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------- parsing


class _Tree:
    """Turns the standard library's syntax tree of one condition into the checked tree, or refuses it."""

    def __init__(self, text: str, constants: Mapping[str, Any]) -> None:
        self.text, self.constants = text, constants

    def fail(self, why: str) -> KnowledgeError:
        return KnowledgeError(f"rule condition {self.text!r}: {why}")

    def node(self, found: ast.AST, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} deep")
        if isinstance(found, ast.BoolOp):
            kind = "and" if isinstance(found.op, ast.And) else "or"
            parts = [self.node(v, depth + 1) for v in found.values]
            tree = parts[0]
            for part in parts[1:]:  # folded from the left, as written
                tree = (kind, tree, part)
            return tree
        if isinstance(found, ast.UnaryOp) and isinstance(found.op, ast.Not):
            return ("not", self.node(found.operand, depth + 1))
        if isinstance(found, ast.Compare):
            if len(found.ops) != 1:
                raise self.fail("one comparison at a time (write `a < b and b < c`)")
            op = _OPERATORS.get(type(found.ops[0]))
            if op is None:
                raise self.fail("only < <= > >= == != compare")
            return ("cmp", op, self.term(found.left, depth + 1), self.term(found.comparators[0], depth + 1))
        return self.term(found, depth + 1)

    def term(self, found: ast.AST, depth: int) -> Node:
        if isinstance(found, ast.Constant):
            value = found.value
            if isinstance(value, str):
                segment = ast.get_source_segment(self.text, found) or ""
                if not segment.startswith("'"):
                    raise self.fail("texts are written in single quotes")
                return ("const", value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                try:
                    number = float(value)
                except OverflowError:
                    number = math.inf
                if not math.isfinite(number):
                    raise self.fail(f"{str(value)[:20]}... is not a finite number")
                return ("const", number)
            raise self.fail(f"unexpected {type(value).__name__} {str(value)[:20]!r}")
        if isinstance(found, ast.Name):
            if found.id in ("true", "false"):
                return ("const", found.id == "true")
            return ("fact", found.id)
        if isinstance(found, ast.Attribute):
            return ("const", constant(self.dotted(found), self.constants, self.text))
        if isinstance(found, ast.Call):
            name = found.func.id if isinstance(found.func, ast.Name) else None
            if name not in FUNCTIONS:
                raise self.fail(f"unknown function {name or '?'!r} (known: {', '.join(FUNCTIONS)})")
            if found.keywords or len(found.args) != 1 or not isinstance(found.args[0], ast.Name):
                raise self.fail(f"{name}() takes one name")
            return ("fact", f"{name}:{found.args[0].id}")
        if isinstance(found, ast.BinOp) and type(found.op) in _ARITHMETIC:
            left, right = self.term(found.left, depth + 1), self.term(found.right, depth + 1)
            if any(part[0] == "const" and not isinstance(part[1], float) for part in (left, right)):
                raise self.fail("only numbers are added or subtracted")
            return ("arith", _ARITHMETIC[type(found.op)], left, right)
        if isinstance(found, (ast.BoolOp, ast.UnaryOp, ast.Compare)):
            return self.node(found, depth)  # parenthesised
        raise self.fail(f"cannot read {ast.get_source_segment(self.text, found) or type(found).__name__!r}")

    def dotted(self, found: ast.AST) -> str:
        parts = []
        while isinstance(found, ast.Attribute):
            parts.append(found.attr)
            found = found.value
        if not isinstance(found, ast.Name):
            raise self.fail("a constant is a dotted name such as renal.severe_below")
        return ".".join([found.id, *reversed(parts)])


def constant(dotted: str, constants: Mapping[str, Any], where: str) -> Any:
    """The value of a dotted constant name (``renal.severe_below``) in ``constants``."""
    found: Any = constants
    for part in dotted.split("."):
        if not isinstance(found, Mapping) or part not in found:
            raise KnowledgeError(f"{where!r}: unknown constant {dotted!r}")
        found = found[part]
    if isinstance(found, bool) or not isinstance(found, (int, float, str)):
        raise KnowledgeError(f"{where!r}: {dotted!r} is not a number or a text")
    if isinstance(found, (int, float)) and not math.isfinite(float(found)):
        raise KnowledgeError(f"{where!r}: {dotted!r} is not a finite number")
    return float(found) if isinstance(found, int) else found


def parse(text: str, constants: Mapping[str, Any]) -> Condition:
    """Parse a condition; constants are folded in now, facts are read when it runs."""
    if not isinstance(text, str):
        raise KnowledgeError(f"rule condition {text!r}: not a text")
    if len(text) > MAX_TEXT:
        raise KnowledgeError(f"rule condition {text[:40]!r}...: longer than {MAX_TEXT} characters")
    reader = _Tree(text, constants)
    try:
        found = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise reader.fail(f"cannot read it ({getattr(exc, 'msg', exc)})") from None
    except (RecursionError, MemoryError):
        raise reader.fail(f"nested more than {MAX_DEPTH} deep") from None
    reader.text = text.strip()
    return Condition(text, reader.node(found.body))


def first_match(entries: Sequence[tuple[Node, Node]]) -> Node:
    """The tree of a first-match table: the value of the first (condition, value) whose condition holds.

    The last condition must be ``true`` (checked by the caller)."""
    tree = entries[-1][1]
    for when, value in reversed(entries[:-1]):
        tree = ("if", when, value, tree)
    return tree


def facts_of(node: Node) -> frozenset[str]:
    """The facts a tree reads."""
    if node[0] == "fact":
        return frozenset({node[1]})
    if node[0] == "const":
        return frozenset()
    return frozenset().union(*(facts_of(x) for x in node[1:] if isinstance(x, tuple)))


# ---------------------------------------------------------------- the row execution: syntax-tree nodes

Reader = Callable[[str], ast.expr]  # fact name -> the expression node that reads it in a compiled function


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def row_expression(node: Node, read: Reader) -> ast.expr:
    """The checked tree as a Python expression node; ``read`` says how each fact is read.

    Only what the parser made reaches here: a fact name (a checked identifier), a number, a text or a
    boolean constant, a comparison operator of the fixed table, and/or/not, and the conditional of a
    first-match table.
    """
    kind = node[0]
    if kind == "const":
        value = node[1]
        if not isinstance(value, (bool, float, str)) or (isinstance(value, float) and not math.isfinite(value)):
            raise KnowledgeError(f"unexpected constant {value!r}")
        return ast.Constant(value=value)
    if kind == "fact":
        if not _FACT_NAME.fullmatch(node[1]):
            raise KnowledgeError(f"unexpected fact name {node[1]!r}")
        return read(node[1])
    if kind == "not":
        return ast.UnaryOp(op=ast.Not(), operand=row_expression(node[1], read))
    if kind in ("and", "or"):
        op = ast.And() if kind == "and" else ast.Or()
        return ast.BoolOp(op=op, values=[row_expression(node[1], read), row_expression(node[2], read)])
    if kind == "if":
        return ast.IfExp(
            test=row_expression(node[1], read), body=row_expression(node[2], read), orelse=row_expression(node[3], read)
        )
    if kind == "arith":
        if node[1] not in _AST_ARITHMETIC:
            raise KnowledgeError(f"unexpected operator {node[1]!r}")
        return ast.BinOp(
            left=row_expression(node[2], read), op=_AST_ARITHMETIC[node[1]](), right=row_expression(node[3], read)
        )
    if kind != "cmp" or node[1] not in _AST_COMPARE:
        raise KnowledgeError(f"unexpected node {kind!r}")
    return ast.Compare(
        left=row_expression(node[2], read),
        ops=[_AST_COMPARE[node[1]]()],
        comparators=[row_expression(node[3], read)],
    )


def function(params: Sequence[str], body: list[ast.stmt], namespace: Mapping[str, Any] | None = None) -> Any:
    """``def run(params): body``, compiled from syntax-tree nodes made from checked trees. It runs with no
    builtins and only the names of ``namespace``; no text of the knowledge is ever run."""
    for name in params:
        if not _IDENTIFIER.fullmatch(name):
            raise KnowledgeError(f"unexpected parameter {name!r}")
    definition = ast.FunctionDef(
        name="run",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=name) for name in params],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=body or [ast.Pass()],
        decorator_list=[],
        returns=None,
        **({"type_params": []} if sys.version_info >= (3, 12) else {}),  # type: ignore[arg-type]
    )
    module = ast.fix_missing_locations(ast.Module(body=[definition], type_ignores=[]))
    scope: dict[str, Any] = {"__builtins__": {}, **(namespace or {})}
    exec(compile(module, "<rules.toml>", "exec"), scope)  # compiled from checked syntax-tree nodes only
    return scope["run"]


def _facts_item(name: str) -> ast.expr:
    """The default reader: facts from a mapping ``f`` (``known(x)``: ``f["x"]`` is given and not NaN)."""
    kind, _, arg = name.partition(":")
    if kind == "known" and arg:
        return ast.Call(func=_load("KNOWN"), args=[_facts_item(arg)], keywords=[])
    return ast.Subscript(value=_load("f"), slice=ast.Constant(value=name), ctx=ast.Load())


def known(value: Any) -> bool:
    """A fact's value is given: not None and not NaN (NaN is not equal to itself)."""
    return value is not None and value == value


_MAPPING_NAMES = {"KNOWN": known}


def first_holding(conditions: Sequence[Condition]) -> Callable[[Mapping[str, Any]], int]:
    """The row execution of a decision table over a facts mapping: the first condition that holds (-1: none)."""
    body: list[ast.stmt] = [
        ast.If(test=row_expression(c.tree, _facts_item), body=[ast.Return(value=ast.Constant(value=k))], orelse=[])
        for k, c in enumerate(conditions)
    ]
    return function(["f"], [*body, ast.Return(value=ast.Constant(value=-1))], _MAPPING_NAMES)  # type: ignore[no-any-return]


def all_holding(conditions: Sequence[Condition]) -> Callable[[Mapping[str, Any]], tuple[int, ...]]:
    """The row execution of a list of conditions over a facts mapping: the positions of those that hold."""
    found = ast.Name(id="found", ctx=ast.Load())
    body: list[ast.stmt] = [
        ast.Assign(targets=[ast.Name(id="found", ctx=ast.Store())], value=ast.List(elts=[], ctx=ast.Load()))
    ]
    body += [
        ast.If(
            test=row_expression(c.tree, _facts_item),
            body=[
                ast.Expr(
                    value=ast.Call(
                        func=ast.Attribute(value=found, attr="append", ctx=ast.Load()),
                        args=[ast.Constant(value=k)],
                        keywords=[],
                    )
                )
            ],
            orelse=[],
        )
        for k, c in enumerate(conditions)
    ]
    body.append(ast.Return(value=found))
    return function(["f"], body, _MAPPING_NAMES)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the table execution: numpy on columns


def _column(node: Node) -> Callable[[Mapping[str, Any], int], np.ndarray]:
    kind = node[0]
    if kind == "const":
        constant = np.asarray(node[1], dtype=object if isinstance(node[1], str) else None)  # 0-d: broadcast
        return lambda f, n: constant
    if kind == "fact":
        name = node[1]
        return lambda f, n: np.asarray(f[name])
    if kind == "not":
        inner = _column(node[1])
        return lambda f, n: ~inner(f, n).astype(bool)
    if kind in ("and", "or"):
        a, b = _column(node[1]), _column(node[2])
        join = np.logical_and if kind == "and" else np.logical_or
        return lambda f, n: join(a(f, n).astype(bool), b(f, n).astype(bool))
    if kind == "if":
        test, then, otherwise = _column(node[1]), _column(node[2]), _column(node[3])

        def choose(f: Mapping[str, Any], n: int) -> np.ndarray:
            a, b = np.broadcast_to(then(f, n), (n,)), np.broadcast_to(otherwise(f, n), (n,))
            dtype = object if a.dtype == object or b.dtype == object else np.result_type(a, b)
            return np.where(np.broadcast_to(test(f, n), (n,)).astype(bool), a.astype(dtype), b.astype(dtype))

        return choose
    if kind == "arith":
        calculate, a_, b_ = _CALCULATE[node[1]], _column(node[2]), _column(node[3])
        return lambda f, n: calculate(np.asarray(a_(f, n), dtype=np.float64), np.asarray(b_(f, n), dtype=np.float64))
    compare, left, right = _COMPARE[node[1]], _column(node[2]), _column(node[3])

    def run(f: Mapping[str, Any], n: int) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.asarray(compare(left(f, n), right(f, n)), dtype=bool)

    return run


def _facts_row(node: Node) -> Callable[[Mapping[str, Any]], Any]:
    """A tree over a facts mapping, compiled to one small function."""
    body: list[ast.stmt] = [ast.Return(value=row_expression(node, _facts_item))]
    return function(["f"], body, _MAPPING_NAMES)  # type: ignore[no-any-return]


class Condition:
    """A parsed condition with its two executions: ``row(facts)`` -> value, ``column(facts, n)`` -> array."""

    __slots__ = ("_column", "facts", "row", "text", "tree")

    def __init__(self, text: str, tree: Node) -> None:
        self.text, self.tree = text, tree
        self.facts = facts_of(tree)  # the facts it reads
        self.row: Callable[[Mapping[str, Any]], Any] = _facts_row(tree)  # truthy when the condition holds
        self._column = _column(tree)

    def column(self, facts: Mapping[str, Any], n: int) -> np.ndarray:
        """The condition on every row: a boolean array."""
        return np.broadcast_to(self._column(facts, n), (n,)).astype(bool)

    def values(self, facts: Mapping[str, Any], n: int) -> np.ndarray:
        """The value of a first-match table (or a condition) on every row, in its own dtype."""
        return np.broadcast_to(self._column(facts, n), (n,))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def _is_level(c: Any) -> bool:
    return isinstance(c, type) and issubclass(c, StrEnum) and c is not StrEnum


# The values a template's memo keeps: texts (the levels read as their value) and numbers; their tuples are not
# walked by the garbage collector.
KEPT_TYPES = frozenset([str, int, float, type(None), *(c for c in vars(vocab).values() if _is_level(c))])


class Template:
    """A message with ``{fact}``, ``{fact:format}`` and ``{dotted.constant}`` fields (no attribute access).

    ``from_values(values)`` takes the values of the facts it names, in the order of ``names``. A format spec
    may ask for at most :data:`MAX_WIDTH` characters. A missing value (None, or NaN without a format) is left
    out; a whole number without a format reads as written ("30", not "30.0").
    """

    MAX_WIDTH = 40
    MEMO_SIZE = 4096  # messages kept per template

    def __init__(self, text: str, constants: Mapping[str, Any]) -> None:
        if not isinstance(text, str):
            raise KnowledgeError(f"message {text!r}: not a text")
        self.text = text
        self._made: dict[tuple[Any, ...], str] = {}
        try:
            fields = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise KnowledgeError(f"message {text[:60]!r}: {exc}") from None
        names: dict[str, int] = {}
        pieces: list[str | tuple[int, str]] = []  # literal text (constants filled in), or (value number, format)
        for literal, name, spec, conversion in fields:
            if conversion or (name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name)):
                raise KnowledgeError(f"message {text!r}: only {{name}} and {{name:format}} fields")
            if spec in NAMED_FORMATS:
                pass
            elif spec and (len(spec) > 12 or any(int(w) > self.MAX_WIDTH for w in re.findall(r"\d+", spec))):
                raise KnowledgeError(f"message {text[:60]!r}: format {spec[:20]!r} asks for too wide a field")
            if literal:
                pieces.append(literal)
            if name is None:
                continue
            if "." in name:
                pieces.append(_shown(constant(name, constants, text), spec or ""))
            else:
                pieces.append((names.setdefault(name, len(names)), spec or ""))
        merged: list[str | tuple[int, str]] = []
        for piece in pieces:  # adjacent literals as one
            if isinstance(piece, str) and merged and isinstance(merged[-1], str):
                merged[-1] += piece
            else:
                merged.append(piece)
        self.pieces = tuple(merged)
        self.names = tuple(names)
        self.facts = frozenset(self.names)

    def format(self, facts: Mapping[str, Any]) -> str:
        """The message for the facts it names; a message already made for the same texts and numbers is looked
        up, not made again (``True`` equals ``1`` but is not shown alike: values of other types are not kept)."""
        values = tuple([facts[name] for name in self.names])
        if not KEPT_TYPES.issuperset(map(type, values)):
            return self.from_values(values)
        made = self._made.get(values)
        return made if made is not None else remember(self._made, values, self.from_values(values), self.MEMO_SIZE)

    def from_values(self, values: tuple[Any, ...]) -> str:
        if len(values) != len(self.names):
            raise ValueError(f"{self.text!r} names {len(self.names)} values, {len(values)} given")
        out = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:
                out.append(_shown(values[piece[0]], piece[1]))
        return "".join(out)


def _shown(value: Any, spec: str) -> str:
    """A value as a message shows it: "" for None, and for NaN without a format."""
    if value is None or (isinstance(value, float) and value != value and (not spec or spec in NAMED_FORMATS)):
        return ""
    return _formatted(value, spec)


def _years(value: Any) -> str:
    """An age as people write it: whole years, months under 2 years ("18 months", "72")."""
    if value < 2:
        months = int(value * 12 + 1e-9)
        return f"{months} month" + ("s" if months != 1 else "")
    return str(int(value + 1e-9))


def _egfr(value: Any) -> str:
    """An eGFR as people write it: whole, but with one decimal where rounding would cross 15, 30, 45 or 60."""
    for digits in range(4):  # the fewest decimals that keep the value on its side of every cut-off
        shown = round(value, digits)
        if not any((value < edge) != (shown < edge) for edge in (15, 30, 45, 60)):
            return f"{shown:.{digits}f}"
    return f"{value:g}"


def _day(value: Any) -> str:
    """A date kept as a day number (``date.toordinal``), as an ISO date."""
    return date.fromordinal(int(value)).isoformat()


NAMED_FORMATS: Mapping[str, Callable[[Any], str]] = {"years": _years, "egfr": _egfr, "date": _day}


def _formatted(value: Any, spec: str) -> str:
    if type(value) is float and value == 0.0:
        value = 0.0  # -0.0 reads as 0 (and shares a template's memo with 0.0)
    if isinstance(value, float) and value.is_integer() and not spec:
        return str(int(value))  # a whole constant reads as written ("30", not "30.0")
    named = NAMED_FORMATS.get(spec)
    if named is not None:
        return named(value) if isinstance(value, (int, float)) else str(value)
    return format(value, spec)
