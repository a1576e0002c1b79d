"""The probe's uplink socket: a ZeroMQ PULL that command senders connect to.

It is bound, refuses a message over the size limit (ZeroMQ drops that sender's connection), and
watches its connections (``connections`` is how many senders are connected now), which ``log``
(optional) tells as ``label`` opened / closed.
"""

from __future__ import annotations

import logging
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from transport.limits import limit_message_size


class Puller:
    """A PULL bound to ``endpoint``."""

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[Any] | None = None,
        *,
        log: logging.Logger | None = None,
        label: str = "connection",
    ) -> None:
        self.endpoint = endpoint
        self._log = log
        self._label = label
        self._socket = limit_message_size((context or zmq.Context.instance()).socket(zmq.PULL))
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(endpoint)
        self._monitor = self._socket.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self.connections = 0  # senders connected now

    def _watch_connections(self) -> None:
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_ACCEPTED:
                self.connections += 1
                if self._log is not None:
                    self._log.info("%s opened (%d open)", self._label, self.connections)
            elif event == zmq.EVENT_DISCONNECTED:
                self.connections = max(0, self.connections - 1)
                if self._log is not None:
                    self._log.info("%s closed (%d open)", self._label, self.connections)

    def receive(self, max_messages: int = 64) -> list[list[bytes]]:
        """Whatever messages have arrived (at most ``max_messages``), without waiting."""
        self._watch_connections()
        out: list[list[bytes]] = []
        for _ in range(max_messages):
            try:
                out.append(self._socket.recv_multipart(flags=zmq.NOBLOCK))
            except zmq.Again:
                break
        return out

    def close(self) -> None:
        self._socket.disable_monitor()
        self._monitor.close()
        self._socket.close()
