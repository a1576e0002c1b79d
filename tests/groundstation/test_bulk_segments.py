"""Image segments placed in bulk have exactly the effects of placing them one packet at a time.

The ground station takes runs of equal-length packets column-wise (see
``GroundStation.handle_packet_run``); these tests run the same damaged streams through it with
bulk placement on and off and require identical summaries, fault records and products.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.imaging import image_packets
from groundstation.station import GroundStation
from protocols.image_transport import ImageReassembler, ImageSegment, SegmentColumns, iter_segments
from protocols.space_packet import SequenceCounter, SequenceFlags
from protocols.time_code import CucTime
from protocols.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer

WHEN = datetime(2020, 7, 27, tzinfo=UTC)


def _pass(images: int = 2, seed: int = 3) -> list[bytes]:
    """Header and segment packets of a few small images: 40 segments of 60 octets each."""
    sequence, rng, packets = SequenceCounter(), np.random.default_rng(seed), []
    for image_id in range(1, images + 1):
        pixels = rng.integers(0, 4096, size=(30, 40), dtype=np.uint16)
        _, some = image_packets(
            image_id, pixels, 12, 0.01, WHEN, {"scenario": "bulk"}, sequence, CucTime(1000 + image_id), 60
        )
        packets += some
    return packets


def _damage(packets: list[bytes], rnd: random.Random, edits: int) -> list[bytes]:
    """What a bad link or a hostile file does to a packet stream."""
    out = list(packets)
    for _ in range(edits):
        i = rnd.randrange(len(out))
        kind = rnd.choice(["drop", "duplicate", "swap", "flip", "garbage", "replay"])
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
        if not out:
            out = [packets[0]]
    return out


def _decode(stream: bytes, cuts: list[int], bulk: bool, out: Path) -> tuple[dict, list[tuple[str, str]]]:
    station = GroundStation(out, write_products=False)
    station.bulk_segments = bulk
    faults: list[tuple[str, str]] = []
    record = station.faults.record

    def remember(kind: str, detail: str = "") -> None:
        faults.append((kind, detail))
        record(kind, detail)

    station.faults.record = remember  # type: ignore[method-assign]
    start = 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        station.feed_stream(Layer.PACKETS, stream[start:cut])
        start = cut
    summary = station.finish()
    summary.pop("elapsed_s")
    for product in summary["images"]:
        product.pop("files")
    return summary, faults


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
        summary = station.finish()
        summary.pop("elapsed_s")
        for product in summary["images"]:
            product.pop("files")
        results.append(summary)
    assert results[0] == results[1]


def _segment_stream(rnd: random.Random) -> tuple[ImageReassembler, ImageReassembler, list]:
    """Two reassemblers that know the same image, and a damaged list of its segments."""
    pixels = rnd.randbytes(2 * 40 * 30)
    _, packets = image_packets(
        7, np.frombuffer(pixels, ">u2").reshape(30, 40) & 0x0FFF, 12, 0.01, WHEN, {}, SequenceCounter(),
        CucTime(5), 100,
    )  # fmt: skip
    from protocols.image_transport import ImageHeader
    from protocols.pus import unpack_tm_packet
    from protocols.space_packet import SpacePacket

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
