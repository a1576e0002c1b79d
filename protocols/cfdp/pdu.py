"""CFDP PDUs (727.0-B-5 §5.2-5.3): construct declarations, value types, encode and decode.

The construct structures below are the single source of truth for every field. The
file-data PDU, which carries nearly all the bytes, also has a slicing fast path
(:func:`decode_pdu`) that a hypothesis test proves identical to the declared one
(:func:`decode_pdu_declared`).

File-size-sensitive fields (FSS: file size, offsets, scopes, progress) are 32 bits, or
64 bits when the header's large file flag is set. When the CRC flag is set the data field
ends with a CRC-16/CCITT-FALSE over the whole PDU and the data field length counts it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    ConstructError,
    Flag,
    GreedyBytes,
    GreedyRange,
    If,
    IfThenElse,
    Int8ub,
    Int32ub,
    Int64ub,
    Padding,
    Prefixed,
    Struct,
    this,
)

from protocols.cfdp.constants import (
    AckSubtype,
    ConditionCode,
    DeliveryCode,
    Direction,
    DirectiveCode,
    FileStatus,
    PduType,
    PromptResponse,
    TlvType,
    TransactionStatus,
)
from protocols.cfdp.header import (
    LAYER,
    PduHeader,
    pack_header,
    pack_header_fast,
    unpack_header,
    unpack_header_fast,
)
from protocols.coding.crc import crc16
from protocols.errors import DecodeError

CRC_LENGTH = 2
MAX_SEGMENT_METADATA_LENGTH = 63

# ---------------------------------------------------------------- declarations

FILE_SIZE_SENSITIVE = IfThenElse(this._params.large_file, Int64ub, Int32ub)
LV = Prefixed(Int8ub, GreedyBytes)
TLV = Struct("type" / Int8ub, "value" / Prefixed(Int8ub, GreedyBytes))

METADATA_BODY = Struct(
    "flags"
    / BitStruct(
        Padding(1),
        "closure_requested" / Flag,
        Padding(2),
        "checksum_type" / BitsInteger(4),
    ),
    "file_size" / FILE_SIZE_SENSITIVE,
    "source_file_name" / LV,
    "destination_file_name" / LV,
    "options" / GreedyRange(TLV),
)

EOF_BODY = Struct(
    "flags" / BitStruct("condition_code" / BitsInteger(4), Padding(4)),
    "file_checksum" / Int32ub,
    "file_size" / FILE_SIZE_SENSITIVE,
    "fault_location" / If(this.flags.condition_code != ConditionCode.NO_ERROR, TLV),
)

FINISHED_BODY = Struct(
    "flags"
    / BitStruct(
        "condition_code" / BitsInteger(4),
        Padding(1),  # end-system status in 727.0-B-4, spare in B-5
        "delivery_code" / BitsInteger(1),
        "file_status" / BitsInteger(2),
    ),
    "tlvs" / GreedyRange(TLV),  # filestore responses, then the fault location
)

ACK_BODY = BitStruct(
    "acknowledged_directive" / BitsInteger(4),
    "subtype" / BitsInteger(4),
    "condition_code" / BitsInteger(4),
    Padding(2),
    "transaction_status" / BitsInteger(2),
)

SEGMENT_REQUEST = Struct("start" / FILE_SIZE_SENSITIVE, "end" / FILE_SIZE_SENSITIVE)

NAK_BODY = Struct(
    "start_of_scope" / FILE_SIZE_SENSITIVE,
    "end_of_scope" / FILE_SIZE_SENSITIVE,
    "segment_requests" / GreedyRange(SEGMENT_REQUEST),
)

PROMPT_BODY = BitStruct("response_required" / BitsInteger(1), Padding(7))

KEEP_ALIVE_BODY = Struct("progress" / FILE_SIZE_SENSITIVE)

FILE_DATA_BODY = Struct(
    "segment_metadata_header"
    / If(
        this._params.segment_metadata_flag,
        BitStruct("record_continuation_state" / BitsInteger(2), "length" / BitsInteger(6)),
    ),
    "segment_metadata" / If(this._params.segment_metadata_flag, Bytes(this.segment_metadata_header.length)),
    "offset" / FILE_SIZE_SENSITIVE,
    "data" / GreedyBytes,
)

# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Tlv:
    type: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Metadata:
    file_size: int
    source_file_name: bytes
    destination_file_name: bytes
    checksum_type: int = 3
    closure_requested: bool = False
    options: tuple[Tlv, ...] = ()


@dataclass(frozen=True, slots=True)
class Eof:
    file_checksum: int
    file_size: int
    condition_code: ConditionCode = ConditionCode.NO_ERROR
    fault_location: int | None = None  # entity ID, only with an error condition


@dataclass(frozen=True, slots=True)
class Finished:
    condition_code: ConditionCode = ConditionCode.NO_ERROR
    delivery_code: DeliveryCode = DeliveryCode.DATA_COMPLETE
    file_status: FileStatus = FileStatus.RETAINED
    filestore_responses: tuple[Tlv, ...] = ()
    fault_location: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    acknowledged_directive: DirectiveCode
    condition_code: ConditionCode = ConditionCode.NO_ERROR
    transaction_status: TransactionStatus = TransactionStatus.ACTIVE

    @property
    def subtype(self) -> AckSubtype:
        finished = self.acknowledged_directive == DirectiveCode.FINISHED
        return AckSubtype.FINISHED if finished else AckSubtype.OTHER


@dataclass(frozen=True, slots=True)
class Nak:
    start_of_scope: int
    end_of_scope: int
    segment_requests: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    response_required: PromptResponse = PromptResponse.NAK


@dataclass(frozen=True, slots=True)
class KeepAlive:
    progress: int


@dataclass(frozen=True, slots=True)
class FileData:
    offset: int
    data: bytes
    segment_metadata: bytes | None = None  # present only with the segment metadata flag
    record_continuation_state: int = 0


Directive = Metadata | Eof | Finished | Ack | Nak | Prompt | KeepAlive
Body = Directive | FileData

DIRECTIVE_CODES: dict[type, DirectiveCode] = {
    Metadata: DirectiveCode.METADATA,
    Eof: DirectiveCode.EOF,
    Finished: DirectiveCode.FINISHED,
    Ack: DirectiveCode.ACK,
    Nak: DirectiveCode.NAK,
    Prompt: DirectiveCode.PROMPT,
    KeepAlive: DirectiveCode.KEEP_ALIVE,
}

_TOWARD_SENDER = (Finished, Nak, KeepAlive)


def _direction_of(body: Body) -> Direction:
    if isinstance(body, Ack):
        # ACK of EOF goes back to the sender; ACK of Finished goes to the receiver.
        return (
            Direction.TOWARD_RECEIVER
            if body.acknowledged_directive == DirectiveCode.FINISHED
            else Direction.TOWARD_SENDER
        )
    return Direction.TOWARD_SENDER if isinstance(body, _TOWARD_SENDER) else Direction.TOWARD_RECEIVER


@dataclass(frozen=True, slots=True)
class Pdu:
    """One PDU. The header's type, direction and segment metadata flag follow from the body."""

    header: PduHeader
    body: Body = field()

    def __post_init__(self) -> None:
        is_data = isinstance(self.body, FileData)
        pdu_type = PduType.FILE_DATA if is_data else PduType.FILE_DIRECTIVE
        direction = _direction_of(self.body)
        segment_metadata_flag = is_data and self.body.segment_metadata is not None
        header = self.header
        if (header.pdu_type, header.direction, header.segment_metadata_flag) != (
            pdu_type,
            direction,
            segment_metadata_flag,
        ):
            normal = replace(
                header, pdu_type=pdu_type, direction=direction, segment_metadata_flag=segment_metadata_flag
            )
            object.__setattr__(self, "header", normal)


# ---------------------------------------------------------------- encoding


def _fss_limit(header: PduHeader) -> int:
    return 1 << (64 if header.large_file_flag else 32)


def _entity_tlv(entity_id: int, header: PduHeader) -> dict:
    return dict(type=TlvType.ENTITY_ID, value=entity_id.to_bytes(header.entity_id_length, "big"))


def _build_body(pdu: Pdu) -> bytes:
    header, body = pdu.header, pdu.body
    params = dict(large_file=header.large_file_flag, segment_metadata_flag=header.segment_metadata_flag)
    match body:
        case FileData():
            meta = body.segment_metadata
            if meta is not None and len(meta) > MAX_SEGMENT_METADATA_LENGTH:
                raise ValueError(f"segment metadata of {len(meta)} octets exceeds 63")
            return FILE_DATA_BODY.build(
                dict(
                    segment_metadata_header=None
                    if meta is None
                    else dict(record_continuation_state=body.record_continuation_state, length=len(meta)),
                    segment_metadata=meta,
                    offset=body.offset,
                    data=body.data,
                ),
                **params,
            )
        case Metadata():
            built = METADATA_BODY.build(
                dict(
                    flags=dict(closure_requested=body.closure_requested, checksum_type=body.checksum_type),
                    file_size=body.file_size,
                    source_file_name=body.source_file_name,
                    destination_file_name=body.destination_file_name,
                    options=[dict(type=t.type, value=t.value) for t in body.options],
                ),
                **params,
            )
        case Eof():
            fault = None
            if body.condition_code != ConditionCode.NO_ERROR:
                location = header.source_entity_id if body.fault_location is None else body.fault_location
                fault = _entity_tlv(location, header)
            built = EOF_BODY.build(
                dict(
                    flags=dict(condition_code=body.condition_code),
                    file_checksum=body.file_checksum,
                    file_size=body.file_size,
                    fault_location=fault,
                ),
                **params,
            )
        case Finished():
            tlvs = [dict(type=t.type, value=t.value) for t in body.filestore_responses]
            if body.fault_location is not None and body.condition_code != ConditionCode.NO_ERROR:
                tlvs.append(_entity_tlv(body.fault_location, header))
            built = FINISHED_BODY.build(
                dict(
                    flags=dict(
                        condition_code=body.condition_code,
                        delivery_code=body.delivery_code,
                        file_status=body.file_status,
                    ),
                    tlvs=tlvs,
                ),
                **params,
            )
        case Ack():
            built = ACK_BODY.build(
                dict(
                    acknowledged_directive=body.acknowledged_directive,
                    subtype=body.subtype,
                    condition_code=body.condition_code,
                    transaction_status=body.transaction_status,
                ),
            )
        case Nak():
            built = NAK_BODY.build(
                dict(
                    start_of_scope=body.start_of_scope,
                    end_of_scope=body.end_of_scope,
                    segment_requests=[dict(start=s, end=e) for s, e in body.segment_requests],
                ),
                **params,
            )
        case Prompt():
            built = PROMPT_BODY.build(dict(response_required=body.response_required))
        case KeepAlive():
            built = KEEP_ALIVE_BODY.build(dict(progress=body.progress), **params)
        case _:
            raise TypeError(f"not a PDU body: {type(body).__name__}")
    return bytes([DIRECTIVE_CODES[type(body)]]) + built


def encode_pdu(pdu: Pdu) -> bytes:
    """Whole PDU as bytes; ``ValueError`` when a field does not fit its width."""
    try:
        data_field = _build_body(pdu)
    except ConstructError as error:
        raise ValueError(f"cannot encode {type(pdu.body).__name__}: {error}") from None
    crc_length = CRC_LENGTH if pdu.header.crc_flag else 0
    unprotected = pack_header(pdu.header, len(data_field) + crc_length) + data_field
    if not crc_length:
        return unprotected
    return unprotected + crc16(unprotected).to_bytes(2, "big")


def encode_file_data_fast(header: PduHeader, offset: int, data: bytes) -> bytes:
    """File data PDU without segment metadata; identical to ``encode_pdu(Pdu(header, FileData(...)))``."""
    if (
        header.pdu_type != PduType.FILE_DATA
        or header.segment_metadata_flag
        or header.direction != Direction.TOWARD_RECEIVER
    ):
        header = replace(
            header,
            pdu_type=PduType.FILE_DATA,
            segment_metadata_flag=False,
            direction=Direction.TOWARD_RECEIVER,
        )
    width = 8 if header.large_file_flag else 4
    if not 0 <= offset < 1 << (8 * width):
        raise ValueError(f"offset {offset} does not fit {width} octets")
    crc_length = CRC_LENGTH if header.crc_flag else 0
    prefix = pack_header_fast(header, width + len(data) + crc_length)
    unprotected = prefix + offset.to_bytes(width, "big") + data
    if not crc_length:
        return unprotected
    return unprotected + crc16(unprotected).to_bytes(2, "big")


# ---------------------------------------------------------------- decoding

_DIRECTIVE_BODIES = {
    DirectiveCode.METADATA: METADATA_BODY,
    DirectiveCode.EOF: EOF_BODY,
    DirectiveCode.FINISHED: FINISHED_BODY,
    DirectiveCode.ACK: ACK_BODY,
    DirectiveCode.NAK: NAK_BODY,
    DirectiveCode.PROMPT: PROMPT_BODY,
    DirectiveCode.KEEP_ALIVE: KEEP_ALIVE_BODY,
}


def _frame(data: bytes | bytearray | memoryview, fast: bool) -> tuple[PduHeader, int, int]:
    """Header, start and end of the data field (CRC excluded) after length and CRC checks."""
    header, data_field_length = (unpack_header_fast if fast else unpack_header)(data)
    start = header.length
    end = start + data_field_length
    if end != len(data):
        raise DecodeError(
            LAYER,
            min(end, len(data)),
            f"data field length {data_field_length} says {end} octets, got {len(data)}",
        )
    if header.crc_flag:
        if data_field_length < CRC_LENGTH:
            raise DecodeError(LAYER, start, "CRC flag set but the data field cannot hold a CRC")
        end -= CRC_LENGTH
        expected = crc16(data[:end])
        if int.from_bytes(data[end:], "big") != expected:
            raise DecodeError(LAYER, end, f"PDU CRC mismatch (computed 0x{expected:04X})")
    return header, start, end


def _parse(struct: Struct, data: bytes, base: int, header: PduHeader, what: str):
    stream = io.BytesIO(data)
    try:
        parsed = struct.parse_stream(
            stream, large_file=header.large_file_flag, segment_metadata_flag=header.segment_metadata_flag
        )
    except ConstructError as error:
        raise DecodeError(LAYER, base + stream.tell(), f"{what}: {type(error).__name__}") from None
    if stream.tell() != len(data):
        raise DecodeError(LAYER, base + stream.tell(), f"{what}: {len(data) - stream.tell()} stray octets")
    return parsed


def _tlv(parsed) -> Tlv:
    return Tlv(type=parsed.type, value=bytes(parsed.value))


def _entity_id(parsed, offset: int) -> int:
    if parsed.type != TlvType.ENTITY_ID or not 1 <= len(parsed.value) <= 8:
        raise DecodeError(LAYER, offset, f"fault location is not an entity ID TLV (type {parsed.type})")
    return int.from_bytes(parsed.value, "big")


def _enum(kind, value: int, offset: int, what: str):
    try:
        return kind(value)
    except ValueError:
        raise DecodeError(LAYER, offset, f"{what} {value} is not defined") from None


def _decode_directive(
    header: PduHeader, data: bytes | bytearray | memoryview, start: int, end: int
) -> Directive:
    if start >= end:
        raise DecodeError(LAYER, start, "file directive PDU without a directive code")
    code = _enum(DirectiveCode, data[start], start, "directive code")
    base = start + 1
    parsed = _parse(_DIRECTIVE_BODIES[code], bytes(data[base:end]), base, header, code.name)
    match code:
        case DirectiveCode.METADATA:
            return Metadata(
                file_size=parsed.file_size,
                source_file_name=bytes(parsed.source_file_name),
                destination_file_name=bytes(parsed.destination_file_name),
                checksum_type=parsed.flags.checksum_type,
                closure_requested=parsed.flags.closure_requested,
                options=tuple(_tlv(t) for t in parsed.options),
            )
        case DirectiveCode.EOF:
            condition = _enum(ConditionCode, parsed.flags.condition_code, base, "condition code")
            fault = None if parsed.fault_location is None else _entity_id(parsed.fault_location, base + 9)
            return Eof(
                file_checksum=parsed.file_checksum,
                file_size=parsed.file_size,
                condition_code=condition,
                fault_location=fault,
            )
        case DirectiveCode.FINISHED:
            condition = _enum(ConditionCode, parsed.flags.condition_code, base, "condition code")
            responses, fault = [], None
            for tlv in parsed.tlvs:
                if tlv.type == TlvType.ENTITY_ID and fault is None:
                    fault = _entity_id(tlv, base)
                elif tlv.type == TlvType.FILESTORE_RESPONSE and fault is None:
                    responses.append(_tlv(tlv))
                else:
                    raise DecodeError(LAYER, base, f"unexpected TLV type {tlv.type} in Finished PDU")
            return Finished(
                condition_code=condition,
                delivery_code=DeliveryCode(parsed.flags.delivery_code),
                file_status=FileStatus(parsed.flags.file_status),
                filestore_responses=tuple(responses),
                fault_location=fault,
            )
        case DirectiveCode.ACK:
            acked = parsed.acknowledged_directive
            if acked not in (DirectiveCode.EOF, DirectiveCode.FINISHED):
                raise DecodeError(LAYER, base, f"ACK of directive {acked}: only EOF, Finished are acked")
            return Ack(
                acknowledged_directive=DirectiveCode(acked),
                condition_code=_enum(ConditionCode, parsed.condition_code, base + 1, "condition code"),
                transaction_status=TransactionStatus(parsed.transaction_status),
            )
        case DirectiveCode.NAK:
            return Nak(
                start_of_scope=parsed.start_of_scope,
                end_of_scope=parsed.end_of_scope,
                segment_requests=tuple((r.start, r.end) for r in parsed.segment_requests),
            )
        case DirectiveCode.PROMPT:
            return Prompt(response_required=PromptResponse(parsed.response_required))
        case _:
            return KeepAlive(progress=parsed.progress)


def _decode_file_data_declared(header: PduHeader, data, start: int, end: int) -> FileData:
    parsed = _parse(FILE_DATA_BODY, bytes(data[start:end]), start, header, "file data")
    meta = parsed.segment_metadata
    return FileData(
        offset=parsed.offset,
        data=bytes(parsed.data),
        segment_metadata=None if meta is None else bytes(meta),
        record_continuation_state=0
        if meta is None
        else parsed.segment_metadata_header.record_continuation_state,
    )


def _decode_file_data_fast(header: PduHeader, data, start: int, end: int) -> FileData:
    if header.segment_metadata_flag:
        return _decode_file_data_declared(header, data, start, end)
    width = 8 if header.large_file_flag else 4
    if end - start < width:
        raise DecodeError(LAYER, start, "file data: StreamError")
    offset = int.from_bytes(data[start : start + width], "big")
    return FileData(offset=offset, data=bytes(data[start + width : end]))


def decode_pdu(data: bytes | bytearray | memoryview) -> Pdu:
    """Decode one whole PDU (exactly ``len(data)`` octets). Raises only :class:`DecodeError`."""
    header, start, end = _frame(data, fast=True)
    if header.pdu_type == PduType.FILE_DATA:
        return Pdu(header, _decode_file_data_fast(header, data, start, end))
    return Pdu(header, _decode_directive(header, data, start, end))


def decode_pdu_declared(data: bytes | bytearray | memoryview) -> Pdu:
    """Reference decoder that uses only the construct declarations (tests compare it to the fast one)."""
    header, start, end = _frame(data, fast=False)
    if header.pdu_type == PduType.FILE_DATA:
        return Pdu(header, _decode_file_data_declared(header, data, start, end))
    return Pdu(header, _decode_directive(header, data, start, end))


# ---------------------------------------------------------------- sizing


def fss_width(header: PduHeader) -> int:
    return 8 if header.large_file_flag else 4


def max_file_data_length(header: PduHeader, max_pdu_length: int) -> int:
    """Largest file segment a data PDU of at most ``max_pdu_length`` octets can carry."""
    overhead = header.length + fss_width(header) + (CRC_LENGTH if header.crc_flag else 0)
    return max_pdu_length - overhead


def max_segment_requests(header: PduHeader, max_pdu_length: int) -> int:
    """How many segment requests fit a NAK PDU of at most ``max_pdu_length`` octets."""
    width = fss_width(header)
    overhead = header.length + 1 + 2 * width + (CRC_LENGTH if header.crc_flag else 0)
    return (max_pdu_length - overhead) // (2 * width)
