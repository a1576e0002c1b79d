"""The seeds: message encoding round trips, housekeeping laid out by the mission database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fuzzing.seeds import decode_parts, encode_parts


@given(st.lists(st.lists(st.binary(max_size=20), max_size=4), max_size=4))
def test_message_encoding_round_trips(messages: list[list[bytes]]) -> None:
    assert decode_parts(encode_parts(messages)) == messages


@given(st.binary(max_size=200))
def test_message_decoding_accepts_any_bytes(data: bytes) -> None:
    decode_parts(data)


def test_housekeeping_seeds_are_laid_out_by_the_mission_database() -> None:
    """Every seed report decodes with the database, each structure in turn, nothing counted as bad."""
    from fuzzing.seeds import housekeeping_packets
    from groundstation.telemetry import TelemetryProcessor
    from protocols.mdb.mission_db import load_mission_db

    mdb = load_mission_db()
    processor = TelemetryProcessor(mdb)
    reports = [processor.process(p) for p in housekeeping_packets(2 * len(mdb.packets), seed=3)]
    assert [r.structure_id for r in reports] == [p.structure_id for p in mdb.packets] * 2
    assert not processor.undecodable


def test_a_seed_pass_is_what_the_probes_builders_make_and_the_ground_takes_whole() -> None:
    """Images from the probe's packetizer, housekeeping from the database, frames from its
    transmitter: the link receiver gives back every packet, each passing the mission's checks."""
    from fuzzing.seeds import cadu_stream, downlink_packets
    from groundstation.link_receiver import LinkReceiver
    from protocols.link.channel_file import preset
    from protocols.packets.space_packet import MISSION_PACKETS, PacketStreamDecoder, SpacePacket

    packets = downlink_packets(2, seed=5)
    decoder = PacketStreamDecoder(check=MISSION_PACKETS)
    units = [*decoder.feed(b"".join(packets)), *decoder.close()]
    assert len(units) == len(packets) and all(isinstance(u, SpacePacket) for u in units)
    config = preset()
    receiver = LinkReceiver(config)
    received = [o.packet for o in receiver.feed(cadu_stream(config, packets))]
    received += [o.packet for o in receiver.close().outputs]
    assert received == packets
