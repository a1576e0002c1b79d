"""The raw frame as FITS with a celestial WCS, which astronomy tools and GIANT open directly.

Primary HDU: the linear counts (16-bit unsigned, full bit depth, row 0 of the array is FITS
row 1), with a gnomonic (TAN) WCS built from the truth attitude: CRVAL is the boresight's
ICRF right ascension and declination, CRPIX the principal point (FITS pixels count from 1),
and the CD matrix maps pixel offsets to the tangent plane through the camera's focal lengths
and the camera-to-ICRF rotation.  For a pinhole camera this TAN projection is exact (the
boresight is orthogonal to the image axes); lens distortion, where a seed has it, is not in
the WCS (the truth JSON carries the Brown coefficients).  The truth attitude is geometric (no
stellar aberration), so star positions carry the aberration the truth file lists per star.
Keywords: EXPTIME, DATE-OBS, FILTER and the band edges, GAIN, BIAS, BITDEPTH, TELESCOP, INSTRUME.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from emulator.render import RenderedFrame


def _quat_to_dcm(q: list[float]) -> np.ndarray:
    w, x, y, z = (float(c) for c in q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def wcs_keywords(truth: dict[str, Any]) -> dict[str, Any]:
    """TAN WCS keywords from the truth camera block (attitude quaternion and intrinsics)."""
    camera = truth["camera"]
    rotation = _quat_to_dcm(camera["cam_to_icrf_quaternion_wxyz"])  # camera → ICRF
    boresight = rotation[:, 2]
    ra = float(np.degrees(np.arctan2(boresight[1], boresight[0])) % 360.0)
    dec = float(np.degrees(np.arcsin(np.clip(boresight[2], -1.0, 1.0))))
    a, d = np.radians(ra), np.radians(dec)
    east = np.array([-np.sin(a), np.cos(a), 0.0])
    north = np.array([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    column = rotation[:, 0] / float(camera["fx_px"])  # tangent-plane step of one pixel along a row
    row = rotation[:, 1] / float(camera["fy_px"])
    deg = 180.0 / np.pi
    return {
        "WCSAXES": 2,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CRVAL1": ra,
        "CRVAL2": dec,
        "CRPIX1": float(camera["cx_px"]) + 1.0,
        "CRPIX2": float(camera["cy_px"]) + 1.0,
        "CD1_1": float(column @ east) * deg,
        "CD1_2": float(row @ east) * deg,
        "CD2_1": float(column @ north) * deg,
        "CD2_2": float(row @ north) * deg,
        "RADESYS": "ICRS",
    }


def fits_hdul(frame: RenderedFrame, truth: dict[str, Any] | None = None):
    """An ``astropy.io.fits.HDUList`` holding the raw frame and its WCS header."""
    from astropy.io import fits

    truth = truth if truth is not None else frame.truth
    hdu = fits.PrimaryHDU(np.ascontiguousarray(frame.pixels, dtype=np.uint16))
    header = hdu.header
    for key, value in wcs_keywords(truth).items():
        header[key] = value
    sensor = truth.get("sensor", {})
    header["BUNIT"] = ("adu", "linear counts at full bit depth")
    header["EXPTIME"] = (float(frame.exposure_s), "exposure, s")
    header["DATE-OBS"] = frame.capture_time_utc.strftime("%Y-%m-%dT%H:%M:%S.%f")
    epoch = frame.capture_time_utc.replace(tzinfo=None) - datetime(1858, 11, 17)
    header["MJD-OBS"] = epoch.total_seconds() / 86400.0
    header["FILTER"] = frame.band
    if "band_nm" in sensor:
        header["BANDLO"] = (float(sensor["band_nm"][0]), "band lower edge, nm")
        header["BANDHI"] = (float(sensor["band_nm"][1]), "band upper edge, nm")
    if "gain_e_per_dn" in sensor:
        header["GAIN"] = (float(sensor["gain_e_per_dn"]), "electrons per DN")
        header["BIAS"] = (float(sensor["bias_dn"]), "ADC offset, DN")
    header["BITDEPTH"] = (int(frame.bit_depth), "ADC bits")
    if truth.get("scenario"):
        header["OBJECT"] = str(truth["scenario"])[:68]
    return fits.HDUList([hdu])


def write_fits(frame: RenderedFrame, path: str | Path, truth: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (overwriting) and return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fits_hdul(frame, truth).writeto(out, overwrite=True)
    return out
