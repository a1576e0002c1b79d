"""Colour: every band of a multi-band camera, an RGB composite quick-look, and the products.

A colour camera's capture is one ``RenderedFrame`` per band (``render.render_bands``): same
geometry, same seed, each band exposed on its own (automatic exposure per band, as filter-
wheel cameras such as ONC-T, MapCam and EPIC do).  Raw products stay per band.

Composite (``colour_quicklook``):

* Channel roles: the longest-wavelength band is red, the shortest blue, the middle one green
  (two bands: green is their mean; one band: grey).
* Colour balance: each band is converted to radiance factor I/F, (DN − sky)·gain divided by
  the electrons an I/F = 1 surface gives in that band and exposure (truth
  ``electrons_per_unit_radiance_factor``).  Equal I/F in every band is neutral grey, i.e. the
  balance is solar white: a spectrally flat surface looks white, the Earth blue (Rayleigh,
  ocean) and the Moon slightly red, as in calibrated EPIC and ONC-T composites.
* Stretch: the white point is anchored on the bodies' expected signal (the brightest body's
  peak expected I/F from the truth), not on a percentile, so a frame of sky noise stays black
  and a faint target is not blown up to white; an asinh curve (softening 8) then lifts a
  Moon a few times darker than the Earth; the same curve on every channel keeps hue order.
* Point-like bodies: a body whose disc is under ``POINT_BODY_MAX_RADIUS_PX`` and whose expected
  peak stands ``POINT_BODY_MIN_SNR`` sky-noise sigmas clear gets its own level: around its truth
  photocentre the display gain rises (Gaussian taper, ``POINT_BODY_TAPER_PX`` at least, wider
  for a wide PSF) until its expected peak shows at ``POINT_BODY_LEVEL`` of white, so the
  Tianwen-2 arm camera's Earth, a hundred times fainter than the sunlit capsule, is a small
  blue dot as published.  The gain is the same on every channel (hue kept) and only the display
  changes: the raw counts, FITS and I/F planes are untouched.  A body below the noise (the arm
  camera's Moon) is not lifted, so no noise is dressed up as a target.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emulator.radiometry import band_named
from emulator.render import RenderedFrame

STRETCH_SOFTENING = 8.0
POINT_BODY_MAX_RADIUS_PX = 2.0  # a disc smaller than this is a dot that gets its own display level
POINT_BODY_LEVEL = 0.35  # its expected peak is shown at this fraction of white (about 160 of 255)
POINT_BODY_MIN_SNR = 3.0  # only a body whose expected peak stands this many sky sigmas clear
POINT_BODY_TAPER_PX = 1.5  # Gaussian sigma of the lifted patch (at least 1.5 PSF sigmas)


def rgb_roles(bands: list[str] | tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(red, green, blue) band names by wavelength; None where a role has no band."""
    ordered = sorted(bands, key=lambda b: band_named(b).centre_nm, reverse=True)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    if len(ordered) == 2:
        return ordered[0], None, ordered[1]
    return ordered[0], ordered[len(ordered) // 2], ordered[-1]


def radiance_factor(frame: RenderedFrame) -> np.ndarray:
    """The frame in I/F units, sky level (median) removed."""
    sensor = frame.truth["sensor"]
    values = frame.pixels.astype(np.float64)
    sky = float(np.median(values))
    per_if = float(sensor["electrons_per_unit_radiance_factor"])
    return (values - sky) * float(sensor["gain_e_per_dn"]) / per_if


def expected_peak_radiance_factor(frame: RenderedFrame) -> float:
    """The brightest body's (or foreground hardware's) expected peak, in I/F (from the truth)."""
    sensor = frame.truth["sensor"]
    per_if = float(sensor["electrons_per_unit_radiance_factor"])
    peaks = [float(b.get("peak_expected_e", 0.0)) for b in frame.truth.get("bodies", {}).values()]
    peaks.append(float(frame.truth.get("foreground", {}).get("peak_expected_e", 0.0)))  # hardware in view
    return max(peaks, default=0.0) / per_if


def composite_radiance_factor(frames: Mapping[str, RenderedFrame]) -> np.ndarray:
    """(H, W, 3) I/F image, channels red, green, blue."""
    red, green, blue = rgb_roles(list(frames))
    planes = {name: radiance_factor(frame) for name, frame in frames.items()}
    r, b = planes[red], planes[blue]
    g = planes[green] if green is not None else 0.5 * (r + b)
    return np.stack([r, g, b], axis=-1)


def sky_noise_e(frame: RenderedFrame) -> float:
    """Robust sky noise of the frame in electrons (1.4826 MAD; the plain std of the sky if the
    counts are too coarse for a MAD)."""
    values = frame.pixels.astype(np.float64)
    sky = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - sky)))
    if not sigma > 0.0:
        quiet = values[np.abs(values - sky) <= 5.0]
        sigma = float(quiet.std()) if quiet.size else 0.0
    return max(sigma, 0.5) * float(frame.truth["sensor"]["gain_e_per_dn"])


def point_body_gain(frames: Mapping[str, RenderedFrame], white: float, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) display gain >= 1: raised around point-like, detected bodies (module docstring)."""
    gain = np.ones(shape)
    first = next(iter(frames.values()))
    noise = {band: sky_noise_e(frame) for band, frame in frames.items()}
    for name, body in first.truth.get("bodies", {}).items():
        radius = float(body.get("apparent_radius_px", np.inf))
        if not body.get("in_frame") or radius >= POINT_BODY_MAX_RADIUS_PX:
            continue
        peaks_e = {b: float(f.truth["bodies"][name].get("peak_expected_e", 0.0)) for b, f in frames.items()}
        if max(peaks_e[band] / noise[band] for band in frames) < POINT_BODY_MIN_SNR:
            continue
        peak_if = max(
            peaks_e[band] / float(f.truth["sensor"]["electrons_per_unit_radiance_factor"])
            for band, f in frames.items()
        )
        lift = POINT_BODY_LEVEL * white / peak_if if peak_if > 0.0 else 1.0
        if not lift > 1.0:
            continue
        psf_sigma = float(first.truth["sensor"].get("psf", {}).get("sigma_px", 0.0) or 0.0)
        taper = max(POINT_BODY_TAPER_PX, 1.5 * psf_sigma)
        u, v = body.get("photocentre_px") or body["centre_px"]
        reach = int(np.ceil(4.0 * taper))
        r0, r1 = max(round(v) - reach, 0), min(round(v) + reach + 1, shape[0])
        c0, c1 = max(round(u) - reach, 0), min(round(u) + reach + 1, shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        weight = np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2.0 * taper**2))
        gain[r0:r1, c0:c1] = np.maximum(gain[r0:r1, c0:c1], 1.0 + (lift - 1.0) * weight)
    return gain


def colour_quicklook(frames: Mapping[str, RenderedFrame]) -> np.ndarray:
    """8-bit RGB composite (see the module docstring for balance and stretch)."""
    rgb = composite_radiance_factor(frames)
    white = max(expected_peak_radiance_factor(f) for f in frames.values())
    if not white > 0.0:
        white = max(float(np.percentile(rgb, 99.97)), 1e-12)
        scaled = np.clip(rgb / white, 0.0, 1.0)
    else:
        gain = point_body_gain(frames, white, rgb.shape[:2])
        scaled = np.clip(rgb * (gain / white)[..., None], 0.0, 1.0)
    stretched = np.arcsinh(STRETCH_SOFTENING * scaled) / np.arcsinh(STRETCH_SOFTENING)
    return np.round(stretched * 255.0).astype(np.uint8)


def has_radiometry(frame: RenderedFrame) -> bool:
    """Whether the frame's truth carries what the anchored stretch needs."""
    return "electrons_per_unit_radiance_factor" in frame.truth.get("sensor", {})


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
