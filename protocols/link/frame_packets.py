"""Packets in and out of transfer frame packet zones (TM data field / AOS M_PDU packet zone).

Sending: :class:`PacketPacker` queues whole space packets for one virtual channel and cuts the
byte stream into fixed-size zones; packets span zone boundaries and the first header pointer
(FHP) says where the first packet header in a zone starts (0x7FF: none starts here). A zone that
runs out of data is completed with an idle packet (APID 0x7FF), which may itself spill into the
next zone: a packet header can only be found through the FHP, never by guessing.

Receiving: :class:`PacketExtractor` reassembles packets from consecutive zones of one VC. After a
frame-count gap (or any inconsistency) it drops the partial packet, counts it, and waits for a
zone whose FHP shows where the next packet starts. Memory is bounded by one maximum packet.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import asdict, dataclass

from protocols.packets.apids import Apid
from protocols.packets.space_packet import MAX_PACKET_LENGTH, PRIMARY_HEADER_LENGTH

FHP_NO_PACKET_START = 0x7FF
FHP_IDLE_DATA = 0x7FE
IDLE_APID = int(Apid.IDLE)
MIN_PACKET_LENGTH = PRIMARY_HEADER_LENGTH + 1
IDLE_FILL = 0x55

_HEADER = struct.Struct(">HHH")


def idle_packet(length: int) -> bytes:
    """An unsegmented telemetry idle packet of ``length`` octets (at least 7)."""
    if not MIN_PACKET_LENGTH <= length <= MAX_PACKET_LENGTH:
        raise ValueError(f"an idle packet is {MIN_PACKET_LENGTH}..{MAX_PACKET_LENGTH} octets, not {length}")
    header = _HEADER.pack(IDLE_APID, 0xC000, length - PRIMARY_HEADER_LENGTH - 1)
    return header + bytes([IDLE_FILL]) * (length - PRIMARY_HEADER_LENGTH)


def check_packet(packet: bytes) -> None:
    """Raise ValueError unless ``packet`` is one whole version-0 space packet."""
    if len(packet) < MIN_PACKET_LENGTH:
        raise ValueError(f"a space packet has at least {MIN_PACKET_LENGTH} octets, not {len(packet)}")
    word0, _, data_length = _HEADER.unpack_from(packet)
    if word0 >> 13:
        raise ValueError(f"packet version {word0 >> 13} is not 0")
    if data_length + PRIMARY_HEADER_LENGTH + 1 != len(packet):
        raise ValueError(f"packet length field says {data_length + 7} octets but {len(packet)} were given")


class PacketPacker:
    """Outgoing packets of one virtual channel, cut into packet zones of a fixed length."""

    def __init__(self, zone_length: int) -> None:
        if zone_length < MIN_PACKET_LENGTH:
            raise ValueError(f"packet zone of {zone_length} octets is too short")
        self.zone_length = zone_length
        self._queue: deque[tuple[bytes, bool]] = deque()  # (packet, is_idle)
        self._head_offset = 0  # octets of the head packet already sent
        self._pending_real = 0  # octets of non-idle packets not yet sent

    def add(self, packet: bytes) -> None:
        self._queue.append((packet, False))
        self._pending_real += len(packet)

    @property
    def pending_octets(self) -> int:
        """Octets of real (non-idle) packets still waiting to be sent."""
        return self._pending_real

    @property
    def pending_packets(self) -> int:
        """Real packets not yet wholly sent (the one being sent counts)."""
        return sum(1 for _, is_idle in self._queue if not is_idle)

    def has_pending(self) -> bool:
        return self._pending_real > 0

    def next_zone(self) -> tuple[int, bytes]:
        """(first header pointer, zone octets); idle packets complete a zone that runs short."""
        zone = bytearray()
        first_header: int | None = None
        limit = self.zone_length
        while len(zone) < limit:
            if not self._queue:
                room = limit - len(zone)
                self._queue.append((idle_packet(max(room, MIN_PACKET_LENGTH)), True))
            packet, is_idle = self._queue[0]
            if self._head_offset == 0 and first_header is None:
                first_header = len(zone)
            take = min(len(packet) - self._head_offset, limit - len(zone))
            zone += packet[self._head_offset : self._head_offset + take]
            if not is_idle:
                self._pending_real -= take
            self._head_offset += take
            if self._head_offset == len(packet):
                self._queue.popleft()
                self._head_offset = 0
        return (FHP_NO_PACKET_START if first_header is None else first_header), bytes(zone)


@dataclass(slots=True)
class PacketCounters:
    """What packet extraction saw on one virtual channel."""

    packets: int = 0
    packet_octets: int = 0
    idle_packets: int = 0
    packets_lost: int = 0  # partial packets dropped at a gap or inconsistency
    impossible_packets: int = 0  # bad version or a length contradicting the next FHP / the maximum
    fhp_errors: int = 0  # first header pointers that contradict the packets already seen

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PacketExtractor:
    """Reassembles the packets of one virtual channel from consecutive packet zones."""

    shortcuts = True  # the common continuations taken directly (tests compare with False)

    def __init__(
        self,
        counters: PacketCounters | None = None,
        max_packet_length: int = MAX_PACKET_LENGTH,
        keep_idle: bool = False,
    ) -> None:
        self.counters = counters if counters is not None else PacketCounters()
        self.max_packet_length = max_packet_length
        self.keep_idle = keep_idle
        self._partial = bytearray()
        self._need = 0  # total length of the partial packet once its header is known, else 0
        self._synced = False

    @property
    def partial_octets(self) -> int:
        return len(self._partial)

    @property
    def octets_to_finish(self) -> int | None:
        """Octets the partial packet still needs, once its header is known (else None)."""
        return self._need - len(self._partial) if self._need and self._partial else None

    def close(self) -> int:
        """End of stream: drop (and count) a partial packet; returns its octets."""
        dropped = len(self._partial)
        self._drop_partial()
        self._synced = False
        return dropped

    def _drop_partial(self) -> None:
        if self._partial:
            self.counters.packets_lost += 1
            self._partial.clear()
        self._need = 0

    def _emit(self, packet: bytes, out: list[bytes]) -> None:
        if (packet[0] << 8 | packet[1]) & 0x7FF == IDLE_APID:
            self.counters.idle_packets += 1
            if not self.keep_idle:
                return
        else:
            self.counters.packets += 1
            self.counters.packet_octets += len(packet)
        out.append(packet)

    def _packet_length(self, header: bytes | bytearray) -> int:
        """Whole length from a 6-octet header, or 0 if the header is impossible."""
        word0, _, data_length = _HEADER.unpack_from(header)
        length = data_length + PRIMARY_HEADER_LENGTH + 1
        if word0 >> 13 or length > self.max_packet_length:
            self.counters.impossible_packets += 1
            return 0
        return length

    def push(self, zone: bytes, first_header_pointer: int, gap: bool = False) -> list[bytes]:
        """Packets completed by this zone (idle packets removed unless ``keep_idle``)."""
        out: list[bytes] = []
        fhp = first_header_pointer
        n = len(zone)
        if gap or fhp == FHP_IDLE_DATA:
            self._drop_partial()
            self._synced = False
            if fhp == FHP_IDLE_DATA:
                return out
        if fhp != FHP_NO_PACKET_START and fhp >= n:
            self.counters.fhp_errors += 1
            self._drop_partial()
            self._synced = False
            return out
        pos = 0
        if self._synced:
            pos = self._finish_partial(zone, fhp, out)
        if not self._synced:
            if fhp == FHP_NO_PACKET_START:
                return out
            pos = fhp
            self._synced = True
        self._cut(zone, pos, out)
        return out

    def _finish_partial(self, zone: bytes, fhp: int, out: list[bytes]) -> int:
        """Complete the packet carried over from the previous zone; returns where to go on."""
        n = len(zone)
        need = self._need
        if (
            need and self.shortcuts
        ):  # the common cases, with the header known, as the general path below has them:
            take = need - len(self._partial)
            if take > n and fhp == FHP_NO_PACKET_START:  # the packet goes on past this zone
                self._partial += zone
                return n
            if fhp == take:  # it ends here, where the zone's first header begins
                self._partial += zone[:take]
                self._emit(bytes(self._partial), out)
                self._partial.clear()
                self._need = 0
                return take
        pos = 0
        if not self._partial:
            if fhp != 0:  # the previous zone ended on a boundary, so a header must start at 0
                self.counters.fhp_errors += 1
                self._synced = False
            return 0
        if len(self._partial) < PRIMARY_HEADER_LENGTH:
            take = min(PRIMARY_HEADER_LENGTH - len(self._partial), n)
            self._partial += zone[:take]
            pos = take
            if len(self._partial) < PRIMARY_HEADER_LENGTH:
                return self._check_pointer(pos, fhp, True, n)
            self._need = self._packet_length(self._partial)
            if not self._need:
                self._partial.clear()
                self._synced = False
                return pos
        take = min(self._need - len(self._partial), n - pos)
        if fhp != FHP_NO_PACKET_START and pos + take > fhp:
            # the packet would run over a header the sender says starts at fhp
            self.counters.impossible_packets += 1
            self._drop_partial()
            self._synced = False
            return pos
        self._partial += zone[pos : pos + take]
        pos += take
        if len(self._partial) == self._need:
            self._emit(bytes(self._partial), out)
            self._partial.clear()
            self._need = 0
            return self._check_pointer(pos, fhp, False, n)
        return self._check_pointer(pos, fhp, True, n)

    def _check_pointer(self, pos: int, fhp: int, still_open: bool, zone_length: int) -> int:
        """After the carried-over packet: does the declared first header agree with where it ended?"""
        if fhp == FHP_NO_PACKET_START:
            consistent = still_open or pos == zone_length
        else:
            consistent = not still_open and pos == fhp
        if not consistent:
            self.counters.fhp_errors += 1
            self._drop_partial()
            self._synced = False
        return pos

    def _cut(self, zone: bytes, pos: int, out: list[bytes]) -> None:
        n = len(zone)
        unpack = _HEADER.unpack_from
        while pos < n:
            if n - pos < PRIMARY_HEADER_LENGTH:
                self._partial += zone[pos:]
                self._need = 0
                return
            word0, _, data_length = unpack(zone, pos)
            length = data_length + PRIMARY_HEADER_LENGTH + 1
            if word0 >> 13 or length > self.max_packet_length:
                self.counters.impossible_packets += 1
                self._synced = False
                return
            end = pos + length
            if end <= n:
                self._emit(zone[pos:end], out)
                pos = end
            else:
                self._partial += zone[pos:]
                self._need = length
                return
