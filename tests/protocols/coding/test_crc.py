"""CRC-16/CCITT-FALSE: check value, fast path equals the table-driven reference, independent library."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from protocols.coding.crc import (
    CHECK_VALUE,
    append_crc16,
    crc16,
    crc16_ok,
    crc16_reference,
    crc16_wide,
    crc32_wide,
    replace_trailing_crc16,
)


def test_check_value_of_the_standard_string() -> None:
    assert crc16(b"123456789") == CHECK_VALUE == 0x29B1
    assert crc16_reference(b"123456789") == 0x29B1


def test_empty_input_is_the_initial_value() -> None:
    assert crc16(b"") == 0xFFFF


@given(st.binary(max_size=3000))
def test_fast_path_equals_reference(data: bytes) -> None:
    assert crc16(data) == crc16_reference(data)


@given(st.binary(max_size=2000))
def test_agrees_with_fastcrc_ibm_3740(data: bytes) -> None:
    # fastcrc is what spacepackets uses for the TM FECF: an independent implementation.
    import fastcrc

    assert crc16(data) == fastcrc.crc16.ibm_3740(data)


@given(st.binary(min_size=1, max_size=500), st.data())
def test_appended_crc_checks_and_any_bit_flip_is_caught(data: bytes, draw: st.DataObject) -> None:
    framed = bytearray(append_crc16(data))
    assert crc16_ok(framed)
    bit = draw.draw(st.integers(0, len(framed) * 8 - 1))
    framed[bit // 8] ^= 0x80 >> (bit % 8)
    assert not crc16_ok(framed)


@given(st.binary(max_size=3000))
def test_wide_tables_give_the_same_crc(data: bytes) -> None:
    assert crc16_wide(data) == crc16(data) == crc16_reference(data)
    assert crc16_wide(memoryview(bytearray(data))) == crc16(data)


@given(st.binary(max_size=5000))
def test_wide_crc32_is_zlibs(data: bytes) -> None:
    assert crc32_wide(data) == zlib.crc32(data)
    assert crc32_wide(memoryview(bytearray(data))) == zlib.crc32(data)


def test_wide_crc32_of_a_whole_image_is_zlibs() -> None:
    image = bytes(range(256)) * 8192 + b"\x01"  # 2 MiB and one octet
    assert crc32_wide(image) == zlib.crc32(image) and crc32_wide(b"123456789") == 0xCBF43926


@given(st.binary(max_size=100))
def test_replace_trailing_crc16_makes_the_check_pass(data: bytes) -> None:
    fixed = replace_trailing_crc16(data)
    assert len(fixed) == len(data)
    assert fixed == data if len(data) < 3 else crc16_ok(fixed) and fixed[:-2] == data[:-2]
