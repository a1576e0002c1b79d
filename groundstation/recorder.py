"""Writing recordings: a durable append-only writer, and a passive ZeroMQ tap that feeds it.

:class:`RecordingWriter` is what a ground station calls for every message it
receives, through :class:`StationRecorder` (which notes a message of idle
frames only instead of keeping it, see :mod:`groundstation.idle_frames`);
:func:`record` is a stand-alone tap that connects its own SUB to the probe's
XPUB (ZeroMQ fans out to every subscriber) and records everything, idle frames
included, without disturbing the ground station. Each frame goes to the kernel in one write
(``writev``) as soon as it is made (unless ``flush_interval_s`` batches), so
a crashed or ``kill -9``-ed process loses at most the frame being written;
``fsync`` (power-loss safety) follows :class:`FsyncPolicy`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from enum import Enum
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import zmq

from groundstation.idle_frames import IdleFrames
from protocols.capture.recording import (
    DEFAULT_INDEX_INTERVAL_BYTES,
    Direction,
    IndexRecord,
    RecordingHeader,
    UnitRecord,
    encode_body,
    encode_unit_body,
    frame_body,
)
from protocols.capture.zmq_framing import Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError
from protocols.link.channel_config import PhysicalChannelConfig
from transport.subscriber import Subscriber

DEFAULT_RCVHWM = 20_000  # messages: ZeroMQ's receive queue is the tap's bounded write-behind buffer
_MAX_IOVECS = 512  # well under IOV_MAX (1024 on Linux)


class FsyncPolicy(Enum):
    """When the writer asks the disk (not just the kernel) to hold the data."""

    NEVER = "never"  # survives a process crash, not a power cut
    ON_CLOSE = "on-close"
    INTERVAL = "interval"  # at most every fsync_interval_s, on a flush, and at close
    ALWAYS = "always"  # after every flush: slowest, loses nothing already written


class RecordingWriter:
    """Appends one recording file: header first, then a frame per received message.

    Thread-safe (one lock). Every ``index_interval_bytes`` of unit frames it
    appends an index record so a reader can seek by time; see
    :mod:`groundstation.recording_reader`. Refuses to overwrite an existing
    file unless ``overwrite`` is set.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scenario: str = "",
        config: dict[Any, Any] | None = None,
        overwrite: bool = False,
        flush_interval_s: float = 0.0,
        max_buffer_bytes: int = 4 * 1024 * 1024,
        fsync: FsyncPolicy = FsyncPolicy.INTERVAL,
        fsync_interval_s: float = 1.0,
        index_interval_bytes: int = DEFAULT_INDEX_INTERVAL_BYTES,
    ) -> None:
        if index_interval_bytes < 1:
            raise ValueError("index_interval_bytes must be positive")
        self.path = Path(path)
        self.header = RecordingHeader(
            paleblue_version=_version(),
            scenario=scenario,
            config=dict(config or {}),
            start_ns=time.time_ns(),
            index_interval_bytes=index_interval_bytes,
        )
        header_body = encode_body(self.header)  # fails before the file exists if the config is bad
        self._flush_interval_s = flush_interval_s
        self._max_buffer_bytes = max_buffer_bytes
        self._fsync = fsync
        self._fsync_interval_s = fsync_interval_s
        self._index_interval = index_interval_bytes
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_since = 0.0
        self._last_fsync = time.monotonic()
        self._unsynced = False
        self.records = 0
        self.bytes_written = 0  # octets handed to the kernel
        self._offset = 0  # octets written plus pending: where the next frame starts
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if overwrite else os.O_EXCL)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        try:
            if fsync is not FsyncPolicy.NEVER:
                self._fsync_directory()
            self._append(frame_body(header_body), header_body)
            self._block_start = self._offset
            self._previous_index = -1
            self._block_records = 0
            self._block_min_ns = 0
            self._block_max_ns = 0
            self._flush_locked(force_fsync=fsync is not FsyncPolicy.NEVER)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(
        self,
        direction: Direction | str | bytes,
        topic: bytes,
        envelope: bytes | Envelope,
        payload: bytes,
        receive_ns: int,
    ) -> None:
        """Record one received message; ``envelope`` as received (16 octets) or already decoded.

        Raises :class:`DecodeError` for an envelope that does not decode and
        ValueError when ``topic`` contradicts ``direction``.
        """
        way = Direction.parse(direction)
        if topic != way.topic:
            raise ValueError(f"topic {topic!r} is not the {way.name.lower()} topic {way.topic!r}")
        env = envelope if isinstance(envelope, Envelope) else Envelope.unpack(envelope)
        body = encode_unit_body(receive_ns, way, env.layer, env.session, env.sequence, bytes(payload))
        self._write_unit(body, receive_ns)

    def write_record(self, record: UnitRecord) -> None:
        """Record an already-built unit (tools and tests)."""
        self._write_unit(encode_body(record), record.receive_ns)

    def _write_unit(self, body: bytes, receive_ns: int) -> None:
        header = frame_body(body)
        with self._lock:
            if self._fd is None:
                raise ValueError(f"recording {self.path} is closed")
            if self._block_records == 0:
                self._block_min_ns = self._block_max_ns = receive_ns
            else:
                self._block_min_ns = min(self._block_min_ns, receive_ns)
                self._block_max_ns = max(self._block_max_ns, receive_ns)
            self._append(header, body)
            self.records += 1
            self._block_records += 1
            if self._offset - self._block_start >= self._index_interval:
                self._append_index()
            now = time.monotonic()
            if (
                self._flush_interval_s <= 0
                or self._pending_bytes >= self._max_buffer_bytes
                or now - self._pending_since >= self._flush_interval_s
            ):
                self._flush_locked()

    def _append(self, header: bytes, body: bytes) -> None:
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending += (header, body)
        size = len(header) + len(body)
        self._pending_bytes += size
        self._offset += size

    def _append_index(self) -> None:
        index_offset = self._offset
        body = encode_body(
            IndexRecord(
                previous_index_offset=self._previous_index,
                block_start=self._block_start,
                min_receive_ns=self._block_min_ns,
                max_receive_ns=self._block_max_ns,
                records=self._block_records,
            )
        )
        self._append(frame_body(body), body)
        self._previous_index = index_offset
        self._block_start = self._offset
        self._block_records = 0

    def flush(self) -> None:
        """Hand buffered frames to the kernel (and fsync if the policy says it is time)."""
        with self._lock:
            if self._fd is not None:
                self._flush_locked()

    def _flush_locked(self, force_fsync: bool = False) -> None:
        assert self._fd is not None
        if self._pending:
            parts, self._pending = self._pending, []
            written, self._pending_bytes = self._pending_bytes, 0
            self._write_all(parts)
            self.bytes_written += written
            self._unsynced = True
        now = time.monotonic()
        due = self._fsync is FsyncPolicy.ALWAYS or (
            self._fsync is FsyncPolicy.INTERVAL and now - self._last_fsync >= self._fsync_interval_s
        )
        if self._unsynced and (force_fsync or due):
            os.fsync(self._fd)
            self._last_fsync = now
            self._unsynced = False

    def _write_all(self, parts: list[bytes]) -> None:
        """Whole frames in as few syscalls as possible; a short write is finished, never dropped."""
        assert self._fd is not None
        for start in range(0, len(parts), _MAX_IOVECS):
            group = parts[start : start + _MAX_IOVECS]
            total = sum(map(len, group))
            done = os.writev(self._fd, group)
            if done < total:
                rest = memoryview(b"".join(group))[done:]
                while rest:
                    rest = rest[os.write(self._fd, rest) :]

    def _fsync_directory(self) -> None:
        """Make the new file's directory entry durable too."""
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def close(self) -> None:
        """Final index record, flush, fsync (unless the policy is NEVER), close. Idempotent."""
        with self._lock:
            if self._fd is None:
                return
            try:
                if self._block_records:
                    self._append_index()
                self._flush_locked(force_fsync=self._fsync is not FsyncPolicy.NEVER)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class StationRecorder:
    """What a ground station's ``--record`` hooks in: each downlink message recorded as received,
    except one made only of idle frames, which becomes an idle note (same session and sequence,
    layer CONTROL, see :mod:`groundstation.idle_frames`) unless ``keep_idle``."""

    def __init__(
        self, writer: RecordingWriter, channel: PhysicalChannelConfig | None, keep_idle: bool = False
    ) -> None:
        self.writer = writer
        self.keep_idle = keep_idle
        self._idle = IdleFrames(channel) if channel is not None and not keep_idle else None
        self.messages_recorded = 0
        self.idle_messages_noted = 0
        self.idle_frames_not_recorded = 0

    def __call__(self, topic: bytes, envelope: bytes, payload: bytes, receive_ns: int) -> None:
        """Record one message (DecodeError for an envelope that does not decode, ValueError for a
        topic that is not the downlink's)."""
        env = Envelope.unpack(envelope)
        idle = self._idle.note(env.layer, payload) if self._idle is not None else None
        if idle is not None:
            control = Envelope(Layer.CONTROL, env.session, env.sequence)
            self.writer.write("downlink", topic, control, idle.pack(), receive_ns)
            self.idle_messages_noted += 1
            self.idle_frames_not_recorded += idle.frames
            return
        self.writer.write("downlink", topic, env, payload, receive_ns)
        self.messages_recorded += 1

    def summary(self) -> dict[str, object]:
        """The ``recording`` entry of ``summary.json``."""
        return {
            "path": str(self.writer.path),
            "idle_frames_kept": self.keep_idle,
            "messages_recorded": self.messages_recorded,
            "idle_messages_noted": self.idle_messages_noted,
            "idle_frames_not_recorded": self.idle_frames_not_recorded,
        }


def _version() -> str:
    """The installed paleblue's version (the ground may not import the command line for it)."""
    try:
        return metadata.version("paleblue")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


@dataclass
class RecordStats:
    """What a tap saw; updated live while :meth:`Recorder.run` runs."""

    received: int = 0  # messages recorded
    payload_bytes: int = 0
    downlink_lost: int = 0  # messages missing from envelope-sequence gaps (incl. before a late join)
    uplink_lost: int = 0
    sessions: int = 0  # publisher sessions seen (a restarted probe is a new one)
    malformed: int = 0  # messages that were not topic/envelope/payload: counted, not recordable
    refused: int = 0  # messages ZeroMQ refused (over MAX_MESSAGE_OCTETS): see transport/connection_guard
    file_bytes: int = 0

    @property
    def lost(self) -> int:
        return self.downlink_lost + self.uplink_lost


class Recorder:
    """A passive tap: SUB sockets on the probe's downlink XPUB (and the uplink's), each message recorded.

    It only subscribes, so the ground station is undisturbed; but an
    ``XPUB_NODROP`` publisher runs at its slowest subscriber's pace, so the
    tap keeps a deep receive queue (``rcvhwm`` messages, ZeroMQ's own bounded
    write-behind buffer) and does nothing but append to the file.
    """

    def __init__(
        self,
        downlink: str,
        uplink: str | None,
        path: str | os.PathLike[str],
        header_info: dict[str, Any] | None = None,
        *,
        rcvhwm: int = DEFAULT_RCVHWM,
        context: zmq.Context[Any] | None = None,
        **writer_options: Any,
    ) -> None:
        info = dict(header_info or {})
        unknown = set(info) - {"scenario", "config"}
        if unknown:
            raise ValueError(f"header_info takes 'scenario' and 'config', not {sorted(unknown)}")
        self.endpoints = {Direction.DOWNLINK: downlink}
        if uplink is not None:
            self.endpoints[Direction.UPLINK] = uplink
        self.path = Path(path)
        self.stats = RecordStats()
        self._info = info
        self._rcvhwm = rcvhwm
        self._context = context or zmq.Context.instance()
        self._writer_options = writer_options
        self._gaps = {direction: MessageGapCounter() for direction in self.endpoints}

    def run(self, stop: threading.Event | None = None) -> RecordStats:
        """Record until ``stop`` is set (or Ctrl-C); drains what is already queued, then closes."""
        stop = stop or threading.Event()
        subscribers: dict[zmq.Socket[Any], tuple[Subscriber, Direction]] = {}
        poller = zmq.Poller()
        writer = RecordingWriter(
            self.path,
            scenario=self._info.get("scenario", ""),
            config=self._info.get("config"),
            **self._writer_options,
        )
        try:
            for direction, endpoint in self.endpoints.items():
                # an oversized message: counted, reconnected
                sub = Subscriber(endpoint, [direction.topic], self._context, high_water_mark=self._rcvhwm)
                subscribers[sub.socket] = (sub, direction)
                poller.register(sub.socket, zmq.POLLIN)
            try:
                while not stop.is_set():
                    ready = dict(poller.poll(100))
                    self.stats.refused += sum(len(sub.refusals()) for sub, _ in subscribers.values())
                    if not ready:
                        writer.flush()  # lets an interval flush/fsync policy catch up when idle
                    for socket in ready:
                        self._receive_queued(*subscribers[socket], writer)
            except KeyboardInterrupt:
                pass
            for sub, direction in subscribers.values():  # what ZeroMQ holds is recorded, not dropped
                self._receive_queued(sub, direction, writer, limit=None)
        finally:
            for sub, _ in subscribers.values():
                sub.close()
            writer.close()
            self.stats.file_bytes = writer.bytes_written
        return self.stats

    def _receive_queued(
        self, sub: Subscriber, direction: Direction, writer: RecordingWriter, limit: int | None = 1000
    ) -> None:
        count = 0
        while limit is None or count < limit:
            parts = sub.receive()
            if parts is None:
                return
            count += 1
            self._record_one(direction, parts, time.time_ns(), writer)

    def _record_one(
        self, direction: Direction, parts: list[bytes], receive_ns: int, writer: RecordingWriter
    ) -> None:
        if len(parts) != 3 or parts[0] != direction.topic:
            self.stats.malformed += 1
            return
        try:
            envelope = Envelope.unpack(parts[1])
        except DecodeError:
            self.stats.malformed += 1
            return
        writer.write(direction, parts[0], envelope, parts[2], receive_ns)
        gaps = self._gaps[direction]
        gaps.observe(envelope)
        stats = self.stats
        stats.received += 1
        stats.payload_bytes += len(parts[2])
        stats.sessions = sum(counter.sessions for counter in self._gaps.values())
        if direction is Direction.DOWNLINK:
            stats.downlink_lost = gaps.lost
        else:
            stats.uplink_lost = gaps.lost
        stats.file_bytes = writer.bytes_written


def record(
    downlink: str,
    uplink: str | None,
    path: Path,
    stop: threading.Event | None = None,
    header_info: dict[str, Any] | None = None,
) -> RecordStats:
    """Tap ``downlink`` (and ``uplink``) into a new recording at ``path`` until ``stop`` or Ctrl-C.

    ``header_info`` may hold ``scenario`` (str) and ``config`` (the link and
    channel configuration, any msgpack-serialisable dict) for the file header.
    """
    return Recorder(downlink, uplink, path, header_info).run(stop)
