"""ECSS PUS-C (ECSS-E-ST-70-41C) secondary headers for telemetry and telecommand packets.

Every paleblue telemetry packet carries the PUS-C TM secondary header, so that
PUS-aware tools (tmtccmd, spacepackets, Yamcs) decode it as they are::

    octet 0     PUS version number (4 bits, = 2) | spacecraft time reference status (4 bits)
    octet 1     service type
    octet 2     message subtype
    octets 3-4  message type counter (paleblue counts per APID)
    octets 5-6  destination ID
    octets 7-13 time: CUC with explicit P-field 0x1E (see :mod:`protocols.time_code`)

and ends with a 2-octet packet error control (CRC-16/CCITT-FALSE over the whole
packet), as spacepackets' ``PusTm.unpack`` expects by default.

Telecommands carry the PUS-C TC secondary header::

    octet 0     PUS version number (4 bits, = 2) | acknowledgement flags (4 bits)
    octet 1     service type
    octet 2     message subtype
    octets 3-4  source ID
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from construct import BitsInteger, BitStruct, Bytes, Int8ub, Int16ub, Struct

from protocols.crc import crc16_rows
from protocols.errors import DecodeError
from protocols.space_packet import (
    PRIMARY_HEADER_LENGTH,
    PacketType,
    PrimaryHeader,
    SequenceFlags,
    SpacePacket,
)
from protocols.time_code import CUC_LENGTH_4_2, CUC_PFIELD_4_2, CucTime

if TYPE_CHECKING:
    from protocols.space_packet import PacketRun

LAYER_TM = "pus-tm"
LAYER_TC = "pus-tc"

PUS_VERSION_C = 2

TM_SECONDARY_HEADER = Struct(
    "flags" / BitStruct("pus_version" / BitsInteger(4), "time_reference_status" / BitsInteger(4)),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "message_counter" / Int16ub,
    "destination_id" / Int16ub,
    "time" / Bytes(CUC_LENGTH_4_2),
)
TM_SECONDARY_HEADER_LENGTH = 7 + CUC_LENGTH_4_2
TM_PAYLOAD_OFFSET = PRIMARY_HEADER_LENGTH + TM_SECONDARY_HEADER_LENGTH  # in a whole packet

TC_SECONDARY_HEADER = Struct(
    "flags" / BitStruct("pus_version" / BitsInteger(4), "ack_flags" / BitsInteger(4)),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "source_id" / Int16ub,
)
TC_SECONDARY_HEADER_LENGTH = 5


@dataclass(frozen=True, slots=True)
class TmSecondaryHeader:
    service: int
    subtype: int
    time: CucTime
    message_counter: int = 0
    destination_id: int = 0
    time_reference_status: int = 0

    def pack(self) -> bytes:
        return TM_SECONDARY_HEADER.build(
            {
                "flags": {"pus_version": PUS_VERSION_C, "time_reference_status": self.time_reference_status},
                "service": self.service,
                "subtype": self.subtype,
                "message_counter": self.message_counter,
                "destination_id": self.destination_id,
                "time": self.time.pack(with_pfield=True),
            }
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> TmSecondaryHeader:
        """Decode at ``offset`` (the start of the packet data field)."""
        if len(data) - offset < TM_SECONDARY_HEADER_LENGTH:
            raise DecodeError(
                LAYER_TM, offset, f"need {TM_SECONDARY_HEADER_LENGTH} octets of secondary header"
            )
        b = data
        version = b[offset] >> 4
        if version != PUS_VERSION_C:
            raise DecodeError(LAYER_TM, offset, f"PUS version {version} is not 2 (PUS-C)")
        if b[offset + 7] != CUC_PFIELD_4_2:
            raise DecodeError(LAYER_TM, offset + 7, f"time P-field 0x{b[offset + 7]:02X} is not 0x1E")
        time, _ = CucTime.unpack(b, offset + 7)
        return cls(
            service=b[offset + 1],
            subtype=b[offset + 2],
            time=time,
            message_counter=int.from_bytes(b[offset + 3 : offset + 5], "big"),
            destination_id=int.from_bytes(b[offset + 5 : offset + 7], "big"),
            time_reference_status=b[offset] & 0x0F,
        )


@dataclass(frozen=True, slots=True)
class TcSecondaryHeader:
    service: int
    subtype: int
    source_id: int = 0
    ack_flags: int = 0b1001  # acceptance and completion reports requested

    def pack(self) -> bytes:
        return TC_SECONDARY_HEADER.build(
            {
                "flags": {"pus_version": PUS_VERSION_C, "ack_flags": self.ack_flags},
                "service": self.service,
                "subtype": self.subtype,
                "source_id": self.source_id,
            }
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> TcSecondaryHeader:
        if len(data) - offset < TC_SECONDARY_HEADER_LENGTH:
            raise DecodeError(
                LAYER_TC, offset, f"need {TC_SECONDARY_HEADER_LENGTH} octets of secondary header"
            )
        version = data[offset] >> 4
        if version != PUS_VERSION_C:
            raise DecodeError(LAYER_TC, offset, f"PUS version {version} is not 2 (PUS-C)")
        return cls(
            service=data[offset + 1],
            subtype=data[offset + 2],
            source_id=int.from_bytes(data[offset + 3 : offset + 5], "big"),
            ack_flags=data[offset] & 0x0F,
        )


PEC_LENGTH = 2


def packet_error_control(data: bytes | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), the PUS packet error control."""
    return binascii.crc_hqx(data, 0xFFFF)


def pack_tm_packet(
    apid: int,
    sequence_count: int,
    header: TmSecondaryHeader,
    payload: bytes,
    sequence_flags: int = SequenceFlags.UNSEGMENTED,
) -> bytes:
    """A whole PUS-C telemetry packet: primary header, secondary header, payload, PEC."""
    body = header.pack() + payload
    primary = PrimaryHeader(
        apid=apid,
        sequence_count=sequence_count,
        data_length=len(body) + PEC_LENGTH - 1,
        packet_type=PacketType.TELEMETRY,
        secondary_header_flag=True,
        sequence_flags=sequence_flags,
    ).pack()
    without_pec = primary + body
    return without_pec + packet_error_control(without_pec).to_bytes(2, "big")


def unpack_tm_packet(packet: SpacePacket) -> tuple[TmSecondaryHeader, bytes]:
    """Check the PEC of a PUS-C TM packet and split it into secondary header and payload.

    Offsets in errors count from the start of the packet (primary header included).
    """
    data = packet.data
    if not packet.secondary_header_flag:
        raise DecodeError(LAYER_TM, 0, "secondary header flag is not set")
    if len(data) < TM_SECONDARY_HEADER_LENGTH + PEC_LENGTH:
        raise DecodeError(LAYER_TM, PRIMARY_HEADER_LENGTH, "data field too short for a PUS-C TM packet")
    # the PEC covers the primary header too: continue the CRC from the header into the data field
    crc = binascii.crc_hqx(packet.header().pack(), 0xFFFF)
    expected = binascii.crc_hqx(memoryview(data)[:-PEC_LENGTH], crc)
    received = int.from_bytes(data[-PEC_LENGTH:], "big")
    if expected != received:
        offset = PRIMARY_HEADER_LENGTH + len(data) - PEC_LENGTH
        raise DecodeError(LAYER_TM, offset, f"PEC 0x{received:04X} != computed 0x{expected:04X}")
    header = TmSecondaryHeader.unpack(data, 0)
    return header, data[TM_SECONDARY_HEADER_LENGTH:-PEC_LENGTH]


@dataclass(frozen=True)
class TmRunColumns:
    """The PUS-C TM fields of every packet of a :class:`~protocols.space_packet.PacketRun`.

    ``valid[i]`` is True exactly when :func:`unpack_tm_packet` accepts packet ``i`` (secondary
    header flag set, data field long enough, PEC right, PUS-C, CUC P-field 0x1E); the other
    columns mean something only where ``valid`` is True. The PUS payload of each row starts at
    :data:`TM_PAYLOAD_OFFSET` and ends before the PEC.
    """

    valid: np.ndarray
    service: np.ndarray
    subtype: np.ndarray
    seconds: np.ndarray  # CUC coarse + fine / 2**16, as float64


def tm_run_columns(run: PacketRun) -> TmRunColumns:
    """Vectorized :func:`unpack_tm_packet` over a run (the PEC costs one C call per packet)."""
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
        & ((rows[:, 0] >> 3) & 1 == 1)
        & (rows[:, secondary] >> 4 == PUS_VERSION_C)
        & (rows[:, secondary + 7] == CUC_PFIELD_4_2)
    )
    time = rows[:, secondary + 8 : secondary + 14]
    coarse = time[:, :4].astype(np.uint32)
    seconds = (coarse[:, 0] << 24 | coarse[:, 1] << 16 | coarse[:, 2] << 8 | coarse[:, 3]).astype(np.float64)
    seconds += (time[:, 4].astype(np.uint32) << 8 | time[:, 5]) / 65536.0
    return TmRunColumns(valid, rows[:, secondary + 1], rows[:, secondary + 2], seconds)
