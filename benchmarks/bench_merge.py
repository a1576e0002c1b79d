"""Merger throughput through NATS JetStream on loopback, beside nats-py publish/consume of the same
bytes without merging (the baselines), and the latency the bus adds.

    .venv/bin/python benchmarks/bench_merge.py [--frames 10000] [--stations 3] [--latency 2000] [--repeat 1]

Rows (MB/s of frame octets, wall clock and CPU time of this process, whose threads run the
clients; the nats-server is a separate process, started here on a free port, not counted in CPU):
* nats-py publish, baseline: the same octets published by the bare client, pipelined, acknowledged;
* publish (FramePublisher): the stations' reports into the stream (acknowledged, pipelined);
* nats-py consume, baseline: every message of the stream by the bare client's ordered consumer;
* FrameConsumer, no decoding: every message through the merger's consumer (its thread, its buffer);
* consume + intake + merge (fast path): what ``paleblue merge`` does per message, without the
  ground chain: ``BusIntake.take`` (``unpack_fields``, subject, station, header checks) and
  ``FrameMerger.add_fields``;
* consume + decode + merge (declared path): ``FrameReport.unpack`` and ``FrameMerger.add``;
* consume + intake + merge + ground chain: the merged frames through a GroundStation too;
* latency: one report a millisecond, from publish to the merger's hands (median, p99).

Each row is measured ``--repeat`` times; the load average is printed beside the figures (the
machine may be shared: CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
import numpy as np
from nats.js import api

from emulator.imaging import image_packets
from emulator.transmitter import Transmitter
from groundstation.merge.best_frame import FrameMerger
from groundstation.merge.bus_intake import BusIntake
from groundstation.station import GroundStation
from protocols.bus.frame_report import FrameReport
from protocols.capture.zmq_framing import Layer
from protocols.image.image_metadata import ImageMetadata
from protocols.link import tm_frame
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from transport.nats_bus import STREAM, SUBJECTS, FrameConsumer, FramePublisher
from transport.nats_server import NatsServer


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def timed(work) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def row(name: str, octets: int, runs: list[tuple[float, float]]) -> None:
    walls = [octets / wall / 1e6 for wall, _ in runs]
    cpus = [octets / max(cpu, 1e-9) / 1e6 for _, cpu in runs]
    each = "" if len(runs) == 1 else f"  (CPU runs: {', '.join(f'{c:.1f}' for c in cpus)})"
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"{name:<48} {wall:8.1f} MB/s wall  {cpu:8.1f} MB/s CPU{each}", flush=True)


def pass_frames(count: int) -> list[bytes]:
    """``count`` TM frames of the default channel: images' packets on VC 1, as in a pass."""
    config = preset()
    tx = Transmitter(config, {1: 0})
    sequence = SequenceCounter()
    rng = np.random.default_rng(5)
    frames: list[bytes] = []
    image_id = 1
    while len(frames) < count:
        pixels = rng.integers(0, 4096, size=(540, 720), dtype=np.uint16)
        _, packets = image_packets(
            image_id, pixels, 12, 0.01, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="bench"),
            sequence, CucTime(image_id), 200,
        )  # fmt: skip
        for packet in packets:
            tx.submit(1, packet)
        while tx.has_pending() and len(frames) < count:
            frames.append(tx.next_frame())
        image_id += 1
    return frames


def consume_all(url: str, expected: int, handle) -> int:
    got = 0
    with FrameConsumer(url) as consumer:
        deadline = time.monotonic() + 300
        while got < expected and time.monotonic() < deadline:
            for message in consumer.fetch(4096, 0.2):
                handle(message)
                got += 1
    return got


async def _raw_publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="BENCH_RAW", subjects=["bench.raw.>"], storage=api.StorageType.FILE)
    for start in range(0, len(messages), 2048):
        await asyncio.gather(*(js.publish(s, d) for s, d in messages[start : start + 2048]))
    await js.delete_stream("BENCH_RAW")
    await nc.close()


async def _raw_consume(url: str, expected: int) -> int:
    nc = await nats.connect(url)
    js = nc.jetstream()
    done = asyncio.Event()
    got = 0

    async def count(msg) -> None:
        nonlocal got
        got += 1
        if got >= expected:
            done.set()

    await js.subscribe(SUBJECTS, stream=STREAM, cb=count, ordered_consumer=True)
    await asyncio.wait_for(done.wait(), 300)
    await nc.close()
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--stations", type=int, default=3)
    parser.add_argument("--latency", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    config = preset()
    length = config.frame_length
    frames = pass_frames(args.frames)
    reports = []
    for n, frame in enumerate(frames):
        _, scid, vcid, _, count, _ = tm_frame.unpack_routing_fast(frame)
        for k in range(args.stations):
            reports.append(
                FrameReport(f"s{k}", time.time_ns(), scid, vcid, count, frame, count_epoch=n // 256)
            )
    octets = len(reports) * length
    print(
        f"{len(reports)} reports of {length}-octet frames ({octets / 1e6:.1f} MB), {args.stations} stations, "
        f"{args.repeat} run(s) per row; {load()}"
    )
    packed = [(r.subject, r.pack()) for r in reports]
    with tempfile.TemporaryDirectory() as store, NatsServer(Path(store)) as server:
        url = server.url
        raw = [(f"bench.raw.{s.rsplit('.', 1)[1]}", d) for s, d in packed]
        row(
            "nats-py publish, baseline",
            octets,
            [timed(lambda: asyncio.run(_raw_publish(url, raw)))[:2] for _ in range(args.repeat)],
        )

        def publish() -> None:
            with FramePublisher(url, max_queue=len(reports) + 1) as publisher:
                for report in reports:
                    publisher.publish(report)
            assert publisher.counters.stored == len(reports), publisher.counters

        row(
            "publish (FramePublisher, acknowledged)", octets, [timed(publish)[:2]]
        )  # once: the stream holds them

        def raw_consume() -> tuple[float, float]:
            wall, cpu, got = timed(lambda: asyncio.run(_raw_consume(url, len(reports))))
            assert got == len(reports)
            return wall, cpu

        row("nats-py consume, baseline", octets, [raw_consume() for _ in range(args.repeat)])

        def consumer_only() -> tuple[float, float]:
            wall, cpu, got = timed(lambda: consume_all(url, len(reports), lambda m: None))
            assert got == len(reports)
            return wall, cpu

        row("FrameConsumer, no decoding", octets, [consumer_only() for _ in range(args.repeat)])

        def fast() -> tuple[float, float]:
            merger = FrameMerger(config.vc_count_modulo, 1024, config.spacecraft_id)
            intake = BusIntake(config)

            def handle(message) -> None:
                merger.add_fields(intake.take(message.subject, message.data))

            wall, cpu, _ = timed(lambda: consume_all(url, len(reports), handle))
            merger.flush()
            assert merger.counters.frames_out == args.frames, merger.counters
            return wall, cpu

        row("consume + intake + merge (fast path)", octets, [fast() for _ in range(args.repeat)])

        def declared() -> tuple[float, float]:
            merger = FrameMerger(config.vc_count_modulo, 1024, config.spacecraft_id)
            wall, cpu, _ = timed(
                lambda: consume_all(url, len(reports), lambda m: merger.add(FrameReport.unpack(m.data)))
            )
            merger.flush()
            assert merger.counters.frames_out == args.frames, merger.counters
            return wall, cpu

        row("consume + decode + merge (declared path)", octets, [declared() for _ in range(args.repeat)])

        def chain() -> tuple[float, float]:
            with tempfile.TemporaryDirectory() as out:
                station = GroundStation(Path(out), channel=config, write_products=False)
                merger = FrameMerger(config.vc_count_modulo, 1024, config.spacecraft_id)
                intake = BusIntake(config)

                def handle(message) -> None:
                    for merged in merger.add_fields(intake.take(message.subject, message.data)):
                        station.feed_stream(Layer.FRAMES, merged.frame)

                wall, cpu, _ = timed(lambda: consume_all(url, len(reports), handle))
                return wall, cpu

        row("consume + intake + merge + ground chain", octets, [chain() for _ in range(args.repeat)])

        latencies: list[float] = []
        intake = BusIntake(config)

        def arrived(messages) -> None:
            for message in messages:
                latencies.append(time.time_ns() - intake.take(message.subject, message.data).received_ns)

        with FramePublisher(url) as publisher, FrameConsumer(url) as consumer:
            consumer.fetch(1 << 20, 0.5)
            while consumer.fetch(1 << 20, 0.5):  # skip what the stream already holds
                pass
            for n in range(args.latency):
                frame = frames[n % len(frames)]
                _, scid, vcid, _, count, _ = tm_frame.unpack_routing_fast(frame)
                publisher.publish(FrameReport("lat", time.time_ns(), scid, vcid, count, frame, count_epoch=n))
                arrived(consumer.fetch(64, 0.0))
                time.sleep(0.001)
            deadline = time.monotonic() + 10
            while len(latencies) < args.latency and time.monotonic() < deadline:
                arrived(consumer.fetch(64, 0.05))
        latencies.sort()
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print(
            f"latency added by the bus (publish -> merger), {len(latencies)} reports at 1/ms: "
            f"median {statistics.median(latencies) / 1e6:.2f} ms, p99 {p99 / 1e6:.2f} ms"
        )
        print(load())


if __name__ == "__main__":
    main()
