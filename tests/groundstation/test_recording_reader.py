"""Streaming recording reader: damaged files, any chunk size, flat memory, seeking by time."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundstation.recorder import FsyncPolicy, RecordingWriter
from groundstation.recording_reader import RecordingReader, read_recording
from protocols.capture.recording import (
    FORMAT_VERSION,
    Direction,
    IndexRecord,
    RecordingHeader,
    RecordingVersionError,
    UnitRecord,
    encode_record,
    frame_body,
)
from protocols.capture.zmq_framing import Layer
from protocols.errors import DecodeError


def _unit(i: int, size: int = 200) -> UnitRecord:
    payload = i.to_bytes(4, "big") * (size // 4)
    return UnitRecord(1_000_000 + 1_000 * i, Direction(i % 2), Layer.FRAMES, 5, i, payload)


def _write(path: Path, count: int, size: int = 200, index_interval_bytes: int = 4096) -> list[UnitRecord]:
    units = [_unit(i, size) for i in range(count)]
    with RecordingWriter(path, index_interval_bytes=index_interval_bytes, fsync=FsyncPolicy.NEVER) as writer:
        for unit in units:
            writer.write_record(unit)
    return units


def _unit_offsets(path: Path) -> list[int]:
    with RecordingReader(path) as reader:
        return [e.offset for e in reader.entries() if isinstance(e.item, UnitRecord)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, list[UnitRecord]]:
    path = tmp_path_factory.mktemp("reader") / "r.pbrec"
    return path, _write(path, 300)


@given(st.integers(1, 70_000))
def test_any_chunk_size_reads_the_same_records(recording, chunk_size):
    path, units = recording
    with RecordingReader(path, chunk_size=chunk_size) as reader:
        assert list(reader) == units
        assert reader.skipped == []
        assert reader.header.format_version == FORMAT_VERSION


def test_reading_twice_gives_the_same_records(recording):
    path, units = recording
    with RecordingReader(path) as reader:
        assert list(reader.units()) == list(reader.units()) == units


def test_truncated_file_reads_up_to_the_tear_and_reports_it(tmp_path, recording):
    source, units = recording
    offsets = _unit_offsets(source)
    data = source.read_bytes()
    cut = offsets[150] + 37  # inside the 151st unit
    path = tmp_path / "cut.pbrec"
    path.write_bytes(data[:cut])
    seen = []
    with RecordingReader(path, on_skip=seen.append) as reader:
        assert list(reader) == units[:150]
    assert [(s.offset, s.length) for s in reader.skipped] == [(offsets[150], 37)]
    assert "torn" in reader.skipped[0].reason and seen == reader.skipped


def test_corrupted_records_in_the_middle_are_skipped_and_reported(tmp_path, recording):
    source, units = recording
    offsets = _unit_offsets(source)
    data = bytearray(source.read_bytes())
    for victim in (10, 100, 200):
        data[offsets[victim] + 20] ^= 0xFF
    data[offsets[250] : offsets[250] + 4] = b"XXXX"  # a smashed sync marker
    path = tmp_path / "damaged.pbrec"
    path.write_bytes(bytes(data))
    _, read, skipped = read_recording(path)
    assert read == [u for i, u in enumerate(units) if i not in (10, 100, 200, 250)]
    assert [s.offset for s in skipped] == [offsets[10], offsets[100], offsets[200], offsets[250]]
    assert [s.length for s in skipped] == [offsets[i + 1] - offsets[i] for i in (10, 100, 200, 250)]
    assert "CRC" in skipped[0].reason and "sync marker" in skipped[3].reason


def test_zero_length_and_random_files_are_decode_errors_unless_salvaged(tmp_path):
    empty = tmp_path / "empty.pbrec"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.pbrec"
    noise.write_bytes(os.urandom(100_000))
    for path in (empty, noise):
        with pytest.raises(DecodeError) as error:
            RecordingReader(path)
        assert error.value.layer == "recording" and error.value.offset == 0
    assert read_recording(empty, salvage=True) == (None, [], [])
    header, units, skipped = read_recording(noise, salvage=True)
    assert header is None and units == []
    assert sum(s.length for s in skipped) == 100_000 and skipped[0].offset == 0


def test_damaged_header_is_salvaged_on_request(tmp_path, recording):
    source, units = recording
    data = bytearray(source.read_bytes())
    data[30] ^= 0x01
    path = tmp_path / "bad-header.pbrec"
    path.write_bytes(bytes(data))
    with pytest.raises(DecodeError):
        RecordingReader(path)
    header, read, skipped = read_recording(path, salvage=True)
    assert header is None and read == units and skipped[0].offset == 0


def test_future_version_is_refused_with_one_line(tmp_path):
    body = msgpack.packb([0, {"magic": "paleblue-recording", "format_version": FORMAT_VERSION + 1}])
    path = tmp_path / "future.pbrec"
    path.write_bytes(frame_body(body) + body + b"new things")
    with pytest.raises(RecordingVersionError) as error:
        RecordingReader(path)
    assert "\n" not in str(error.value) and "newer" in str(error.value)
    with pytest.raises(RecordingVersionError):  # salvage reads damaged headers, not newer formats
        RecordingReader(path, salvage=True)


def test_memory_stays_flat_while_streaming_a_large_file(tmp_path):
    path = tmp_path / "big.pbrec"
    _write(path, 6000, size=4096, index_interval_bytes=1 << 20)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with RecordingReader(path) as reader:
            count = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6000 and size > 23 << 20
    assert peak < 6 << 20  # a few 1 MiB chunks, not the file


# ------------------------------------------------------------------ seeking


@pytest.mark.parametrize("index", [0, 1, 5, 17, 120, 151, 298, 299])
def test_seek_starts_at_the_first_record_at_or_after_the_time(recording, index):
    path, units = recording
    with RecordingReader(path) as reader:
        start = units[index].receive_ns
        assert list(reader.units(start)) == units[index:]
        assert list(reader.units(start - 1)) == units[index:]
        offset = reader.find_start_offset(start)
    unit_offset = _unit_offsets(path)[index]
    assert offset <= unit_offset
    assert index < 20 or offset > unit_offset - 2 * 4096  # started near it, not at the beginning


def test_seek_before_the_start_and_after_the_end(recording):
    path, units = recording
    with RecordingReader(path) as reader:
        assert list(reader.units(0)) == units
        assert list(reader.units(units[-1].receive_ns + 1)) == []


def test_index_chain_is_found_from_the_end_of_the_file(recording):
    path, units = recording
    with RecordingReader(path) as reader:
        chain = reader.index()
    assert all(isinstance(record, IndexRecord) for _, record in chain)
    assert sum(record.records for _, record in chain) == len(units)


def test_seek_survives_a_torn_tail_and_a_broken_index_chain(tmp_path, recording):
    source, units = recording
    data = bytearray(source.read_bytes())
    with RecordingReader(source) as reader:
        chain = reader.index()
    middle_index_offset = chain[len(chain) // 2][0]
    data[middle_index_offset + 14] ^= 0xFF  # break a link in the chain
    path = tmp_path / "broken.pbrec"
    path.write_bytes(bytes(data[:-20]))  # and lose the final index record to a tear
    with RecordingReader(path) as reader:
        everything = list(reader)
        assert everything == units[: len(everything)] and len(everything) >= len(units) - 1
        for index in (3, 100, 250):
            assert list(reader.units(units[index].receive_ns)) == everything[index:]


def test_seek_without_any_index_scans_from_the_start(tmp_path):
    path = tmp_path / "small.pbrec"
    with open(path, "wb") as raw:  # a killed writer that never reached its first index record
        raw.write(encode_record(RecordingHeader("0.1.0", "no index")))
        for i in range(10):
            raw.write(encode_record(_unit(i)))
    with RecordingReader(path) as reader:
        assert reader.find_start_offset(_unit(5).receive_ns) == 0
        assert list(reader.units(_unit(5).receive_ns)) == [_unit(i) for i in range(5, 10)]
