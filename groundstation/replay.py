"""Replay a recording as if it were a live probe: same socket pattern, same envelopes, new session.

The publisher behaves exactly like the probe's downlink: it binds an XPUB
with ``XPUB_NODROP`` and a send high-water mark (back-pressure instead of
silent drops), waits until a subscriber is present, then sends one
three-frame message per recorded unit with the recorded layer and payload.

The envelope gets a NEW random session id and fresh sequence numbers,
contiguous from 0 per topic, instead of the recorded ones: the ground counts
transport loss from sequence gaps, so a recording that was made by a late
tap, or replayed from a start time, or looped, must not look lossy; the new
session tells the ground this is a new publisher, like a restarted probe.
Loss that happened on the original link is still visible one layer up (CCSDS
frame and packet counters live in the payload, which is replayed verbatim).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import zmq

from groundstation.recording_reader import RecordingReader
from protocols.capture.recording import Direction, RecordingHeader, SkippedBytes
from protocols.capture.zmq_framing import Envelope
from transport.publisher import Publisher

DEFAULT_SNDHWM = 1000
_POLL_MS = 100


@dataclass
class ReplayStats:
    """What a replay sent; ``skipped`` is the damage the reader reported (last pass)."""

    sent: int = 0
    payload_bytes: int = 0
    passes: int = 0  # complete passes through the recording (more than 1 only with loop)
    session: int = 0
    first_receive_ns: int | None = None  # recorded time of the first unit sent
    last_receive_ns: int | None = None  # recorded time of the latest unit sent (progress)
    skipped: list[SkippedBytes] = field(default_factory=list)


class _Stopped(Exception):
    """The stop event fired while the publisher was waiting."""


class _Publisher:
    """The shared publisher, stopping with :class:`_Stopped` when ``stop`` fires while it waits."""

    def __init__(
        self, context: zmq.Context[Any], to: str, sndhwm: int, linger_ms: int, stop: threading.Event
    ):
        self.stop = stop
        self._publisher = Publisher(
            to, context, send_high_water_mark=sndhwm, linger_ms=linger_ms, poll_ms=_POLL_MS
        )

    def wait_for_subscribers(self, topics: Iterable[bytes]) -> None:
        """Return once every topic has a subscriber (one SUB's subscriptions arrive one by one)."""
        if not self._publisher.wait_for_topics(topics, self.stop):
            raise _Stopped

    def send(self, frames: list[bytes]) -> None:
        if not self._publisher.send(frames, self.stop):
            raise _Stopped

    def sleep_until(self, deadline_ns: int) -> None:
        delay = (deadline_ns - time.monotonic_ns()) / 1e9
        if delay > 0 and self.stop.wait(delay):
            raise _Stopped

    def close(self) -> None:
        self._publisher.close()


def parse_start_time(text: str, header: RecordingHeader | None) -> int:
    """A ``--from`` value as receive-time nanoseconds since the Unix epoch.

    ``+SECONDS`` counts from the recording's start (its header); an ISO 8601
    time without a zone is taken as UTC; a bare integer is already nanoseconds.
    """
    text = text.strip()
    if text.startswith("+"):
        if header is None:
            raise ValueError("a relative start time needs the recording header, which is damaged")
        seconds = float(text[1:])
        if not seconds >= 0:
            raise ValueError(f"relative start time {text!r} is not a non-negative number of seconds")
        return header.start_ns + round(seconds * 1e9)
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"start time {text!r} is not +SECONDS, an ISO 8601 time or nanoseconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def replay(
    path: str | os.PathLike[str],
    to: str,
    speed: float | None = 1.0,
    start_time_ns: int | None = None,
    loop: bool = False,
    stop: threading.Event | None = None,
    *,
    directions: Iterable[Direction] = (Direction.DOWNLINK,),
    sndhwm: int = DEFAULT_SNDHWM,
    linger_ms: int = 10_000,
    context: zmq.Context[Any] | None = None,
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """Publish the recording at ``path`` on an XPUB bound to ``to`` until done (or ``stop`` / Ctrl-C).

    ``speed`` scales the recorded receive-time spacing (2.0 = twice as fast);
    None sends as fast as the subscriber takes it. ``start_time_ns`` starts
    at the first unit received at or after it (found through the index).
    ``loop`` starts over (from ``start_time_ns``) until stopped, keeping the
    session and its sequence count so the ground sees no gap. Only downlink
    units are replayed unless ``directions`` says otherwise (sending starts once
    every replayed topic has a subscriber). Raises
    DecodeError / RecordingVersionError if ``path`` is not a readable recording.
    Returns once what was sent is delivered (at most ``linger_ms`` later),
    unless the caller passes its own ``context`` and terminates it later. A ``stats`` given is
    the one filled in as it goes (another thread may read it to show progress).
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be positive or None (as fast as possible), not {speed}")
    wanted = {Direction.parse(d) for d in directions}
    stop = stop or threading.Event()
    stats = stats if stats is not None else ReplayStats()
    stats.session = secrets.randbits(32)
    own_context = context is None
    context = context or zmq.Context()
    with RecordingReader(path) as reader:
        publisher = _Publisher(context, to, sndhwm, linger_ms, stop)
        try:
            publisher.wait_for_subscribers(d.topic for d in wanted)
            sequences = dict.fromkeys(wanted, 0)
            while True:
                sent_before = stats.sent
                _one_pass(reader, publisher, speed, start_time_ns, wanted, sequences, stats)
                stats.passes += 1
                stats.skipped = list(reader.skipped)
                if not loop or stats.sent == sent_before:  # an empty pass would loop forever
                    break
        except (_Stopped, KeyboardInterrupt):
            stats.skipped = list(reader.skipped)
        finally:
            publisher.close()
            if own_context:  # blocks until the subscriber has what was sent (or linger_ms runs out)
                context.term()
    return stats


def _one_pass(
    reader: RecordingReader,
    publisher: _Publisher,
    speed: float | None,
    start_time_ns: int | None,
    wanted: set[Direction],
    sequences: dict[Direction, int],
    stats: ReplayStats,
) -> None:
    first_ns: int | None = None
    wall_start_ns = 0
    for unit in reader.units(start_time_ns):
        if publisher.stop.is_set():
            raise _Stopped
        if unit.direction not in wanted:
            continue
        if first_ns is None:
            first_ns, wall_start_ns = unit.receive_ns, time.monotonic_ns()
            if stats.first_receive_ns is None:
                stats.first_receive_ns = first_ns
                if stats.session == unit.session:  # never reuse the recorded session id
                    stats.session = (stats.session + 1) & 0xFFFFFFFF
        elif speed is not None:
            publisher.sleep_until(wall_start_ns + int((unit.receive_ns - first_ns) / speed))
        envelope = Envelope(unit.layer, stats.session, sequences[unit.direction])
        publisher.send([unit.direction.topic, envelope.pack(), unit.payload])
        sequences[unit.direction] += 1
        stats.sent += 1
        stats.payload_bytes += len(unit.payload)
        stats.last_receive_ns = unit.receive_ns
