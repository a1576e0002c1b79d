"""Housekeeping decommutation rate, in parameters per second, beside ccsdspy on the same packets.

    .venv/bin/python benchmarks/bench_decom.py [--packets 20000] [--structure PLATFORM_HK] [--cpu-time]

Packets come from the flight software model, so they hold realistic values.
Rows: our per-packet path (PEC check, header decode, compiled layout,
calibration: what the ground station runs live), our numpy batch path (raw and
calibrated), and ccsdspy's ``FixedLength.load`` with a definition generated from
the same database (raw, and with its converters for polynomial/enum fields).
Best of three runs each; ``--cpu-time`` times them in CPU time of this process (on a shared
machine wall-clock figures mean little).
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from collections.abc import Callable

import ccsdspy  # noqa: F401  (imported first so that its logger can be quietened below)

from emulator.flight_software import FlightSoftware
from groundstation.telemetry import TelemetryProcessor, decommutate_batch
from protocols.mdb.ccsdspy_export import ccsdspy_definition
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import unpack_structure_id, unpack_tm

CLOCK = time.perf_counter  # --cpu-time: time.process_time


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = CLOCK()
        work()
        best = min(best, CLOCK() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--structure", default="PLATFORM_HK")
    parser.add_argument("--cpu-time", action="store_true", help="time every row in CPU time of this process")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    logging.getLogger("ccsdspy").setLevel(logging.ERROR)  # it warns about our deliberately repeated counts

    mdb = load_mission_db()
    definition = mdb.packet(args.structure)
    sid = definition.structure_id
    fsw = FlightSoftware(mdb)
    sample: list[bytes] = []
    t = 2.1e9
    while len(sample) < min(args.packets, 2000):
        sample += [p for p in fsw.tick(t) if unpack_structure_id(unpack_tm(p).app_data) == sid]
        t += definition.period_s
    packets = (sample * (args.packets // len(sample) + 1))[: args.packets]
    buffer = b"".join(packets)
    n_params = len(definition.layout.values)
    total = n_params * len(packets)

    processor = TelemetryProcessor(mdb)
    rows = [
        (
            "paleblue per packet (PEC + calibration)",
            lambda: [processor.decommutate(unpack_tm(p)) for p in packets],
        ),
        ("paleblue numpy batch, raw", lambda: decommutate_batch(mdb, buffer, sid, calibrated=False)),
        ("paleblue numpy batch, calibrated", lambda: decommutate_batch(mdb, buffer, sid)),
        (
            "ccsdspy FixedLength.load, raw",
            lambda: ccsdspy_definition(mdb, sid, False).load(io.BytesIO(buffer)),
        ),
        (
            "ccsdspy FixedLength.load, converters",
            lambda: ccsdspy_definition(mdb, sid).load(io.BytesIO(buffer)),
        ),
    ]
    print(f"{args.structure}: {len(packets)} packets x {n_params} parameters = {total} values, "
          f"{len(packets[0])} octets each")  # fmt: skip
    for label, work in rows:
        seconds = best_of(3, work)
        print(f"  {label:42s} {total / seconds / 1e6:8.2f} M parameters/s  ({seconds * 1e3:8.1f} ms)")


if __name__ == "__main__":
    main()
