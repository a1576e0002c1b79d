"""Colour: every band of a multi-band camera, an RGB composite quick-look, and the products.

A colour camera's capture is one ``RenderedFrame`` per band (``render.render_bands``): same
geometry, same seed, each band exposed on its own (automatic exposure per band, as filter-
wheel cameras such as ONC-T, MapCam and EPIC do).  Raw products stay per band.

The composite's channel roles, colour balance (solar white: each band in radiance factor I/F)
and stretch (anchored on the bodies' expected signal, point-like bodies lifted) are
:mod:`protocols.image.colour_composite`'s, shared with the ground station, which builds the same
composite from the bands it receives; this module adapts rendered frames to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emulator.radiometry import band_named
from emulator.render import RenderedFrame
from protocols.image import colour_composite as shared
from protocols.image.colour_composite import (  # noqa: F401 (kept names)
    POINT_BODY_LEVEL,
    POINT_BODY_MAX_RADIUS_PX,
    POINT_BODY_MIN_SNR,
    POINT_BODY_TAPER_PX,
    STRETCH_SOFTENING,
)


def band_frame(frame: RenderedFrame) -> shared.BandFrame:
    """A rendered frame as the shared composite reads it."""
    return shared.BandFrame(frame.pixels, band_named(frame.band).centre_nm, frame.truth, frame.bit_depth)


def _band_frames(frames: Mapping[str, RenderedFrame]) -> dict[str, shared.BandFrame]:
    return {name: band_frame(frame) for name, frame in frames.items()}


def rgb_roles(bands: list[str] | tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(red, green, blue) band names by wavelength; None where a role has no band."""
    return shared.rgb_roles({b: band_named(b).centre_nm for b in bands})


def radiance_factor(frame: RenderedFrame) -> np.ndarray:
    """The frame in I/F units, sky level (median) removed."""
    return shared.radiance_factor(band_frame(frame))


def expected_peak_radiance_factor(frame: RenderedFrame) -> float:
    """The brightest body's (or foreground hardware's) expected peak, in I/F (from the truth)."""
    return shared.expected_peak_radiance_factor(band_frame(frame))


def composite_radiance_factor(frames: Mapping[str, RenderedFrame]) -> np.ndarray:
    """(H, W, 3) I/F image, channels red, green, blue."""
    return shared.composite_radiance_factor(_band_frames(frames))


def sky_noise_e(frame: RenderedFrame) -> float:
    """Robust sky noise of the frame in electrons."""
    return shared.sky_noise_e(band_frame(frame))


def point_body_gain(frames: Mapping[str, RenderedFrame], white: float, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) display gain >= 1: raised around point-like, detected bodies."""
    return shared.point_body_gain(_band_frames(frames), white, shape)


def colour_quicklook(frames: Mapping[str, RenderedFrame]) -> np.ndarray:
    """8-bit RGB composite (balance and stretch: :mod:`protocols.image.colour_composite`)."""
    return shared.colour_quicklook(_band_frames(frames))


def has_radiometry(frame: RenderedFrame) -> bool:
    """Whether the frame's truth carries what the anchored stretch needs."""
    return shared.has_radiometry(band_frame(frame))


def quicklook_rgb(frames: Mapping[str, RenderedFrame]) -> np.ndarray:
    """(H, W, 3) uint8: the anchored composite (grey for one band); a percentile stretch when the
    frames carry no radiometric truth."""
    if all(has_radiometry(f) for f in frames.values()):
        return colour_quicklook(frames)
    from protocols.image.image_products import quicklook

    frame = next(iter(frames.values()))
    return np.repeat(quicklook(frame.pixels, frame.bit_depth)[..., None], 3, axis=-1)


def write_capture_products(
    frames: Mapping[str, RenderedFrame], directory: str | Path, stem: str, truth_of: Any = None
) -> dict[str, Path]:
    """Products of one capture (``paleblue render``).

    One band: ``<stem>.png`` (quick-look, stretch anchored on the bodies' expected signal),
    ``<stem>.raw.png`` (16-bit linear counts), ``<stem>.fits`` (the same counts with a WCS
    header, ``emulator.fits_product``) and ``<stem>.json`` (truth).  Several bands: the same
    four per band as ``<stem>-<band>.*`` plus the RGB composite ``<stem>-rgb.png``.
    ``truth_of(truth)`` makes a truth JSON-ready (the CLI passes its helper).
    """
    from PIL import Image

    from emulator.fits_product import write_fits
    from protocols.image.image_products import write_image_products

    out = Path(directory)
    paths: dict[str, Path] = {}
    single = len(frames) == 1
    for band, frame in frames.items():
        band_stem = stem if single else f"{stem}-{band}"
        truth = truth_of(frame.truth) if truth_of else frame.truth
        files = write_image_products(frame.pixels, frame.bit_depth, truth, out, band_stem)
        if has_radiometry(frame):
            grey = colour_quicklook({band: frame})[..., 0]
            Image.fromarray(grey).save(files["quicklook"])
        files["fits"] = write_fits(frame, out / f"{band_stem}.fits", frame.truth)
        for kind, path in files.items():
            paths[kind if single else f"{band}.{kind}"] = path
    if not single:
        paths["rgb"] = out / f"{stem}-rgb.png"
        Image.fromarray(quicklook_rgb(frames)).save(paths["rgb"])
    return paths


def write_colour_products(
    frames: Mapping[str, RenderedFrame], directory: str | Path, stem: str, truth_of: Any = None
) -> dict[str, Path]:
    """Kept name: ``write_capture_products``."""
    return write_capture_products(frames, directory, stem, truth_of)
