"""Images as space packets: one header packet, then data segments (PUS private service 128).

Every image travels on APID CAMERA as:

* one **image header** packet (service 128, subtype 1, sequence flags ``11``
  unsegmented) declaring the image: id, size, bit depth, exposure, capture time,
  segmenting, CRC-32 of the pixel bytes, and the truth metadata (msgpack);
* ``segment_count`` **image data** packets (service 128, subtype 2) carrying
  ``segment_octets`` of pixel bytes each (the last one may be shorter), with
  sequence flags ``01`` first, ``00`` continuation, ``10`` last (``11`` when a
  single segment holds the whole image).

Pixels are row-major, big-endian, one octet per sample for bit depths up to 8
and two above. Each data segment names its image and byte offset, so the
ground can place it even when packets before it were lost, and the header's
CRC-32 proves the reassembled image is the one captured.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import msgpack
import numpy as np
from construct import (
    Bytes,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Prefixed,
    SizeofError,
    Struct,
)

from protocols.errors import DecodeError
from protocols.space_packet import SequenceFlags
from protocols.time_code import CUC_LENGTH_4_2, CucTime

LAYER = "image-transport"

SERVICE_IMAGE = 128
SUBTYPE_IMAGE_HEADER = 1
SUBTYPE_IMAGE_SEGMENT = 2

MAX_IMAGE_OCTETS = 64 * 1024 * 1024  # 4096 x 4096 x 16 bit: more than any seed camera
MAX_METADATA_OCTETS = 60_000  # the header packet must fit one space packet
DEFAULT_SEGMENT_OCTETS = 1000

IMAGE_HEADER = Struct(
    "image_id" / Int32ub,
    "width" / Int16ub,
    "height" / Int16ub,
    "bit_depth" / Int8ub,
    "sample_octets" / Int8ub,
    "exposure_us" / Int32ub,
    "capture_time" / Bytes(CUC_LENGTH_4_2),
    "image_octets" / Int32ub,
    "segment_octets" / Int16ub,
    "segment_count" / Int32ub,
    "crc32" / Int32ub,
    "metadata" / Prefixed(Int16ub, GreedyBytes),
)


def _field_offsets(declaration: Struct) -> dict[str, int]:
    """Byte offset of each fixed-size field, read from the declaration (for error reports)."""
    offsets, position = {}, 0
    for sub in declaration.subcons:
        offsets[sub.name] = position
        try:
            position += sub.sizeof()
        except SizeofError:
            break
    return offsets


_HEADER_OFFSETS = _field_offsets(IMAGE_HEADER)
_IMAGE_HEADER_FIXED_OCTETS = _HEADER_OFFSETS["metadata"]

IMAGE_SEGMENT = Struct(
    "image_id" / Int32ub,
    "segment_index" / Int32ub,
    "offset" / Int32ub,
    "data" / GreedyBytes,
)
IMAGE_SEGMENT_HEADER_LENGTH = 12


@dataclass(frozen=True)
class ImageHeader:
    image_id: int
    width: int
    height: int
    bit_depth: int
    exposure_us: int
    capture_time: CucTime
    image_octets: int
    segment_octets: int
    segment_count: int
    crc32: int
    metadata: dict = field(default_factory=dict)

    @property
    def sample_octets(self) -> int:
        return 1 if self.bit_depth <= 8 else 2

    def pack(self) -> bytes:
        meta = msgpack.packb(self.metadata, use_bin_type=True)
        if len(meta) > MAX_METADATA_OCTETS:
            raise ValueError(f"image metadata of {len(meta)} octets exceeds {MAX_METADATA_OCTETS}")
        return IMAGE_HEADER.build(
            {
                "image_id": self.image_id,
                "width": self.width,
                "height": self.height,
                "bit_depth": self.bit_depth,
                "sample_octets": self.sample_octets,
                "exposure_us": self.exposure_us,
                "capture_time": self.capture_time.pack(with_pfield=True),
                "image_octets": self.image_octets,
                "segment_octets": self.segment_octets,
                "segment_count": self.segment_count,
                "crc32": self.crc32,
                "metadata": meta,
            }
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview, base_offset: int = 0) -> ImageHeader:
        """Decode and check an image header; ``base_offset`` only shifts reported offsets."""
        fixed = _IMAGE_HEADER_FIXED_OCTETS
        if len(data) < fixed + 2:
            raise DecodeError(LAYER, base_offset, f"image header needs at least {fixed + 2} octets")
        try:
            parsed = IMAGE_HEADER.parse(bytes(data))
        except ConstructError as exc:
            raise DecodeError(
                LAYER, base_offset, f"malformed image header: {exc.__class__.__name__}"
            ) from None
        if len(parsed.metadata) + fixed + 2 != len(data):
            raise DecodeError(LAYER, base_offset + fixed, "metadata length disagrees with the packet")
        if parsed.bit_depth < 1 or parsed.bit_depth > 16:
            raise DecodeError(
                LAYER,
                base_offset + _HEADER_OFFSETS["bit_depth"],
                f"bit depth {parsed.bit_depth} outside 1..16",
            )
        expected_sample = 1 if parsed.bit_depth <= 8 else 2
        if parsed.sample_octets != expected_sample:
            raise DecodeError(
                LAYER, base_offset + _HEADER_OFFSETS["sample_octets"], "sample octets disagree with bit depth"
            )
        if parsed.image_octets != parsed.width * parsed.height * expected_sample:
            raise DecodeError(
                LAYER,
                base_offset + _HEADER_OFFSETS["image_octets"],
                "image octets disagree with width x height",
            )
        if parsed.image_octets == 0 or parsed.image_octets > MAX_IMAGE_OCTETS:
            raise DecodeError(
                LAYER,
                base_offset + _HEADER_OFFSETS["image_octets"],
                f"image of {parsed.image_octets} octets out of range",
            )
        if parsed.segment_octets == 0:
            raise DecodeError(LAYER, base_offset + _HEADER_OFFSETS["segment_octets"], "segment size 0")
        if parsed.segment_count != -(-parsed.image_octets // parsed.segment_octets):
            raise DecodeError(
                LAYER,
                base_offset + _HEADER_OFFSETS["segment_count"],
                "segment count disagrees with image and segment size",
            )
        time, _ = CucTime.unpack(parsed.capture_time)
        try:
            metadata = msgpack.unpackb(parsed.metadata, raw=False, strict_map_key=False)
        except Exception:
            raise DecodeError(LAYER, base_offset + fixed + 2, "metadata is not valid msgpack") from None
        if not isinstance(metadata, dict):
            raise DecodeError(LAYER, base_offset + fixed + 2, "metadata is not a map")
        return cls(
            image_id=parsed.image_id,
            width=parsed.width,
            height=parsed.height,
            bit_depth=parsed.bit_depth,
            exposure_us=parsed.exposure_us,
            capture_time=time,
            image_octets=parsed.image_octets,
            segment_octets=parsed.segment_octets,
            segment_count=parsed.segment_count,
            crc32=parsed.crc32,
            metadata=metadata,
        )


@dataclass(frozen=True, slots=True)
class ImageSegment:
    image_id: int
    segment_index: int
    offset: int
    data: bytes

    def pack(self) -> bytes:
        return IMAGE_SEGMENT.build(
            {
                "image_id": self.image_id,
                "segment_index": self.segment_index,
                "offset": self.offset,
                "data": self.data,
            }
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview, base_offset: int = 0) -> ImageSegment:
        if len(data) <= IMAGE_SEGMENT_HEADER_LENGTH:
            raise DecodeError(LAYER, base_offset, "image segment carries no pixel data")
        image_id = int.from_bytes(data[0:4], "big")
        index = int.from_bytes(data[4:8], "big")
        offset = int.from_bytes(data[8:12], "big")
        return cls(image_id, index, offset, bytes(data[IMAGE_SEGMENT_HEADER_LENGTH:]))


def segment_flags(index: int, count: int) -> SequenceFlags:
    """Sequence flags of data segment ``index`` of ``count``."""
    if count == 1:
        return SequenceFlags.UNSEGMENTED
    if index == 0:
        return SequenceFlags.FIRST
    if index == count - 1:
        return SequenceFlags.LAST
    return SequenceFlags.CONTINUATION


@dataclass(frozen=True)
class SegmentColumns:
    """The image-segment fields of many packets at once: a fast path of :data:`IMAGE_SEGMENT`
    (same offsets as :meth:`ImageSegment.unpack`, which tests prove) for whole packet runs."""

    image_id: np.ndarray  # int64
    segment_index: np.ndarray  # int64
    offset: np.ndarray  # int64
    data: np.ndarray  # (segments, octets) uint8: the pixel octets of each segment

    @classmethod
    def from_payloads(cls, payloads: np.ndarray) -> SegmentColumns:
        """``payloads``: (segments, octets) of service-128 subtype-2 payloads, longer than the header."""
        words = payloads[:, :IMAGE_SEGMENT_HEADER_LENGTH].astype(np.int64)
        big_endian = words[:, 0::4] << 24 | words[:, 1::4] << 16 | words[:, 2::4] << 8 | words[:, 3::4]
        return cls(
            big_endian[:, 0], big_endian[:, 1], big_endian[:, 2], payloads[:, IMAGE_SEGMENT_HEADER_LENGTH:]
        )

    def __len__(self) -> int:
        return len(self.image_id)


def segment_flags_of(indices: np.ndarray, count: int) -> np.ndarray:
    """:func:`segment_flags` for many segment indices."""
    if count == 1:
        return np.full(len(indices), int(SequenceFlags.UNSEGMENTED), dtype=np.int64)
    flags = np.full(len(indices), int(SequenceFlags.CONTINUATION), dtype=np.int64)
    flags[indices == 0] = SequenceFlags.FIRST
    flags[indices == count - 1] = SequenceFlags.LAST
    return flags


def make_image_header(
    image_id: int,
    pixels: bytes,
    width: int,
    height: int,
    bit_depth: int,
    exposure_us: int,
    capture_time: CucTime,
    metadata: dict,
    segment_octets: int = DEFAULT_SEGMENT_OCTETS,
) -> ImageHeader:
    """Describe an image whose pixel bytes (big-endian, row-major) are ``pixels``."""
    if not 1 <= segment_octets <= 65535 - IMAGE_SEGMENT_HEADER_LENGTH - 32:
        raise ValueError(f"segment size {segment_octets} does not fit a space packet")
    sample = 1 if bit_depth <= 8 else 2
    if len(pixels) != width * height * sample:
        raise ValueError("pixel bytes disagree with width x height x sample size")
    return ImageHeader(
        image_id=image_id,
        width=width,
        height=height,
        bit_depth=bit_depth,
        exposure_us=exposure_us,
        capture_time=capture_time,
        image_octets=len(pixels),
        segment_octets=segment_octets,
        segment_count=-(-len(pixels) // segment_octets),
        crc32=zlib.crc32(pixels),
        metadata=metadata,
    )


def iter_segments(header: ImageHeader, pixels: bytes) -> Iterator[tuple[SequenceFlags, ImageSegment]]:
    """The data segments of an image, each with the sequence flags of its packet."""
    view = memoryview(pixels)
    for index in range(header.segment_count):
        start = index * header.segment_octets
        chunk = bytes(view[start : start + header.segment_octets])
        yield segment_flags(index, header.segment_count), ImageSegment(header.image_id, index, start, chunk)


@dataclass(frozen=True)
class ReassembledImage:
    """An image as the ground rebuilt it; ``missing`` lists byte ranges never received."""

    header: ImageHeader
    pixels: bytes
    missing: list[tuple[int, int]]

    @property
    def complete(self) -> bool:
        return not self.missing

    @cached_property
    def crc_ok(self) -> bool:  # asked for by the counters, the summary and the report: computed once
        return self.complete and zlib.crc32(self.pixels) == self.header.crc32


@dataclass
class ReassemblyCounters:
    headers: int = 0
    duplicate_headers: int = 0
    segments: int = 0
    duplicate_segments: int = 0
    rejected_segments: int = 0
    orphan_segments: int = 0
    orphans_dropped: int = 0
    images_complete: int = 0
    images_incomplete: int = 0
    crc_failures: int = 0
    images_evicted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class _ImageInProgress:
    def __init__(self, header: ImageHeader) -> None:
        self.header = header
        self.buffer = bytearray(header.image_octets)
        self.received = bytearray(header.segment_count)  # 0/1 per segment
        self.count = 0

    def expected_length(self, index: int) -> int:
        h = self.header
        return min(h.segment_octets, h.image_octets - index * h.segment_octets)

    def missing_ranges(self) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = []
        h = self.header
        for index, got in enumerate(self.received):
            if got:
                continue
            start = index * h.segment_octets
            end = start + self.expected_length(index)
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
        return ranges


class ImageReassembler:
    """Rebuilds images from header and segment packets arriving in any order, under loss.

    Memory is bounded: at most ``max_in_progress`` images, of at most
    ``max_in_progress_octets`` together, are held (the oldest is flushed as incomplete
    when another starts and would not fit), and segments that arrive before their
    header are kept up to ``max_orphan_octets``; everything dropped is counted. The
    octet budget holds two of the largest images a header may declare, so hostile
    headers cannot make a station hold four.
    """

    def __init__(
        self,
        max_in_progress: int = 4,
        max_orphan_octets: int = 8 * 1024 * 1024,
        max_in_progress_octets: int = 2 * MAX_IMAGE_OCTETS,
    ) -> None:
        self.max_in_progress = max_in_progress
        self.max_orphan_octets = max_orphan_octets
        self.max_in_progress_octets = max_in_progress_octets
        self.counters = ReassemblyCounters()
        self.rejections: dict[str, int] = {}
        self._images: dict[int, _ImageInProgress] = {}
        self._finished: set[int] = set()
        self._orphans: dict[int, list[tuple[SequenceFlags | int, ImageSegment]]] = {}
        self._orphan_octets = 0

    def _reject(self, reason: str) -> None:
        self.counters.rejected_segments += 1
        self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def add_header(self, header: ImageHeader) -> list[ReassembledImage]:
        """Start an image; returns images flushed to make room (incomplete) or completed by orphans."""
        self.counters.headers += 1
        if header.image_id in self._images or header.image_id in self._finished:
            self.counters.duplicate_headers += 1
            return []
        out: list[ReassembledImage] = []
        while self._images and (
            len(self._images) >= self.max_in_progress
            or self.in_progress_octets + header.image_octets > self.max_in_progress_octets
        ):
            oldest = next(iter(self._images))
            self.counters.images_evicted += 1
            out.append(self._finish(oldest))
        self._images[header.image_id] = _ImageInProgress(header)
        for flags, seg in self._orphans.pop(header.image_id, []):
            self._orphan_octets -= len(seg.data)
            done = self.add_segment(flags, seg)
            if done is not None:
                out.append(done)
        return out

    def add_segment(self, flags: SequenceFlags | int, segment: ImageSegment) -> ReassembledImage | None:
        """Place one segment; returns the image when this segment completes it."""
        self.counters.segments += 1
        image = self._images.get(segment.image_id)
        if image is None:
            if segment.image_id in self._finished:
                self.counters.duplicate_segments += 1
                return None
            self._keep_orphan(flags, segment)
            return None
        h = image.header
        if segment.segment_index >= h.segment_count:
            self._reject("segment index past segment count")
            return None
        if segment.offset != segment.segment_index * h.segment_octets:
            self._reject("offset disagrees with segment index")
            return None
        if len(segment.data) != image.expected_length(segment.segment_index):
            self._reject("segment length disagrees with header")
            return None
        if int(flags) != int(segment_flags(segment.segment_index, h.segment_count)):
            self._reject("sequence flags disagree with segment position")
            return None
        if image.received[segment.segment_index]:
            self.counters.duplicate_segments += 1
            return None
        image.buffer[segment.offset : segment.offset + len(segment.data)] = segment.data
        image.received[segment.segment_index] = 1
        image.count += 1
        if image.count == h.segment_count:
            return self._finish(segment.image_id)
        return None

    def add_segment_run(
        self, flags: np.ndarray, segments: SegmentColumns
    ) -> tuple[int, ReassembledImage | None]:
        """Place the longest leading stretch of ``segments`` that :meth:`add_segment`, one by one,
        would place without a rejection, duplicate or orphan; returns how many were placed and the
        image they completed. The caller gives the rest to :meth:`add_segment`."""
        if not len(segments):
            return 0, None
        image_id = int(segments.image_id[0])
        image = self._images.get(image_id)
        if image is None:
            return 0, None
        h = image.header
        indices = segments.segment_index
        in_range = (indices >= 0) & (indices < h.segment_count)
        safe = np.where(in_range, indices, 0)
        received = np.frombuffer(image.received, dtype=np.uint8)
        placeable = (
            (segments.image_id == image_id)
            & in_range
            & (segments.offset == indices * h.segment_octets)
            & (
                np.minimum(h.segment_octets, h.image_octets - indices * h.segment_octets)
                == segments.data.shape[1]
            )
            & (flags == segment_flags_of(indices, h.segment_count))
            & (received[safe] == 0)
        )
        placeable[1:] &= indices[1:] > indices[:-1]  # strictly rising: no index twice in the stretch
        refused = np.flatnonzero(~placeable)
        taken = int(refused[0]) if refused.size else len(segments)
        del received
        if not taken:
            return 0, None
        placed = indices[:taken]
        width = segments.data.shape[1]
        buffer = np.frombuffer(image.buffer, dtype=np.uint8)
        first = int(placed[0]) * h.segment_octets
        if width == h.segment_octets and int(placed[-1]) - int(placed[0]) == taken - 1:
            buffer[first : first + taken * width] = segments.data[:taken].reshape(-1)  # contiguous: one copy
        else:
            for row, index in enumerate(placed.tolist()):
                start = index * h.segment_octets
                buffer[start : start + width] = segments.data[row]
        del buffer
        np.frombuffer(image.received, dtype=np.uint8)[placed] = 1
        self.counters.segments += taken
        image.count += taken
        if image.count == h.segment_count:
            return taken, self._finish(image_id)
        return taken, None

    def _keep_orphan(self, flags: SequenceFlags | int, segment: ImageSegment) -> None:
        self.counters.orphan_segments += 1
        if self._orphan_octets + len(segment.data) > self.max_orphan_octets:
            self.counters.orphans_dropped += 1
            return
        self._orphans.setdefault(segment.image_id, []).append((flags, segment))
        self._orphan_octets += len(segment.data)

    def _finish(self, image_id: int) -> ReassembledImage:
        image = self._images.pop(image_id)
        self._finished.add(image_id)
        result = ReassembledImage(image.header, bytes(image.buffer), image.missing_ranges())
        if result.complete:
            self.counters.images_complete += 1
            if not result.crc_ok:
                self.counters.crc_failures += 1
        else:
            self.counters.images_incomplete += 1
        return result

    def flush(self) -> list[ReassembledImage]:
        """End of pass: every image still in progress, as incomplete products."""
        out = [self._finish(image_id) for image_id in list(self._images)]
        self.counters.orphans_dropped += sum(len(v) for v in self._orphans.values())
        self._orphans.clear()
        self._orphan_octets = 0
        return out

    @property
    def in_progress(self) -> list[int]:
        return list(self._images)

    @property
    def in_progress_octets(self) -> int:
        """Octets of image buffers held now (the reassembler's memory, orphans apart)."""
        return sum(image.header.image_octets for image in self._images.values())
