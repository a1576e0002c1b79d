"""``paleblue archive ls|params|query|events|alarms|commands|images|export ARCHIVE ...``.

Times on the command line are ISO 8601 UTC (``2020-07-27T12:00:00Z``) or TAI seconds since
1958 (the packets' epoch) as a plain number; times printed are UTC.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

from paleblue.commands.common import CliError
from paleblue.commands.options import positive_int


class ArchiveUsageError(CliError):
    """A bad archive argument: one line, exit status 2."""


def parse_time(text: str) -> float:
    """ISO 8601 UTC or TAI seconds since 1958 -> TAI seconds since 1958."""
    from protocols.packets.time_code import utc_to_tai_seconds

    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a time")
        return value
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time or TAI seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return utc_to_tai_seconds(when.astimezone(UTC))


def _iso(tai: float | None) -> str:
    from protocols.packets.time_code import tai_seconds_to_utc

    if tai is None:
        return "-"
    try:
        return tai_seconds_to_utc(tai).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, ValueError):
        return f"TAI {tai:.3f}"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``archive`` and its sub-commands on the main parser."""
    top = sub.add_parser("archive", help="query and export a telemetry archive (written by --archive)")
    commands = top.add_subparsers(dest="archive_command", required=True, metavar="SUBCOMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text)
        p.add_argument("archive", metavar="ARCHIVE", help="the archive file")
        return p

    def time_range(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from", dest="start", type=parse_time, default=-math.inf, metavar="TIME")
        p.add_argument("--to", dest="end", type=parse_time, default=math.inf, metavar="TIME")

    command("ls", "what the archive holds: time range, counts")
    p = command("params", "parameters with unit, kind, sample count and time range")
    p.add_argument("pattern", nargs="?", default="*", metavar="GLOB")
    p = command("query", "samples of parameters (names or globs) over a time range")
    p.add_argument("names", nargs="+", metavar="NAME")
    time_range(p)
    p.add_argument("--raw", action="store_true", help="raw values instead of engineering values")
    p.add_argument(
        "--buckets",
        type=positive_int,
        default=None,
        metavar="N",
        help="downsample to N time buckets: min, max, mean per bucket",
    )
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    records = {
        "events": "events",
        "alarms": "limit alarms",
        "commands": "command verification stages",
        "images": "image deliveries",
    }
    for name, help_text in records.items():
        p = command(name, help_text)
        time_range(p)
        p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p = command("export", "one aligned table (time + a column per parameter) as CSV or Parquet")
    p.add_argument("names", nargs="*", default=["*"], metavar="NAME", help="names or globs (default all)")
    time_range(p)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--raw", action="store_true", help="raw values instead of engineering values")
    top.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from groundstation.archive import Archive, ArchiveError

    try:
        with Archive(args.archive) as archive:
            return _run(archive, args)
    except ArchiveError as exc:
        raise ArchiveUsageError(str(exc)) from None


def _run(archive, args: argparse.Namespace) -> int:
    what = args.archive_command
    if what in ("query", "export", "events", "alarms", "commands", "images") and args.end < args.start:
        raise ArchiveUsageError("--to is before --from")
    if what == "ls":
        span = archive.time_range()
        print(f"archive {archive.path}")
        print(f"  time     {_iso(span[0]) if span else '-'} .. {_iso(span[1]) if span else '-'}")
        params = archive.parameters()
        print(f"  {len(params)} parameters, {sum(p.samples for p in params):,} samples")
        for kind in ("events", "alarms", "commands", "images"):
            print(f"  {len(getattr(archive, kind)()):,} {kind}")
        return 0
    if what == "params":
        print(f"{'name':<28} {'unit':<8} {'kind':<8} {'samples':>9}  first .. last (UTC)")
        for p in archive.parameters(args.pattern):
            print(f"{p.name:<28} {p.unit:<8} {p.kind:<8} {p.samples:>9}  {_iso(p.first)} .. {_iso(p.last)}")
        return 0
    if what == "query":
        for name in archive.names(args.names):
            _print_query(archive, name, args)
        return 0
    if what == "export":
        from groundstation.archive.export import export

        names = archive.names(args.names)
        rows = export(archive, names, args.output, args.format, args.start, args.end, raw=args.raw)
        print(f"{rows:,} rows x {len(names)} parameters -> {args.output}", file=sys.stderr)
        return 0
    records = getattr(archive, what)(args.start, args.end)
    for record in records:
        if args.json:
            print(json.dumps(record, default=str))
        else:
            print(_record_line(what, record))
    return 0


def _print_query(archive, name: str, args: argparse.Namespace) -> None:
    if args.buckets:
        start, end = args.start, args.end
        if not (math.isfinite(start) and math.isfinite(end)):
            info = archive.parameters(name)[0]
            start = info.first if not math.isfinite(start) else start
            end = info.last if not math.isfinite(end) else end
            if start is None:
                return
            if end <= start:
                end = start + 1.0
        b = archive.downsample(name, start, end, args.buckets, raw=args.raw)
        for k in range(len(b.start)):
            row = {
                "name": name,
                "time": _iso(float(b.start[k])),
                "count": int(b.count[k]),
                "min": float(b.minimum[k]),
                "max": float(b.maximum[k]),
                "mean": float(b.mean[k]),
            }
            if args.json:
                print(json.dumps(row))
            else:
                print(
                    f"{name:<24} {row['time']}  n={row['count']:<6} min={row['min']:<12.6g} "
                    f"max={row['max']:<12.6g} mean={row['mean']:.6g}"
                )
        return
    samples = archive.query(name, args.start, args.end, raw=args.raw)
    for gen, value, rcv in zip(
        samples.gen.tolist(), samples.value.tolist(), samples.rcv.tolist(), strict=True
    ):
        if args.json:
            row = {"name": name, "time": _iso(gen), "tai": gen, "value": _plain(value), "received": _iso(rcv)}
            print(json.dumps(row))
        else:
            print(f"{name:<24} {_iso(gen)}  {value}")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _record_line(kind: str, r: dict) -> str:
    when = _iso(r["gen"])
    if kind == "events":
        args = " ".join(f"{k}={v}" for k, v in r["arguments"].items())
        return f"{when}  {r['severity']:<8} {r['name']} {args}".rstrip()
    if kind == "alarms":
        return f"{when}  {r['parameter']} {r['previous']} -> {r['current']} (value {r['value']})"
    if kind == "commands":
        outcome = "ok" if r["success"] else "FAILED"
        return f"{when}  {r['request']} {r['stage']} {outcome} {json.dumps(r['detail'])}"
    return f"{when}  {r['name']} {'complete' if r['complete'] else 'PARTIAL'}"
