"""ECSS PUS-C (ECSS-E-ST-70-41C) packets: the one codec of paleblue's TM and TC packets.

Every paleblue telemetry packet carries the PUS-C TM secondary header, so that
PUS-aware tools (tmtccmd, spacepackets, Yamcs) decode it as they are::

    octet 0     PUS version number (4 bits, = 2) | spacecraft time reference status (4 bits)
    octet 1     service type
    octet 2     message subtype
    octets 3-4  message type counter (paleblue counts per APID)
    octets 5-6  destination ID
    octets 7-13 time: CUC with explicit P-field 0x1E (see :mod:`protocols.packets.time_code`)

and ends with a 2-octet packet error control (CRC-16/CCITT-FALSE over the whole
packet), as spacepackets' ``PusTm.unpack`` expects by default.

Telecommands carry the PUS-C TC secondary header::

    octet 0     PUS version number (4 bits, = 2) | acknowledgement flags (4 bits)
    octet 1     service type
    octet 2     message subtype
    octets 3-4  source ID

:data:`TM_SECONDARY_HEADER` and :data:`TC_SECONDARY_HEADER` (construct) are the declarations;
the ``pack``/``unpack`` of :class:`TmSecondaryHeader` and :class:`TcSecondaryHeader` are the
struct fast paths that tests prove identical to them. :class:`TmPacket` and :class:`TcPacket`
are the whole packets: ``pack`` is the only place a PUS packet is written, ``unpack`` (from
bytes) and ``from_space_packet`` the only places one is read and its PEC checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np
from construct import BitsInteger, BitStruct, Bytes, Flag, Int8ub, Int16ub, Struct

from protocols.coding.crc import crc16, crc16_rows
from protocols.errors import DecodeError
from protocols.packets.space_packet import (
    PRIMARY_HEADER_LENGTH,
    PacketType,
    PrimaryHeader,
    SequenceFlags,
    SpacePacket,
)
from protocols.packets.time_code import CUC_LENGTH_4_2, CUC_PFIELD_4_2, CucTime

if TYPE_CHECKING:
    from protocols.packets.space_packet import PacketRun

LAYER_TM = "pus-tm"
LAYER_TC = "pus-tc"
LAYER_PEC = "pus-pec"

PUS_VERSION_C = 2

TM_SECONDARY_HEADER = Struct(
    "flags" / BitStruct("pus_version" / BitsInteger(4), "time_reference_status" / BitsInteger(4)),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "message_counter" / Int16ub,
    "destination_id" / Int16ub,
    "time" / Bytes(CUC_LENGTH_4_2),
)
TM_TIME_OFFSET = 7  # the CUC time field (P-field first) in the secondary header
TM_SECONDARY_HEADER_LENGTH = TM_TIME_OFFSET + CUC_LENGTH_4_2
TM_PAYLOAD_OFFSET = PRIMARY_HEADER_LENGTH + TM_SECONDARY_HEADER_LENGTH  # in a whole packet

TC_SECONDARY_HEADER = Struct(
    "flags" / BitStruct("pus_version" / BitsInteger(4), "ack_flags" / BitsInteger(4)),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "source_id" / Int16ub,
)
TC_SECONDARY_HEADER_LENGTH = 5

PEC_LENGTH = 2
TM_OVERHEAD = PRIMARY_HEADER_LENGTH + TM_SECONDARY_HEADER_LENGTH + PEC_LENGTH
TC_OVERHEAD = PRIMARY_HEADER_LENGTH + TC_SECONDARY_HEADER_LENGTH + PEC_LENGTH

_TM_FIXED = struct.Struct(">BBBHH")  # the TM secondary header before its time field
_TC_HEADER = struct.Struct(">BBBH")


@dataclass(frozen=True, slots=True)
class TmSecondaryHeader:
    service: int
    subtype: int
    time: CucTime
    message_counter: int = 0
    destination_id: int = 0
    time_reference_status: int = 0

    def pack(self) -> bytes:
        """Fast path of :data:`TM_SECONDARY_HEADER` (tests prove the bytes identical)."""
        flags = PUS_VERSION_C << 4 | (self.time_reference_status & 0x0F)
        fixed = _TM_FIXED.pack(flags, self.service, self.subtype, self.message_counter, self.destination_id)
        return fixed + self.time.pack(with_pfield=True)

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> TmSecondaryHeader:
        """Decode at ``offset`` (the start of the packet data field)."""
        if len(data) - offset < TM_SECONDARY_HEADER_LENGTH:
            raise DecodeError(
                LAYER_TM, offset, f"need {TM_SECONDARY_HEADER_LENGTH} octets of secondary header"
            )
        flags, service, subtype, counter, destination = _TM_FIXED.unpack_from(data, offset)
        if flags >> 4 != PUS_VERSION_C:
            raise DecodeError(LAYER_TM, offset, f"PUS version {flags >> 4} is not 2 (PUS-C)")
        at = offset + TM_TIME_OFFSET
        if data[at] != CUC_PFIELD_4_2:
            raise DecodeError(LAYER_TM, at, f"time P-field 0x{data[at]:02X} is not 0x1E")
        time, _ = CucTime.unpack(data, at)
        return cls(service, subtype, time, counter, destination, flags & 0x0F)


@dataclass(frozen=True, slots=True)
class TcSecondaryHeader:
    service: int
    subtype: int
    source_id: int = 0
    ack_flags: int = 0b1001  # acceptance and completion reports requested

    def pack(self) -> bytes:
        """Fast path of :data:`TC_SECONDARY_HEADER` (tests prove the bytes identical)."""
        flags = PUS_VERSION_C << 4 | (self.ack_flags & 0x0F)
        return _TC_HEADER.pack(flags, self.service, self.subtype, self.source_id)

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> TcSecondaryHeader:
        if len(data) - offset < TC_SECONDARY_HEADER_LENGTH:
            raise DecodeError(
                LAYER_TC, offset, f"need {TC_SECONDARY_HEADER_LENGTH} octets of secondary header"
            )
        flags, service, subtype, source = _TC_HEADER.unpack_from(data, offset)
        if flags >> 4 != PUS_VERSION_C:
            raise DecodeError(LAYER_TC, offset, f"PUS version {flags >> 4} is not 2 (PUS-C)")
        return cls(service, subtype, source, flags & 0x0F)


REQUEST_ID = BitStruct(
    "version" / BitsInteger(3),
    "packet_type" / BitsInteger(1),
    "secondary_header_flag" / Flag,
    "apid" / BitsInteger(11),
    "sequence_flags" / BitsInteger(2),
    "sequence_count" / BitsInteger(14),
)
REQUEST_ID_LENGTH = 4
LAYER_REQUEST_ID = "pus-service"


@dataclass(frozen=True, slots=True)
class RequestId:
    """Which telecommand a verification report is about."""

    apid: int
    sequence_count: int
    packet_type: int = PacketType.TELECOMMAND
    secondary_header_flag: bool = True
    sequence_flags: int = 0b11
    version: int = 0

    def pack(self) -> bytes:
        return REQUEST_ID.build(
            {
                "version": self.version,
                "packet_type": self.packet_type,
                "secondary_header_flag": self.secondary_header_flag,
                "apid": self.apid,
                "sequence_flags": self.sequence_flags,
                "sequence_count": self.sequence_count,
            }
        )

    @property
    def value(self) -> int:
        return int.from_bytes(self.pack(), "big")

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> RequestId:
        if len(data) - offset < REQUEST_ID_LENGTH:
            raise DecodeError(LAYER_REQUEST_ID, offset, "request id needs 4 octets")
        p = REQUEST_ID.parse(bytes(data[offset : offset + REQUEST_ID_LENGTH]))
        return cls(
            p.apid, p.sequence_count, p.packet_type, p.secondary_header_flag, p.sequence_flags, p.version
        )


def packet_error_control(data: bytes | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), the PUS packet error control."""
    return crc16(data)


def _pack_with_pec(
    apid: int, sequence_count: int, packet_type: int, sequence_flags: int, body: bytes
) -> bytes:
    primary = PrimaryHeader(
        apid=apid,
        sequence_count=sequence_count,
        data_length=len(body) + PEC_LENGTH - 1,
        packet_type=packet_type,
        secondary_header_flag=True,
        sequence_flags=sequence_flags,
    ).pack()
    without_pec = primary + body
    return without_pec + crc16(without_pec).to_bytes(PEC_LENGTH, "big")


def _checked_data(packet: SpacePacket, packet_type: int, secondary_length: int, layer: str) -> bytes:
    """The data field of a PUS packet whose type, secondary header flag, length and PEC are right."""
    if packet.packet_type != packet_type:
        raise DecodeError(layer, 0, f"packet type {packet.packet_type} is not {packet_type}")
    if not packet.secondary_header_flag:
        raise DecodeError(layer, 0, "secondary header flag is not set")
    data = packet.data
    if len(data) < secondary_length + PEC_LENGTH:
        raise DecodeError(layer, PRIMARY_HEADER_LENGTH, "data field too short for a PUS-C packet")
    # the PEC covers the primary header too: continue the CRC from the header into the data field
    expected = crc16(memoryview(data)[:-PEC_LENGTH], crc16(packet.header().pack()))
    received = int.from_bytes(data[-PEC_LENGTH:], "big")
    if expected != received:
        offset = PRIMARY_HEADER_LENGTH + len(data) - PEC_LENGTH
        raise DecodeError(LAYER_PEC, offset, f"PEC 0x{received:04X} != computed 0x{expected:04X}")
    return data


def _whole_packet(packet: bytes | memoryview, layer: str) -> SpacePacket:
    sp, length = SpacePacket.unpack(packet)
    if length != len(packet):
        raise DecodeError(layer, length, f"{len(packet) - length} octets after the packet")
    return sp


class _PusPacket:
    """What TM and TC packets share: the secondary header's service and subtype, pack and unpack."""

    __slots__ = ()
    PACKET_TYPE: ClassVar[int]
    SECONDARY_HEADER: ClassVar[type[TmSecondaryHeader] | type[TcSecondaryHeader]]
    SECONDARY_HEADER_LENGTH: ClassVar[int]
    LAYER: ClassVar[str]

    apid: int
    sequence_count: int
    header: TmSecondaryHeader | TcSecondaryHeader
    app_data: bytes
    sequence_flags: int

    @property
    def service(self) -> int:
        return self.header.service

    @property
    def subtype(self) -> int:
        return self.header.subtype

    def pack(self) -> bytes:
        """Primary header, secondary header, application data, PEC: the one place they are written."""
        body = self.header.pack() + self.app_data
        return _pack_with_pec(self.apid, self.sequence_count, self.PACKET_TYPE, self.sequence_flags, body)

    @classmethod
    def unpack(cls, packet: bytes | memoryview) -> Self:
        """Decode one whole packet (nothing after it) or raise DecodeError (``pus-pec``: bad PEC)."""
        return cls.from_space_packet(_whole_packet(packet, cls.LAYER))

    @classmethod
    def from_space_packet(cls, packet: SpacePacket) -> Self:
        """Check a space packet as this kind of PUS-C packet (type, flag, length, PEC, secondary
        header) or raise DecodeError. Offsets count from the start of the packet."""
        data = _checked_data(packet, cls.PACKET_TYPE, cls.SECONDARY_HEADER_LENGTH, cls.LAYER)
        header = cls.SECONDARY_HEADER.unpack(data, 0)
        app_data = data[cls.SECONDARY_HEADER_LENGTH : -PEC_LENGTH]
        return cls(packet.apid, packet.sequence_count, header, app_data, packet.sequence_flags)  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class TmPacket(_PusPacket):
    """A whole PUS-C telemetry packet as a value (the PEC is computed by :meth:`pack`)."""

    PACKET_TYPE: ClassVar[int] = PacketType.TELEMETRY
    SECONDARY_HEADER: ClassVar[type[TmSecondaryHeader]] = TmSecondaryHeader
    SECONDARY_HEADER_LENGTH: ClassVar[int] = TM_SECONDARY_HEADER_LENGTH
    LAYER: ClassVar[str] = LAYER_TM

    apid: int
    sequence_count: int
    header: TmSecondaryHeader
    app_data: bytes
    sequence_flags: int = SequenceFlags.UNSEGMENTED

    @property
    def time(self) -> float:
        return self.header.time.seconds


@dataclass(frozen=True, slots=True)
class TcPacket(_PusPacket):
    """A whole PUS-C telecommand packet as a value (the PEC is computed by :meth:`pack`)."""

    PACKET_TYPE: ClassVar[int] = PacketType.TELECOMMAND
    SECONDARY_HEADER: ClassVar[type[TcSecondaryHeader]] = TcSecondaryHeader
    SECONDARY_HEADER_LENGTH: ClassVar[int] = TC_SECONDARY_HEADER_LENGTH
    LAYER: ClassVar[str] = LAYER_TC

    apid: int
    sequence_count: int
    header: TcSecondaryHeader
    app_data: bytes
    sequence_flags: int = SequenceFlags.UNSEGMENTED

    @property
    def request_id(self) -> RequestId:
        return RequestId(self.apid, self.sequence_count)


def pack_tm_packet(
    apid: int,
    sequence_count: int,
    header: TmSecondaryHeader,
    payload: bytes,
    sequence_flags: int = SequenceFlags.UNSEGMENTED,
) -> bytes:
    """A whole PUS-C telemetry packet: ``TmPacket(...).pack()``."""
    return TmPacket(apid, sequence_count, header, payload, sequence_flags).pack()


def unpack_tm_packet(packet: SpacePacket) -> tuple[TmSecondaryHeader, bytes]:
    """:meth:`TmPacket.from_space_packet`, as secondary header and application data."""
    tm = TmPacket.from_space_packet(packet)
    return tm.header, tm.app_data


@dataclass(frozen=True)
class TmRunColumns:
    """The PUS-C TM fields of every packet of a :class:`~protocols.packets.space_packet.PacketRun`.

    ``valid[i]`` is True exactly when :meth:`TmPacket.from_space_packet` accepts packet ``i``
    (telemetry, secondary header flag set, data field long enough, PEC right, PUS-C, CUC P-field
    0x1E); the other columns mean something only where ``valid`` is True. The PUS payload of
    each row starts at :data:`TM_PAYLOAD_OFFSET` and ends before the PEC.
    """

    valid: np.ndarray
    service: np.ndarray
    subtype: np.ndarray
    seconds: np.ndarray  # CUC coarse + fine / 2**16, as float64


def tm_run_columns(run: PacketRun) -> TmRunColumns:
    """Vectorized :meth:`TmPacket.from_space_packet` over a run (the PEC: one C call per packet)."""
    rows = run.rows
    count, length = rows.shape
    secondary = PRIMARY_HEADER_LENGTH
    if length - PRIMARY_HEADER_LENGTH < TM_SECONDARY_HEADER_LENGTH + PEC_LENGTH:
        empty = np.zeros(count, dtype=bool)
        return TmRunColumns(empty, empty.astype(np.uint8), empty.astype(np.uint8), empty.astype(float))
    # a packet followed by its own CRC leaves a zero remainder (a run cut with a check: known)
    pec_ok = np.ones(count, dtype=bool) if run.pec_checked else crc16_rows(rows) == 0
    valid = (
        pec_ok
        & ((rows[:, 0] >> 4) & 1 == PacketType.TELEMETRY)
        & ((rows[:, 0] >> 3) & 1 == 1)
        & (rows[:, secondary] >> 4 == PUS_VERSION_C)
        & (rows[:, secondary + TM_TIME_OFFSET] == CUC_PFIELD_4_2)
    )
    time = rows[:, secondary + TM_TIME_OFFSET + 1 : secondary + TM_SECONDARY_HEADER_LENGTH]
    coarse = time[:, :4].astype(np.uint32)
    seconds = (coarse[:, 0] << 24 | coarse[:, 1] << 16 | coarse[:, 2] << 8 | coarse[:, 3]).astype(np.float64)
    seconds += (time[:, 4].astype(np.uint32) << 8 | time[:, 5]) / 65536.0
    return TmRunColumns(valid, rows[:, secondary + 1], rows[:, secondary + 2], seconds)
