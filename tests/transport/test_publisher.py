"""The publisher waits for its subscribers and holds back instead of dropping; the subscriber
receives every message in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from protocols.capture.zmq_framing import TOPIC_DOWNLINK
from transport.publisher import Publisher
from transport.subscriber import Subscriber


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.term()


def _receive(subscriber: Subscriber, timeout_s: float = 10.0) -> list[bytes]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if subscriber.poll(50):
            parts = subscriber.receive()
            if parts is not None:
                return parts
    raise AssertionError("nothing received")


def test_a_publisher_waits_for_its_subscriber_then_delivers_every_message(
    tmp_path: Path, context: zmq.Context
) -> None:
    publisher = Publisher(f"ipc://{tmp_path}/tm", context, send_high_water_mark=4, linger_ms=0)
    subscriber = Subscriber(publisher.endpoint, [TOPIC_DOWNLINK], context, high_water_mark=4)
    try:
        assert publisher.wait_for_topics([TOPIC_DOWNLINK], timeout_s=10)
        assert publisher.subscribers == 1
        received: list[list[bytes]] = []

        def read() -> None:
            for _ in range(200):
                received.append(_receive(subscriber))

        reader = threading.Thread(target=read)
        reader.start()
        for i in range(200):  # far over both high-water marks: held back, never dropped
            message = [TOPIC_DOWNLINK, b"e", i.to_bytes(2, "big")]
            assert publisher.send(message, deadline=time.monotonic() + 10)
        reader.join(20)
        assert [int.from_bytes(parts[2], "big") for parts in received] == list(range(200))
        assert subscriber.refused == 0
    finally:
        subscriber.close()
        publisher.close()


def test_a_blocked_publisher_gives_up_on_stop_or_deadline(tmp_path: Path, context: zmq.Context) -> None:
    publisher = Publisher(f"ipc://{tmp_path}/tm", context, send_high_water_mark=1, linger_ms=0, poll_ms=10)
    subscriber = Subscriber(publisher.endpoint, [TOPIC_DOWNLINK], context, high_water_mark=1)
    try:
        assert publisher.wait_for_subscriber(timeout_s=10)
        deadline = time.monotonic() + 0.5
        sent = 0
        while publisher.send([TOPIC_DOWNLINK, b"e", bytes(1000)], deadline=deadline):  # nobody reads
            sent += 1
            assert sent < 10_000
        stop = threading.Event()
        stop.set()
        assert not publisher.send([TOPIC_DOWNLINK, b"e", b""], stop)
        assert not publisher.wait_for_topics([b"other"], stop)
        assert not publisher.wait_for_topics([b"other"], timeout_s=0.1)
    finally:
        subscriber.close()
        publisher.close()
