"""``paleblue run --stations N``: one probe, N ground stations on their own lossy links, the bus
(a local nats-server unless ``--bus`` names one) and the merger, all as separate processes.

Whatever the merger sends up (CFDP replies; commands, given through ``merge --api``) goes through
one station at a time, the one in contact (``merge --uplink-via auto``): each station forwards
what the merger asks of it to the probe's uplink.

``--stations-file FILE`` names the stations and gives each its own link (:mod:`emulator.station_plan`:
loss, BER, bursts, light time, pass windows with overlap and handover); ``--stations N`` alone
makes N alike (``s1`` ... ``sN``, ``--station-loss``, ``--station-ber``).

Products: each station's pass in ``DIR/stations/<id>/`` (its own summary, report and images, and
``bus.json``), the merged pass in ``DIR`` (``summary.json``, ``report.md``, images, ``merge.json``),
and the probe's per-station drop log in ``DIR/drops.json``. The per-station and merged table is
printed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paleblue.commands.common import CliError, channel_argv
from paleblue.commands.processes import _free_tcp_endpoint, _relay_stderr, _stop_process


def main(args: argparse.Namespace, scenario) -> int:
    from transport.nats_server import NatsServer, NatsServerError

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.delivery == "cfdp" or args.link:
        raise CliError(
            "run: --stations sends image packets over its own per-station links (no --link, no CFDP)"
        )
    names = list(_station_plan(args).ids)
    python = [sys.executable, "-m", "paleblue"]
    with tempfile.TemporaryDirectory(prefix="paleblue-bus-") as store:
        server = None
        bus = args.bus
        if bus is None:
            try:
                server = NatsServer(Path(store)).start()
            except NatsServerError as exc:
                raise CliError(f"run: no local bus: {exc}") from None
            bus = server.url
        processes: list[tuple[str, subprocess.Popen]] = []
        try:
            endpoints = [_free_tcp_endpoint() for _ in names]
            uplink = _free_tcp_endpoint()  # the probe's; each station forwards what the merger asks of it
            for name, endpoint in zip(names, endpoints, strict=True):
                ground = [
                    *python, "ground", "--downlink", endpoint, "-o", str(out / "stations" / name),
                    "--station-id", name, "--bus", bus, "--timeout", str(args.timeout), "--uplink", uplink,
                    *channel_argv(args),
                ]  # fmt: skip
                processes.append((f"station {name}", _start(ground, subprocess.DEVNULL)))
            merge_cmd = [
                *python, "merge", "--bus", bus, "-o", str(out), "--expect-images", str(scenario.image_count),
                "--timeout", str(args.timeout), "--idle-exit", "3", "--stations", ",".join(names),
                "--uplink-via", "auto", *channel_argv(args),
            ]  # fmt: skip
            merger = _start(merge_cmd, subprocess.PIPE)
            processes.append(("merger", merger))
            probe_cmd = [
                *python, "probe", args.scenario, "--station-downlinks", ",".join(endpoints),
                "--station-loss", str(args.station_loss), "--station-ber", str(args.station_ber),
                *([] if args.stations_file is None else ["--stations-file", args.stations_file]),
                "--drop-log", str(out / "drops.json"), "--uplink", uplink,
                "--rate", str(args.rate), "--exit-after-downlink", *channel_argv(args),
                *([] if args.seed is None else ["--seed", str(args.seed)]),
            ]  # fmt: skip
            processes.append(("probe", _start(probe_cmd, None)))
            print(f"run: {scenario.name}: {len(names)} stations, bus {bus}", file=sys.stderr)
            try:
                table, _ = merger.communicate(timeout=args.timeout + 60)
            except subprocess.TimeoutExpired:
                print("run: the merger did not finish; stopping it", file=sys.stderr)
                table = ""
        finally:
            for name, process in reversed(processes):
                _stop_process(process, name)
            if server is not None:
                server.stop()
    print(table, end="")
    print(station_lines(out, names), end="")
    summary_path = out / "summary.json"
    if not summary_path.exists():
        raise CliError(f"run: the merger wrote no summary in {out}")
    images = json.loads(summary_path.read_text())["images"]
    ok = len(images) >= scenario.image_count and all(i["crc_ok"] for i in images)
    return 0 if ok else 1


def _station_plan(args: argparse.Namespace):
    """The stations: from --stations-file (checked now, before any process starts), else N alike."""
    from emulator.station_plan import StationPlan, StationPlanError, load_station_plan

    if args.stations_file is None:
        return StationPlan.uniform(args.stations, args.station_loss, args.station_ber)
    try:
        plan = load_station_plan(Path(args.stations_file))
    except StationPlanError as exc:
        raise CliError(f"run: {exc}") from None
    if args.stations is not None and args.stations != len(plan.ids):
        raise CliError(
            f"run: --stations {args.stations} but {len(plan.ids)} stations in {args.stations_file}"
        )
    return plan


def _start(argv: list[str], stdout) -> subprocess.Popen:
    process = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True)
    _relay_stderr(process)
    return process


def station_lines(out: Path, names: list[str]) -> str:
    """Each station's own images beside the merged pass's."""
    lines = []
    for name in [*names, None]:
        path = (out / "stations" / name if name else out) / "summary.json"
        if not path.exists():
            lines.append(f"{name or 'merged'}: no summary")
            continue
        images = json.loads(path.read_text())["images"]
        complete = sum(i["complete"] and i["crc_ok"] for i in images)
        lines.append(f"{name or 'merged'}: {len(images)} image(s), {complete} complete")
    started = time.strftime("%H:%M:%S")
    return "\n".join(lines) + f"\n(products: stations in {out / 'stations'}, merged in {out}; {started})\n"
