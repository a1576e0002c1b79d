"""``paleblue run``: probe and ground station as two supervised processes, and the pass's summary."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from paleblue.commands.common import (
    CURVE_HELP,
    CliError,
    channel_argv,
    link_profile_of,
    load_scenario,
    resolve_channel,
)
from paleblue.commands.options import (
    archive_api_options,
    delivery_options,
    link_options,
    mdb_option,
    positive_float,
    positive_int,
)
from paleblue.commands.probe import probability
from paleblue.commands.processes import _free_tcp_endpoint, _relay_stderr, _stop_process


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run probe and ground station side by side as two processes")
    p.add_argument("scenario", nargs="?", default="tianwen1-2020-07-27", metavar="SCENARIO")
    archive_api_options(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--downlink", default=None, metavar="ENDPOINT", help="default: a free port on 127.0.0.1")
    p.add_argument("--uplink", default=None, metavar="ENDPOINT", help="default: a free port on 127.0.0.1")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--timeout", type=positive_float, default=120.0, metavar="S")
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument(
        "--record", default=None, metavar="FILE", help="the ground station records what it receives"
    )
    link_options(p)
    delivery_options(p)
    mdb_option(p)
    p.add_argument(
        "--stations",
        type=positive_int,
        default=None,
        metavar="N",
        help="N ground stations, each on its own lossy link, merged over NATS JetStream (see --bus)",
    )
    p.add_argument(
        "--bus",
        default=None,
        metavar="URL",
        help="with --stations: the NATS server (default: start a local one)",
    )
    p.add_argument(
        "--station-loss", type=probability, default=0.10, metavar="P", help="with --stations (0.10)"
    )
    p.add_argument(
        "--station-ber", type=probability, default=1e-5, metavar="BER", help="with --stations (1e-5)"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    resolve_channel(args)  # an impossible channel is one line here, before any process starts
    if args.stations is not None:
        from paleblue.commands import run_stations

        return run_stations.main(args, scenario)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    downlink = args.downlink or _free_tcp_endpoint()
    uplink = args.uplink or _free_tcp_endpoint()
    python = [sys.executable, "-m", "paleblue"]
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    ground_cmd = [
        *python,
        "ground",
        "--downlink",
        downlink,
        "-o",
        str(out),
        "--expect-images",
        str(scenario.image_count),
        "--timeout",
        str(args.timeout),
        *channel_argv(args),
    ]
    probe_cmd = [
        *python,
        "probe",
        args.scenario,
        "--downlink",
        downlink,
        *seed,
        *channel_argv(args),
        "--rate",
        str(args.rate),
        "--inject-ber",
        str(args.inject_ber),
        "--uplink",
        uplink,
        "--time-scale",
        str(args.time_scale),
        "--cfdp-class",
        str(args.cfdp_class),
        *(["--link", args.link] if args.link else []),
        *(["--delivery", args.delivery] if args.delivery else []),
        "--compress",
        args.compress,
    ]
    link_profile = link_profile_of(args.link, args.time_scale, scenario.range_km)
    if link_profile is not None:
        down = link_profile.downlink
        round_trip = 2 * down.one_way_light_time_s * down.time_scale
        link_rate = down.data_rate_bps
    else:
        round_trip, link_rate = 0.2, args.rate
    ground_cmd += ["--uplink", uplink, "--rtt", f"{round_trip:.6f}", "--link-rate", str(link_rate)]
    if args.record:
        ground_cmd += ["--record", args.record, "--scenario", scenario.name]
    for flag in ("archive", "api", "api_token"):
        if getattr(args, flag) is not None:
            ground_cmd += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    if args.curve_keys:
        ground_cmd += ["--curve-keys", args.curve_keys]
        probe_cmd += ["--curve-keys", args.curve_keys]
    if args.mdb:  # checked by resolve_channel above: a bad file is one line before anything starts
        ground_cmd += ["--mdb", args.mdb]
        probe_cmd += ["--mdb", args.mdb]
    print(f"run: {scenario.name}: downlink {downlink}, uplink {uplink}", file=sys.stderr)
    started = time.monotonic()
    # its closing brief duplicates summary.json; a pipe nobody read would stall it past 64 KiB
    ground = subprocess.Popen(ground_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    probe = subprocess.Popen(probe_cmd, stderr=subprocess.PIPE, text=True)
    relays = {"ground station": _relay_stderr(ground), "probe": _relay_stderr(probe)}
    early = None  # a child that ended before the ground station had its images
    try:
        early = _supervise(ground, probe, started + args.timeout + 30)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_process(probe, "probe")
        _stop_process(ground, "ground station")
    for relay in relays.values():
        relay.join(5.0)
    if early is not None:
        name, process = early
        said = relays[name].last_line or "(it printed nothing)"
        print(f"run: the {name} exited early with status {process.returncode}: {said}", file=sys.stderr)
        return 1
    summary_path = out / "summary.json"
    if not summary_path.exists():
        said = relays["ground station"].last_line
        raise CliError(
            f"run: the ground station (status {ground.returncode}) wrote no summary in {out}"
            + (f": {said}" if said else "")
        )
    from groundstation.pass_report import PassReport
    from groundstation.pass_summary import PassSummary

    summary = PassSummary.from_dict(json.loads(summary_path.read_text()))
    print(PassReport(summary).run_lines(out, time.monotonic() - started), end="")
    images = summary.images
    ok = len(images) >= scenario.image_count and all(p.crc_ok for p in images)
    return 0 if ok and ground.returncode == 0 else 1


def _supervise(ground: subprocess.Popen, probe: subprocess.Popen, deadline: float, poll_s: float = 0.1):
    """Wait for the ground station to finish; a probe that exits first ends the wait at once.

    Returns ``("probe", process)`` for a probe that ended first, else None (the ground station
    finished, or the deadline passed: then it is said, and the caller stops both).
    """
    while ground.poll() is None:
        if probe.poll() is not None:
            return ("probe", probe)
        if time.monotonic() > deadline:
            print("run: ground station did not finish; stopping it", file=sys.stderr)
            return None
        time.sleep(poll_s)
    return None
