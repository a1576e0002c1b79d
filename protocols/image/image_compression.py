"""Lossless image compression with the CCSDS 121.0-B adaptive entropy coder (Rice), via libaec.

libaec is CCSDS 121.0-B's reference-quality implementation; imagecodecs ships
it on PyPI (optional extra ``compression``). Parameters are the CCSDS ones
most missions use: block size J = 16 samples, reference sample interval 128
blocks, unit-delay predictor with the standard preprocessor, bits per sample =
the camera's bit depth.
"""

from __future__ import annotations

import numpy as np

from protocols.errors import DecodeError

LAYER = "aec"
BLOCK_SIZE = 16
REFERENCE_SAMPLE_INTERVAL = 128


def _codec():
    try:
        import imagecodecs
    except ImportError:
        raise RuntimeError(
            "CCSDS 121 compression needs the 'compression' extra: pip install paleblue[compression]"
        ) from None
    return imagecodecs


def compress(pixels: np.ndarray, bit_depth: int) -> bytes:
    """AEC-coded samples of a 2-D image (uint8 or uint16)."""
    codec = _codec()
    samples = np.ascontiguousarray(pixels, dtype=np.uint16 if bit_depth > 8 else np.uint8)
    return bytes(
        codec.aec_encode(
            samples, bitspersample=bit_depth, flags=codec.AEC.FLAG.DATA_PREPROCESS,
            blocksize=BLOCK_SIZE, rsi=REFERENCE_SAMPLE_INTERVAL,
        )
    )  # fmt: skip


def decompress(data: bytes, width: int, height: int, bit_depth: int) -> np.ndarray:
    """The image back from its AEC bitstream; DecodeError if the stream is damaged."""
    codec = _codec()
    dtype = np.dtype(np.uint16 if bit_depth > 8 else np.uint8)
    samples = width * height
    # the decoder fills whole blocks, so it may give up to one block of samples more than the image
    room = (samples + BLOCK_SIZE) * dtype.itemsize
    try:
        decoded = codec.aec_decode(
            data, bitspersample=bit_depth, flags=codec.AEC.FLAG.DATA_PREPROCESS,
            blocksize=BLOCK_SIZE, rsi=REFERENCE_SAMPLE_INTERVAL, out=room,
        )  # fmt: skip
    except Exception as exc:  # libaec reports damage through imagecodecs' own error type
        raise DecodeError(LAYER, 0, f"AEC stream does not decode: {exc.__class__.__name__}") from None
    if len(decoded) < samples * dtype.itemsize:
        got = len(decoded) // dtype.itemsize
        raise DecodeError(LAYER, len(data), f"AEC stream holds {got} of {samples} samples")
    out = np.frombuffer(decoded, dtype=dtype, count=samples).reshape(height, width)
    if bit_depth < 16 and int(out.max(initial=0)) >> bit_depth:
        raise DecodeError(LAYER, 0, f"decoded samples exceed {bit_depth} bits")
    return out
