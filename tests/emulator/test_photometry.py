"""Photometric laws, solar radiometry and albedo maps against published numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import photometry
from emulator.lunar_albedo import HIGHLAND_ALBEDO, MARE_ALBEDO, lunar_albedo_map
from emulator.radiometry import AU_KM, Band, band_irradiance_w_m2, band_named, band_photon_irradiance
from emulator.scene import DEFAULT_EARTH_ALBEDO, ShadingOptions, disc_integrated_flux
from emulator.scene_geometry import BodyView
from emulator.textures import earth_albedo_map


def _unit(lat_deg: float, lon_deg: float) -> np.ndarray:
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    return np.array([[math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]])


def test_mcewen_weight_matches_the_published_cubic() -> None:
    assert photometry.lunar_lambert_weight(0.0) == 1.0
    assert photometry.lunar_lambert_weight(60.0) == pytest.approx(
        1 - 0.019 * 60 + 2.42e-4 * 3600 - 1.46e-6 * 216000
    )
    assert photometry.lunar_lambert_weight(170.0) == 0.0  # clipped outside the fit


def test_lunar_lambert_is_flat_at_opposition_and_dark_at_night() -> None:
    mu = np.linspace(0.05, 1.0, 20)
    assert np.allclose(photometry.lunar_lambert(0.12, mu, mu, 0.0), 0.12)
    assert np.all(photometry.lunar_lambert(0.12, -mu, mu, 40.0) == 0.0)
    assert np.all(photometry.lambert(0.3, -mu) == 0.0)


def test_rayleigh_optical_depth_at_550_nm() -> None:
    assert photometry.rayleigh_optical_depth(550.0) == pytest.approx(0.097, abs=0.003)


def test_solar_constant_and_inverse_square() -> None:
    everything = Band("all", 100.0, 100_000.0)
    assert band_irradiance_w_m2(everything, AU_KM) == pytest.approx(1361.0, rel=0.005)
    pan = band_named("pan")
    assert band_irradiance_w_m2(pan, 1.524 * AU_KM) == pytest.approx(
        band_irradiance_w_m2(pan, AU_KM) / 1.524**2
    )


@pytest.mark.parametrize("phase", [0.0, 45.0, 90.0, 135.0])
def test_disc_integrated_lambert_sphere_matches_the_analytic_phase_law(phase: float) -> None:
    """∫L dΩ = (E/π) · p · Φ(α) · Ω_disc with geometric albedo p = 2A/3 for a Lambert sphere."""
    distance = 1e7
    a = math.radians(phase)
    sun = np.array([-math.sin(a), 0.0, -math.cos(a)])  # body → Sun; the camera is along −z
    view = BodyView("earth", np.array([0.0, 0.0, distance]), 6371.0, 6371.0, sun, AU_KM, np.eye(3), phase)
    options = ShadingOptions(band_named("pan"), albedo_maps=False, clouds=False, atmosphere=False)
    flux, _, _, lit_fraction, _ = disc_integrated_flux(view, options)
    omega = 2 * math.pi * (1 - math.sqrt(1 - (6371.0 / distance) ** 2))
    p = 2 / 3 * DEFAULT_EARTH_ALBEDO
    analytic = band_photon_irradiance(band_named("pan"), AU_KM) / math.pi * p * omega
    analytic *= photometry.lambert_sphere_phase_integral(phase)
    assert flux == pytest.approx(analytic, rel=5e-3)
    assert lit_fraction == pytest.approx((1 + math.cos(a)) / 2, abs=0.01)


def test_lunar_map_has_dark_maria_and_bright_highlands() -> None:
    moon = lunar_albedo_map()
    imbrium = moon.sample(_unit(32.8, -15.6))[0]
    farside_highland = moon.sample(_unit(10.0, 180.0))[0]
    assert imbrium == pytest.approx(MARE_ALBEDO, rel=0.15)
    assert farside_highland == pytest.approx(HIGHLAND_ALBEDO, rel=0.15)


def test_earth_map_ocean_desert_ice() -> None:
    surface = earth_albedo_map("pan", clouds=False)
    pacific = surface.sample(_unit(0.0, -160.0))[0]
    sahara = surface.sample(_unit(23.0, 10.0))[0]
    antarctica = surface.sample(_unit(-85.0, 0.0))[0]
    assert pacific < 0.08 < 0.2 < sahara < 0.5 < antarctica
    cloudy = earth_albedo_map("pan", clouds=True).values.mean()
    assert 0.25 < cloudy < 0.5  # Earth's Bond albedo is about 0.3


def _plain_earth_reflectance(
    surface: np.ndarray,
    cloud: np.ndarray,
    ocean: np.ndarray,
    mu0: np.ndarray,
    mu: np.ndarray,
    phase_deg: float,
    tau: float,
    cloud_albedo: float,
) -> np.ndarray:
    """The Earth's radiance factor as the sum of its terms, each written out on its own."""
    cos_half = float(np.cos(np.radians(phase_deg) / 2.0))
    lit, seen = np.maximum(mu0, 0.0), np.maximum(mu, 1e-6)
    w = photometry.CLOUD_LOMMEL_SEELIGER_WEIGHT
    cloud_term = cloud_albedo * (w * 2.0 * lit / (lit + seen) + (1.0 - w) * lit)
    glint_seen = np.maximum(mu, 1e-3)
    cos_beta = np.clip((lit + glint_seen) / (2.0 * max(cos_half, 1e-6)), 1e-3, 1.0)
    tan2 = (1.0 - cos_beta**2) / cos_beta**2
    density = np.exp(-tan2 / photometry.GLINT_SLOPE_VARIANCE) / (np.pi * photometry.GLINT_SLOPE_VARIANCE)
    r0 = photometry.WATER_FRESNEL_R0
    fresnel = r0 + (1.0 - r0) * (1.0 - cos_half) ** 5
    glint = np.where(mu0 > 0.0, np.pi * fresnel * density / (4.0 * glint_seen * cos_beta**4), 0.0)
    reflected = (1.0 - cloud) * (surface * lit + ocean * glint) + cloud * cloud_term
    if tau > 0.0:
        lit6, seen6 = np.maximum(mu0, 1e-6), np.maximum(mu, 1e-6)
        reflected = reflected * np.exp(-0.5 * tau * (1.0 / lit6 + 1.0 / seen6))
        phase_function = 0.75 * (1.0 + float(np.cos(np.radians(phase_deg))) ** 2)
        slant = 1.0 - np.exp(-tau * (1.0 / lit6 + 1.0 / seen6))
        reflected = reflected + np.where(
            mu0 > 0.0, 0.25 * phase_function * lit6 / (lit6 + seen6) * slant, 0.0
        )
    return reflected


@given(
    st.integers(min_value=0, max_value=2**32 - 1), st.floats(0.0, 180.0), st.sampled_from([0.0, 0.05, 0.36])
)
def test_earth_reflectance_is_its_terms_written_out(seed: int, phase_deg: float, tau: float) -> None:
    """Shared terms (clipped cosines, day mask, air mass) computed once: the same numbers."""
    rng = np.random.default_rng(seed)
    n = 2000
    mu0 = np.concatenate([rng.uniform(-1.0, 1.0, n), [0.0, -0.0, 1e-7, 1e-3, 1.0]])
    mu = np.concatenate([rng.uniform(-0.2, 1.0, n), [0.0, 1e-7, 0.0, 1e-4, 1.0]])
    surface = rng.uniform(0.03, 0.8, mu.size).astype(np.float32)
    cloud = rng.uniform(0.0, 1.0, mu.size).astype(np.float32)
    ocean = (rng.uniform(size=mu.size) < 0.5).astype(np.float32)
    args = (surface, cloud, ocean, mu0, mu, phase_deg, tau, 0.6)
    assert photometry.earth_reflectance(*args).tobytes() == _plain_earth_reflectance(*args).tobytes()
