"""An image as one file, for delivery by CFDP: magic, header length, image header, pixel bytes.

Layout (big-endian)::

    octets 0-3   magic b"PBIM"
    octets 4-7   length H of the image header that follows
    next H       the image header of :mod:`protocols.image_transport` (id, size, bit depth,
                 exposure, capture time, CRC-32 of the pixels, truth metadata)
    the rest     the pixel bytes, row-major, big-endian samples

The header's segment fields describe how the same image would be cut into
packets; a file ignores them. The CRC-32 lets the ground prove the delivered
pixels are the ones captured, independently of CFDP's own file checksum.
"""

from __future__ import annotations

import struct

from construct import Bytes, Const, Int32ub, Struct, this

from protocols.errors import DecodeError
from protocols.image_transport import ImageHeader

LAYER = "image-file"
MAGIC = b"PBIM"

IMAGE_FILE_PREFIX = Struct(
    "magic" / Const(MAGIC), "header_length" / Int32ub, "header" / Bytes(this.header_length)
)
_PREFIX = struct.Struct(">4sI")


def pack_image_file(header: ImageHeader, pixels: bytes) -> bytes:
    if len(pixels) != header.image_octets:
        raise ValueError(f"{len(pixels)} pixel octets, header declares {header.image_octets}")
    packed = header.pack()
    return _PREFIX.pack(MAGIC, len(packed)) + packed + pixels


def unpack_image_header(data: bytes | memoryview) -> tuple[ImageHeader, int]:
    """The header of an image file and the offset where its pixels start (they may not be there yet)."""
    if len(data) < _PREFIX.size:
        raise DecodeError(LAYER, 0, "shorter than the file prefix")
    magic, length = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise DecodeError(LAYER, 0, f"magic {magic!r} is not {MAGIC!r}")
    end = _PREFIX.size + length
    if end > len(data):
        raise DecodeError(LAYER, 4, f"header of {length} octets runs past the {len(data)} given")
    return ImageHeader.unpack(bytes(data[_PREFIX.size : end]), base_offset=_PREFIX.size), end


def unpack_image_file(data: bytes | memoryview) -> tuple[ImageHeader, bytes]:
    header, start = unpack_image_header(data)
    pixels = bytes(data[start:])
    if len(pixels) != header.image_octets:
        raise DecodeError(LAYER, start, f"{len(pixels)} pixel octets, header declares {header.image_octets}")
    return header, pixels
