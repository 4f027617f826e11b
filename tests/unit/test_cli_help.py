"""`rooms --help` describes every command and option; `rooms --version` answers."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from rooms_local import cli


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_and_option_has_a_description():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    undescribed = [f"rooms {a.dest}" for a in sub._choices_actions if not a.help]
    for name, command in _commands(parser).items():
        undescribed += [f"rooms {name} {'/'.join(a.option_strings) or a.dest}" for a in command._actions
                        if not a.help and not isinstance(a, argparse._HelpAction)]
    assert undescribed == []
    assert {"up", "token", "invoke", "join", "leave", "dial-in", "state", "openapi"} <= set(_commands(parser))


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"rooms {version('livekit-rooms')}"
