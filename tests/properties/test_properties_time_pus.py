"""Time codes and PUS-C: every valid value round trips; any bytes give a value or our DecodeError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.packets.space_packet import SpacePacket
from protocols.packets.time_code import CdsTime, CucTime
from protocols.pus import pus_services as ps
from protocols.pus.packets import TcSecondaryHeader, TmSecondaryHeader, unpack_tm_packet
from tests.properties.strategies import any_cuc_times, cds_values, pus_tm_packets, tc_headers, tm_headers


def decodes_or_rejects(decode, data: bytes):
    """The contract: a result, or DecodeError with an offset inside (or just past) the input."""
    try:
        return decode(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data), exc
        return None


@given(any_cuc_times())
def test_cuc_round_trips_at_every_resolution(time: CucTime) -> None:
    packed = time.pack()
    assert CucTime.unpack(packed) == (time, len(packed))


@given(cds_values())
def test_cds_round_trips(time: CdsTime) -> None:
    packed = time.pack()
    assert CdsTime.unpack(packed) == (time, len(packed))


@given(st.binary(max_size=24))
def test_time_codes_decode_or_reject_any_bytes(data: bytes) -> None:
    decodes_or_rejects(CucTime.unpack, data)
    decodes_or_rejects(CdsTime.unpack, data)


@given(tm_headers, tc_headers)
def test_secondary_headers_round_trip(tm: TmSecondaryHeader, tc: TcSecondaryHeader) -> None:
    assert TmSecondaryHeader.unpack(tm.pack()) == tm
    assert TcSecondaryHeader.unpack(tc.pack()) == tc


@given(st.binary(max_size=24))
def test_secondary_headers_decode_or_reject_any_bytes(data: bytes) -> None:
    decodes_or_rejects(TmSecondaryHeader.unpack, data)
    decodes_or_rejects(TcSecondaryHeader.unpack, data)


@given(pus_tm_packets())
def test_tm_packets_round_trip_through_both_decoders(raw: bytes) -> None:
    packet, _ = SpacePacket.unpack(raw)
    header, payload = unpack_tm_packet(packet)
    tm = ps.unpack_tm(raw)
    assert tm.header == header and tm.app_data == payload


@given(pus_tm_packets(), st.integers(0, 10_000), st.integers(0, 7))
def test_any_single_bit_error_in_a_tm_packet_is_rejected(raw: bytes, position: int, bit: int) -> None:
    """The PEC (CRC-16) detects every single-bit error, wherever it is."""
    damaged = bytearray(raw)
    damaged[position % len(raw)] ^= 1 << bit
    assert decodes_or_rejects(ps.unpack_tm, bytes(damaged)) is None


@given(st.binary(max_size=80))
def test_pus_packet_decoders_decode_or_reject_any_bytes(data: bytes) -> None:
    decodes_or_rejects(ps.unpack_tm, data)
    decodes_or_rejects(ps.unpack_tc, data)
    decodes_or_rejects(ps.TimeCorrelation.unpack, data)
    for subtype in (1, 2, 7, 8):
        decodes_or_rejects(lambda d, s=subtype: ps.unpack_verification(s, d), data)
    try:
        packet, _ = SpacePacket.unpack(data)
    except DecodeError:
        return
    decodes_or_rejects(lambda _: unpack_tm_packet(packet), data)
