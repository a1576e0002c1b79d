"""The top-level parser is only the list of command modules; each registers itself."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import paleblue.commands
from paleblue import cli

SHARED = {"common", "options", "processes", "progress", "run_stations"}  # helpers; run --stations


def test_every_command_module_is_registered_once() -> None:
    modules = {m.name for m in pkgutil.iter_modules(paleblue.commands.__path__)} - SHARED
    assert sorted(cli.COMMANDS) == sorted(modules)
    choices = cli.build_parser()._subparsers._group_actions[0].choices
    assert set(choices) == modules
    for name in cli.COMMANDS:  # a command's own parser, alone, is the one the whole parser holds
        alone = cli.build_parser(name)._subparsers._group_actions[0].choices
        assert list(alone) == [name]
        assert alone[name].format_help() == choices[name].format_help()


def test_the_entry_point_stays_thin() -> None:
    assert len(Path(cli.__file__).read_text().splitlines()) <= 80


def test_a_usage_error_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.pbrec"
    assert cli.main(["replay", str(missing), "--to", "tcp://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err == f"paleblue: replay: {missing}: no such file\n"
