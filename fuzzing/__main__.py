"""``python -m fuzzing``: the fuzzers' command line until ``paleblue fuzz`` wires them.

python -m fuzzing decoders [--target NAME ...] [--seconds 60] [--out out/fuzz]
python -m fuzzing stream [--source REC] [--to tcp://127.0.0.1:5599 | --local]
python -m fuzzing reproduce out/fuzz/findings/<target>/<sha1>.bin
python -m fuzzing list
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def build_parser(prog: str = "python -m fuzzing") -> argparse.ArgumentParser:
    """The ``fuzz`` command line; ``paleblue fuzz`` can reuse it with ``prog="paleblue fuzz"``."""
    parser = argparse.ArgumentParser(prog=prog, description="Fuzz-test the decoders and the ground station.")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decoders", help="coverage-guided fuzzing of the decoder targets")
    dec.add_argument("--target", action="append", dest="targets", help="a target name (repeat); default all")
    budget = dec.add_mutually_exclusive_group()
    budget.add_argument(
        "--seconds", type=_seconds, default=None, help="the whole campaign's time, shared by the targets (60)"
    )
    budget.add_argument("--seconds-per-target", type=_seconds, default=None, help="time for each target")
    dec.add_argument("--out", type=Path, default=Path("out/fuzz"))
    dec.add_argument("--seed", type=int, default=None)
    dec.add_argument("--engine", choices=("auto", "builtin", "atheris"), default="auto")
    dec.add_argument("--time-limit", type=float, default=2.0, help="per-input hang limit in seconds")
    stream = sub.add_parser("stream", help="mutate a downlink and replay it into a ground station")
    stream.add_argument("--source", type=Path, default=None, help="a recording (default: generated stream)")
    stream.add_argument("--to", default=None, help="endpoint to bind an XPUB on for any station's SUB")
    stream.add_argument(
        "--local", action="store_true", help="start our station in a child process and check it"
    )
    stream.add_argument("--seconds", type=_seconds, default=30.0)
    stream.add_argument(
        "--summary",
        type=Path,
        default=None,
        help="with --to: the station's summary.json, checked against what was sent once written",
    )
    stream.add_argument(
        "--summary-wait", type=_seconds, default=60.0, help="how long to wait for --summary to be written"
    )
    stream.add_argument("--seed", type=int, default=0)
    stream.add_argument("--mutation-rate", type=float, default=0.2)
    stream.add_argument(
        "--oversized-rate",
        type=float,
        default=0.0,
        help="probability that a message is replaced by a 10 MB one, which the station must refuse",
    )
    stream.add_argument("--out", type=Path, default=Path("out/fuzz-stream"))
    rep = sub.add_parser("reproduce", help="re-run one finding")
    rep.add_argument("path", type=Path)
    sub.add_parser("list", help="targets and whether they load")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m fuzzing") -> int:
    """Run one fuzz command; returns the exit status (1 when something was found)."""
    args = build_parser(prog).parse_args(argv)
    if args.command == "list":
        from fuzzing.targets import available_targets

        ok, missing = available_targets()
        for name, target in ok.items():
            print(f"{name:<20} {target.description}")
        for name, why in missing.items():
            print(f"{name:<20} UNAVAILABLE: {why}")
        return 0
    if args.command == "reproduce":
        from fuzzing.campaign import reproduce

        reproduce(args.path)
        return 0
    if args.command == "decoders":
        return _decoders(args)
    return _stream(args, prog)


def _stream(args: argparse.Namespace, prog: str) -> int:
    """A stream campaign whose report is written however it ends: SIGINT or SIGTERM stops it
    between two messages, every message sent is counted, one line says so, exit 130 or 143."""
    from fuzzing.stream_fuzz import check_summary_file, fuzz_stream, fuzz_stream_local

    stop, signals = _stop_on_signals()
    if args.local or args.to is None:
        result = fuzz_stream_local(
            args.out,
            args.seconds,
            args.seed,
            args.mutation_rate,
            args.source,
            oversized_rate=args.oversized_rate,
            stop=stop,
        )
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        started = time.time()
        result = fuzz_stream(
            args.source,
            args.to,
            args.seconds,
            args.seed,
            args.mutation_rate,
            log_path=args.out / "mutations.jsonl",
            oversized_rate=args.oversized_rate,
            stop=stop,
        )
        if args.summary is not None and not result.interrupted:
            check_summary_file(
                result, args.summary, written_after=started, wait_s=args.summary_wait, stop=stop
            )
        (args.out / "stream_fuzz.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    print(json.dumps(result.as_dict(), indent=2))
    if result.interrupted or signals:
        signum = signals[0] if signals else signal.SIGINT
        verdict = result.verdict().replace(", interrupted", "", 1)
        print(
            f"{prog} stream: interrupted by {signal.Signals(signum).name}; {verdict}; "
            f"the report is in {args.out / 'stream_fuzz.json'}",
            file=sys.stderr,
        )
        return 128 + signum
    print(result.verdict(), file=sys.stderr)
    return 1 if result.ok is False else 0


def _interrupt_on_sigterm() -> list[int]:
    """SIGTERM stops a campaign like Ctrl-C; the returned list is non-empty once it came."""
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    return received


def _stop_on_signals() -> tuple[threading.Event, list[int]]:
    """SIGINT and SIGTERM stop a stream campaign between two messages (so every message sent is
    counted); the list holds the first signal once one came, later ones change nothing."""
    stop, received = threading.Event(), []

    def handler(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop, received


def _decoders(args: argparse.Namespace) -> int:
    """A campaign whose report is written however it ends (Ctrl-C and SIGTERM included)."""
    from fuzzing.campaign import fuzz_decoders

    terminated = _interrupt_on_sigterm()
    per_target = args.seconds_per_target is not None
    seconds = args.seconds_per_target if per_target else (60.0 if args.seconds is None else args.seconds)
    report = fuzz_decoders(
        args.targets,
        seconds,
        args.out,
        args.seed,
        engine=args.engine,
        time_limit=args.time_limit,
        total=not per_target,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(report.render())
    (args.out / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    if report.interrupted:
        print(f"interrupted: the report of what ran is in {args.out / 'report.json'}", file=sys.stderr)
        return 143 if terminated else 130
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
