"""The uplink's pair: what a sender pushes, the puller receives unchanged, and it counts its
connections."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from protocols.capture.zmq_framing import TOPIC_UPLINK
from transport.puller import Puller
from transport.sender import Sender


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.term()


def test_a_sender_reaches_a_puller_which_counts_its_connections(tmp_path: Path, context: zmq.Context) -> None:
    puller = Puller(f"ipc://{tmp_path}/tc", context)
    sender = Sender(puller.endpoint, context, linger_ms=0)
    try:
        assert sender.send([TOPIC_UPLINK, b"e", b"command"])
        deadline = time.monotonic() + 10
        messages: list[list[bytes]] = []
        while not messages or puller.connections != 1:
            assert time.monotonic() < deadline
            messages += puller.receive()
            time.sleep(0.01)
        assert messages == [[TOPIC_UPLINK, b"e", b"command"]]
    finally:
        sender.close()
        puller.close()
