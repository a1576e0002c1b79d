"""CCSDS TC synchronization and channel coding (CCSDS 231.0-B): CLTUs with BCH(63,56) code blocks.

A CLTU is the start sequence ``EB 90``, code blocks of eight octets, and the
tail sequence ``C5 C5 C5 C5 C5 C5 C5 79``. Each code block is seven
information octets followed by one octet holding seven parity bits and a
filler bit of 0. The parity is the remainder of the 56 information bits times
x^7 divided by the generator g(x) = x^7 + x^6 + x^2 + 1, complemented (the
ones' complement keeps an all-zero block from being a valid codeword). The
last block is filled with 0x55 octets. (Checked against Yamcs'
``BchCltuGenerator``, polynomial 0x8A with ``~r & 0xFE``, and an independent
Rust encoder that agrees.)

g(x) = (x + 1)(x^6 + x + 1) makes this an expurgated Hamming code of minimum
distance 4: the decoder corrects one bit per block (the standard's optional
error-correcting mode) and detects two. A block it cannot correct ends the
CLTU if it lies within two bits of the tail sequence, and is otherwise
rejected with :class:`DecodeError`.

:func:`bch_parity_reference` (bit-serial division) is the declaration;
:func:`bch_parity` (table per octet) is the fast path, proven identical.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import DecodeError

LAYER = "cltu"

START_SEQUENCE = bytes.fromhex("EB90")
TAIL_SEQUENCE = bytes.fromhex("C5C5C5C5C5C5C579")
FILL_OCTET = 0x55
INFO_OCTETS = 7
BLOCK_OCTETS = 8
GENERATOR = 0b11000101  # x^7 + x^6 + x^2 + 1
MAX_CLTU_BLOCKS = 4096  # far above the 147 blocks a 1024-octet TC frame needs


def bch_parity_reference(info: bytes) -> int:
    """Parity octet by long division of info(x)·x^7 by g(x), bit by bit: the definition."""
    if len(info) != INFO_OCTETS:
        raise ValueError("a code block holds 7 information octets")
    remainder = 0
    for octet in info:
        for i in range(7, -1, -1):
            feedback = ((remainder >> 6) & 1) ^ ((octet >> i) & 1)
            remainder = (remainder << 1) & 0x7F
            if feedback:
                remainder ^= GENERATOR & 0x7F
    return ((~remainder) & 0x7F) << 1


def _build_table() -> tuple[int, ...]:
    # Remainder register kept left-aligned in 8 bits (g(x) without x^7, shifted: 0x8A).
    poly = (GENERATOR & 0x7F) << 1
    table = []
    for value in range(256):
        r = value
        for _ in range(8):
            r = ((r << 1) ^ poly) & 0xFF if r & 0x80 else (r << 1) & 0xFF
        table.append(r)
    return tuple(table)


_TABLE = _build_table()


def bch_parity(info: bytes | memoryview, offset: int = 0) -> int:
    """Fast path: parity octet (complemented parity bits, filler bit 0) of 7 octets at ``offset``."""
    r = 0
    for i in range(offset, offset + INFO_OCTETS):
        r = _TABLE[info[i] ^ r]
    return (~r) & 0xFE


def _single_error_syndromes() -> dict[int, tuple[int, int]]:
    """Syndrome → (octet index, bit mask) for each of the 63 single-bit errors of a code block."""
    zero = bytes(BLOCK_OCTETS - 1)
    base = bch_parity(zero)
    table: dict[int, tuple[int, int]] = {}
    for index in range(BLOCK_OCTETS):
        for bit in range(8):
            mask = 1 << (7 - bit)
            if index == INFO_OCTETS and mask == 1:
                continue  # the filler bit is not covered by the code
            block = bytearray(zero) + bytes([base])
            block[index] ^= mask
            table[syndrome(block)] = (index, mask)
    return table


def syndrome(block: bytes | bytearray | memoryview, offset: int = 0) -> int:
    """Seven-bit syndrome of a code block (0 when it is a codeword)."""
    return ((bch_parity(block, offset) ^ block[offset + INFO_OCTETS]) >> 1) & 0x7F


SINGLE_ERROR_SYNDROMES = _single_error_syndromes()


def encode_cltu(data: bytes) -> bytes:
    """Start sequence, BCH code blocks (last one filled with 0x55), tail sequence."""
    if not data:
        raise ValueError("a CLTU carries at least one octet")
    out = bytearray(START_SEQUENCE)
    for start in range(0, len(data), INFO_OCTETS):
        info = data[start : start + INFO_OCTETS]
        info = info + bytes([FILL_OCTET]) * (INFO_OCTETS - len(info))
        out += info
        out.append(bch_parity(info))
    out += TAIL_SEQUENCE
    return bytes(out)


@dataclass(frozen=True, slots=True)
class DecodedCltu:
    """Information octets of a CLTU (fill included: the frame header says where the frame ends)."""

    data: bytes
    code_blocks: int
    corrected_bits: int
    start_offset: int


def _bit_distance(a: bytes | memoryview, b: bytes) -> int:
    return sum((x ^ y).bit_count() for x, y in zip(a, b, strict=True))


def decode_cltu(stream: bytes | memoryview, correct: bool = True) -> DecodedCltu:
    """Find the start sequence, decode code blocks until the tail; raise DecodeError on anything else.

    With ``correct`` False (the standard's detection mode) any error in a block is a rejection.
    """
    stream = bytes(stream)
    start = stream.find(START_SEQUENCE)
    if start < 0:
        raise DecodeError(LAYER, 0, "no start sequence EB90")
    pos = start + len(START_SEQUENCE)
    data = bytearray()
    corrected = blocks = 0
    while True:
        if len(stream) - pos < BLOCK_OCTETS:
            raise DecodeError(LAYER, pos, "stream ends before the tail sequence")
        block = stream[pos : pos + BLOCK_OCTETS]
        if block == TAIL_SEQUENCE:
            break
        s = syndrome(block)
        if s:
            if blocks and _bit_distance(block, TAIL_SEQUENCE) <= 2:
                break  # the tail with bit errors: it is built never to be a correctable block
            fix = SINGLE_ERROR_SYNDROMES.get(s) if correct else None
            if fix is None:
                raise DecodeError(LAYER, pos, f"code block {blocks} has errors it cannot correct")
            fixed = bytearray(block)
            fixed[fix[0]] ^= fix[1]
            block = bytes(fixed)
            corrected += 1
        data += block[:INFO_OCTETS]
        blocks += 1
        pos += BLOCK_OCTETS
        if blocks > MAX_CLTU_BLOCKS:
            raise DecodeError(LAYER, pos, f"more than {MAX_CLTU_BLOCKS} code blocks")
    if not blocks:
        raise DecodeError(LAYER, pos, "CLTU holds no code block")
    return DecodedCltu(bytes(data), blocks, corrected, start)
