"""Channel access data units (CCSDS 131.0-B): ASM + randomized, Reed-Solomon coded frame.

Coding order on the way out: frame -> RS codeblock (frame + interleaved check symbols) ->
randomizer over the whole codeblock -> prefix the attached sync marker (the channel's, 32-bit
1ACFFC1D by default). Decoding reverses it. :class:`CaduCodec` does one CADU at a time
(transmitter) or whole batches with numpy (receiver); :func:`asm_distances` scores every byte
offset of a buffer against the marker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from protocols.coding.randomizer import Randomizer
from protocols.coding.reed_solomon import CcsdsReedSolomon
from protocols.errors import DecodeError
from protocols.link.channel_config import ASM, ASM_LENGTH, PhysicalChannelConfig

LAYER = "cadu"

_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)
_ASM_ARRAY = np.frombuffer(ASM, dtype=np.uint8)


def asm_distances(buffer: np.ndarray, asm: bytes = ASM) -> np.ndarray:
    """Bit errors between ``asm`` and the octets starting at each offset (len(buffer) - len(asm) + 1
    values)."""
    marker = _ASM_ARRAY if asm is ASM else np.frombuffer(asm, dtype=np.uint8)
    count = len(buffer) - len(marker) + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint8)
    distance = _POPCOUNT[buffer[:count] ^ marker[0]]
    for k in range(1, len(marker)):
        distance = distance + _POPCOUNT[buffer[k : k + count] ^ marker[k]]
    return distance


_ASM_VALUE = int.from_bytes(ASM, "big")


def marker_errors(rows: np.ndarray, asm: bytes = ASM) -> list[int]:
    """Bit errors between ``asm`` and the first octets of each row of a (n, >= len(asm)) uint8
    array: ``asm_distances`` at the start of every CADU of a batch, without scoring the offsets
    between them."""
    if asm == ASM:
        words = np.ascontiguousarray(rows[:, :ASM_LENGTH]).view(">u4").reshape(-1).tolist()
        return [(word ^ _ASM_VALUE).bit_count() for word in words]
    marker = np.frombuffer(asm, dtype=np.uint8)
    return _POPCOUNT[rows[:, : len(marker)] ^ marker].sum(axis=1, dtype=np.int64).tolist()


def derandomize_prefix(config: PhysicalChannelConfig, data: bytes) -> bytes:
    """The first octets of a variable-length frame as sent (undoes :func:`variable_cadu`'s randomizing)."""
    if not config.randomizer:
        return bytes(data)
    sequence = _sequence(config.frame_length)[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(sequence, "big")).to_bytes(len(data), "big")


def variable_cadu(config: PhysicalChannelConfig, frame: bytes) -> bytes:
    """ASM + a variable-length frame (uncoded; randomized when configured, the sequence restarting
    at every frame as for fixed frames). The receiver reads the length from the frame header."""
    if len(frame) > config.frame_length:
        raise ValueError(f"frame of {len(frame)} octets is longer than {config.frame_length}")
    if config.randomizer:
        sequence = _sequence(config.frame_length)[: len(frame)]
        frame = (int.from_bytes(frame, "big") ^ int.from_bytes(sequence, "big")).to_bytes(len(frame), "big")
    return config.asm + frame


@functools.lru_cache(maxsize=8)
def _sequence(length: int) -> bytes:
    return Randomizer(length).sequence


def asm_distance(data: bytes | bytearray | memoryview, offset: int = 0, asm: bytes = ASM) -> int:
    """Bit errors in the octets at ``offset`` compared with ``asm`` (all its bits if too short)."""
    chunk = bytes(data[offset : offset + len(asm)])
    if len(chunk) < len(asm):
        return 8 * len(asm)
    return (int.from_bytes(chunk, "big") ^ int.from_bytes(asm, "big")).bit_count()


@dataclass(frozen=True, slots=True)
class DecodedCadus:
    """A batch of decoded CADU bodies: frames (wire basis) and RS corrections per codeword."""

    frames: np.ndarray  # (n, frame_length) uint8
    corrected: np.ndarray  # (n, I) symbols corrected per codeword, -1 = uncorrectable; (n, 0) uncoded

    @property
    def ok(self) -> np.ndarray:
        return (self.corrected >= 0).all(axis=1)


class CaduCodec:
    """Turns frames into CADUs and back for one physical channel configuration."""

    def __init__(self, config: PhysicalChannelConfig) -> None:
        self.config = config
        self.rs = (
            CcsdsReedSolomon(config.rs_e, config.rs_interleave, config.frame_length, config.dual_basis)
            if config.coded
            else None
        )
        self.randomizer = Randomizer(config.codeblock_length) if config.randomizer else None

    def encode(self, frame: bytes) -> bytes:
        """ASM + randomized codeblock for one frame of exactly ``frame_length`` octets."""
        if len(frame) != self.config.frame_length:
            raise ValueError(f"frame must be {self.config.frame_length} octets, not {len(frame)}")
        block = self.rs.encode(frame) if self.rs else bytes(frame)
        if self.randomizer:
            block = self.randomizer.apply(block)
        return self.config.asm + block

    def encode_many(self, frames: list[bytes]) -> bytes:
        """CADUs for many frames at once (vectorized RS and randomizer); equal to joining :meth:`encode`."""
        if not frames:
            return b""
        length = self.config.frame_length
        if any(len(f) != length for f in frames):
            raise ValueError(f"every frame must be {length} octets")
        rows = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), length)
        blocks = np.concatenate([rows, self.rs.parity_many(rows)], axis=1) if self.rs else rows.copy()
        if self.randomizer:
            self.randomizer.apply_rows(blocks)
        marker = np.frombuffer(self.config.asm, dtype=np.uint8)
        asm = np.broadcast_to(marker, (len(frames), len(marker)))
        return np.concatenate([asm, blocks], axis=1).tobytes()

    def decode_bodies(self, bodies: np.ndarray) -> DecodedCadus:
        """(n, codeblock_length) uint8 bodies (after the ASM) -> frames; the input is not modified."""
        # de-randomized into a new array (one pass, not a copy and an XOR in place)
        blocks = np.bitwise_xor(bodies, self.randomizer.sequence_array) if self.randomizer else bodies
        if self.rs is None:
            return DecodedCadus(blocks, np.zeros((blocks.shape[0], 0), dtype=np.int64))
        result = self.rs.decode_many(blocks)
        return DecodedCadus(result.frames, result.corrected)

    def decode(self, cadu: bytes | bytearray | memoryview) -> tuple[bytes, tuple[int, ...]]:
        """One whole CADU -> (frame, symbols corrected per codeword); DecodeError if it cannot be."""
        if len(cadu) != self.config.cadu_length:
            raise DecodeError(LAYER, 0, f"CADU is {len(cadu)} octets, not {self.config.cadu_length}")
        asm = self.config.asm
        if asm_distance(cadu, 0, asm) > self.config.asm_tolerance:
            raise DecodeError(LAYER, 0, "attached sync marker not found")
        body = np.frombuffer(bytes(cadu[len(asm) :]), dtype=np.uint8)[None, :]
        decoded = self.decode_bodies(body)
        corrected = tuple(int(c) for c in decoded.corrected[0])
        if corrected and min(corrected) < 0:
            bad = corrected.index(-1)
            raise DecodeError(LAYER, len(asm), f"Reed-Solomon codeword {bad} is uncorrectable")
        return decoded.frames[0].tobytes(), corrected
