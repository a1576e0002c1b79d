"""Image segments placed in bulk have exactly the effects of placing them one packet at a time.

The ground station takes runs of equal-length packets column-wise (see
``GroundStation.handle_packet_run``); these tests run the same damaged streams through it with
bulk placement on and off and require identical summaries, fault records and products. The same
holds for messages decoded joined (``MessageBatch``, how recordings are decoded) against one
message at a time.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.imaging import image_packets
from groundstation.decode import decode_file
from groundstation.recorder import FsyncPolicy, RecordingWriter
from groundstation.recording_reader import RecordingReader
from groundstation.station import GroundStation, MessageBatch
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.errors import DecodeError
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import (
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    SegmentColumns,
    iter_segments,
)
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SequenceCounter, SequenceFlags
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmSecondaryHeader, pack_tm_packet

WHEN = datetime(2020, 7, 27, tzinfo=UTC)


def _pass(images: int = 2, seed: int = 3) -> list[bytes]:
    """Header and segment packets of a few small images: 40 segments of 60 octets each."""
    sequence, rng, packets = SequenceCounter(), np.random.default_rng(seed), []
    for image_id in range(1, images + 1):
        pixels = rng.integers(0, 4096, size=(30, 40), dtype=np.uint16)
        _, some = image_packets(
            image_id, pixels, 12, 0.01, WHEN, ImageMetadata(scenario="bulk"), sequence,
            CucTime(1000 + image_id), 60,
        )  # fmt: skip
        packets += some
    return packets


def _damage(packets: list[bytes], rnd: random.Random, edits: int) -> list[bytes]:
    """What a bad link or a hostile file does to a packet stream."""
    out = list(packets)
    for _ in range(edits):
        i = rnd.randrange(len(out))
        kind = rnd.choice(["drop", "duplicate", "swap", "flip", "garbage", "replay", "forged header"])
        if kind == "drop":
            del out[i]
        elif kind == "duplicate":
            out.insert(i, out[i])
        elif kind == "swap" and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
        elif kind == "flip":
            damaged = bytearray(out[i])
            damaged[rnd.randrange(len(damaged))] ^= 1 << rnd.randrange(8)
            out[i] = bytes(damaged)
        elif kind == "garbage":
            out.insert(i, rnd.randbytes(rnd.randrange(1, 40)))
        elif kind == "replay":  # a stretch sent again (a retransmission after a pass break)
            out[i:i] = out[max(0, i - 20) : i]
        elif kind == "forged header":  # a spoof: a real image's id or another, any size
            out.insert(i, _forged_header(rnd))
        if not out:
            out = [packets[0]]
    return out


def _forged_header(rnd: random.Random) -> bytes:
    """An image header packet that no segment of its own follows: small, huge or a real id."""
    image_id = rnd.choice([1, 2, 3, 99])
    width, height = rnd.choice([(4, 4), (40, 30), (2048, 2048), (8192, 8192)])
    octets = width * height * 2
    header = ImageHeader(
        image_id, width, height, 12, 1, CucTime(rnd.choice([3, 1001])), octets, 60, -(-octets // 60), 0, {}
    )
    secondary = TmSecondaryHeader(SERVICE_IMAGE, SUBTYPE_IMAGE_HEADER, CucTime(3))
    return pack_tm_packet(
        Apid.CAMERA, rnd.randrange(1 << 14), secondary, header.pack(), SequenceFlags.UNSEGMENTED
    )


def _remember_faults(station: GroundStation, faults: list | None = None) -> list[tuple[str, str]]:
    """Every fault the station records from now on, in order (appended to ``faults``)."""
    faults = [] if faults is None else faults
    record = station.faults.record

    def remember(kind: str, detail: str = "") -> None:
        faults.append((kind, detail))
        record(kind, detail)

    station.faults.record = remember  # type: ignore[method-assign]
    return faults


def _comparable_summary(station: GroundStation) -> dict:
    """The station's summary at the end, without what differs from run to run (time, file names)."""
    summary = station.finish()
    summary.pop("elapsed_s")
    for product in summary["images"]:
        product.pop("files")
    return summary


def _feed_in_cuts(station: GroundStation, layer: Layer, stream: bytes, cuts: list[int]) -> None:
    """``stream`` fed to the station in pieces ending at ``cuts`` (clipped, sorted, deduplicated)."""
    start = 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        station.feed_stream(layer, stream[start:cut])
        start = cut


def _handle_messages(
    station: GroundStation, messages: list[list[bytes]], joined: bool, max_octets: int
) -> None:
    """Messages joined as the receive loop joins them (MessageBatch), or handled one at a time."""
    if joined:
        batch = MessageBatch(station)
        batch.max_octets = max_octets
        for message in messages:
            batch.add(message)
        batch.flush()
    else:
        for message in messages:
            station.handle_message(message)


def _decode(stream: bytes, cuts: list[int], bulk: bool, out: Path) -> tuple[dict, list[tuple[str, str]]]:
    station = GroundStation(out, write_products=False)
    station.bulk_segments = bulk
    faults = _remember_faults(station)
    _feed_in_cuts(station, Layer.PACKETS, stream, cuts)
    return _comparable_summary(station), faults


@pytest.fixture(scope="module")
def clean_pass() -> list[bytes]:
    return _pass()


def test_a_clean_pass_is_placed_in_bulk_and_gives_the_same_products(clean_pass, tmp_path: Path) -> None:
    stream = b"".join(clean_pass)
    bulk, bulk_faults = _decode(stream, [], True, tmp_path / "bulk")
    one_by_one, faults = _decode(stream, [], False, tmp_path / "single")
    assert bulk == one_by_one and bulk_faults == faults == []
    assert [p["crc_ok"] for p in bulk["images"]] == [True, True]


def test_bulk_placement_really_happens(clean_pass, tmp_path: Path, monkeypatch) -> None:
    """Not a vacuous comparison: with bulk on, most segments never reach add_segment."""
    calls = []
    original = ImageReassembler.add_segment
    monkeypatch.setattr(
        ImageReassembler, "add_segment", lambda self, *a: calls.append(1) or original(self, *a)
    )
    _decode(b"".join(clean_pass), [], True, tmp_path)
    assert len(calls) < len(clean_pass) // 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32), edits=st.integers(0, 12), cuts=st.lists(st.integers(0, 12_000), max_size=4)
)
def test_any_damaged_stream_has_the_same_effects_in_bulk_and_one_by_one(
    clean_pass, tmp_path_factory, seed: int, edits: int, cuts: list[int]
) -> None:
    stream = b"".join(_damage(clean_pass, random.Random(seed), edits))
    out = tmp_path_factory.mktemp("bulk")
    assert _decode(stream, cuts, True, out / "bulk") == _decode(stream, cuts, False, out / "single")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), edits=st.integers(0, 8))
def test_packet_messages_have_the_same_effects_in_bulk_and_one_by_one(
    clean_pass, tmp_path_factory, seed: int, edits: int
) -> None:
    """The live path: each message a whole number of packets, long enough to hold runs."""
    packets = _damage(clean_pass, random.Random(seed), edits)
    results = []
    for bulk in (True, False):
        station = GroundStation(tmp_path_factory.mktemp("messages"), write_products=False)
        station.bulk_segments = bulk
        for sequence, start in enumerate(range(0, len(packets), 25)):
            payload = b"".join(packets[start : start + 25])
            station.handle_message([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, sequence).pack(), payload])
        results.append(_comparable_summary(station))
    assert results[0] == results[1]


def _segment_stream(rnd: random.Random) -> tuple[ImageReassembler, ImageReassembler, list]:
    """Two reassemblers that know the same image, and a damaged list of its segments."""
    pixels = rnd.randbytes(2 * 40 * 30)
    _, packets = image_packets(
        7, np.frombuffer(pixels, ">u2").reshape(30, 40) & 0x0FFF, 12, 0.01, WHEN, ImageMetadata(),
        SequenceCounter(), CucTime(5), 100,
    )  # fmt: skip
    from protocols.image.image_transport import ImageHeader
    from protocols.packets.space_packet import SpacePacket
    from protocols.pus.packets import unpack_tm_packet

    header = ImageHeader.unpack(unpack_tm_packet(SpacePacket.unpack(packets[0])[0])[1])
    pixel_data = b"".join(unpack_tm_packet(SpacePacket.unpack(p)[0])[1][12:] for p in packets[1:])
    segments = list(iter_segments(header, pixel_data))
    damaged = []
    for flags, segment in segments:
        roll = rnd.random()
        if roll < 0.1:
            continue  # lost
        if roll < 0.2:
            damaged.append((flags, segment))  # duplicated
        elif roll < 0.25:
            flags = SequenceFlags((int(flags) + 1) % 4)
        elif roll < 0.3:
            segment = ImageSegment(segment.image_id, segment.segment_index, segment.offset + 1, segment.data)
        elif roll < 0.33:
            segment = ImageSegment(segment.image_id + 1, segment.segment_index, segment.offset, segment.data)
        damaged.append((flags, segment))
    if rnd.random() < 0.5:
        damaged.reverse()
    one, many = ImageReassembler(), ImageReassembler()
    one.add_header(header)
    many.add_header(header)
    return one, many, damaged


@given(st.integers(0, 2**32))
def test_reassembler_bulk_then_the_rest_one_by_one_equals_one_by_one(seed: int) -> None:
    one, many, damaged = _segment_stream(random.Random(seed))
    expected = [one.add_segment(flags, segment) for flags, segment in damaged]
    got: list = []
    position = 0
    while position < len(damaged):
        stretch = damaged[position:]
        width = len(stretch[0][1].data)
        stretch = stretch[
            : next((i for i, (_, s) in enumerate(stretch) if len(s.data) != width), len(stretch))
        ]
        payloads = np.array(
            [list(s.pack()) for _, s in stretch], dtype=np.uint8
        )  # every segment of the stretch has the same length
        taken, done = many.add_segment_run(
            np.array([int(f) for f, _ in stretch]), SegmentColumns.from_payloads(payloads)
        )
        if taken:
            got += [None] * (taken - 1) + [done]
            position += taken
        else:
            got.append(many.add_segment(*damaged[position]))
            position += 1
    assert many.counters == one.counters and many.rejections == one.rejections
    assert [None if r is None else (r.pixels, r.missing) for r in got] == [
        None if r is None else (r.pixels, r.missing) for r in expected
    ]


def _messages(packets: list[bytes], rnd: random.Random) -> list[list[bytes]]:
    """A recording's downlink: a few packets a message, and what a bad capture adds (lost and
    repeated messages, torn payloads, bad envelopes, other topics and layers)."""
    messages, sequence, start, session = [], 0, 0, 1
    while start < len(packets):
        size = rnd.randint(1, 12)
        payload = b"".join(packets[start : start + size])
        start += size
        sequence += 1 + (rnd.random() < 0.05) * rnd.randint(1, 3)  # now and then messages lost
        if rnd.random() < 0.03:  # the probe restarts: a new session, counting from 0
            session, sequence = session + 1, 0
        kind = rnd.choices(
            ["good", "torn", "bad envelope", "other topic", "cadus", "repeat"], [20, 1, 1, 1, 1, 1]
        )[0]
        envelope = Envelope(Layer.PACKETS, session, sequence).pack()
        if kind == "torn":
            payload = payload[: rnd.randrange(len(payload))] + rnd.randbytes(rnd.randint(0, 5))
        elif kind == "bad envelope":
            envelope = rnd.randbytes(len(envelope))
        elif kind == "cadus":
            envelope = Envelope(Layer.CADUS, session, sequence).pack()
        elif kind == "repeat" and messages:
            messages.append(messages[-1])
        messages.append([b"other" if kind == "other topic" else TOPIC_DOWNLINK, envelope, payload])
    return messages


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), edits=st.integers(0, 8), max_octets=st.sampled_from([1, 500, 4 << 20]))
def test_messages_joined_have_the_same_effects_as_one_at_a_time(
    clean_pass, tmp_path_factory, seed: int, edits: int, max_octets: int
) -> None:
    """How recordings are decoded (MessageBatch) against GroundStation.handle_message on each."""
    rnd = random.Random(seed)
    messages = _messages(_damage(clean_pass, rnd, edits), rnd)
    results = []
    for joined in (True, False):
        station = GroundStation(tmp_path_factory.mktemp("joined"), write_products=False)
        faults = _remember_faults(station)
        _handle_messages(station, messages, joined, max_octets)
        results.append((_comparable_summary(station), faults))
    assert results[0] == results[1]


def test_joined_messages_go_in_bulk(clean_pass, tmp_path: Path, monkeypatch) -> None:
    """Not a vacuous comparison: joined, messages of a few packets reach the bulk path."""
    calls = []
    original = GroundStation.handle_packet_run
    monkeypatch.setattr(
        GroundStation, "handle_packet_run", lambda self, run: calls.append(len(run)) or original(self, run)
    )
    station = GroundStation(tmp_path, write_products=False)
    batch = MessageBatch(station)
    for sequence, start in enumerate(range(0, len(clean_pass), 4)):
        payload = b"".join(clean_pass[start : start + 4])
        batch.add([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, sequence).pack(), payload])
    batch.flush()
    assert sum(calls) > len(clean_pass) // 2
    assert [p["crc_ok"] for p in station.finish()["images"]] == [True, True]


def _recording_one_message_at_a_time(path: Path, out: Path) -> tuple[dict, list[tuple[str, str]]]:
    """How recordings were decoded before messages were joined: the reference."""
    station = GroundStation(out, write_products=False)
    faults = _remember_faults(station)

    def skipped(item) -> None:
        station.faults.record("recording bytes skipped", f"{item.length} at {item.offset}: {item.reason}")

    with RecordingReader(path, on_skip=skipped, salvage=True) as reader:
        for unit in reader:
            if unit.direction.topic == TOPIC_DOWNLINK:
                envelope = Envelope(unit.layer, unit.session, unit.sequence).pack()
                station.handle_message([TOPIC_DOWNLINK, envelope, unit.payload])
    return station.finish(), faults


def _write_recording(path: Path, messages: list[list[bytes]]) -> None:
    with RecordingWriter(path, scenario="joined", fsync=FsyncPolicy.NEVER) as writer:
        for n, (topic, envelope, payload) in enumerate(messages):
            if topic != TOPIC_DOWNLINK:
                continue
            with contextlib.suppress(DecodeError):  # a bad envelope is never recorded
                writer.write("downlink", topic, envelope, payload, 1_000_000 * n)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), smashes=st.integers(0, 3))
def test_a_damaged_recording_decodes_as_it_did_one_message_at_a_time(
    clean_pass, tmp_path_factory, monkeypatch, seed: int, smashes: int
) -> None:
    rnd = random.Random(seed)
    work = tmp_path_factory.mktemp("recording")
    path = work / "pass.pbrec"
    _write_recording(path, _messages(_damage(clean_pass, rnd, 4), rnd))
    data = bytearray(path.read_bytes())
    for _ in range(smashes):  # damage inside the file: skipped bytes reported in the middle
        at = rnd.randrange(200, len(data))
        data[at : at + rnd.randint(1, 300)] = rnd.randbytes(40)
    path.write_bytes(bytes(data))

    reference, reference_faults = _recording_one_message_at_a_time(path, work / "reference")
    faults: list[tuple[str, str]] = []
    original_init = GroundStation.__init__

    def init_remembering_faults(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        _remember_faults(self, faults)

    with monkeypatch.context() as patch:
        patch.setattr(GroundStation, "__init__", init_remembering_faults)
        summary = decode_file(path, work / "joined", "recording", write_products=False)
    for result in (summary, reference):
        result.pop("elapsed_s")
        result.pop("input", None)
        for product in result["images"]:
            product.pop("files")
    assert summary == reference
    assert faults == reference_faults
    assert reference_faults or not smashes  # damage was seen, not silently passed over
