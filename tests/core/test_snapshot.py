"""Both executions of the rules reproduce the frozen snapshot of every output column (see ``snapshot.py``)."""

from __future__ import annotations

import pytest

from . import snapshot

STORED = snapshot.load()
FRAMES = list(snapshot.frames())


def _first_differences(name: str, got: list[list[object]], want: list[list[object]]) -> list[str]:
    import mgdecision as mg

    lines = []
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for column, a, b in zip(mg.COLUMNS, g, w, strict=True):
            if a != b:
                lines.append(f"{name} row {i} {column}:\n  now:  {a!r}\n  then: {b!r}")
        if len(lines) >= 5:
            break
    return lines


def test_every_input_table_is_in_the_snapshot():
    assert [name for name, _ in FRAMES] == list(STORED)
    assert sum(len(df) for _, df in FRAMES) >= 20_000 + 600


@pytest.mark.parametrize("execution", ["row", "frame"])
@pytest.mark.parametrize(("name", "df"), FRAMES, ids=[name for name, _ in FRAMES])
def test_outputs_equal_the_snapshot(execution, name, df):
    got = snapshot.row_outputs(df) if execution == "row" else snapshot.frame_outputs(df)
    want = STORED[name]
    assert len(got) == len(want)
    diff = _first_differences(name, got, want)
    assert not diff, "outputs differ from the snapshot (python3 dev.py snapshot refreshes it if meant):\n" + "\n".join(
        diff
    )
