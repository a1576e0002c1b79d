"""The FITS product: raw counts round-trip and its WCS puts each body where the renderer did."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.fits_product import write_fits
from emulator.geometry import compute_geometry
from emulator.render import render_scenario
from emulator.scenario import load_scenario


@pytest.mark.parametrize("name", ["hayabusa2-onct-2015-11-26", "tianwen1-2020-07-27"])
def test_fits_round_trip_and_wcs_matches_the_truth(name: str, tmp_path) -> None:
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.wcs import WCS

    scenario = load_scenario(name)
    frame = render_scenario(scenario)
    path = write_fits(frame, tmp_path / "frame.fits")
    with fits.open(path) as hdul:
        data = hdul[0].data
        header = hdul[0].header
        assert np.array_equal(data, frame.pixels)
        assert header["EXPTIME"] == pytest.approx(frame.exposure_s)
        wcs = WCS(header)
    geometry = compute_geometry(scenario, 0)
    for view in geometry.bodies:
        direction = geometry.cam_to_icrf @ np.asarray(view.centre_cam_km, dtype=float)
        ra = np.degrees(np.arctan2(direction[1], direction[0]))
        dec = np.degrees(np.arcsin(direction[2] / np.linalg.norm(direction)))
        u, v = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg", frame="icrs"))
        truth_u, truth_v = frame.truth["bodies"][view.name]["centre_px"]
        assert abs(float(u) - truth_u) < 0.01 and abs(float(v) - truth_v) < 0.01
