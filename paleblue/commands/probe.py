"""``paleblue probe``: render a scenario and downlink its images over ZeroMQ."""

from __future__ import annotations

import argparse
from pathlib import Path

from paleblue.commands.common import (
    CURVE_HELP,
    DEFAULT_DOWNLINK,
    DEFAULT_UPLINK,
    KEYS_HELP,
    CliError,
    check_file_delivery,
    compression_of,
    downlink_security_context,
    link_profile_of,
    load_scenario,
    mission_db,
    resolve_channel,
    security_context,
    setup_logging,
    stop_on_signals,
    use_curve,
)
from paleblue.commands.options import delivery_options, link_options, mdb_option, positive_int


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="run the probe: render and downlink a scenario's images")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to bind")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--exit-after-downlink", action="store_true", help="exit once every image is sent")
    delivery_options(p)
    p.add_argument(
        "--uplink", default=DEFAULT_UPLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to bind for TCs"
    )
    link_options(p)
    p.add_argument(
        "--subscribers",
        type=positive_int,
        default=1,
        metavar="N",
        help="wait for N downlink subscribers (a ground station and taps) before sending (default 1)",
    )
    p.add_argument(
        "--link-tally",
        default=None,
        metavar="FILE",
        help="with --link: write the simulated link's counters and arrival order here when the probe "
        "stops (paleblue run reconciles them with the ground's count in summary.json)",
    )
    p.add_argument(
        "--station-downlinks",
        default=None,
        metavar="EP,EP,...",
        help="downlink to several ground stations, one ZeroMQ endpoint each, each over its own "
        "simulated link (--station-loss, --station-ber, or --stations-file; seeded by --seed); "
        "--downlink is then unused",
    )
    p.add_argument(
        "--stations-file",
        default=None,
        metavar="FILE",
        help="with --station-downlinks: each station's link (loss, ber, burst, light_time_s, passes), "
        "one [[station]] table each, in the endpoints' order (see the README)",
    )
    p.add_argument(
        "--station-loss", type=probability, default=0.0, metavar="P", help="each station's frame loss"
    )
    p.add_argument("--station-ber", type=probability, default=0.0, metavar="BER", help="each station's BER")
    p.add_argument(
        "--drop-log", default=None, metavar="FILE", help="write the frames each station lost to FILE (JSON)"
    )
    p.add_argument("--keys", default=None, metavar="DIR", help=KEYS_HELP)
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    mdb_option(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=main)


def _downlink_security(directory: str | None, channel):
    """The downlink SAs, their ARSNs moved on by a lease (so a crash never reuses an IV) and saved."""
    context = downlink_security_context(directory, "probe-downlink", channel)
    if context is not None:
        from protocols.sdls.keystore import lease, save_arsn

        lease(context)
        save_arsn(Path(directory), "probe-downlink", context)
    return context


def _station_links(args: argparse.Namespace) -> tuple:
    """Each station's link: from --stations-file, else alike from --station-loss and --station-ber."""
    from emulator.station_plan import StationPlan, StationPlanError, load_station_plan

    downlinks = [e for e in (args.station_downlinks or "").split(",") if e]
    if args.stations_file is None:
        return StationPlan.uniform(len(downlinks), args.station_loss, args.station_ber).links
    if not downlinks:
        raise CliError("probe: --stations-file needs --station-downlinks")
    try:
        plan = load_station_plan(Path(args.stations_file))
    except StationPlanError as exc:
        raise CliError(f"probe: {exc}") from None
    if len(plan.links) != len(downlinks):
        raise CliError(
            f"probe: {len(downlinks)} station downlinks, {len(plan.links)} stations in {args.stations_file}"
        )
    return plan.links


def main(args: argparse.Namespace) -> int:
    from emulator.probe import Probe, ProbeOptions

    setup_logging("probe", args.verbose)
    scenario = load_scenario(args.scenario)
    if args.link or args.delivery == "cfdp":
        check_file_delivery(scenario, "probe")
    channel = resolve_channel(args)
    stop = stop_on_signals()
    options = ProbeOptions(
        downlink=args.downlink,
        seed=args.seed,
        exit_after_downlink=args.exit_after_downlink,
        channel=channel,
        rate_bps=args.rate,
        bit_error_rate=args.inject_ber,
        uplink=args.uplink,
        delivery=args.delivery or ("cfdp" if args.link else "packets"),
        cfdp_class=args.cfdp_class,
        compression=compression_of(args.compress),
        link_profile=link_profile_of(args.link, args.time_scale, scenario.range_km),
        time_scale=args.time_scale,
        subscribers=args.subscribers,
        security=security_context(args.keys, "probe"),
        security_dir=Path(args.keys) if args.keys else None,
        link_tally=Path(args.link_tally) if args.link_tally else None,
        downlink_security=_downlink_security(args.keys, channel),
        station_downlinks=tuple(e for e in (args.station_downlinks or "").split(",") if e),
        station_links=_station_links(args),
        drop_log=Path(args.drop_log) if args.drop_log else None,
    )
    if options.station_downlinks and channel is None:
        raise CliError("probe: --station-downlinks needs transfer frames (not --channel none)")
    use_curve(args.curve_keys, server=True)
    return Probe(scenario, options, mission_db(args)).run(stop)
