"""The sheet XML writer's text escaping: the quick check for the usual text gives what the full escape gives."""

from __future__ import annotations

import random

from mgdecision.batch.sheet_xml import _SPECIAL, _escape_one, escape


def _full(text: str) -> str:
    return _SPECIAL.sub(_escape_one, text)


def test_escape_matches_the_full_escape_on_every_kind_of_text() -> None:
    pieces = [
        *"ab_x0F9&<>\t\n\r\x00\x01\x0b\x1f\x7f é",
        "\ud800",
        "\ufffe",
        "\uffff",
        "_x0041_",
        "_X00ff_",
        "_x12",
        "=cmd|' /C calc'!A0",
    ]
    rng = random.Random(12)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8)))
        assert escape(text) == _full(text), repr(text)
    assert escape("a & b <c> _x0041_") == "a &amp; b &lt;c&gt; _x005F_x0041_"
    assert escape("plain text, with\nlines") == "plain text, with\nlines"
