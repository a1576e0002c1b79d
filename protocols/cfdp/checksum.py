"""File checksums named by the Metadata PDU, and the optional PDU CRC.

Checksum type codes are SANA's (see :class:`ChecksumType`): 0 modular, 1 Proximity-1
CRC-32 (CCSDS 211.2 annex C: polynomial 0x00A00805, preset zero, no reflection, no
final XOR), 2 CRC-32C (Castagnoli, reflected, preset and final XOR all ones),
3 IEEE 802.3 CRC-32 (zlib), 15 null (always zero). The PDU CRC (727.0-B-5 §4.1.3) is
CRC-16/CCITT-FALSE, :func:`protocols.coding.crc.crc16`.

The modular checksum adds big-endian 32-bit words *aligned to the file offset*, so a
segment at an unaligned offset contributes its bytes in the right lanes and the
checksum of a file is the sum (mod 2^32) of its segments' checksums.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from protocols.cfdp.constants import ChecksumType

_MASK32 = 0xFFFFFFFF


def modular_checksum(data: bytes | bytearray | memoryview, offset: int = 0) -> int:
    """Sum mod 2^32 of the big-endian words ``data`` occupies when placed at file ``offset``."""
    lead = offset % 4
    tail = -(lead + len(data)) % 4
    padded = data if lead == 0 and tail == 0 else b"\x00" * lead + bytes(data) + b"\x00" * tail
    words = np.frombuffer(padded, dtype=">u4")
    return int(words.sum(dtype=np.uint64)) & _MASK32


def _reflected_table(polynomial_reflected: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial_reflected if crc & 1 else crc >> 1
        table.append(crc)
    return table


def _forward_table(polynomial: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ polynomial) & _MASK32 if crc & 0x80000000 else (crc << 1) & _MASK32
        table.append(crc)
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78)  # 0x1EDC6F41 bit-reversed
_PROXIMITY1_TABLE = _forward_table(0x00A00805)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C (Castagnoli). Pure Python: a few MB/s, fine for image-sized files."""
    crc = _MASK32
    table = _CRC32C_TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK32


def proximity1_crc32(data: bytes | bytearray | memoryview) -> int:
    """CCSDS Proximity-1 CRC-32 (211.2-B annex C)."""
    crc = 0
    table = _PROXIMITY1_TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & _MASK32) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


def ieee_crc32(data: bytes | bytearray | memoryview) -> int:
    return zlib.crc32(data) & _MASK32


def null_checksum(data: bytes | bytearray | memoryview) -> int:
    return 0


_FILE_CHECKSUMS: dict[ChecksumType, Callable[[bytes | bytearray | memoryview], int]] = {
    ChecksumType.MODULAR: modular_checksum,
    ChecksumType.PROXIMITY1_CRC32: proximity1_crc32,
    ChecksumType.CRC32C: crc32c,
    ChecksumType.CRC32: ieee_crc32,
    ChecksumType.NULL: null_checksum,
}

SUPPORTED_CHECKSUM_TYPES = frozenset(_FILE_CHECKSUMS)


def file_checksum(checksum_type: int, data: bytes | bytearray | memoryview) -> int:
    """Checksum of a whole file; ``ValueError`` for a type this entity does not implement."""
    try:
        function = _FILE_CHECKSUMS[ChecksumType(checksum_type)]
    except ValueError:
        raise ValueError(f"unsupported checksum type {checksum_type}") from None
    return function(data)
