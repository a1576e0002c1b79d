"""PUS-C secondary headers and whole TM packets, checked against spacepackets."""

from __future__ import annotations

import contextlib
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.packets.space_packet import SpacePacket
from protocols.packets.time_code import CucTime
from protocols.pus.packets import (
    LAYER_PEC,
    TC_SECONDARY_HEADER,
    TM_SECONDARY_HEADER,
    TcPacket,
    TcSecondaryHeader,
    TmPacket,
    TmSecondaryHeader,
    pack_tm_packet,
    packet_error_control,
    unpack_tm_packet,
)

tm_headers = st.builds(
    TmSecondaryHeader,
    service=st.integers(0, 255),
    subtype=st.integers(0, 255),
    time=st.builds(CucTime, st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1)),
    message_counter=st.integers(0, 65535),
    destination_id=st.integers(0, 65535),
    time_reference_status=st.integers(0, 15),
)


def test_pec_check_value() -> None:
    assert packet_error_control(b"123456789") == 0x29B1


@given(tm_headers)
def test_tm_secondary_header_round_trip(header: TmSecondaryHeader) -> None:
    raw = header.pack()
    assert len(raw) == 14
    assert TmSecondaryHeader.unpack(raw) == header
    assert TM_SECONDARY_HEADER.parse(raw).flags.pus_version == 2


@given(tm_headers)
def test_tm_secondary_header_fast_path_is_the_declaration(header: TmSecondaryHeader) -> None:
    declared = {
        "flags": {"pus_version": 2, "time_reference_status": header.time_reference_status},
        "service": header.service,
        "subtype": header.subtype,
        "message_counter": header.message_counter,
        "destination_id": header.destination_id,
        "time": header.time.pack(with_pfield=True),
    }
    raw = TM_SECONDARY_HEADER.build(declared)
    assert header.pack() == raw
    parsed = TM_SECONDARY_HEADER.parse(raw)
    assert TmSecondaryHeader.unpack(raw) == TmSecondaryHeader(
        parsed.service, parsed.subtype, CucTime.unpack(parsed.time)[0], parsed.message_counter,
        parsed.destination_id, parsed.flags.time_reference_status,
    )  # fmt: skip


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535), st.integers(0, 15))
def test_tc_secondary_header_fast_path_is_the_declaration(service: int, subtype: int, source: int, ack: int):
    raw = TcSecondaryHeader(service, subtype, source, ack).pack()
    declared = {"flags": {"pus_version": 2, "ack_flags": ack}, "service": service, "subtype": subtype}
    assert raw == TC_SECONDARY_HEADER.build({**declared, "source_id": source})


@given(tm_headers, st.integers(0, 0x7FE), st.integers(0, 16383), st.integers(0, 3), st.binary(max_size=64))
def test_tm_packet_round_trip(header: TmSecondaryHeader, apid: int, count: int, flags: int, data: bytes):
    tm = TmPacket(apid, count, header, data, flags)
    raw = tm.pack()
    assert TmPacket.unpack(raw) == tm == TmPacket.from_space_packet(SpacePacket.unpack(raw)[0])
    assert TcPacket.unpack(TcPacket(apid, count, TcSecondaryHeader(17, 1), data).pack()).app_data == data


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535), st.integers(0, 15))
def test_tc_secondary_header_round_trip(service: int, subtype: int, source: int, ack: int) -> None:
    header = TcSecondaryHeader(service, subtype, source, ack)
    assert TcSecondaryHeader.unpack(header.pack()) == header


@given(tm_headers, st.integers(0, 0x7FE), st.integers(0, 16383), st.binary(max_size=200))
def test_spacepackets_decodes_our_tm_packets(
    header: TmSecondaryHeader, apid: int, count: int, payload: bytes
):
    from spacepackets.ecss.tm import PusTm

    raw = pack_tm_packet(apid, count, header, payload)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PusTm.unpack(raw, timestamp_len=7)  # verifies the PEC too
        assert theirs.service == header.service
        assert theirs.apid == apid
        assert theirs.seq_count == count
        assert theirs.source_data == payload
        assert bytes(theirs.timestamp) == header.time.pack()
        assert theirs.pus_tm_sec_header.message_counter == header.message_counter
        assert theirs.pus_tm_sec_header.dest_id == header.destination_id
    packet, _ = SpacePacket.unpack(raw)
    assert unpack_tm_packet(packet) == (header, payload)


def test_corrupted_packet_fails_pec_with_offset() -> None:
    raw = bytearray(pack_tm_packet(100, 1, TmSecondaryHeader(3, 25, CucTime(1)), b"abc"))
    raw[-4] ^= 0x01
    packet, _ = SpacePacket.unpack(bytes(raw))
    with pytest.raises(DecodeError) as info:
        unpack_tm_packet(packet)
    assert info.value.layer == LAYER_PEC
    assert info.value.offset == len(raw) - 2


@given(st.binary(max_size=40), st.booleans())
def test_tm_unpack_raises_only_decode_error(data: bytes, flag: bool) -> None:
    if not data:
        return
    with contextlib.suppress(DecodeError):
        unpack_tm_packet(SpacePacket(100, 0, data, secondary_header_flag=flag))
