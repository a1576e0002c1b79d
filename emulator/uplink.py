"""The probe's uplink socket: a ZeroMQ PULL that telecommand senders connect to.

PULL (not SUB) because commands must not be lost to a slow join: a PUSH
sender queues its message until the connection is up. Each message has the
three frames of :mod:`protocols.zmq_framing` with topic ``tc``; the payload is
one CLTU (layer CLTUS) or one bare TC packet (layer PACKETS).
"""

from __future__ import annotations

import logging

import zmq
from zmq.utils.monitor import recv_monitor_message

from protocols.errors import DecodeError
from protocols.zmq_framing import MAX_MESSAGE_OCTETS, TOPIC_UPLINK, Envelope, Layer

log = logging.getLogger("paleblue.probe.uplink")


class Uplink:
    def __init__(self, endpoint: str, context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        self._socket = (context or zmq.Context.instance()).socket(zmq.PULL)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_OCTETS)  # a longer one drops its sender
        self._socket.bind(endpoint)
        self._monitor = self._socket.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self.rejected = 0
        self.connections = 0  # command senders connected now (`paleblue cmd`, a ground station)

    def _log_connections(self) -> None:
        """Say when a command sender connects or goes: the uplink is where commands come from."""
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_ACCEPTED:
                self.connections += 1
                log.info("uplink: command connection opened (%d open)", self.connections)
            elif event == zmq.EVENT_DISCONNECTED:
                self.connections = max(0, self.connections - 1)
                log.info("uplink: command connection closed (%d open)", self.connections)

    def receive(self, max_messages: int = 64) -> list[tuple[Layer, bytes]]:
        """Whatever has arrived (without waiting): (layer, payload) pairs; malformed ones are counted."""
        self._log_connections()
        out: list[tuple[Layer, bytes]] = []
        for _ in range(max_messages):
            try:
                parts = self._socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
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
        self._socket.disable_monitor()
        self._monitor.close()
        self._socket.close()
