"""``python -m groundstation.fuzzing``: the fuzzers' command line until ``paleblue fuzz`` wires them.

python -m groundstation.fuzzing decoders [--target NAME ...] [--seconds 60] [--out out/fuzz]
python -m groundstation.fuzzing stream [--source REC] [--to tcp://127.0.0.1:5599 | --local]
python -m groundstation.fuzzing reproduce out/fuzz/findings/<target>/<sha1>.bin
python -m groundstation.fuzzing list
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def build_parser(prog: str = "python -m groundstation.fuzzing") -> argparse.ArgumentParser:
    """The ``fuzz`` command line; ``paleblue fuzz`` can reuse it with ``prog="paleblue fuzz"``."""
    parser = argparse.ArgumentParser(prog=prog, description="Fuzz-test the decoders and the ground station.")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decoders", help="coverage-guided fuzzing of the decoder targets")
    dec.add_argument("--target", action="append", dest="targets", help="a target name (repeat); default all")
    dec.add_argument("--seconds", type=float, default=60.0, help="time per target")
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
    stream.add_argument("--seconds", type=float, default=30.0)
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


def main(argv: list[str] | None = None, prog: str = "python -m groundstation.fuzzing") -> int:
    """Run one fuzz command; returns the exit status (1 when something was found)."""
    args = build_parser(prog).parse_args(argv)
    if args.command == "list":
        from groundstation.fuzzing.targets import available_targets

        ok, missing = available_targets()
        for name, target in ok.items():
            print(f"{name:<20} {target.description}")
        for name, why in missing.items():
            print(f"{name:<20} UNAVAILABLE: {why}")
        return 0
    if args.command == "reproduce":
        from groundstation.fuzzing.engine import reproduce

        reproduce(args.path)
        return 0
    if args.command == "decoders":
        from groundstation.fuzzing.engine import fuzz_decoders

        report = fuzz_decoders(
            args.targets, args.seconds, args.out, args.seed, engine=args.engine, time_limit=args.time_limit
        )
        print(report.render())
        (args.out / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        return 1 if report.findings else 0
    from groundstation.fuzzing.stream_fuzz import fuzz_stream, fuzz_stream_local

    if args.local or args.to is None:
        result = fuzz_stream_local(
            args.out,
            args.seconds,
            args.seed,
            args.mutation_rate,
            args.source,
            oversized_rate=args.oversized_rate,
        )
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        result = fuzz_stream(
            args.source,
            args.to,
            args.seconds,
            args.seed,
            args.mutation_rate,
            log_path=args.out / "mutations.jsonl",
            oversized_rate=args.oversized_rate,
        )
        (args.out / "stream_fuzz.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    print(json.dumps(result.as_dict(), indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
