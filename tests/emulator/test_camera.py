"""Camera model: projection/ray round trips, parameter derivation and rejection of inconsistent sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.camera import CameraConfigError, CameraModel

BASE = {"width_px": 1024, "height_px": 768, "pixel_pitch_um": 5.5, "focal_length_mm": 50.0}
WIDE = {**BASE, "focal_length_mm": 8.0}  # about 39° across, so distortion matters
DISTORTED = CameraModel.from_config(
    {**WIDE, "distortion": {"model": "brown", "k1": -0.12, "k2": 0.03, "k3": -0.004, "p1": 1e-3, "p2": -8e-4}}
)
PINHOLE = CameraModel.from_config(BASE)


def test_focal_length_and_pitch_give_fov_and_ifov() -> None:
    f_px = 50e-3 / 5.5e-6
    assert PINHOLE.fx == pytest.approx(f_px)
    assert PINHOLE.fov_x_deg == pytest.approx(math.degrees(2 * math.atan(1024 / (2 * f_px))))
    assert PINHOLE.ifov_rad == pytest.approx(5.5e-6 / 50e-3)
    assert (PINHOLE.cx, PINHOLE.cy) == (511.5, 383.5)
    assert PINHOLE.aperture_diameter_m is None


def test_fov_and_pitch_derive_focal_length() -> None:
    cam = CameraModel.from_config(
        {"width_px": 1000, "height_px": 1000, "pixel_pitch_um": 10.0, "fov_deg": 10.0}
    )
    expected_f_px = 500 / math.tan(math.radians(5.0))
    assert cam.focal_length_m == pytest.approx(expected_f_px * 10e-6)
    assert cam.fov_x_deg == pytest.approx(10.0)


def test_fov_y_and_focal_length_derive_pitch_and_aperture_from_f_number() -> None:
    cam = CameraModel.from_config(
        {"width_px": 800, "height_px": 600, "focal_length_mm": 100.0, "fov_deg_y": 3.0, "f_number": 4.0}
    )
    assert cam.fov_y_deg == pytest.approx(3.0)
    assert cam.pixel_pitch_m == pytest.approx(0.1 / (300 / math.tan(math.radians(1.5))))
    assert cam.aperture_diameter_m == pytest.approx(0.025)


def test_consistent_redundant_set_is_accepted() -> None:
    fov = math.degrees(2 * math.atan(1024 * 5.5e-6 / (2 * 50e-3)))
    cam = CameraModel.from_config({**BASE, "fov_deg": fov * 1.005, "aperture_mm": 12.5, "f_number": 4.0})
    assert cam.f_number == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"fov_deg": 20.0}, "camera.fov_deg"),
        ({"fov_deg_y": 1.0}, "camera.fov_deg_y"),
        ({"aperture_mm": 10.0, "f_number": 8.0}, "camera.f_number"),
        ({"pixel_pitch_um": -1.0}, "camera.pixel_pitch_um"),
        ({"width_px": 0}, "camera.width_px"),
        ({"colour": "yes"}, "camera.colour"),
        ({"lens": "fisheye"}, "camera.lens"),
        ({"distortion": {"model": "kannala"}}, "camera.distortion.model"),
        ({"distortion": {"k1": -100.0}}, "camera.distortion"),
    ],
)
def test_inconsistent_or_bad_sets_are_rejected_naming_the_field(extra: dict, field: str) -> None:
    with pytest.raises(CameraConfigError) as info:
        CameraModel.from_config({**BASE, **extra})
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_too_few_parameters_are_rejected() -> None:
    with pytest.raises(CameraConfigError, match=r"camera\.pixel_pitch_um"):
        CameraModel.from_config({"width_px": 10, "height_px": 10, "fov_deg": 5.0})
    with pytest.raises(CameraConfigError, match=r"camera\.focal_length_mm"):
        CameraModel.from_config({"width_px": 10, "height_px": 10, "pixel_pitch_um": 5.0})


def test_colour_bands_follow_the_colour_flag() -> None:
    assert CameraModel.from_config({**BASE, "colour": True}).bands == ("red", "green", "blue")
    assert PINHOLE.bands == ("mono",) and not PINHOLE.colour


def test_boresight_projects_to_principal_point_and_axes_follow_conventions() -> None:
    uv = DISTORTED.project(np.array([[0.0, 0.0, 1.0], [0.01, 0.0, 1.0], [0.0, 0.01, 1.0]]))
    assert uv[0] == pytest.approx([DISTORTED.cx, DISTORTED.cy])
    assert uv[1, 0] > DISTORTED.cx  # +x is to the right
    assert uv[2, 1] > DISTORTED.cy  # +y is down


def test_points_behind_the_camera_project_to_nan() -> None:
    assert np.all(np.isnan(PINHOLE.project(np.array([[0.0, 0.0, -1.0]]))))


def test_pinhole_rays_are_unit_and_match_geometry() -> None:
    rays = PINHOLE.rays(np.array([PINHOLE.cx, PINHOLE.cx + PINHOLE.fx]), np.array([PINHOLE.cy, PINHOLE.cy]))
    assert np.linalg.norm(rays, axis=1) == pytest.approx([1.0, 1.0])
    assert rays[0] == pytest.approx([0.0, 0.0, 1.0])
    assert rays[1] == pytest.approx([math.sqrt(0.5), 0.0, math.sqrt(0.5)])


def test_distortion_moves_off_axis_points() -> None:
    point = np.array([[0.3, 0.2, 1.0]])
    ideal = CameraModel.from_config(WIDE)
    assert np.hypot(*(DISTORTED.project(point) - ideal.project(point))[0]) > 5.0


@given(
    u=st.floats(min_value=-0.5, max_value=DISTORTED.width - 0.5),
    v=st.floats(min_value=-0.5, max_value=DISTORTED.height - 0.5),
)
def test_pixel_ray_pixel_round_trip_within_a_thousandth_of_a_pixel(u: float, v: float) -> None:
    back = DISTORTED.project(DISTORTED.rays(np.array([u]), np.array([v])))[0]
    assert math.hypot(back[0] - u, back[1] - v) < 1e-3


def test_round_trip_over_the_whole_detector_grid() -> None:
    assert DISTORTED.max_round_trip_error_px(samples_per_edge=65) < 1e-3


def test_full_frame_rays_have_image_shape_and_unit_length() -> None:
    grid = DISTORTED.pixel_grid_rays()
    assert grid.shape == (DISTORTED.height, DISTORTED.width, 3)
    assert np.allclose(np.linalg.norm(grid, axis=2), 1.0)
    assert grid[0, 0, 0] < 0 < grid[0, -1, 0] and grid[0, 0, 1] < 0 < grid[-1, 0, 1]


@pytest.mark.parametrize("camera", [DISTORTED, PINHOLE], ids=["distorted", "pinhole"])
def test_rays_in_chunks_are_the_rays_of_one_batch(
    camera: CameraModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Undistortion iterates each point on its own: a ray's bits do not depend on its batch."""
    import emulator.camera as camera_module

    rng = np.random.default_rng(3)
    u = np.concatenate(
        [np.tile(np.arange(camera.width, dtype=float), 40), rng.uniform(-0.5, camera.width, 5000)]
    )
    v = np.concatenate(
        [np.repeat(np.arange(40, dtype=float) * 19, camera.width), rng.uniform(-0.5, camera.height, 5000)]
    )
    chunked = camera.rays(u, v)
    monkeypatch.setattr(camera_module, "RAYS_CHUNK", 1 << 40)
    whole = camera.rays(u, v)
    monkeypatch.setattr(camera_module, "RAYS_CHUNK", 997)
    assert chunked.tobytes() == whole.tobytes() == camera.rays(u, v).tobytes()
