"""The uplink's sending socket: a ZeroMQ PUSH connected to the probe's PULL.

PUSH (not PUB) because commands must not be lost to a slow join: a PUSH that connects queues its
messages until the connection is up (at most ``high_water_mark`` of them).
"""

from __future__ import annotations

from typing import Any

import zmq

from transport.limits import limit_message_size


class Sender:
    """A PUSH connected to ``endpoint``."""

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[Any] | None = None,
        *,
        linger_ms: int = 2000,
        high_water_mark: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._socket = limit_message_size((context or zmq.Context.instance()).socket(zmq.PUSH))
        self._socket.setsockopt(zmq.LINGER, linger_ms)
        if high_water_mark is not None:
            self._socket.setsockopt(zmq.SNDHWM, high_water_mark)
        self._socket.connect(endpoint)

    def send(self, frames: list[bytes], block: bool = True) -> bool:
        """One message; with ``block=False``, False (nothing sent) if the queue is full."""
        try:
            self._socket.send_multipart(frames, flags=0 if block else zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def close(self) -> None:
        self._socket.close()
