"""``paleblue fuzz``: the fuzzers' own command line (decoders, stream, reproduce, list).

On a terminal a campaign (``decoders``, ``stream``) shows a progress bar of its time budget; the
campaign's own lines (one per target) print above it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys

from paleblue.commands.progress import Progress

PROG = "paleblue fuzz"
_EXECUTIONS = re.compile(r"(\d+) executions")


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

    bar = _campaign_bar(args.fuzz_arguments)
    if bar is None:
        return fuzz_main(args.fuzz_arguments, prog=PROG)
    ticking = bar.tick_every(0.2, lambda: (bar.elapsed(), bar.total, bar.note))
    with bar, bar.lines_above(), _count_executions(bar):
        try:
            return fuzz_main(args.fuzz_arguments, prog=PROG)
        finally:
            ticking.set()


def _campaign_bar(argv: list[str]) -> Progress | None:
    """A bar over the campaign's time budget, or None (not a terminal, not a campaign, bad usage:
    the fuzzers' own parser then says what is wrong)."""
    from fuzzing.__main__ import build_parser

    bar = Progress("fuzz", unit="s")
    if not bar.enabled:
        return None
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            parsed = build_parser(PROG).parse_args(argv)
    except SystemExit:
        return None
    if parsed.command == "stream":
        bar.label, bar.total, bar.rate_text = "fuzz stream", parsed.seconds, ""
        return bar
    if parsed.command != "decoders":
        return None
    bar.label = "fuzz decoders"
    if parsed.seconds_per_target is None:
        bar.total = 60.0 if parsed.seconds is None else parsed.seconds
    elif parsed.targets:
        bar.total = parsed.seconds_per_target * len(parsed.targets)
    bar.rate_text = ""
    return bar


@contextlib.contextmanager
def _count_executions(bar: Progress):
    """The campaign's per-target lines ("[2/9] frame: 1234 executions in 6.1 s ...") give the
    executions so far: the bar shows their rate."""
    stream = sys.stderr
    executions = [0]
    original = stream.write

    def write(text: str) -> int:
        for match in _EXECUTIONS.finditer(text):
            executions[0] += int(match.group(1))
            bar.rate_text = f"{executions[0] / max(bar.elapsed(), 1e-3):,.0f} exec/s"
            bar.note = f"{executions[0]:,} executions"
        return original(text)

    stream.write = write  # type: ignore[method-assign]
    try:
        yield
    finally:
        stream.write = original  # type: ignore[method-assign]
