"""Image files for CFDP: round trip, with and without CCSDS 121 compression, and bad bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.image.image_file import Compression, pack_image_file, unpack_image_file, unpack_image_header
from protocols.image.image_transport import make_image_header
from protocols.packets.time_code import CucTime


def _image(width: int, height: int, bit_depth: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    dtype = ">u2" if bit_depth > 8 else "u1"
    pixels = rng.integers(0, 2**bit_depth, size=(height, width)).astype(dtype).tobytes()
    header = make_image_header(4, pixels, width, height, bit_depth, 100, CucTime(7), {"scenario": "t"})
    return header, pixels


@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 16),
    st.integers(0, 1000),
    st.sampled_from(Compression),
)
def test_round_trip(width: int, height: int, bit_depth: int, seed: int, compression: Compression) -> None:
    if compression == Compression.CCSDS121:
        pytest.importorskip("imagecodecs")
    header, pixels = _image(width, height, bit_depth, seed)
    data = pack_image_file(header, pixels, compression)
    assert unpack_image_file(data) == (header, pixels)
    assert unpack_image_header(data)[1] == compression


def test_compression_shrinks_a_dark_frame() -> None:
    pytest.importorskip("imagecodecs")
    pixels = np.full((256, 256), 32, dtype=">u2")
    pixels[100:120, 100:130] = 800
    raw = pixels.tobytes()
    header = make_image_header(1, raw, 256, 256, 10, 100, CucTime(0), {})
    assert len(pack_image_file(header, raw, Compression.CCSDS121)) * 10 < len(raw)


@given(st.binary(max_size=200))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    try:
        unpack_image_file(b"PBIM" + data)
    except DecodeError as exc:
        assert exc.layer in ("image-file", "image-transport", "aec", "cuc-time")


def test_truncated_compressed_file_is_a_decode_error() -> None:
    pytest.importorskip("imagecodecs")
    header, pixels = _image(64, 64, 12, 1)
    data = pack_image_file(header, pixels, Compression.CCSDS121)
    with pytest.raises(DecodeError):
        unpack_image_file(data[: len(data) - 100])
