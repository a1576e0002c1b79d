"""Packets into packet zones and back: first header pointer, spanning, idle fill, gaps, bad pointers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.link.frame_packets import (
    FHP_IDLE_DATA,
    FHP_NO_PACKET_START,
    PacketExtractor,
    PacketPacker,
    check_packet,
    idle_packet,
)
from protocols.packets.space_packet import SpacePacket


def packet(index: int, length: int, apid: int = 0x064) -> bytes:
    return SpacePacket(apid=apid, sequence_count=index % 16384, data=bytes([index % 251]) * length).pack()


packet_lists = st.lists(st.integers(1, 3000), min_size=1, max_size=25).map(
    lambda lengths: [packet(i, n) for i, n in enumerate(lengths)]
)


def zones_for(packets: list[bytes], zone_length: int) -> list[tuple[int, bytes]]:
    packer = PacketPacker(zone_length)
    for p in packets:
        packer.add(p)
    zones = []
    while packer.has_pending():
        zones.append(packer.next_zone())
    return zones


@given(packet_lists, st.integers(8, 2000))
def test_any_packets_through_any_zone_length_come_back_unchanged(
    packets: list[bytes], zone_length: int
) -> None:
    zones = zones_for(packets, zone_length)
    assert all(len(zone) == zone_length for _, zone in zones)
    extractor = PacketExtractor()
    got = [p for fhp, zone in zones for p in extractor.push(zone, fhp)]
    assert got == packets
    assert extractor.counters.packets == len(packets)
    assert extractor.counters.packets_lost == extractor.counters.fhp_errors == 0


@given(packet_lists, st.integers(8, 600))
def test_first_header_pointer_points_at_a_header_or_says_none(packets: list[bytes], zone_length: int) -> None:
    stream = b""
    starts = set()
    for p in packets:
        starts.add(len(stream))
        stream += p
    for index, (fhp, _) in enumerate(zones_for(packets, zone_length)):
        zone_start = index * zone_length
        in_zone = sorted(s - zone_start for s in starts if zone_start <= s < zone_start + zone_length)
        if fhp == FHP_NO_PACKET_START:
            assert not in_zone or index * zone_length >= len(stream)
        elif zone_start + fhp < len(stream):
            assert in_zone and fhp == in_zone[0]


def test_idle_packets_fill_the_zone_and_are_removed() -> None:
    assert check_packet(idle_packet(7)) is None
    zones = zones_for([packet(0, 10)], 100)
    assert len(zones) == 1
    extractor = PacketExtractor()
    assert extractor.push(zones[0][1], zones[0][0]) == [packet(0, 10)]
    assert extractor.counters.idle_packets == 1
    keep = PacketExtractor(keep_idle=True)
    assert keep.push(zones[0][1], zones[0][0])[1] == idle_packet(100 - 16)


def test_short_remainder_spills_an_idle_packet_into_the_next_zone() -> None:
    packer = PacketPacker(20)
    packer.add(packet(0, 10))  # 16 octets: 4 left, too few for an idle packet
    fhp, zone = packer.next_zone()
    assert fhp == 0 and not packer.has_pending() and packer.pending_octets == 0
    packer.add(packet(1, 5))
    fhp2, zone2 = packer.next_zone()
    assert fhp2 == 3  # the idle packet's last 3 octets come first
    extractor = PacketExtractor()
    assert extractor.push(zone, fhp) + extractor.push(zone2, fhp2) == [packet(0, 10), packet(1, 5)]


def test_gap_drops_the_partial_packet_and_resynchronizes_on_the_pointer() -> None:
    packets = [packet(i, 150) for i in range(10)]
    zones = zones_for(packets, 100)
    extractor = PacketExtractor()
    got = []
    for index, (fhp, zone) in enumerate(zones):
        if index == 3:
            continue  # lost frame
        got += extractor.push(zone, fhp, gap=index == 4)
    lost = set(packets) - set(got)
    assert lost and got == [p for p in packets if p not in lost]
    assert extractor.counters.packets_lost == 1
    assert extractor.counters.packets == len(got)


def test_zone_without_header_is_skipped_until_a_pointer_appears() -> None:
    zones = zones_for([packet(0, 500), packet(1, 20)], 100)
    extractor = PacketExtractor()
    assert zones[2][0] == FHP_NO_PACKET_START
    assert extractor.push(zones[2][1], zones[2][0]) == []  # joined mid-packet: nothing to start from
    got = [p for fhp, zone in zones[3:] for p in extractor.push(zone, fhp)]
    assert got == [packet(1, 20)]


def test_pointer_beyond_the_zone_and_idle_only_zones() -> None:
    extractor = PacketExtractor()
    assert extractor.push(bytes(100), 100) == []
    assert extractor.counters.fhp_errors == 1
    assert extractor.push(bytes(100), FHP_IDLE_DATA) == []


def test_packet_running_past_the_next_pointer_is_impossible() -> None:
    first = packet(0, 200)  # 206 octets, declared
    zone1 = first[:100]
    zone2 = first[100:150] + packet(1, 40)[:50]  # sender says a header starts at 50, mid-packet
    extractor = PacketExtractor()
    assert extractor.push(zone1, 0) == []
    assert extractor.push(zone2, 50) == [packet(1, 40)]  # the good packet after it survives
    assert extractor.counters.impossible_packets == 1 and extractor.counters.packets_lost == 1


def test_bad_version_and_oversized_packets_are_counted_not_raised() -> None:
    bad_version = bytearray(packet(0, 20))
    bad_version[0] |= 0x20
    extractor = PacketExtractor(max_packet_length=1000)
    assert extractor.push(bytes(bad_version) + bytes(74), 0) == []
    oversized = SpacePacket(apid=1, sequence_count=0, data=bytes(2000)).pack()
    assert extractor.push(oversized[:100], 0) == []
    assert extractor.counters.impossible_packets == 2
    assert extractor.partial_octets == 0


@given(
    st.lists(st.tuples(st.binary(min_size=50, max_size=50), st.integers(0, 2047), st.booleans()), max_size=40)
)
def test_garbage_zones_never_raise_and_memory_stays_bounded(zones: list[tuple[bytes, int, bool]]) -> None:
    extractor = PacketExtractor(max_packet_length=500)
    for zone, fhp, gap in zones:
        for p in extractor.push(zone, fhp, gap):
            assert len(p) <= 500
        assert extractor.partial_octets <= 500


def test_check_packet_refuses_non_packets() -> None:
    with pytest.raises(ValueError):
        check_packet(b"\0" * 6)
    with pytest.raises(ValueError):
        check_packet(packet(0, 10)[:-1])
    with pytest.raises(ValueError):
        check_packet(b"\xe0" + packet(0, 10)[1:])


@given(
    packet_lists,
    st.integers(8, 600),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3), st.integers(0, 0x7FF)), max_size=8),
)
def test_shortcuts_for_common_continuations_change_no_outcome(
    packets: list[bytes], zone_length: int, damage: list[tuple[int, int, int]]
) -> None:
    """Zones with gaps and wrong pointers give the same packets and counters with the direct
    continuations as through the general path alone."""
    packer = PacketPacker(zone_length)
    for packet in packets:
        packer.add(packet)
    zones = []
    while packer.has_pending():
        zones.append([*packer.next_zone(), False])
    for index, kind, value in damage:
        if zones:
            zone = zones[index % len(zones)]
            if kind == 0:
                zone[0] = value  # a wrong first header pointer
            elif kind == 1:
                zone[2] = True  # a gap before it
            elif kind == 2:
                zones.remove(zone)  # a lost zone
    fast, general = PacketExtractor(), PacketExtractor()
    general.shortcuts = False
    for fhp, zone, gap in zones:
        assert fast.push(zone, fhp, gap=gap) == general.push(zone, fhp, gap=gap)
    assert fast.close() == general.close()
    assert fast.counters == general.counters
