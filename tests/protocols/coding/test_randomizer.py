"""CCSDS pseudo-randomizer: published first octets, period, involution, fast paths."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from protocols.coding.randomizer import PERIOD, Randomizer, randomize

# CCSDS 131.0-B §10.4 (figure 10-2): the sequence starts 1111 1111 0100 1000 0000 1110 1100 0000 ...
PUBLISHED_FIRST_OCTETS = bytes([0xFF, 0x48, 0x0E, 0xC0, 0x9A, 0x0D, 0x70, 0xBC])


def test_sequence_starts_with_the_published_octets() -> None:
    assert PERIOD[:8] == PUBLISHED_FIRST_OCTETS


def test_period_is_255_octets_and_no_shorter() -> None:
    long_sequence = Randomizer(255 * 3).sequence
    assert long_sequence == PERIOD * 3
    bits = np.unpackbits(np.frombuffer(PERIOD * 2, dtype=np.uint8))
    for shift in (1, 3, 5, 15, 17, 51, 85):  # proper divisors of 255
        assert not np.array_equal(bits[: 255 * 8 - shift * 8], bits[shift * 8 : 255 * 8])


def test_sequence_is_the_recurrence_of_h() -> None:
    bits = np.unpackbits(np.frombuffer(PERIOD, dtype=np.uint8)).tolist()
    for n in range(len(bits) - 8):
        assert bits[n + 8] == bits[n + 7] ^ bits[n + 5] ^ bits[n + 3] ^ bits[n]


@given(st.binary(min_size=1, max_size=3000))
def test_randomizing_twice_restores_the_block(block: bytes) -> None:
    once = randomize(block)
    assert len(once) == len(block)
    assert randomize(once) == block


@given(st.lists(st.binary(min_size=300, max_size=300), min_size=1, max_size=5))
def test_row_fast_path_equals_single_block(blocks: list[bytes]) -> None:
    r = Randomizer(300)
    rows = np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(len(blocks), 300).copy()
    r.apply_rows(rows)
    assert [row.tobytes() for row in rows] == [r.apply(b) for b in blocks]
