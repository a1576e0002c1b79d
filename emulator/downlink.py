"""The probe's downlink: sequence-numbered envelopes on the shared publisher.

The probe publishes on a :class:`transport.publisher.Publisher` (an XPUB with ``XPUB_NODROP``: a
full send queue blocks the probe instead of dropping messages, back-pressure, not loss). It holds
its downlink until the first subscriber arrives, so a ground station started after the probe (a
slow joiner) still receives the first image. Every message carries the envelope of
:mod:`protocols.capture.zmq_framing` with a per-session sequence number, so any loss that happens anyway is
counted by the receiver.
"""

from __future__ import annotations

import logging
import random
import threading

import zmq

from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from transport.publisher import Publisher

log = logging.getLogger("paleblue.probe.downlink")

SEND_HIGH_WATER_MARK = 2000


class Downlink:
    """Publishes link units with back-pressure and sequence-numbered envelopes."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None, session: int | None = None) -> None:
        self.endpoint = endpoint
        # A subscription says only that someone listens: a ground station, a recorder, or the
        # `cmd` client watching for its verification reports (its commands arrive on the uplink).
        self._publisher = Publisher(
            endpoint, context, send_high_water_mark=SEND_HIGH_WATER_MARK, linger_ms=2000, poll_ms=50,
            log=log, label="downlink subscriber",
        )  # fmt: skip
        self.session = random.SystemRandom().getrandbits(32) if session is None else session
        self.sequence = 0
        self.octets_sent = 0

    @property
    def subscribers(self) -> int:
        """Subscribers now: ground stations, taps or command clients."""
        return self._publisher.subscribers

    def wait_for_subscriber(self, stop: threading.Event, poll_ms: int = 100, count: int = 1) -> bool:
        """Block until ``count`` subscribers (ground stations, taps) are there; False if stopped first."""
        return self._publisher.wait_for_subscriber(stop, count, poll_ms=poll_ms)

    def send(self, layer: Layer, payload: bytes, stop: threading.Event | None = None) -> bool:
        """Send one unit; blocks under back-pressure. False if ``stop`` was set while blocked."""
        envelope = Envelope(layer, self.session, self.sequence).pack()
        if not self._publisher.send([TOPIC_DOWNLINK, envelope, payload], stop):
            return False
        self.sequence += 1
        self.octets_sent += len(payload)
        return True

    def close(self) -> None:
        self._publisher.close()
