"""The ground station process loop: a ZeroMQ SUB feeding the processing chain."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundstation.fault_log import FaultLog
from groundstation.link_security import UplinkSecurity
from groundstation.message_batch import MessageBatch
from groundstation.product_worker import ProductProcesses, ProductWorker, Worker
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Envelope, Layer
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.mdb.mission_db import MissionDatabase
from protocols.sdls.context import SecurityContext
from transport.limits import receive_high_water_mark
from transport.sender import Sender
from transport.subscriber import Subscriber

log = logging.getLogger("paleblue.ground")

# Octets ZeroMQ may queue for the station. The probe publishes with XPUB_NODROP, so a full queue
# holds the probe back instead of dropping: the bound is on memory, not on what arrives. ZeroMQ
# counts messages, so the queue is set to as many messages of the largest size a socket accepts
# (MAX_MESSAGE_OCTETS) as fit: 64 MiB is 63 messages.
RECEIVE_QUEUE_OCTETS = 64 << 20


def run_ground_station(
    downlink: str,
    out_dir: Path,
    stop: threading.Event,
    expect_images: int | None = None,
    timeout_s: float | None = None,
    on_message: Callable[[list[bytes], int], None] | None = None,
    channel: PhysicalChannelConfig | None = None,
    uplink: str | None = None,
    round_trip_s: float = 0.2,
    link_rate_bps: float | None = None,
    receive_queue: int | None = None,
    attach: Callable[[GroundStation, Callable[[Layer, bytes], None] | None], Any] | None = None,
    mdb: MissionDatabase | None = None,
    recording: Callable[[], dict] | None = None,
    downlink_security: SecurityContext | None = None,
    on_station: Callable[[GroundStation], None] | None = None,
    uplink_security: UplinkSecurity | None = None,
    product_processes: int = 0,
) -> dict:
    """Receive until stopped, until ``expect_images`` images are done, or until the timeout.

    ``mdb``: the mission database (None: paleblue's own).
    ``downlink_security`` / ``uplink_security``: SDLS on the downlink / on the CFDP replies, or None.
    ``on_station(station)`` runs once the station is made (``ground --bus`` taps its frames there).
    ``attach(station, send_uplink)`` (the archive and the API) returns services whose ``tick()``
    runs between batches of messages and whose ``close()`` runs on every way out.

    ``on_message(parts, receive_ns)`` sees every message first (a recorder hooks in here);
    ``recording()`` gives its counts for ``summary.json`` (``recording``).
    ``receive_queue``: octets ZeroMQ may hold for the station before the probe waits (None:
    ``RECEIVE_QUEUE_OCTETS``). A message over ``MAX_MESSAGE_OCTETS`` is refused by ZeroMQ; the
    refusal is counted (``transport.messages_refused``) and the connection made again.
    ``product_processes``: image products made in that many processes (0: on one thread).
    Returns the pass summary, also written to ``out_dir`` on every way out (an exception too).
    """
    uplink_sender = _UplinkSender(uplink) if uplink is not None else None
    send_uplink = uplink_sender.send if uplink_sender is not None else None
    worker = product_worker(product_processes)
    station = GroundStation(
        out_dir,
        expect_images,
        channel,
        mdb=mdb,
        send_uplink=send_uplink,
        round_trip_s=round_trip_s,
        link_rate_bps=link_rate_bps,
        downlink_security=downlink_security,
        uplink_security=uplink_security,
        product_worker=worker,
    )
    station.recording = recording
    if uplink_sender is not None:
        uplink_sender.faults = station.faults
    if on_station is not None:
        on_station(station)
    services = attach(station, send_uplink) if attach is not None else None
    subscriber = Subscriber(
        downlink,
        [TOPIC_DOWNLINK],
        high_water_mark=receive_high_water_mark(receive_queue or RECEIVE_QUEUE_OCTETS),
    )
    log.info("listening on %s, products to %s", downlink, out_dir)
    try:
        _receive(station, services, subscriber, stop, timeout_s, on_message)
        summary = station.finish()
    except BaseException:  # an error or an interrupt: the pass still ends with its summary
        station.finish()
        raise
    finally:
        # after finish: the images it flushes (incomplete) are archived and announced too, and the
        # services' last tick sees every product the worker made
        station.images.collect(wait=True)
        if services is not None:
            services.close()
        subscriber.close()
        if uplink_sender is not None:
            uplink_sender.close()
        _close(worker)
    return summary


def product_worker(processes: int) -> Worker:
    """Image products off the receive path (bounded queue, back-pressure): in ``processes``
    processes, or on one thread (0)."""
    if not processes:
        return ProductWorker()
    worker = ProductProcesses(processes, preload=("groundstation.products",))
    worker.start()  # while the station starts: the first images find them ready
    return worker


def _close(worker: Worker) -> None:
    worker.close()
    if worker.waits:
        log.info("image products: the receive loop waited %d time(s) for the product worker", worker.waits)


class _UplinkSender:
    """CFDP replies up a ZeroMQ PUSH; one the probe does not take is lost, as over a link, and counted."""

    def __init__(self, uplink: str) -> None:
        self.push = Sender(uplink, linger_ms=0, high_water_mark=10_000)
        self.session = random.SystemRandom().getrandbits(32)
        self.sent = 0
        self.faults: FaultLog | None = None

    def send(self, layer: Layer, payload: bytes) -> None:
        envelope = Envelope(layer, self.session, self.sent).pack()
        if self.push.send([TOPIC_UPLINK, envelope, payload], block=False):
            self.sent += 1
        elif self.faults is not None:  # the probe is not there: the reply is lost, as over a link
            self.faults.record("uplink not accepting", f"{len(payload)} octets dropped")

    def close(self) -> None:
        self.push.close()


def _receive(
    station: GroundStation,
    services: Any,
    subscriber: Subscriber,
    stop: threading.Event,
    timeout_s: float | None,
    on_message: Callable[[list[bytes], int], None] | None,
) -> None:
    """Messages to the station until stopped, done or out of time; timers between batches (the
    messages of a batch that hold whole packets are decoded joined: :class:`MessageBatch`)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    batch = MessageBatch(station)  # messages of whole packets decoded joined, with the same effects
    while not stop.is_set() and not station.finished:
        if deadline is not None and time.monotonic() > deadline:
            log.warning("timeout after %.0f s with %d image(s) done", timeout_s, station.images_done)
            return
        station.tick()
        if services is not None:
            services.tick()
        for endpoint in subscriber.refusals():
            station.record_refused(endpoint)
        if not subscriber.poll(20):
            continue
        for _ in range(256):  # drain what is queued, then let the timers run
            parts = subscriber.receive()
            if parts is None:
                break
            if on_message is not None:
                on_message(parts, time.time_ns())
            batch.add(parts)
            if station.finished:
                break
        batch.flush()  # before the timers, and before the loop looks at whether the pass is done
