"""CCSDS Space Packet (CCSDS 133.0-B-2): primary header, packets, and a stream decoder.

Primary header, 6 octets, big-endian bit order::

    bits  0-2   packet version number        always 000
    bit   3     packet type                  0 = telemetry, 1 = telecommand
    bit   4     secondary header flag
    bits  5-15  APID                         11 bits, 0x7FF = idle
    bits 16-17  sequence flags               01 first, 00 continuation, 10 last, 11 unsegmented
    bits 18-31  packet sequence count        14 bits, per APID, wraps at 16384
    bits 32-47  packet data length           octets in the data field minus one

:data:`PRIMARY_HEADER` (construct) is the declaration; :func:`unpack_header_fast`
(struct) is the fast path that tests prove identical to it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from construct import BitsInteger, BitStruct, Flag

from protocols.errors import DecodeError
from protocols.skipped import SkippedBytes, SkipTracker

if TYPE_CHECKING:
    from protocols.packet_run import PacketRun

LAYER = "space-packet"

PRIMARY_HEADER_LENGTH = 6
MAX_DATA_LENGTH = 65536
MAX_PACKET_LENGTH = PRIMARY_HEADER_LENGTH + MAX_DATA_LENGTH
SEQUENCE_COUNT_MODULO = 1 << 14

PRIMARY_HEADER = BitStruct(
    "version" / BitsInteger(3),
    "packet_type" / BitsInteger(1),
    "secondary_header_flag" / Flag,
    "apid" / BitsInteger(11),
    "sequence_flags" / BitsInteger(2),
    "sequence_count" / BitsInteger(14),
    "data_length" / BitsInteger(16),
)


class PacketType(IntEnum):
    TELEMETRY = 0
    TELECOMMAND = 1


class SequenceFlags(IntEnum):
    CONTINUATION = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


_HEADER_STRUCT = struct.Struct(">HHH")


@dataclass(frozen=True, slots=True)
class PrimaryHeader:
    """The six-octet primary header as a value."""

    apid: int
    sequence_count: int
    data_length: int  # octets in the data field minus one, as on the wire
    packet_type: int = PacketType.TELEMETRY
    secondary_header_flag: bool = False
    sequence_flags: int = SequenceFlags.UNSEGMENTED
    version: int = 0

    @property
    def packet_length(self) -> int:
        """Whole packet length in octets (header included)."""
        return PRIMARY_HEADER_LENGTH + self.data_length + 1

    def pack(self) -> bytes:
        return pack_header_fast(self)


def unpack_header_fast(data: bytes | memoryview, offset: int = 0) -> PrimaryHeader:
    """Decode a primary header with struct; identical to :data:`PRIMARY_HEADER`."""
    if offset < 0 or len(data) - offset < PRIMARY_HEADER_LENGTH:
        raise DecodeError(LAYER, offset, f"need {PRIMARY_HEADER_LENGTH} octets for a primary header")
    word0, word1, length = _HEADER_STRUCT.unpack_from(data, offset)
    return PrimaryHeader(
        apid=word0 & 0x7FF,
        sequence_count=word1 & 0x3FFF,
        data_length=length,
        packet_type=(word0 >> 12) & 1,
        secondary_header_flag=bool((word0 >> 11) & 1),
        sequence_flags=word1 >> 14,
        version=word0 >> 13,
    )


def pack_header_fast(h: PrimaryHeader) -> bytes:
    if not 0 <= h.apid <= 0x7FF:
        raise ValueError(f"APID {h.apid} does not fit 11 bits")
    if not 0 <= h.sequence_count < SEQUENCE_COUNT_MODULO:
        raise ValueError(f"sequence count {h.sequence_count} does not fit 14 bits")
    if not 0 <= h.data_length <= 0xFFFF:
        raise ValueError(f"data length field {h.data_length} does not fit 16 bits")
    word0 = (h.version & 7) << 13 | (h.packet_type & 1) << 12 | int(h.secondary_header_flag) << 11 | h.apid
    word1 = (h.sequence_flags & 3) << 14 | h.sequence_count
    return _HEADER_STRUCT.pack(word0, word1, h.data_length)


@dataclass(frozen=True, slots=True)
class SpacePacket:
    """A whole space packet: header fields plus the data field (secondary header included)."""

    apid: int
    sequence_count: int
    data: bytes
    packet_type: int = PacketType.TELEMETRY
    secondary_header_flag: bool = True
    sequence_flags: int = SequenceFlags.UNSEGMENTED

    def header(self) -> PrimaryHeader:
        if not 1 <= len(self.data) <= MAX_DATA_LENGTH:
            raise ValueError(f"data field must hold 1..{MAX_DATA_LENGTH} octets, not {len(self.data)}")
        return PrimaryHeader(
            apid=self.apid,
            sequence_count=self.sequence_count,
            data_length=len(self.data) - 1,
            packet_type=self.packet_type,
            secondary_header_flag=self.secondary_header_flag,
            sequence_flags=self.sequence_flags,
        )

    def pack(self) -> bytes:
        return self.header().pack() + self.data

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> tuple[SpacePacket, int]:
        """Decode one packet at ``offset``; returns it and its length in octets."""
        h = unpack_header_fast(data, offset)
        if h.version != 0:
            raise DecodeError(LAYER, offset, f"packet version {h.version} is not 0")
        end = offset + h.packet_length
        if end > len(data):
            raise DecodeError(
                LAYER, offset, f"packet of {h.packet_length} octets runs past the {len(data) - offset} given"
            )
        packet = cls(
            apid=h.apid,
            sequence_count=h.sequence_count,
            data=bytes(data[offset + PRIMARY_HEADER_LENGTH : end]),
            packet_type=h.packet_type,
            secondary_header_flag=h.secondary_header_flag,
            sequence_flags=h.sequence_flags,
        )
        return packet, h.packet_length


class SequenceCounter:
    """Per-APID 14-bit packet sequence counts that wrap at 16384."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def next(self, apid: int) -> int:
        count = self._next.get(apid, 0)
        self._next[apid] = (count + 1) % SEQUENCE_COUNT_MODULO
        return count


def sequence_gap(previous: int, current: int) -> int:
    """Packets missing between two consecutive counts of one APID (0 when in order)."""
    return (current - previous - 1) % SEQUENCE_COUNT_MODULO


HeaderCheck = Callable[[PrimaryHeader], bool]


def any_version_zero(h: PrimaryHeader) -> bool:
    return h.version == 0


def holds_whole_packets(data: bytes | memoryview) -> bool:
    """Whether ``data`` is whole packets back to back that :class:`PacketStreamDecoder` (default
    header check) cuts with nothing skipped: every header version 0, the lengths adding up to
    ``len(data)`` exactly. Such buffers can be joined and decoded as one stream for the same packets.
    """
    pos, end = 0, len(data)
    while end - pos >= PRIMARY_HEADER_LENGTH:
        word0, _, length = _HEADER_STRUCT.unpack_from(data, pos)
        if word0 >> 13:
            return False
        pos += PRIMARY_HEADER_LENGTH + length + 1
    return pos == end


class PacketStreamDecoder:
    """Cuts packets from a byte stream that arrives in chunks of any size.

    A raw packet stream has no sync marker, so after bad bytes the decoder
    slides forward one octet at a time until ``accept_header`` likes a header
    (by default: version 0). Everything it slides over is reported as
    :class:`SkippedBytes`. The buffer never holds more than one maximum-size
    packet plus the last chunk, so memory is bounded.
    """

    def __init__(self, accept_header: HeaderCheck = any_version_zero, runs: bool = False) -> None:
        """``runs``: yield back-to-back packets of one length as one
        :class:`~protocols.packet_run.PacketRun` (only with the default header check, which the
        run finder applies column-wise); the packets in it are the ones a plain decoder yields."""
        self._accept = accept_header
        self._runs = None
        if runs and accept_header is any_version_zero:
            from protocols import packet_run  # it builds on this module

            self._runs = packet_run
        self._buffer = bytearray()
        self._buffer_offset = 0  # stream offset of _buffer[0]
        self._skips = SkipTracker()

    @property
    def stream_offset(self) -> int:
        return self._buffer_offset + len(self._buffer)

    def feed(self, chunk: bytes | memoryview) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        self._buffer += chunk
        yield from self._drain(final=False)

    def close(self) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        """End of stream: whatever is left is reported as skipped."""
        yield from self._drain(final=True)
        if self._buffer:
            self._skips.mark(self._buffer_offset, "truncated packet at end of stream")
            self._consume(len(self._buffer))
        if (s := self._skips.flush(self._buffer_offset)) is not None:
            yield s

    def _consume(self, n: int) -> None:
        del self._buffer[:n]
        self._buffer_offset += n

    def _drain(self, final: bool) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        buf = self._buffer
        pos = 0
        while len(buf) - pos >= PRIMARY_HEADER_LENGTH:
            h = unpack_header_fast(buf, pos)
            if not self._accept(h):
                self._skips.mark(
                    self._buffer_offset + pos,
                    f"implausible header (version {h.version}, APID 0x{h.apid:03X})",
                )
                pos += 1
                continue
            if len(buf) - pos < h.packet_length:
                break
            if (s := self._skips.flush(self._buffer_offset + pos)) is not None:
                yield s
            runs = self._runs
            if runs and (count := runs.run_length_at(buf, pos, h.packet_length)) >= runs.MIN_RUN_PACKETS:
                yield runs.cut_run(buf, pos, h.packet_length, count, self._buffer_offset + pos)
                pos += count * h.packet_length
                continue
            end = pos + h.packet_length
            yield SpacePacket(
                h.apid, h.sequence_count, bytes(buf[pos + PRIMARY_HEADER_LENGTH : end]), h.packet_type,
                h.secondary_header_flag, h.sequence_flags,
            )  # fmt: skip
            pos = end
        if pos:
            self._consume(pos)
