"""Our greyscale PNG writer, read back by two independent decoders: Pillow's and libpng's (imagecodecs)."""

from __future__ import annotations

import io

import hypothesis.extra.numpy as hnp
import imagecodecs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from protocols.image.png import CHUNK, IHDR, SIGNATURE, encode_grey_png


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.uint8, np.uint16]),
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48),
    )
)
def test_any_frame_decodes_to_its_pixels_in_pillow_and_libpng(frame: np.ndarray) -> None:
    encoded = encode_grey_png(frame)
    with Image.open(io.BytesIO(encoded)) as image:
        assert image.mode == ("L" if frame.dtype == np.uint8 else "I;16")
        assert np.array_equal(np.asarray(image), frame)
    assert np.array_equal(imagecodecs.png_decode(encoded), frame)


def test_the_chunks_are_ihdr_idat_iend_with_the_frames_header() -> None:
    frame = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    encoded = encode_grey_png(frame)
    assert encoded.startswith(SIGNATURE)
    offset, kinds = len(SIGNATURE), []
    while offset < len(encoded):
        parsed = CHUNK.parse(encoded[offset:])
        kinds.append(parsed.type)
        if parsed.type == b"IHDR":
            header = IHDR.parse(parsed.data)
            assert (header.width, header.height, header.bit_depth, header.colour_type) == (4, 3, 16, 0)
        offset += 12 + parsed.length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_a_sky_frame_reads_back_as_pillows_own_png_of_it() -> None:
    rng = np.random.default_rng(3)
    frame = np.clip(rng.normal(60, 3, (256, 256)), 0, 1023).astype(np.uint16)
    frame[60:200, 80:180] = np.linspace(100, 900, 100).astype(np.uint16)
    pillow = io.BytesIO()
    Image.fromarray(frame).save(pillow, format="PNG", compress_level=1)
    ours = encode_grey_png(frame)
    with Image.open(io.BytesIO(ours)) as a, Image.open(pillow) as b:
        assert a.tobytes() == b.tobytes() and a.mode == b.mode and a.size == b.size


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((0, 4), np.uint8),
        np.zeros((4,), np.uint8),
        np.zeros((2, 2), np.int16),
        np.zeros((2, 2), float),
    ],
)
def test_what_is_not_a_greyscale_frame_is_refused(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="PNG"):
        encode_grey_png(frame)
