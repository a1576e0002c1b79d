"""A receiving socket that refuses oversized messages, says so, and comes back.

Every socket we open sets ``ZMQ_MAXMSGSIZE`` (:func:`transport.limits.limit_message_size`):
ZeroMQ reads a frame's length before its octets and refuses a longer frame before buffering any of
it, by dropping the connection. For a socket that *connects* (the ground station's SUB, a tap's,
a command client's) the connection does not come back on its own: libzmq 4.3 ends the session on
such a protocol error instead of reconnecting, where a peer that merely went away is reconnected
(``ZMQ_EVENT_CONNECT_RETRIED`` follows its ``ZMQ_EVENT_DISCONNECTED`` at once). So a
:class:`ConnectionGuard` watches the socket's monitor events: a disconnection that ZeroMQ does not
follow with a reconnection attempt within ``grace_s`` is a refusal, counted, and the endpoint is
connected again, so the station goes on receiving what follows.

What is counted is exactly what ZeroMQ tells: a connection it dropped on a protocol error after
the handshake. On our SUB sockets that is a frame over the limit (or a peer that breaks the
ZMTP framing itself); messages the dropped connection still held are lost with it and show as
gaps in the envelope sequence.

Not bounded by ZeroMQ: the number of frames in one multipart message. libzmq holds a message until
its last frame arrives and its high-water mark counts whole messages, so a peer sending one
message of endless frames (each under the limit) is buffered whole.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import zmq
from zmq.utils.monitor import recv_monitor_message

_EVENTS = zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_DELAYED
_BACK = {zmq.EVENT_CONNECT_RETRIED, zmq.EVENT_CONNECTED, zmq.EVENT_CONNECT_DELAYED}


class ConnectionGuard:
    """Connects ``socket`` and makes again any connection ZeroMQ dropped for a protocol error.

    Call :meth:`poll` from the receive loop: it returns the endpoints refused since the last call
    (each one refused message) and reconnects them. ``refused`` is the total.
    """

    def __init__(
        self, socket: zmq.Socket, grace_s: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._socket = socket
        self._monitor = socket.get_monitor_socket(_EVENTS)
        self._grace_s = grace_s
        self._clock = clock
        self._endpoints: list[str] = []
        self._dropped: dict[str, float] = {}
        self.refused = 0

    def connect(self, endpoint: str) -> None:
        self._socket.connect(endpoint)
        self._endpoints.append(endpoint)

    def _ours(self, endpoint: str) -> str | None:
        if endpoint in self._endpoints:
            return endpoint
        return self._endpoints[0] if len(self._endpoints) == 1 else None  # e.g. a resolved host name

    def poll(self) -> list[str]:
        """Read the monitor; reconnect and return the endpoints whose connection was refused."""
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            endpoint = self._ours(event["endpoint"].decode(errors="replace"))
            if endpoint is None:
                continue
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self._dropped.setdefault(endpoint, self._clock())
            elif event["event"] in _BACK:
                self._dropped.pop(endpoint, None)  # ZeroMQ reconnects by itself: the peer went away
        now = self._clock()
        refused = [e for e, since in self._dropped.items() if now - since >= self._grace_s]
        for endpoint in refused:
            del self._dropped[endpoint]
            with contextlib.suppress(zmq.ZMQError):  # the session may be gone already
                self._socket.disconnect(endpoint)
            self._socket.connect(endpoint)
            self.refused += 1
        return refused

    def close(self) -> None:
        """Stop monitoring (before the socket is closed)."""
        with contextlib.suppress(zmq.ZMQError):
            self._socket.disable_monitor()
        self._monitor.close(linger=0)
