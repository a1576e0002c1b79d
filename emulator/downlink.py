"""The probe's downlink socket: a ZeroMQ XPUB that never drops silently.

The probe binds an XPUB socket (a PUB that also sees subscriptions) with
``XPUB_NODROP`` set, so a full send queue blocks the probe instead of dropping
messages: back-pressure, not loss. It holds its downlink until the first
subscriber arrives, so a ground station started after the probe (a slow
joiner) still receives the first image. Every message carries the envelope of
:mod:`protocols.zmq_framing` with a per-session sequence number, so any loss
that happens anyway is counted by the receiver.
"""

from __future__ import annotations

import logging
import random
import threading

import zmq

from protocols.zmq_framing import MAX_MESSAGE_OCTETS, TOPIC_DOWNLINK, Envelope, Layer

log = logging.getLogger("paleblue.probe.downlink")

SEND_HIGH_WATER_MARK = 2000


class Downlink:
    """Publishes link units on an XPUB with back-pressure and sequence-numbered envelopes."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None, session: int | None = None) -> None:
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        self._socket.setsockopt(zmq.XPUB_VERBOSE, 1)  # see every subscriber, not only the first
        self._socket.setsockopt(zmq.SNDHWM, SEND_HIGH_WATER_MARK)
        self._socket.setsockopt(zmq.LINGER, 2000)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_OCTETS)  # what subscribers send
        self._socket.bind(endpoint)
        self.session = random.SystemRandom().getrandbits(32) if session is None else session
        self.sequence = 0
        self.subscribers = 0
        self.octets_sent = 0

    def _drain_subscriptions(self, timeout_ms: int) -> None:
        while self._socket.poll(timeout_ms, zmq.POLLIN):
            message = self._socket.recv()
            # A subscription says only that someone listens: a ground station, a recorder, or the
            # `cmd` client watching for its verification reports (its commands arrive on the uplink).
            if message[:1] == b"\x01":
                self.subscribers += 1
                log.info(
                    "downlink subscriber joined, topic %r (%d now: ground stations, taps or command clients)",
                    message[1:].decode("ascii", "replace"), self.subscribers,
                )  # fmt: skip
            elif message[:1] == b"\x00":
                self.subscribers = max(0, self.subscribers - 1)
                log.info("downlink subscriber left (%d remain)", self.subscribers)
            timeout_ms = 0

    def wait_for_subscriber(self, stop: threading.Event, poll_ms: int = 100, count: int = 1) -> bool:
        """Block until ``count`` subscribers (ground stations, taps) are there; False if stopped first."""
        while not stop.is_set():
            self._drain_subscriptions(poll_ms)
            if self.subscribers >= count:
                return True
        return False

    def send(self, layer: Layer, payload: bytes, stop: threading.Event | None = None) -> bool:
        """Send one unit; blocks under back-pressure. False if ``stop`` was set while blocked."""
        envelope = Envelope(layer, self.session, self.sequence).pack()
        message = [TOPIC_DOWNLINK, envelope, payload]
        while True:
            try:
                self._socket.send_multipart(message, flags=zmq.NOBLOCK, copy=False)
                break
            except zmq.Again:
                if stop is not None and stop.is_set():
                    return False
                self._drain_subscriptions(0)
                self._socket.poll(50, zmq.POLLOUT)
        self.sequence += 1
        self.octets_sent += len(payload)
        if self.sequence % 256 == 0:
            self._drain_subscriptions(0)
        return True

    def close(self) -> None:
        self._socket.close()
