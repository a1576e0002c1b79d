"""A three-server JetStream cluster keeps the pass when one server is killed mid-pass."""

from __future__ import annotations

import time

import pytest

from groundstation.merge.best_frame import FrameMerger
from protocols.bus.frame_report import FrameReport
from transport.nats_bus import FrameConsumer, FramePublisher

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

FRAMES = 3000


def test_killing_one_of_three_servers_loses_nothing_and_counts_nothing_twice(nats_cluster) -> None:
    url = ",".join(s.url for s in nats_cluster)
    stations = ("gds", "mad")
    publishers = {name: FramePublisher(url, replicas=3, ack_timeout_s=2.0, retries=10) for name in stations}
    try:
        for count in range(FRAMES):
            for name, publisher in publishers.items():
                publisher.publish(
                    FrameReport(name, time.time_ns(), 245, 1, count % 256, count.to_bytes(4, "big") * 50,
                                count_epoch=count // 256)
                )  # fmt: skip
            if count == FRAMES // 2:
                nats_cluster[0].kill()  # kill -9 one server mid-pass
            if count % 100 == 99:
                time.sleep(0.01)
        for publisher in publishers.values():
            assert publisher.flush(60)
    finally:
        for publisher in publishers.values():
            publisher.close()
    for publisher in publishers.values():
        assert publisher.counters.failed == publisher.counters.queue_full == 0
        # a retry of a report the stream had stored (its ack lost in the failover) is a duplicate
        assert publisher.counters.stored + publisher.counters.duplicates == FRAMES
    # the reports in flight at the failover (up to 2048 per publisher) are stored after newer ones:
    # the reordering window covers them (a narrower one counts them in window_exceeded)
    merger = FrameMerger(256, 4096)
    out = []
    survivors = ",".join(s.url for s in nats_cluster[1:])
    with FrameConsumer(survivors, replicas=3) as consumer:
        deadline = time.monotonic() + 60
        received = 0
        while received < 2 * FRAMES and time.monotonic() < deadline:
            for message in consumer.fetch(2048, 0.2):
                received += 1
                out += merger.add(FrameReport.unpack(message.data))
    out += merger.flush()
    assert received == 2 * FRAMES
    assert [m.unwrapped_count - out[0].unwrapped_count for m in out] == list(range(FRAMES))
    c = merger.counters
    # every second copy counted once: within the window, or late (a retry stored after the failover)
    assert c.duplicates + c.late_duplicates == FRAMES
    assert c.frames_missed == c.window_exceeded == 0 and c.frames_out == FRAMES
