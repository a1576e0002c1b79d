"""CLTUs (CCSDS 231.0-B): BCH(63,56) parity, round trip, single-bit correction, clean rejection."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocols.coding.cltu import (
    SINGLE_ERROR_SYNDROMES,
    START_SEQUENCE,
    TAIL_SEQUENCE,
    bch_parity,
    bch_parity_reference,
    decode_cltu,
    encode_cltu,
    syndrome,
)
from protocols.errors import DecodeError
from protocols.link.tc_frame import TcFrame
from protocols.pus.pus_services import pack_tc, unpack_tc

info_blocks = st.binary(min_size=7, max_size=7)


def parity_by_integer_division(info: bytes) -> int:
    """A third formulation: info(x)·x^7 mod g(x) with Python integers, complemented, filler 0."""
    dividend = int.from_bytes(info, "big") << 7
    g = 0b11000101
    for shift in range(dividend.bit_length() - 8, -1, -1):
        if dividend >> (shift + 7) & 1:
            dividend ^= g << shift
    return (~dividend & 0x7F) << 1


@given(info_blocks)
def test_parity_fast_path_equals_the_definitions(info: bytes) -> None:
    assert bch_parity(info) == bch_parity_reference(info) == parity_by_integer_division(info)


def test_known_blocks() -> None:
    # An all-zero block's parity is all ones (the complement), filler bit 0.
    assert bch_parity(bytes(7)) == 0xFE
    assert encode_cltu(b"\x01")[:2] == START_SEQUENCE and encode_cltu(b"\x01")[-8:] == TAIL_SEQUENCE
    assert encode_cltu(b"\x01")[2:9] == b"\x01" + b"\x55" * 6


def test_63_single_errors_have_distinct_syndromes_and_the_tail_is_uncorrectable() -> None:
    assert len(SINGLE_ERROR_SYNDROMES) == 63 and 0 not in SINGLE_ERROR_SYNDROMES
    assert syndrome(TAIL_SEQUENCE) not in SINGLE_ERROR_SYNDROMES and syndrome(TAIL_SEQUENCE) != 0


@given(st.binary(min_size=1, max_size=300))
def test_round_trip(data: bytes) -> None:
    decoded = decode_cltu(encode_cltu(data))
    assert decoded.data[: len(data)] == data and decoded.corrected_bits == 0
    assert decoded.code_blocks == -(-len(data) // 7)


@given(st.binary(min_size=1, max_size=100), st.data())
def test_one_flipped_bit_per_block_is_corrected(data: bytes, draw) -> None:
    cltu = bytearray(encode_cltu(data))
    blocks = -(-len(data) // 7)
    for block in range(blocks):
        bit = draw.draw(st.integers(0, 62))  # 63 code bits; bit 63 is the filler
        cltu[2 + 8 * block + bit // 8] ^= 0x80 >> (bit % 8)
    decoded = decode_cltu(bytes(cltu))
    assert decoded.data[: len(data)] == data and decoded.corrected_bits == blocks


@given(st.binary(min_size=14, max_size=70), st.data())
def test_two_flipped_bits_in_a_block_are_rejected(data: bytes, draw) -> None:
    cltu = bytearray(encode_cltu(data))
    first, second = draw.draw(st.lists(st.integers(0, 62), min_size=2, max_size=2, unique=True))
    block = draw.draw(st.integers(0, len(data) // 7 - 1))
    for bit in (first, second):
        cltu[2 + 8 * block + bit // 8] ^= 0x80 >> (bit % 8)
    corrupted = bytes(cltu[2 + 8 * block : 10 + 8 * block])
    assume(sum((a ^ b).bit_count() for a, b in zip(corrupted, TAIL_SEQUENCE, strict=True)) > 2)
    with pytest.raises(DecodeError) as error:
        decode_cltu(bytes(cltu))
    assert error.value.offset == 2 + 8 * block
    with pytest.raises(DecodeError):
        decode_cltu(encode_cltu(data)[:-1])  # no tail


def test_detection_mode_refuses_single_errors() -> None:
    cltu = bytearray(encode_cltu(b"paleblue"))
    cltu[3] ^= 1
    with pytest.raises(DecodeError):
        decode_cltu(bytes(cltu), correct=False)


def test_idle_before_start_and_damaged_tail() -> None:
    cltu = bytearray(b"\x55" * 9 + encode_cltu(b"hello, probe"))
    cltu[-3] ^= 0x04  # one bit of the tail
    decoded = decode_cltu(bytes(cltu))
    assert decoded.start_offset == 9 and decoded.data.startswith(b"hello, probe")


@given(st.binary(max_size=60))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    try:
        decode_cltu(data)
    except DecodeError as error:
        assert error.layer == "cltu"


def test_telecommand_through_frame_and_cltu_with_a_bit_error() -> None:
    packet = pack_tc(0x65, 42, 17, 1, source_id=1)
    cltu = bytearray(encode_cltu(TcFrame(421, 0, 0, packet).pack()))
    cltu[5] ^= 0x20
    frame = TcFrame.unpack(decode_cltu(bytes(cltu)).data)
    assert frame.data == packet and unpack_tc(frame.data).sequence_count == 42
