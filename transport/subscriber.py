"""The one receiving socket of a tap: a ZeroMQ SUB that refuses oversized messages and comes back.

A ground station, a recorder and a command client each connect one to a publisher
(:class:`transport.publisher.Publisher`). Its receive queue is bounded (``high_water_mark``
messages, see :func:`transport.limits.receive_high_water_mark` to size it in octets); a message over
the size limit is refused by ZeroMQ, and the :class:`~transport.connection_guard.ConnectionGuard`
behind it counts the refusal and connects again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import zmq

from transport.connection_guard import ConnectionGuard
from transport.limits import limit_message_size


class Subscriber:
    """A SUB on ``topics`` connected to ``endpoint``; :meth:`refusals` reconnects after a refusal."""

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[bytes],
        context: zmq.Context[Any] | None = None,
        *,
        high_water_mark: int = 1000,
    ) -> None:
        self.endpoint = endpoint
        self.socket = limit_message_size((context or zmq.Context.instance()).socket(zmq.SUB))
        self.socket.setsockopt(zmq.RCVHWM, high_water_mark)
        self.socket.setsockopt(zmq.LINGER, 0)
        for topic in topics:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic)
        self._guard = ConnectionGuard(self.socket)  # an oversized message drops the link: made again
        self._guard.connect(endpoint)

    @property
    def refused(self) -> int:
        """Messages refused so far (each one dropped connection, made again)."""
        return self._guard.refused

    def refusals(self) -> list[str]:
        """The endpoints whose connection ZeroMQ refused since the last call (now made again)."""
        return self._guard.poll()

    def poll(self, timeout_ms: int) -> bool:
        """True once a message is waiting (within ``timeout_ms``)."""
        return bool(self.socket.poll(timeout_ms, zmq.POLLIN))

    def receive(self) -> list[bytes] | None:
        """The next queued message's frames, or None when nothing is queued (never waits)."""
        try:
            return self.socket.recv_multipart(flags=zmq.NOBLOCK)
        except zmq.Again:
            return None

    def close(self) -> None:
        self._guard.close()
        self.socket.close()
