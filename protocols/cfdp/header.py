"""The fixed PDU header (727.0-B-5 §5.1), declared with construct, plus a struct fast path.

Layout::

    bits 0-2   version (001)          bit 3  PDU type (0 directive, 1 file data)
    bit 4      direction              bit 5  transmission mode (0 acknowledged)
    bit 6      CRC flag               bit 7  large file flag
    octets 1-2 PDU data field length (CRC included when present)
    bit 24     segmentation control   bits 25-27  entity ID length - 1
    bit 28     segment metadata flag  bits 29-31  sequence number length - 1
    then source entity ID, transaction sequence number, destination entity ID.

:data:`FIXED_HEADER` + :data:`VARIABLE_HEADER` are the declaration; :func:`pack_header_fast` and
:func:`unpack_header_fast` are the fast paths that hypothesis tests prove identical.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import BitsInteger, BitStruct, BytesInteger, Flag, Struct, this

from protocols.cfdp.constants import CFDP_VERSION, Direction, PduType, TransmissionMode
from protocols.errors import DecodeError

LAYER = "cfdp"
FIXED_HEADER_LENGTH = 4
MAX_DATA_FIELD_LENGTH = 0xFFFF

FIXED_HEADER = BitStruct(
    "version" / BitsInteger(3),
    "pdu_type" / BitsInteger(1),
    "direction" / BitsInteger(1),
    "transmission_mode" / BitsInteger(1),
    "crc_flag" / Flag,
    "large_file_flag" / Flag,
    "data_field_length" / BitsInteger(16),
    "segmentation_control" / Flag,
    "entity_id_length_minus_one" / BitsInteger(3),
    "segment_metadata_flag" / Flag,
    "sequence_number_length_minus_one" / BitsInteger(3),
)

VARIABLE_HEADER = Struct(
    "source_entity_id" / BytesInteger(this._params.entity_id_length),
    "transaction_sequence_number" / BytesInteger(this._params.sequence_number_length),
    "destination_entity_id" / BytesInteger(this._params.entity_id_length),
)


@dataclass(frozen=True, slots=True)
class PduHeader:
    """Header fields that belong to a transaction; the data field length is derived when packing."""

    source_entity_id: int
    destination_entity_id: int
    transaction_sequence_number: int
    transmission_mode: TransmissionMode = TransmissionMode.ACKNOWLEDGED
    direction: Direction = Direction.TOWARD_RECEIVER
    pdu_type: PduType = PduType.FILE_DIRECTIVE
    entity_id_length: int = 2
    sequence_number_length: int = 2
    crc_flag: bool = False
    large_file_flag: bool = False
    segmentation_control: bool = False
    segment_metadata_flag: bool = False

    @property
    def length(self) -> int:
        return FIXED_HEADER_LENGTH + 2 * self.entity_id_length + self.sequence_number_length

    @property
    def transaction_id(self) -> tuple[int, int]:
        return self.source_entity_id, self.transaction_sequence_number

    def check(self) -> None:
        """``ValueError`` if a field does not fit its width (encoding side only)."""
        for name, width in (
            ("entity_id_length", self.entity_id_length),
            ("sequence_number_length", self.sequence_number_length),
        ):
            if not 1 <= width <= 8:
                raise ValueError(f"{name} {width} is not 1..8 octets")
        for name, value, width in (
            ("source_entity_id", self.source_entity_id, self.entity_id_length),
            ("destination_entity_id", self.destination_entity_id, self.entity_id_length),
            ("transaction_sequence_number", self.transaction_sequence_number, self.sequence_number_length),
        ):
            if not 0 <= value < 1 << (8 * width):
                raise ValueError(f"{name} {value} does not fit {width} octets")


def pack_header(header: PduHeader, data_field_length: int) -> bytes:
    header.check()
    if not 0 <= data_field_length <= MAX_DATA_FIELD_LENGTH:
        raise ValueError(f"PDU data field of {data_field_length} octets does not fit 16 bits")
    fixed = FIXED_HEADER.build(
        dict(
            version=CFDP_VERSION,
            pdu_type=int(header.pdu_type),
            direction=int(header.direction),
            transmission_mode=int(header.transmission_mode),
            crc_flag=header.crc_flag,
            large_file_flag=header.large_file_flag,
            data_field_length=data_field_length,
            segmentation_control=header.segmentation_control,
            entity_id_length_minus_one=header.entity_id_length - 1,
            segment_metadata_flag=header.segment_metadata_flag,
            sequence_number_length_minus_one=header.sequence_number_length - 1,
        )
    )
    variable = VARIABLE_HEADER.build(
        dict(
            source_entity_id=header.source_entity_id,
            transaction_sequence_number=header.transaction_sequence_number,
            destination_entity_id=header.destination_entity_id,
        ),
        entity_id_length=header.entity_id_length,
        sequence_number_length=header.sequence_number_length,
    )
    return fixed + variable


def pack_header_fast(header: PduHeader, data_field_length: int) -> bytes:
    """Same bytes as :func:`pack_header`, with integer arithmetic (every file data PDU goes through here)."""
    header.check()
    if not 0 <= data_field_length <= MAX_DATA_FIELD_LENGTH:
        raise ValueError(f"PDU data field of {data_field_length} octets does not fit 16 bits")
    first = (
        CFDP_VERSION << 5
        | int(header.pdu_type) << 4
        | int(header.direction) << 3
        | int(header.transmission_mode) << 2
        | header.crc_flag << 1
        | header.large_file_flag
    )
    fourth = (
        header.segmentation_control << 7
        | (header.entity_id_length - 1) << 4
        | header.segment_metadata_flag << 3
        | (header.sequence_number_length - 1)
    )
    return (
        bytes((first, data_field_length >> 8, data_field_length & 0xFF, fourth))
        + header.source_entity_id.to_bytes(header.entity_id_length, "big")
        + header.transaction_sequence_number.to_bytes(header.sequence_number_length, "big")
        + header.destination_entity_id.to_bytes(header.entity_id_length, "big")
    )


def unpack_header(data: bytes | bytearray | memoryview) -> tuple[PduHeader, int]:
    """Decode the header with the construct declaration; returns it and the data field length."""
    if len(data) < FIXED_HEADER_LENGTH:
        raise DecodeError(LAYER, len(data), f"need {FIXED_HEADER_LENGTH} octets for the fixed header")
    fixed = FIXED_HEADER.parse(bytes(data[:FIXED_HEADER_LENGTH]))
    if fixed.version != CFDP_VERSION:
        raise DecodeError(LAYER, 0, f"CFDP version {fixed.version} is not {CFDP_VERSION}")
    entity_id_length = fixed.entity_id_length_minus_one + 1
    sequence_number_length = fixed.sequence_number_length_minus_one + 1
    header_length = FIXED_HEADER_LENGTH + 2 * entity_id_length + sequence_number_length
    if len(data) < header_length:
        raise DecodeError(LAYER, len(data), f"header of {header_length} octets is truncated")
    variable = VARIABLE_HEADER.parse(
        bytes(data[FIXED_HEADER_LENGTH:header_length]),
        entity_id_length=entity_id_length,
        sequence_number_length=sequence_number_length,
    )
    header = PduHeader(
        source_entity_id=variable.source_entity_id,
        destination_entity_id=variable.destination_entity_id,
        transaction_sequence_number=variable.transaction_sequence_number,
        transmission_mode=TransmissionMode(fixed.transmission_mode),
        direction=Direction(fixed.direction),
        pdu_type=PduType(fixed.pdu_type),
        entity_id_length=entity_id_length,
        sequence_number_length=sequence_number_length,
        crc_flag=fixed.crc_flag,
        large_file_flag=fixed.large_file_flag,
        segmentation_control=fixed.segmentation_control,
        segment_metadata_flag=fixed.segment_metadata_flag,
    )
    return header, fixed.data_field_length


_TRANSMISSION_MODES = (TransmissionMode.ACKNOWLEDGED, TransmissionMode.UNACKNOWLEDGED)
_DIRECTIONS = (Direction.TOWARD_RECEIVER, Direction.TOWARD_SENDER)
_PDU_TYPES = (PduType.FILE_DIRECTIVE, PduType.FILE_DATA)


def unpack_header_fast(data: bytes | bytearray | memoryview) -> tuple[PduHeader, int]:
    """Same result as :func:`unpack_header`, with plain integer arithmetic (the file-data hot path)."""
    if len(data) < FIXED_HEADER_LENGTH:
        raise DecodeError(LAYER, len(data), f"need {FIXED_HEADER_LENGTH} octets for the fixed header")
    first, length_high, length_low, fourth = data[0], data[1], data[2], data[3]
    version = first >> 5
    if version != CFDP_VERSION:
        raise DecodeError(LAYER, 0, f"CFDP version {version} is not {CFDP_VERSION}")
    entity_id_length = ((fourth >> 4) & 7) + 1
    sequence_number_length = (fourth & 7) + 1
    header_length = FIXED_HEADER_LENGTH + 2 * entity_id_length + sequence_number_length
    if len(data) < header_length:
        raise DecodeError(LAYER, len(data), f"header of {header_length} octets is truncated")
    seq_start = FIXED_HEADER_LENGTH + entity_id_length
    dest_start = seq_start + sequence_number_length
    header = PduHeader(
        source_entity_id=int.from_bytes(data[FIXED_HEADER_LENGTH:seq_start], "big"),
        destination_entity_id=int.from_bytes(data[dest_start:header_length], "big"),
        transaction_sequence_number=int.from_bytes(data[seq_start:dest_start], "big"),
        transmission_mode=_TRANSMISSION_MODES[(first >> 2) & 1],
        direction=_DIRECTIONS[(first >> 3) & 1],
        pdu_type=_PDU_TYPES[(first >> 4) & 1],
        entity_id_length=entity_id_length,
        sequence_number_length=sequence_number_length,
        crc_flag=bool(first & 2),
        large_file_flag=bool(first & 1),
        segmentation_control=bool(fourth & 0x80),
        segment_metadata_flag=bool(fourth & 0x08),
    )
    return header, length_high << 8 | length_low
