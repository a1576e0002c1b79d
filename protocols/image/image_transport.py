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
from collections import OrderedDict
from collections.abc import Callable, Iterator
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

from protocols.coding.crc import crc32_wide
from protocols.errors import DecodeError
from protocols.packets.space_packet import SequenceFlags
from protocols.packets.time_code import CUC_LENGTH_4_2, CucTime

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
        return self.complete and crc32_wide(self.pixels) == self.header.crc32


@dataclass(frozen=True)
class ImageProgress:
    """How far one image in flight has come: segments placed of its segment count."""

    image_id: int
    segments_received: int
    segment_count: int


def segments_received(image: ReassembledImage) -> int:
    """Segments of a reassembled image that arrived (its missing ranges are whole segments)."""
    h = image.header
    lost = set()
    for start, end in image.missing:
        lost.update(range(start // h.segment_octets, (end - 1) // h.segment_octets + 1))
    return h.segment_count - len(lost)


@dataclass(frozen=True)
class ImageLimits:
    """The largest image a camera of the mission may send: width, height and bit depth at most."""

    width: int
    height: int
    bit_depth: int

    @property
    def octets(self) -> int:
        """Pixel octets of the largest legal image."""
        return self.width * self.height * (1 if self.bit_depth <= 8 else 2)

    def refusal(self, header: ImageHeader) -> str | None:
        """Why ``header`` declares an image beyond these limits (None: it does not)."""
        if header.width > self.width or header.height > self.height:
            return f"{header.width}x{header.height} exceeds {self.width}x{self.height}"
        if header.bit_depth > self.bit_depth:
            return f"{header.bit_depth}-bit exceeds {self.bit_depth}-bit"
        return None


# The one declaration of the mission's largest image. Every seed camera fits (the largest is
# Tianwen-2's arm camera, 2048 x 1536 at 10 bits; a test checks every seed); the ground refuses
# image headers beyond it before it allocates anything for them.
MISSION_IMAGE_LIMITS = ImageLimits(width=2048, height=2048, bit_depth=16)

# Where an image came from: the publisher session of the messages that carried it (None when
# nothing says, as in a raw packet file). A restarted probe starts a new session.
Origin = int | None
# What an image is: where it came from, its id, its capture time and the CRC of its pixels. The
# same image sent twice has the same identity; a restarted probe's image 1 has another.
ImageIdentity = tuple[Origin, int, int, int, int]


def image_identity(header: ImageHeader, origin: Origin = None) -> ImageIdentity:
    time = header.capture_time
    return (origin, header.image_id, time.coarse, time.fine, header.crc32)


@dataclass
class ReassemblyCounters:
    headers: int = 0
    duplicate_headers: int = 0
    duplicate_images: int = 0  # an image already delivered, sent again (each also a fault)
    headers_refused: int = 0  # declared an image beyond the mission's limits (each also a fault)
    headers_unconfirmed: int = 0  # no segment ever came for them: no product (each also a fault)
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
    """An image that a segment has confirmed: only now are its buffers allocated."""

    def __init__(self, header: ImageHeader, identity: ImageIdentity) -> None:
        self.header = header
        self.identity = identity
        self.buffer = bytearray(header.image_octets)
        self.received = bytearray(header.segment_count)  # 0/1 per segment
        self.count = 0

    def missing_ranges(self) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = []
        h = self.header
        if self.count == h.segment_count:  # every segment placed (each is placed once)
            return ranges
        for index, got in enumerate(self.received):
            if got:
                continue
            start = index * h.segment_octets
            end = start + _expected_length(h, index)
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
        return ranges


def _expected_length(header: ImageHeader, index: int) -> int:
    return min(header.segment_octets, header.image_octets - index * header.segment_octets)


def _misfit(header: ImageHeader, flags: SequenceFlags | int, segment: ImageSegment) -> str | None:
    """Why ``segment`` cannot be a segment of the image ``header`` declares (None: it can)."""
    if segment.segment_index >= header.segment_count:
        return "segment index past segment count"
    if segment.offset != segment.segment_index * header.segment_octets:
        return "offset disagrees with segment index"
    if len(segment.data) != _expected_length(header, segment.segment_index):
        return "segment length disagrees with header"
    if int(flags) != int(segment_flags(segment.segment_index, header.segment_count)):
        return "sequence flags disagree with segment position"
    return None


class ImageReassembler:
    """Rebuilds images from header and segment packets arriving in any order, under loss.

    Memory is bounded whatever the headers declare:

    * a header beyond the mission's ``limits`` is refused (and counted) before anything is
      allocated for it;
    * a header only *announces* an image: nothing but the header is held until a segment that
      fits it arrives, at most ``max_pending_headers`` of them (the oldest is dropped, counted
      as unconfirmed, and written as no product); unconfirmed headers never evict an image in
      flight;
    * at most ``max_in_progress`` confirmed images, of at most ``max_in_progress_octets``
      together, are held (the oldest is flushed as incomplete when another is confirmed and
      would not fit);
    * segments that arrive before their header are kept up to ``max_orphan_octets``;
    * the identities of finished images (for duplicates) are remembered, the last
      ``max_finished`` of them.

    Images are known by where they came from (``origin``: the publisher session) with their id,
    capture time and CRC, so a restarted probe's image 1 is a new image, and the same image
    sent again is a duplicate, counted and reported as a fault (``on_fault(kind, detail)``).
    Everything dropped is counted.
    """

    def __init__(
        self,
        max_in_progress: int = 4,
        max_orphan_octets: int = 8 * 1024 * 1024,
        max_in_progress_octets: int | None = None,
        limits: ImageLimits = MISSION_IMAGE_LIMITS,
        max_pending_headers: int = 16,
        max_finished: int = 4096,
        on_fault: Callable[[str, str], None] | None = None,
    ) -> None:
        self.max_in_progress = max_in_progress
        self.max_orphan_octets = max_orphan_octets
        self.limits = limits
        # two of the largest legal images: hostile headers cannot make a station hold more
        self.max_in_progress_octets = (
            2 * limits.octets if max_in_progress_octets is None else max_in_progress_octets
        )
        self.max_pending_headers = max_pending_headers
        self.max_finished = max_finished
        self.on_fault = on_fault
        self.counters = ReassemblyCounters()
        self.rejections: dict[str, int] = {}
        self._images: dict[tuple[Origin, int], _ImageInProgress] = {}  # confirmed, in arrival order
        self._pending: OrderedDict[ImageIdentity, ImageHeader] = OrderedDict()  # announced only
        self._finished: OrderedDict[ImageIdentity, None] = OrderedDict()
        self._finished_ids: OrderedDict[tuple[Origin, int], None] = OrderedDict()
        self._orphans: dict[tuple[Origin, int], list[tuple[SequenceFlags | int, ImageSegment]]] = {}
        self._orphan_octets = 0
        self._evicted: list[ReassembledImage] = []

    def _fault(self, kind: str, detail: str) -> None:
        if self.on_fault is not None:
            self.on_fault(kind, detail)

    def _reject(self, reason: str) -> None:
        self.counters.rejected_segments += 1
        self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def add_header(self, header: ImageHeader, origin: Origin = None) -> list[ReassembledImage]:
        """Announce an image; returns images completed by orphans, or flushed (incomplete) to make
        room for it when orphans confirm it."""
        self.counters.headers += 1
        refusal = self.limits.refusal(header)
        if refusal is not None:
            self.counters.headers_refused += 1
            self._fault("image header beyond the mission's limits", f"image {header.image_id}: {refusal}")
            return []
        identity = image_identity(header, origin)
        key = (origin, header.image_id)
        if identity in self._finished:
            self.counters.duplicate_headers += 1
            self.counters.duplicate_images += 1
            self._fault("duplicate image", f"image {header.image_id} was delivered already")
            return []
        in_flight = self._images.get(key)
        if identity in self._pending or (in_flight is not None and in_flight.identity == identity):
            self.counters.duplicate_headers += 1
            return []
        if len(self._pending) >= self.max_pending_headers:
            _, dropped = self._pending.popitem(last=False)
            self._unconfirmed(dropped)
        self._pending[identity] = header
        out: list[ReassembledImage] = []
        orphans = self._orphans.pop(key, [])
        self._orphan_octets -= sum(len(seg.data) for _, seg in orphans)
        for flags, seg in orphans:
            done = self.add_segment(flags, seg, origin)
            if done is not None:
                out.append(done)
        return self.take_evicted() + out

    def _unconfirmed(self, header: ImageHeader) -> None:
        self.counters.headers_unconfirmed += 1
        self._fault("image header with no segments", f"image {header.image_id}: no product")

    def add_segment(
        self, flags: SequenceFlags | int, segment: ImageSegment, origin: Origin = None
    ) -> ReassembledImage | None:
        """Place one segment; returns the image when this segment completes it.

        A segment goes to the image in flight with its id when it fills a gap there; otherwise
        it may confirm an announced header with its id that it fits (the newest such), which
        then takes the place of the image in flight with that id, if any (a restarted probe)."""
        self.counters.segments += 1
        key = (origin, segment.image_id)
        image = self._images.get(key)
        verdict = None
        if image is not None:
            verdict = _misfit(image.header, flags, segment)
            if verdict is None and not image.received[segment.segment_index]:
                return self._place(image, segment)
        header = self._pending_for(key, flags, segment)
        if header is not None:
            return self._confirm(header, origin, segment)
        if image is not None:
            if verdict is not None:
                self._reject(verdict)
            else:
                self.counters.duplicate_segments += 1
            return None
        pending = next((h for (o, i, *_), h in self._pending.items() if (o, i) == key), None)
        if pending is not None:
            self._reject(_misfit(pending, flags, segment) or "segment fits no header")
            return None
        if key in self._finished_ids:
            self.counters.duplicate_segments += 1
            return None
        self._keep_orphan(key, flags, segment)
        return None

    def _pending_for(
        self, key: tuple[Origin, int], flags: SequenceFlags | int, segment: ImageSegment
    ) -> ImageHeader | None:
        """The newest announced header with the segment's origin and id that the segment fits."""
        for (origin, image_id, *_), header in reversed(self._pending.items()):
            if (origin, image_id) == key and _misfit(header, flags, segment) is None:
                return header
        return None

    def _confirm(self, header: ImageHeader, origin: Origin, segment: ImageSegment) -> ReassembledImage | None:
        """A segment fits an announced header: allocate the image, making room, and place it."""
        identity = image_identity(header, origin)
        del self._pending[identity]
        key = (origin, header.image_id)
        if key in self._images:  # the same id, announced again with another identity
            self.counters.images_evicted += 1
            self._evicted.append(self._finish(key))
        while self._images and (
            len(self._images) >= self.max_in_progress
            or self.in_progress_octets + header.image_octets > self.max_in_progress_octets
        ):
            self.counters.images_evicted += 1
            self._evicted.append(self._finish(next(iter(self._images))))
        image = self._images[key] = _ImageInProgress(header, identity)
        return self._place(image, segment)

    def _place(self, image: _ImageInProgress, segment: ImageSegment) -> ReassembledImage | None:
        image.buffer[segment.offset : segment.offset + len(segment.data)] = segment.data
        image.received[segment.segment_index] = 1
        image.count += 1
        if image.count == image.header.segment_count:
            return self._finish((image.identity[0], image.header.image_id))
        return None

    def take_evicted(self) -> list[ReassembledImage]:
        """Images flushed (incomplete) to make room for a confirmed one since the last call (by
        :meth:`add_segment`, which returns only the image it completes): hand them on as products.
        :meth:`add_header` and :meth:`flush` return them too."""
        out, self._evicted = self._evicted, []
        return out

    def add_segment_run(
        self, flags: np.ndarray, segments: SegmentColumns, origin: Origin = None
    ) -> tuple[int, ReassembledImage | None]:
        """Place the longest leading stretch of ``segments`` that :meth:`add_segment`, one by one,
        would place in the image in flight without a rejection, duplicate, confirmation or orphan;
        returns how many were placed and the image they completed. The caller gives the rest to
        :meth:`add_segment`."""
        if not len(segments):
            return 0, None
        image_id = int(segments.image_id[0])
        image = self._images.get((origin, image_id))
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
            # consecutive segments: one copy of the (strided) payload rows into their place
            buffer[first : first + taken * width].reshape(taken, width)[...] = segments.data[:taken]
        else:
            for row, index in enumerate(placed.tolist()):
                start = index * h.segment_octets
                buffer[start : start + width] = segments.data[row]
        del buffer
        np.frombuffer(image.received, dtype=np.uint8)[placed] = 1
        self.counters.segments += taken
        image.count += taken
        if image.count == h.segment_count:
            return taken, self._finish((origin, image_id))
        return taken, None

    def _keep_orphan(
        self, key: tuple[Origin, int], flags: SequenceFlags | int, segment: ImageSegment
    ) -> None:
        self.counters.orphan_segments += 1
        if self._orphan_octets + len(segment.data) > self.max_orphan_octets:
            self.counters.orphans_dropped += 1
            return
        self._orphans.setdefault(key, []).append((flags, segment))
        self._orphan_octets += len(segment.data)

    def _finish(self, key: tuple[Origin, int]) -> ReassembledImage:
        image = self._images.pop(key)
        for remembered, item in ((self._finished, image.identity), (self._finished_ids, key)):
            remembered[item] = None
            remembered.move_to_end(item)
            while len(remembered) > self.max_finished:
                remembered.popitem(last=False)
        result = ReassembledImage(image.header, bytes(image.buffer), image.missing_ranges())
        if result.complete:
            self.counters.images_complete += 1
            if not result.crc_ok:
                self.counters.crc_failures += 1
        else:
            self.counters.images_incomplete += 1
        return result

    def flush(self) -> list[ReassembledImage]:
        """End of pass: every image still in flight, as incomplete products; headers no segment
        confirmed are counted (and reported) as such, and written as no product."""
        out = self.take_evicted() + [self._finish(key) for key in list(self._images)]
        for header in self._pending.values():
            self._unconfirmed(header)
        self._pending.clear()
        self.counters.orphans_dropped += sum(len(v) for v in self._orphans.values())
        self._orphans.clear()
        self._orphan_octets = 0
        return out

    @property
    def in_progress(self) -> list[int]:
        """Ids of the images in flight (confirmed by a segment), oldest first."""
        return [image_id for _, image_id in self._images]

    @property
    def progress(self) -> list[ImageProgress]:
        """Each image in flight: segments placed of its segment count, oldest first."""
        return [
            ImageProgress(image_id, image.count, image.header.segment_count)
            for (_, image_id), image in self._images.items()
        ]

    @property
    def pending(self) -> list[int]:
        """Ids of the images announced by a header that no segment has confirmed yet, oldest first."""
        return [header.image_id for header in self._pending.values()]

    @property
    def remembered_images(self) -> int:
        """Identities of finished images remembered (to recognise duplicates): at most ``max_finished``."""
        return len(self._finished)

    @property
    def in_progress_octets(self) -> int:
        """Octets of image buffers held now (the reassembler's memory, orphans apart)."""
        return sum(image.header.image_octets for image in self._images.values())
