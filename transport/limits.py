"""Octet bounds on every socket: ZeroMQ refuses a frame over the limit before buffering it.

Every socket we open sets ``ZMQ_MAXMSGSIZE`` to :data:`protocols.capture.zmq_framing.MAX_MESSAGE_OCTETS`
(a receiving socket that *connects* then needs :class:`transport.connection_guard.ConnectionGuard`
to come back after a refusal), and a receive queue is sized in octets, not messages.
"""

from __future__ import annotations

import zmq

from protocols.capture.zmq_framing import MAX_MESSAGE_OCTETS


def limit_message_size(socket: zmq.Socket) -> zmq.Socket:
    """Refuse frames over :data:`MAX_MESSAGE_OCTETS` on ``socket`` (set before bind or connect)."""
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_OCTETS)
    return socket


def receive_high_water_mark(queue_octets: int) -> int:
    """Messages ZeroMQ may queue so that they hold at most ``queue_octets`` (at least one message).

    ZeroMQ's receive queue counts messages; each holds at most ``MAX_MESSAGE_OCTETS`` octets of
    payload (plus 18 of topic and envelope), so this many messages bound it in octets."""
    return max(1, queue_octets // (MAX_MESSAGE_OCTETS + 64))
