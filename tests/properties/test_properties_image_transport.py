"""Image transport: round trip, total decoding, and reassembly that loses only what was lost."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.image.image_transport import (
    MAX_IMAGE_OCTETS,
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    iter_segments,
    make_image_header,
)
from protocols.packets.time_code import CucTime


@st.composite
def images(draw: st.DrawFn) -> tuple[ImageHeader, bytes]:
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 12))
    bit_depth = draw(st.integers(1, 16))
    sample = 1 if bit_depth <= 8 else 2
    pixels = draw(st.binary(min_size=width * height * sample, max_size=width * height * sample))
    metadata = draw(
        st.dictionaries(
            st.text(max_size=8), st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8), max_size=4
        )
    )
    header = make_image_header(
        draw(st.integers(0, 2**32 - 1)),
        pixels,
        width,
        height,
        bit_depth,
        draw(st.integers(0, 2**32 - 1)),
        CucTime(draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 0xFFFF))),
        metadata,
        draw(st.integers(1, 200)),
    )
    return header, pixels


@given(images())
def test_header_and_segments_round_trip(image: tuple[ImageHeader, bytes]) -> None:
    header, pixels = image
    assert ImageHeader.unpack(header.pack()) == header
    for _, segment in iter_segments(header, pixels):
        assert ImageSegment.unpack(segment.pack()) == segment


@given(st.binary(max_size=120))
def test_any_bytes_give_a_header_a_segment_or_a_decode_error(data: bytes) -> None:
    for decode in (ImageHeader.unpack, ImageSegment.unpack):
        try:
            decode(data)
        except DecodeError as exc:
            assert exc.layer == "image-transport"


@given(images(), st.randoms(use_true_random=False), st.data())
def test_reassembly_in_any_order_under_loss_misses_exactly_the_lost_segments(
    image: tuple[ImageHeader, bytes],
    rnd,
    data: st.DataObject,
) -> None:
    header, pixels = image
    segments = list(iter_segments(header, pixels))
    lost = data.draw(st.sets(st.integers(0, len(segments) - 1), max_size=len(segments)))
    kept = [s for s in segments if s[1].segment_index not in lost]
    kept += data.draw(st.lists(st.sampled_from(kept), max_size=3)) if kept else []  # duplicates
    rnd.shuffle(kept)
    header_at = data.draw(st.integers(0, len(kept)))  # the header may come after its segments
    reassembler = ImageReassembler(max_orphan_octets=1 << 20)
    done = []
    for flags, segment in kept[:header_at]:
        done += [r for r in [reassembler.add_segment(flags, segment)] if r]
    done += reassembler.add_header(header)
    for flags, segment in kept[header_at:]:
        done += [r for r in [reassembler.add_segment(flags, segment)] if r]
    done += reassembler.flush()
    if len(lost) == len(segments):  # no segment came: counted as a fault, and no all-missing product
        assert done == [] and reassembler.counters.headers_unconfirmed == 1
        return
    assert len(done) == 1
    result = done[0]
    assert result.complete == (not lost)
    assert result.crc_ok == (not lost)
    if not lost:
        assert result.pixels == pixels and zlib.crc32(result.pixels) == header.crc32
    missing = {
        i for i in range(len(segments)) for (a, b) in result.missing if a <= i * header.segment_octets < b
    }
    assert missing == lost
    for _, segment in segments:
        if segment.segment_index not in lost:
            start = segment.offset
            assert result.pixels[start : start + len(segment.data)] == segment.data


@st.composite
def forged_headers(draw: st.DrawFn, avoid: int) -> ImageHeader:
    """A header no segment of its own follows: any size up to the wire format's, any id but ``avoid``."""
    width, height = draw(st.integers(1, 8192)), draw(st.integers(1, 8192))
    bit_depth = draw(st.integers(1, 8 if width * height > MAX_IMAGE_OCTETS // 2 else 16))
    octets = width * height * (1 if bit_depth <= 8 else 2)
    segment = draw(st.integers(max(1, -(-octets // 2**32)), 65_000))
    image_id = draw(st.integers(0, 2**32 - 1).filter(lambda i: i != avoid))
    return ImageHeader(
        image_id, width, height, bit_depth, 0, CucTime(draw(st.integers(0, 9))), octets, segment,
        -(-octets // segment), draw(st.integers(0, 2**32 - 1)), {},
    )  # fmt: skip


@given(images(), st.data())
def test_forged_headers_anywhere_hold_no_memory_and_leave_a_real_image_whole(
    image: tuple[ImageHeader, bytes], data: st.DataObject
) -> None:
    """Up to 15 forged headers (so the real one is never pushed out of the 16 announcements held),
    before, among and after a real image's packets: the image is delivered whole, nothing is ever
    held beyond its own buffer, and each forged header is refused or counted unconfirmed."""
    header, pixels = image
    forged = data.draw(st.lists(forged_headers(header.image_id), max_size=15, unique_by=lambda h: h.image_id))
    stream: list = [header, *iter_segments(header, pixels)]
    for item in forged:
        stream.insert(data.draw(st.integers(0, len(stream))), item)
    reassembler = ImageReassembler()
    done = []
    for item in stream:
        if isinstance(item, ImageHeader):
            done += reassembler.add_header(item)
        else:
            done += [r for r in [reassembler.add_segment(*item)] if r]
        done += reassembler.take_evicted()
        assert reassembler.in_progress_octets <= header.image_octets
    done += reassembler.flush()
    assert [(r.header, r.pixels) for r in done] == [(header, pixels)] and done[0].crc_ok
    counters = reassembler.counters
    assert counters.headers_refused + counters.headers_unconfirmed == len(forged)
    assert counters.images_evicted == 0
