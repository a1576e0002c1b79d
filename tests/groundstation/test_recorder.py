"""Recording writer (durability, index, crash safety) and the passive ZeroMQ tap."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from groundstation.recorder import FsyncPolicy, Recorder, RecordingWriter
from groundstation.recording_reader import RecordingReader, read_recording
from protocols.capture.recording import Direction, SkippedBytes, UnitRecord, encode_record
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Envelope, Layer
from protocols.errors import DecodeError

REPO = Path(__file__).resolve().parents[2]


def _unit(sequence: int, size: int = 100) -> UnitRecord:
    payload = sequence.to_bytes(4, "big") * (size // 4)
    return UnitRecord(10_000 + sequence, Direction.DOWNLINK, Layer.FRAMES, 3, sequence, payload)


# ------------------------------------------------------------------ writer


def test_writer_round_trips_header_and_messages(tmp_path):
    path = tmp_path / "r.pbrec"
    envelope = Envelope(Layer.CADUS, 99, 5)
    with RecordingWriter(path, scenario="earth-moon", config={"downlink": {"frame_length": 1115}}) as writer:
        writer.write("downlink", TOPIC_DOWNLINK, envelope.pack(), b"cadu bytes", 123)
        writer.write(Direction.UPLINK, TOPIC_UPLINK, Envelope(Layer.FRAMES, 4, 0), b"tc frame", 124)
    header, units, skipped = read_recording(path)
    assert header.scenario == "earth-moon" and header.config == {"downlink": {"frame_length": 1115}}
    assert header.paleblue_version and header.start_ns > 0
    assert units == [
        UnitRecord(123, Direction.DOWNLINK, Layer.CADUS, 99, 5, b"cadu bytes"),
        UnitRecord(124, Direction.UPLINK, Layer.FRAMES, 4, 0, b"tc frame"),
    ]
    assert skipped == []
    assert writer.closed and writer.records == 2


def test_writer_refuses_bad_input_and_existing_files(tmp_path):
    path = tmp_path / "r.pbrec"
    with RecordingWriter(path) as writer:
        with pytest.raises(ValueError):
            writer.write("downlink", TOPIC_UPLINK, Envelope(Layer.CADUS, 1, 0), b"x", 1)
        with pytest.raises(DecodeError):
            writer.write("downlink", TOPIC_DOWNLINK, b"short envelope", b"x", 1)
    with pytest.raises(ValueError):
        writer.write_record(_unit(1))
    writer.close()  # idempotent
    with pytest.raises(FileExistsError):
        RecordingWriter(path)
    with RecordingWriter(path, overwrite=True) as writer:
        writer.write_record(_unit(7))
    assert read_recording(path)[1] == [_unit(7)]
    with pytest.raises(ValueError):
        RecordingWriter(tmp_path / "other.pbrec", config={"unserialisable": object()})
    assert not (tmp_path / "other.pbrec").exists()


def test_writer_only_appends(tmp_path):
    path = tmp_path / "r.pbrec"
    with RecordingWriter(path, index_interval_bytes=500) as writer:
        for i in range(20):
            writer.write_record(_unit(i))
        before = path.read_bytes()
        for i in range(20, 40):
            writer.write_record(_unit(i))
    after = path.read_bytes()
    assert after.startswith(before) and len(after) > len(before)


def test_index_records_cover_every_record(tmp_path):
    path = tmp_path / "r.pbrec"
    with RecordingWriter(path, index_interval_bytes=1000) as writer:
        for i in range(100):
            writer.write_record(_unit(i))
    with RecordingReader(path) as reader:
        chain = reader.index()
    assert len(chain) >= 10
    assert sum(record.records for _, record in chain) == 100
    assert chain[0][1].previous_index_offset == -1
    for (offset, _), (_, newer) in itertools.pairwise(chain):
        assert newer.previous_index_offset == offset
    assert chain[0][1].min_receive_ns == 10_000 and chain[-1][1].max_receive_ns == 10_099


def test_interval_flush_holds_records_until_due_or_buffer_full(tmp_path):
    path = tmp_path / "r.pbrec"
    with RecordingWriter(path, flush_interval_s=3600, max_buffer_bytes=10_000) as writer:
        header_size = path.stat().st_size
        for i in range(5):
            writer.write_record(_unit(i))
        assert path.stat().st_size == header_size  # buffered, not yet written
        writer.flush()
        assert read_recording(path)[1] == [_unit(i) for i in range(5)]
        for i in range(5, 200):
            writer.write_record(_unit(i))
        assert len(read_recording(path)[1]) > 100  # the buffer bound forced flushes
    assert read_recording(path)[1] == [_unit(i) for i in range(200)]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(FsyncPolicy.NEVER, 0), (FsyncPolicy.ON_CLOSE, 2), (FsyncPolicy.ALWAYS, 2 + 10)],
)
def test_fsync_policy(tmp_path, monkeypatch, policy, expected):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    with RecordingWriter(tmp_path / "r.pbrec", fsync=policy) as writer:
        directory_syncs = len(calls) - (1 if policy is not FsyncPolicy.NEVER else 0)
        for i in range(10):
            writer.write_record(_unit(i))
    assert len(calls) - directory_syncs == expected  # header + close (+ one per record for ALWAYS)


# ------------------------------------------------------------------ crash safety

_WRITER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from groundstation.recorder import RecordingWriter
    from protocols.capture.recording import Direction, UnitRecord, encode_record
    from protocols.capture.zmq_framing import Layer

    path, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def unit(i):
        payload = i.to_bytes(4, "big") * (size // 4)
        return UnitRecord(10_000 + i, Direction.DOWNLINK, Layer.CADUS, 3, i, payload)

    writer = RecordingWriter(path, index_interval_bytes=4096)
    if mode == "torn":  # ten good records, then half of the eleventh, then wait to be killed
        for i in range(10):
            writer.write_record(unit(i))
        frame = encode_record(unit(10))
        with open(path, "ab") as raw:
            raw.write(frame[: len(frame) // 2])
        print("torn", flush=True)
        time.sleep(600)
    i = 0
    while True:  # "loop": write until killed
        writer.write_record(unit(i))
        i += 1
        if i == 20:
            print("running", flush=True)
    """
)


def _start_writer(tmp_path: Path, mode: str, size: int) -> tuple[subprocess.Popen[str], Path]:
    path = tmp_path / "killed.pbrec"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(path), mode, str(size)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return process, path


def _expected_unit(i: int, size: int) -> UnitRecord:
    return UnitRecord(10_000 + i, Direction.DOWNLINK, Layer.CADUS, 3, i, i.to_bytes(4, "big") * (size // 4))


@pytest.mark.slow
def test_sigkill_mid_record_reads_back_to_the_tear(tmp_path):
    process, path = _start_writer(tmp_path, "torn", 400)
    try:
        assert process.stdout.readline().strip() == "torn"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    _, units, skipped = read_recording(path)
    assert units == [_expected_unit(i, 400) for i in range(10)]
    torn_frame = len(encode_record(_expected_unit(10, 400)))
    size = path.stat().st_size
    assert len(skipped) == 1
    assert skipped[0].offset == size - torn_frame // 2 and skipped[0].length == torn_frame // 2
    assert "torn" in skipped[0].reason


@pytest.mark.slow
def test_sigkill_at_a_random_moment_loses_at_most_the_record_being_written(tmp_path):
    size = 256 * 1024  # big frames: a kill is likely to land inside the write syscall
    process, path = _start_writer(tmp_path, "loop", size)
    try:
        assert process.stdout.readline().strip() == "running"
        _wait_for(lambda: path.stat().st_size >= 16 * size or process.poll() is not None, "the writer")
        assert process.poll() is None, "the writer died before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    _, units, skipped = read_recording(path)
    assert len(units) >= 16
    assert units == [_expected_unit(i, size) for i in range(len(units))]
    assert all(isinstance(s, SkippedBytes) and s.offset + s.length == path.stat().st_size for s in skipped)
    assert len(skipped) <= 1


# ------------------------------------------------------------------ passive tap


class _Probe:
    """A minimal stand-in for the probe's downlink: XPUB_NODROP that waits for its subscribers."""

    def __init__(self, context: zmq.Context, endpoint: str, topic: bytes) -> None:
        self.topic = topic
        self.socket = context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.XPUB_NODROP, 1)
        self.socket.setsockopt(zmq.XPUB_VERBOSE, 1)  # report every subscriber, not just the first
        self.socket.setsockopt(zmq.SNDHWM, 100)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVTIMEO, 20_000)
        self.socket.setsockopt(zmq.SNDTIMEO, 20_000)  # a stuck subscriber fails the test, not hangs it
        self.socket.bind(endpoint)

    def wait_for_subscribers(self, count: int) -> None:
        seen = 0
        while seen < count:
            seen += self.socket.recv() == b"\x01" + self.topic

    def send(self, sequence: int, payload: bytes, session: int = 77) -> None:
        self.socket.send_multipart([self.topic, Envelope(Layer.CADUS, session, sequence).pack(), payload])


def _wait_for(condition, what: str) -> None:
    """Wait for a condition so a broken test fails instead of hanging (not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def ipc_dir() -> Iterator[Path]:
    """A short tmp dir: ipc endpoint paths must fit in a unix socket address (~107 octets)."""
    with tempfile.TemporaryDirectory(prefix="pb-tap-") as directory:
        yield Path(directory)


def test_tap_records_every_message_beside_the_ground_station_and_counts_gaps(tmp_path, ipc_dir):
    context = zmq.Context()
    downlink, uplink = f"ipc://{ipc_dir}/tm", f"ipc://{ipc_dir}/tc"
    probe = _Probe(context, downlink, TOPIC_DOWNLINK)
    commander = _Probe(context, uplink, TOPIC_UPLINK)
    ground = context.socket(zmq.SUB)
    ground.setsockopt(zmq.LINGER, 0)
    ground.setsockopt(zmq.RCVTIMEO, 20_000)
    ground.setsockopt(zmq.SUBSCRIBE, TOPIC_DOWNLINK)
    ground.connect(downlink)
    path = tmp_path / "tap.pbrec"
    header_info = {"scenario": "tap-test", "config": {"vc": 0}}
    recorder = Recorder(downlink, uplink, path, header_info, context=context)
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,))
    thread.start()
    ground_received: list[bytes] = []

    def ground_station() -> None:  # reads as it goes: an XPUB_NODROP probe waits for its slowest subscriber
        with contextlib.suppress(zmq.Again):
            while len(ground_received) < len(sent):
                ground_received.append(ground.recv_multipart()[2])

    sent = [s for s in range(3000) if not 1000 <= s < 1005]  # five messages "lost" upstream
    ground_thread = threading.Thread(target=ground_station)
    try:
        probe.wait_for_subscribers(2)  # the ground station and the tap
        commander.wait_for_subscribers(1)
        ground_thread.start()
        for sequence in sent:
            probe.send(sequence, sequence.to_bytes(4, "big") * 100)
        commander.send(0, b"command")
        probe.socket.send_multipart([TOPIC_DOWNLINK, b"two frames only"])
        ground_thread.join(timeout=30)
        _wait_for(lambda: recorder.stats.received + recorder.stats.malformed == len(sent) + 2, "the tap")
    finally:
        stop.set()
        thread.join(timeout=30)
        for sock in (ground, probe.socket, commander.socket):
            sock.close()
        if not thread.is_alive():  # term() would wait forever for a socket the stuck thread holds
            context.term()
    assert not thread.is_alive()
    assert ground_received == [s.to_bytes(4, "big") * 100 for s in sent]  # the ground station got it all too
    stats = recorder.stats
    assert stats.received == len(sent) + 1 and stats.malformed == 1
    assert (stats.downlink_lost, stats.uplink_lost, stats.sessions) == (5, 0, 2)
    header, units, skipped = read_recording(path)
    assert header.scenario == "tap-test" and header.config == {"vc": 0} and skipped == []
    downlink_units = [u for u in units if u.direction is Direction.DOWNLINK]
    assert [u.sequence for u in downlink_units] == sent
    assert all(u.payload == u.sequence.to_bytes(4, "big") * 100 for u in downlink_units)
    assert all(u.session == 77 and u.layer is Layer.CADUS for u in downlink_units)
    assert [u.payload for u in units if u.direction is Direction.UPLINK] == [b"command"]
    receive_times = [u.receive_ns for u in downlink_units]
    assert receive_times == sorted(receive_times)


def test_recorder_rejects_unknown_header_info(tmp_path):
    with pytest.raises(ValueError):
        Recorder("ipc://x", None, tmp_path / "r.pbrec", {"scenaro": "typo"})
