"""The ground station end to end: never raises, and damage to one message costs no other message."""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.space_packet import PacketStreamDecoder, SpacePacket
from protocols.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from tests.properties.strategies import mutations, packet_lists

station_module = pytest.importorskip("groundstation.station")
logging.getLogger("paleblue").setLevel(logging.CRITICAL)


def apids_decoded(payload: bytes) -> Counter[int]:
    decoder = PacketStreamDecoder()
    return Counter(u.apid for u in [*decoder.feed(payload), *decoder.close()] if isinstance(u, SpacePacket))


@given(st.data(), st.lists(packet_lists, min_size=1, max_size=5))
def test_a_damaged_message_costs_no_packet_of_another_message(
    data: st.DataObject, messages: list[list[SpacePacket]]
) -> None:
    payloads = [b"".join(p.pack() for p in packets) for packets in messages]
    victim = data.draw(st.integers(0, len(payloads) - 1))
    payloads[victim], _ = data.draw(mutations(payloads[victim]))
    with tempfile.TemporaryDirectory() as out:
        station = station_module.GroundStation(Path(out))
        for n, payload in enumerate(payloads):
            station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, n).pack(), payload])
        summary = station.summary()
    expected = apids_decoded(payloads[victim])  # whatever the damaged message still yields
    for n, packets in enumerate(messages):
        if n != victim:
            expected.update(p.apid for p in packets)  # ...plus every packet of every other message
    assert Counter(station.packets_by_apid) == expected
    assert summary["transport"]["messages_received"] == len(payloads)
    assert "internal error" not in summary["faults"]


@given(st.lists(st.lists(st.binary(max_size=40), max_size=4), max_size=6))
def test_any_frames_never_raise_and_never_hit_an_internal_error(messages: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as out:
        station = station_module.GroundStation(Path(out))
        for parts in messages:
            station.handle_message(parts)
        assert "internal error" not in station.faults.counts
        malformed = sum(len(parts) != 3 for parts in messages)
        assert station.faults.counts.get("malformed message", 0) == malformed
