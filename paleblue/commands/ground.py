"""``paleblue ground``: receive, decode and reassemble a downlink; optionally record, archive and serve it."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from pathlib import Path

from paleblue.commands.common import (
    CURVE_HELP,
    DEFAULT_DOWNLINK,
    CliError,
    cfdp_uplink_security,
    downlink_security_context,
    ground_services,
    mission_db,
    mission_db_or_default,
    resolve_channel,
    setup_logging,
    stop_on_signals,
    use_curve,
)
from paleblue.commands.options import (
    archive_api_options,
    channel_options,
    mdb_option,
    octets,
    positive_float,
    positive_int,
    whole_number,
)

# one process a core, up to 2: beside the receive loop they keep up with a max-speed replay
DEFAULT_PRODUCT_PROCESSES = min(2, os.cpu_count() or 1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ground", help="run the ground station: receive, decode, reassemble, write products")
    archive_api_options(p)
    p.add_argument(
        "--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to connect"
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument(
        "--keys", default=None, metavar="DIR",
        help="SDLS key directory: verify (and decrypt) the downlink channels its SAs cover (refused "
        "frames are counted by reason); with --uplink, secure the CFDP replies under the SA of TC VC 1",
    )  # fmt: skip
    p.add_argument(
        "--expect-images",
        type=positive_int,
        default=None,
        metavar="N",
        help="exit after N images (default: run until stopped)",
    )
    p.add_argument(
        "--timeout", type=positive_float, default=None, metavar="S", help="give up after S seconds"
    )
    channel_options(p)
    p.add_argument(
        "--uplink",
        default=None,
        metavar="ENDPOINT",
        help="the probe's uplink, for CFDP replies (ACK, NAK, Finished); default: none",
    )
    p.add_argument(
        "--rtt",
        type=positive_float,
        default=0.2,
        metavar="S",
        help="round-trip light time the CFDP timers allow for (default 0.2)",
    )
    p.add_argument(
        "--link-rate",
        type=positive_float,
        default=None,
        metavar="BPS",
        help="configured downlink rate, to report goodput against",
    )
    p.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="record every received message to FILE (a message of idle frames only as a short note "
        "of how many there were, unless --record-idle)",
    )
    p.add_argument(
        "--record-idle", action="store_true", help="with --record: keep idle frames in the recording too"
    )
    p.add_argument(
        "--product-processes",
        type=whole_number,
        default=DEFAULT_PRODUCT_PROCESSES,
        metavar="N",
        help="make the images' products (PNGs, JSON, optical navigation) in N processes beside the "
        f"receive loop (default {DEFAULT_PRODUCT_PROCESSES}, one a core up to 2; 0: on a thread of the "
        "ground's own process). At most 4 images wait for them; the receive loop then waits too",
    )
    p.add_argument(
        "--receive-queue",
        type=octets,
        default=None,
        metavar="SIZE",
        help="octets ZeroMQ may queue for the station before the probe is held back, with an optional "
        "k, M or G (KiB, MiB, GiB) (default 64M: 63 messages of the 1 MiB a message may hold at most; "
        "at least one message; smaller bounds memory, the probe then waits: nothing is dropped). "
        "A message over 1 MiB is refused, counted (transport.messages_refused) and the link "
        "reconnected",
    )
    p.add_argument(
        "--station-id",
        default=None,
        metavar="ID",
        help="this station's name on the bus: 1-32 of A-Z a-z 0-9 _ - (needed with --bus)",
    )
    p.add_argument(
        "--bus",
        default=None,
        metavar="URL",
        help="also publish every frame received, with its quality, to the NATS JetStream stream "
        "at URL (nats://HOST:PORT, several comma-separated for a cluster); default: no bus",
    )
    mdb_option(p)
    p.add_argument("--scenario", default=None, help=argparse.SUPPRESS)  # written into the recording header
    # `paleblue run` on a terminal: figures for its progress bar, a line on stderr a few times a second
    p.add_argument("--progress-lines", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from groundstation.receiver import run_ground_station

    setup_logging("ground", args.verbose)
    check_bus_options(args)
    use_curve(args.curve_keys, server=False)
    stop = stop_on_signals()
    if args.record_idle and not args.record:
        raise CliError("ground: --record-idle needs --record FILE")
    with contextlib.ExitStack() as stack:
        on_message = recorder = None
        if args.record:
            on_message, recorder = recording_hook(stack, Path(args.record), args)
        on_station = bus_hook(stack, args) if args.bus else None
        if args.progress_lines:
            on_station = progress_hook(stack, args, on_station)
        summary = _run_ground(run_ground_station, args, stop, on_message, recorder, on_station)
    from groundstation.pass_report import PassReport

    report = PassReport(summary)
    print(report.ground_brief(), end="")
    if stop.signum is not None:  # Ctrl-C or SIGTERM: the pass ended early, its files are written
        print(
            f"paleblue: ground: interrupted by {stop.interrupted_by()}; {_written(report, args)}",
            file=sys.stderr,
        )
        return 128 + stop.signum
    if args.expect_images is not None and len(summary["images"]) < args.expect_images:
        return 1
    return 0


def _written(report, args: argparse.Namespace) -> str:
    """What an interrupted pass left in the output directory, in a few words."""
    out = Path(args.output)
    images = len(report.summary.images)
    written = f"summary.json and report.md written to {out} ({images} image(s)"
    open_transfers = report.open_transfer_lines()
    if open_transfers:
        written += f", {len(open_transfers)} file transfer(s) still open: {'; '.join(open_transfers)}"
    return written + ")"


def recording_hook(stack: contextlib.ExitStack, path: Path, args: argparse.Namespace):
    """Record every received message, exactly as received (a message of idle frames only as an
    idle note unless --record-idle), before the station processes it; (hook, recorder)."""
    from groundstation.recorder import RecordingWriter, StationRecorder
    from protocols.errors import DecodeError
    from protocols.link.channel_file import channel_to_dict

    if path.exists():
        raise CliError(f"ground: {path} exists; a recording is never overwritten")
    channel = resolve_channel(args)
    config = {"channel": args.channel or "tm-rs-i5", "downlink": args.downlink}
    if channel is not None:  # decode uses it unless told otherwise
        config["channel_config"] = channel_to_dict(channel)
    config["idle_frames"] = "recorded" if args.record_idle else "noted"
    writer = stack.enter_context(RecordingWriter(path, scenario=args.scenario or "", config=config))
    recorder = StationRecorder(writer, channel, keep_idle=args.record_idle)
    log = logging.getLogger("paleblue.ground")

    def hook(parts: list[bytes], receive_ns: int) -> None:
        if len(parts) != 3:
            return  # counted by the station as malformed; the format records whole messages only
        try:
            recorder(parts[0], parts[1], parts[2], receive_ns)
        except (DecodeError, ValueError) as exc:
            log.warning("not recorded (malformed): %s", exc)

    return hook, recorder


def progress_hook(stack: contextlib.ExitStack, args: argparse.Namespace, then=None):
    """Start printing the station's progress lines for `paleblue run` once the station is made."""
    from paleblue.commands.progress import StationProgress

    reporter = StationProgress(args.expect_images)
    stack.callback(reporter.stop)

    def on_station(station) -> None:
        if then is not None:
            then(station)
        reporter.attach(station)

    return on_station


def check_bus_options(args: argparse.Namespace) -> None:
    from protocols.bus.frame_report import valid_station_id

    if args.bus and not args.station_id:
        raise CliError("ground: --bus needs --station-id ID (this station's name on the bus)")
    if args.station_id is not None and not valid_station_id(args.station_id):
        raise CliError(f"ground: --station-id {args.station_id!r} is not 1-32 of A-Z a-z 0-9 _ -")


def uplink_forwarder(args: argparse.Namespace, publisher):
    """With --bus and --uplink: the merger's uplink requests for this station (``paleblue merge
    --uplink-via``) go up to the probe through a PUSH of their own."""
    import random

    from protocols.capture.zmq_framing import TOPIC_UPLINK, Envelope, Layer
    from transport.nats_bus import BusError
    from transport.nats_uplink import UplinkForwarder
    from transport.sender import Sender

    push = Sender(args.uplink, linger_ms=0, high_water_mark=10_000)
    session = random.SystemRandom().getrandbits(32)
    sent = [0]

    def forward(layer: int, unit: bytes) -> bool:
        if not push.send([TOPIC_UPLINK, Envelope(Layer(layer), session, sent[0]).pack(), unit], block=False):
            return False
        sent[0] += 1
        return True

    try:
        return UplinkForwarder(args.bus, args.station_id, forward, on_close=push.close)
    except BusError as exc:
        push.close()
        publisher.close()
        raise CliError(f"ground: {exc}") from None


def bus_hook(stack: contextlib.ExitStack, args: argparse.Namespace):
    """Connect to the bus now (no bus: one line, exit 2) and return the hook that taps the
    station's frames into it; on the way out the publisher is flushed and its counters written
    to ``bus.json`` beside ``summary.json``."""
    from groundstation.bus_reporter import FrameReporter
    from transport.nats_bus import BusError, FramePublisher

    try:
        publisher = FramePublisher(args.bus)
    except BusError as exc:
        raise CliError(f"ground: {exc}") from None
    forwarder = uplink_forwarder(args, publisher) if args.uplink else None
    reporters: list[FrameReporter] = []

    def on_station(station) -> None:
        sync = lambda: station.link.state  # noqa: E731 -- read at each frame
        reporter = FrameReporter(args.station_id, publisher.publish, station.channel, sync)
        reporters.append(reporter.attach(station.link, station.frames))

    def close() -> None:
        publisher.close()
        bus = {
            "station_id": args.station_id,
            "bus": args.bus,
            "frames_reported": sum(r.reported for r in reporters),
            **publisher.counters.as_dict(),
        }
        if forwarder is not None:
            forwarder.close()
            bus["uplink"] = forwarder.counters.as_dict()
        from protocols.atomic_file import write_atomically

        write_atomically(Path(args.output) / "bus.json", json.dumps(bus, indent=2) + "\n")
        logging.getLogger("paleblue.ground").info(
            "bus: %d frame(s) reported, %d stored, %d duplicate(s), %d failed",
            bus["frames_reported"], bus["stored"], bus["duplicates"], bus["failed"] + bus["queue_full"],
        )  # fmt: skip

    stack.callback(close)
    return on_station


def _run_ground(
    run_ground_station,
    args: argparse.Namespace,
    stop: threading.Event,
    on_message,
    recorder,
    on_station=None,
) -> dict:
    security = downlink_security_context(args.keys, "station", resolve_channel(args))
    mdb = mission_db(args)
    scid = (mdb or mission_db_or_default(args)).spacecraft_id
    uplink_security = cfdp_uplink_security(args.keys, scid) if args.uplink else None
    summary = run_ground_station(
        args.downlink,
        Path(args.output),
        stop,
        expect_images=args.expect_images,
        timeout_s=args.timeout,
        channel=resolve_channel(args),
        uplink=args.uplink,
        round_trip_s=args.rtt,
        link_rate_bps=args.link_rate,
        on_message=on_message,
        receive_queue=args.receive_queue,
        attach=ground_services(args),
        mdb=mdb,
        recording=recorder.summary if recorder is not None else None,
        downlink_security=security,
        uplink_security=uplink_security,
        on_station=on_station,
        product_processes=args.product_processes,
    )
    if security is not None:  # the ARSNs accepted, so a station started again refuses replays of this pass
        from protocols.sdls.keystore import save_arsn

        save_arsn(Path(args.keys), "station", security)
    return summary
