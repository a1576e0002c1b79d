"""Textures: clouds generated on the sphere (no pole pinwheel), smooth lookup (no blocks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.detector import Effects
from emulator.lunar_albedo import lunar_albedo_map
from emulator.render import render_scenario
from emulator.scenario import load_scenario
from emulator.textures import (
    CLOUD_COVER,
    CLOUD_GRID,
    CLOUD_SEED,
    EquirectMap,
    area_mean,
    cloud_fraction_map,
    cloud_noise_field,
    cloud_seed_for,
    ocean_mask_map,
    sample_maps,
    sample_maps_xyz,
    surface_albedo_map,
)


def _points(rng: np.random.Generator, lat_low: float, lat_high: float, n: int) -> np.ndarray:
    """Uniform points on the sphere between two latitudes (degrees)."""
    z = rng.uniform(math.sin(math.radians(lat_low)), math.sin(math.radians(lat_high)), n)
    lon = rng.uniform(-math.pi, math.pi, n)
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(lon), r * np.sin(lon), z], axis=1)


def _step(points: np.ndarray, rng: np.random.Generator, degrees: float) -> np.ndarray:
    """Each point moved by ``degrees`` of arc in a random direction."""
    tangent = rng.standard_normal(points.shape)
    tangent -= (tangent * points).sum(axis=1)[:, None] * points
    tangent /= np.linalg.norm(tangent, axis=1)[:, None]
    a = math.radians(degrees)
    return points * math.cos(a) + tangent * math.sin(a)


def _statistics(fields: list[EquirectMap], lat_low: float, lat_high: float) -> tuple[float, float, float]:
    """Mean, standard deviation, and mean |difference| over 2° steps, pooled over the fields."""
    rng = np.random.default_rng(5)
    here = _points(rng, lat_low, lat_high, 20000)
    there = _step(here, rng, 2.0)
    a = np.concatenate([f.sample(here) for f in fields])
    b = np.concatenate([f.sample(there) for f in fields])
    return float(a.mean()), float(a.std()), float(np.abs(a - b).mean())


def _latlon_noise() -> EquirectMap:
    """Control: the old way, fractal noise generated on the latitude-longitude grid."""
    rows, cols = CLOUD_GRID
    rng = np.random.Generator(np.random.PCG64(1))
    ky = np.fft.fftfreq(rows)[:, None]
    kx = np.fft.rfftfreq(cols)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal((rows, cols))) * k**-1.8 * (1 - np.exp(-((k / 0.02) ** 2)))
    field = np.fft.irfft2(spectrum, s=(rows, cols))
    return EquirectMap(((field - field.mean()) / field.std()).astype(np.float32))


def _pole_matches_mid_latitudes(fields: list[EquirectMap]) -> bool:
    """A 5° polar cap is smaller than a weather system, so mean and spread are pooled over
    several fields (dates); the 2° roughness is what a pinwheel doubles."""
    mid_mean, mid_std, mid_rough = _statistics(fields, 30.0, 60.0)
    for low, high in ((85.0, 90.0), (-90.0, -85.0)):
        mean, std, rough = _statistics(fields, low, high)
        if abs(mean - mid_mean) > 0.3 * mid_std or not (0.7 < std / mid_std < 1.3):
            return False
        if not 0.75 < rough / mid_rough < 1.3:
            return False
    return True


def test_cloud_noise_has_the_same_statistics_at_the_poles() -> None:
    fields = [cloud_noise_field(cloud_seed_for(None) + k) for k in range(8)]
    assert _pole_matches_mid_latitudes(fields)
    assert not _pole_matches_mid_latitudes([_latlon_noise()])  # the pinwheel the old field had


def test_cloud_cover_is_realistic_and_changes_with_the_date() -> None:
    from datetime import date

    a = cloud_fraction_map(cloud_seed_for(date(2020, 7, 27)))
    b = cloud_fraction_map(cloud_seed_for(date(2020, 7, 28)))
    assert area_mean(a.values) == pytest.approx(CLOUD_COVER, abs=0.005)
    assert not np.allclose(a.values, b.values)
    # Texture roughness (2° steps) at the poles matches mid-latitudes for the final cover too.
    _, _, mid = _statistics([a], 30.0, 60.0)
    for low, high in ((85.0, 90.0), (-90.0, -85.0)):
        _, _, polar = _statistics([a], low, high)
        assert 0.5 < polar / mid < 1.5


def test_bilinear_lookup_is_continuous_across_texels() -> None:
    values = np.zeros((4, 8), dtype=np.float32)
    values[:, 4] = 1.0
    texture = EquirectMap(values)
    lon = np.radians(np.linspace(-10.0, 50.0, 601))  # across the texel at 0..45°
    points = np.stack([np.cos(lon), np.sin(lon), np.zeros_like(lon)], axis=1)
    smooth, blocky = texture.sample(points), texture.nearest(points)
    assert np.abs(np.diff(smooth)).max() < 0.02
    assert np.abs(np.diff(blocky)).max() == 1.0


def test_lunar_limb_to_limb_profile_has_no_texel_edges() -> None:
    """Chang'e-5 T1's 300-px Moon: no step between neighbouring pixels stands above the shot noise."""
    scenario = load_scenario("change5t1-2014-10-28")
    frame = render_scenario(scenario, effects=Effects.none().with_only(albedo_maps=True))
    moon = frame.truth["bodies"]["moon"]
    u, v = moon["centre_px"]
    radius = moon["apparent_radius_px"]
    image = frame.expected_electrons.astype(float)
    assert lunar_albedo_map().values.shape == (360, 720)
    worst = 0.0
    for angle in np.radians([0.0, 45.0, 90.0, 135.0]):  # four chords through the centre
        t = np.arange(-0.9 * radius, 0.9 * radius)
        cols = np.round(u + t * math.cos(angle)).astype(int)
        rows = np.round(v + t * math.sin(angle)).astype(int)
        keep = (rows >= 0) & (rows < image.shape[0]) & (cols >= 0) & (cols < image.shape[1])
        profile = image[rows[keep], cols[keep]]
        lit = profile > 0.05 * profile.max()
        steps = np.abs(np.diff(profile))[lit[1:] & lit[:-1]]
        noise = np.sqrt(profile[1:][lit[1:] & lit[:-1]])  # shot noise of one pixel
        worst = max(worst, float((steps / noise).max()))
    assert worst < 3.0, f"largest pixel-to-pixel step is {worst:.1f} sigma of shot noise"


def _bilinear_reference(values: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """One map's bilinear lookup written out on its own (the lookup before the shared one)."""
    rows, cols = values.shape
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    fr = np.clip(np.arccos(np.clip(z, -1.0, 1.0)) * (rows / np.pi) - 0.5, 0.0, rows - 1.0)
    fc = (np.arctan2(y, x) + np.pi) * (cols / (2.0 * np.pi)) - 0.5
    r0 = np.minimum(fr.astype(np.intp), rows - 2)
    wr = (fr - r0).astype(np.float32)
    c0f = np.floor(fc)
    wc = (fc - c0f).astype(np.float32)
    c0 = c0f.astype(np.intp) % cols
    c1, r1 = (c0 + 1) % cols, np.minimum(r0 + 1, rows - 1)
    top = values[r0, c0] * (1.0 - wc) + values[r0, c1] * wc
    bottom = values[r1, c0] * (1.0 - wc) + values[r1, c1] * wc
    return top * (1.0 - wr) + bottom * wr


def test_maps_looked_up_together_are_each_maps_own_lookup_bit_for_bit() -> None:
    """The Earth's three maps share one latitude/longitude computation: no value changes."""
    rng = np.random.default_rng(5)
    unit = rng.standard_normal((20_000, 3))
    unit /= np.linalg.norm(unit, axis=1)[:, None]
    unit[:4] = [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [-1.0, -0.0, 0.0]]  # poles, seam
    maps = [surface_albedo_map("pan"), ocean_mask_map(), cloud_fraction_map(CLOUD_SEED)]
    together = sample_maps(maps, unit)
    for texture, values in zip(maps, together, strict=True):
        expected = _bilinear_reference(texture.values, unit)
        assert values.dtype == expected.dtype and values.tobytes() == expected.tobytes()
        assert texture.sample(unit).tobytes() == expected.tobytes()


@given(
    st.integers(min_value=2, max_value=40),
    st.integers(min_value=1, max_value=80),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_lookup_by_components_is_the_plain_bilinear_formula(rows: int, cols: int, seed: int) -> None:
    """Any grid (one column too): the wrap by comparison picks the texels ``% cols`` picks."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (rows, cols)).astype(np.float32)
    unit = rng.standard_normal((500, 3))
    unit /= np.linalg.norm(unit, axis=1)[:, None]
    unit[:6] = [
        [0.0, 0.0, 1.0],
        [0.0, 0.0, -1.0],
        [-1.0, 0.0, 0.0],
        [-1.0, -0.0, 0.0],
        [-1.0, 1e-17, 0.0],
        [1.0, 0.0, 0.0],
    ]
    (got,) = sample_maps_xyz([EquirectMap(values)], unit[:, 0], unit[:, 1], unit[:, 2])
    assert got.tobytes() == _bilinear_reference(values, unit).tobytes()


@pytest.mark.parametrize("shape", [(64, 128), (37, 91)])
def test_sphere_noise_is_the_same_bits_whatever_its_chunk(
    shape: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The noise is made NOISE_CHUNK points at a time to bound its temporaries; chunks that leave
    a remainder (1,000) and one chunk for the whole grid give the same field."""
    import emulator.textures as textures
    from emulator.blas import single_threaded

    points = textures.texel_unit_vectors(shape)
    noise = single_threaded(textures.sphere_noise)  # as the renderer runs it
    fields = []
    for chunk in (textures.NOISE_CHUNK, 1000, points.size):
        monkeypatch.setattr(textures, "NOISE_CHUNK", chunk)
        fields.append(noise(points, 5, 240, 3.0, 300.0))
    assert all(np.array_equal(fields[0], other) for other in fields[1:])
