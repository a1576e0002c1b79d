"""The one publishing socket: a ZeroMQ XPUB that never drops silently.

It sets ``XPUB_NODROP``, so a full send queue holds the sender back instead of dropping messages:
back-pressure, not loss, paced by the slowest subscriber. ``XPUB_VERBOSE`` passes up every
subscription, so a subscriber that reconnects (after ZeroMQ refused an oversized message) is seen
subscribing again. A sender waits for its subscribers before the first message, so one started
after it (a slow joiner) still receives everything. The probe's downlink, a replayed recording and
the stream fuzzer all send on it; what they send is :mod:`protocols.capture.zmq_framing`'s three frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import zmq

from transport.limits import limit_message_size

DEFAULT_SEND_HIGH_WATER_MARK = 1000
DRAIN_EVERY = 256  # messages sent between two reads of the subscription messages
_NOBLOCK, _NOBLOCK_MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)
_COPY_BELOW = 65536  # octets: pyzmq's own copy threshold


class Publisher:
    """An XPUB bound to ``endpoint``, with back-pressure and an ear on subscriptions.

    ``subscribers`` counts subscriptions minus unsubscriptions seen so far. ``log`` (optional)
    tells who joins and leaves, as ``label`` joined / left.
    """

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[Any] | None = None,
        *,
        send_high_water_mark: int = DEFAULT_SEND_HIGH_WATER_MARK,
        linger_ms: int = 2000,
        poll_ms: int = 100,
        log: logging.Logger | None = None,
        label: str = "subscriber",
    ) -> None:
        self.endpoint = endpoint
        self.poll_ms = poll_ms
        self._log = log
        self._label = label
        self._socket = limit_message_size((context or zmq.Context.instance()).socket(zmq.XPUB))
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        self._socket.setsockopt(zmq.XPUB_VERBOSE, 1)  # see every subscriber, not only the first
        self._socket.setsockopt(zmq.SNDHWM, send_high_water_mark)
        self._socket.setsockopt(zmq.LINGER, linger_ms)  # deliver what is queued when we close
        self._socket.bind(endpoint)
        self.subscribers = 0
        self.messages_sent = 0
        # subscriptions no wait_for_topics has claimed yet (read while sending, say)
        self._unclaimed: deque[bytes] = deque(maxlen=1024)

    def read_subscriptions(self, timeout_ms: int = 0) -> list[bytes]:
        """The topic prefixes subscribed since the last read (waits up to ``timeout_ms`` for one)."""
        topics: list[bytes] = []
        while self._socket.poll(timeout_ms, zmq.POLLIN):
            message = self._socket.recv()
            if message[:1] == b"\x01":
                self.subscribers += 1
                topics.append(message[1:])
                self._unclaimed.append(message[1:])
                if self._log is not None:
                    self._log.info(
                        "%s joined, topic %r (%d now)",
                        self._label, message[1:].decode("ascii", "replace"), self.subscribers,
                    )  # fmt: skip
            elif message[:1] == b"\x00":
                self.subscribers = max(0, self.subscribers - 1)
                if self._log is not None:
                    self._log.info("%s left (%d remain)", self._label, self.subscribers)
            timeout_ms = 0
        return topics

    def wait_for_subscriber(
        self,
        stop: threading.Event | None = None,
        count: int = 1,
        timeout_s: float | None = None,
        poll_ms: int | None = None,
    ) -> bool:
        """Block until ``count`` subscribers are there; False if ``stop`` or the timeout comes first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not (stop is not None and stop.is_set()):
            self.read_subscriptions(self.poll_ms if poll_ms is None else poll_ms)
            if self.subscribers >= count:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
        return False

    def wait_for_topics(
        self, topics: Iterable[bytes], stop: threading.Event | None = None, timeout_s: float | None = None
    ) -> bool:
        """Block until subscriptions cover every topic (one SUB's arrive one by one).

        Counted are the subscriptions no earlier wait claimed: after a subscriber was refused a
        message, it is its subscribing again. False if ``stop`` or the timeout comes first."""
        missing = set(topics)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            while self._unclaimed and missing:
                prefix = self._unclaimed.popleft()
                missing = {topic for topic in missing if not topic.startswith(prefix)}
            if not missing:
                return True
            if stop is not None and stop.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self.read_subscriptions(self.poll_ms)

    def send(
        self, frames: list[bytes], stop: threading.Event | None = None, deadline: float | None = None
    ) -> bool:
        """One message; blocks while a subscriber is behind (back-pressure).

        False, and nothing sent, if ``stop`` was set or the ``deadline`` (``time.monotonic``)
        passed while blocked."""
        while True:
            try:
                self._send_parts(frames)
                break
            except zmq.Again:
                if stop is not None and stop.is_set():
                    return False
                if deadline is not None and time.monotonic() > deadline:
                    return False
                self.read_subscriptions(0)
                self._socket.poll(self.poll_ms, zmq.POLLOUT)
        self.messages_sent += 1
        if self.messages_sent % DRAIN_EVERY == 0:
            self.read_subscriptions(0)
        return True

    def _send_parts(self, frames: list[bytes]) -> None:
        """``send_multipart(frames, NOBLOCK)`` with the flags as plain ints: pyzmq's
        own loop combines enum flags for every part (IntFlag.__or__, a fifth of a replay's time).
        Only the first part can raise ``zmq.Again``: once it is queued, ZeroMQ takes the rest."""
        send, last = self._socket.send, len(frames) - 1
        for index, frame in enumerate(frames):
            # a small frame is copied (faster than wrapping it in a zmq.Frame), a large one is not
            send(frame, _NOBLOCK_MORE if index < last else _NOBLOCK, copy=len(frame) < _COPY_BELOW)

    def close(self) -> None:
        self._socket.close()
