"""USLP transfer frames: construct declaration = struct fast path; round trip; spacepackets agrees;
every malformed frame is a DecodeError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.uslp.frame import FixedFrameProperties, TransferFrame, VarFrameProperties
from spacepackets.uslp.frame import FrameType as SpFrameType

from protocols.coding.crc import crc16
from protocols.errors import DecodeError
from protocols.link import uslp_frame
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.frame_packets import idle_packet

FIXED = PhysicalChannelConfig(
    frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=1115, rs_e=16, rs_interleave=5
)
BARE = PhysicalChannelConfig(
    frame_type=FrameType.USLP,
    spacecraft_id=0x1234,
    frame_length=300,
    fecf=False,
    ocf=False,
    rs_e=0,
    insert_zone_length=6,
    vc_count_length=4,
    map_id=3,
)
VARIABLE = PhysicalChannelConfig(
    frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=4096, rs_e=0, variable_length=True
)
CONFIGS = [FIXED, BARE, VARIABLE]
IDS = ["fixed", "bare-insert-zone", "variable"]

headers = st.builds(
    uslp_frame.UslpHeader,
    spacecraft_id=st.integers(0, 0xFFFF),
    vcid=st.integers(0, 63),
    frame_length=st.integers(1, 65536),
    vc_count_length=st.integers(0, 7),
    vc_frame_count=st.just(0),
    map_id=st.integers(0, 15),
    ocf_flag=st.booleans(),
    source_destination=st.booleans(),
    bypass_flag=st.booleans(),
    protocol_control_flag=st.booleans(),
    version=st.integers(0, 15),
).flatmap(
    lambda h: st.integers(0, (1 << (8 * h.vc_count_length)) - 1).map(
        lambda count: uslp_frame.UslpHeader(
            **{**{k: getattr(h, k) for k in h.__slots__}, "vc_frame_count": count}
        )
    )
)


def _construct_fields(h: uslp_frame.UslpHeader) -> dict:
    fields = {name: getattr(h, name) for name in uslp_frame.UslpHeader.__slots__}
    fields["frame_length_field"] = fields.pop("frame_length") - 1
    if not h.vc_count_length:
        fields["vc_frame_count"] = None  # no count field on the wire
    return {**fields, "spare": 0}


@given(headers)
def test_fast_header_equals_construct(h: uslp_frame.UslpHeader) -> None:
    declared = uslp_frame.PRIMARY_HEADER.build(_construct_fields(h))
    assert uslp_frame.pack_header_fast(h) == declared
    assert len(declared) == h.length
    assert uslp_frame.unpack_header_fast(declared) == h
    parsed = uslp_frame.PRIMARY_HEADER.parse(declared)
    assert parsed.frame_length_field + 1 == h.frame_length
    assert (parsed.vc_frame_count or 0) == h.vc_frame_count


def test_header_bits_by_hand() -> None:
    """TFVN 1100, SCID 0xABCD, source, VCID 0b101010, MAP 0b0110, not truncated; length 0x0100
    (257 octets); bypass, no protocol command, OCF, count length 2, count 0x0102."""
    h = uslp_frame.UslpHeader(
        spacecraft_id=0xABCD,
        vcid=0b101010,
        frame_length=257,
        vc_frame_count=0x0102,
        vc_count_length=2,
        map_id=0b0110,
        ocf_flag=True,
        bypass_flag=True,
    )
    # 1100 1010 1011 1100 1101 0 101010 0110 0 | 0x0100 | 1 0 00 1 010 | 0x0102
    assert uslp_frame.pack_header_fast(h).hex() == "cabcd54c" + "0100" + "8a" + "0102"


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@given(vcid=st.integers(0, 62), data=st.data())
def test_round_trip_and_routing(config: PhysicalChannelConfig, vcid: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(0, config.vc_count_modulo - 1))
    if config.variable_length:
        zone = idle_packet(data.draw(st.integers(7, config.packet_zone_length))).replace(
            b"\x07\xff", b"\x00\x42", 1
        )
        fhp = 0
    else:
        zone = data.draw(st.binary(min_size=config.packet_zone_length, max_size=config.packet_zone_length))
        fhp = data.draw(st.one_of(st.integers(0, config.packet_zone_length - 1), st.just(0x7FF)))
    ocf = data.draw(st.binary(min_size=4, max_size=4)) if config.ocf else None
    insert = data.draw(st.binary(min_size=config.insert_zone_length, max_size=config.insert_zone_length))
    raw = uslp_frame.pack_frame(config, vcid, 0, count, fhp, zone, ocf, insert_zone=insert)
    assert raw[0] >> 4 == 0b1100
    frame = uslp_frame.unpack_frame(config, raw)
    assert (frame.vcid, frame.vc_frame_count, frame.packet_zone) == (vcid, count, zone)
    assert frame.ocf == ocf and frame.insert_zone == insert and frame.header.map_id == config.map_id
    expected_pointer = None if config.variable_length else (0xFFFF if fhp == 0x7FF else fhp)
    assert frame.first_header_pointer == expected_pointer
    assert uslp_frame.routing_for(config)(raw) == (12, config.spacecraft_id, vcid, None, count, fhp)
    assert uslp_frame.flags_ok(config, raw)
    # the construct declaration reads the same header and TFDF header
    declared = uslp_frame.PRIMARY_HEADER.parse(raw)
    assert (declared.vcid, declared.vc_frame_count, declared.frame_length_field + 1) == (
        vcid,
        count,
        len(raw),
    )
    tfdf = uslp_frame.TFDF_HEADER.parse(raw[frame.header.length + config.insert_zone_length :])
    assert tfdf.pointer == expected_pointer


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_spacepackets_decodes_our_frames(config: PhysicalChannelConfig) -> None:
    """An independent implementation (spacepackets' USLP module, PyPI) reads the same fields."""
    if config.variable_length:
        zone = idle_packet(100)
        raw = uslp_frame.pack_frame(config, 2, 0, 9, 0, zone, b"OCF!")
        properties = VarFrameProperties(
            has_insert_zone=False, has_fecf=config.fecf, truncated_frame_len=0, insert_zone_len=None
        )
        theirs = TransferFrame.unpack(raw, SpFrameType.VARIABLE, properties)
        assert theirs.tfdf.tfdz_contr_rules == uslp_frame.RULE_NO_SEGMENTATION
    else:
        zone = bytes(range(256)) * (config.packet_zone_length // 256 + 1)
        zone = zone[: config.packet_zone_length]
        ocf = b"OCF!" if config.ocf else None
        insert = b"IZ" * (config.insert_zone_length // 2)
        raw = uslp_frame.pack_frame(config, 2, 0, 9, 17, zone, ocf, insert_zone=insert)
        properties = FixedFrameProperties(
            config.frame_length,
            has_insert_zone=config.insert_zone_length > 0,
            has_fecf=config.fecf,
            insert_zone_len=config.insert_zone_length or None,
        )
        theirs = TransferFrame.unpack(raw, SpFrameType.FIXED, properties)
        assert theirs.tfdf.fhp_or_lvop == 17
    h = theirs.header
    assert (h.scid, h.vcid, h.map_id, h.vcf_count, h.frame_len) == (
        config.spacecraft_id,
        2,
        config.map_id,
        9,
        len(raw) - 1,
    )
    assert theirs.tfdf.tfdz == zone and theirs.tfdf.uslp_ident == uslp_frame.UPID_SPACE_PACKETS
    assert (theirs.op_ctrl_field or None) == (b"OCF!" if config.ocf else None)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_idle_frame_is_only_idle_data(config: PhysicalChannelConfig) -> None:
    raw = uslp_frame.idle_frame(config, 0, 5)
    frame = uslp_frame.unpack_frame(config, raw)
    assert frame.vcid == 63 and frame.upid == uslp_frame.UPID_IDLE
    assert uslp_frame.routing_for(config)(raw)[5] == uslp_frame.ROUTING_IDLE_DATA


def _refit_crc(config: PhysicalChannelConfig, raw: bytes) -> bytes:
    return raw[:-2] + crc16(raw[:-2]).to_bytes(2, "big") if config.fecf else raw


def _good(config: PhysicalChannelConfig) -> bytes:
    if config.variable_length:
        return uslp_frame.pack_frame(config, 1, 0, 3, 0, idle_packet(40), b"\0" * 4)
    return uslp_frame.pack_frame(config, 1, 0, 3, 0, bytes(config.packet_zone_length), b"\0" * 4)


@pytest.mark.parametrize(
    ("position", "value", "reason"),
    [
        (0, 0x0A, "version"),  # TFVN 0000 (a TM frame)
        (1, 0xFF, "spacecraft id"),
        (3, 0x01, "truncated"),  # end-of-primary-header flag
        (5, 0x00, "frame length field"),
        (6, 0x02, "OCF flag"),  # OCF flag cleared, count length 2
    ],
)
def test_malformed_headers(position: int, value: int, reason: str) -> None:
    raw = bytearray(_good(FIXED))
    raw[position] = value if position != 3 else raw[3] | value
    with pytest.raises(DecodeError, match=reason):
        uslp_frame.unpack_frame(FIXED, _refit_crc(FIXED, bytes(raw)))


def test_malformed_data_field() -> None:
    tfdf = FIXED.header_length - 3
    raw = bytearray(_good(FIXED))
    raw[tfdf] = 0b111 << 5
    with pytest.raises(DecodeError, match="construction rule"):
        uslp_frame.unpack_frame(FIXED, _refit_crc(FIXED, bytes(raw)))
    raw[tfdf] = 0b00000101
    with pytest.raises(DecodeError, match="protocol identifier"):
        uslp_frame.unpack_frame(FIXED, _refit_crc(FIXED, bytes(raw)))
    raw[tfdf : tfdf + 3] = bytes([0, 0x7F, 0xF0])
    with pytest.raises(DecodeError, match="first header pointer"):
        uslp_frame.unpack_frame(FIXED, _refit_crc(FIXED, bytes(raw)))
    with pytest.raises(DecodeError, match="error control"):
        uslp_frame.unpack_frame(FIXED, _good(FIXED)[:-1] + b"\0")
    with pytest.raises(DecodeError, match="octets"):
        uslp_frame.unpack_frame(VARIABLE, _good(VARIABLE)[:20])


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@given(st.binary(max_size=400))
def test_random_bytes_decode_or_raise_decode_error(config: PhysicalChannelConfig, raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        uslp_frame.unpack_frame(config, raw, check_crc=False)


def test_pack_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="packet zone"):
        uslp_frame.pack_frame(FIXED, 1, 0, 0, 0, b"short")
    with pytest.raises(ValueError, match="does not fit"):
        uslp_frame.pack_frame(VARIABLE, 1, 0, 0, 0, bytes(VARIABLE.packet_zone_length + 1))
    with pytest.raises(ValueError, match="USLP channel"):
        uslp_frame.pack_frame(PhysicalChannelConfig(), 1, 0, 0, 0, b"")
