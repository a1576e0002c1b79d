"""The RGB composite of a multi-band capture: one pure function for the probe side and the ground.

``paleblue render`` (``emulator.colour``) and the ground station (``groundstation.captures``) both
build a colour quick-look from the bands of one capture; the balance and the stretch live here, in
the one layer both may import, so the two cannot drift apart. Each band is a :class:`BandFrame`: its
linear counts, its centre wavelength and its truth (the image metadata's map: ``sensor``,
``bodies``, ``foreground``).

* Channel roles: the longest-wavelength band is red, the shortest blue, the middle one green
  (two bands: green is their mean; one band: grey).
* Colour balance: each band is converted to radiance factor I/F, (DN − sky)·gain divided by
  the electrons an I/F = 1 surface gives in that band and exposure (truth
  ``sensor.electrons_per_unit_radiance_factor``).  Equal I/F in every band is neutral grey, i.e.
  the balance is solar white: a spectrally flat surface looks white, the Earth blue (Rayleigh,
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
  changes: the raw counts and the I/F planes are untouched.  A body below the noise is not
  lifted, so no noise is dressed up as a target.
* Without radiometric truth (a band whose metadata lacks ``electrons_per_unit_radiance_factor``)
  :func:`composite_quicklook` falls back to each band's own percentile stretch
  (:func:`protocols.image.image_products.quicklook`): uncalibrated colour, and said so
  (:func:`balance_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

STRETCH_SOFTENING = 8.0
POINT_BODY_MAX_RADIUS_PX = 2.0  # a disc smaller than this is a dot that gets its own display level
POINT_BODY_LEVEL = 0.35  # its expected peak is shown at this fraction of white (about 160 of 255)
POINT_BODY_MIN_SNR = 3.0  # only a body whose expected peak stands this many sky sigmas clear
POINT_BODY_TAPER_PX = 1.5  # Gaussian sigma of the lifted patch (at least 1.5 PSF sigmas)

BALANCE_SOLAR_WHITE = "solar white (each band in I/F from the truth's electrons per unit radiance factor)"
BALANCE_PERCENTILE = "none: each band's own percentile stretch (its metadata lacks radiometric truth)"


@dataclass(frozen=True)
class BandFrame:
    """One band of a capture: its linear counts (H, W), its centre wavelength and its truth map."""

    pixels: np.ndarray
    centre_nm: float
    truth: Mapping[str, Any]
    bit_depth: int = 16

    @property
    def sensor(self) -> Mapping[str, Any]:
        return self.truth.get("sensor") or {}


def rgb_roles(centres_nm: Mapping[str, float]) -> tuple[str | None, str | None, str | None]:
    """(red, green, blue) band names by centre wavelength; None where a role has no band."""
    ordered = sorted(centres_nm, key=lambda name: centres_nm[name], reverse=True)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    if len(ordered) == 2:
        return ordered[0], None, ordered[1]
    return ordered[0], ordered[len(ordered) // 2], ordered[-1]


def radiance_factor(frame: BandFrame) -> np.ndarray:
    """The frame in I/F units, sky level (median) removed."""
    values = frame.pixels.astype(np.float64)
    sky = float(np.median(values))
    per_if = float(frame.sensor["electrons_per_unit_radiance_factor"])
    return (values - sky) * float(frame.sensor["gain_e_per_dn"]) / per_if


def expected_peak_radiance_factor(frame: BandFrame) -> float:
    """The brightest body's (or foreground hardware's) expected peak, in I/F (from the truth)."""
    per_if = float(frame.sensor["electrons_per_unit_radiance_factor"])
    bodies = frame.truth.get("bodies") or {}
    peaks = [float(b.get("peak_expected_e") or 0.0) for b in bodies.values()]
    foreground = frame.truth.get("foreground") or {}
    peaks.append(float(foreground.get("peak_expected_e") or 0.0))  # hardware in view
    return max(peaks, default=0.0) / per_if


def composite_radiance_factor(frames: Mapping[str, BandFrame]) -> np.ndarray:
    """(H, W, 3) I/F image, channels red, green, blue."""
    red, green, blue = rgb_roles({name: f.centre_nm for name, f in frames.items()})
    assert red is not None and blue is not None
    planes = {name: radiance_factor(frame) for name, frame in frames.items()}
    r, b = planes[red], planes[blue]
    g = planes[green] if green is not None else 0.5 * (r + b)
    return np.stack([r, g, b], axis=-1)


def sky_noise_e(frame: BandFrame) -> float:
    """Robust sky noise of the frame in electrons (1.4826 MAD; the plain std of the sky if the
    counts are too coarse for a MAD)."""
    values = frame.pixels.astype(np.float64)
    sky = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - sky)))
    if not sigma > 0.0:
        quiet = values[np.abs(values - sky) <= 5.0]
        sigma = float(quiet.std()) if quiet.size else 0.0
    return max(sigma, 0.5) * float(frame.sensor["gain_e_per_dn"])


def point_body_gain(frames: Mapping[str, BandFrame], white: float, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) display gain >= 1: raised around point-like, detected bodies (module docstring)."""
    gain = np.ones(shape)
    first = next(iter(frames.values()))
    noise = {band: sky_noise_e(frame) for band, frame in frames.items()}
    for name, body in (first.truth.get("bodies") or {}).items():
        radius = body.get("apparent_radius_px")
        radius = np.inf if radius is None else float(radius)
        if not body.get("in_frame") or radius >= POINT_BODY_MAX_RADIUS_PX:
            continue
        peaks_e = {
            b: float(((f.truth.get("bodies") or {}).get(name) or {}).get("peak_expected_e") or 0.0)
            for b, f in frames.items()
        }
        if max(peaks_e[band] / noise[band] for band in frames) < POINT_BODY_MIN_SNR:
            continue
        peak_if = max(
            peaks_e[band] / float(f.sensor["electrons_per_unit_radiance_factor"])
            for band, f in frames.items()
        )
        lift = POINT_BODY_LEVEL * white / peak_if if peak_if > 0.0 else 1.0
        if not lift > 1.0:
            continue
        psf_sigma = float((first.sensor.get("psf") or {}).get("sigma_px") or 0.0)
        taper = max(POINT_BODY_TAPER_PX, 1.5 * psf_sigma)
        centre = body.get("photocentre_px") or body.get("centre_px")
        if centre is None:
            continue
        u, v = float(centre[0]), float(centre[1])
        reach = int(np.ceil(4.0 * taper))
        r0, r1 = max(round(v) - reach, 0), min(round(v) + reach + 1, shape[0])
        c0, c1 = max(round(u) - reach, 0), min(round(u) + reach + 1, shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        weight = np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2.0 * taper**2))
        gain[r0:r1, c0:c1] = np.maximum(gain[r0:r1, c0:c1], 1.0 + (lift - 1.0) * weight)
    return gain


def colour_quicklook(frames: Mapping[str, BandFrame]) -> np.ndarray:
    """8-bit RGB composite, balanced to solar white and anchored on the bodies (module docstring)."""
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


def has_radiometry(frame: BandFrame) -> bool:
    """Whether the frame's truth carries what the balance and the anchored stretch need."""
    sensor = frame.sensor
    per_if, gain = sensor.get("electrons_per_unit_radiance_factor"), sensor.get("gain_e_per_dn")
    return bool(per_if) and bool(gain) and float(per_if) > 0.0 and float(gain) > 0.0


def balance_of(frames: Mapping[str, BandFrame]) -> str:
    """How :func:`composite_quicklook` balances these frames, in words (for reports)."""
    return BALANCE_SOLAR_WHITE if all(has_radiometry(f) for f in frames.values()) else BALANCE_PERCENTILE


def composite_quicklook(frames: Mapping[str, BandFrame]) -> np.ndarray:
    """(H, W, 3) uint8: :func:`colour_quicklook` when every band has its radiometric truth, else
    each band's own percentile stretch in its colour role (uncalibrated)."""
    if all(has_radiometry(f) for f in frames.values()):
        return colour_quicklook(frames)
    from protocols.image.image_products import quicklook

    red, green, blue = rgb_roles({name: f.centre_nm for name, f in frames.items()})
    assert red is not None and blue is not None
    r = quicklook(frames[red].pixels, frames[red].bit_depth)
    b = quicklook(frames[blue].pixels, frames[blue].bit_depth)
    if green is None:
        g = ((r.astype(np.uint16) + b) // 2).astype(np.uint8)
    else:
        g = quicklook(frames[green].pixels, frames[green].bit_depth)
    return np.stack([r, g, b], axis=-1)
