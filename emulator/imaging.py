"""Turns a captured frame into the packets that carry it to the ground."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import (
    DEFAULT_SEGMENT_OCTETS,
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    SUBTYPE_IMAGE_SEGMENT,
    ImageHeader,
    iter_segments,
    make_image_header,
)
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmPacket, TmSecondaryHeader


def pixel_bytes(pixels: np.ndarray, bit_depth: int) -> bytes:
    """Row-major, big-endian samples: one octet up to 8 bits, two above."""
    dtype = np.dtype(">u2") if bit_depth > 8 else np.dtype("u1")
    return np.ascontiguousarray(pixels, dtype=dtype).tobytes()


def image_packets(
    image_id: int,
    pixels: np.ndarray,
    bit_depth: int,
    exposure_s: float,
    capture_time_utc: datetime,
    metadata: ImageMetadata,
    sequence: SequenceCounter,
    now: CucTime,
    segment_octets: int = DEFAULT_SEGMENT_OCTETS,
) -> tuple[ImageHeader, list[bytes]]:
    """The header packet and the data packets of one image, ready for the downlink."""
    data = pixel_bytes(pixels, bit_depth)
    height, width = pixels.shape
    header = make_image_header(
        image_id=image_id,
        pixels=data,
        width=width,
        height=height,
        bit_depth=bit_depth,
        exposure_us=round(exposure_s * 1e6),
        capture_time=CucTime.from_utc(capture_time_utc),
        metadata=metadata.to_map(),
        segment_octets=segment_octets,
    )
    first = TmSecondaryHeader(SERVICE_IMAGE, SUBTYPE_IMAGE_HEADER, now)
    packets = [TmPacket(Apid.CAMERA, sequence.next(Apid.CAMERA), first, header.pack()).pack()]
    secondary = TmSecondaryHeader(SERVICE_IMAGE, SUBTYPE_IMAGE_SEGMENT, now)
    for flags, segment in iter_segments(header, data):
        packets.append(
            TmPacket(Apid.CAMERA, sequence.next(Apid.CAMERA), secondary, segment.pack(), flags).pack()
        )
    return header, packets
