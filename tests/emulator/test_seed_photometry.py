"""Every seed's raw frame against the published disc-integrated phase curves (issue 21).

Measured from the digitised frame (aperture photometry, ``seed_photometry.measure``): the
Earth/Moon flux ratio within 20 % of the ratio the published V-band laws give at the
seed's phases and distances (Mallama & Hilton 2018 for the Earth, Allen's lunar law), and
each body's implied V geometric albedo within 15 % of 0.40 (Earth) and 0.12 (Moon).
"""

from __future__ import annotations

import pytest

from emulator import photometry
from emulator.radiometry import band_named
from emulator.scenario import load_scenario, scenario_names
from tests.emulator.seed_photometry import measure

SEEDS = scenario_names()


@pytest.mark.parametrize("name", SEEDS)
def test_seed_fluxes_follow_the_published_phase_curves(name: str) -> None:
    result = measure(load_scenario(name))
    bodies = result["bodies"]
    assert bodies, "no body in frame"
    if "earth" in bodies:
        assert bodies["earth"]["implied_albedo_v"] == pytest.approx(0.40, rel=0.15)
    if "moon" in bodies:
        assert bodies["moon"]["implied_albedo_v"] == pytest.approx(0.12, rel=0.15)
    if len(bodies) == 2:
        assert result["measured_ratio"] == pytest.approx(result["expected_ratio"], rel=0.20)


@pytest.mark.parametrize("body", ["earth", "moon"])
@pytest.mark.parametrize("phase", [0.0, 30.0, 60.0, 90.0, 120.0, 150.0])
def test_average_disc_follows_the_published_law_exactly(body: str, phase: float) -> None:
    """The calibration itself: a uniform average disc reproduces p_V·Φ(α) to 1 %."""
    from emulator.textures import CLOUD_ALBEDO, CLOUD_COVER

    band = band_named("green")
    if body == "earth":
        p_band = photometry.band_geometric_albedo("earth", band.low_nm, band.high_nm)
        tau = photometry.rayleigh_optical_depth(band.centre_nm)
        surface, ocean = 0.08, 0.7 * (1 - CLOUD_COVER)
        gain = photometry.earth_gain(phase, p_band, tau, surface, ocean, CLOUD_COVER, CLOUD_ALBEDO)

        def law(mu0, mu):
            return gain * photometry.earth_reflectance(
                surface, CLOUD_COVER, ocean / (1 - CLOUD_COVER), mu0, mu, phase, tau, CLOUD_ALBEDO
            )
    else:
        p_band = photometry.band_geometric_albedo("moon", band.low_nm, band.high_nm)
        gain = photometry.moon_gain(phase, p_band)

        def law(mu0, mu):
            return gain * photometry.lunar_lambert(1.0, mu0, mu, phase)

    assert photometry.disc_average(law, phase) == pytest.approx(
        p_band * photometry.phase_function(body, phase), rel=0.01
    )


def test_published_constants() -> None:
    assert pytest.approx(0.434, abs=0.01) == photometry.EARTH_GEOMETRIC_ALBEDO_V  # Mallama & Hilton
    assert pytest.approx(0.12, abs=0.005) == photometry.MOON_GEOMETRIC_ALBEDO_V
    assert pytest.approx(0.21, abs=0.02) == photometry.MOON_V10
    assert photometry.phase_function("earth", 90.0) == pytest.approx(0.236, abs=0.002)
    # Earth blue, Moon red.
    blue, red = band_named("blue"), band_named("red")
    assert photometry.band_geometric_albedo(
        "earth", blue.low_nm, blue.high_nm
    ) > photometry.band_geometric_albedo("earth", red.low_nm, red.high_nm)
    assert photometry.band_geometric_albedo(
        "moon", blue.low_nm, blue.high_nm
    ) < photometry.band_geometric_albedo("moon", red.low_nm, red.high_nm)
