"""The probe's uplink: telecommand messages from the shared puller, checked.

PULL (not SUB) because commands must not be lost to a slow join: a PUSH sender queues its message
until the connection is up. Each message has the three frames of :mod:`protocols.capture.zmq_framing` with
topic ``tc``; the payload is one CLTU (layer CLTUS) or one bare TC packet (layer PACKETS).
"""

from __future__ import annotations

import logging

import zmq

from protocols.capture.zmq_framing import TOPIC_UPLINK, Envelope, Layer
from protocols.errors import DecodeError
from transport.puller import Puller

log = logging.getLogger("paleblue.probe.uplink")


class Uplink:
    def __init__(self, endpoint: str, context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        # the uplink is where commands come from: say when a sender (`paleblue cmd`, a ground
        # station) connects or goes
        self._puller = Puller(endpoint, context, log=log, label="uplink: command connection")
        self.rejected = 0

    @property
    def connections(self) -> int:
        """Command senders connected now (`paleblue cmd`, a ground station)."""
        return self._puller.connections

    def receive(self, max_messages: int = 64) -> list[tuple[Layer, bytes]]:
        """Whatever has arrived (without waiting): (layer, payload) pairs; malformed ones are counted."""
        out: list[tuple[Layer, bytes]] = []
        for parts in self._puller.receive(max_messages):
            if len(parts) != 3 or parts[0] != TOPIC_UPLINK:
                self.rejected += 1
                log.warning("uplink: malformed message of %d frames ignored", len(parts))
                continue
            try:
                envelope = Envelope.unpack(parts[1])
            except DecodeError as exc:
                self.rejected += 1
                log.warning("uplink: %s", exc)
                continue
            out.append((envelope.layer, parts[2]))
        return out

    def close(self) -> None:
        self._puller.close()
