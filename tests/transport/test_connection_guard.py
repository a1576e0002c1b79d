"""Byte bounds on the live station: an oversized message is refused, counted, and the link made again."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from groundstation.receiver import run_ground_station
from protocols.capture.zmq_framing import MAX_MESSAGE_OCTETS, TOPIC_DOWNLINK, Envelope, Layer
from transport.connection_guard import ConnectionGuard
from transport.limits import receive_high_water_mark

TEN_MB = 10_000_000


@pytest.fixture
def endpoint() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pb-guard-") as directory:
        yield f"ipc://{directory}/tm"


def _wait(condition, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


class _Publisher:
    def __init__(self, context: zmq.Context, endpoint: str) -> None:
        self.socket = context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)

    def wait_for_subscription(self) -> None:
        assert self.socket.poll(20_000), "no subscriber"
        while self.socket.recv()[:1] != b"\x01":  # after a dropped connection: b"\x00tm" then b"\x01tm"
            assert self.socket.poll(20_000), "the subscriber did not come back"

    def send(self, sequence: int, payload: bytes = b"") -> None:
        self.socket.send_multipart([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 9, sequence).pack(), payload])


def test_a_10_mb_message_into_a_live_station_is_refused_counted_and_the_station_goes_on(
    tmp_path: Path, endpoint: str
) -> None:
    context = zmq.Context()
    publisher = _Publisher(context, endpoint)
    stop, received, result = threading.Event(), [], {}

    def station() -> None:
        result["summary"] = run_ground_station(
            endpoint, tmp_path / "out", stop, on_message=lambda parts, ns: received.append(len(parts[2]))
        )

    thread = threading.Thread(target=station)
    thread.start()
    try:
        publisher.wait_for_subscription()
        publisher.send(0)
        _wait(lambda: len(received) == 1, "the first message")
        publisher.send(1, bytes(TEN_MB))
        publisher.wait_for_subscription()  # the station dropped the connection and made it again
        for sequence in range(2, 6):
            publisher.send(sequence)
        _wait(lambda: len(received) == 5, "the messages after the refused one")
    finally:
        stop.set()
        thread.join(30)
        publisher.socket.close()
        context.term()
    assert not thread.is_alive()
    summary = result["summary"]
    assert received == [0] * 5, "the 10 MB message never reached the station"
    transport = summary["transport"]
    assert transport["messages_refused"] == 1
    assert summary["faults"]["message refused by ZeroMQ"] == 1
    assert (transport["messages_received"], transport["messages_lost"]) == (5, 1)  # its sequence: a gap
    on_disk = (tmp_path / "out" / "summary.json").read_text()
    assert '"messages_refused": 1' in on_disk


def test_a_publisher_that_restarts_is_not_a_refusal(endpoint: str) -> None:
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC_DOWNLINK)
    guard = ConnectionGuard(sub, grace_s=0.2)
    publishers = [_Publisher(context, endpoint)]
    try:
        guard.connect(endpoint)
        publishers[0].wait_for_subscription()
        publishers[0].socket.close()  # the probe goes away...
        time.sleep(0.3)
        publishers.append(_Publisher(context, endpoint))  # ...and comes back: ZeroMQ reconnects
        resubscribed = time.monotonic() + 20
        while not publishers[1].socket.poll(20):  # the SUB resends its subscription when used
            assert guard.poll() == [] and time.monotonic() < resubscribed
            sub.poll(0)
        time.sleep(0.5)
        assert guard.poll() == [] and guard.refused == 0
    finally:
        for publisher in publishers:
            publisher.socket.close()
        guard.close()
        sub.close()
        context.term()


def test_the_receive_queue_is_bounded_in_octets() -> None:
    assert receive_high_water_mark(64 << 20) * MAX_MESSAGE_OCTETS <= 64 << 20
    assert receive_high_water_mark(4) == 1  # at least one message, however small the bound
