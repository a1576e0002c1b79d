"""The security header and trailer (CCSDS 355.0-B-2 §4.1.1, §4.1.2), declared with construct.

Each SA fixes the field lengths, so the declaration is built per SA by :func:`header_struct`
and :func:`trailer_struct`; :func:`unpack_header_fast` is the slicing fast path that a test
proves identical to the declaration. The SPI (first two octets) is read before the SA is
known, with :data:`SPI`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from construct import Bytes, Int16ub, Struct

from protocols.sdls.association import SecurityAssociation

SPI = Int16ub


@cache
def header_struct(iv_length: int, sn_length: int, pl_length: int) -> Struct:
    return Struct(
        "spi" / Int16ub,
        "iv" / Bytes(iv_length),
        "sequence_number" / Bytes(sn_length),
        "pad_length" / Bytes(pl_length),
    )


@cache
def trailer_struct(mac_length: int) -> Struct:
    return Struct("mac" / Bytes(mac_length))


@dataclass(frozen=True, slots=True)
class SecurityHeader:
    spi: int
    iv: bytes = b""
    sequence_number: bytes = b""
    pad_length: bytes = b""

    def pack(self) -> bytes:
        return self.spi.to_bytes(2, "big") + self.iv + self.sequence_number + self.pad_length

    def pack_declared(self, sa: SecurityAssociation) -> bytes:
        return header_struct(sa.iv_length, sa.sn_length, sa.pl_length).build(
            {"spi": self.spi, "iv": self.iv, "sequence_number": self.sequence_number,
             "pad_length": self.pad_length}
        )  # fmt: skip


def unpack_header_declared(sa: SecurityAssociation, data: bytes) -> SecurityHeader:
    c = header_struct(sa.iv_length, sa.sn_length, sa.pl_length).parse(data)
    return SecurityHeader(c.spi, bytes(c.iv), bytes(c.sequence_number), bytes(c.pad_length))


def unpack_header_fast(sa: SecurityAssociation, data: bytes | memoryview) -> SecurityHeader:
    """The header by slicing; ``data`` must hold at least ``sa.header_length`` octets."""
    iv_end = 2 + sa.iv_length
    sn_end = iv_end + sa.sn_length
    return SecurityHeader(
        int.from_bytes(data[:2], "big"),
        bytes(data[2:iv_end]),
        bytes(data[iv_end:sn_end]),
        bytes(data[sn_end : sn_end + sa.pl_length]),
    )
