"""The ground station end to end: never raises, damage to one message costs no other message, and
within the damaged message every packet the mutation did not touch is still counted, after the
damage as well as before (the promise of ``test_properties_space_packet.py``, through the station)."""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.packets.space_packet import MISSION_PACKETS, PacketStreamDecoder, SpacePacket
from tests.properties.strategies import mission_packet_lists, mutations, packet_lists
from tests.properties.test_properties_space_packet import decoded_with_offsets, promised

station_module = pytest.importorskip("groundstation.station")
logging.getLogger("paleblue").setLevel(logging.CRITICAL)
MDB = pytest.importorskip("protocols.mdb.mission_db").load_mission_db()  # loaded once, not per example


def apids_decoded(payload: bytes) -> Counter[int]:
    decoder = PacketStreamDecoder(check=MISSION_PACKETS)  # as the station decodes a message
    return Counter(u.apid for u in [*decoder.feed(payload), *decoder.close()] if isinstance(u, SpacePacket))


@st.composite
def one_message_damaged(draw: st.DrawFn) -> tuple[list[bytes], int, bytes]:
    """(payloads of one to five messages of any packets, the damaged one's index, its damaged bytes)."""
    payloads = [
        b"".join(p.pack() for p in packets)
        for packets in draw(st.lists(packet_lists, min_size=1, max_size=5))
    ]
    victim = draw(st.integers(0, len(payloads) - 1))
    damaged, _ = draw(mutations(payloads[victim]))
    return payloads, victim, damaged


@given(one_message_damaged())
# found by make fuzz at 20,000 examples: another message's packet on a mission APID (100) that the
# mission database makes implausible (a secondary header, one octet, no PEC) is skipped and counted
# whether or not a message before it was damaged; the property expected every packet of the other
# messages, it now expects what each of them yields undamaged
@example(
    (
        [
            SpacePacket(apid=0, sequence_count=0, data=b"\x00").pack(),
            SpacePacket(apid=0, sequence_count=0, data=b"\x00").pack() * 8
            + SpacePacket(apid=100, sequence_count=0, data=b"\x00", secondary_header_flag=True).pack(),
        ],
        0,
        b"\x00\x00\x00\x00\x00\x00@",  # the first message, bit 1 of its last octet flipped
    )
)
def test_a_damaged_message_costs_no_packet_of_another_message(case: tuple[list[bytes], int, bytes]) -> None:
    undamaged, victim, damaged = case
    payloads = [damaged if n == victim else payload for n, payload in enumerate(undamaged)]
    with tempfile.TemporaryDirectory() as out:
        station = station_module.GroundStation(Path(out), mdb=MDB)  # the default database, parsed once
        for n, payload in enumerate(payloads):
            station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, n).pack(), payload])
        summary = station.summary()
    expected = apids_decoded(damaged)  # whatever the damaged message still yields
    for n, payload in enumerate(undamaged):
        if n != victim:
            expected.update(apids_decoded(payload))  # ...plus what every other message yields undamaged
    assert Counter(station.packets_by_apid) == expected
    assert summary["transport"]["messages_received"] == len(payloads)
    assert "internal error" not in summary["faults"]


@given(st.data(), st.lists(mission_packet_lists(with_pec_less=True), min_size=1, max_size=4))
def test_a_damaged_message_loses_only_the_packets_the_damage_touched(
    data: st.DataObject, messages: list[list[bytes]]
) -> None:
    payloads = [b"".join(packets) for packets in messages]
    victim = data.draw(st.integers(0, len(payloads) - 1))
    payloads[victim], mutation = data.draw(mutations(payloads[victim]))
    decoder = PacketStreamDecoder(check=MISSION_PACKETS)
    units = [*decoder.feed(payloads[victim]), *decoder.close()]
    lost = [p for p in promised(messages[victim], mutation) if p not in decoded_with_offsets(units)]
    assert not lost, f"{mutation}: untouched packets lost: {lost}"
    expected = Counter(u.apid for u in units if isinstance(u, SpacePacket))
    for n, packets in enumerate(messages):
        if n != victim:
            expected.update(SpacePacket.unpack(p)[0].apid for p in packets)
    skips = sum(not isinstance(u, SpacePacket) for u in units)
    with tempfile.TemporaryDirectory() as out:
        station = station_module.GroundStation(Path(out), mdb=MDB)
        for n, payload in enumerate(payloads):
            station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, n).pack(), payload])
        faults = station.summary()["faults"]
    assert Counter(station.packets_by_apid) == expected  # the station counts what the decoder cut
    assert faults.get("bytes skipped in packet stream", 0) == skips  # and every skipped span
    assert "internal error" not in faults


@given(st.lists(st.lists(st.binary(max_size=40), max_size=4), max_size=6))
def test_any_frames_never_raise_and_never_hit_an_internal_error(messages: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as out:
        station = station_module.GroundStation(Path(out), mdb=MDB)
        for parts in messages:
            station.handle_message(parts)
        assert "internal error" not in station.faults.counts
        malformed = sum(len(parts) != 3 for parts in messages)
        assert station.faults.counts.get("malformed message", 0) == malformed


# ------------------------------------------------------------------------------------------------------
# Regressions found by fuzzing (the stream fuzzer and the ground-station target). The image metadata
# travels in the downlink, so it is untrusted input: hostile values are faults, never internal
# errors, never a lost summary, never a file outside the output directory; a damaged envelope
# sequence cannot claim more losses than could have been sent.


def image_messages(metadata: dict, drop_last_segment: bool = False) -> list[list[bytes]]:
    from fuzzing import seeds as seedlib

    packets = seedlib.image_packets(1, width=8, height=6, bit_depth=8, segment_octets=40, metadata=metadata)
    if drop_last_segment:
        packets.pop()
    return seedlib.envelope_messages(seedlib.group_into_messages(packets, 2))


HOSTILE_METADATA = [
    pytest.param({"scenario": "x", "exposure_s": b"\xff"}, id="bytes-value-not-json"),
    pytest.param({"scenario": "x", "sensor": 3}, id="sensor-not-a-map"),
    pytest.param({"scenario": "no/such/dir"}, id="scenario-with-slash"),
]


@pytest.mark.parametrize("metadata", HOSTILE_METADATA)
def test_hostile_image_metadata_is_a_fault_not_an_internal_error(metadata: dict, tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    for parts in image_messages(metadata):
        station.handle_message(parts)
    assert "internal error" not in station.faults.counts
    assert len(station.products) == 1  # the pixels are good whatever the metadata says


@pytest.mark.parametrize("metadata", HOSTILE_METADATA[:2])
def test_refused_image_metadata_is_counted_and_the_image_still_written(
    metadata: dict, tmp_path: Path
) -> None:
    """A map the declared contract refuses (protocols.image.image_metadata) is the counted fault 'bad
    image metadata'; the image is written without the probe's truth, under a neutral name."""
    station = station_module.GroundStation(tmp_path / "station")
    for parts in image_messages(metadata):
        station.handle_message(parts)
    assert station.faults.counts["bad image metadata"] == 1
    (product,) = station.products
    assert product.onboard_sha256 is None
    assert (tmp_path / "station" / "image-001.png").exists()
    truth = json.loads((tmp_path / "station" / "image-001.json").read_text())
    assert "sensor" not in truth and truth["received"]["complete"]


@pytest.mark.parametrize("metadata", HOSTILE_METADATA[:2])
def test_finish_survives_hostile_metadata_of_an_incomplete_image(metadata: dict, tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    for parts in image_messages(metadata, drop_last_segment=True):
        station.handle_message(parts)
    station.finish()
    assert (tmp_path / "station" / "summary.json").exists()


def test_downlinked_scenario_name_cannot_escape_the_output_directory(tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    for parts in image_messages({"scenario": "../escaped"}):
        station.handle_message(parts)
    station.finish()
    assert not list(tmp_path.glob("escaped*")), "products were written outside out_dir"


def test_one_corrupted_envelope_cannot_claim_more_losses_than_messages_could_be_sent(tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, 0).pack(), b""])
    station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, 1 << 62).pack(), b""])
    station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, 2).pack(), b""])
    assert station.summary()["transport"]["messages_lost"] < 2**32


def send_sequence(station, session: int, first: int, last: int) -> None:
    for n in range(first, last):
        station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, session, n).pack(), b""])


def test_a_damaged_session_field_cannot_claim_billions_lost(tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    send_sequence(station, 7, 0, 100)
    station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 7 ^ 0x100, (1 << 62) | 100).pack(), b""])
    send_sequence(station, 7, 101, 110)
    assert station.summary()["transport"]["messages_lost"] < 2**32


def test_one_damaged_sequence_does_not_count_the_pass_so_far_as_lost(tmp_path: Path) -> None:
    station = station_module.GroundStation(tmp_path / "station")
    send_sequence(station, 7, 0, 100)
    station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 7, (1 << 40) | 100).pack(), b""])
    send_sequence(station, 7, 101, 110)
    assert station.summary()["transport"]["messages_lost"] <= 1
