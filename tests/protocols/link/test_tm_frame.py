"""TM transfer frames: construct declaration = struct fast path; spacepackets agrees; CLCW in the OCF."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ccsds.tm_frame import TmTransferFrame

from protocols.coding.crc import crc16_ok
from protocols.errors import DecodeError
from protocols.link import tm_frame
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import PRESETS, preset
from protocols.link.clcw import CLCW, Clcw

TM_CONFIGS = [c for c in PRESETS.values() if c.frame_type == "tm"]

headers = st.builds(
    tm_frame.TmHeader,
    spacecraft_id=st.integers(0, 1023),
    vcid=st.integers(0, 7),
    mc_frame_count=st.integers(0, 255),
    vc_frame_count=st.integers(0, 255),
    first_header_pointer=st.integers(0, 2047),
    ocf_flag=st.booleans(),
    secondary_header_flag=st.booleans(),
    sync_flag=st.booleans(),
    packet_order_flag=st.booleans(),
    segment_length_id=st.integers(0, 3),
    version=st.integers(0, 3),
)


@given(headers)
def test_fast_header_pack_equals_construct(h: tm_frame.TmHeader) -> None:
    declared = tm_frame.PRIMARY_HEADER.build(
        {
            "version": h.version,
            "spacecraft_id": h.spacecraft_id,
            "vcid": h.vcid,
            "ocf_flag": h.ocf_flag,
            "mc_frame_count": h.mc_frame_count,
            "vc_frame_count": h.vc_frame_count,
            "secondary_header_flag": h.secondary_header_flag,
            "sync_flag": h.sync_flag,
            "packet_order_flag": h.packet_order_flag,
            "segment_length_id": h.segment_length_id,
            "first_header_pointer": h.first_header_pointer,
        }
    )
    assert tm_frame.pack_header_fast(h) == declared


@given(st.binary(min_size=6, max_size=6))
def test_fast_header_unpack_equals_construct(raw: bytes) -> None:
    declared = tm_frame.PRIMARY_HEADER.parse(raw)
    fast = tm_frame.unpack_header_fast(raw)
    for name in tm_frame.TmHeader.__slots__:
        assert getattr(fast, name) == declared[name], name
    assert tm_frame.unpack_routing_fast(raw) == (
        declared.version,
        declared.spacecraft_id,
        declared.vcid,
        declared.mc_frame_count,
        declared.vc_frame_count,
        declared.first_header_pointer,
    )


@pytest.mark.parametrize("config", TM_CONFIGS, ids=lambda c: f"{c.frame_length}-{c.secondary_header_length}")
@given(
    vcid=st.integers(0, 6),
    mc=st.integers(0, 255),
    vc=st.integers(0, 255),
    fhp=st.integers(0, 2047),
    data=st.data(),
)
def test_spacepackets_reads_our_frames_field_for_field(
    config: PhysicalChannelConfig, vcid: int, mc: int, vc: int, fhp: int, data: st.DataObject
) -> None:
    zone = data.draw(st.binary(min_size=config.packet_zone_length, max_size=config.packet_zone_length))
    ocf = Clcw(vcid=vcid, report_value=mc).pack()
    secondary = data.draw(st.binary(min_size=0, max_size=63))
    frame = tm_frame.pack_frame(config, vcid, mc, vc, fhp, zone, ocf, secondary)
    assert len(frame) == config.frame_length
    theirs = TmTransferFrame.unpack(frame, config.frame_length, has_error_control_field=config.fecf)
    h = theirs.primary_header
    assert h.master_channel_id.transfer_frame_version == 0
    assert h.master_channel_id.spacecraft_id == config.spacecraft_id
    assert (h.vc_id, h.ocf_flag, h.master_ch_frame_count, h.vc_frame_count) == (vcid, config.ocf, mc, vc)
    status = h.frame_datafield_status
    assert status.first_header_pointer == fhp
    assert status.secondary_header_flag == (config.secondary_header_length > 0)
    assert (status.sync_flag, status.packet_order_flag, status.segment_len_id) == (False, False, 0b11)
    assert theirs.data_field == zone
    assert theirs.op_ctrl_field == (ocf if config.ocf else None)
    if config.secondary_header_length:
        assert theirs.secondary_header.secondary_header_len == config.secondary_header_length - 1
        expected = secondary.ljust(config.secondary_header_length - 1, b"\0")[
            : config.secondary_header_length - 1
        ]
        assert theirs.secondary_header.data_field == expected
    ours = tm_frame.unpack_frame(config, frame) if fhp < config.packet_zone_length or fhp >= 0x7FE else None
    if ours is not None:
        assert (ours.vcid, ours.mc_frame_count, ours.vc_frame_count, ours.first_header_pointer) == (
            vcid,
            mc,
            vc,
            fhp,
        )
        assert ours.packet_zone == zone and ours.ocf == theirs.op_ctrl_field


def test_idle_frame_uses_the_idle_vc_and_pointer() -> None:
    config = preset()
    frame = tm_frame.unpack_frame(config, tm_frame.idle_frame(config, 3, 4))
    assert frame.vcid == config.idle_vcid == 7
    assert frame.first_header_pointer == tm_frame.FHP_IDLE_DATA == 0x7FE
    assert (frame.mc_frame_count, frame.vc_frame_count) == (3, 4)


@given(st.binary(max_size=1200))
def test_unpack_raises_only_decode_error(raw: bytes) -> None:
    config = preset()
    try:
        tm_frame.unpack_frame(config, raw)
    except DecodeError as error:
        assert error.layer == "tm-frame"


def test_unpack_names_the_fault() -> None:
    config = preset()
    good = tm_frame.pack_frame(config, 1, 0, 0, 0, bytes(config.packet_zone_length))
    assert crc16_ok(good)
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(DecodeError, match="frame error control"):
        tm_frame.unpack_frame(config, bad_crc)
    other_craft = config.with_changes(spacecraft_id=config.spacecraft_id + 1)
    with pytest.raises(DecodeError, match="spacecraft id"):
        tm_frame.unpack_frame(
            config, tm_frame.pack_frame(other_craft, 1, 0, 0, 0, bytes(config.packet_zone_length))
        )
    beyond = tm_frame.pack_frame(config, 1, 0, 0, config.packet_zone_length, bytes(config.packet_zone_length))
    with pytest.raises(DecodeError, match="first header pointer") as info:
        tm_frame.unpack_frame(config, beyond)
    assert info.value.offset == 4


clcws = st.builds(
    Clcw,
    vcid=st.integers(0, 63),
    report_value=st.integers(0, 255),
    status_field=st.integers(0, 7),
    cop_in_effect=st.integers(0, 3),
    no_rf_available=st.booleans(),
    no_bit_lock=st.booleans(),
    lockout=st.booleans(),
    wait=st.booleans(),
    retransmit=st.booleans(),
    farm_b_counter=st.integers(0, 3),
)


@given(clcws)
def test_clcw_fast_path_equals_construct(clcw: Clcw) -> None:
    packed = clcw.pack()
    declared = CLCW.parse(packed)
    assert declared.control_word_type == 0 and declared.version == 0
    assert declared.reserved_spare == 0 and declared.reserved_spare_2 == 0
    for name in Clcw.__slots__:
        assert getattr(clcw, name) == declared[name], name
    assert Clcw.unpack(packed) == clcw


@given(st.binary(min_size=4, max_size=4))
def test_clcw_unpack_rejects_only_with_decode_error(raw: bytes) -> None:
    try:
        clcw = Clcw.unpack(raw)
    except DecodeError as error:
        assert error.layer == "clcw" and (raw[0] >> 5) != 0
    else:
        assert CLCW.parse(raw).report_value == clcw.report_value
