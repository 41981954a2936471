"""Bounded memos: a dict emptied once it is full, for values worked out again at little cost."""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

K = TypeVar("K")
V = TypeVar("V")


def remember(table: dict[K, V], key: K, value: V, size: int) -> V:
    """``value`` kept under ``key`` in ``table``, which is emptied first when it holds ``size`` entries."""
    if len(table) >= size:
        table.clear()
    table[key] = value
    return value
