"""A subset of JSON Schema 2020-12, checked in pure Python: the keywords ``knowledge/schema.json`` uses.

:func:`validate` returns (key path, what is wrong) for every place a value breaks a schema; numbers must also be
finite (JSON has no NaN, TOML has). A schema using a keyword outside the subset is refused, so no part of a schema
is ever silently left unchecked. jsonschema is a test dependency only; the loader needs none.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import KnowledgeError

__all__ = ["KEYWORDS", "validate"]

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment"})


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    raise KnowledgeError(f"schema.json: unknown type {kind!r}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
             key: str = "") -> list[tuple[str, str]]:
    """(key, what is wrong) for each place where ``value`` breaks ``schema``; [] when it conforms."""
    root = schema if root is None else root
    errors: list[tuple[str, str]] = []
    kind = _KIND.get(type(value))
    for word, arg in schema.items():
        check = KEYWORDS.get(word)
        if check is None:
            if word in _ANNOTATIONS:
                continue
            raise KnowledgeError(f"schema.json uses {word!r}, which the loader does not check")
        applies = _APPLIES.get(word)
        if applies is not None and applies != kind:  # keywords of one kind of value apply to that kind only
            continue
        errors.extend(check(value, arg, schema, root, key))
        if errors and word in ("type", "$ref"):
            break
    return errors


_KIND = {dict: "object", list: "array", str: "string", int: "number", float: "number"}
_APPLIES = {**dict.fromkeys(("properties", "required", "additionalProperties", "minProperties"), "object"),
            **dict.fromkeys(("items", "minItems", "maxItems", "uniqueItems"), "array"),
            **dict.fromkeys(("pattern", "minLength", "maxLength"), "string"),
            **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), "number")}


Check = Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any], str], list[tuple[str, str]]]


def _ref(value: Any, ref: str, schema: Mapping[str, Any], root: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    found = _REFS.get((id(root), ref))
    if found is None or found[0] is not root:
        if not ref.startswith("#/"):
            raise KnowledgeError(f"schema.json: only local references, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        found = _REFS[id(root), ref] = (root, target)
    return validate(value, found[1], root, key)


_REFS: dict[tuple[int, str], tuple[Any, Any]] = {}  # (root, reference) -> (root, the schema it names)


def _type(value: Any, kind: str, schema: Mapping[str, Any], root: Mapping[str, Any],
          key: str) -> list[tuple[str, str]]:
    if _is_type(value, kind):
        if isinstance(value, float) and not math.isfinite(value):
            return [(key, f"{value} is not a finite number")]
        return []
    return [(key, f"{_shown(value)} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}")]


def _properties(value: dict[str, Any], props: Mapping[str, Any], schema: Mapping[str, Any],
                root: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    errors = []
    for name, sub in props.items():
        if name in value:
            errors.extend(validate(value[name], sub, root, _join(key, name)))
    return errors


def _additional(value: dict[str, Any], extra: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
                key: str) -> list[tuple[str, str]]:
    known = schema.get("properties", {})
    errors = []
    for name, item in value.items():
        if name in known:
            continue
        if extra is False:
            errors.append((_join(key, name), "is not a known key here (misspelt?)"))
        elif isinstance(extra, dict):
            errors.extend(validate(item, extra, root, _join(key, name)))
    return errors


def _join(key: str, name: Any) -> str:
    return f"{key}.{name}" if key else str(name)


def _one_of(value: Any, options: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any],
            key: str) -> list[tuple[str, str]]:
    results = [validate(value, option, root, key) for option in options]
    passed = sum(not r for r in results)
    if passed == 1:
        return []
    if passed == 0:
        best = min(results, key=len)
        return best if len(best) == 1 else [(key, f"{_shown(value)} matches none of its allowed forms")]
    return [(key, f"{_shown(value)} matches more than one of its allowed forms")]


def _any_of(value: Any, options: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any],
            key: str) -> list[tuple[str, str]]:
    if any(not validate(value, option, root, key) for option in options):
        return []
    return [(key, "matches none of its allowed forms (e.g. hours or advice missing)")]


def _items(value: list[Any], sub: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
           key: str) -> list[tuple[str, str]]:
    errors = []
    after = len(schema.get("prefixItems", ()))  # the items beyond those prefixItems describes
    for k, item in enumerate(value[after:], start=after):
        errors.extend(validate(item, sub, root, f"{key}[{k}]"))
    return errors


def _prefix_items(value: list[Any], subs: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any],
                  key: str) -> list[tuple[str, str]]:
    errors = []
    for k, (item, sub) in enumerate(zip(value, subs, strict=False)):
        errors.extend(validate(item, sub, root, f"{key}[{k}]"))
    return errors


def _property_names(value: dict[str, Any], sub: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
                    key: str) -> list[tuple[str, str]]:
    errors = []
    for name in value:
        errors.extend(validate(name, sub, root, _join(key, name)))
    return errors


def _number_bound(word: str) -> Check:
    def check(value: Any, bound: float, schema: Mapping[str, Any], root: Mapping[str, Any],
              key: str) -> list[tuple[str, str]]:
        ok = {"minimum": value >= bound, "maximum": value <= bound, "exclusiveMinimum": value > bound,
              "exclusiveMaximum": value < bound}[word]
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[word]
        what = f"{schema['title']} " if "title" in schema else ""
        return [] if ok else [(key, f"{what}{_shown(value)} must be {sign} {bound:g}")]
    return check


def _enum(value: Any, options: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any],
          key: str) -> list[tuple[str, str]]:
    if any(value == o and type(value) is type(o) for o in options):
        return []
    return [(key, f"unknown {schema.get('title', 'value')} {_shown(value)} (one of {', '.join(map(str, options))})")]


def _simple(test: Callable[[Any, Any], bool], why: Callable[[Any, Any], str]) -> Check:
    def check(value: Any, arg: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
              key: str) -> list[tuple[str, str]]:
        return [] if test(value, arg) else [(key, why(value, arg))]
    return check


def _unique(value: list[Any], flag: bool) -> bool:
    if not flag:
        return True
    seen = [json.dumps(v, sort_keys=True, default=str) for v in value]
    return len(seen) == len(set(seen))


KEYWORDS: dict[str, Check] = {
    "$ref": _ref,
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _simple(lambda v, names: all(n in v for n in names),
                        lambda v, names: f"misses {', '.join(n for n in names if n not in v)}"),
    "minProperties": _simple(lambda v, n: len(v) >= n, lambda v, n: f"needs at least {n} keys"),
    "items": _items,
    "prefixItems": _prefix_items,
    "propertyNames": _property_names,
    "minItems": _simple(lambda v, n: len(v) >= n, lambda v, n: f"needs at least {n} items"),
    "maxItems": _simple(lambda v, n: len(v) <= n, lambda v, n: f"holds {len(v)} items (at most {n})"),
    "uniqueItems": _simple(_unique, lambda v, f: "repeats an item"),
    "enum": _enum,
    "const": _simple(lambda v, c: v == c and type(v) is type(c), lambda v, c: f"{_shown(v)} must be {c!r}"),
    "pattern": lambda value, pattern, schema, root, key: [] if re.search(pattern, value) is not None else [
        (key, f"{_shown(value)} is not {schema['title']}" if "title" in schema else
         f"{_shown(value)} does not match {pattern}")],
    "minLength": _simple(lambda v, n: len(v) >= n, lambda v, n: f"a text of at least {n} characters"),
    "maxLength": _simple(lambda v, n: len(v) <= n, lambda v, n: f"a text of {len(v):,} characters (at most {n})"),
    "minimum": _number_bound("minimum"),
    "maximum": _number_bound("maximum"),
    "exclusiveMinimum": _number_bound("exclusiveMinimum"),
    "exclusiveMaximum": _number_bound("exclusiveMaximum"),
    "oneOf": _one_of,
    "anyOf": _any_of,
}
