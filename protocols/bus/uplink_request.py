"""An uplink request on the bus: one unit the merger (its CFDP NAKs, the operator's commands) asks
one station to send up to the probe, on the subject ``paleblue.uplink.<station>``::

    version   1   UPLINK_REQUEST_VERSION
    layer     1   the unit's layer (protocols.capture.zmq_framing.Layer: a CLTU, a bare TC packet...)
    unit      rest  its octets (1 .. MAX_UPLINK_OCTETS)

``UPLINK_REQUEST`` (construct) is the declaration; :meth:`UplinkRequest.pack` and
:meth:`UplinkRequest.unpack` the fast path, proven identical by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Const, GreedyBytes, Int8ub, Struct

from protocols.bus.frame_report import valid_station_id
from protocols.errors import DecodeError

LAYER = "uplink-request"
UPLINK_REQUEST_VERSION = 1
UPLINK_SUBJECT_PREFIX = "paleblue.uplink"
MAX_UPLINK_OCTETS = 65_536

UPLINK_REQUEST = Struct(
    "version" / Const(UPLINK_REQUEST_VERSION, Int8ub),
    "layer" / Int8ub,
    "unit" / GreedyBytes,
)


def uplink_subject(station_id: str) -> str:
    """The subject a station takes uplink requests on."""
    if not valid_station_id(station_id):
        raise ValueError(f"station id {station_id!r} is not 1-32 of [A-Za-z0-9_-]")
    return f"{UPLINK_SUBJECT_PREFIX}.{station_id}"


@dataclass(frozen=True, slots=True)
class UplinkRequest:
    layer: int
    unit: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.layer < 256:
            raise ValueError(f"layer {self.layer} does not fit 8 bits")
        if not 0 < len(self.unit) <= MAX_UPLINK_OCTETS:
            raise ValueError(f"an uplink unit of {len(self.unit)} octets (1..{MAX_UPLINK_OCTETS})")

    def pack(self) -> bytes:
        return bytes((UPLINK_REQUEST_VERSION, self.layer)) + self.unit

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> UplinkRequest:
        """A request from untrusted bytes; anything else raises :class:`DecodeError`."""
        data = bytes(data)
        if len(data) < 3:
            raise DecodeError(LAYER, 0, f"{len(data)} octets, too short for an uplink request")
        if data[0] != UPLINK_REQUEST_VERSION:
            raise DecodeError(LAYER, 0, f"version {data[0]} is not {UPLINK_REQUEST_VERSION}")
        if len(data) - 2 > MAX_UPLINK_OCTETS:
            raise DecodeError(LAYER, 2, f"an uplink unit of {len(data) - 2} octets")
        return cls(data[1], data[2:])
