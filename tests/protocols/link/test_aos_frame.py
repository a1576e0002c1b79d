"""AOS transfer frames: construct declaration = struct fast path; round trip; bad bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.link import aos_frame
from protocols.link.channel_file import PRESETS, preset

AOS_CONFIGS = [c for c in PRESETS.values() if c.frame_type == "aos"]

headers = st.builds(
    aos_frame.AosHeader,
    spacecraft_id=st.integers(0, 255),
    vcid=st.integers(0, 63),
    vc_frame_count=st.integers(0, 2**24 - 1),
    replay_flag=st.booleans(),
    vc_frame_count_usage_flag=st.booleans(),
    vc_frame_count_cycle=st.integers(0, 15),
    version=st.integers(0, 3),
)


@given(headers)
def test_fast_header_equals_construct(h: aos_frame.AosHeader) -> None:
    fields = {name: getattr(h, name) for name in aos_frame.AosHeader.__slots__}
    declared = aos_frame.PRIMARY_HEADER.build({**fields, "spare": 0})
    assert aos_frame.pack_header_fast(h) == declared
    assert aos_frame.unpack_header_fast(declared) == h


@given(st.binary(min_size=8, max_size=8))
def test_routing_fast_path_equals_construct(raw: bytes) -> None:
    header = aos_frame.PRIMARY_HEADER.parse(raw[:6])
    mpdu = aos_frame.MPDU_HEADER.parse(raw[6:8])
    assert aos_frame.unpack_routing_fast(raw) == (
        header.version,
        header.spacecraft_id,
        header.vcid,
        None,
        header.vc_frame_count,
        mpdu.first_header_pointer,
    )


@pytest.mark.parametrize("config", AOS_CONFIGS, ids=lambda c: str(c.frame_length))
@given(vcid=st.integers(0, 62), count=st.integers(0, 2**24 - 1), data=st.data())
def test_round_trip(config, vcid: int, count: int, data: st.DataObject) -> None:
    zone = data.draw(st.binary(min_size=config.packet_zone_length, max_size=config.packet_zone_length))
    fhp = data.draw(st.one_of(st.integers(0, config.packet_zone_length - 1), st.sampled_from([0x7FE, 0x7FF])))
    ocf = data.draw(st.binary(min_size=4, max_size=4)) if config.ocf else None
    raw = aos_frame.pack_frame(config, vcid, 0, count, fhp, zone, ocf)
    assert len(raw) == config.frame_length
    assert raw[0] >> 6 == 1  # version 2 frames carry the binary version number 01
    frame = aos_frame.unpack_frame(config, raw)
    assert (frame.vcid, frame.vc_frame_count, frame.first_header_pointer) == (vcid, count, fhp)
    assert frame.packet_zone == zone and frame.ocf == ocf and frame.mc_frame_count is None


def test_idle_frames_are_vc_63() -> None:
    config = preset("aos-rs-i4")
    frame = aos_frame.unpack_frame(config, aos_frame.idle_frame(config, 0, 9))
    assert frame.vcid == 63 and frame.vc_frame_count == 9


@given(st.binary(max_size=1000))
def test_unpack_raises_only_decode_error(raw: bytes) -> None:
    config = preset("aos-uncoded")
    try:
        aos_frame.unpack_frame(config, raw)
    except DecodeError as error:
        assert error.layer == "aos-frame"


def test_tm_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        aos_frame.pack_frame(preset(), 0, 0, 0, 0, bytes(preset().packet_zone_length))
