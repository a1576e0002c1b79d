"""``paleblue run``: probe and ground station as two supervised processes, and the pass's summary."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from paleblue.commands.common import (
    CURVE_HELP,
    CliError,
    cfdp_uplink_security,
    channel_argv,
    check_file_delivery,
    downlink_security_context,
    link_profile_of,
    load_scenario,
    mission_db_or_default,
    resolve_channel,
    stop_on_signals,
    web_console,
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
from paleblue.commands.progress import PassProgress

TALLY_FILE = "link-tally.json"  # what the probe's link simulator did, written by the probe at its end


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
        "--keys", default=None, metavar="DIR",
        help="SDLS key directory for both: the probe secures the downlink channels its SAs cover (and "
        "takes only secured TCs), the ground station verifies them and secures its CFDP replies",
    )  # fmt: skip
    p.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="the ground station records what it receives (idle frames as a count, unless --record-idle)",
    )
    p.add_argument(
        "--record-idle", action="store_true", help="with --record: keep idle frames in the recording too"
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
    p.add_argument(
        "--stations-file",
        default=None,
        metavar="FILE",
        help="the stations and each one's link (ids, loss, ber, burst, light_time_s, pass windows), "
        "instead of --stations N alike (see the README)",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.record_idle and not args.record:
        raise CliError("run: --record-idle needs --record FILE")
    scenario = load_scenario(args.scenario)
    from emulator.render import capture_bands

    images_expected = scenario.image_count * len(capture_bands(scenario))  # a colour capture: one a band
    channel = resolve_channel(args)  # an impossible channel is one line here, before any process starts
    if args.link or args.delivery == "cfdp":
        check_file_delivery(scenario, "run")
    if args.keys is not None:
        if args.link or args.delivery == "cfdp":  # the ground's CFDP replies go up under their own SA
            cfdp_uplink_security(args.keys, mission_db_or_default(args).spacecraft_id, required=True)
        downlink_security_context(args.keys, "station", channel)  # a bad key directory: one line, now
    several = args.stations is not None or args.stations_file is not None
    if args.web and several:
        raise CliError("run: --web serves one station's console: leave out --stations")
    web_console(args)  # without Open MCT: one line naming `make web`, before any process starts
    if several:
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
        str(images_expected),
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
    tally_path = out / TALLY_FILE
    if link_profile is not None:
        tally_path.unlink(missing_ok=True)  # a tally of an earlier run must not be taken for this one's
        probe_cmd += ["--link-tally", str(tally_path)]
        down = link_profile.downlink
        round_trip = 2 * down.one_way_light_time_s * down.time_scale
        link_rate = down.data_rate_bps
    else:
        round_trip, link_rate = 0.2, args.rate
    ground_cmd += ["--uplink", uplink, "--rtt", f"{round_trip:.6f}", "--link-rate", str(link_rate)]
    if args.record:
        ground_cmd += ["--record", args.record, "--scenario", scenario.name]
        ground_cmd += ["--record-idle"] if args.record_idle else []
    for flag in ("archive", "api", "api_token"):
        if getattr(args, flag) is not None:
            ground_cmd += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    if args.web:
        ground_cmd += ["--web"]
    if args.keys:
        ground_cmd += ["--keys", args.keys]
        probe_cmd += ["--keys", args.keys]
    if args.curve_keys:
        ground_cmd += ["--curve-keys", args.curve_keys]
        probe_cmd += ["--curve-keys", args.curve_keys]
    if args.mdb:  # checked by resolve_channel above: a bad file is one line before anything starts
        ground_cmd += ["--mdb", args.mdb]
        probe_cmd += ["--mdb", args.mdb]
    print(f"run: {scenario.name}: downlink {downlink}, uplink {uplink}", file=sys.stderr)
    bar = PassProgress(images_expected)  # on a terminal only
    if bar.enabled:
        ground_cmd += ["--progress-lines"]
    started = time.monotonic()
    stop = stop_on_signals()  # Ctrl-C or SIGTERM: both children stopped, the pass's files written
    # its closing brief duplicates summary.json; a pipe nobody read would stall it past 64 KiB
    ground = subprocess.Popen(ground_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    probe = subprocess.Popen(probe_cmd, stderr=subprocess.PIPE, text=True)
    relays = {"ground station": _relay_stderr(ground, bar), "probe": _relay_stderr(probe, bar)}
    early = None  # a child that ended before the ground station had its images
    with bar:
        try:
            early = _supervise(ground, probe, started + args.timeout + 30, stop, bar)
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
    if not summary_path.exists() and stop.signum is not None:  # stopped before the station began
        print(
            f"run: interrupted by {stop.interrupted_by()}; probe and ground station stopped", file=sys.stderr
        )
        return 128 + stop.signum
    if not summary_path.exists():
        said = relays["ground station"].last_line
        raise CliError(
            f"run: the ground station (status {ground.returncode}) wrote no summary in {out}"
            + (f": {said}" if said else "")
        )
    from groundstation.pass_report import PassReport
    from groundstation.pass_summary import PassSummary

    summary_dict = json.loads(summary_path.read_text())
    if link_profile is not None:
        summary_dict = _merge_link_tally(summary_dict, tally_path, out, args)
    summary = PassSummary.from_dict(summary_dict)
    elapsed = time.monotonic() - started
    print(PassReport(summary).run_lines(out, elapsed, interrupted=stop.signum is not None), end="")
    if stop.signum is not None:
        print(
            f"run: interrupted by {stop.interrupted_by()}; probe and ground station stopped, "
            f"{len(summary.images)} image(s), summary.json and report.md written to {out}",
            file=sys.stderr,
        )
        return 128 + stop.signum
    images = summary.images
    ok = len(images) >= images_expected and all(p.crc_ok for p in images)
    return 0 if ok and ground.returncode == 0 else 1


def _merge_link_tally(summary: dict, tally_path: Path, out: Path, args: argparse.Namespace) -> dict:
    """The simulated link's counters beside the ground's in ``summary.json`` and ``report.md``,
    with the reconciliation of the two (:mod:`protocols.link.link_tally`)."""
    from groundstation.pass_report import parameter_units, render_report
    from paleblue.commands.common import mission_db_or_default
    from protocols.atomic_file import write_atomically
    from protocols.errors import DecodeError
    from protocols.link.link_tally import GroundCount, LinkTally, reconcile

    try:
        tally = LinkTally.unpack(tally_path.read_bytes())
    except (OSError, DecodeError) as exc:
        print(
            f"run: no link tally from the probe ({exc}); summary.json has the ground's count only",
            file=sys.stderr,
        )
        return summary
    result = reconcile(
        tally, GroundCount.from_summary(summary["link"]), summary["transport"]["messages_lost"]
    )
    summary["link"]["simulator"] = tally.counters()
    summary["link"]["reconciliation"] = result.as_dict()
    write_atomically(out / "summary.json", json.dumps(summary, indent=2, default=repr) + "\n")
    units = parameter_units(mission_db_or_default(args))
    write_atomically(out / "report.md", render_report(summary, units, (out / "events.log").exists()))
    return summary


def _supervise(
    ground: subprocess.Popen,
    probe: subprocess.Popen,
    deadline: float,
    stop: threading.Event | None = None,
    bar: PassProgress | None = None,
    poll_s: float = 0.1,
):
    """Wait for the ground station to finish; a probe that exits first ends the wait at once.

    Returns ``("probe", process)`` for a probe that ended first, else None (the ground station
    finished, the deadline passed: then it is said, or ``stop`` was set; the caller stops both).
    """
    while ground.poll() is None:
        if stop is not None and stop.is_set():
            return None
        if probe.poll() is not None:
            return ("probe", probe)
        if time.monotonic() > deadline:
            line = "run: ground station did not finish; stopping it\n"
            if bar is not None:
                bar.write(line)
            else:
                sys.stderr.write(line)
            return None
        time.sleep(poll_s)
    return None
