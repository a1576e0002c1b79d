"""An image as one file, for delivery by CFDP: magic, compression, image header, pixel data.

Layout (big-endian)::

    octets 0-3   magic b"PBIM"
    octet  4     compression: 0 none, 1 CCSDS 121.0-B adaptive entropy coding (lossless)
    octets 5-8   length H of the image header that follows
    next H       the image header of :mod:`protocols.image.image_transport` (id, size, bit depth,
                 exposure, capture time, CRC-32 of the uncompressed pixels, truth metadata)
    the rest     the pixels: row-major, big-endian samples; or their CCSDS 121 bitstream

The header's segment fields describe how the same image would be cut into
packets; a file ignores them. The CRC-32 lets the ground prove the delivered
pixels are the ones captured, independently of CFDP's own file checksum.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import numpy as np
from construct import Bytes, Const, Int8ub, Int32ub, Struct, this

from protocols.errors import DecodeError
from protocols.image.image_transport import ImageHeader

LAYER = "image-file"
MAGIC = b"PBIM"


class Compression(IntEnum):
    NONE = 0
    CCSDS121 = 1


IMAGE_FILE_PREFIX = Struct(
    "magic" / Const(MAGIC),
    "compression" / Int8ub,
    "header_length" / Int32ub,
    "header" / Bytes(this.header_length),
)
_PREFIX = struct.Struct(">4sBI")


def pack_image_file(header: ImageHeader, pixels: bytes, compression: Compression = Compression.NONE) -> bytes:
    if len(pixels) != header.image_octets:
        raise ValueError(f"{len(pixels)} pixel octets, header declares {header.image_octets}")
    packed = header.pack()
    if compression == Compression.CCSDS121:
        from protocols.image.image_compression import compress

        body = compress(_samples(header, pixels), header.bit_depth)
    else:
        body = pixels
    return _PREFIX.pack(MAGIC, compression, len(packed)) + packed + body


def unpack_image_header(data: bytes | memoryview) -> tuple[ImageHeader, Compression, int]:
    """Header, compression and where the pixel data starts (the data may not all be there yet)."""
    if len(data) < _PREFIX.size:
        raise DecodeError(LAYER, 0, "shorter than the file prefix")
    magic, compression, length = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise DecodeError(LAYER, 0, f"magic {magic!r} is not {MAGIC!r}")
    if compression not in Compression._value2member_map_:
        raise DecodeError(LAYER, 4, f"unknown compression {compression}")
    end = _PREFIX.size + length
    if end > len(data):
        raise DecodeError(LAYER, 5, f"header of {length} octets runs past the {len(data)} given")
    header = ImageHeader.unpack(bytes(data[_PREFIX.size : end]), base_offset=_PREFIX.size)
    return header, Compression(compression), end


def unpack_image_file(data: bytes | memoryview) -> tuple[ImageHeader, bytes]:
    """Header and uncompressed pixel bytes (big-endian samples)."""
    header, compression, start = unpack_image_header(data)
    body = bytes(data[start:])
    if compression == Compression.CCSDS121:
        from protocols.image.image_compression import decompress

        samples = decompress(body, header.width, header.height, header.bit_depth)
        pixels = samples.astype(_wire_dtype(header)).tobytes()
    else:
        pixels = body
    if len(pixels) != header.image_octets:
        raise DecodeError(LAYER, start, f"{len(pixels)} pixel octets, header declares {header.image_octets}")
    return header, pixels


def _wire_dtype(header: ImageHeader) -> np.dtype:
    return np.dtype(">u2") if header.bit_depth > 8 else np.dtype("u1")


def _samples(header: ImageHeader, pixels: bytes) -> np.ndarray:
    return np.frombuffer(pixels, dtype=_wire_dtype(header)).reshape(header.height, header.width)
