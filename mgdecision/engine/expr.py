"""The small condition language of the rule specification (``knowledge/rules.toml``), parsed without ``eval``.

    egfr < renal.severe_below and not dialysis
    listed(k_sparing_renal) and (egfr < renal.k_sparing_below or fired(aki))
    route == 'iv' or risk == 'HIGH'

Grammar: ``or`` / ``and`` / ``not``, one comparison (``< <= > >= == !=``) between two terms, parentheses. A term
is a number, a quoted string, ``true``/``false``, a fact name (``egfr``), a constant of the knowledge
(``renal.severe_below``: a dotted name, resolved when the rule is compiled), or a call ``f(arg)`` that names a
fact ``f:arg`` (``fired(aki)`` is the fact ``fired:aki``). A missing number is NaN, so every comparison with
it is false, in both executions.

Each parsed condition compiles twice: :meth:`Condition.row` takes a mapping of scalar facts and returns a
truth value (the checked tree turned into one small Python function: the text itself is never evaluated);
:meth:`Condition.column` takes a mapping of equal-length numpy arrays and returns a boolean array.
Message templates (``"eGFR {egfr:g} below {renal.severe_below}"``) name facts and constants the same way.
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import KnowledgeError

__all__ = ["Condition", "Reader", "Template", "facts_mapping", "first_holding", "function", "parse", "python"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:[.:][A-Za-z0-9_]+)*)"
    r"|(?P<op><=|>=|==|!=|<|>)|(?P<punct>[()]))"
)
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_WORDS = {"and", "or", "not", "true", "false"}
FUNCTIONS = ("fired", "listed", "known")  # calls name facts: fired(x) is the fact "fired:x"

Node = tuple[Any, ...]  # ("and"|"or", a, b) | ("not", a) | ("cmp", op, a, b) | ("fact", name) | ("const", value)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise KnowledgeError(f"rule condition {text!r}: cannot read {text[at:].strip()!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


class _Parser:
    def __init__(self, text: str, constants: Mapping[str, Any]) -> None:
        self.text, self.constants = text, constants
        self.tokens = _tokens(text)
        self.at = 0

    def fail(self, why: str) -> KnowledgeError:
        return KnowledgeError(f"rule condition {self.text!r}: {why}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or 'more'}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.either()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def either(self) -> Node:
        node = self.both()
        while self.peek() == ("name", "or"):
            self.take()
            node = ("or", node, self.both())
        return node

    def both(self) -> Node:
        node = self.negation()
        while self.peek() == ("name", "and"):
            self.take()
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.peek() == ("name", "not"):
            self.take()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.term()
        token = self.peek()
        if token is not None and token[0] == "op":
            self.take()
            return ("cmp", token[1], left, self.term())
        return left

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            number = float(value)
            if not math.isfinite(number):
                raise self.fail(f"{value[:20]}... is not a finite number")
            return ("const", number)
        if kind == "str":
            return ("const", value[1:-1])
        if value == "(":
            node = self.either()
            self.take(")")
            return node
        if kind != "name" or value in ("and", "or", "not"):
            raise self.fail(f"unexpected {value!r}")
        if value in ("true", "false"):
            return ("const", value == "true")
        if self.peek() == ("punct", "("):
            if value not in FUNCTIONS:
                raise self.fail(f"unknown function {value!r} (known: {', '.join(FUNCTIONS)})")
            self.take("(")
            arg = self.take()
            self.take(")")
            return ("fact", f"{value}:{arg[1]}")
        if "." in value:
            return ("const", constant(value, self.constants, self.text))
        return ("fact", value)


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
    return Condition(text, _Parser(text, constants).parse())


def _facts(node: Node) -> set[str]:
    if node[0] == "fact":
        return {node[1]}
    if node[0] == "const":
        return set()
    return set().union(*(_facts(x) for x in node[1:] if isinstance(x, tuple)))


_PYTHON_OPS = {"and": "and", "or": "or"}
Reader = Callable[[str], str]  # fact name -> the Python expression that reads it in a generated function


def facts_mapping(name: str) -> str:
    """The default reader: facts from a mapping ``f``."""
    return f"f[{name!r}]"


def python(node: Node, read: Reader = facts_mapping) -> str:
    """The checked tree as a Python expression; ``read`` says how each fact is read.

    Only what the parser made can reach here: a fact name (a checked identifier), a number, a quoted text or
    a boolean (``repr``), a comparison operator of the fixed table, and/or/not.
    """
    kind = node[0]
    if kind == "const":
        value = node[1]
        if not isinstance(value, (bool, float, str)) or (isinstance(value, float) and not math.isfinite(value)):
            raise KnowledgeError(f"unexpected constant {value!r}")
        return repr(value)
    if kind == "fact":
        if not _FACT_NAME.fullmatch(node[1]):
            raise KnowledgeError(f"unexpected fact name {node[1]!r}")
        return read(node[1])
    if kind == "not":
        return f"(not {python(node[1], read)})"
    if kind in _PYTHON_OPS:
        return f"({python(node[1], read)} {_PYTHON_OPS[kind]} {python(node[2], read)})"
    if node[1] not in _COMPARE:
        raise KnowledgeError(f"unexpected operator {node[1]!r}")
    return f"({python(node[2], read)} {node[1]} {python(node[3], read)})"


_FACT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)?")


def function(params: str, lines: list[str], namespace: Mapping[str, Any] | None = None) -> Any:
    """``def run(params): lines`` made from code generated from checked trees (no builtins; the names of
    ``namespace`` only). The knowledge text itself is never run."""
    scope: dict[str, Any] = {"__builtins__": {}, **(namespace or {})}
    source = "\n".join([f"def run({params}):", *(f"    {line}" for line in lines)]) + "\n"
    exec(compile(source, "<rules.toml>", "exec"), scope)  # generated from the checked trees only
    return scope["run"]


def _row(node: Node) -> Callable[[Mapping[str, Any]], Any]:
    """A condition over a facts mapping, compiled to one small function."""
    return function("f", [f"return {python(node)}"])  # type: ignore[no-any-return]


def first_holding(conditions: list[Condition]) -> Callable[[Mapping[str, Any]], int]:
    """The row execution of a decision table over a facts mapping: the first condition that holds (-1: none)."""
    lines = []
    for k, condition in enumerate(conditions):
        lines += [f"if {python(condition.tree)}:", f"    return {k}"]
    return function("f", [*lines, "return -1"])  # type: ignore[no-any-return]


def _column(node: Node) -> Callable[[Mapping[str, Any], int], np.ndarray]:
    kind = node[0]
    if kind == "const":
        value = node[1]
        return lambda f, n: np.full(n, value)
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
    compare, left, right = _COMPARE[node[1]], _column(node[2]), _column(node[3])

    def run(f: Mapping[str, Any], n: int) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.asarray(compare(left(f, n), right(f, n)), dtype=bool)

    return run


class Condition:
    """A parsed condition with its two executions: ``row(facts)`` -> bool, ``column(facts, n)`` -> bool array."""

    __slots__ = ("_column", "facts", "row", "text", "tree")

    def __init__(self, text: str, tree: Node) -> None:
        self.text, self.tree = text, tree
        self.facts = frozenset(_facts(tree))  # the facts it reads
        self.row: Callable[[Mapping[str, Any]], Any] = _row(tree)  # truthy when the condition holds
        self._column = _column(tree)

    def column(self, facts: Mapping[str, Any], n: int) -> np.ndarray:
        return np.broadcast_to(self._column(facts, n), (n,)).astype(bool)

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


class Template:
    """A message with ``{fact}``, ``{fact:format}`` and ``{dotted.constant}`` fields (no attribute access).

    ``from_values(values)`` takes the values of the facts it names, in the order of ``names``.
    """

    def __init__(self, text: str, constants: Mapping[str, Any]) -> None:
        self.text = text
        self.parts: list[tuple[str, str | None, str, Any]] = []  # (literal, fact or None, format, constant)
        for literal, name, spec, conversion in string.Formatter().parse(text):
            if conversion or (name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name)):
                raise KnowledgeError(f"message {text!r}: only {{name}} and {{name:format}} fields")
            if name is None:
                self.parts.append((literal, None, "", None))
            elif "." in name:
                self.parts.append((literal, None, spec or "", constant(name, constants, text)))
            else:
                self.parts.append((literal, name, spec or "", None))
        self.names = tuple(dict.fromkeys(p[1] for p in self.parts if p[1] is not None))
        self.facts = frozenset(self.names)

    def format(self, facts: Mapping[str, Any]) -> str:
        return self.from_values(tuple([facts[name] for name in self.names]))

    def from_values(self, values: tuple[Any, ...]) -> str:
        given = dict(zip(self.names, values, strict=True))
        out = []
        for literal, name, spec, value in self.parts:
            out.append(literal)
            if name is not None:
                value = given[name]
            if value is not None and not (isinstance(value, float) and math.isnan(value) and not spec):
                out.append(_formatted(value, spec))
        return "".join(out)


def _formatted(value: Any, spec: str) -> str:
    if isinstance(value, float) and value.is_integer() and not spec:
        return str(int(value))  # a whole constant reads as written ("30", not "30.0")
    return format(value, spec)
