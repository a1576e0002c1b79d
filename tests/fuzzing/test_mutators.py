"""The mutators say what they changed and keep to the length bound."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from fuzzing.mutators import MUTATIONS, Mutator


@given(st.binary(max_size=64), st.sampled_from(sorted(MUTATIONS)), st.integers(0, 2**32))
def test_every_mutation_reports_what_it_changed(data: bytes, kind: str, seed: int) -> None:
    buffer = bytearray(data)
    mutation = MUTATIONS[kind](random.Random(seed), buffer, [b"spliced-in"])
    if mutation is None:
        assert bytes(buffer) == data
        return
    assert len(buffer) == len(data) + mutation.length_delta
    assert bytes(buffer[: mutation.offset]) == data[: mutation.offset], (
        "octets before the offset are untouched"
    )
    tail = len(data) - mutation.offset - mutation.removed
    if kind != "splice" and tail > 0:
        assert bytes(buffer[len(buffer) - tail :]) == data[len(data) - tail :], (
            "octets after the span untouched"
        )


def test_mutator_respects_the_length_bound() -> None:
    mutator = Mutator(random.Random(1), max_length=50)
    data = bytes(40)
    for _ in range(500):
        data = mutator.mutate(data, [bytes(45)])
        assert len(data) <= 50
