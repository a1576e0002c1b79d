"""Delta debugging keeps the failure and never grows the input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fuzzing.minimize import ddmin


@given(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=3))
def test_ddmin_keeps_the_failure_and_is_no_longer(noise: bytes, needle: bytes) -> None:
    data = noise + needle + noise

    def fails(candidate: bytes) -> bool:
        return needle in candidate

    small = ddmin(data, fails)
    assert fails(small) and len(small) <= len(data)
    assert len(small) == len(needle)
