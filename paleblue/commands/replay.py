"""``paleblue replay``: publish a recording as if it were live."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import CliError, setup_logging, stop_on_signals


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="publish a recording as if it were live")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to", required=True, metavar="ENDPOINT", help="endpoint to bind, as a probe would")
    p.add_argument("--speed", default="1", metavar="N|max", help="replay speed factor, or 'max'")
    p.add_argument(
        "--from",
        dest="from_time",
        default=None,
        metavar="TIME",
        help="start at +SECONDS from the start, an ISO 8601 UTC time, or nanoseconds",
    )
    p.add_argument("--loop", action="store_true", help="start again at the end, until stopped")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Publish a recording as if it were live."""
    from groundstation.recording_reader import RecordingReader
    from groundstation.replay import parse_start_time, replay
    from protocols.errors import DecodeError

    setup_logging("replay", args.verbose)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"replay: {path}: no such file")
    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and not speed > 0:
        raise CliError(f"replay: --speed must be a positive number or 'max', not {args.speed}")
    stop = stop_on_signals()
    try:
        start = None
        if args.from_time:
            with RecordingReader(path) as reader:
                start = parse_start_time(args.from_time, reader.header)
        stats = replay(path, args.to, speed=speed, start_time_ns=start, loop=args.loop, stop=stop)
    except DecodeError as exc:
        raise CliError(f"replay: {path}: {exc}") from None
    except ValueError as exc:
        raise CliError(f"replay: {exc}") from None
    for skipped in stats.skipped:
        print(
            f"replay: skipped {skipped.length} octets at {skipped.offset}: {skipped.reason}", file=sys.stderr
        )
    print(f"replay: sent {stats.sent} messages ({stats.payload_bytes} octets) in {stats.passes} pass(es)")
    return 0
