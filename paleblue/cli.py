"""The ``paleblue`` command line: one entry point, a sub-command per job (``paleblue/commands``).

This module only builds the parser from the command modules and maps their errors to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from paleblue import __version__
from paleblue.commands.common import CliError, is_zmq_error

# in the order `paleblue --help` lists them; each a module of paleblue/commands, imported only when
# its parser is built (a command's start-up pays for its own imports alone)
COMMANDS = (
    "scenarios", "render", "probe", "ground", "cmd", "keys", "record", "replay", "fuzz", "decode", "run",
    "merge", "archive", "serve", "watch", "mdb",
)  # fmt: skip


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"paleblue.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or (``only``) just that command's: ``paleblue decode ...`` needs no
    other command's options."""
    parser = argparse.ArgumentParser(
        prog="paleblue",
        description="A deep-space probe photographs the Earth and Moon; a ground station receives them.",
    )
    parser.add_argument("--version", action="version", version=f"paleblue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        command_module(name).add_parser(sub)
    return parser


def one_blas_thread(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """OpenBLAS single-threaded unless the user says otherwise, set before numpy loads (and so for
    every process a command starts): paleblue's matrix products are tiny, and the thread pool
    OpenBLAS starts at import spins on every core: 0.1 s of CPU a process (the ground and each of
    its product processes), 10-15 ms of a `paleblue decode`'s wall time."""
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    one_blas_thread()
    if argv[:1] == ["fuzz"]:  # the fuzzers own their command line, --help included
        return command_module("fuzz").main(argparse.Namespace(fuzz_arguments=argv[1:]))
    args = build_parser(argv[0] if argv[:1] and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"paleblue: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an endpoint taken or malformed, a file not writable
        if not (isinstance(exc, OSError) or is_zmq_error(exc)):
            raise
        print(f"paleblue: {args.command}: {exc}", file=sys.stderr)
        return 2
