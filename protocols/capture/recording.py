"""The paleblue recording format: crash-safe, append-only msgpack records (pure code, no file I/O).

A recording is nothing but a sequence of frames; there is no footer, so a file
cut anywhere (``kill -9``, power loss, full disk) is a valid prefix plus at
most one torn frame::

    frame   sync marker   4 octets  0x89 'P' 'B' 'R'  (high bit set: 7-bit mangling shows)
            crc32         4 octets  big-endian CRC-32 (zlib) over the length field and the body
            length        4 octets  big-endian, octets in the body, at most MAX_BODY_LENGTH
            body          msgpack array whose first element is the record kind

    kind 0  header  [0, {"magic", "format_version", "paleblue_version", "scenario",
                         "config", "start_ns", "index_interval_bytes"}]
    kind 1  unit    [1, receive_ns, direction, layer, session, sequence, payload]
    kind 2  index   [2, previous_index_offset (-1 = none), block_start, min_receive_ns,
                     max_receive_ns, records]

The header is always the first frame at offset 0; its framing and its
``magic``/``format_version`` keys are frozen, so every later version can be
recognised and refused cleanly (:class:`RecordingVersionError`). The CRC
covers the length too, so a bit flip anywhere in a frame is caught; after a
bad frame the decoder resynchronises on the next sync marker whose length and
CRC check, reporting every skipped span as :class:`SkippedBytes`.

:data:`FRAME_HEADER` (construct) is the declaration of the frame header;
``_FRAME_HEADER_FAST`` (struct) is the fast path that tests prove identical.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

import msgpack
from construct import Const, Int32ub, Struct

from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Layer
from protocols.errors import DecodeError
from protocols.skipped import SkippedBytes, SkipTracker

LAYER = "recording"

MAGIC = "paleblue-recording"
FORMAT_VERSION = 1
SYNC_MARKER = b"\x89PBR"
MAX_BODY_LENGTH = 16 * 1024 * 1024  # bounds the decoder's memory: a longer "length" is corruption
DEFAULT_INDEX_INTERVAL_BYTES = 1024 * 1024

FRAME_HEADER = Struct(
    "sync" / Const(SYNC_MARKER),
    "crc32" / Int32ub,
    "length" / Int32ub,
)
FRAME_HEADER_LENGTH = 12
_FRAME_HEADER_FAST = struct.Struct(">4sII")
_LENGTH_FIELD = struct.Struct(">I")
_CRC_START = 8  # the CRC covers the frame from the length field to the end of the body

_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1


class RecordingVersionError(DecodeError):
    """A recording written by a newer paleblue: refused with a one-line message, never guessed at."""


class RecordKind(IntEnum):
    HEADER = 0
    UNIT = 1
    INDEX = 2


class Direction(IntEnum):
    DOWNLINK = 0
    UPLINK = 1

    @property
    def topic(self) -> bytes:
        return TOPIC_DOWNLINK if self is Direction.DOWNLINK else TOPIC_UPLINK

    @classmethod
    def parse(cls, value: Direction | str | bytes | int) -> Direction:
        """Accepts a Direction, its name ("downlink"), its topic (b"tm") or its number."""
        if isinstance(value, bytes):
            by_topic = {TOPIC_DOWNLINK: cls.DOWNLINK, TOPIC_UPLINK: cls.UPLINK}
            if value not in by_topic:
                raise ValueError(f"topic {value!r} is neither downlink nor uplink")
            return by_topic[value]
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"direction {value!r} is neither downlink nor uplink") from None
        return cls(value)


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """First record of every file: what was recorded, by which version, under which configuration."""

    paleblue_version: str
    scenario: str = ""
    config: dict[Any, Any] = field(default_factory=dict)
    start_ns: int = 0
    index_interval_bytes: int = DEFAULT_INDEX_INTERVAL_BYTES
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """One received ZeroMQ message: when, which way, its envelope fields and the payload as received."""

    receive_ns: int
    direction: Direction
    layer: Layer
    session: int
    sequence: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """Summary of the block of frames since the previous index record, chained backwards for seeking."""

    previous_index_offset: int  # -1 for the first index record
    block_start: int
    min_receive_ns: int
    max_receive_ns: int
    records: int


Record = RecordingHeader | UnitRecord | IndexRecord


class Entry(NamedTuple):
    """A decoded item and the stream offset where it starts."""

    offset: int
    item: Record | SkippedBytes


# ---------------------------------------------------------------------------- encoding


def _check_uint(name: str, value: int, maximum: int) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}, not {value!r}")


def frame_body(body: bytes) -> bytes:
    """The 12-octet frame header for a msgpack body (sync marker, CRC-32, length)."""
    if len(body) > MAX_BODY_LENGTH:
        raise ValueError(f"record body of {len(body)} octets exceeds {MAX_BODY_LENGTH}")
    length = _LENGTH_FIELD.pack(len(body))
    return _FRAME_HEADER_FAST.pack(SYNC_MARKER, zlib.crc32(body, zlib.crc32(length)), len(body))


def encode_body(record: Record) -> bytes:
    """The msgpack body of one record (raises ValueError for values the format cannot hold)."""
    if isinstance(record, UnitRecord):
        return encode_unit_body(
            record.receive_ns, record.direction, record.layer, record.session, record.sequence, record.payload
        )
    if isinstance(record, IndexRecord):
        if type(record.previous_index_offset) is not int or record.previous_index_offset < -1:
            raise ValueError(f"previous index offset {record.previous_index_offset!r} is not -1 or an offset")
        for name in ("block_start", "min_receive_ns", "max_receive_ns", "records"):
            _check_uint(name, getattr(record, name), _UINT64_MAX)
        return msgpack.packb(
            [
                RecordKind.INDEX,
                record.previous_index_offset,
                record.block_start,
                record.min_receive_ns,
                record.max_receive_ns,
                record.records,
            ]
        )
    if isinstance(record, RecordingHeader):
        _check_uint("start_ns", record.start_ns, _UINT64_MAX)
        _check_uint("index_interval_bytes", record.index_interval_bytes, _UINT64_MAX)
        header = {
            "magic": MAGIC,
            "format_version": record.format_version,
            "paleblue_version": record.paleblue_version,
            "scenario": record.scenario,
            "config": record.config,
            "start_ns": record.start_ns,
            "index_interval_bytes": record.index_interval_bytes,
        }
        try:
            return msgpack.packb([RecordKind.HEADER, header], use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"header configuration is not msgpack-serialisable: {error}") from None
    raise TypeError(f"not a recording record: {type(record).__name__}")


def encode_unit_body(
    receive_ns: int, direction: Direction, layer: Layer, session: int, sequence: int, payload: bytes
) -> bytes:
    """Unit body without building a :class:`UnitRecord` first (the writer's hot path)."""
    _check_uint("receive_ns", receive_ns, _UINT64_MAX)
    _check_uint("session", session, _UINT32_MAX)
    _check_uint("sequence", sequence, _UINT64_MAX)
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise ValueError(f"payload must be bytes, not {type(payload).__name__}")
    return msgpack.packb(
        [
            RecordKind.UNIT,
            receive_ns,
            int(Direction(direction)),
            int(Layer(layer)),
            session,
            sequence,
            payload,
        ],
        use_bin_type=True,
    )


def encode_record(record: Record) -> bytes:
    """One whole frame (header + body), ready to append to a recording."""
    body = encode_body(record)
    return frame_body(body) + body


# ---------------------------------------------------------------------------- decoding


def _uint(value: Any, maximum: int, name: str, offset: int) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise DecodeError(LAYER, offset, f"{name} {value!r} is not an integer in 0..{maximum}")
    return value


def _decode_header(fields: list[Any], offset: int) -> RecordingHeader:
    if len(fields) != 2 or not isinstance(fields[1], dict):
        raise DecodeError(LAYER, offset, "header record is not [0, map]")
    header = fields[1]
    if header.get("magic") != MAGIC:
        raise DecodeError(LAYER, offset, f"not a paleblue recording (magic {header.get('magic')!r})")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise DecodeError(LAYER, offset, f"format version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise RecordingVersionError(
            LAYER,
            offset,
            f"recording format version {version} is newer than this paleblue reads "
            f"(up to {FORMAT_VERSION}); upgrade paleblue to read it",
        )
    paleblue_version, scenario, config = (header.get(k) for k in ("paleblue_version", "scenario", "config"))
    if not isinstance(paleblue_version, str) or not isinstance(scenario, str) or not isinstance(config, dict):
        raise DecodeError(LAYER, offset, "header paleblue_version/scenario/config have the wrong types")
    return RecordingHeader(
        paleblue_version=paleblue_version,
        scenario=scenario,
        config=config,
        start_ns=_uint(header.get("start_ns"), _UINT64_MAX, "start_ns", offset),
        index_interval_bytes=_uint(header.get("index_interval_bytes"), _UINT64_MAX, "index interval", offset),
        format_version=version,
    )


_DIRECTIONS = tuple(Direction)  # by value: 0, 1


def _decode_unit(fields: list[Any], offset: int) -> UnitRecord:
    if len(fields) != 7:
        raise DecodeError(LAYER, offset, f"unit record has {len(fields)} fields, not 7")
    _, receive_ns, direction, layer, session, sequence, payload = fields
    if direction not in (0, 1) or type(direction) is not int:
        raise DecodeError(LAYER, offset, f"direction {direction!r} is neither 0 nor 1")
    if type(layer) is not int or layer not in Layer._value2member_map_:
        raise DecodeError(LAYER, offset, f"unknown envelope layer {layer!r}")
    if not isinstance(payload, bytes):
        raise DecodeError(LAYER, offset, f"payload is {type(payload).__name__}, not bytes")
    return UnitRecord(
        receive_ns=_uint(receive_ns, _UINT64_MAX, "receive_ns", offset),
        direction=_DIRECTIONS[direction],  # the members themselves: Direction(n) costs a microsecond
        layer=Layer._value2member_map_[layer],  # type: ignore[arg-type]
        session=_uint(session, _UINT32_MAX, "session", offset),
        sequence=_uint(sequence, _UINT64_MAX, "sequence", offset),
        payload=payload,
    )


def _decode_index(fields: list[Any], offset: int) -> IndexRecord:
    if len(fields) != 6:
        raise DecodeError(LAYER, offset, f"index record has {len(fields)} fields, not 6")
    previous = fields[1]
    if type(previous) is not int or not -1 <= previous <= _UINT64_MAX:
        raise DecodeError(LAYER, offset, f"previous index offset {previous!r} is not -1 or an offset")
    names = ("block_start", "min_receive_ns", "max_receive_ns", "records")
    block_start, min_ns, max_ns, records = (
        _uint(value, _UINT64_MAX, name, offset) for value, name in zip(fields[2:], names, strict=True)
    )
    return IndexRecord(previous, block_start, min_ns, max_ns, records)


_DECODERS = {
    RecordKind.HEADER: _decode_header,
    RecordKind.UNIT: _decode_unit,
    RecordKind.INDEX: _decode_index,
}


def decode_body(body: bytes | bytearray | memoryview, offset: int = 0) -> Record:
    """Decode a CRC-checked msgpack body; ``offset`` (of its frame) only labels errors."""
    try:
        fields = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as error:  # msgpack raises a zoo of types on malformed input; all mean "bad body"
        raise DecodeError(LAYER, offset, f"body is not msgpack ({type(error).__name__})") from None
    if not isinstance(fields, list) or not fields or type(fields[0]) is not int:
        raise DecodeError(LAYER, offset, "body is not an array starting with a record kind")
    decoder = _DECODERS.get(fields[0])  # type: ignore[call-overload]
    if decoder is None:
        raise DecodeError(LAYER, offset, f"unknown record kind {fields[0]}")
    return decoder(fields, offset)


def parse_frame_header(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Check a frame header at ``offset``; returns (crc32, body length) or raises DecodeError."""
    if len(data) - offset < FRAME_HEADER_LENGTH:
        raise DecodeError(LAYER, offset, f"need {FRAME_HEADER_LENGTH} octets for a frame header")
    sync, crc, length = _FRAME_HEADER_FAST.unpack_from(data, offset)
    if sync != SYNC_MARKER:
        raise DecodeError(LAYER, offset, f"no sync marker (found {bytes(sync).hex()})")
    if length > MAX_BODY_LENGTH:
        raise DecodeError(LAYER, offset, f"record length {length} exceeds {MAX_BODY_LENGTH}")
    return crc, length


def decode_frame(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Record, int]:
    """Decode the one frame at ``offset``; returns the record and the frame's length in octets."""
    crc, length = parse_frame_header(data, offset)
    end = offset + FRAME_HEADER_LENGTH + length
    if end > len(data):
        raise DecodeError(LAYER, offset, f"record of {length} octets runs past the end of the data")
    covered = bytes(data[offset + _CRC_START : end])
    if zlib.crc32(covered) != crc:
        raise DecodeError(LAYER, offset, "CRC-32 mismatch")
    return decode_body(memoryview(covered)[4:], offset), end - offset


class RecordingDecoder:
    """Push-style decoder: feed chunks of any size, get the same entries for any chunking.

    With ``expect_header`` the stream must start with a valid header frame
    (else :class:`DecodeError` at offset 0, or :class:`RecordingVersionError`);
    set it False to decode from the middle of a file (``start_offset``) or to
    salvage a file whose header is damaged. After the header, nothing raises:
    bad bytes come out as :class:`SkippedBytes` entries and decoding resumes
    at the next sync marker whose length and CRC check. The buffer never holds
    more than one maximum-size frame plus the last chunk.
    """

    def __init__(self, *, start_offset: int = 0, expect_header: bool = True) -> None:
        self._buffer = bytearray()
        self._buffer_offset = start_offset  # stream offset of _buffer[0]
        self._expect_header = expect_header
        self._skips = SkipTracker()
        self.header: RecordingHeader | None = None

    @property
    def stream_offset(self) -> int:
        """Offset just past the last octet fed."""
        return self._buffer_offset + len(self._buffer)

    @property
    def buffered(self) -> int:
        """Octets held back waiting for the rest of a frame (bounded by one frame plus a chunk)."""
        return len(self._buffer)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Entry]:
        self._buffer += chunk
        return self._drain(final=False)

    def close(self) -> list[Entry]:
        """End of stream: a torn last frame (or any trailing junk) is reported as skipped."""
        if self._expect_header and not self._buffer:
            raise DecodeError(LAYER, self._buffer_offset, "empty recording: no header record")
        entries = self._drain(final=True)
        if self._buffer:
            tail = len(self._buffer)
            self._skips.mark(self._buffer_offset, f"{tail} octets at end of data, too few for a frame")
            self._consume(len(self._buffer))
        if (skipped := self._skips.flush(self._buffer_offset)) is not None:
            entries.append(Entry(skipped.offset, skipped))
        return entries

    def _consume(self, n: int) -> None:
        del self._buffer[:n]
        self._buffer_offset += n

    def _decode_header(self, final: bool) -> list[Entry]:
        """The first frame must be a good header; anything else means this is not a recording."""
        buf, base = self._buffer, self._buffer_offset
        if len(buf) >= len(SYNC_MARKER) and not buf.startswith(SYNC_MARKER):
            raise DecodeError(LAYER, base, "not a paleblue recording: no sync marker at the start")
        if len(buf) < FRAME_HEADER_LENGTH:
            if final:
                raise DecodeError(LAYER, base, f"recording of {len(buf)} octets is too short for a header")
            return []
        _, length = parse_frame_header(buf, 0)
        if len(buf) < FRAME_HEADER_LENGTH + length:
            if final:
                raise DecodeError(LAYER, base, "header record torn by the end of the data")
            return []
        try:
            record, n = decode_frame(buf, 0)
        except DecodeError as error:
            if isinstance(error, RecordingVersionError):
                raise RecordingVersionError(LAYER, base + error.offset, error.reason) from None
            raise DecodeError(LAYER, base + error.offset, f"bad header record: {error.reason}") from None
        if not isinstance(record, RecordingHeader):
            raise DecodeError(LAYER, base, f"first record is a {type(record).__name__}, not a header")
        self.header = record
        self._expect_header = False
        self._consume(n)
        return [Entry(base, record)]

    def _drain(self, final: bool) -> list[Entry]:
        entries: list[Entry] = []
        if self._expect_header:
            entries = self._decode_header(final)
            if self._expect_header:
                return entries
        buf, base = self._buffer, self._buffer_offset
        size = len(buf)
        pos = 0
        while size - pos >= FRAME_HEADER_LENGTH:
            if not buf.startswith(SYNC_MARKER, pos):
                self._skips.mark(base + pos, "no sync marker")
                found = buf.find(SYNC_MARKER, pos + 1)
                if found < 0:
                    pos = max(pos + 1, size - len(SYNC_MARKER) + 1)  # keep a possible partial marker
                    break
                pos = found
                continue
            _, crc, length = _FRAME_HEADER_FAST.unpack_from(buf, pos)
            if length > MAX_BODY_LENGTH:
                self._skips.mark(base + pos, f"record length {length} exceeds {MAX_BODY_LENGTH}")
                pos += 1
                continue
            end = pos + FRAME_HEADER_LENGTH + length
            if end > size:
                if not final:
                    break
                present = size - pos - FRAME_HEADER_LENGTH
                reason = f"record of {length} octets torn: only {present} before end of data"
                self._skips.mark(base + pos, reason)
                pos += 1
                continue
            covered = buf[pos + _CRC_START : end]
            if zlib.crc32(covered) != crc:
                self._skips.mark(base + pos, f"CRC-32 mismatch in record of {length} octets")
                pos += 1
                continue
            try:
                record = decode_body(memoryview(covered)[4:], base + pos)
            except DecodeError as error:  # CRC good, so the framing is sound: skip the whole frame
                self._skips.mark(base + pos, error.reason)
                pos = end
                continue
            if (skipped := self._skips.flush(base + pos)) is not None:
                entries.append(Entry(skipped.offset, skipped))
            entries.append(Entry(base + pos, record))
            pos = end
        if pos:
            self._consume(pos)
        return entries
