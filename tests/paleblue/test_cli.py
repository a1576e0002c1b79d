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


def test_one_blas_thread_unless_the_user_sets_it() -> None:
    environ: dict[str, str] = {}
    cli.one_blas_thread(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "1"}
    environ = {"OPENBLAS_NUM_THREADS": "4"}
    cli.one_blas_thread(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "4"}


def test_a_command_process_loads_numpy_with_one_blas_thread() -> None:
    """The whole command line, as a user starts it: numpy's BLAS pool has one thread."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys; sys.argv = ['paleblue', 'scenarios']; "
        "from paleblue.cli import main; main(); "
        "from threadpoolctl import threadpool_info; "
        "print([p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[1]"
