"""Communications Link Control Word (CCSDS 232.0-B §4.2): the 4-octet report in the OCF.

The probe reports the state of its telecommand receiver (FARM) in every frame's operational
control field, so the ground learns about lost telecommands without a separate packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Flag

from protocols.errors import DecodeError

LAYER = "clcw"
LENGTH = 4

CLCW = BitStruct(
    "control_word_type" / BitsInteger(1),  # 0 = CLCW
    "version" / BitsInteger(2),  # 00
    "status_field" / BitsInteger(3),
    "cop_in_effect" / BitsInteger(2),  # 01 = COP-1
    "vcid" / BitsInteger(6),
    "reserved_spare" / BitsInteger(2),
    "no_rf_available" / Flag,
    "no_bit_lock" / Flag,
    "lockout" / Flag,
    "wait" / Flag,
    "retransmit" / Flag,
    "farm_b_counter" / BitsInteger(2),
    "reserved_spare_2" / BitsInteger(1),
    "report_value" / BitsInteger(8),
)

_WORD = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Clcw:
    """The fields a ground station reads; spares are zero on the way out."""

    vcid: int = 0
    report_value: int = 0  # next expected telecommand frame sequence number, N(R)
    status_field: int = 0
    cop_in_effect: int = 1
    no_rf_available: bool = False
    no_bit_lock: bool = False
    lockout: bool = False
    wait: bool = False
    retransmit: bool = False
    farm_b_counter: int = 0

    def pack(self) -> bytes:
        if not 0 <= self.vcid < 64 or not 0 <= self.report_value < 256:
            raise ValueError("CLCW vcid must fit 6 bits and report value 8 bits")
        word = (
            (self.status_field & 7) << 26
            | (self.cop_in_effect & 3) << 24
            | self.vcid << 18
            | int(self.no_rf_available) << 15
            | int(self.no_bit_lock) << 14
            | int(self.lockout) << 13
            | int(self.wait) << 12
            | int(self.retransmit) << 11
            | (self.farm_b_counter & 3) << 9
            | self.report_value
        )
        return _WORD.pack(word)

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> Clcw:
        if len(data) - offset < LENGTH:
            raise DecodeError(LAYER, offset, "a CLCW needs 4 octets")
        (word,) = _WORD.unpack_from(data, offset)
        if word >> 31:
            raise DecodeError(LAYER, offset, "control word type 1 is not a CLCW")
        if (word >> 29) & 3:
            raise DecodeError(LAYER, offset, f"CLCW version {(word >> 29) & 3} is not 0")
        return cls(
            vcid=(word >> 18) & 0x3F,
            report_value=word & 0xFF,
            status_field=(word >> 26) & 7,
            cop_in_effect=(word >> 24) & 3,
            no_rf_available=bool(word >> 15 & 1),
            no_bit_lock=bool(word >> 14 & 1),
            lockout=bool(word >> 13 & 1),
            wait=bool(word >> 12 & 1),
            retransmit=bool(word >> 11 & 1),
            farm_b_counter=(word >> 9) & 3,
        )
