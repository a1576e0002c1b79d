"""Row lengths and dot products written on the components are numpy's reductions bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emulator.vector_sums import row_dot, unit_components, vector_norm

_finite = st.floats(min_value=-1e150, max_value=1e150, allow_nan=False, allow_subnormal=True)
_rows = st.integers(min_value=0, max_value=300)


def _pair(n: int) -> st.SearchStrategy:
    return st.tuples(
        arrays(np.float64, (n, 3), elements=_finite), arrays(np.float64, (n, 3), elements=_finite)
    )


@given(_rows.flatmap(_pair))
def test_components_give_numpys_norm_and_einsum(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert vector_norm(a).tobytes() == np.linalg.norm(a, axis=1).tobytes()
    assert row_dot(a, b).tobytes() == np.einsum("ij,ij->i", a, b).tobytes()
    assert row_dot(a, a).tobytes() == np.einsum("ij,ij->i", a, a).tobytes()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = a / np.linalg.norm(a, axis=1)[:, None]
        got = np.stack(unit_components(a), axis=1) if len(a) else np.empty((0, 3))
    assert got.tobytes() == expected.tobytes()


def test_a_million_rays_of_every_scale() -> None:
    """Random directions and magnitudes over the range the ray caster sees (km and unit vectors)."""
    rng = np.random.default_rng(16)
    a = rng.standard_normal((1_000_000, 3)) * np.exp(rng.uniform(-30.0, 30.0, (1_000_000, 3)))
    b = rng.standard_normal((1_000_000, 3))
    assert vector_norm(a).tobytes() == np.linalg.norm(a, axis=1).tobytes()
    assert row_dot(a, b).tobytes() == np.einsum("ij,ij->i", a, b).tobytes()
    assert row_dot(b, b).tobytes() == np.einsum("ij,ij->i", b, b).tobytes()


def test_a_row_cut_from_many_gets_the_many_row_product() -> None:
    """numpy multiplies one row by its own route; ``many`` gives the row its many-row number."""
    from emulator.blas import single_threaded
    from emulator.vector_sums import rows_times

    rng = np.random.default_rng(7)
    a = rng.standard_normal((3000, 3)) * np.exp(rng.uniform(-12.0, 12.0, (3000, 1)))
    matrix, vector = rng.standard_normal((3, 3)), rng.standard_normal(3)

    @single_threaded
    def check() -> None:
        for b in (matrix, matrix.T, vector):
            whole = a @ b
            for i in range(a.shape[0]):
                row = a[i : i + 1]
                assert rows_times(row, b, many=True).tobytes() == whole[i : i + 1].tobytes()
                assert rows_times(row, b).tobytes() == (row @ b).tobytes()
            assert rows_times(a[:2], b, many=True).tobytes() == whole[:2].tobytes()

    check()
