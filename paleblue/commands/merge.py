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
    uplink = p.add_mutually_exclusive_group()
    uplink.add_argument(
        "--uplink-via",
        default=None,
        metavar="STATION|auto",
        help="send the merged pass's CFDP replies and the operator's commands up through this one "
        "station (it must run `ground --bus ... --uplink ...`), or 'auto': the station in contact "
        "(whose frames came last); default: no uplink",
    )
    uplink.add_argument(
        "--uplink-schedule",
        default=None,
        metavar="ID@S,ID@S,...",
        help="the pass schedule: from S seconds after the merge starts, the uplink goes through ID",
    )
    channel_options(p)
    mdb_option(p)
    archive_api_options(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def uplink_choice(args: argparse.Namespace):
    """The station the uplink goes through (``--uplink-via``, ``--uplink-schedule``), or None."""
    from groundstation.merge.uplink_choice import AUTO, UplinkChoice, parse_schedule
    from protocols.bus.frame_report import valid_station_id

    if args.uplink_via is not None:
        if args.uplink_via != AUTO and not valid_station_id(args.uplink_via):
            raise CliError(
                f"merge: --uplink-via {args.uplink_via!r}: a station id (1-32 of A-Z a-z 0-9 _ -) or auto"
            )
        return UplinkChoice(via=args.uplink_via)
    if args.uplink_schedule is not None:
        try:
            return UplinkChoice(schedule=parse_schedule(args.uplink_schedule))
        except ValueError as exc:
            raise CliError(f"merge: --uplink-schedule: {exc}") from None
    return None


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
    choice = uplink_choice(args)
    channel = resolve_channel(args)
    attach = ground_services(args)  # --archive, --api: checked before the bus is reached
    stop = stop_on_signals()
    relay = None
    try:
        consumer = FrameConsumer(args.bus)
    except BusError as exc:
        raise CliError(f"merge: {exc}") from None
    if choice is not None:
        from transport.nats_uplink import UplinkRelay

        try:
            relay = UplinkRelay(args.bus, choice)
        except BusError as exc:
            consumer.close()
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
            send_uplink=relay.send if relay is not None else None,
            uplink_choice=choice,
        )
    finally:
        consumer.close()
        if relay is not None:
            relay.close()
            figures_path = Path(args.output) / "merge.json"
            if figures_path.exists():  # the uplink's counts beside the merge's
                import json

                from protocols.atomic_file import write_atomically

                figures = json.loads(figures_path.read_text())
                figures["uplink"] = relay.counters.as_dict()
                write_atomically(figures_path, json.dumps(figures, indent=2) + "\n")
    print(merge_table(figures), end="")
    if relay is not None:
        up = relay.counters
        print(
            f"uplink: {up.requested} unit(s), {up.delivered} sent up "
            f"({', '.join(f'{k} {v}' for k, v in sorted(up.by_station.items())) or 'none'}), "
            f"{up.no_station} with no station, {up.failed} failed"
        )
    images = summary["images"]
    complete = sum(i["complete"] for i in images)
    print(f"merged pass: {len(images)} image(s), {complete} complete, in {args.output}")
    sys.stdout.flush()
    if args.expect_images is not None and len(images) < args.expect_images:
        return 1
    return 0
