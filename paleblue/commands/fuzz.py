"""``paleblue fuzz``: the fuzzers' own command line (decoders, stream, reproduce, list)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fuzz",
        help="fuzz the decoders (decoders), or a running ground station over ZeroMQ (stream)",
        add_help=False,
    )
    p.add_argument("fuzz_arguments", nargs=argparse.REMAINDER, metavar="decoders|stream|reproduce|list ...")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """``paleblue fuzz ...``: the fuzzers' own command line (fuzzing/)."""
    from fuzzing.__main__ import main as fuzz_main

    return fuzz_main(args.fuzz_arguments, prog="paleblue fuzz")
