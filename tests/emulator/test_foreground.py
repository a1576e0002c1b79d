"""The Tianwen-2 arm camera's foreground: a white capsule with a red flag, the Earth a blue dot."""

from __future__ import annotations

import numpy as np

from emulator.colour import quicklook_rgb
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
