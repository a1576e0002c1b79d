"""TC transfer frames (CCSDS 232.0-B): round trip, FECF, header fast path equals the declaration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.link.tc_frame import (
    MAX_DATA_LENGTH,
    TC_FRAME_HEADER,
    TcFrame,
    TcFrameEncoder,
    check_frame_address,
    unpack_header_fast,
    unwrap_uplink,
    wrap_for_uplink,
)

frames = st.builds(
    TcFrame,
    spacecraft_id=st.integers(0, 1023),
    virtual_channel_id=st.integers(0, 63),
    sequence_number=st.integers(0, 255),
    data=st.binary(min_size=1, max_size=MAX_DATA_LENGTH),
    bypass=st.booleans(),
    control_command=st.booleans(),
)


@given(frames)
def test_round_trip_and_header_fast_path(frame: TcFrame) -> None:
    packed = frame.pack()
    assert len(packed) == len(frame.data) + 7
    assert TcFrame.unpack(packed) == frame
    assert unpack_header_fast(packed) == {
        k: v for k, v in TC_FRAME_HEADER.parse(packed[:5]).items() if k != "_io"
    }
    assert unpack_header_fast(packed)["frame_length"] == len(packed) - 1


@given(frames, st.data())
def test_any_bit_flip_is_caught(frame: TcFrame, data) -> None:
    packed = bytearray(frame.pack())
    bit = data.draw(st.integers(0, len(packed) * 8 - 1))
    packed[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(DecodeError):
        decoded = TcFrame.unpack(bytes(packed))
        if decoded != frame:  # a flip in the length field can only shorten the frame → FECF fails
            raise AssertionError("corrupted frame accepted")


def test_trailing_fill_is_ignored_only_when_allowed() -> None:
    packed = TcFrame(421, 0, 3, b"abc").pack() + b"\x55" * 4
    assert TcFrame.unpack(packed).data == b"abc"
    with pytest.raises(DecodeError):
        TcFrame.unpack(packed, allow_trailing_fill=False)


@given(st.binary(max_size=40))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    try:
        TcFrame.unpack(data)
    except DecodeError as error:
        assert error.layer == "tc-frame"


def test_encoder_counts_and_wraps_and_address_check() -> None:
    encoder = TcFrameEncoder(421, 2)
    numbers = [TcFrame.unpack(encoder.frame(b"x")).sequence_number for _ in range(258)]
    assert numbers[:3] == [0, 1, 2] and numbers[256:] == [0, 1]
    frame = TcFrame.unpack(encoder.frame(b"x"))
    check_frame_address(frame, 421, 2)
    with pytest.raises(DecodeError):
        check_frame_address(frame, 422)
    with pytest.raises(DecodeError):
        check_frame_address(frame, 421, 0)


def test_oversized_data_is_refused() -> None:
    with pytest.raises(ValueError):
        TcFrame(1, 0, 0, bytes(MAX_DATA_LENGTH + 1)).pack()


def test_uplink_helpers_round_trip_and_check_the_address() -> None:
    cltu = wrap_for_uplink(b"\x18\x65packet", TcFrameEncoder(421, 0))
    assert unwrap_uplink(cltu, 421, 0).data == b"\x18\x65packet"
    with pytest.raises(DecodeError):
        unwrap_uplink(cltu, 7)
