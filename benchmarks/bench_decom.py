"""Housekeeping decommutation rate, in parameters per second, beside ccsdspy on the same packets.

    .venv/bin/python benchmarks/bench_decom.py [--packets 20000] [--structure PLATFORM_HK] [--cpu-time]
        [--batch 1024]

Packets come from the flight software model, so they hold realistic values.
Rows: our per-packet path (PEC check, header decode, compiled layout,
calibration: what the ground station runs live), our numpy batch path (raw and
calibrated), and ccsdspy's ``FixedLength.load`` with a definition generated from
the same database (raw, and with its converters for polynomial/enum fields).
The live rows decode what a pass sends (the same packets renumbered: consecutive sequence counts, a
second apart) with every effect of the live path (limit checks, alarms, the in-memory archive,
latest values): ``TelemetryProcessor.process`` one packet at a time (the baseline), ``process_batch``
``--batch`` packets a call, and the ground station's chain (``GroundStation.handle_packet_stream``
of ``--batch`` packets joined, as the receive loop joins messages: booking, sequence counts, runs)
with its bulk paths off and on.
Best of three runs each; ``--cpu-time`` times them in CPU time of this process (on a shared
machine wall-clock figures mean little).
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import ccsdspy  # noqa: F401  (imported first so that its logger can be quietened below)

from emulator.flight_software import FlightSoftware
from groundstation.station import GroundStation
from groundstation.telemetry import TelemetryProcessor, decommutate_batch
from protocols.mdb.ccsdspy_export import ccsdspy_definition
from protocols.mdb.mission_db import MissionDatabase, load_mission_db
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmPacket
from protocols.pus.pus_services import unpack_structure_id, unpack_tm

CLOCK = time.perf_counter  # --cpu-time: time.process_time


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = CLOCK()
        work()
        best = min(best, CLOCK() - start)
    return best


def as_a_pass(packets: list[bytes], start: float = 2.1e9) -> list[bytes]:
    """The packets renumbered as one APID's stream: consecutive sequence counts, a second apart."""
    out = []
    for i, packet in enumerate(packets):
        tm = TmPacket.unpack(packet)
        header = replace(tm.header, time=CucTime.from_seconds(start + i))
        out.append(replace(tm, sequence_count=i % 16384, header=header).pack())
    return out


def live_rows(
    mdb: MissionDatabase, packets: list[bytes], batch: int
) -> list[tuple[str, Callable[[], object]]]:
    """The live path's rows: every effect (limits, alarms, archive, latest values), fresh state each run."""
    batches = [packets[i : i + batch] for i in range(0, len(packets), batch)]
    joined = [b"".join(b) for b in batches]
    directory = Path(tempfile.mkdtemp(prefix="bench-decom-"))

    def per_packet() -> None:
        processor = TelemetryProcessor(mdb)
        for packet in packets:
            processor.process(packet)

    def in_batches() -> None:
        processor = TelemetryProcessor(mdb)
        for some in batches:
            processor.process_batch(some)

    def station(bulk: bool) -> Callable[[], None]:
        def run() -> None:
            ground = GroundStation(directory, mdb=mdb, write_products=False)
            ground.bulk_segments = bulk
            for stream in joined:
                ground.handle_packet_stream(stream)

        return run

    return [
        ("live, one packet at a time (process)", per_packet),
        (f"live, process_batch of {batch}", in_batches),
        (f"station, {batch} packets joined, one by one", station(False)),
        (f"station, {batch} packets joined, in runs", station(True)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--structure", default="PLATFORM_HK")
    parser.add_argument("--cpu-time", action="store_true", help="time every row in CPU time of this process")
    parser.add_argument("--batch", type=int, default=1024, help="packets a call on the live rows")
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
        *live_rows(mdb, as_a_pass(packets), args.batch),
    ]
    print(f"{args.structure}: {len(packets)} packets x {n_params} parameters = {total} values, "
          f"{len(packets[0])} octets each")  # fmt: skip
    for label, work in rows:
        seconds = best_of(3, work)
        print(f"  {label:44s} {total / seconds / 1e6:8.2f} M parameters/s  ({seconds * 1e3:8.1f} ms)")
    mixed_stream(mdb, args.packets, args.batch)


def mixed_stream(mdb: MissionDatabase, count: int, batch: int) -> None:
    """The flight software's own stream (every housekeeping structure, as it interleaves them)."""
    fsw, packets, t = FlightSoftware(mdb), [], 2.1e9
    while len(packets) < count:
        packets += fsw.tick(t)
        t += 1.0
    packets = packets[:count]
    total = 0
    for packet in packets:
        tm = unpack_tm(packet)
        if (tm.service, tm.subtype) == (3, 25):
            total += len(mdb.packet_by_sid[unpack_structure_id(tm.app_data)].layout.values)
    rows = live_rows(mdb, packets, batch)[:2]
    print(f"the flight software's stream: {len(packets)} packets, every structure, {total} values")
    for label, work in rows:
        seconds = best_of(3, work)
        print(f"  {label:44s} {total / seconds / 1e6:8.2f} M parameters/s  ({seconds * 1e3:8.1f} ms)")


if __name__ == "__main__":
    main()
