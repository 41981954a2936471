"""Objects no runtime should hand over, but a caller can: their text raises, or is huge."""

from __future__ import annotations


class NoText:
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


class HugeText:
    def __init__(self, size: int = 2_000_000) -> None:
        self.size = size

    def __str__(self) -> str:
        return "z" * self.size
