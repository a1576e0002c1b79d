"""Centre finding: the lit-limb circle finds a crescent's centre where the centroid of light cannot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.probe import json_ready
from emulator.render import RenderedFrame, render_scenario
from emulator.scenario import load_scenario
from groundstation.centre_finding import _BORDER_PX as BORDER_PX
from groundstation.centre_finding import _SKY_WITHIN_PX as SKY_WITHIN_PX
from groundstation.centre_finding import _STEP_PX as STEP_PX
from groundstation.centre_finding import (
    MIN_LIMB_RADIUS_PX,
    brightness_centroid,
    fit_circle,
    fit_lit_limb,
    limb_points,
    ray_profiles,
    sample_bilinear,
)
from groundstation.optical_navigation import measure_bodies
from protocols.errors import DecodeError
from protocols.image.image_metadata import ImageMetadata

CENTRE, RADIUS = (40.3, 41.7), 20.0


def lambert_sphere(phase_deg: float, sun_angle: float, size: int = 90, supersample: int = 6) -> np.ndarray:
    """A Lambertian sphere at ``CENTRE`` of ``RADIUS`` pixels, blurred by a Gaussian (sigma 0.8 px):
    an image written from the definition, independent of the emulator's renderer."""
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    vv, uu = np.indices((size, size)).astype(float)
    phase = math.radians(phase_deg)
    sun = (math.sin(phase) * math.cos(sun_angle), math.sin(phase) * math.sin(sun_angle), math.cos(phase))
    image = np.zeros((size, size))
    for du in offsets:
        for dv in offsets:
            x, y = (uu + du - CENTRE[0]) / RADIUS, (vv + dv - CENTRE[1]) / RADIUS
            z = np.sqrt(np.clip(1 - x * x - y * y, 0, None))
            cos_incidence = x * sun[0] + y * sun[1] + z * sun[2]
            image += np.where((x * x + y * y <= 1) & (cos_incidence > 0), cos_incidence, 0.0)
    kernel = np.exp(-(np.arange(-4, 5) ** 2) / (2 * 0.8**2))
    kernel /= kernel.sum()
    image = np.apply_along_axis(np.convolve, 0, image, kernel, "same")
    image = np.apply_along_axis(np.convolve, 1, image, kernel, "same")
    return 1000 * image / supersample**2


@pytest.mark.parametrize("phase_deg", [0, 60, 120, 150])
def test_limb_centre_of_a_lambert_sphere_at_any_phase(phase_deg: float) -> None:
    image = lambert_sphere(phase_deg, math.radians(200))
    centroid = brightness_centroid(image, 5.0)
    limb = fit_lit_limb(image, (CENTRE[0] + 2.0, CENTRE[1] - 1.5), RADIUS, centroid, noise=1.0)
    assert limb is not None and limb.points >= 60
    error = math.hypot(limb.u - CENTRE[0], limb.v - CENTRE[1])
    assert error < 0.03 * RADIUS  # from an a priori 2.5 px off
    if phase_deg >= 60:
        assert math.hypot(centroid.u - CENTRE[0], centroid.v - CENTRE[1]) > 10 * error


def test_too_small_a_body_gets_no_limb_fit() -> None:
    image = lambert_sphere(0, 0.0)
    centroid = brightness_centroid(image, 5.0)
    assert fit_lit_limb(image, CENTRE, MIN_LIMB_RADIUS_PX - 0.5, centroid, 1.0) is None


def test_a_limb_without_sky_beyond_it_gives_no_fit() -> None:
    """A disc on a bright background (a Moon in front of the Earth) has no lit limb to find."""
    image = 2000.0 - lambert_sphere(0, 0.0)  # darker disc on a brighter field
    centroid = brightness_centroid(image, 5.0)
    assert fit_lit_limb(image, CENTRE, RADIUS, centroid, 1.0) is None


@settings(max_examples=50)
@given(
    st.floats(-50, 50),
    st.floats(-50, 50),
    st.floats(2, 200),
    st.floats(0, 2 * math.pi),
    st.floats(0.5, 2 * math.pi),
)
def test_fit_circle_recovers_any_circle_from_any_arc(
    u: float, v: float, r: float, start: float, arc: float
) -> None:
    angles = start + np.linspace(0, arc, 25)
    points = np.column_stack([u + r * np.cos(angles), v + r * np.sin(angles)])
    fu, fv, fr, rms = fit_circle(points)
    assert math.hypot(fu - u, fv - v) < 1e-6 * max(r, 1) / min(arc, 1) ** 2 + 1e-6
    assert abs(fr - r) < 1e-5 * r + 1e-6 and rms < 1e-6 * r + 1e-6
    fu, fv, _, _ = fit_circle(points, radius=r)
    assert math.hypot(fu - u, fv - v) < 1e-5 * r + 1e-6


def test_bilinear_sampling_is_exact_at_pixel_centres_and_linear_between() -> None:
    image = np.arange(20.0).reshape(4, 5)
    assert sample_bilinear(image, np.array([2.0]), np.array([1.0]))[0] == image[1, 2]
    assert sample_bilinear(image, np.array([2.5]), np.array([1.5]))[0] == pytest.approx(
        image[1:3, 2:4].mean()
    )
    assert sample_bilinear(image, np.array([-3.0]), np.array([1.0]))[0] == 0.0


def test_tianwen1_crescents_measured_at_the_limb_not_the_centroid() -> None:
    """The default scenario, rendered with every effect on (noise included): the Earth is a
    crescent 26 px in radius whose centroid of light sits 19 px sunward of its centre."""
    frame = render_scenario(load_scenario("tianwen1-2020-07-27"))
    measured = measure_bodies(frame.pixels, frame_metadata(frame))
    earth, moon = measured["earth"], measured["moon"]
    assert earth["error_px"] > 10 and moon["error_px"] > 2
    assert earth["limb"]["error_px"] < 0.5 and moon["limb"]["error_px"] < 1.0
    assert abs(earth["limb"]["radius_px"] - earth["truth_radius_px"]) < 1.0


def test_dscovr_moon_in_front_of_the_earth_is_not_given_a_wrong_limb() -> None:
    frame = render_scenario(load_scenario("dscovr-epic-2015-07-16"))
    measured = measure_bodies(frame.pixels, frame_metadata(frame))
    assert "limb" not in measured["moon"]
    assert measured["earth"]["limb"]["error_px"] < 0.005 * measured["earth"]["truth_radius_px"]


def frame_metadata(frame: RenderedFrame) -> ImageMetadata:
    """A rendered frame's truth as the ground reads it off the link."""
    return ImageMetadata.from_map(json_ready(frame.truth))


def test_hostile_truth_metadata_is_measured_without_a_fit_and_without_an_error() -> None:
    """Image metadata arrives from the link: a radius of 1e12 px must not become 1e12 samples, and
    a centre or radius that is no finite number is refused before anything is measured."""
    pixels = (lambert_sphere(0, 0.0) + 100).astype(np.uint16)
    bodies = {
        "huge": {"centre_px": [40.3, 41.7], "apparent_radius_px": 1e12},
        "fine": {"centre_px": [40.3, 41.7], "apparent_radius_px": 20.0},
    }
    for bad in (
        {"centre_px": [float("nan"), 41.7]},
        {"centre_px": [1.0, 2.0], "apparent_radius_px": math.inf},
    ):
        with pytest.raises(DecodeError):
            ImageMetadata.from_map({"bodies": {**bodies, "bad": bad}})
    far = {
        "far": {"centre_px": [1e308, -1e308], "apparent_radius_px": 1e308}
    }  # finite: the contract admits it
    measured = measure_bodies(pixels, ImageMetadata.from_map({"bodies": {**bodies, **far}}))
    assert set(measured) == {"huge", "fine"}
    assert "limb" not in measured["huge"] and measured["fine"]["limb"]["error_px"] < 0.6


def limb_points_ray_by_ray(image, centre, radius, sun_angle, noise, background=0.0) -> np.ndarray:
    """limb_points as it was written before issue 16, choosing each ray's edge one ray at a time:
    the reference (the rays' profiles are the shared ``ray_profiles``, unchanged by that work)."""
    radii, du, dv, profiles, drops = ray_profiles(image, centre, radius, sun_angle, background)
    reach = round(SKY_WITHIN_PX / STEP_PX)
    height, width = image.shape
    points = []
    for ray in range(len(profiles)):
        profile, drop = profiles[ray], drops[ray]
        peak, strongest = float(profile.max()), float(drop.max())
        if peak < 10 * noise or strongest <= 0:
            continue
        sky = max(5 * noise, 0.05 * peak)
        candidates = np.flatnonzero(
            (drop[1:-1] >= 0.5 * strongest) & (drop[1:-1] >= drop[:-2]) & (drop[1:-1] >= drop[2:])
        )
        in_reach = candidates[
            (radii[candidates + 1] >= 0.6 * radius) & (radii[candidates + 1] <= 1.4 * radius + 2)
        ]
        edges = [k + 1 for k in in_reach if profile[k + 1 : k + 2 + reach].min() < sky]
        if not edges:
            continue
        k = edges[-1]
        before, at, after = drop[k - 1], drop[k], drop[k + 1]
        curvature = before - 2 * at + after
        shift = 0.5 * (before - after) / curvature if curvature < 0 else 0.0
        r = radii[k] + shift * STEP_PX
        u, v = centre[0] + du[ray, 0] * r, centre[1] + dv[ray, 0] * r
        if min(u, v, width - 1 - u, height - 1 - v) >= BORDER_PX:
            points.append((u, v))
    return np.array(points, dtype=np.float64).reshape(-1, 2)


@settings(max_examples=150, deadline=None)
@given(
    phase_deg=st.floats(0, 170),
    sun_angle=st.floats(-math.pi, math.pi),
    offset=st.tuples(st.floats(-60, 60), st.floats(-60, 60)),
    radius=st.floats(3, 40),
    full_disc=st.booleans(),
    noise=st.sampled_from([0.5, 1.0, 5.0, 40.0]),
    speckle_seed=st.integers(0, 2**32 - 1),
)
def test_limb_points_all_rays_at_once_are_the_ray_by_ray_points_bit_for_bit(
    phase_deg, sun_angle, offset, radius, full_disc, noise, speckle_seed
) -> None:
    """Crescents anywhere, partly out of the frame, with noise and hot pixels, a priori off by
    up to a radius: the same points, the same bits, in the same order."""
    image = lambert_sphere(phase_deg, sun_angle)
    rng = np.random.default_rng(speckle_seed)
    image = image + rng.normal(0, 3, image.shape)
    image[rng.integers(0, 90, 20), rng.integers(0, 90, 20)] += 500  # hot pixels and cosmic rays
    centre = (CENTRE[0] + offset[0] * radius / 60, CENTRE[1] + offset[1] * radius / 60)
    centre = (centre[0] + offset[0], centre[1]) if abs(offset[0]) > 50 else centre  # off the frame
    angle = None if full_disc else sun_angle
    got = limb_points(image, centre, radius, angle, noise, background=1.5)
    want = limb_points_ray_by_ray(image, centre, radius, angle, noise, background=1.5)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("seed", ["tianwen1-2020-07-27", "dscovr-epic-2015-07-16"])
def test_limb_points_of_seed_frames_are_the_ray_by_ray_points(seed: str) -> None:
    """Rendered frames (crescents of 26 px, DSCOVR's Earth of hundreds with the Moon in front), the
    integer pixels as measure_bodies passes them, the sun on either side or a full disc."""
    frame = render_scenario(load_scenario(seed))
    seen = 0
    for body in frame_metadata(frame).body_truths().values():
        u, v = body.centre_px
        for sun_angle in (None, 0.3, 2.9):
            args = (frame.pixels, (u, v), body.apparent_radius_px, sun_angle, 3.0)
            got, want = limb_points(*args, background=100.0), limb_points_ray_by_ray(*args, background=100.0)
            assert got.tobytes() == want.tobytes()
            seen += len(got)
    assert seen > 60
