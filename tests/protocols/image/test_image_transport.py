"""Image segmentation and reassembly for any image and segment size, under loss and reordering."""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.image.image_transport import (
    MISSION_IMAGE_LIMITS,
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    ReassembledImage,
    iter_segments,
    make_image_header,
    segment_flags,
)
from protocols.packets.space_packet import SequenceFlags
from protocols.packets.time_code import CucTime


def _image(width: int, height: int, bit_depth: int, seed: int) -> bytes:
    sample = 1 if bit_depth <= 8 else 2
    return random.Random(seed).randbytes(width * height * sample)


images = st.tuples(
    st.integers(1, 64), st.integers(1, 64), st.integers(1, 16), st.integers(1, 700), st.integers(0, 2**32)
)


@given(images)
def test_header_round_trip(spec: tuple[int, int, int, int, int]) -> None:
    width, height, depth, segment, seed = spec
    pixels = _image(width, height, depth, seed)
    header = make_image_header(
        9, pixels, width, height, depth, 1234, CucTime(99, 1), {"earth": [1.5, 2.5]}, segment
    )
    assert ImageHeader.unpack(header.pack()) == header
    assert header.crc32 == zlib.crc32(pixels)


@given(images, st.randoms(use_true_random=False))
def test_reassembly_in_any_order(spec: tuple[int, int, int, int, int], rnd: random.Random) -> None:
    width, height, depth, segment, seed = spec
    pixels = _image(width, height, depth, seed)
    header = make_image_header(1, pixels, width, height, depth, 1, CucTime(0), {}, segment)
    segments = list(iter_segments(header, pixels))
    rnd.shuffle(segments)
    reassembler = ImageReassembler()
    done = []
    header_at = rnd.randrange(len(segments) + 1)  # segments may arrive before their header
    for i, (flags, seg) in enumerate(segments):
        if i == header_at:
            done += reassembler.add_header(ImageHeader.unpack(header.pack()))
        result = reassembler.add_segment(flags, ImageSegment.unpack(seg.pack()))
        if result is not None:
            done.append(result)
    if header_at == len(segments):
        done += reassembler.add_header(header)
    assert len(done) == 1
    assert done[0].pixels == pixels and done[0].crc_ok


@given(images, st.sets(st.integers(0, 10_000), min_size=1), st.booleans())
def test_loss_gives_incomplete_image_with_exact_missing_ranges(
    spec: tuple[int, int, int, int, int], lost: set[int], duplicate: bool
) -> None:
    width, height, depth, segment, seed = spec
    pixels = _image(width, height, depth, seed)
    header = make_image_header(2, pixels, width, height, depth, 1, CucTime(0), {}, segment)
    segments = list(iter_segments(header, pixels))
    lost = {i % len(segments) for i in lost}
    reassembler = ImageReassembler()
    reassembler.add_header(header)
    for flags, seg in segments:
        if seg.segment_index not in lost:
            assert reassembler.add_segment(flags, seg) is None
            if duplicate:
                reassembler.add_segment(flags, seg)
    if len(lost) == len(segments):  # nothing came: a fault, no all-missing product
        assert reassembler.flush() == [] and reassembler.counters.headers_unconfirmed == 1
        return
    (image,) = reassembler.flush()
    assert not image.complete and not image.crc_ok
    missing = {(s.offset, s.offset + len(s.data)) for _, s in segments if s.segment_index in lost}
    covered = set()
    for start, end in image.missing:
        covered |= {r for r in missing if start <= r[0] and r[1] <= end}
    assert covered == missing
    assert sum(e - s for s, e in image.missing) == sum(e - s for s, e in missing)
    kept = bytearray(image.pixels)
    for start, end in image.missing:
        kept[start:end] = pixels[start:end]
    assert bytes(kept) == pixels  # everything received landed in the right place


def test_sequence_flags_first_continuation_last() -> None:
    assert [segment_flags(i, 4) for i in range(4)] == [
        SequenceFlags.FIRST,
        SequenceFlags.CONTINUATION,
        SequenceFlags.CONTINUATION,
        SequenceFlags.LAST,
    ]
    assert segment_flags(0, 1) == SequenceFlags.UNSEGMENTED


def test_hostile_segments_are_rejected_and_counted() -> None:
    pixels = bytes(range(200))
    header = make_image_header(3, pixels, 20, 10, 8, 1, CucTime(0), {}, 50)
    reassembler = ImageReassembler()
    reassembler.add_header(header)
    assert reassembler.add_segment(SequenceFlags.FIRST, ImageSegment(3, 9, 450, b"x" * 50)) is None
    assert reassembler.add_segment(SequenceFlags.FIRST, ImageSegment(3, 0, 7, b"x" * 50)) is None
    assert reassembler.add_segment(SequenceFlags.FIRST, ImageSegment(3, 0, 0, b"x" * 51)) is None
    assert reassembler.add_segment(SequenceFlags.LAST, ImageSegment(3, 0, 0, b"x" * 50)) is None
    assert reassembler.counters.rejected_segments == 4
    assert len(reassembler.rejections) == 4


def test_orphan_memory_is_bounded() -> None:
    reassembler = ImageReassembler(max_orphan_octets=1000)
    for i in range(100):
        reassembler.add_segment(SequenceFlags.CONTINUATION, ImageSegment(77, i, i * 100, b"y" * 100))
    assert reassembler.counters.orphan_segments == 100
    assert reassembler.counters.orphans_dropped == 90


def _announce_and_confirm(reassembler: ImageReassembler, header: ImageHeader) -> list[ReassembledImage]:
    """The header and its first segment (which confirms it): what was flushed to make room."""
    flushed = reassembler.add_header(header)
    flags, first = next(iter_segments(header, bytes(header.image_octets)))
    assert reassembler.add_segment(flags, first) is None
    return flushed + reassembler.take_evicted()


def test_in_progress_images_are_bounded() -> None:
    reassembler = ImageReassembler(max_in_progress=2)
    flushed = []
    for image_id in range(5):
        header = make_image_header(image_id, bytes(100), 10, 10, 8, 1, CucTime(0), {}, 10)
        flushed += _announce_and_confirm(reassembler, header)
    assert len(reassembler.in_progress) == 2
    assert len(flushed) == 3 and reassembler.counters.images_evicted == 3


def test_in_progress_octets_are_bounded_whatever_size_headers_declare() -> None:
    reassembler = ImageReassembler(max_in_progress=4, max_in_progress_octets=250)
    flushed = []
    for image_id in range(6):
        header = make_image_header(image_id, bytes(100), 10, 10, 8, 1, CucTime(0), {}, 10)
        flushed += _announce_and_confirm(reassembler, header)
        assert reassembler.in_progress_octets <= 250
    assert reassembler.in_progress == [4, 5]
    assert [image.header.image_id for image in flushed] == [0, 1, 2, 3]
    assert reassembler.counters.images_evicted == 4
    big = make_image_header(9, bytes(400), 20, 20, 8, 1, CucTime(0), {}, 10)  # larger than the budget alone
    _announce_and_confirm(reassembler, big)
    assert reassembler.in_progress == [9]  # still taken: one image always fits


@given(st.binary(max_size=120))
def test_header_decoder_raises_only_decode_error(raw: bytes) -> None:
    try:
        ImageHeader.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "image-transport"


def test_header_with_impossible_size_is_rejected() -> None:
    pixels = bytes(100)
    raw = bytearray(make_image_header(1, pixels, 10, 10, 8, 1, CucTime(0), {}, 10).pack())
    raw[4:6] = (11).to_bytes(2, "big")  # width no longer matches image octets
    with pytest.raises(DecodeError):
        ImageHeader.unpack(bytes(raw))


# -- hostile headers (issue 12, finding 4) and image identity (finding 5) ----------------------------


def _forged(image_id: int, width: int, height: int, bit_depth: int = 16, time: int = 0) -> ImageHeader:
    """A header as a hostile sender writes it: any size, no segments to follow."""
    sample = 1 if bit_depth <= 8 else 2
    octets = width * height * sample
    return ImageHeader(
        image_id, width, height, bit_depth, 1, CucTime(time), octets, 1000, -(-octets // 1000), 0, {}
    )


def _faults(reassembler: ImageReassembler) -> list[tuple[str, str]]:
    faults: list[tuple[str, str]] = []
    reassembler.on_fault = lambda kind, detail: faults.append((kind, detail))
    return faults


def test_every_seed_camera_fits_the_mission_limits() -> None:
    import tomllib
    from pathlib import Path

    seeds = sorted((Path(__file__).resolve().parents[3] / "emulator" / "seeds").glob("*.toml"))
    assert seeds
    for path in seeds:
        seed = tomllib.loads(path.read_text())
        width, height = seed["camera"]["width_px"], seed["camera"]["height_px"]
        depth = seed["sensor"]["bit_depth"]
        assert MISSION_IMAGE_LIMITS.refusal(_forged(1, width, height, depth)) is None, path.name


def test_a_header_beyond_the_mission_limits_is_refused_before_any_allocation() -> None:
    import tracemalloc

    reassembler = ImageReassembler()
    faults = _faults(reassembler)
    tracemalloc.start()
    try:
        for image_id in range(20):  # 8192 x 8192: 64 MiB each, legal for the wire format
            assert reassembler.add_header(_forged(image_id, 8192, 8192, 8)) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # today: a 64 MiB buffer per header
    assert reassembler.counters.headers_refused == 20 and reassembler.pending == []
    assert [kind for kind, _ in faults] == ["image header beyond the mission's limits"] * 20
    assert reassembler.flush() == []


def test_forged_headers_within_the_limits_hold_no_buffers_and_write_no_products() -> None:
    import tracemalloc

    reassembler = ImageReassembler(max_pending_headers=8)
    faults = _faults(reassembler)
    tracemalloc.start()
    try:
        for image_id in range(20):  # the largest legal image, 8 MiB each, and never a segment
            assert reassembler.add_header(_forged(image_id, 2048, 2048)) == []
            assert reassembler.in_progress_octets == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert len(reassembler.pending) == 8  # the oldest announcements were dropped, and counted
    assert reassembler.flush() == []  # no all-missing product for a header no segment confirmed
    assert reassembler.counters.headers_unconfirmed == 20
    assert [kind for kind, _ in faults] == ["image header with no segments"] * 20


def test_spoofed_headers_mid_image_do_not_evict_the_image_in_flight() -> None:
    pixels = random.Random(5).randbytes(40 * 30 * 2)
    header = make_image_header(1, pixels, 40, 30, 12, 1, CucTime(100), {}, 60)
    segments = list(iter_segments(header, pixels))
    reassembler = ImageReassembler()
    assert reassembler.add_header(header) == []
    for flags, segment in segments[:20]:
        assert reassembler.add_segment(flags, segment) is None
    for image_id in range(100, 104):  # four 4x4 spoofs: today they evict image 1, written as partial
        assert reassembler.add_header(_forged(image_id, 4, 4, time=7)) == []
    done = [reassembler.add_segment(flags, segment) for flags, segment in segments[20:]]
    assert reassembler.take_evicted() == []
    assert done[:-1] == [None] * (len(segments) - 21)
    assert done[-1] is not None and done[-1].pixels == pixels and done[-1].crc_ok
    assert reassembler.counters.images_evicted == 0
    assert reassembler.flush() == [] and reassembler.counters.headers_unconfirmed == 4


def _send(reassembler: ImageReassembler, header: ImageHeader, pixels: bytes, origin: int | None) -> list:
    done = reassembler.add_header(header, origin)
    for flags, segment in iter_segments(header, pixels):
        result = reassembler.add_segment(flags, segment, origin)
        done += reassembler.take_evicted() + ([result] if result is not None else [])
    return done


@pytest.mark.parametrize("restart", ["new session", "new capture time"])
def test_a_restarted_probes_image_1_is_a_new_image(restart: str) -> None:
    first, second = random.Random(1).randbytes(300), random.Random(2).randbytes(300)
    reassembler = ImageReassembler()
    faults = _faults(reassembler)
    header = make_image_header(1, first, 20, 15, 8, 1, CucTime(50), {}, 40)
    (one,) = _send(reassembler, header, first, 7)
    again_at, origin = (CucTime(50), 8) if restart == "new session" else (CucTime(90), 7)
    header_again = make_image_header(1, second, 20, 15, 8, 1, again_at, {}, 40)
    (two,) = _send(reassembler, header_again, second, origin)
    assert (one.pixels, two.pixels) == (first, second) and one.crc_ok and two.crc_ok
    assert reassembler.counters.duplicate_segments == 0 and faults == []


def test_the_same_image_sent_again_is_a_fault_not_silence() -> None:
    pixels = random.Random(3).randbytes(300)
    reassembler = ImageReassembler()
    faults = _faults(reassembler)
    header = make_image_header(1, pixels, 20, 15, 8, 1, CucTime(50), {}, 40)
    assert len(_send(reassembler, header, pixels, 7)) == 1
    assert _send(reassembler, header, pixels, 7) == []
    assert reassembler.counters.duplicate_images == 1
    assert reassembler.counters.duplicate_segments == header.segment_count
    assert faults == [("duplicate image", "image 1 was delivered already")]


def test_finished_images_are_remembered_within_a_bound() -> None:
    reassembler = ImageReassembler(max_finished=3)
    for image_id in range(10):
        pixels = bytes([image_id]) * 20
        _send(reassembler, make_image_header(image_id, pixels, 5, 4, 8, 1, CucTime(0), {}, 10), pixels, None)
    assert reassembler.counters.images_complete == 10
    assert reassembler.remembered_images == 3
