"""``paleblue merge``: every station's frames from the bus, the best copy of each, one pass."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paleblue.commands.common import (
    CliError,
    ground_services,
    mission_db,
    resolve_channel,
    setup_logging,
    stop_on_signals,
)
from paleblue.commands.options import (
    archive_api_options,
    channel_options,
    mdb_option,
    positive_float,
    positive_int,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="merge several ground stations' frames from a NATS JetStream bus")
    p.add_argument(
        "--bus", required=True, metavar="URL", help="nats://HOST:PORT (several comma-separated for a cluster)"
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument(
        "--window",
        type=positive_int,
        default=1024,
        metavar="FRAMES",
        help="reordering window: a frame count is held until this many newer ones came (default 1024, "
        "about 0.5 s of a 20 Mbit/s link: how far stations may lag each other); a copy later than "
        "that is counted, not used",
    )
    p.add_argument(
        "--stations",
        default=None,
        metavar="ID,ID,...",
        help="take frames from these stations only (others are counted); default: any",
    )
    p.add_argument(
        "--expect-images", type=positive_int, default=None, metavar="N", help="exit after N images"
    )
    p.add_argument(
        "--timeout", type=positive_float, default=None, metavar="S", help="give up after S seconds"
    )
    p.add_argument(
        "--idle-exit",
        type=positive_float,
        default=None,
        metavar="S",
        help="end the pass once no frame came for S seconds (after the first)",
    )
    channel_options(p)
    mdb_option(p)
    archive_api_options(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from groundstation.merge.bus_merge import merge_table, run_merger
    from protocols.bus.frame_report import valid_station_id
    from transport.nats_bus import BusError, FrameConsumer

    setup_logging("merge", args.verbose)
    stations = None
    if args.stations is not None:
        stations = [s for s in args.stations.split(",") if s]
        bad = [s for s in stations if not valid_station_id(s)]
        if bad or not stations:
            raise CliError(f"merge: --stations {args.stations!r}: ids are 1-32 of A-Z a-z 0-9 _ -")
    channel = resolve_channel(args)
    attach = ground_services(args)  # --archive, --api: checked before the bus is reached
    stop = stop_on_signals()
    try:
        consumer = FrameConsumer(args.bus)
    except BusError as exc:
        raise CliError(f"merge: {exc}") from None
    try:
        summary, figures = run_merger(
            consumer.fetch,
            Path(args.output),
            stop,
            channel=channel,
            window=args.window,
            stations=stations,
            expect_images=args.expect_images,
            timeout_s=args.timeout,
            idle_exit_s=args.idle_exit,
            mdb=mission_db(args),
            attach=attach,
        )
    finally:
        consumer.close()
    print(merge_table(figures), end="")
    images = summary["images"]
    complete = sum(i["complete"] for i in images)
    print(f"merged pass: {len(images)} image(s), {complete} complete, in {args.output}")
    sys.stdout.flush()
    if args.expect_images is not None and len(images) < args.expect_images:
        return 1
    return 0
