"""The station bus on a real nats-server: reports stored once per message id, consumed in order."""

from __future__ import annotations

import time

import pytest

from protocols.bus.frame_report import FrameReport
from transport.nats_bus import BusError, FrameConsumer, FramePublisher

pytestmark = pytest.mark.timeout(120)


def report(count: int, station: str = "gds", epoch: int = 0) -> FrameReport:
    return FrameReport(station, time.time_ns(), 245, 1, count, bytes([count]) * 100, count_epoch=epoch)


def consume(url: str, expected: int, timeout_s: float = 20.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout_s
    with FrameConsumer(url) as consumer:
        while len(got) < expected and time.monotonic() < deadline:
            got += consumer.fetch(1000, 0.2)
        time.sleep(0.3)
        got += consumer.fetch(1000, 0.1)  # nothing more may come
    return got


def test_a_retried_report_is_stored_once_and_counted(nats_server) -> None:
    with FramePublisher(nats_server.url) as publisher:
        for count in range(10):
            publisher.publish(report(count))
        publisher.publish(report(3))  # the station retries a frame: same message id
        publisher.publish(report(3, epoch=1))  # the same count one wrap later is another frame
        assert publisher.flush(20)
        counters = publisher.counters
    assert (counters.stored, counters.duplicates, counters.failed) == (11, 1, 0)
    got = consume(nats_server.url, 11)
    assert len(got) == 11
    assert [m.stream_sequence for m in got] == list(range(1, 12))
    decoded = [FrameReport.unpack(m.data) for m in got]
    assert [(r.frame_count, r.count_epoch) for r in decoded] == [(k, 0) for k in range(10)] + [(3, 1)]
    assert {m.subject for m in got} == {"paleblue.frames.gds"}


def test_stations_share_one_stream(nats_server) -> None:
    with FramePublisher(nats_server.url) as a, FramePublisher(nats_server.url) as b:
        for count in range(50):
            a.publish(report(count, "gds"))
            b.publish(report(count, "mad"))
    got = consume(nats_server.url, 100)
    by_station = {s: sum(m.subject.endswith(s) for m in got) for s in ("gds", "mad")}
    assert by_station == {"gds": 50, "mad": 50}


def test_no_bus_there_is_one_clear_error() -> None:
    from transport.nats_server import free_port

    with pytest.raises(BusError, match="cannot connect to the bus"):
        FramePublisher(f"nats://127.0.0.1:{free_port()}", connect_timeout_s=1.0)
