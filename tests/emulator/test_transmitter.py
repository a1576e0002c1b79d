"""Transmitter: whole CADUs always, idle frames, priorities, counters that wrap."""

from __future__ import annotations

import pytest

from emulator.transmitter import Transmitter
from protocols.coding.cadu import CaduCodec
from protocols.link import aos_frame, tm_frame
from protocols.link.channel_file import preset
from protocols.link.clcw import Clcw
from protocols.packets.space_packet import SpacePacket


def packet(index: int, length: int = 100) -> bytes:
    return SpacePacket(apid=0x0C8, sequence_count=index, data=bytes([index % 256]) * length).pack()


def decode(config, cadu: bytes):
    frame, _ = CaduCodec(config).decode(cadu)
    module = tm_frame if config.frame_type == "tm" else aos_frame
    return module.unpack_frame(config, frame)


def test_idle_frames_keep_the_clock_running() -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    assert not tx.has_pending()
    cadus = [tx.next_cadu() for _ in range(3)]
    assert all(len(c) == config.cadu_length for c in cadus)
    frames = [decode(config, c) for c in cadus]
    assert [f.vcid for f in frames] == [config.idle_vcid] * 3
    assert [f.mc_frame_count for f in frames] == [0, 1, 2]
    assert tx.counters.idle_frames == 3 and tx.counters.frames[config.idle_vcid] == 3


def test_packets_span_frames_and_pending_octets_shrink() -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    tx.submit(0, packet(0, 3000))
    assert tx.pending_octets(0) == 3006
    first = decode(config, tx.next_cadu())
    assert first.vcid == 0 and first.first_header_pointer == 0
    assert tx.pending_octets(0) == 3006 - config.packet_zone_length
    second = decode(config, tx.next_cadu())
    assert second.first_header_pointer == 0x7FF  # nothing starts inside: the packet continues
    assert second.vc_frame_count == 1 and second.mc_frame_count == 1
    tx.drain()
    assert not tx.has_pending() and tx.pending_octets(0) == 0


def test_higher_priority_first_and_equal_priorities_take_turns() -> None:
    config = preset()
    tx = Transmitter(config, {1: 5, 2: 1, 3: 1})
    for vcid in (1, 2, 3):
        for i in range(3):
            tx.submit(vcid, packet(i, 1000))
    order = []
    while tx.has_pending():
        order.append(decode(config, tx.next_cadu()).vcid)
    assert order == [1, 1, 1, 2, 3, 2, 3, 2, 3]  # 3018 octets per VC: three frames each


def test_frame_counters_wrap() -> None:
    config = preset("tm-rs-i1")
    tx = Transmitter(config, {0: 1})
    for i in range(300):
        tx.submit(0, packet(i % 16384, config.packet_zone_length - 6))
    counts = [tm_frame.unpack_frame(config, tx.next_frame()).vc_frame_count for _ in range(300)]
    assert counts == [i % 256 for i in range(300)]


def test_aos_counts_are_24_bits_and_idle_is_vc_63() -> None:
    config = preset("aos-rs-i4")
    tx = Transmitter(config, {5: 0})
    tx.submit(5, packet(0))
    assert decode(config, tx.next_cadu()).vcid == 5
    assert decode(config, tx.next_cadu()).vcid == 63


def test_clcw_goes_into_every_ocf() -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    tx.set_clcw(Clcw(vcid=0, report_value=42, retransmit=True))
    assert Clcw.unpack(decode(config, tx.next_cadu()).ocf) == Clcw(vcid=0, report_value=42, retransmit=True)


def test_refuses_what_it_cannot_send() -> None:
    config = preset()
    with pytest.raises(ValueError, match="reserved for idle"):
        Transmitter(config, {7: 1})
    with pytest.raises(ValueError, match="does not fit"):
        Transmitter(config, {8: 1})
    tx = Transmitter(config, {0: 1}, max_pending_octets=500)
    with pytest.raises(ValueError, match="not configured"):
        tx.submit(1, packet(0))
    with pytest.raises(ValueError):
        tx.submit(0, packet(0)[:-1])
    tx.submit(0, packet(0, 400))
    with pytest.raises(ValueError, match="refusing"):
        tx.submit(0, packet(1, 400))
    assert tx.counters.packets_submitted == 1


def test_batched_cadus_equal_one_at_a_time() -> None:
    for name in ("tm-rs-i5", "tm-uncoded", "aos-rs239-i8", "tm-rs-shortened"):
        config = preset(name)
        one, many = Transmitter(config, {0: 1}), Transmitter(config, {0: 1})
        for tx in (one, many):
            for i in range(30):
                tx.submit(0, packet(i, 50 + 37 * i))
        singles = b"".join(one.next_cadu() for _ in range(9))
        assert many.next_cadus(4) + many.drain(max_cadus=5, batch=3) == singles
        assert one.counters.as_dict() == many.counters.as_dict()
