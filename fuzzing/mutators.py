"""Byte-level mutations, each reporting what it changed and where.

The same mutations serve the in-process fuzzer (which only needs the new bytes) and the stream
fuzzer (which logs the :class:`Mutation` record so the station's counters can be checked).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x10, 0x1E, 0x40)
INTERESTING_16 = (0x0000, 0x0001, 0x00FF, 0x0100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 0x07FF, 0x3FFF)
INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1ACFFC1D, 0x0000FFFF, 0x00010000)


@dataclass(frozen=True, slots=True)
class Mutation:
    """What a mutation did: ``kind`` at ``offset``, replacing ``removed`` octets with ``added``."""

    kind: str
    offset: int
    removed: int
    added: int

    @property
    def length_delta(self) -> int:
        return self.added - self.removed

    def as_dict(self) -> dict[str, int | str]:
        return {"kind": self.kind, "offset": self.offset, "removed": self.removed, "added": self.added}


MutationFn = Callable[[random.Random, bytearray, Sequence[bytes]], Mutation | None]


def _span(rng: random.Random, n: int, max_span: int = 64) -> tuple[int, int]:
    """A random (start, length) inside ``n`` octets, short spans preferred."""
    length = min(n, 1 + int(rng.expovariate(1 / 4)) if rng.random() < 0.8 else rng.randint(1, max_span))
    start = rng.randrange(n - length + 1)
    return start, max(1, length)


def bit_flip(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    if not data:
        return None
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    return Mutation("bit-flip", i, 1, 1)


def byte_set(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    if not data:
        return None
    i = rng.randrange(len(data))
    data[i] = rng.getrandbits(8)
    return Mutation("byte-set", i, 1, 1)


def interesting_integer(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    width = rng.choice((1, 2, 4))
    if len(data) < width:
        return None
    value = rng.choice({1: INTERESTING_8, 2: INTERESTING_16, 4: INTERESTING_32}[width])
    if rng.random() < 0.3:  # near the current value: off-by-one on length fields
        current = int.from_bytes(data[0:width], "big")
        value = (current + rng.choice((-2, -1, 1, 2))) % (1 << (8 * width))
    i = rng.randrange(len(data) - width + 1)
    data[i : i + width] = value.to_bytes(width, rng.choice(("big", "big", "little")))
    return Mutation(f"interesting-int{8 * width}", i, width, width)


def truncate(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    if not data:
        return None
    keep = rng.randrange(len(data))
    removed = len(data) - keep
    del data[keep:]
    return Mutation("truncate", keep, removed, 0)


def insert_bytes(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    i = rng.randint(0, len(data))
    n = 1 + int(rng.expovariate(1 / 4))
    filler = bytes([rng.getrandbits(8)]) * n if rng.random() < 0.5 else rng.randbytes(n)
    data[i:i] = filler
    return Mutation("insert", i, 0, n)


def delete_span(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    if not data:
        return None
    start, length = _span(rng, len(data))
    del data[start : start + length]
    return Mutation("delete", start, length, 0)


def duplicate_span(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    if not data:
        return None
    start, length = _span(rng, len(data), 256)
    at = rng.randint(0, len(data))
    data[at:at] = data[start : start + length]
    return Mutation("duplicate", at, 0, length)


def copy_span(rng: random.Random, data: bytearray, _: Sequence[bytes]) -> Mutation | None:
    """Overwrite a span with another span of the same input (moves headers onto data)."""
    if len(data) < 2:
        return None
    start, length = _span(rng, len(data))
    at = rng.randrange(len(data) - length + 1)
    data[at : at + length] = data[start : start + length]
    return Mutation("copy", at, length, length)


def splice(rng: random.Random, data: bytearray, others: Sequence[bytes]) -> Mutation | None:
    """Head of this input joined to the tail of another corpus entry."""
    if not others:
        return None
    other = rng.choice(others)
    cut = rng.randint(0, len(data))
    other_cut = rng.randint(0, len(other))
    removed = len(data) - cut
    data[cut:] = other[other_cut:]
    return Mutation("splice", cut, removed, len(other) - other_cut)


MUTATIONS: dict[str, MutationFn] = {
    "bit-flip": bit_flip,
    "byte-set": byte_set,
    "interesting-int": interesting_integer,
    "truncate": truncate,
    "insert": insert_bytes,
    "delete": delete_span,
    "duplicate": duplicate_span,
    "copy": copy_span,
    "splice": splice,
}
# weights: cheap in-place edits most often, structure-changing ones less
_WEIGHTS = {
    "bit-flip": 4,
    "byte-set": 3,
    "interesting-int": 3,
    "truncate": 1,
    "insert": 2,
    "delete": 2,
    "duplicate": 1,
    "copy": 1,
    "splice": 1,
}


class Mutator:
    """Stacks 1..``max_stack`` random mutations on an input, bounded by ``max_length``."""

    def __init__(
        self,
        rng: random.Random,
        max_length: int = 8192,
        max_stack: int = 4,
        kinds: Sequence[str] | None = None,
    ) -> None:
        self.rng = rng
        self.max_length = max_length
        self.max_stack = max_stack
        names = list(kinds or MUTATIONS)
        self._names = names
        self._weights = [_WEIGHTS.get(n, 1) for n in names]

    def mutate_once(self, data: bytearray, others: Sequence[bytes] = ()) -> Mutation | None:
        """Apply one mutation in place (None when the chosen one does not apply)."""
        name = self.rng.choices(self._names, self._weights)[0]
        return MUTATIONS[name](self.rng, data, others)

    def mutate(self, data: bytes, others: Sequence[bytes] = ()) -> bytes:
        out = bytearray(data)
        for _ in range(self.rng.randint(1, self.max_stack)):
            self.mutate_once(out, others)
        if len(out) > self.max_length:
            del out[self.max_length :]
        return bytes(out)
