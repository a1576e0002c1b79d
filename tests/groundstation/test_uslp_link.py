"""USLP (fixed and variable length) and AOS with an insert zone through transmitter and receivers."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.frame_receiver import FrameReceiver
from groundstation.link_receiver import LinkReceiver
from groundstation.variable_link import VariableLinkReceiver
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.frame_packets import idle_packet

USLP_FIXED = PhysicalChannelConfig(frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=1115)
USLP_VARIABLE = PhysicalChannelConfig(
    frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=2000, rs_e=0, variable_length=True
)
USLP_VARIABLE_BARE = PhysicalChannelConfig(
    frame_type=FrameType.USLP,
    spacecraft_id=0x0042,
    frame_length=2000,
    rs_e=0,
    variable_length=True,
    randomizer=False,
    fecf=False,
    ocf=False,
    insert_zone_length=3,
    vc_count_length=2,
)
AOS_INSERT_ZONE = PhysicalChannelConfig(
    frame_type=FrameType.AOS,
    spacecraft_id=0x42,
    frame_length=892,
    rs_interleave=4,
    insert_zone_length=8,
    fecf=False,
    ocf=False,
)
CONFIGS = [USLP_FIXED, USLP_VARIABLE, USLP_VARIABLE_BARE, AOS_INSERT_ZONE]
IDS = ["uslp-fixed", "uslp-variable", "uslp-variable-bare", "aos-insert-zone"]


def _packets(count: int = 40) -> list[bytes]:
    """Distinct packets of many lengths (APID 0x42, counted), some longer than a fixed frame."""
    out = []
    for n in range(count):
        body = idle_packet(7 + (n * 137) % 1900)
        out.append(bytes([0x08, 0x42, 0xC0 | (n >> 8) & 0x3F, n & 0xFF]) + body[4:])
    return out


def _receiver(config: PhysicalChannelConfig):
    return VariableLinkReceiver(config) if config.variable_length else LinkReceiver(config)


def _send(config: PhysicalChannelConfig, packets: list[bytes], frames: bool = False) -> bytes:
    tx = Transmitter(config, {1: 0, 2: 0})
    for k, p in enumerate(packets):
        tx.submit(1 + k % 2, p)
    if frames:
        out = []
        while tx.has_pending():
            out.append(tx.next_frame())
        return b"".join(out) + tx.next_frame()
    return tx.drain() + tx.next_cadu()


def _decode(receiver, stream: bytes, chunks: list[int]) -> list[bytes]:
    got, position, i = [], 0, 0
    while position < len(stream):
        size = chunks[i % len(chunks)]
        got += [o.packet for o in receiver.feed(stream[position : position + size])]
        position += size
        i += 1
    got += [o.packet for o in receiver.close().outputs]
    return got


def _by_vc(packets: list[bytes]) -> list[bytes]:
    return sorted(packets)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@settings(max_examples=10, deadline=None)
@given(chunks=st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_cadus_any_chunking_give_every_packet(config: PhysicalChannelConfig, chunks: list[int]) -> None:
    packets = _packets()
    if not config.variable_length:
        packets = [p for p in packets if len(p) < 1500]
    receiver = _receiver(config)
    garbage = b"\x1a\xcf\xfc\x1d" + os.urandom(300)
    got = _decode(receiver, garbage + _send(config, packets), chunks)
    assert _by_vc(got) == _by_vc(packets)
    c = receiver.counters
    assert c.crc_failures == 0 and c.header_errors == 0 and c.bytes_skipped >= 300


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_bare_frames_decode(config: PhysicalChannelConfig) -> None:
    packets = [p for p in _packets(20) if config.variable_length or len(p) < 1500]
    receiver = FrameReceiver(config)
    got = _decode(receiver, _send(config, packets, frames=True), [777])
    assert _by_vc(got) == _by_vc(packets)


def test_variable_frames_with_a_bad_crc_are_counted_and_the_rest_decoded() -> None:
    config = USLP_VARIABLE
    packets = _packets(10)
    stream = bytearray(_send(config, packets))
    stream[len(stream) // 3] ^= 0x10  # one bit in some frame
    receiver = VariableLinkReceiver(config)
    got = _decode(receiver, bytes(stream), [4096])
    lost = len(packets) - len(got)
    assert (
        receiver.counters.crc_failures + receiver.counters.header_errors + receiver.counters.bytes_skipped > 0
    )
    assert 0 < lost <= 2 and set(got) <= set(packets)


def test_variable_transmitter_refuses_a_packet_longer_than_a_frame() -> None:
    tx = Transmitter(USLP_VARIABLE, {1: 0})
    with pytest.raises(ValueError, match="does not fit"):
        tx.submit(1, idle_packet(USLP_VARIABLE.packet_zone_length + 1))


@given(st.binary(max_size=3000))
def test_variable_receiver_takes_any_bytes(data: bytes) -> None:
    receiver = VariableLinkReceiver(USLP_VARIABLE)
    receiver.feed(data)
    report = receiver.close()
    assert report.outputs == [] or all(o.packet for o in report.outputs)
    assert receiver.counters.bytes_skipped + report.leftover_octets <= len(data)
