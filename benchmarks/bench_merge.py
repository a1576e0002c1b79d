"""Merger throughput through NATS JetStream on loopback, beside nats-py publish/consume of the same
bytes without merging (the baseline), and the latency the bus adds.

    .venv/bin/python benchmarks/bench_merge.py [--frames 10000] [--stations 3] [--latency 2000]

Rows (MB/s of frame octets, wall clock and CPU time of this process, whose threads run the
clients; the nats-server is a separate process, started here on a free port):
* publish: the stations' reports into the stream (acknowledged, pipelined);
* consume, baseline: every message of the stream, not decoded;
* consume + decode + merge: every report decoded and merged (best copy, window 1024);
* consume + decode + merge + ground chain: the merged frames through a GroundStation too;
* latency: one report a millisecond, from publish to the merger's hands (median, p99).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from groundstation.merge.best_frame import FrameMerger
from groundstation.station import GroundStation
from protocols.bus.frame_report import FrameReport
from protocols.capture.zmq_framing import Layer
from protocols.link.channel_file import preset
from transport.nats_bus import FrameConsumer, FramePublisher
from transport.nats_server import NatsServer


def timed(work) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def row(name: str, octets: int, wall: float, cpu: float) -> None:
    print(f"{name:<44} {octets / wall / 1e6:8.1f} MB/s wall  {octets / max(cpu, 1e-9) / 1e6:8.1f} MB/s CPU")


def consume_all(url: str, expected: int, handle) -> int:
    got = 0
    with FrameConsumer(url) as consumer:
        deadline = time.monotonic() + 300
        while got < expected and time.monotonic() < deadline:
            for message in consumer.fetch(4096, 0.2):
                handle(message)
                got += 1
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--stations", type=int, default=3)
    parser.add_argument("--latency", type=int, default=2000)
    args = parser.parse_args()
    config = preset()
    length = config.frame_length
    reports = [
        FrameReport(f"s{k}", time.time_ns(), config.spacecraft_id, 1, n % 256, bytes([n % 251]) * length,
                    count_epoch=n // 256)
        for n in range(args.frames) for k in range(args.stations)
    ]  # fmt: skip
    octets = len(reports) * length
    print(
        f"{len(reports)} reports of {length}-octet frames ({octets / 1e6:.1f} MB), {args.stations} stations"
    )
    with tempfile.TemporaryDirectory() as store, NatsServer(Path(store)) as server:
        url = server.url

        def publish() -> None:
            with FramePublisher(url, max_queue=len(reports) + 1) as publisher:
                for report in reports:
                    publisher.publish(report)
            assert publisher.counters.stored == len(reports), publisher.counters

        row("publish (acknowledged)", octets, *timed(publish)[:2])
        wall, cpu, got = timed(lambda: consume_all(url, len(reports), lambda m: None))
        assert got == len(reports)
        row("consume, baseline (no decoding, no merging)", octets, wall, cpu)

        merger = FrameMerger(config.vc_count_modulo, 1024, config.spacecraft_id)

        def merge(message) -> None:
            merger.add(FrameReport.unpack(message.data))

        wall, cpu, got = timed(lambda: consume_all(url, len(reports), merge))
        merger.flush()
        assert merger.counters.frames_out == args.frames, merger.counters
        row("consume + decode + merge", octets, wall, cpu)

        with tempfile.TemporaryDirectory() as out:
            station = GroundStation(Path(out), channel=config, write_products=False)
            chain = FrameMerger(config.vc_count_modulo, 1024, config.spacecraft_id)

            def merge_and_reduce(message) -> None:
                for merged in chain.add(FrameReport.unpack(message.data)):
                    station.feed_stream(Layer.FRAMES, merged.report.frame)

            wall, cpu, got = timed(lambda: consume_all(url, len(reports), merge_and_reduce))
            row("consume + decode + merge + ground chain", octets, wall, cpu)

        latencies: list[float] = []
        with FramePublisher(url) as publisher, FrameConsumer(url) as consumer:
            consumer.fetch(1 << 20, 0.5)
            while consumer.fetch(1 << 20, 0.5):  # skip what the stream already holds
                pass
            for n in range(args.latency):
                publisher.publish(
                    FrameReport("lat", time.time_ns(), config.spacecraft_id, 2, n % 256, bytes(length),
                                count_epoch=n // 256)
                )  # fmt: skip
                for message in consumer.fetch(64, 0.0):
                    latencies.append(time.time_ns() - FrameReport.unpack(message.data).received_ns)
                time.sleep(0.001)
            deadline = time.monotonic() + 10
            while len(latencies) < args.latency and time.monotonic() < deadline:
                for message in consumer.fetch(64, 0.05):
                    latencies.append(time.time_ns() - FrameReport.unpack(message.data).received_ns)
        latencies.sort()
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print(
            f"latency added by the bus (publish -> merger), {len(latencies)} reports at 1/ms: "
            f"median {statistics.median(latencies) / 1e6:.2f} ms, p99 {p99 / 1e6:.2f} ms"
        )


if __name__ == "__main__":
    main()
