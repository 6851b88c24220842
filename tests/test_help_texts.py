"""--help answers a newcomer: every option says what it is and shows its default, and the README's command table
lists every subcommand."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from agent import cli as agent_cli
from collector import cli as collector_cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """Options without help, and options with a value but no default shown."""
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        name = a.option_strings[-1] if a.option_strings else a.dest
        if not a.help:
            out.append(f"{name}: no help")
        elif a.option_strings and not a.required and a.nargs != 0 and "default" not in a.help:
            out.append(f"{name}: no default shown")
    return out


@pytest.mark.parametrize("command", ["run", "check", "validate"])
def test_agent_options_have_help_and_defaults(command: str) -> None:
    assert _undocumented(_subparsers(agent_cli._parser())[command]) == []


@pytest.mark.parametrize("command", ["enroll", "enroll-bulk", "run", "validate"])
def test_collector_options_have_help_and_defaults(command: str) -> None:
    assert _undocumented(_subparsers(collector_cli._parser())[command]) == []


def test_readme_table_lists_every_subcommand() -> None:
    text = README.read_text(encoding="utf-8")
    listed = {(m.group(1), m.group(2)) for m in re.finditer(r"^\| `(commune-agent|commune-collector) ([a-z-]+)", text, re.M)}
    for prog, parser in (("commune-agent", agent_cli._parser()), ("commune-collector", collector_cli._parser())):
        missing = [c for c in _subparsers(parser) if (prog, c) not in listed]
        assert missing == [], f"{prog}: {missing} not in the README's commands table"
