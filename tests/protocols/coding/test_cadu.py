"""CADU coding (ASM, RS, randomizer) and the physical channel configuration it follows."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.coding.cadu import CaduCodec, asm_distance, asm_distances, marker_errors
from protocols.coding.randomizer import randomize
from protocols.coding.reed_solomon import CcsdsReedSolomon
from protocols.errors import DecodeError
from protocols.link.channel_config import ASM, FrameType, PhysicalChannelConfig
from protocols.link.channel_file import PRESETS, preset


def test_default_preset_is_the_documented_channel() -> None:
    config = preset()
    assert config == PRESETS["tm-rs-i5"]
    assert (config.frame_type, config.rs_e, config.rs_interleave) == (FrameType.TM, 16, 5)
    assert config.dual_basis and config.randomizer and config.fecf and config.ocf
    assert config.frame_length == 1115 and config.cadu_length == 4 + 5 * 255
    assert config.packet_zone_length == 1115 - 6 - 4 - 2


@pytest.mark.parametrize(
    "changes",
    [
        {"spacecraft_id": 1024},
        {"frame_type": FrameType.AOS, "spacecraft_id": 256},
        {"frame_length": 1116},
        {"rs_e": 12},
        {"rs_interleave": 6},
        {"frame_length": 3000, "rs_e": 0},
        {"secondary_header_length": 1},
        {"frame_type": FrameType.AOS, "spacecraft_id": 1, "secondary_header_length": 4},
        {"asm_tolerance": 9},
        {"frame_length": 15, "rs_e": 0},
    ],
)
def test_invalid_configurations_are_refused_with_a_reason(changes: dict) -> None:
    with pytest.raises(ValueError, match="invalid physical channel configuration"):
        PhysicalChannelConfig(**{**{"frame_type": FrameType.TM}, **changes})


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="tm-rs-i5"):
        preset("nope")


@given(st.binary(min_size=4, max_size=200))
def test_asm_distances_equal_bitwise_count(buffer: bytes) -> None:
    distances = asm_distances(np.frombuffer(buffer, dtype=np.uint8))
    assert distances.tolist() == [asm_distance(buffer, i) for i in range(len(buffer) - 3)]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_cadu_layout_and_round_trip(name: str) -> None:
    config = PRESETS[name]
    codec = CaduCodec(config)
    frame = random.Random(name).randbytes(config.frame_length)
    cadu = codec.encode(frame)
    assert len(cadu) == config.cadu_length
    assert cadu[:4] == ASM == bytes.fromhex("1ACFFC1D")
    body = randomize(cadu[4:]) if config.randomizer else cadu[4:]
    assert body[: config.frame_length] == frame  # the code is systematic
    if config.coded:
        rs = CcsdsReedSolomon(config.rs_e, config.rs_interleave, config.frame_length, config.dual_basis)
        assert body == rs.encode(frame)
    assert codec.decode(cadu) == (frame, (0,) * (config.rs_interleave if config.coded else 0))


def test_decode_reports_corrections_and_refuses_what_it_cannot_fix() -> None:
    config = preset()
    codec = CaduCodec(config)
    frame = random.Random(1).randbytes(config.frame_length)
    cadu = bytearray(codec.encode(frame))
    cadu[0] ^= 0x11  # two marker bits: within tolerance
    for p in (10, 11, 12):
        cadu[p] ^= 0x40
    assert codec.decode(bytes(cadu)) == (frame, (0, 1, 1, 1, 0))  # body octets 6, 7, 8: lanes 1..3
    for p in range(4, 4 + 17 * 5, 5):  # 17 symbols of codeword 0
        cadu[p] ^= 0xA5
    with pytest.raises(DecodeError, match="uncorrectable"):
        codec.decode(bytes(cadu))
    with pytest.raises(DecodeError, match="sync marker"):
        codec.decode(b"\0" * config.cadu_length)
    with pytest.raises(DecodeError):
        codec.decode(bytes(cadu[:-1]))


@given(st.lists(st.binary(min_size=8, max_size=8), min_size=1, max_size=20), st.integers(0, 31))
def test_marker_errors_are_the_asm_distances_at_each_row_start(rows: list[bytes], flips: int) -> None:
    array = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 8).copy()
    array[0, :4] = np.frombuffer((0x1ACFFC1D ^ ((1 << flips) - 1)).to_bytes(4, "big"), dtype=np.uint8)
    expected = [int(asm_distances(row)[0]) for row in array]
    assert marker_errors(array) == expected
    assert expected[0] == flips
