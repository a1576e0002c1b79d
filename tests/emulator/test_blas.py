"""The renderer's matrix products run on one BLAS thread and give the threaded products' numbers."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info

from emulator.blas import single_threaded
from emulator.render import render_scenario
from emulator.scenario import load_scenario


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_pools_restored_after() -> None:
    before = _blas_threads()
    assert all(n == 1 for n in single_threaded(_blas_threads)())
    assert _blas_threads() == before


def test_a_frame_is_the_same_with_one_blas_thread_or_many() -> None:
    from threadpoolctl import threadpool_limits

    import emulator.blas as blas

    scenario = load_scenario("dscovr-epic-2015-07-16")  # the Earth fills the frame: the largest products
    limited = render_scenario(scenario, seed=3)
    original = blas._limits
    try:
        blas._limits = lambda: threadpool_limits(limits=None)  # type: ignore[assignment]
        threaded = render_scenario(scenario, seed=3)
    finally:
        blas._limits = original
    assert np.array_equal(limited.pixels, threaded.pixels)
    assert np.array_equal(limited.expected_electrons, threaded.expected_electrons)
