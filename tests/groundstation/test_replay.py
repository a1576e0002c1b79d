"""Replay publisher: a real SUB sees the recorded payloads in order, contiguous, like a live probe."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from groundstation.recorder import FsyncPolicy, RecordingWriter
from groundstation.replay import ReplayStats, parse_start_time, replay
from protocols.capture.recording import Direction, RecordingHeader, UnitRecord
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError

RECORDED_SESSION = 4242
COUNT = 120


def _units() -> list[UnitRecord]:
    """Downlink units 1 ms apart (with recorded sequence gaps), an uplink command every 10th."""
    units = []
    for i in range(COUNT):
        layer = Layer.CADUS if i % 3 else Layer.FRAMES
        units.append(
            UnitRecord(
                5_000_000 + i * 1_000_000,
                Direction.DOWNLINK,
                layer,
                RECORDED_SESSION,
                2 * i,
                f"downlink {i}".encode() * 20,
            )
        )
        if i % 10 == 0:
            units.append(
                UnitRecord(
                    5_000_000 + i * 1_000_000 + 1,
                    Direction.UPLINK,
                    Layer.FRAMES,
                    9,
                    i // 10,
                    f"command {i}".encode(),
                )
            )
    return units


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, list[UnitRecord]]:
    path = tmp_path_factory.mktemp("replay") / "r.pbrec"
    units = _units()
    with RecordingWriter(path, index_interval_bytes=2048, fsync=FsyncPolicy.NEVER) as writer:
        for unit in units:
            writer.write_record(unit)
    return path, units


class _Replay:
    """Runs replay() in a thread against a SUB on an ipc path; always cleans up."""

    def __init__(self, tmp_path: Path, topics: tuple[bytes, ...] = (TOPIC_DOWNLINK,)) -> None:
        self.context = zmq.Context()
        self.endpoint = f"ipc://{tmp_path}/replay"
        self.stop = threading.Event()
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVTIMEO, 20_000)  # a broken replay fails the test instead of hanging it
        for topic in topics:
            self.sub.setsockopt(zmq.SUBSCRIBE, topic)
        self.stats: ReplayStats | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def start(self, path: Path, own_context: bool = False, **options) -> _Replay:
        """``own_context``: replay makes and terminates its own ZeroMQ context, as under the CLI."""
        context = None if own_context else self.context

        def run() -> None:
            try:
                self.stats = replay(path, self.endpoint, stop=self.stop, context=context, **options)
            except BaseException as error:
                self.error = error

        self.thread = threading.Thread(target=run)
        self.thread.start()
        self.sub.connect(self.endpoint)
        return self

    def receive(self, count: int) -> list[tuple[bytes, Envelope, bytes]]:
        messages = []
        for _ in range(count):
            try:
                topic, envelope, payload = self.sub.recv_multipart()
            except zmq.Again:
                alive = self.thread is not None and self.thread.is_alive()
                raise AssertionError(
                    f"{len(messages)} of {count} received; replay thread alive={alive} "
                    f"stats={self.stats} error={self.error!r}"
                ) from None
            messages.append((topic, Envelope.unpack(envelope), payload))
        return messages

    def finish(self) -> ReplayStats | None:
        if self.thread is not None:
            self.thread.join(timeout=30)
            assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.stats

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.sub.close()
        if self.thread is None or not self.thread.is_alive():  # else term() would wait forever
            self.context.term()


@pytest.fixture
def ipc_dir() -> Iterator[Path]:
    """A short tmp dir: ipc endpoint paths must fit in a unix socket address (~107 octets)."""
    with tempfile.TemporaryDirectory(prefix="pb-replay-") as directory:
        yield Path(directory)


@pytest.fixture
def harness(ipc_dir) -> Iterator[_Replay]:
    h = _Replay(ipc_dir)
    try:
        yield h
    finally:
        h.close()


def _downlink(units: list[UnitRecord]) -> list[UnitRecord]:
    return [u for u in units if u.direction is Direction.DOWNLINK]


def _assert_live_like(messages, expected: list[UnitRecord], first_sequence: int = 0) -> None:
    """Recorded payloads and layers in order, one new session, contiguous sequence numbers."""
    assert [p for _, _, p in messages] == [u.payload for u in expected]
    assert [e.layer for _, e, _ in messages] == [u.layer for u in expected]
    assert [e.sequence for _, e, _ in messages] == list(range(first_sequence, first_sequence + len(expected)))
    sessions = {e.session for _, e, _ in messages}
    assert len(sessions) == 1 and RECORDED_SESSION not in sessions
    gaps = MessageGapCounter()  # what a ground station would conclude: nothing lost
    for _, envelope, _ in messages:
        gaps.observe(envelope)
    assert gaps.lost == first_sequence


def test_replay_at_max_speed_sends_every_downlink_payload_in_order(harness, recording):
    path, units = recording
    harness.start(path, own_context=True, speed=None)
    expected = _downlink(units)
    stats = harness.finish()  # returns only once everything sent is delivered
    messages = harness.receive(len(expected))
    _assert_live_like(messages, expected)
    assert all(topic == TOPIC_DOWNLINK for topic, _, _ in messages)
    assert stats.sent == len(expected) and stats.passes == 1 and stats.skipped == []
    assert stats.session == messages[0][1].session


def test_replay_at_a_given_speed_keeps_order_and_count(harness, recording):
    path, units = recording
    harness.start(path, speed=200.0)  # 1 ms recorded spacing -> 5 µs
    expected = _downlink(units)
    _assert_live_like(harness.receive(len(expected)), expected)
    assert harness.finish().sent == len(expected)


def test_replay_from_a_start_time_begins_at_that_record(harness, recording):
    path, units = recording
    expected = _downlink(units)[77:]
    harness.start(path, speed=None, start_time_ns=expected[0].receive_ns - 500)
    _assert_live_like(harness.receive(len(expected)), expected)
    stats = harness.finish()
    assert stats.sent == len(expected) and stats.first_receive_ns == expected[0].receive_ns


def test_loop_repeats_the_recording_without_a_sequence_gap(harness, recording):
    path, units = recording
    expected = _downlink(units)
    wanted = 2 * len(expected) + len(expected) // 2
    harness.start(path, speed=None, loop=True)
    messages = harness.receive(wanted)
    harness.stop.set()
    stats = harness.finish()
    _assert_live_like(messages, (expected * 3)[:wanted])
    assert stats.passes >= 2 and stats.sent >= wanted


def test_both_directions_each_count_their_own_sequence(ipc_dir, recording):
    path, units = recording
    harness = _Replay(ipc_dir, topics=(TOPIC_DOWNLINK, TOPIC_UPLINK))
    try:
        harness.start(path, speed=None, directions=(Direction.DOWNLINK, Direction.UPLINK))
        messages = harness.receive(len(units))
        harness.finish()
    finally:
        harness.close()
    assert [p for _, _, p in messages] == [u.payload for u in units]
    for topic, direction in ((TOPIC_DOWNLINK, Direction.DOWNLINK), (TOPIC_UPLINK, Direction.UPLINK)):
        mine = [m for m in messages if m[0] == topic]
        _assert_live_like(mine, [u for u in units if u.direction is direction])


def test_stop_while_waiting_for_a_subscriber(ipc_dir, recording):
    path, _ = recording
    harness = _Replay(ipc_dir, topics=())  # connected, but subscribed to nothing
    try:
        harness.start(path, speed=None)
        harness.stop.set()
        stats = harness.finish()
    finally:
        harness.close()
    assert stats.sent == 0 and stats.passes == 0


def test_replay_refuses_what_is_not_a_recording(tmp_path, ipc_dir):
    bogus = tmp_path / "bogus.pbrec"
    bogus.write_bytes(b"not a recording at all")
    with pytest.raises(DecodeError):
        replay(bogus, f"ipc://{ipc_dir}/x", speed=None)
    with pytest.raises(ValueError):
        replay(bogus, f"ipc://{ipc_dir}/x", speed=0)


def test_parse_start_time_accepts_relative_absolute_and_nanoseconds():
    header = RecordingHeader("0.1.0", start_ns=1_700_000_000_000_000_000)
    assert parse_start_time("+2.5", header) == 1_700_000_002_500_000_000
    assert parse_start_time("2023-11-14T22:13:20Z", header) == 1_700_000_000_000_000_000
    assert parse_start_time("2023-11-14T22:13:20.000001", header) == 1_700_000_000_000_001_000
    assert parse_start_time("2023-11-14T23:13:20+01:00", header) == 1_700_000_000_000_000_000
    assert parse_start_time("1700000000000000123", header) == 1_700_000_000_000_000_123
    for bad in ("yesterday", "+-3", "+nan"):
        with pytest.raises(ValueError):
            parse_start_time(bad, header)
    with pytest.raises(ValueError):
        parse_start_time("+1", None)
