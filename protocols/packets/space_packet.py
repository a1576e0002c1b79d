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

import functools
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from construct import BitsInteger, BitStruct, Flag

from protocols.coding.crc import crc16_rows, crc16_wide
from protocols.errors import DecodeError
from protocols.packets.apids import MISSION_APIDS, PUS_TM_APIDS
from protocols.skipped import SkippedBytes, SkipTracker

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


def peek_header(data: bytes | memoryview, offset: int = 0) -> PrimaryHeader | None:
    """The primary header at ``offset``, nothing else checked (None: fewer than six octets there).

    The one place that reads APID, type or count from raw bytes: a router's first look at a unit
    before deciding who decodes it."""
    if offset < 0 or len(data) - offset < PRIMARY_HEADER_LENGTH:
        return None
    return unpack_header_fast(data, offset)


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

    def __init__(self, start: dict[int, int] | None = None) -> None:
        """``start``: the next count of some APIDs (to make a packet run's same counts again)."""
        self._next = {apid: count % SEQUENCE_COUNT_MODULO for apid, count in (start or {}).items()}

    def peek(self, apid: int) -> int:
        """The count the next packet of ``apid`` will get."""
        return self._next.get(apid, 0)

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


@dataclass(frozen=True)
class PacketCheck:
    """When a stream decoder believes a candidate header (a raw packet stream has no sync marker).

    ``apids`` are believed anywhere, also while resynchronizing after bad octets; ``pec_apids`` are
    the APIDs whose telemetry packets with the secondary header flag set end with a PEC
    (CRC-16/CCITT-FALSE over the whole packet, PUS-C). With ``learn``, the APID of every packet
    accepted joins ``apids`` for the rest of the stream (so a foreign file resynchronizes too).
    See :class:`PacketStreamDecoder` for the rules.
    """

    apids: frozenset[int]
    pec_apids: frozenset[int] = frozenset()
    learn: bool = True


MISSION_PACKETS = PacketCheck(MISSION_APIDS, PUS_TM_APIDS)


@functools.lru_cache(maxsize=256)  # a decoder per message: build each pattern once
def _header_pattern(apids: frozenset[int], first_octets: tuple[int, ...]) -> re.Pattern[bytes]:
    """A regular expression for the first two octets of a version-0 header naming one of ``apids``
    (``first_octets``: the type and secondary-header-flag bits allowed, APID bits 0)."""
    lows_by_high: dict[int, list[int]] = {}
    for apid in apids:
        lows_by_high.setdefault(apid >> 8, []).append(apid & 0xFF)
    alternatives = []
    for high, lows in sorted(lows_by_high.items()):
        first = b"".join(re.escape(bytes([octet | high])) for octet in first_octets)
        second = b"".join(re.escape(bytes([low])) for low in sorted(lows))
        alternatives.append(b"[" + first + b"][" + second + b"]")
    return re.compile(b"|".join(alternatives) or b"(?!)", re.DOTALL)


_ANY_TYPE = (0x00, 0x08, 0x10, 0x18)  # version 0, either packet type, either secondary header flag
_TM_WITH_SECONDARY_HEADER = (0x08,)
_WAIT, _REJECT, _ACCEPT = range(3)


def _carries_pec(word0: int, pec_apids: frozenset[int]) -> bool:
    """Version 0, telemetry, secondary header flag set, an APID of ``pec_apids``."""
    return word0 & 0xF800 == 0x0800 and word0 & 0x7FF in pec_apids


def holds_whole_packets(data: bytes | memoryview, check: PacketCheck | None = None) -> bool:
    """Whether ``data`` is whole packets back to back that :class:`PacketStreamDecoder` cuts with
    nothing skipped whatever comes before or after: every header version 0, the lengths adding up to
    ``len(data)`` exactly (and, with a ``check``, every packet one that carries a PEC and whose PEC
    is right). Such buffers can be joined and decoded as one stream for the same packets.
    """
    pos, end = 0, len(data)
    unpack = _HEADER_STRUCT.unpack_from
    if check is None:
        while end - pos >= PRIMARY_HEADER_LENGTH:
            word0, _, length = unpack(data, pos)
            if word0 >> 13:
                return False
            pos += PRIMARY_HEADER_LENGTH + length + 1
        return pos == end
    view, pec_apids = memoryview(data), check.pec_apids
    while end - pos >= PRIMARY_HEADER_LENGTH:
        word0, _, length = unpack(data, pos)
        stop = pos + PRIMARY_HEADER_LENGTH + length + 1
        # version 0, telemetry with a secondary header, a PEC APID (as _carries_pec), right PEC
        if (
            word0 & 0xF800 != 0x0800
            or word0 & 0x7FF not in pec_apids
            or stop > end
            or crc16_wide(view[pos:stop])
        ):
            return False
        pos = stop
    return pos == end


class PacketStreamDecoder:
    """Cuts packets from a byte stream that arrives in chunks of any size.

    A raw packet stream has no sync marker, so after bad bytes the decoder slides forward one
    octet at a time until it believes a header. Everything it slides over is reported as
    :class:`SkippedBytes`. The buffer never holds more than two maximum-size packets plus the last
    chunk, so memory is bounded. The output does not depend on how the stream is chunked.

    Without a ``check`` it believes any header ``accept_header`` likes (by default: version 0),
    as far as the length field says. With a :class:`PacketCheck` (the ground station uses
    :data:`MISSION_PACKETS`) a packet is accepted only when it is plausible:

    - its header has version 0 and, unless the decoder is *in step* (at the start of the stream
      or right after a packet it confirmed), an APID of ``check.apids``;
    - the whole packet is in the stream;
    - a packet that carries a PEC (telemetry, secondary header flag, an APID of
      ``check.pec_apids``) has the right one: that confirms it, wherever it is;
    - a packet without a PEC is confirmed by what follows it: the end of the stream, or a header
      of version 0 (in step) or of version 0 and a believed APID (resynchronizing); and no packet
      with a right PEC starts inside it (a damaged length field cannot swallow good packets).

    Otherwise it slides one octet. So a packet that carries a PEC is decoded whenever damage did
    not touch it, before or after the damage; one without a PEC is decoded when the damage touched
    nothing from the end of the last PEC-confirmed packet before it to the end of the header after
    it (tests/properties/test_properties_space_packet.py holds the decoder to both).
    """

    def __init__(
        self,
        accept_header: HeaderCheck = any_version_zero,
        runs: bool = False,
        check: PacketCheck | None = None,
    ) -> None:
        """``runs``: yield back-to-back packets of one length as one
        :class:`PacketRun` (only with the default header check, which the
        run finder applies column-wise); the packets in it are the ones a plain decoder yields.
        With a ``check``, runs hold only packets confirmed by their PEC."""
        self._accept = accept_header
        self._check = check
        self._runs = runs and accept_header is any_version_zero
        self._buffer = bytearray()
        self._buffer_offset = 0  # stream offset of _buffer[0]
        self._skips = SkipTracker()
        self._in_step = True  # at the start of the stream or right after a confirmed packet
        if check is not None:
            self._known = set(check.apids) | set(check.pec_apids)
            self._candidates = _header_pattern(frozenset(self._known), _ANY_TYPE)
            self._pec_candidates = _header_pattern(check.pec_apids, _TM_WITH_SECONDARY_HEADER)

    @property
    def stream_offset(self) -> int:
        return self._buffer_offset + len(self._buffer)

    def feed(self, chunk: bytes | memoryview) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        self._buffer += chunk
        if self._check is not None:
            yield from self._drain_checked(final=False)
        else:
            yield from self._drain(final=False)

    def close(self) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        """End of stream: whatever is left is reported as skipped."""
        if self._check is not None:
            yield from self._drain_checked(final=True)
        else:
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
            if self._runs and (count := run_length_at(buf, pos, h.packet_length)) >= MIN_RUN_PACKETS:
                yield cut_run(buf, pos, h.packet_length, count, self._buffer_offset + pos)
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

    # -- with a PacketCheck ------------------------------------------------------------------
    def _drain_checked(self, final: bool) -> Iterator[SpacePacket | SkippedBytes | PacketRun]:
        buf = self._buffer
        check = self._check
        assert check is not None
        pos = 0
        while len(buf) - pos >= PRIMARY_HEADER_LENGTH:
            if not self._in_step:  # resynchronizing: jump to the next header naming a believed APID
                found = self._candidates.search(buf, pos, len(buf) - PRIMARY_HEADER_LENGTH + 2)
                at = found.start() if found else len(buf) - PRIMARY_HEADER_LENGTH + 1
                if at > pos:
                    self._skips.mark(self._buffer_offset + pos, "no header naming a mission APID")
                    pos = at
                    continue
            verdict, reason = self._judge(buf, pos, final)
            if verdict == _WAIT:
                break
            if verdict == _REJECT:
                self._skips.mark(self._buffer_offset + pos, reason)
                self._in_step = False
                pos += 1
                continue
            word0, word1, length = _HEADER_STRUCT.unpack_from(buf, pos)
            packet_length = PRIMARY_HEADER_LENGTH + length + 1
            if (s := self._skips.flush(self._buffer_offset + pos)) is not None:
                yield s
            self._in_step = True
            self._learn(word0 & 0x7FF)
            if (
                self._runs
                and _carries_pec(word0, check.pec_apids)
                and (count := run_length_at(buf, pos, packet_length, check.pec_apids)) >= MIN_RUN_PACKETS
            ):
                yield cut_run(buf, pos, packet_length, count, self._buffer_offset + pos, True)
                pos += count * packet_length
                continue
            end = pos + packet_length
            data = bytes(buf[pos + PRIMARY_HEADER_LENGTH : end])
            yield SpacePacket(
                word0 & 0x7FF, word1 & 0x3FFF, data, (word0 >> 12) & 1, bool((word0 >> 11) & 1), word1 >> 14
            )
            pos = end
        if pos:
            self._consume(pos)

    def _learn(self, apid: int) -> None:
        check = self._check
        if check is not None and check.learn and apid not in self._known:
            self._known.add(apid)
            self._candidates = _header_pattern(frozenset(self._known), _ANY_TYPE)

    def _judge(self, buf: bytearray, pos: int, final: bool) -> tuple[int, str]:
        """Whether the packet whose header is at ``pos`` is plausible (see the class docstring)."""
        check = self._check
        assert check is not None
        size = len(buf)
        word0, _, length = _HEADER_STRUCT.unpack_from(buf, pos)
        apid = word0 & 0x7FF
        if word0 >> 13:
            return _REJECT, f"implausible header (version {word0 >> 13}, APID 0x{apid:03X})"
        if not self._in_step and apid not in self._known:
            return _REJECT, f"header naming APID 0x{apid:03X}, not a mission APID"
        end = pos + PRIMARY_HEADER_LENGTH + length + 1
        if end > size:
            return (_REJECT, f"packet of {end - pos} octets runs past the end") if final else (_WAIT, "")
        if _carries_pec(word0, check.pec_apids):
            if crc16_wide(memoryview(buf)[pos:end]):
                return _REJECT, f"packet of {end - pos} octets with a wrong PEC (APID 0x{apid:03X})"
            return _ACCEPT, ""
        if end < size:
            if size - end < PRIMARY_HEADER_LENGTH:
                if not final:
                    return _WAIT, ""
                return _REJECT, f"packet of {end - pos} octets followed by a partial header"
            following = _HEADER_STRUCT.unpack_from(buf, end)[0]
            if following >> 13 or not (self._in_step or following & 0x7FF in self._known):
                return _REJECT, f"packet of {end - pos} octets not followed by a plausible header"
        elif not final:
            return _WAIT, ""
        return self._nothing_confirmed_inside(buf, pos + 1, end, final)

    def _nothing_confirmed_inside(self, buf: bytearray, start: int, end: int, final: bool) -> tuple[int, str]:
        """Accept unless a packet with a right PEC starts in ``buf[start:end]`` (wait to know)."""
        size = len(buf)
        view = memoryview(buf)
        search = self._pec_candidates.search
        while (found := search(buf, start, min(end + 1, size))) is not None:
            at = found.start()
            if at + PRIMARY_HEADER_LENGTH > size:
                if not final:
                    return _WAIT, ""
                break
            stop = at + PRIMARY_HEADER_LENGTH + _HEADER_STRUCT.unpack_from(buf, at)[2] + 1
            if stop > size:
                if not final:
                    return _WAIT, ""
            elif not crc16_wide(view[at:stop]):
                return _REJECT, f"a packet with a right PEC starts {at - start + 1} octets inside it"
            start = at + 1
        return _ACCEPT, ""


# ------------------------------------------------------------------- runs of equal-length packets
# Runs of equal-length space packets, held as one 2-D array so whole runs decode column-wise.
#
# A raw packet file or a message of image segments is mostly packets of one length back to back.
# Cutting them one at a time costs several Python objects per packet; a run is found with one
# numpy comparison over the candidate headers and its header fields are read as columns.
#
# The columns are a fast path of :data:`PRIMARY_HEADER` (same bit
# positions as :func:`unpack_header_fast`), and :meth:`PacketRun.packet`
# gives back exactly the :class:`SpacePacket` that
# :class:`PacketStreamDecoder` yields for the same octets; tests prove both.

MIN_RUN_PACKETS = 16  # shorter runs are cheaper cut one by one (numpy has a fixed cost per call)


@dataclass(frozen=True)
class PacketRun:
    """``len(rows)`` whole packets of ``rows.shape[1]`` octets each; ``stream_offset`` of the first."""

    rows: np.ndarray  # (packets, packet_length) uint8, owned (a copy, never a view of a buffer)
    stream_offset: int = 0
    pec_checked: bool = False  # every packet is known to end with its right PEC (cut with a check)

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def packet_length(self) -> int:
        return self.rows.shape[1]

    def versions(self) -> np.ndarray:
        return self.rows[:, 0] >> 5

    def packet_types(self) -> np.ndarray:
        return (self.rows[:, 0] >> 4) & 1

    def secondary_header_flags(self) -> np.ndarray:
        return (self.rows[:, 0] >> 3) & 1

    def apids(self) -> np.ndarray:
        return (self.rows[:, 0].astype(np.uint16) & 0x07) << 8 | self.rows[:, 1]

    def sequence_flags(self) -> np.ndarray:
        return self.rows[:, 2] >> 6

    def sequence_counts(self) -> np.ndarray:
        return (self.rows[:, 2].astype(np.uint16) & 0x3F) << 8 | self.rows[:, 3]

    def packet(self, index: int) -> SpacePacket:
        """Packet ``index``, decoded by the one-at-a-time decoder itself."""
        return SpacePacket.unpack(self.rows[index].tobytes())[0]

    def packets(self, start: int = 0, stop: int | None = None) -> Iterator[SpacePacket]:
        for index in range(start, len(self) if stop is None else stop):
            yield self.packet(index)


def run_length_at(
    buffer: bytes | bytearray, position: int, packet_length: int, pec_apids: frozenset[int] | None = None
) -> int:
    """How many packets of ``packet_length`` octets, each with version 0 and that length in its
    header, lie back to back from ``position`` (the first is already known to be one).

    With ``pec_apids``, only packets that a :class:`PacketCheck` with those
    PEC APIDs confirms on their own count: telemetry, secondary header flag set, an APID of
    ``pec_apids`` and a right PEC (checked in growing windows, so a run cut short costs little).
    """
    available = (len(buffer) - position) // packet_length
    if available < MIN_RUN_PACKETS:
        return min(available, 1)
    view = np.frombuffer(buffer, dtype=np.uint8, count=available * packet_length, offset=position)
    rows = view.reshape(available, packet_length)
    headers = rows[:, :6]
    length_field = packet_length - PRIMARY_HEADER_LENGTH - 1
    if pec_apids is None:
        version_zero = headers[:, 0] >> 5 == 0
    else:  # version 0, telemetry, secondary header flag set, a PEC APID
        first, second = headers[:, 0], headers[:, 1]
        apid_ok = np.zeros(available, dtype=bool)
        for apid in pec_apids:  # a few APIDs: one comparison each beats np.isin
            apid_ok |= (first == (0x08 | apid >> 8)) & (second == apid & 0xFF)
        version_zero = apid_ok
    fits = version_zero & (headers[:, 4] == length_field >> 8) & (headers[:, 5] == length_field & 0xFF)
    misfits = np.flatnonzero(~fits)
    count = int(misfits[0]) if misfits.size else available
    if pec_apids is None:
        return count
    checked, window = 0, 256
    while checked < count:
        stop = min(count, checked + window)
        wrong = np.flatnonzero(crc16_rows(rows[checked:stop]))
        if wrong.size:
            return checked + int(wrong[0])
        checked, window = stop, 4 * window
    return count


def cut_run(
    buffer: bytes | bytearray,
    position: int,
    packet_length: int,
    count: int,
    offset: int,
    pec_checked: bool = False,
) -> PacketRun:
    """Copy ``count`` packets from ``buffer`` (so that the buffer may be resized afterwards)."""
    rows = np.frombuffer(buffer, dtype=np.uint8, count=count * packet_length, offset=position).copy()
    return PacketRun(rows.reshape(count, packet_length), offset, pec_checked)
