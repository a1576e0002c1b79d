"""CCSDS time codes (CCSDS 301.0-B-4): CUC and CDS, with their P-fields.

paleblue's on-board time is TAI counted from the CCSDS epoch
1958-01-01T00:00:00 TAI. Packets carry it as CUC with an explicit P-field:

``0x1E`` = ``0 001 11 10``: no extension octet, time code identification
``001`` (level 1, CCSDS epoch), 4 coarse octets (seconds), 2 fine octets
(units of 2**-16 s, about 15 µs). The T-field that follows is 6 octets, so a
time stamp occupies 7 octets in a packet.

CDS (day segmented) is provided for interchange with ground systems that use
it: P-field ``0x40`` (16-bit day, 32-bit milliseconds of day) or ``0x41``
(plus 16-bit microseconds).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from construct import Int8ub, Int16ub, Int32ub, Struct

from protocols.errors import DecodeError

LAYER_CUC = "cuc-time"
LAYER_CDS = "cds-time"

CCSDS_EPOCH = datetime(1958, 1, 1, tzinfo=UTC)

CUC_PFIELD_4_2 = 0x1E
# CUC with a one-octet P-field, 4 coarse and 2 fine octets: the time stamp of every PUS-C TM packet
CUC_4_2 = Struct("p_field" / Int8ub, "coarse" / Int32ub, "fine" / Int16ub)
CUC_LENGTH_4_2 = CUC_4_2.sizeof()  # 7

CDS_PFIELD_MS = 0x40
CDS_PFIELD_US = 0x41

# TAI - UTC in seconds from each date on (IERS Bulletin C). Before 1972 UTC had
# fractional steps; paleblue uses 10 s there, which is close enough for
# scenario time stamps and is documented as such.
_LEAP_SECONDS: tuple[tuple[datetime, int], ...] = tuple(
    (datetime(y, m, 1, tzinfo=UTC), n)
    for (y, m, n) in (
        (1972, 1, 10),
        (1972, 7, 11),
        (1973, 1, 12),
        (1974, 1, 13),
        (1975, 1, 14),
        (1976, 1, 15),
        (1977, 1, 16),
        (1978, 1, 17),
        (1979, 1, 18),
        (1980, 1, 19),
        (1981, 7, 20),
        (1982, 7, 21),
        (1983, 7, 22),
        (1985, 7, 23),
        (1988, 1, 24),
        (1990, 1, 25),
        (1991, 1, 26),
        (1992, 7, 27),
        (1993, 7, 28),
        (1994, 7, 29),
        (1996, 1, 30),
        (1997, 7, 31),
        (1999, 1, 32),
        (2006, 1, 33),
        (2009, 1, 34),
        (2012, 7, 35),
        (2015, 7, 36),
        (2017, 1, 37),
    )
)


def tai_minus_utc(when: datetime) -> int:
    """TAI-UTC in whole seconds at a UTC instant."""
    offset = 10
    for start, value in _LEAP_SECONDS:
        if when >= start:
            offset = value
        else:
            break
    return offset


def utc_to_tai_seconds(when: datetime) -> float:
    """UTC datetime (timezone-aware) to TAI seconds since 1958-01-01 TAI."""
    if when.tzinfo is None:
        raise ValueError("datetime must be timezone-aware (UTC)")
    return (when - CCSDS_EPOCH).total_seconds() + tai_minus_utc(when)


def tai_seconds_to_utc(tai_seconds: float) -> datetime:
    """Inverse of :func:`utc_to_tai_seconds` (exact except inside a leap second)."""
    utc = CCSDS_EPOCH + timedelta(seconds=tai_seconds - 37)
    for _ in range(2):
        utc = CCSDS_EPOCH + timedelta(seconds=tai_seconds - tai_minus_utc(utc))
    return utc


@dataclass(frozen=True, slots=True)
class CucTime:
    """A CUC time value: whole seconds plus a binary fraction, at a known resolution."""

    coarse: int
    fine: int = 0
    coarse_octets: int = 4
    fine_octets: int = 2

    @classmethod
    def from_seconds(cls, seconds: float, coarse_octets: int = 4, fine_octets: int = 2) -> CucTime:
        if seconds < 0:
            raise ValueError("CUC time cannot be negative")
        coarse = int(seconds)
        fine = round((seconds - coarse) * (1 << (8 * fine_octets)))
        if fine >= 1 << (8 * fine_octets):
            coarse, fine = coarse + 1, 0
        if coarse >= 1 << (8 * coarse_octets):
            raise ValueError(f"{seconds} s does not fit in {coarse_octets} coarse octets")
        return cls(coarse, fine, coarse_octets, fine_octets)

    @property
    def seconds(self) -> float:
        return self.coarse + self.fine / float(1 << (8 * self.fine_octets))

    def pfield(self) -> bytes:
        """P-field for level-1 (CCSDS epoch) CUC; adds an extension octet only when needed."""
        c, f = self.coarse_octets, self.fine_octets
        if not (1 <= c <= 7 and 0 <= f <= 10):
            raise ValueError("CUC supports 1..7 coarse and 0..10 fine octets")
        if c <= 4 and f <= 3:
            return bytes([(0b001 << 4) | ((c - 1) << 2) | f])
        first = 0x80 | (0b001 << 4) | (min(c, 4) - 1) << 2 | min(f, 3)
        second = ((c - min(c, 4)) << 5) | ((f - min(f, 3)) << 2)
        return bytes([first, second])

    def pack(self, with_pfield: bool = True) -> bytes:
        t = self.coarse.to_bytes(self.coarse_octets, "big") + self.fine.to_bytes(self.fine_octets, "big")
        return self.pfield() + t if with_pfield else t

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> tuple[CucTime, int]:
        """Decode a P-field plus T-field at ``offset``; returns the value and the octets used."""
        if offset >= len(data):
            raise DecodeError(LAYER_CUC, offset, "no P-field")
        p1 = data[offset]
        time_code_id = (p1 >> 4) & 0b111
        if time_code_id not in (0b001, 0b010):
            raise DecodeError(LAYER_CUC, offset, f"time code id {time_code_id:03b} is not CUC")
        coarse = ((p1 >> 2) & 0b11) + 1
        fine = p1 & 0b11
        used = 1
        if p1 & 0x80:
            if offset + 1 >= len(data):
                raise DecodeError(LAYER_CUC, offset + 1, "P-field extension octet missing")
            p2 = data[offset + 1]
            coarse += (p2 >> 5) & 0b11
            fine += (p2 >> 2) & 0b111
            used = 2
            if p2 & 0x80:
                raise DecodeError(LAYER_CUC, offset + 1, "more than one P-field extension octet")
        value, n = cls.unpack_tfield(data, offset + used, coarse, fine)
        return value, used + n

    @classmethod
    def unpack_tfield(
        cls, data: bytes | memoryview, offset: int, coarse_octets: int = 4, fine_octets: int = 2
    ) -> tuple[CucTime, int]:
        """Decode a T-field whose layout is known (implicit P-field)."""
        end = offset + coarse_octets + fine_octets
        if end > len(data):
            raise DecodeError(LAYER_CUC, offset, f"T-field needs {coarse_octets + fine_octets} octets")
        coarse = int.from_bytes(data[offset : offset + coarse_octets], "big")
        fine = int.from_bytes(data[offset + coarse_octets : end], "big")
        return cls(coarse, fine, coarse_octets, fine_octets), coarse_octets + fine_octets

    def to_utc(self) -> datetime:
        return tai_seconds_to_utc(self.seconds)

    @classmethod
    def from_utc(cls, when: datetime) -> CucTime:
        return cls.from_seconds(utc_to_tai_seconds(when))


@dataclass(frozen=True, slots=True)
class CdsTime:
    """CDS time: days since 1958-01-01, milliseconds of day, optional microseconds."""

    days: int
    ms_of_day: int
    us_of_ms: int | None = None

    def pack(self, with_pfield: bool = True) -> bytes:
        if self.us_of_ms is None:
            body = struct.pack(">HI", self.days, self.ms_of_day)
            pfield = bytes([CDS_PFIELD_MS])
        else:
            body = struct.pack(">HIH", self.days, self.ms_of_day, self.us_of_ms)
            pfield = bytes([CDS_PFIELD_US])
        return pfield + body if with_pfield else body

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> tuple[CdsTime, int]:
        if offset >= len(data):
            raise DecodeError(LAYER_CDS, offset, "no P-field")
        p = data[offset]
        if (p >> 4) & 0b111 != 0b100:
            raise DecodeError(LAYER_CDS, offset, "time code id is not CDS")
        if p & 0x80 or p & 0x08 or p & 0x04:
            raise DecodeError(LAYER_CDS, offset, "only 16-bit days from the CCSDS epoch are supported")
        sub = p & 0b11
        if sub == 0b11:
            raise DecodeError(LAYER_CDS, offset, "reserved sub-millisecond resolution")
        need = 6 + (0, 2, 4)[sub]
        if offset + 1 + need > len(data):
            raise DecodeError(LAYER_CDS, offset + 1, f"T-field needs {need} octets")
        days, ms = struct.unpack_from(">HI", data, offset + 1)
        if ms >= 86_401_000:
            raise DecodeError(LAYER_CDS, offset + 3, f"{ms} ms is past the end of a day")
        us = None
        if sub == 1:
            (us,) = struct.unpack_from(">H", data, offset + 7)
        elif sub == 2:
            (ps,) = struct.unpack_from(">I", data, offset + 7)
            us = ps // 1_000_000
        return cls(days, ms, us), 1 + need
