"""Every registered target honours the decoder contract on its seeds."""

from __future__ import annotations

import pytest

from fuzzing.engine import classify
from fuzzing.targets import TargetUnavailable, load_target, target_names


@pytest.mark.parametrize("name", target_names())
def test_every_target_honours_the_contract_on_its_seeds(name: str) -> None:
    try:
        target = load_target(name)
    except TargetUnavailable as exc:
        pytest.skip(str(exc))
    assert target.seeds, "a target needs valid seeds to start from"
    for seed in target.seeds:
        assert classify(target, seed).status == "ok", f"{name}: a valid seed is not decoded"


def test_unknown_target_is_unavailable_not_an_error() -> None:
    with pytest.raises(TargetUnavailable):
        load_target("no-such-decoder")
