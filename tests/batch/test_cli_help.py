"""Every command-line option says what it does, with an example, and the help ends with examples to copy."""

from __future__ import annotations

import argparse

import pytest

from mgdecision.batch.cli import build_parser


def _subparser(name: str) -> argparse.ArgumentParser:
    if name == "app":
        from mgdecision.widgets.app import _parser

        return _parser()
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[name]


@pytest.mark.parametrize("command", ["assess", "app"])
def test_every_option_has_help_and_the_help_has_examples(command: str) -> None:
    parser = _subparser(command)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and len(action.help) > 15, action.dest
    text = parser.format_help()
    assert "examples:" in text and f"mgdecision {command}" in text.split("examples:", 1)[1]
    for line in text.split("examples:", 1)[1].splitlines():
        assert "mg_" not in line  # people's words, not column names
