"""Horizon-based navigation: the body's centre and range from the lines of sight of its limb."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.camera import CameraModel
from emulator.render import render_scenario
from emulator.scenario import load_scenario
from groundstation.horizon_navigation import (
    BODY_SHAPES,
    BodyShape,
    earth_pole_icrf,
    horizon_fix,
    unit_sphere_scaling,
)
from groundstation.optical_navigation import measure_bodies
from protocols.errors import DecodeError
from protocols.image.image_metadata import BrownDistortion, CameraCalibration, ImageMetadata
from tests.groundstation.test_centre_finding import frame_metadata, lambert_sphere

CAMERA = CameraCalibration(
    fx_px=2400.0, fy_px=2390.0, cx_px=639.5, cy_px=511.5,
    distortion=BrownDistortion(k1=-0.06, k2=0.01, p1=2e-4, p2=-1e-4),
)  # fmt: skip


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.eye(3)[int(np.argmin(np.abs(axis)))]
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


def exact_limb_pixels(
    position_km: np.ndarray, shape: BodyShape, pole: np.ndarray | None, start: float, span: float
) -> np.ndarray:
    """Pixels of the exact limb of a spheroid seen from the origin, over an arc of ``span`` radians:
    in coordinates where the body is a unit sphere the limb rays form a circular cone."""
    scaling = unit_sphere_scaling(shape, pole)
    centre = scaling @ position_km
    distance = float(np.linalg.norm(centre))
    axis = centre / distance
    e1, e2 = _basis(axis)
    half_angle = math.asin(1.0 / distance)
    angles = start + np.linspace(0.0, span, 60)
    scaled_rays = math.cos(half_angle) * axis + math.sin(half_angle) * (
        np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2
    )
    rays = np.linalg.solve(scaling, scaled_rays.T).T
    return np.array([CAMERA.pixel_of(ray) for ray in rays])


positions = st.tuples(
    st.floats(-0.2, 0.2), st.floats(-0.15, 0.15), st.sampled_from([2e4, 4e5, 1.5e6, 1.4e8])
).map(lambda t: t[2] * np.array([t[0], t[1], 1.0]) / math.sqrt(1 + t[0] ** 2 + t[1] ** 2))


@given(
    position=positions,
    body=st.sampled_from(["earth", "moon"]),
    pole=st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)).filter(
        lambda p: math.hypot(*p) > 0.1
    ),
    start=st.floats(0, 2 * math.pi),
    span=st.floats(math.radians(60), 2 * math.pi),
)
def test_exact_limbs_give_the_position_of_any_spheroid_from_any_arc(
    position: np.ndarray, body: str, pole: tuple[float, float, float], start: float, span: float
) -> None:
    shape, pole_cam = BODY_SHAPES[body], np.array(pole) / math.hypot(*pole)
    limb = exact_limb_pixels(position, shape, pole_cam, start, span)
    free = horizon_fix(limb, CAMERA, shape, pole_cam)
    assert free is not None
    distance = float(np.linalg.norm(position))
    # rounding grows as the rays become parallel: seen 2e-13 of the range at 20,000 km, 7e-6 at 1.4e8
    assert float(np.linalg.norm(free.position_km - position)) < 1e-4 * distance
    truth_uv = CAMERA.pixel_of(position)
    at_range = horizon_fix(limb, CAMERA, shape, pole_cam, range_km=distance)
    assert at_range is not None
    assert math.hypot(at_range.u - truth_uv[0], at_range.v - truth_uv[1]) < 1e-6
    assert at_range.range_km == pytest.approx(distance, rel=1e-9)


def test_without_its_pole_the_oblate_earth_is_off_by_its_flattening() -> None:
    """The scaling matters: treating the Earth as a sphere moves the fix, with the pole it is exact."""
    position = np.array([30000.0, 0.0, 60000.0])
    pole = np.array([0.0, 0.6, 0.8])
    limb = exact_limb_pixels(position, BODY_SHAPES["earth"], pole, 0.0, math.pi)
    with_pole = horizon_fix(limb, CAMERA, BODY_SHAPES["earth"], pole)
    as_sphere = horizon_fix(limb, CAMERA, BODY_SHAPES["earth"], None)
    assert with_pole is not None and as_sphere is not None
    assert float(np.linalg.norm(with_pole.position_km - position)) < 1e-3
    assert float(np.linalg.norm(as_sphere.position_km - position)) > 10.0


def test_ground_calibration_projects_as_the_emulator_camera_does() -> None:
    """The calibration the ground reads off the link is the probe's own (one Brown model, which the
    probe renders with and the ground inverts): it projects and unprojects as the camera does."""
    camera = CameraModel.from_config(
        {"width_px": 640, "height_px": 480, "fov_deg_x": 37.0, "pixel_pitch_um": 8.9,
         "distortion": {"model": "brown", "k1": -0.08, "k2": 0.01, "p1": 1e-3, "p2": -5e-4}}
    )  # fmt: skip
    ground = CameraCalibration.from_map(
        {"fx_px": camera.fx, "fy_px": camera.fy, "cx_px": camera.cx, "cy_px": camera.cy,
         "distortion": {"model": "brown", "k1": -0.08, "k2": 0.01, "k3": 0.0, "p1": 1e-3, "p2": -5e-4}}
    )  # fmt: skip
    assert ground.distortion == camera.distortion
    rng = np.random.default_rng(5)
    uv = np.column_stack([rng.uniform(0, 639, 200), rng.uniform(0, 479, 200)])
    rays = ground.lines_of_sight(uv)
    assert np.allclose(rays, camera.rays(uv[:, 0], uv[:, 1]), atol=1e-10)
    assert np.allclose(np.array([ground.pixel_of(r) for r in rays]), camera.project(rays), atol=1e-7)


@pytest.mark.parametrize(
    ("scenario", "body"), [("change5t1-2014-10-28", "moon"), ("longjiang2-2019-02-03", "moon")]
)
def test_large_off_axis_moons_are_centred_by_the_horizon_not_the_circle(scenario: str, body: str) -> None:
    """Chang'e 5T1's Moon (299 px, 5° off axis) and Longjiang-2's (140 px, 11° off axis, barrel
    distortion), rendered with every effect: the outline's circle is centred 3.8-4.1 px away from
    where the body's centre projects, the lines of sight put it within a fraction of a pixel."""
    frame = render_scenario(load_scenario(scenario))
    measured = measure_bodies(frame.pixels, frame_metadata(frame))[body]
    assert measured["limb"]["error_px"] > 2.0
    assert measured["horizon"]["error_px"] < 0.5
    assert abs(measured["horizon"]["range_error_percent"]) < 0.5


def test_tianwen1_horizon_fix_beside_the_circle() -> None:
    frame = render_scenario(load_scenario("tianwen1-2020-07-27"))
    earth = measure_bodies(frame.pixels, frame_metadata(frame))["earth"]
    assert earth["horizon"]["error_px"] < 0.5 and earth["horizon"]["points"] >= 40
    assert abs(earth["horizon"]["range_error_percent"]) < 5.0  # a 26 px crescent: range is weak


@pytest.mark.parametrize(
    "camera",
    [
        None,
        "camera",
        {"fx_px": 1000.0},
        {"fx_px": "x", "fy_px": 1, "cx_px": 1, "cy_px": 1},
        {"fx_px": -5.0, "fy_px": 1.0, "cx_px": 1.0, "cy_px": 1.0},
        {"fx_px": float("nan"), "fy_px": 1.0, "cx_px": 1.0, "cy_px": 1.0},
        {"fx_px": 1.0, "fy_px": 1.0, "cx_px": 1.0, "cy_px": 1.0, "distortion": "brown"},
        {"fx_px": 1.0, "fy_px": 1.0, "cx_px": 1.0, "cy_px": 1.0, "distortion": {"k1": [1]}},
    ],
)
def test_hostile_camera_metadata_is_refused(camera: object) -> None:
    with pytest.raises(DecodeError):
        CameraCalibration.from_map(camera)


def test_hostile_attitude_and_epoch_give_no_pole_and_no_error() -> None:
    calibration = {"fx_px": 1.0, "fy_px": 1.0, "cx_px": 1.0, "cy_px": 1.0}
    for quaternion in ([1.0, 0.0], [2.0, 0.0, 0.0, 0.0], "abcd"):
        with pytest.raises(DecodeError):
            CameraCalibration.from_map({**calibration, "cam_to_icrf_quaternion_wxyz": quaternion})
    assert earth_pole_icrf("not a date") is None
    assert earth_pole_icrf(None) is None  # type: ignore[arg-type]
    pole = earth_pole_icrf("2025-05-30T07:35:00Z")
    assert pole is not None and 0.9999 < pole[2] < 1.0  # 0.35° of precession since J2000
    attitude = CameraCalibration.from_map({**calibration, "cam_to_icrf_quaternion_wxyz": [1, 0, 0, 0]})
    assert CameraCalibration.from_map(calibration).attitude_matrix() is None
    assert np.allclose(attitude.attitude_matrix(), np.eye(3))


def test_degenerate_limbs_give_no_fix() -> None:
    shape = BODY_SHAPES["moon"]
    assert horizon_fix(np.zeros((2, 2)), CAMERA, shape) is None
    assert horizon_fix(np.tile([[100.0, 100.0]], (10, 1)), CAMERA, shape) is None  # one point, repeated
    line = np.column_stack([np.linspace(0, 600, 20), np.full(20, 300.0)])
    fix = horizon_fix(line, CAMERA, shape)
    assert fix is None or math.isfinite(fix.range_km)


hostile_numbers = st.one_of(
    st.floats(20.0, 2e6),  # plausible focal lengths, principal points and ranges, so fixes happen too
    st.floats(20.0, 2e6),  # (twice: so that whole maps pass the decoder often enough to be measured)
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e-300, 1e300, 5e-324]),
    st.text(max_size=3),
    st.none(),
)


@given(
    camera=st.fixed_dictionaries(
        {key: hostile_numbers for key in ("fx_px", "fy_px", "cx_px", "cy_px")},
        optional={"distortion": st.dictionaries(st.sampled_from(["k1", "k2", "p1", "p2"]), hostile_numbers)},
    ),
    range_km=hostile_numbers,
    quaternion=st.one_of(
        st.lists(hostile_numbers, max_size=5), st.sampled_from([[1.0, 0.0, 0.0, 0.0], [0.5, -0.5, 0.5, 0.5]])
    ),
    epoch=st.one_of(
        st.text(max_size=30), st.sampled_from(["9999-12-31T23:59:59Z", "2020-07-27T12:00:00.000Z"])
    ),
)
def test_hostile_metadata_gives_a_measurement_or_none_never_an_error(
    camera: dict, range_km: object, quaternion: list, epoch: str
) -> None:
    """Image metadata arrives from the link: whatever the calibration, range, attitude or epoch say,
    the metadata is refused, or measuring the image returns (with or without a horizon fix) and its
    numbers are finite."""
    pixels = (lambert_sphere(60, 0.5) + 100).astype(np.uint16)
    camera = {**camera, "cam_to_icrf_quaternion_wxyz": quaternion}
    bodies = {"earth": {"centre_px": [40.3, 41.7], "apparent_radius_px": 20.0, "range_km": range_km}}
    try:
        metadata = ImageMetadata.from_map({"camera": camera, "bodies": bodies, "epoch_utc": epoch})
    except DecodeError:
        return
    measured = measure_bodies(pixels, metadata)
    horizon = measured["earth"].get("horizon")
    if horizon is not None:
        assert all(math.isfinite(horizon[key]) for key in ("u", "v", "error_px"))
