"""PUS-C packets and the services paleblue's platform speaks (ECSS-E-ST-70-41C).

Packet shape. Every TM packet here is a space packet whose data field holds the
PUS-C TM secondary header (:class:`protocols.pus.packets.TmSecondaryHeader`), the
application data, and a two-octet packet error control (PEC); every TC packet
holds the TC secondary header, the application data and the PEC. The PEC is
CRC-16/CCITT-FALSE (:mod:`protocols.coding.crc`) over the whole packet before it, the
same checksum spacepackets' ``PusTc``/``PusTm`` append (a test proves it).

Services and application data (all big-endian)::

    1,1 / 1,7   acceptance / completion success   request id (4 octets)
    1,2 / 1,8   acceptance / completion failure   request id, failure code (16 bits)
    3,25        housekeeping report               structure id (16 bits), parameters (mission database)
    5,1..5,4    event report, by severity         event id (16 bits), parameters (mission database)
    8,1         perform function (TC)             function id (16 bits), arguments (mission database)
    9,128       time-correlation request (TC)     ground TAI seconds (float64)
    9,129       time-correlation report           ground TAI echoed (float64), on-board receive
                                                  and send times (CUC, P-field 0x1E, 7 octets each)
    17,1 / 17,2 are-you-alive request / report    (empty)

The request id is the TC's packet id and sequence control: its first four
octets (version, type, secondary header flag, APID, sequence flags, count).
9,128/9,129 are paleblue's design in the mission-specific subtype range
(>= 128), so that nobody mistakes them for PUS-C's 9,2 CUC time report: the
report carries both on-board instants so the ground can compute the clock
offset and the one-way light time, NTP-style.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from construct import Bytes, Float64b, Int16ub, Struct

from protocols.errors import DecodeError
from protocols.packets.space_packet import PRIMARY_HEADER
from protocols.packets.time_code import CUC_LENGTH_4_2, CucTime

# re-exported: the packets and their layouts are part of this module's API
from protocols.pus.packets import (
    LAYER_PEC,
    PEC_LENGTH,
    REQUEST_ID,
    REQUEST_ID_LENGTH,
    TC_OVERHEAD,
    TC_SECONDARY_HEADER,
    TC_SECONDARY_HEADER_LENGTH,
    TM_OVERHEAD,
    TM_SECONDARY_HEADER,
    TM_SECONDARY_HEADER_LENGTH,
    RequestId,
    TcPacket,
    TcSecondaryHeader,
    TmPacket,
    TmSecondaryHeader,
)

__all__ = [  # the API, PUS packets and layouts of protocols.pus.packets re-exported
    "ACK_ACCEPTANCE",
    "ACK_COMPLETION",
    "EVENT_REPORT_HEADER",
    "EVENT_SUBTYPES",
    "FUNCTION_HEADER",
    "HK_REPORT_HEADER",
    "LAYER",
    "LAYER_PEC",
    "PEC_LENGTH",
    "PRIMARY_HEADER",
    "REQUEST_ID",
    "REQUEST_ID_LENGTH",
    "SUBTYPES",
    "TC_OVERHEAD",
    "TC_SECONDARY_HEADER",
    "TC_SECONDARY_HEADER_LENGTH",
    "TIME_CORRELATION_REPORT",
    "TIME_CORRELATION_REQUEST",
    "TM_OVERHEAD",
    "TM_SECONDARY_HEADER",
    "TM_SECONDARY_HEADER_LENGTH",
    "VERIFICATION_FAILURE",
    "VERIFICATION_SUCCESS",
    "ConnectionTestSubtype",
    "EventSubtype",
    "FailureCode",
    "FunctionSubtype",
    "HousekeepingSubtype",
    "RequestId",
    "Service",
    "Subtype",
    "TcPacket",
    "TcSecondaryHeader",
    "TimeCorrelation",
    "TimeSubtype",
    "TmPacket",
    "TmSecondaryHeader",
    "VerificationReport",
    "VerificationSubtype",
    "message_name",
    "pack_event",
    "pack_function",
    "pack_hk_report",
    "pack_tc",
    "pack_tm",
    "pack_verification",
    "request_id_of",
    "unpack_event_id",
    "unpack_function_id",
    "unpack_structure_id",
    "unpack_tc",
    "unpack_tm",
    "unpack_verification",
]  # fmt: skip

LAYER = "pus-service"


class Service(IntEnum):
    VERIFICATION = 1
    HOUSEKEEPING = 3
    EVENT = 5
    FUNCTION = 8
    TIME = 9
    TEST = 17


class VerificationSubtype(IntEnum):
    ACCEPTANCE_SUCCESS = 1
    ACCEPTANCE_FAILURE = 2
    COMPLETION_SUCCESS = 7
    COMPLETION_FAILURE = 8


class HousekeepingSubtype(IntEnum):
    HK_REPORT = 25
    HK_MODIFY_INTERVAL = 31


class EventSubtype(IntEnum):
    """The severity of an event report is its subtype."""

    INFORMATIVE = 1
    LOW_SEVERITY = 2
    MEDIUM_SEVERITY = 3
    HIGH_SEVERITY = 4


class FunctionSubtype(IntEnum):
    PERFORM_FUNCTION = 1


class TimeSubtype(IntEnum):
    TIME_CORRELATION_REQUEST = 128
    TIME_CORRELATION_REPORT = 129


class ConnectionTestSubtype(IntEnum):
    """Service 17, the are-you-alive connection test."""

    PING = 1
    PONG = 2


SUBTYPES: dict[int, type[IntEnum]] = {
    Service.VERIFICATION: VerificationSubtype,
    Service.HOUSEKEEPING: HousekeepingSubtype,
    Service.EVENT: EventSubtype,
    Service.FUNCTION: FunctionSubtype,
    Service.TIME: TimeSubtype,
    Service.TEST: ConnectionTestSubtype,
}


def message_name(service: int, subtype: int) -> str:
    """``TEST.PONG`` for 17,2; the numbers (``17,99``) when this module does not know the message."""
    subtypes = SUBTYPES.get(service)
    if subtypes is None or subtype not in subtypes._value2member_map_:
        return f"{service},{subtype}"
    return f"{Service(service).name}.{subtypes(subtype).name}"


class Subtype:
    """Every subtype by name, whatever its service (the per-service enums are the types).

    A namespace, not an enum: several services share numbers, so ``Subtype(2)`` could only
    guess; use :data:`SUBTYPES` or :func:`message_name` to name a subtype of a service."""

    ACCEPTANCE_SUCCESS = VerificationSubtype.ACCEPTANCE_SUCCESS
    ACCEPTANCE_FAILURE = VerificationSubtype.ACCEPTANCE_FAILURE
    COMPLETION_SUCCESS = VerificationSubtype.COMPLETION_SUCCESS
    COMPLETION_FAILURE = VerificationSubtype.COMPLETION_FAILURE
    HK_REPORT = HousekeepingSubtype.HK_REPORT
    HK_MODIFY_INTERVAL = HousekeepingSubtype.HK_MODIFY_INTERVAL
    PERFORM_FUNCTION = FunctionSubtype.PERFORM_FUNCTION
    TIME_CORRELATION_REQUEST = TimeSubtype.TIME_CORRELATION_REQUEST
    TIME_CORRELATION_REPORT = TimeSubtype.TIME_CORRELATION_REPORT
    PING = ConnectionTestSubtype.PING
    PONG = ConnectionTestSubtype.PONG


EVENT_SUBTYPES = tuple(EventSubtype)  # informative, low, medium, high severity
ACK_ACCEPTANCE = 0b1000
ACK_COMPLETION = 0b0001


class FailureCode(IntEnum):
    """Failure codes carried by 1,2 and 1,8 (paleblue's enumeration)."""

    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    WRONG_MODE = 3
    BAD_PEC = 4
    MALFORMED = 5
    EXECUTION_FAILED = 6


VERIFICATION_SUCCESS = Struct("request_id" / REQUEST_ID)
VERIFICATION_FAILURE = Struct("request_id" / REQUEST_ID, "failure_code" / Int16ub)
HK_REPORT_HEADER = Struct("structure_id" / Int16ub)
EVENT_REPORT_HEADER = Struct("event_id" / Int16ub)
FUNCTION_HEADER = Struct("function_id" / Int16ub)
TIME_CORRELATION_REQUEST = Struct("ground_tai" / Float64b)
TIME_CORRELATION_REPORT = Struct(
    "ground_tai" / Float64b, "onboard_receive" / Bytes(CUC_LENGTH_4_2), "onboard_send" / Bytes(CUC_LENGTH_4_2)
)


def request_id_of(packet: bytes | memoryview) -> RequestId | None:
    """The request id of a telecommand however broken the rest is (None below four octets)."""
    if len(packet) < REQUEST_ID_LENGTH:
        return None
    return RequestId.unpack(packet)


# --------------------------------------------------------------------------- packets
# TmPacket and TcPacket (protocols.pus.packets) are the packets; these are the service-level shorthands.


def pack_tm(
    apid: int,
    sequence_count: int,
    service: int,
    subtype: int,
    time: CucTime | float,
    app_data: bytes = b"",
    message_counter: int = 0,
    destination_id: int = 0,
) -> bytes:
    """A whole PUS-C TM packet, PEC included."""
    cuc = time if isinstance(time, CucTime) else CucTime.from_seconds(time)
    header = TmSecondaryHeader(service, subtype, cuc, message_counter & 0xFFFF, destination_id)
    return TmPacket(apid, sequence_count, header, app_data).pack()


def pack_tc(
    apid: int,
    sequence_count: int,
    service: int,
    subtype: int,
    app_data: bytes = b"",
    source_id: int = 0,
    ack_flags: int = ACK_ACCEPTANCE | ACK_COMPLETION,
) -> bytes:
    """A whole PUS-C TC packet, PEC included."""
    return TcPacket(
        apid, sequence_count, TcSecondaryHeader(service, subtype, source_id, ack_flags), app_data
    ).pack()


def unpack_tm(packet: bytes | memoryview) -> TmPacket:
    """Decode one whole PUS-C TM packet (PEC checked) or raise DecodeError: :meth:`TmPacket.unpack`."""
    return TmPacket.unpack(packet)


def unpack_tc(packet: bytes | memoryview) -> TcPacket:
    """Decode one whole PUS-C TC packet; a wrong checksum raises DecodeError with layer ``pus-pec``."""
    return TcPacket.unpack(packet)


# --------------------------------------------------------------------------- service messages


@dataclass(frozen=True, slots=True)
class VerificationReport:
    subtype: int
    request_id: RequestId
    failure_code: int | None = None

    @property
    def success(self) -> bool:
        return self.subtype in (
            VerificationSubtype.ACCEPTANCE_SUCCESS,
            VerificationSubtype.COMPLETION_SUCCESS,
        )

    @property
    def stage(self) -> str:
        return "acceptance" if self.subtype in (1, 2) else "completion"


def pack_verification(subtype: int, request_id: RequestId, failure_code: int | None = None) -> bytes:
    """Application data of 1,1 / 1,7 (no code) or 1,2 / 1,8 (with a failure code)."""
    rid = REQUEST_ID.parse(request_id.pack())
    if subtype in (VerificationSubtype.ACCEPTANCE_FAILURE, VerificationSubtype.COMPLETION_FAILURE):
        if failure_code is None:
            raise ValueError("a failure report needs a failure code")
        return VERIFICATION_FAILURE.build({"request_id": rid, "failure_code": int(failure_code)})
    if subtype not in (VerificationSubtype.ACCEPTANCE_SUCCESS, VerificationSubtype.COMPLETION_SUCCESS):
        raise ValueError(f"1,{subtype} is not a verification report paleblue sends")
    return VERIFICATION_SUCCESS.build({"request_id": rid})


def unpack_verification(subtype: int, app_data: bytes) -> VerificationReport:
    failure = subtype in (VerificationSubtype.ACCEPTANCE_FAILURE, VerificationSubtype.COMPLETION_FAILURE)
    if subtype not in (1, 2, 7, 8):
        raise DecodeError(LAYER, 0, f"verification subtype {subtype} is not 1, 2, 7 or 8")
    need = REQUEST_ID_LENGTH + (2 if failure else 0)
    if len(app_data) != need:
        raise DecodeError(
            LAYER, min(len(app_data), need), f"1,{subtype} needs {need} octets, got {len(app_data)}"
        )
    code = int.from_bytes(app_data[4:6], "big") if failure else None
    return VerificationReport(subtype, RequestId.unpack(app_data), code)


def pack_hk_report(structure_id: int, parameters: bytes) -> bytes:
    return HK_REPORT_HEADER.build({"structure_id": structure_id}) + parameters


def _leading_id(app_data: bytes | memoryview, what: str) -> int:
    """The 16-bit identifier that opens a service's application data."""
    if len(app_data) < 2:
        raise DecodeError(LAYER, 0, f"{what} needs a 2-octet id")
    return int.from_bytes(app_data[:2], "big")


def unpack_structure_id(app_data: bytes | memoryview) -> int:
    return _leading_id(app_data, "housekeeping report")


def pack_event(event_id: int, parameters: bytes) -> bytes:
    return EVENT_REPORT_HEADER.build({"event_id": event_id}) + parameters


def unpack_event_id(app_data: bytes | memoryview) -> int:
    return _leading_id(app_data, "event report")


def pack_function(function_id: int, arguments: bytes) -> bytes:
    return FUNCTION_HEADER.build({"function_id": function_id}) + arguments


def unpack_function_id(app_data: bytes | memoryview) -> int:
    return _leading_id(app_data, "perform-function request")


@dataclass(frozen=True, slots=True)
class TimeCorrelation:
    """9,129: the ground's send time echoed, and when the probe received the request and answered."""

    ground_tai: float
    onboard_receive: float
    onboard_send: float

    def pack(self) -> bytes:
        return TIME_CORRELATION_REPORT.build(
            {
                "ground_tai": self.ground_tai,
                "onboard_receive": CucTime.from_seconds(self.onboard_receive).pack(),
                "onboard_send": CucTime.from_seconds(self.onboard_send).pack(),
            }
        )

    @classmethod
    def unpack(cls, app_data: bytes | memoryview) -> TimeCorrelation:
        if len(app_data) != TIME_CORRELATION_REPORT.sizeof():
            raise DecodeError(LAYER, 0, f"9,129 needs {TIME_CORRELATION_REPORT.sizeof()} octets")
        ground = TIME_CORRELATION_REQUEST.parse(bytes(app_data[:8])).ground_tai
        receive, _ = CucTime.unpack(app_data, 8)
        send, _ = CucTime.unpack(app_data, 8 + CUC_LENGTH_4_2)
        return cls(ground, receive.seconds, send.seconds)

    def offset_and_delay(self, ground_receive_tai: float) -> tuple[float, float]:
        """On-board clock minus ground clock, and the one-way delay, as NTP computes them."""
        offset = ((self.onboard_receive - self.ground_tai) + (self.onboard_send - ground_receive_tai)) / 2
        delay = ((ground_receive_tai - self.ground_tai) - (self.onboard_send - self.onboard_receive)) / 2
        return offset, delay
