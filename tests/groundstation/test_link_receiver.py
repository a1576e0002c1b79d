"""Link receiver: transmitter CADUs back to packets, under any chunking, errors and garbage."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.link_receiver import FrameReceiver, LinkReceiver, SyncState
from protocols.channel_config import PRESETS, preset
from protocols.space_packet import SpacePacket


def make_packet(index: int, length: int, apid: int = 0x0C8) -> bytes:
    data = bytes((index + i) % 256 for i in range(length))
    return SpacePacket(apid=apid, sequence_count=index % 16384, data=data).pack()


def feed_in_chunks(receiver: LinkReceiver, stream: bytes, sizes: list[int]) -> list[bytes]:
    got, pos, k = [], 0, 0
    while pos < len(stream):
        size = sizes[k % len(sizes)] if sizes else len(stream)
        got += [o.packet for o in receiver.feed(stream[pos : pos + size])]
        pos += size
        k += 1
    got += [o.packet for o in receiver.close().outputs]
    return got


def test_default_channel_round_trip_one_byte_at_a_time() -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    packets = [make_packet(i, 1 + 97 * i % 2500) for i in range(12)]
    for p in packets:
        tx.submit(0, p)
    stream = tx.drain()
    rx = LinkReceiver(config)
    assert feed_in_chunks(rx, stream, [1]) == packets
    assert rx.state is SyncState.LOCK
    assert rx.counters.frames_good == len(stream) // config.cadu_length
    assert rx.counters.bytes_skipped == 0
    assert rx.vc_counters[0].packets == len(packets)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips(name: str) -> None:
    config = PRESETS[name]
    tx = Transmitter(config, {0: 1, 1: 2})
    packets = {0: [], 1: []}
    for i in range(40):
        vcid = i % 2
        packets[vcid].append(make_packet(i, 1 + (i * 131) % 3000))
        tx.submit(vcid, packets[vcid][-1])
    stream = tx.drain() + tx.next_cadu()
    rx = LinkReceiver(config)
    outputs = rx.feed(stream)
    for vcid in (0, 1):
        assert [o.packet for o in outputs if o.vcid == vcid] == packets[vcid]
    assert rx.counters.idle_frames == 1
    assert rx.counters.uncorrectable == rx.counters.crc_failures == 0


def test_frame_receiver_takes_bare_frames() -> None:
    config = preset("tm-uncoded")
    tx = Transmitter(config, {2: 0})
    packets = [make_packet(i, 300 + i) for i in range(20)]
    for p in packets:
        tx.submit(2, p)
    frames = b""
    while tx.has_pending():
        frames += tx.next_frame()
    rx = FrameReceiver(config)
    got = []
    for i in range(0, len(frames), 333):
        got += [o.packet for o in rx.feed(frames[i : i + 333])]
    assert got == packets
    assert rx.close().leftover_octets == 0


@given(st.lists(st.integers(1, 4000), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_any_chunking_gives_the_same_packets(sizes: list[int], rnd: random.Random) -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    packets = [make_packet(i, rnd.randint(1, 2000)) for i in range(6)]
    for p in packets:
        tx.submit(0, p)
    stream = tx.drain()
    assert feed_in_chunks(LinkReceiver(config), stream, sizes) == packets
