"""Recordings: any chunking decodes alike, strict mode only raises DecodeError, and after any
mutation every record whose frame the mutation did not touch is still decoded (the sync marker
and CRC let the decoder resynchronize), with every octet accounted as a record or a skip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols import recording as rec
from protocols.errors import DecodeError
from protocols.zmq_framing import Layer
from tests.properties.strategies import mutations


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


@given(st.data(), recordings())
def test_after_any_mutation_untouched_records_survive_and_octets_are_accounted(
    data: st.DataObject, recording: tuple
) -> None:
    raw, frames = recording
    mutated, m = data.draw(mutations(raw))
    entries = decode(mutated, data.draw(st.sampled_from([1, 13, 4096])))
    end = m.offset + m.removed
    for start, stop, unit in frames:
        touched = (m.removed and start < end and m.offset < stop) or (m.added and start < m.offset < stop)
        if m.kind == "truncate":
            touched = touched or stop > m.offset
        if not touched:
            assert unit in [e.item for e in entries], f"{m}: record {unit.sequence} was lost"
    covered = 0
    for entry in entries:
        assert entry.offset == covered, "entries tile the stream in order"
        if isinstance(entry.item, rec.SkippedBytes):
            covered += entry.item.length
        else:
            covered += len(rec.encode_record(entry.item))
    assert covered == len(mutated)
