"""Hipparcos stars: in MESSENGER's frame and its truth, aberrated, and good enough to fix the attitude."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emulator.detector import Effects
from emulator.geometry import compute_geometry
from emulator.radiometry import band_named
from emulator.render import render_scenario
from emulator.scenario import load_scenario
from emulator.stars import aberrate, load_catalogue, photon_flux
from tests.emulator.star_attitude import image_displacement_px, solve_attitude

MESSENGER = "messenger-mdis-2010-05-06"


@pytest.fixture(scope="module")
def messenger():
    scenario = load_scenario(MESSENGER)
    return scenario, render_scenario(scenario), compute_geometry(scenario, 0)


def test_catalogue_holds_the_bright_stars() -> None:
    catalogue = load_catalogue()
    sirius = int(np.nonzero(catalogue.hip == 32349)[0][0])
    assert math.degrees(catalogue.ra_rad[sirius]) == pytest.approx(101.287, abs=0.01)
    assert math.degrees(catalogue.dec_rad[sirius]) == pytest.approx(-16.716, abs=0.01)
    assert catalogue.hip.size > 50_000


def test_magnitudes_to_photons() -> None:
    pan = band_named("pan")
    assert photon_flux(np.array([0.0]), pan)[0] / photon_flux(np.array([5.0]), pan)[0] == pytest.approx(100.0)
    # A V = 0 star gives about 1e8 photons s^-1 m^-2 nm^-1 near 550 nm (Vega's zero point).
    green = band_named("green")
    per_nm = photon_flux(np.array([0.0]), green)[0] / (green.high_nm - green.low_nm)
    assert 0.8e8 < per_nm < 1.2e8


def test_aberration_is_twenty_arcseconds_at_thirty_km_s() -> None:
    direction = np.array([[1.0, 0.0, 0.0]])
    moved = aberrate(direction, np.array([0.0, 30.0, 0.0]))
    assert math.degrees(math.acos(float(moved[0] @ direction[0]))) * 3600 == pytest.approx(20.6, abs=0.2)


def test_messenger_frame_shows_the_catalogue_stars(messenger) -> None:
    scenario, frame, _ = messenger
    stars = frame.truth["stars"]
    visible = [s for s in stars if s["detectable"]]
    assert len(visible) >= 2
    pixels = frame.pixels.astype(float)
    sky = float(np.median(pixels))
    noise = 1.4826 * float(np.median(np.abs(pixels - sky)))
    for star in visible:
        u, v = star["pixel"]
        core = pixels[round(v) - 1 : round(v) + 2, round(u) - 1 : round(u) + 2]
        assert core.max() > sky + 4 * noise, star
    assert render_scenario(scenario, effects=Effects.none()).truth["stars"] == []


def test_star_attitude_recovers_the_truth_to_a_fraction_of_a_pixel(messenger) -> None:
    scenario, frame, geometry = messenger
    solved, used = solve_attitude(frame, scenario.camera, geometry.cam_to_icrf, geometry.probe_position_km)
    assert used >= 3
    error = image_displacement_px(scenario.camera, solved, geometry.cam_to_icrf)
    assert error < 0.4
    # Without stellar aberration the same stars put the attitude off by more than half a pixel.
    unaberrated, _ = solve_attitude(
        frame, scenario.camera, geometry.cam_to_icrf, geometry.probe_position_km, aberration=False
    )
    assert image_displacement_px(scenario.camera, unaberrated, geometry.cam_to_icrf) > error + 0.3
