"""The CCSDS pseudo-randomizer (CCSDS 131.0-B §10): keeps bit transitions on the link.

The sequence comes from h(x) = x^8 + x^7 + x^5 + x^3 + 1 with an all-ones seed, i.e. the bit
recurrence a[n+8] = a[n+7] ^ a[n+5] ^ a[n+3] ^ a[n]; it repeats every 255 octets and starts
0xFF 0x48 0x0E 0xC0 0x9A 0x0D 0x70 0xBC. It is XORed onto everything after the attached sync
marker and restarts at every CADU, so randomizing and de-randomizing are the same operation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PERIOD_OCTETS = 255


def _sequence_bits(count: int) -> list[int]:
    bits = [1] * 8
    while len(bits) < count:
        n = len(bits) - 8
        bits.append(bits[n + 7] ^ bits[n + 5] ^ bits[n + 3] ^ bits[n])
    return bits[:count]


@lru_cache(maxsize=1)
def _period() -> bytes:
    bits = _sequence_bits(PERIOD_OCTETS * 8)
    return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


# Every receiver, transmitter and codec builds a Randomizer for its block length: the sequence was
# most of their construction (1.6 ms of 1.6 ms). Cached per length, immutable, at most 64 lengths kept
# (a channel has one; ``randomize`` of odd lengths must not grow it without bound).
@lru_cache(maxsize=64)
def _sequence_octets(length: int) -> bytes:
    return (_period() * (length // PERIOD_OCTETS + 1))[:length]


PERIOD = _sequence_octets(PERIOD_OCTETS)


class Randomizer:
    """XOR with a precomputed sequence for one fixed block length (the coded frame after the ASM)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.sequence = _sequence_octets(length)
        self._sequence_int = int.from_bytes(self.sequence, "big")
        self.sequence_array = np.frombuffer(self.sequence, dtype=np.uint8)

    def apply(self, block: bytes | bytearray | memoryview) -> bytes:
        """Randomize or de-randomize one block of exactly ``length`` octets."""
        if len(block) != self.length:
            raise ValueError(f"randomizer block is {self.length} octets, not {len(block)}")
        return (int.from_bytes(block, "big") ^ self._sequence_int).to_bytes(self.length, "big")

    def apply_rows(self, blocks: np.ndarray) -> np.ndarray:
        """De-randomize a (n, length) uint8 array of blocks in place and return it."""
        np.bitwise_xor(blocks, self.sequence_array, out=blocks)
        return blocks


def randomize(block: bytes | bytearray | memoryview) -> bytes:
    """One-off randomization of a block of any length (the sequence starts afresh)."""
    return Randomizer(len(block)).apply(block)
