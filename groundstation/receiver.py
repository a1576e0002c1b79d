"""The ground station process loop: a ZeroMQ SUB feeding the processing chain."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import zmq

from groundstation.station import GroundStation
from protocols.channel_config import PhysicalChannelConfig
from protocols.zmq_framing import TOPIC_DOWNLINK

log = logging.getLogger("paleblue.ground")

RECEIVE_HIGH_WATER_MARK = 100_000


def run_ground_station(
    downlink: str,
    out_dir: Path,
    stop: threading.Event,
    expect_images: int | None = None,
    timeout_s: float | None = None,
    on_message: Callable[[list[bytes], int], None] | None = None,
    channel: PhysicalChannelConfig | None = None,
) -> dict:
    """Receive until stopped, until ``expect_images`` images are done, or until the timeout.

    ``on_message(parts, receive_ns)`` sees every message first (a recorder hooks in here).
    Returns the pass summary, also written to ``out_dir``.
    """
    station = GroundStation(out_dir, expect_images, channel)
    context = zmq.Context.instance()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.RCVHWM, RECEIVE_HIGH_WATER_MARK)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SUBSCRIBE, TOPIC_DOWNLINK)
    socket.connect(downlink)
    log.info("listening on %s, products to %s", downlink, out_dir)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while not stop.is_set() and not station.finished:
            if deadline is not None and time.monotonic() > deadline:
                log.warning("timeout after %.0f s with %d image(s) done", timeout_s, station.images_done)
                break
            if not socket.poll(100, zmq.POLLIN):
                continue
            for _ in range(10_000):  # drain what is queued before polling again
                try:
                    parts = socket.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                if on_message is not None:
                    on_message(parts, time.time_ns())
                station.handle_message(parts)
                if station.finished:
                    break
    finally:
        socket.close()
    return station.finish()
