"""The Tianwen-2 arm camera's foreground: a white capsule with a red flag, the Earth a blue dot."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.colour import quicklook_rgb
from emulator.foreground import Foreground
from emulator.radiometry import Band
from emulator.render import render_bands
from emulator.scenario import load_scenario


def test_arm_camera_shows_capsule_flag_and_a_blue_earth() -> None:
    frames = render_bands(load_scenario("tianwen2-2025-armcam"))
    first = next(iter(frames.values()))
    foreground = first.truth["foreground"]
    assert 0.1 < foreground["covered_fraction"] < 0.6
    look = quicklook_rgb(frames).astype(int)
    r, g, b = look[..., 0], look[..., 1], look[..., 2]
    red_flag = (r > 60) & (r > 3 * g) & (r > 3 * b)
    yellow = (r > 60) & (g > 0.6 * r) & (b < 0.4 * g)
    white = (r > 150) & (abs(r - b) < 20) & (abs(r - g) < 20)
    assert red_flag.sum() > 5000 and yellow.sum() > 200 and white.sum() > 50_000
    assert (look == 255).mean() < 0.01  # the stretch is anchored on the capsule: not blown out
    # The Earth beyond is a dot, bluer than red, on the raw I/F scale.
    from emulator.colour import composite_radiance_factor

    earth = first.truth["bodies"]["earth"]
    u, v = earth.get("photocentre_px") or earth["centre_px"]
    core = composite_radiance_factor(frames)[round(v) - 1 : round(v) + 2, round(u) - 1 : round(u) + 2]
    mean = core.reshape(-1, 3).mean(axis=0)
    assert mean[2] > mean[0] > 0.0
    # ... and the quick-look shows it: a point-like body gets its own display level (a small blue
    # dot as published), though it is about a hundred times fainter than the sunlit capsule.
    dot = look[round(v) - 1 : round(v) + 2, round(u) - 1 : round(u) + 2].reshape(-1, 3)
    assert dot.max() >= 100, f"Earth dot {dot.tolist()}"
    assert dot[:, 2].mean() > dot[:, 0].mean()
    sky = look[round(v) + 20 : round(v) + 60, round(u) - 20 : round(u) + 20]
    assert np.median(sky) <= 3  # the lift is local: the sky around stays black
    moon = first.truth["bodies"]["moon"]  # a few electrons, below the noise: not dressed up as a dot
    mu, mv = moon.get("photocentre_px") or moon["centre_px"]
    assert look[round(mv) - 1 : round(mv) + 2, round(mu) - 1 : round(mu) + 2].max() < 40
    # No star is listed behind the capsule.
    mask_frames = [f.truth["stars"] for f in frames.values()]
    assert all(isinstance(stars, list) for stars in mask_frames)
    assert np.isfinite(foreground["peak_expected_e"])


def _plain_radiance_factor(
    model: Foreground, points: np.ndarray, sun: np.ndarray, band: Band, many: bool = False
) -> np.ndarray:
    """The shading written plainly: every star tested at every point, numpy's own products
    (called once, on every hit of the frame: ``many`` is not needed)."""
    from emulator import foreground as fg

    normal = (points - model.centre_m) / model.radius_m
    mu0 = np.maximum(normal @ sun, 0.0)
    albedo = np.full(points.shape[0], fg.PAINT_ALBEDO)
    f = model.flag_direction
    helper = np.array([0.0, 1.0, 0.0]) if abs(f[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    right = np.cross(f, helper)
    right /= np.linalg.norm(right)
    down = np.cross(right, f)
    x, y = (normal @ right) * model.radius_m, (normal @ down) * model.radius_m
    width, height = model.flag_size_m
    on_flag = (normal @ f > 0.0) & (np.abs(x) <= width / 2) & (np.abs(y) <= height / 2)
    albedo[on_flag] = fg._band_albedo(fg.FLAG_RED, band)
    fx, fy = (x + width / 2) / height, (y + height / 2) / height
    for sx, sy, sr in fg.FLAG_STARS:
        albedo[on_flag & (np.hypot(fx - sx, fy - sy) <= sr)] = fg._band_albedo(fg.FLAG_YELLOW, band)
    return albedo * (mu0 + fg.FILL_LIGHT)


def test_foreground_in_chunks_with_stars_on_the_flag_only_is_the_plain_shading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The capsule's pixels shaded in chunks, the flag's stars looked for on the flag only: the
    mask and radiance of the plain whole-frame computation, bit for bit, in every band."""
    import emulator.foreground as fg
    from emulator.geometry import compute_geometry
    from emulator.radiometry import band_named
    from emulator.render import _foreground_of, _probe_sun_distance_km

    scenario = load_scenario("tianwen2-2025-armcam")
    geometry = compute_geometry(scenario, 0)
    model = _foreground_of(scenario)
    for band in ("blue", "green", "red", "pan"):
        args = (
            model,
            scenario.camera,
            geometry.sun_dir_cam,
            _probe_sun_distance_km(geometry),
            band_named(band),
        )
        mask, radiance = fg.render_foreground(*args)
        with monkeypatch.context() as m:
            m.setattr(fg, "CHUNK", 1 << 40)
            m.setattr(fg, "_radiance_factor", _plain_radiance_factor)
            plain_mask, plain_radiance = fg.render_foreground(*args)
        assert np.array_equal(mask, plain_mask) and mask.any()
        assert radiance.tobytes() == plain_radiance.tobytes()


def test_a_capsule_seen_by_one_pixel_is_shaded_as_one_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """One pixel on the capsule, chunks of one pixel: the products of one row round as numpy
    rounds a one-row product (``vector_sums.rows_times``), as the plain computation did."""
    import emulator.foreground as fg
    from emulator.geometry import compute_geometry
    from emulator.radiometry import band_named
    from emulator.render import _probe_sun_distance_km

    scenario = load_scenario("tianwen2-2025-armcam")
    geometry, camera = compute_geometry(scenario, 0), scenario.camera
    sun, red = np.asarray(geometry.sun_dir_cam, dtype=float), band_named("red")

    def pixel(k: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([808.0 + 8 * (k % 50)]), np.array([408.0 + 8 * (k // 50)])

    def one_pixel_capsule(k: int) -> Foreground:
        return Foreground(camera.rays(*pixel(k))[0] * 5.0, 5e-4, np.array([0.0, 0.0, -1.0]), (0.3, 0.2))

    def rounds_apart(k: int) -> bool:  # its one hit, as a product of one row and as a row of many
        model = one_pixel_capsule(k)
        _, point = fg._hits(model, fg._unit(camera.rays(*pixel(k))))
        one = fg._radiance_factor(model, point, sun, red)
        return one.tobytes() != fg._radiance_factor(model, point, sun, red, True).tobytes()

    chosen = [one_pixel_capsule(k) for k in range(400) if rounds_apart(k)][:3]
    assert chosen
    for model in chosen:
        args = (model, camera, geometry.sun_dir_cam, _probe_sun_distance_km(geometry), red)
        with monkeypatch.context() as m:
            m.setattr(fg, "CHUNK", 1 << 40)
            m.setattr(fg, "_radiance_factor", _plain_radiance_factor)
            plain_mask, plain_radiance = fg.render_foreground(*args)
        assert plain_mask.sum() == 1
        for chunk in (1, 3, 1 << 40):
            monkeypatch.setattr(fg, "CHUNK", chunk)
            mask, radiance = fg.render_foreground(*args)
            assert np.array_equal(mask, plain_mask) and radiance.tobytes() == plain_radiance.tobytes()
