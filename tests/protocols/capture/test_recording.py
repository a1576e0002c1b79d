"""The recording format: round trips, chunking, tears, corruption, versions, hostile bytes."""

from __future__ import annotations

import struct
import zlib

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocols.capture.recording import (
    FORMAT_VERSION,
    FRAME_HEADER,
    FRAME_HEADER_LENGTH,
    MAX_BODY_LENGTH,
    SYNC_MARKER,
    Direction,
    IndexRecord,
    RecordingDecoder,
    RecordingHeader,
    RecordingVersionError,
    SkippedBytes,
    UnitRecord,
    decode_body,
    decode_frame,
    encode_record,
    frame_body,
    parse_frame_header,
)
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Layer
from protocols.errors import DecodeError

U64 = 2**64 - 1

units = st.builds(
    UnitRecord,
    receive_ns=st.integers(0, U64),
    direction=st.sampled_from(Direction),
    layer=st.sampled_from(Layer),
    session=st.integers(0, 2**32 - 1),
    sequence=st.integers(0, U64),
    payload=st.binary(max_size=200),
)
indexes = st.builds(
    IndexRecord,
    previous_index_offset=st.integers(-1, U64),
    block_start=st.integers(0, U64),
    min_receive_ns=st.integers(0, U64),
    max_receive_ns=st.integers(0, U64),
    records=st.integers(0, U64),
)
config_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), U64)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.binary(max_size=10)
)
configs = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        config_leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=12,
    ),
    max_size=5,
)
headers = st.builds(
    RecordingHeader,
    paleblue_version=st.text(max_size=12),
    scenario=st.text(max_size=20),
    config=configs,
    start_ns=st.integers(0, U64),
    index_interval_bytes=st.integers(1, 2**40),
)
streams = st.tuples(headers, st.lists(units | indexes, max_size=12))


def _encode(header: RecordingHeader, records: list) -> tuple[bytes, list[int]]:
    """The bytes of a recording and the offset of each of its records (header first)."""
    frames = [encode_record(r) for r in [header, *records]]
    offsets, position = [], 0
    for frame in frames:
        offsets.append(position)
        position += len(frame)
    return b"".join(frames), offsets


def _decode(data: bytes, cuts: list[int] = (), **options) -> list:
    decoder = RecordingDecoder(**options)
    entries, previous = [], 0
    for cut in [*sorted(cuts), len(data)]:
        entries += decoder.feed(data[previous:cut])
        previous = cut
    return entries + decoder.close()


def _unit(sequence: int, size: int = 40) -> UnitRecord:
    payload = bytes([sequence % 256]) * size
    return UnitRecord(1_000 + sequence, Direction.DOWNLINK, Layer.CADUS, 7, sequence, payload)


HEADER = RecordingHeader("0.1.0", "test", {"downlink": {"frame_length": 1115}}, 1)


# ------------------------------------------------------------------ declaration vs fast path


@given(st.binary(max_size=300))
def test_frame_header_fast_path_is_the_construct_declaration(body):
    header = frame_body(body)
    length = struct.pack(">I", len(body))
    assert header == FRAME_HEADER.build({"crc32": zlib.crc32(length + body), "length": len(body)})
    parsed = FRAME_HEADER.parse(header)
    assert parse_frame_header(header) == (parsed.crc32, parsed.length)
    assert len(header) == FRAME_HEADER_LENGTH == FRAME_HEADER.sizeof()


# ------------------------------------------------------------------ round trips


@given(streams)
def test_round_trip_returns_every_record_at_its_offset(stream):
    header, records = stream
    data, offsets = _encode(header, records)
    entries = _decode(data)
    assert [e.item for e in entries] == [header, *records]
    assert [e.offset for e in entries] == offsets


@given(streams, st.data())
def test_any_chunking_gives_the_same_entries(stream, data):
    encoded, _ = _encode(*stream)
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=30))
    assert _decode(encoded, cuts) == _decode(encoded)


@given(streams)
def test_decode_frame_reads_each_frame_alone(stream):
    header, records = stream
    data, offsets = _encode(header, records)
    for record, offset in zip([header, *records], offsets, strict=True):
        decoded, length = decode_frame(data, offset)
        assert decoded == record
        assert length == len(encode_record(record))


def test_header_config_round_trips_nested_values():
    config = {"vcids": [0, 1], "rs": {"e": 16, "i": 5}, 3: b"\x00"}
    header = RecordingHeader("0.1.0", "earth-moon", config, 42)
    (entry,) = _decode(encode_record(header))
    assert entry.item == header


# ------------------------------------------------------------------ tears and corruption


@given(streams, st.data())
def test_truncated_stream_returns_every_whole_record_and_reports_the_tear(stream, data):
    header, records = stream
    encoded, offsets = _encode(header, records)
    cut = data.draw(st.integers(0, len(encoded)))
    header_end = offsets[1] if records else len(encoded)
    if cut < header_end:
        with pytest.raises(DecodeError) as error:
            _decode(encoded[:cut])
        assert error.value.layer == "recording" and error.value.offset == 0
        return
    entries = _decode(encoded[:cut])
    ends = [*offsets[1:], len(encoded)]
    whole = [r for r, end in zip([header, *records], ends, strict=True) if end <= cut]
    items = [e.item for e in entries]
    boundary = max([0, *(end for end in ends if end <= cut)])
    if cut == boundary:
        assert items == whole
    else:
        assert items == [*whole, SkippedBytes(boundary, cut - boundary, items[-1].reason)]
        assert "torn" in items[-1].reason or "too few" in items[-1].reason


@given(streams, st.data())
def test_a_corrupted_record_in_the_middle_is_skipped_and_the_rest_read(stream, data):
    header, records = stream
    assume(records)
    encoded, offsets = _encode(header, records)
    victim = data.draw(st.integers(1, len(records)))  # never the header
    start = offsets[victim]
    end = offsets[victim + 1] if victim + 1 < len(offsets) else len(encoded)
    position = data.draw(st.integers(start, end - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = bytearray(encoded)
    damaged[position] ^= flip
    items = [e.item for e in _decode(bytes(damaged), data.draw(st.lists(st.integers(0, len(encoded)))))]
    expected = [header, *records]
    skipped = [i for i in items if isinstance(i, SkippedBytes)]
    assert [i for i in items if not isinstance(i, SkippedBytes)] == expected[:victim] + expected[victim + 1 :]
    assert [(s.offset, s.length) for s in skipped] == [(start, end - start)]
    assert skipped[0].reason


@given(streams, st.data())
def test_garbage_between_records_is_reported_and_skipped(stream, data):
    header, records = stream
    encoded, offsets = _encode(header, records)
    where = data.draw(st.sampled_from([*offsets[1:], len(encoded)]))
    garbage = data.draw(st.binary(min_size=1, max_size=100))
    damaged = encoded[:where] + garbage + encoded[where:]
    items = [e.item for e in _decode(damaged)]
    assert [i for i in items if not isinstance(i, SkippedBytes)] == [header, *records]
    assert [(s.offset, s.length) for s in items if isinstance(s, SkippedBytes)] == [(where, len(garbage))]


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=5))
def test_random_bytes_raise_only_decode_error_and_salvage_never_raises(data, cuts):
    cuts = [c for c in cuts if c <= len(data)]
    try:
        _decode(data, cuts)
    except DecodeError as error:
        assert error.layer == "recording"
    entries = _decode(data, cuts, expect_header=False)
    next_offsets = [e.offset for e in entries[1:]] + [len(data)]
    for entry, next_offset in zip(entries, next_offsets, strict=False):  # empty input: no entries
        if isinstance(entry.item, SkippedBytes):  # skipped spans and records tile the input
            assert entry.offset + entry.item.length == next_offset


@given(streams, st.binary(min_size=1, max_size=300))
def test_random_bytes_after_a_good_prefix_lose_nothing_before_them(stream, junk):
    header, records = stream
    encoded, _ = _encode(header, records)
    items = [e.item for e in _decode(encoded + junk)]
    assert items[: len(records) + 1] == [header, *records]


def test_every_byte_position_of_a_small_recording_can_be_corrupted():
    records = [_unit(i) for i in range(4)]
    encoded, offsets = _encode(HEADER, records)
    for position in range(offsets[1], len(encoded)):
        damaged = bytearray(encoded)
        damaged[position] ^= 0x40
        items = [e.item for e in _decode(bytes(damaged))]
        good = [i for i in items if isinstance(i, UnitRecord)]
        assert len(good) == 3 and set(good) < set(records), position
        assert sum(isinstance(i, SkippedBytes) for i in items) == 1


def test_crc_good_but_malformed_bodies_are_skipped_with_a_reason():
    bodies = {
        b"\xc1": "not msgpack",
        msgpack.packb({"a": 1}): "record kind",
        msgpack.packb([9, 1]): "unknown record kind 9",
        msgpack.packb([1, 0, 5, 1, 0, 0, b""]): "direction",
        msgpack.packb([1, 0, 0, 99, 0, 0, b""]): "layer",
        msgpack.packb([1, 0, 0, 1, 2**33, 0, b""]): "session",
        msgpack.packb([1, -1, 0, 1, 0, 0, b""]): "receive_ns",
        msgpack.packb([1, 0, 0, 1, 0, 0, "text"]): "payload",
        msgpack.packb([1, 0, 0, 1]): "fields",
        msgpack.packb([2, -2, 0, 0, 0, 0]): "previous index",
    }
    for body, reason in bodies.items():
        data = encode_record(HEADER) + frame_body(body) + body + encode_record(_unit(1))
        items = [e.item for e in _decode(data)]
        assert items[0] == HEADER and items[2] == _unit(1)
        assert isinstance(items[1], SkippedBytes) and reason in items[1].reason, (body, items[1])


@given(st.recursive(config_leaves, lambda inner: st.lists(inner, max_size=5), max_leaves=20))
def test_decode_body_of_any_msgpack_value_returns_or_raises_decode_error(value):
    try:
        decode_body(msgpack.packb(value))
    except DecodeError as error:
        assert error.layer == "recording"


def test_an_implausible_length_is_skipped_and_memory_stays_bounded():
    false_frame = SYNC_MARKER + struct.pack(">II", 0, MAX_BODY_LENGTH)  # claims 16 MiB, CRC will fail
    decoder = RecordingDecoder()
    decoder.feed(encode_record(HEADER))
    decoder.feed(false_frame)
    chunk = b"\x00" * (1 << 20)
    peak = 0
    for _ in range(40):
        decoder.feed(chunk)
        peak = max(peak, decoder.buffered)
    items = [e.item for e in decoder.feed(encode_record(_unit(1)))] + [e.item for e in decoder.close()]
    assert peak <= MAX_BODY_LENGTH + FRAME_HEADER_LENGTH + len(chunk)
    assert items[-1] == _unit(1)
    assert sum(isinstance(i, SkippedBytes) for i in items) == 1
    huge = SYNC_MARKER + struct.pack(">II", 0, MAX_BODY_LENGTH + 1)
    skipped = _decode(encode_record(HEADER) + huge + encode_record(_unit(2)))[1].item
    assert "exceeds" in skipped.reason


# ------------------------------------------------------------------ header and version


def test_future_format_version_is_refused_with_one_clear_line():
    future = msgpack.packb([0, {"magic": "paleblue-recording", "format_version": FORMAT_VERSION + 1}])
    with pytest.raises(RecordingVersionError) as error:
        _decode(frame_body(future) + future + b"whatever a future version writes")
    message = str(error.value)
    assert "\n" not in message
    assert f"version {FORMAT_VERSION + 1}" in message and "upgrade paleblue" in message
    assert isinstance(error.value, DecodeError) and error.value.layer == "recording"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 this is a zip", "no sync marker"),
        (b"\x89PB", "too short"),
        (encode_record(_unit(1)), "not a header"),
        (encode_record(HEADER)[:-1], "torn"),
        (encode_record(HEADER)[:-1] + b"\xff", "CRC"),
    ],
)
def test_not_a_recording_raises_decode_error_at_offset_zero(data, reason):
    with pytest.raises(DecodeError) as error:
        _decode(data)
    assert error.value.layer == "recording" and error.value.offset == 0
    assert reason in str(error.value)


def test_wrong_magic_and_bad_versions_are_decode_errors():
    for header in (
        {"magic": "something-else", "format_version": 1},
        {"magic": "paleblue-recording", "format_version": 0},
        {"magic": "paleblue-recording", "format_version": "1"},
        {"magic": "paleblue-recording", "format_version": 1},  # required fields missing
    ):
        body = msgpack.packb([0, header])
        with pytest.raises(DecodeError) as error:
            _decode(frame_body(body) + body)
        assert not isinstance(error.value, RecordingVersionError)


# ------------------------------------------------------------------ encoding checks


@pytest.mark.parametrize(
    "record",
    [
        UnitRecord(-1, Direction.DOWNLINK, Layer.CADUS, 0, 0, b""),
        UnitRecord(0, Direction.DOWNLINK, Layer.CADUS, 2**32, 0, b""),
        UnitRecord(0, Direction.DOWNLINK, Layer.CADUS, 0, 2**64, b""),
        UnitRecord(0, Direction.DOWNLINK, Layer.CADUS, 0, 0, "not bytes"),
        IndexRecord(-2, 0, 0, 0, 0),
        RecordingHeader("0.1.0", config={"bad": object()}),
    ],
)
def test_encoding_refuses_values_the_format_cannot_hold(record):
    with pytest.raises(ValueError):
        encode_record(record)


def test_direction_parses_names_topics_and_numbers():
    assert Direction.parse("downlink") is Direction.parse(TOPIC_DOWNLINK) is Direction.DOWNLINK
    assert Direction.parse(0) is Direction.DOWNLINK
    assert Direction.parse("UPLINK") is Direction.parse(TOPIC_UPLINK) is Direction.UPLINK
    assert Direction.UPLINK.topic == TOPIC_UPLINK
    for bad in ("sideways", b"xx", 7):
        with pytest.raises(ValueError):
            Direction.parse(bad)
