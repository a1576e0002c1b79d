"""The frame report: one transfer frame a ground station received, with its quality.

Every station publishes one report per frame on the bus subject ``paleblue.frames.<station>``;
the merger keeps the best copy of each frame. All multi-octet fields are big-endian::

    version          1   FRAME_REPORT_VERSION
    station id       1+n length, then 1..32 ASCII octets of [A-Za-z0-9_-] (a NATS subject token)
    received_ns      8   reception time, ns since the Unix epoch (the station's clock)
    spacecraft id    2
    vcid             1
    frame count      4   the frame's virtual channel frame count, as in its header
    count epoch      4   how often the station saw that count wrap (its own view; for the message id)
    rs corrected     2   Reed-Solomon symbols corrected in the frame's codewords
    flags            1   bit 7 uncorrectable; bits 6-5 FECF (0 bad, 1 good, 2 none configured);
                         bits 4-3 sync state (0 search, 1 lock, 2 flywheel); bits 2-0 zero
    frame            rest  the frame's octets

``FRAME_REPORT`` (construct) is the declaration; :meth:`FrameReport.pack` and
:meth:`FrameReport.unpack` are the fast path, proven identical by tests. The merger's intake goes
faster still: :func:`unpack_fields` checks a report exactly as :meth:`FrameReport.unpack` does but
builds no :class:`FrameReport` (no per-field validation of a frozen object, no enums, no copy of
the frame): a :class:`ReportFields` tuple that keeps the message and where its frame starts.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from construct import (
    BitsInteger,
    BitStruct,
    Const,
    Flag,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    PascalString,
    Struct,
)

from protocols.errors import DecodeError

LAYER = "frame-report"
FRAME_REPORT_VERSION = 1
SUBJECT_PREFIX = "paleblue.frames"
STATION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_FRAME_OCTETS = 65_536  # the longest USLP frame


class Fecf(IntEnum):
    BAD = 0
    GOOD = 1
    NONE = 2  # the channel has no frame error control field


class Sync(IntEnum):
    SEARCH = 0
    LOCK = 1
    FLYWHEEL = 2


FRAME_REPORT = Struct(
    "version" / Const(FRAME_REPORT_VERSION, Int8ub),
    "station_id" / PascalString(Int8ub, "ascii"),
    "received_ns" / Int64ub,
    "spacecraft_id" / Int16ub,
    "vcid" / Int8ub,
    "frame_count" / Int32ub,
    "count_epoch" / Int32ub,
    "rs_corrected" / Int16ub,
    "flags"
    / BitStruct(
        "uncorrectable" / Flag,
        "fecf" / BitsInteger(2),
        "sync" / BitsInteger(2),
        "reserved" / Const(0, BitsInteger(3)),
    ),
    "frame" / GreedyBytes,
)
_FIXED = struct.Struct(">QHBIIHB")  # after the station id


def valid_station_id(station_id: str) -> bool:
    return STATION_ID_PATTERN.fullmatch(station_id) is not None


def subject_for(station_id: str) -> str:
    """The bus subject a station publishes on."""
    return f"{SUBJECT_PREFIX}.{station_id}"


@dataclass(frozen=True, slots=True)
class FrameReport:
    station_id: str
    received_ns: int
    spacecraft_id: int
    vcid: int
    frame_count: int
    frame: bytes
    count_epoch: int = 0
    rs_corrected: int = 0
    uncorrectable: bool = False
    fecf: Fecf = Fecf.GOOD
    sync: Sync = Sync.LOCK

    def __post_init__(self) -> None:
        if not valid_station_id(self.station_id):
            raise ValueError(f"station id {self.station_id!r} is not 1-32 of [A-Za-z0-9_-]")
        limits = (
            ("received_ns", 64), ("spacecraft_id", 16), ("vcid", 8), ("frame_count", 32),
            ("count_epoch", 32), ("rs_corrected", 16),
        )  # fmt: skip
        for name, bits in limits:
            value = getattr(self, name)
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{name} {value} does not fit {bits} bits")
        if not 0 < len(self.frame) <= MAX_FRAME_OCTETS:
            raise ValueError(f"a frame of {len(self.frame)} octets (1..{MAX_FRAME_OCTETS})")

    @property
    def good(self) -> bool:
        """The frame passed every check the station could make (Reed-Solomon and FECF)."""
        return not self.uncorrectable and self.fecf is not Fecf.BAD

    @property
    def message_id(self) -> str:
        """JetStream's de-duplication id: the same frame published again by the same station (a
        retry) is stored once. The epoch tells a count apart from itself one wrap later."""
        return f"{self.station_id}.{self.spacecraft_id}.{self.vcid}.{self.count_epoch}.{self.frame_count}"

    @property
    def subject(self) -> str:
        return subject_for(self.station_id)

    def pack(self) -> bytes:
        station = self.station_id.encode("ascii")
        flags = self.uncorrectable << 7 | int(self.fecf) << 5 | int(self.sync) << 3
        fixed = _FIXED.pack(
            self.received_ns, self.spacecraft_id, self.vcid, self.frame_count, self.count_epoch,
            self.rs_corrected, flags,
        )  # fmt: skip
        return b"".join((bytes((FRAME_REPORT_VERSION, len(station))), station, fixed, self.frame))

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> FrameReport:
        """A report from untrusted bytes; anything else raises :class:`DecodeError`."""
        return unpack_fields(data).report()


class ReportFields(NamedTuple):
    """One report's fields as the merger reads them, without a :class:`FrameReport`: the frame is
    ``data[frame_at:]`` (``data`` is the whole message, or the frame alone with ``frame_at`` 0)."""

    station_id: str
    received_ns: int
    spacecraft_id: int
    vcid: int
    frame_count: int
    count_epoch: int
    rs_corrected: int
    flags: int  # as on the wire: bit 7 uncorrectable, bits 6-5 FECF, bits 4-3 sync
    data: bytes
    frame_at: int

    @property
    def good(self) -> bool:
        """As :attr:`FrameReport.good`: not uncorrectable, FECF not bad."""
        return self.flags & 0x80 == 0 and self.flags & 0x60 != 0

    @property
    def frame(self) -> bytes:
        return self.data[self.frame_at :] if self.frame_at else self.data

    def report(self) -> FrameReport:
        flags = self.flags
        return FrameReport(
            self.station_id, self.received_ns, self.spacecraft_id, self.vcid, self.frame_count, self.frame,
            self.count_epoch, self.rs_corrected, bool(flags >> 7), Fecf(flags >> 5 & 3), Sync(flags >> 3 & 3),
        )  # fmt: skip

    @classmethod
    def of(cls, report: FrameReport) -> ReportFields:
        flags = report.uncorrectable << 7 | int(report.fecf) << 5 | int(report.sync) << 3
        return cls(
            report.station_id, report.received_ns, report.spacecraft_id, report.vcid, report.frame_count,
            report.count_epoch, report.rs_corrected, flags, report.frame, 0,
        )  # fmt: skip


# station ids seen lately, as octets: each is checked once (bounded: a flood of made-up ids is
# checked one by one, never kept)
_STATION_IDS: dict[bytes, str] = {}
_STATION_IDS_KEPT = 1024
_AFTER_STATION = _FIXED.size  # octets between the station id and the frame


def _station_id(raw: bytes) -> str:
    try:
        station = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(LAYER, 2, "station id is not ASCII") from None
    if not valid_station_id(station):
        raise DecodeError(LAYER, 2, f"station id {station!r} is not 1-32 of [A-Za-z0-9_-]")
    if len(_STATION_IDS) < _STATION_IDS_KEPT:
        _STATION_IDS[raw] = station
    return station


def _flags_error(flags: int, at: int) -> DecodeError:
    if flags & 0b111:
        return DecodeError(LAYER, at, f"reserved flag bits {flags & 0b111:03b} set")
    if flags >> 5 & 3 == 3:
        return DecodeError(LAYER, at, "FECF state 3 is undefined")
    return DecodeError(LAYER, at, "sync state 3 is undefined")


def unpack_fields(data: bytes | bytearray | memoryview) -> ReportFields:
    """A report's fields from untrusted bytes, checked as :meth:`FrameReport.unpack` checks them
    (the same :class:`DecodeError` for the same bytes); the merger's fast path."""
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    if size < 2:
        raise DecodeError(LAYER, 0, f"{size} octets, too short for a frame report")
    if data[0] != FRAME_REPORT_VERSION:
        raise DecodeError(LAYER, 0, f"version {data[0]} is not {FRAME_REPORT_VERSION}")
    end = 2 + data[1]
    frame_at = end + _AFTER_STATION
    if size <= frame_at:
        raise DecodeError(LAYER, size, "truncated frame report")
    raw = data[2:end]
    station = _STATION_IDS.get(raw)
    if station is None:
        station = _station_id(raw)
    received, scid, vcid, count, epoch, corrected, flags = _FIXED.unpack_from(data, end)
    if flags & 0b111 or flags & 0x60 == 0x60 or flags & 0x18 == 0x18:
        raise _flags_error(flags, frame_at - 1)
    if size - frame_at > MAX_FRAME_OCTETS:
        raise DecodeError(LAYER, frame_at, f"a frame of {size - frame_at} octets")
    return ReportFields(station, received, scid, vcid, count, epoch, corrected, flags, data, frame_at)
