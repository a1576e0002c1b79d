"""Per-APID bookkeeping: gaps are counted and recorded as faults, time spans follow the PUS time."""

from __future__ import annotations

import logging

from groundstation.fault_log import FaultLog
from groundstation.packet_book import PacketBook
from protocols.packets.space_packet import SpacePacket
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmPacket, TmSecondaryHeader


def test_a_gap_in_the_sequence_counts_is_a_fault_and_wraps_at_16384() -> None:
    book = PacketBook(FaultLog(logging.getLogger("test")))
    for count in (16382, 16383, 0, 3):
        book.follow(0x64, count)
    assert book.gaps_by_apid[0x64] == 2 and book.faults.counts == {"packet sequence gap": 1}
    assert book.gaps_by_name() == {"PLATFORM": 2}


def test_time_span_comes_from_the_pus_time_field_of_any_packet() -> None:
    book = PacketBook(FaultLog(logging.getLogger("test")))
    for seconds in (200.5, 100.25):
        raw = TmPacket(0xC8, 0, TmSecondaryHeader(128, 2, CucTime.from_seconds(seconds)), b"x").pack()
        book.note_packet_time(0xC8, SpacePacket.unpack(raw)[0])
    book.note_packet_time(0xC8, SpacePacket(0xC8, 0, bytes(20), secondary_header_flag=False))
    assert book.time_span == {0xC8: [100.25, 200.5]}
    assert list(book.time_span_by_name()) == ["CAMERA"]
