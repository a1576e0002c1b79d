"""``paleblue replay``: publish a recording as if it were live."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import CliError, setup_logging, stop_on_signals
from paleblue.commands.progress import Progress


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
    from groundstation.replay import ReplayStats, parse_start_time, replay
    from protocols.errors import DecodeError

    setup_logging("replay", args.verbose)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"replay: {path}: no such file")
    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and not speed > 0:
        raise CliError(f"replay: --speed must be a positive number or 'max', not {args.speed}")
    stop = stop_on_signals()
    stats = ReplayStats()
    bar = Progress(f"replay {path.name}", unit="s")  # on a terminal only
    try:
        start = end = None
        with RecordingReader(path) as reader:
            if args.from_time:
                start = parse_start_time(args.from_time, reader.header)
            if bar.enabled:
                end = _last_receive_ns(reader)
        ticking = bar.tick_every(0.2, lambda: _replay_progress(bar, stats, end, speed))
        with bar:
            stats = replay(
                path, args.to, speed=speed, start_time_ns=start, loop=args.loop, stop=stop, stats=stats
            )
            ticking.set()
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


def _last_receive_ns(reader) -> int | None:
    """The recorded time of the last unit, from the recording's index (None: no index to read)."""
    chain = reader.index()
    return chain[-1][1].max_receive_ns if chain else None


def _replay_progress(bar: Progress, stats, end_ns: int | None, speed: float | None):
    """(recorded seconds sent, recorded seconds in all, note) for the bar, and the message rate;
    before the first unit is sent (no station subscribed yet) nothing is done."""
    first, last = stats.first_receive_ns, stats.last_receive_ns
    if first is None or last is None:
        return 0.0, None, "waiting for a subscriber"
    bar.rate_text = f"{stats.sent / max(bar.elapsed(), 1e-3):,.0f} msg/s"
    total = (end_ns - first) / 1e9 if end_ns is not None and end_ns > first else None
    speed_text = "as fast as taken" if speed is None else f"speed x{speed:g}"
    passes = f", pass {stats.passes + 1}" if stats.passes else ""
    return (last - first) / 1e9, total, f"{stats.sent:,} msg, {speed_text}{passes}"
