"""Image segmentation and reassembly for any image and segment size, under loss and reordering."""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.image_transport import (
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    iter_segments,
    make_image_header,
    segment_flags,
)
from protocols.space_packet import SequenceFlags
from protocols.time_code import CucTime


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


def test_in_progress_images_are_bounded() -> None:
    reassembler = ImageReassembler(max_in_progress=2)
    flushed = []
    for image_id in range(5):
        pixels = bytes(100)
        flushed += reassembler.add_header(
            make_image_header(image_id, pixels, 10, 10, 8, 1, CucTime(0), {}, 10)
        )
    assert len(reassembler.in_progress) == 2
    assert len(flushed) == 3 and reassembler.counters.images_evicted == 3


def test_in_progress_octets_are_bounded_whatever_size_headers_declare() -> None:
    reassembler = ImageReassembler(max_in_progress=4, max_in_progress_octets=250)
    flushed = []
    for image_id in range(6):
        flushed += reassembler.add_header(
            make_image_header(image_id, bytes(100), 10, 10, 8, 1, CucTime(0), {}, 10)
        )
        assert reassembler.in_progress_octets <= 250
    assert reassembler.in_progress == [4, 5]
    assert [image.header.image_id for image in flushed] == [0, 1, 2, 3]
    assert reassembler.counters.images_evicted == 4
    big = make_image_header(9, bytes(400), 20, 20, 8, 1, CucTime(0), {}, 10)  # larger than the budget alone
    reassembler.add_header(big)
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
