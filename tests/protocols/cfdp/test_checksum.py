"""File checksums and the PDU CRC against independent implementations (fastcrc, anycrc, plain loops)."""

from __future__ import annotations

import itertools

import anycrc
import fastcrc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.cfdp.checksum import (
    crc32c,
    file_checksum,
    ieee_crc32,
    modular_checksum,
    proximity1_crc32,
)
from protocols.cfdp.constants import ChecksumType
from protocols.coding.crc import crc16 as pdu_crc  # the PDU CRC is the one CRC-16 of protocols.coding.crc

PROXIMITY1_GENERATOR = 0x1_00A0_0805


def _gf2_remainder(dividend: int, divisor: int) -> int:
    """Polynomial long division over GF(2) on Python integers (bit i = coefficient of x^i)."""
    while dividend.bit_length() >= divisor.bit_length():
        dividend ^= divisor << (dividend.bit_length() - divisor.bit_length())
    return dividend


def _reference_modular(data: bytes) -> int:
    """The modular checksum as cfdp-py computes it: big-endian words, zero-padded tail."""
    total = 0
    for i in range(0, len(data), 4):
        total += int.from_bytes(data[i : i + 4].ljust(4, b"\0"), "big")
    return total % 2**32


def test_check_values_of_the_catalogue() -> None:
    assert pdu_crc(b"123456789") == 0x29B1
    assert crc32c(b"123456789") == 0xE3069283
    assert ieee_crc32(b"123456789") == 0xCBF43926


@given(st.binary(max_size=300))
def test_crcs_match_fastcrc(data: bytes) -> None:
    assert pdu_crc(data) == fastcrc.crc16.ibm_3740(data)
    assert crc32c(data) == fastcrc.crc32.iscsi(data)
    assert ieee_crc32(data) == fastcrc.crc32.iso_hdlc(data)


@given(st.binary(max_size=64))
def test_proximity1_crc_is_the_gf2_remainder_of_its_polynomial(data: bytes) -> None:
    """Preset zero, no reflection, no XOR out: CRC = M(x)·x^32 mod G(x), G = 0x1_00A00805."""
    message = int.from_bytes(data, "big")
    assert proximity1_crc32(data) == _gf2_remainder(message << 32, PROXIMITY1_GENERATOR)


@given(st.binary(max_size=300))
def test_proximity1_crc_matches_crcany(data: bytes) -> None:
    crcany = anycrc.CRC(
        width=32, poly=PROXIMITY1_GENERATOR & 0xFFFF_FFFF, init=0, refin=False, refout=False, xorout=0
    )
    assert proximity1_crc32(data) == crcany.calc(data)


@given(st.binary(max_size=200))
def test_modular_checksum_matches_the_reference_loop(data: bytes) -> None:
    assert modular_checksum(data) == _reference_modular(data)


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_modular_checksum_of_segments_at_any_offset_sums_to_the_file(data: bytes, cuts: list[int]) -> None:
    edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    total = sum(modular_checksum(data[a:b], offset=a) for a, b in itertools.pairwise(edges))
    assert total % 2**32 == modular_checksum(data)


def test_file_checksum_dispatches_on_the_sana_code() -> None:
    data = b"pale blue dot"
    assert file_checksum(0, data) == modular_checksum(data)
    assert file_checksum(1, data) == proximity1_crc32(data)
    assert file_checksum(2, data) == crc32c(data)
    assert file_checksum(3, data) == ieee_crc32(data)
    assert file_checksum(ChecksumType.NULL, data) == 0
    with pytest.raises(ValueError):
        file_checksum(7, data)
