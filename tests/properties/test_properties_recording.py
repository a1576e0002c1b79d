"""Recordings: any chunking decodes alike, strict mode only raises DecodeError, and after any
mutation every record whose frame the mutation did not touch is still decoded (the sync marker
and CRC let the decoder resynchronize), with every octet accounted as a record or a skip; and
through the ground station (as ``paleblue decode`` reads a recording, messages joined), every
packet of every message whose record the mutation did not touch is counted, before the damage and
after it."""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from groundstation.station import GroundStation, MessageBatch
from protocols.capture import recording as rec
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.errors import DecodeError
from protocols.mdb.mission_db import load_mission_db
from protocols.packets.space_packet import MISSION_PACKETS, PacketStreamDecoder, SpacePacket
from tests.properties.strategies import mission_packet_lists, mutations

MDB = load_mission_db()  # loaded once, not per example
logging.getLogger("paleblue").setLevel(logging.CRITICAL)


@st.composite
def recordings(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int, rec.UnitRecord]]]:
    """A recording and, per unit record, (frame start, frame end, record)."""
    out = bytearray(rec.encode_record(rec.RecordingHeader("0.1.0", "prop", start_ns=1)))
    frames = []
    for n in range(draw(st.integers(1, 8))):
        unit = rec.UnitRecord(
            n + 10, rec.Direction.DOWNLINK, Layer.PACKETS, 7, n, draw(st.binary(max_size=60))
        )
        start = len(out)
        out += rec.encode_record(unit)
        frames.append((start, len(out), unit))
    return bytes(out), frames


def decode(data: bytes, chunk: int, expect_header: bool = False) -> list[rec.Entry]:
    decoder = rec.RecordingDecoder(expect_header=expect_header)
    entries = []
    for i in range(0, len(data), chunk):
        entries += decoder.feed(data[i : i + chunk])
    return entries + decoder.close()


@given(recordings(), st.integers(1, 300))
def test_any_chunking_gives_the_same_entries(recording: tuple, chunk: int) -> None:
    data, frames = recording
    entries = decode(data, chunk, expect_header=True)
    assert entries == decode(data, len(data), expect_header=True)
    assert [e.item for e in entries[1:]] == [u for _, _, u in frames]


@given(st.binary(max_size=200), st.integers(1, 64))
def test_strict_mode_raises_only_decode_error(data: bytes, chunk: int) -> None:
    try:
        decode(data, chunk, expect_header=True)
    except DecodeError as exc:
        assert exc.layer == "recording"


def touched(m, start: int, stop: int) -> bool:
    """Whether mutation ``m`` changed any octet of the frame ``[start, stop)``."""
    end = m.offset + m.removed
    hit = (m.removed and start < end and m.offset < stop) or (m.added and start < m.offset < stop)
    return bool(hit or (m.kind == "truncate" and stop > m.offset))


@given(st.data(), recordings())
def test_after_any_mutation_untouched_records_survive_and_octets_are_accounted(
    data: st.DataObject, recording: tuple
) -> None:
    raw, frames = recording
    mutated, m = data.draw(mutations(raw))
    entries = decode(mutated, data.draw(st.sampled_from([1, 13, 4096])))
    for start, stop, unit in frames:
        if not touched(m, start, stop):
            assert unit in [e.item for e in entries], f"{m}: record {unit.sequence} was lost"
    covered = 0
    for entry in entries:
        assert entry.offset == covered, "entries tile the stream in order"
        if isinstance(entry.item, rec.SkippedBytes):
            covered += entry.item.length
        else:
            covered += len(rec.encode_record(entry.item))
    assert covered == len(mutated)


def packet_apids(payload: bytes) -> Counter[int]:
    """The APIDs of the packets the station's decoder cuts from one message."""
    decoder = PacketStreamDecoder(check=MISSION_PACKETS)
    return Counter(u.apid for u in [*decoder.feed(payload), *decoder.close()] if isinstance(u, SpacePacket))


@given(st.data(), st.lists(mission_packet_lists(with_pec_less=True), min_size=1, max_size=6))
def test_after_any_mutation_the_station_counts_every_packet_of_every_untouched_message(
    data: st.DataObject, messages: list[list[bytes]]
) -> None:
    raw = bytearray(rec.encode_record(rec.RecordingHeader("0.1.0", "prop", start_ns=1)))
    frames = []
    for n, packets in enumerate(messages):
        start = len(raw)
        raw += rec.encode_record(
            rec.UnitRecord(n + 10, rec.Direction.DOWNLINK, Layer.PACKETS, 7, n, b"".join(packets))
        )
        frames.append((start, len(raw), packets))
    mutated, m = data.draw(mutations(bytes(raw)))
    units = [e.item for e in decode(mutated, 4096) if isinstance(e.item, rec.UnitRecord)]
    with tempfile.TemporaryDirectory() as out:
        station = GroundStation(Path(out), mdb=MDB, write_products=False)
        batch = MessageBatch(station)  # how decode reads a recording: whole-packet messages joined
        for unit in units:
            envelope = Envelope(unit.layer, unit.session, unit.sequence).pack()
            batch.add([TOPIC_DOWNLINK, envelope, unit.payload])
        batch.flush()
        counted = Counter(station.packets_by_apid)
        assert "internal error" not in station.faults.counts
    assert counted == sum((packet_apids(u.payload) for u in units), Counter())  # joined as apart
    untouched = Counter(
        SpacePacket.unpack(p)[0].apid
        for start, stop, packets in frames
        if not touched(m, start, stop)
        for p in packets
    )
    assert not untouched - counted, f"{m}: packets of untouched messages were not counted"
