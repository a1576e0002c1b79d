"""Quick-looks of partial images: levels from the pixels received, a grey hatch where none came."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.image.image_products import HATCH_LEVELS, missing_pixels, product_stem, quicklook


def _sky(seed: int = 4) -> np.ndarray:
    """A 12-bit frame: sky at 200 DN with noise, and a bright disk in the top half."""
    rng = np.random.default_rng(seed)
    frame = rng.normal(200.0, 3.0, size=(60, 80))
    rows, cols = np.indices(frame.shape)
    frame[(rows - 15) ** 2 + (cols - 40) ** 2 < 100] = 3000.0
    return np.clip(frame, 0, 4095).astype(np.uint16)


def test_missing_pixels_are_those_holding_a_missing_octet() -> None:
    mask = missing_pixels([(0, 3), (10, 11)], width=4, height=2, bit_depth=12)  # two octets a pixel
    assert mask.tolist() == [[True, True, False, False], [False, True, False, False]]
    assert not missing_pixels([], 4, 2, 8).any()


def test_a_full_frame_looks_the_same_with_or_without_an_empty_mask() -> None:
    frame = _sky()
    assert np.array_equal(quicklook(frame, 12), quicklook(frame, 12, np.zeros(frame.shape, dtype=bool)))


def test_a_partial_frame_keeps_its_sky_dark_and_hatches_what_is_missing() -> None:
    frame = _sky()
    received = frame.copy()
    received[30:] = 0  # the bottom half never came: zeros in the buffer
    missing = np.zeros(frame.shape, dtype=bool)
    missing[30:] = True
    look = quicklook(received, 12, missing)
    whole = quicklook(frame, 12)
    rows, cols = np.indices(frame.shape)
    sky = ((rows - 15) ** 2 + (cols - 40) ** 2 >= 100) & (rows < 30)
    # the received sky is as dark as in the whole frame (the zeros did not set the black point)
    assert abs(float(look[sky].mean()) - float(whole[sky].mean())) < 2.0
    assert float(look[sky].mean()) < 40
    assert set(np.unique(look[missing]).tolist()) == set(HATCH_LEVELS)  # hatched, not black
    assert look[30, 0] != look[30, 4]  # in diagonal bands


def test_a_frame_with_nothing_received_is_all_hatch() -> None:
    look = quicklook(np.zeros((8, 8), dtype=np.uint16), 12, np.ones((8, 8), dtype=bool))
    assert set(np.unique(look).tolist()) == set(HATCH_LEVELS)


def test_a_mask_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="missing mask"):
        quicklook(np.zeros((8, 8), dtype=np.uint16), 12, np.ones((4, 8), dtype=bool))


def test_a_band_of_a_colour_capture_is_named_by_its_band() -> None:
    assert product_stem("orex", 2, band="green") == "orex-002-green"
    assert product_stem("orex", 2, partial=True, band="green") == "orex-002-green-partial"
    assert product_stem("orex", 2) == "orex-002"  # a panchromatic image keeps its name
    assert product_stem("../x", 1, band="../../etc") == "_x-001-_.._etc"  # no directory through either


@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from([np.uint8, np.uint16]),
    shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    bit_depth=st.integers(8, 16),
    data=st.data(),
)
def test_integer_frames_are_stretched_by_table_to_the_same_octets_as_by_floats(
    dtype: type, shape: tuple[int, int], bit_depth: int, data: st.DataObject
) -> None:
    """The fast path (histogram levels, a curve looked up per level) against the float path it
    replaced, which non-integer frames still take: the quick-looks must be the same octets."""
    top = data.draw(st.sampled_from([3, 255, 4095, 65535]).filter(lambda t: t <= np.iinfo(dtype).max))
    frame = data.draw(hnp.arrays(dtype, shape, elements=st.integers(0, top)))
    missing = data.draw(st.none() | hnp.arrays(np.bool_, shape))
    by_floats = quicklook(frame.astype(np.float64), bit_depth, missing)
    assert np.array_equal(quicklook(frame, bit_depth, missing), by_floats)


@pytest.mark.parametrize("bright", [3000, 4095])
def test_a_full_frame_is_stretched_by_table_to_the_same_octets_as_by_floats(bright: int) -> None:
    frame = _sky(9)
    frame[frame > 2000] = bright
    big = np.tile(frame, (17, 13))  # 1020 x 1040: numpy's SIMD loops and their tails both run
    assert np.array_equal(quicklook(big, 12), quicklook(big.astype(np.float64), 12))
