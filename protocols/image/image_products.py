"""Image products shared by the probe side and the ground station: quick-look, raw PNG, truth JSON.

Pure numpy/Pillow; no emulator imports, so the ground station can write the very same
products from a frame it reassembled off the link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from protocols.atomic_file import write_atomically
from protocols.image.png import encode_grey_png

QUICKLOOK_SOFTENING = 30.0  # asinh stretch strength: larger lifts faint targets more


NOISE_FLOOR_SIGMAS = 50.0


# Octets never received are drawn as this grey hatch, whichever way the image came (image
# packets or a CFDP file): 4-pixel diagonal bands of the two levels.
HATCH_LEVELS = (96, 160)
HATCH_PERIOD = 8


def quicklook(pixels: np.ndarray, bit_depth: int, missing: np.ndarray | None = None) -> np.ndarray:
    """8-bit display stretch of a linear frame: sky-level black point, bright-end white point, asinh.

    The black point is the frame median (the sky: bias plus dark); the white point is the
    99.97th percentile above it (so a handful of hot pixels or cosmic-ray hits do not set
    it); an asinh curve then lifts faint targets (a Moon ten times darker than the Earth)
    without clipping the bright one.

    ``missing`` (a boolean frame, see :func:`missing_pixels`) marks pixels never received: the
    levels come from the received pixels alone, and the missing ones are drawn as a grey hatch.
    """
    if pixels.ndim != 2:
        raise ValueError(f"quicklook: expected a 2-D frame, got shape {pixels.shape}")
    if missing is not None and missing.shape != pixels.shape:
        raise ValueError(f"quicklook: missing mask {missing.shape} is not the frame's {pixels.shape}")
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2:
        image = _stretch_by_table(pixels, missing, bit_depth)
    elif missing is None or not missing.any():
        values = pixels.astype(np.float64)
        image = _stretch(values, values, values[::7, ::7], bit_depth)
    else:
        values = pixels.astype(np.float64)
        received = values[~missing]
        if not received.size:
            received = np.zeros(1)
        image = _stretch(values, received, received[::49], bit_depth)
    if missing is not None and missing.any():
        rows, cols = np.indices(missing.shape)
        dark, light = HATCH_LEVELS
        hatch = np.where((rows + cols) % HATCH_PERIOD < HATCH_PERIOD // 2, dark, light).astype(np.uint8)
        image[missing] = hatch[missing]
    return image


def missing_pixels(
    missing_ranges: Iterable[tuple[int, int]], width: int, height: int, bit_depth: int
) -> np.ndarray:
    """The pixels of a ``width`` x ``height`` frame that hold an octet of ``missing_ranges``
    (half-open octet ranges of the row-major pixel data, one octet a sample up to 8 bits, two above)."""
    sample = 1 if bit_depth <= 8 else 2
    octets = np.zeros(width * height * sample, dtype=bool)
    for start, end in missing_ranges:
        octets[max(start, 0) : max(end, 0)] = True
    return octets.reshape(-1, sample).any(axis=1).reshape(height, width)


def _stretch(values: np.ndarray, levels: np.ndarray, noise_sample: np.ndarray, bit_depth: int) -> np.ndarray:
    """:func:`quicklook`'s stretch of ``values``, its levels measured on ``levels``."""
    black = float(np.median(levels))
    # When the targets cover fewer pixels than the percentile (point sources from Mercury or
    # Mars), the percentile lands in the noise; keep the white point well above the noise then.
    noise = 1.4826 * float(np.median(np.abs(noise_sample - black)))
    white = float(np.percentile(levels, 99.97))
    top = float(levels.max(initial=0.0))
    return _asinh_curve(values, black, _white_point(black, noise, white, top, bit_depth))


def _white_point(black: float, noise: float, percentile: float, top: float, bit_depth: int) -> float:
    white = max(percentile, black + NOISE_FLOOR_SIGMAS * noise)
    if white <= black + 1.0:
        white = max(top, black + 1.0)
    full_scale = float((1 << bit_depth) - 1)
    return min(white, full_scale) if full_scale > black + 1.0 else white


def _asinh_curve(values: np.ndarray, black: float, white: float) -> np.ndarray:
    scaled = np.clip((values - black) / (white - black), 0.0, 1.0)
    stretched = np.arcsinh(QUICKLOOK_SOFTENING * scaled) / np.arcsinh(QUICKLOOK_SOFTENING)
    return np.round(stretched * 255.0).astype(np.uint8)


def _stretch_by_table(pixels: np.ndarray, missing: np.ndarray | None, bit_depth: int) -> np.ndarray:
    """:func:`_stretch` of integer pixels, the same octets in a tenth of the time (issue 16): the
    median and the percentile read off the histogram, and the curve computed once per level
    and looked up. The order statistics are numpy's (``median``: the mean of the two middle
    values; ``percentile``: its "linear" method, with its interpolation written the same way)."""
    whole = missing is None or not missing.any()
    levels = pixels.ravel() if whole else pixels[~missing]
    noise_sample = pixels[::7, ::7] if whole else levels[::49]
    if not levels.size:
        levels = noise_sample = np.zeros(1, dtype=pixels.dtype)
    count = levels.size
    at_or_below = np.cumsum(np.bincount(levels))

    def ranked(k: int) -> float:  # the k-th smallest level, from 0
        return float(np.searchsorted(at_or_below, k, side="right"))

    middle = count // 2
    black = ranked(middle) if count % 2 else (ranked(middle - 1) + ranked(middle)) / 2.0
    noise = 1.4826 * float(np.median(np.abs(noise_sample.astype(np.float64) - black)))
    virtual = (count - 1) * float(np.true_divide(99.97, 100))
    if virtual >= count - 1:
        below = above = ranked(count - 1)
        weight = 0.0
    else:
        rank = int(np.floor(virtual))
        below, above, weight = ranked(rank), ranked(rank + 1), virtual - rank
    step = above - below
    percentile = above - step * (1 - weight) if weight >= 0.5 else below + step * weight
    white = _white_point(black, noise, percentile, ranked(count - 1), bit_depth)
    table = _asinh_curve(np.arange(int(pixels.max(initial=0)) + 1, dtype=np.float64), black, white)
    return table[pixels]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()  # metadata arrives over the link: keep odd values visible, never fail
    return repr(value)


def safe_name(text: str | None, default: str = "image", length: int = 80) -> str:
    """``text`` reduced to ``A-Z a-z 0-9 . _ -`` (others become ``_``), at most ``length``
    characters, not starting with a dot: it comes from downlinked metadata, so no directory can be
    named through it."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text or default)[:length].lstrip(".") or default


def product_stem(scenario: str | None, image_id: int, partial: bool = False, band: str | None = None) -> str:
    """``<scenario>-<id>[-<band>][-partial]``: ``band`` for one band of a multi-band capture
    (``tianwen2-2025-armcam-002-green``); the names come from downlinked metadata, so only a safe
    subset of characters is kept (:func:`safe_name`)."""
    stem = f"{safe_name(scenario)}-{image_id:03d}"
    if band:
        stem += f"-{safe_name(band, 'band', 32)}"
    return stem + ("-partial" if partial else "")


def write_image_products(
    pixels: np.ndarray,
    bit_depth: int,
    truth: dict[str, Any],
    directory: str | Path,
    stem: str,
    missing: np.ndarray | None = None,
) -> dict[str, Path]:
    """Write ``<stem>.png`` (quick-look), ``<stem>.raw.png`` (16-bit linear DN) and ``<stem>.json``,
    each whole or not at all (:func:`~protocols.atomic_file.write_atomically`); ``missing`` marks
    pixels never received, hatched in the quick-look (see :func:`quicklook`)."""
    if not 1 <= bit_depth <= 16:
        raise ValueError(f"bit_depth: must be 1..16, got {bit_depth}")
    if not stem or Path(stem).name != stem or stem.startswith("."):
        raise ValueError(f"stem {stem!r} must be a plain file name")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"quicklook": out / f"{stem}.png", "raw": out / f"{stem}.raw.png", "truth": out / f"{stem}.json"}
    # our PNG writer (protocols.image.png): Pillow's per-row filter search was most of the time
    write_atomically(paths["quicklook"], encode_grey_png(quicklook(pixels, bit_depth, missing)))
    write_atomically(paths["raw"], encode_grey_png(np.asarray(pixels, dtype=np.uint16)))
    sensor = truth.get("sensor")
    exposure = truth.get("exposure_s", sensor.get("exposure_s") if isinstance(sensor, dict) else None)
    record = {**truth, "bit_depth": bit_depth, "exposure_s": exposure}
    write_atomically(paths["truth"], json.dumps(record, indent=2, default=_json_default) + "\n")
    return paths
