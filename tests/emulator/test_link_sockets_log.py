"""The probe's sockets say what happened: a downlink subscription is not a ground station by
necessity, and a command sender's connection shows on the uplink as a command connection."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import zmq

from emulator.downlink import Downlink
from emulator.uplink import Uplink
from protocols.capture.zmq_framing import TOPIC_DOWNLINK


def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_command_client_shows_as_a_command_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="paleblue.probe")
    context = zmq.Context()
    downlink = Downlink(f"ipc://{tmp_path}/down", context)
    uplink = Uplink(f"ipc://{tmp_path}/up", context)
    # what `paleblue cmd` opens: a PUSH to the uplink and a SUB on the downlink
    push = context.socket(zmq.PUSH)
    sub = context.socket(zmq.SUB)
    try:
        push.connect(uplink.endpoint)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC_DOWNLINK)
        sub.connect(downlink.endpoint)
        assert downlink.wait_for_subscriber(threading.Event(), poll_ms=50)

        def opened() -> bool:
            uplink.receive()
            return uplink.connections == 1

        _until(opened)
        push.close(linger=0)
        push = None

        def closed() -> bool:
            uplink.receive()
            return uplink.connections == 0

        _until(closed)
    finally:
        for socket in (push, sub):
            if socket is not None:
                socket.close(linger=0)
        uplink.close()
        downlink.close()
        context.term()
    messages = [r.getMessage() for r in caplog.records]
    assert not any("ground station subscribed" in m for m in messages), messages
    assert any(m.startswith("downlink subscriber joined") for m in messages), messages
    assert "uplink: command connection opened (1 open)" in messages
    assert "uplink: command connection closed (0 open)" in messages
