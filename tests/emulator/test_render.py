"""Geometric and radiometric acceptance of the renderer on hand-built scenes (no ephemeris)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.camera import CameraModel
from emulator.detector import Effects, SensorConfig
from emulator.radiometry import AU_KM, band_named, band_photon_irradiance
from emulator.render import render_geometry
from emulator.scene import ShadingOptions, render_radiance
from emulator.scene_geometry import BodyView, SceneGeometry

PITCH_M = 5.5e-6
MOON_R = 1737.4
EARTH_R, EARTH_RP = 6378.137, 6356.752


def make_camera(size: int = 256, f_px: float = 2000.0, aperture_m: float | None = 0.02) -> CameraModel:
    return CameraModel(
        width=size,
        height=size,
        fx=f_px,
        fy=f_px,
        cx=(size - 1) / 2,
        cy=(size - 1) / 2,
        pixel_pitch_m=PITCH_M,
        focal_length_m=f_px * PITCH_M,
        aperture_diameter_m=aperture_m,
    )


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def sun_for_phase(centre: np.ndarray, phase_deg: float) -> np.ndarray:
    """Body → Sun unit vector making the given phase angle, Sun toward −x in the image."""
    to_camera = unit(-centre)
    side = unit(np.cross([0.0, 1.0, 0.0], to_camera))
    a = math.radians(phase_deg)
    return unit(math.cos(a) * to_camera + math.sin(a) * side)


def make_view(name, centre, radius, polar, phase_deg) -> BodyView:
    centre = np.asarray(centre, dtype=float)
    return BodyView(
        name=name,
        centre_cam_km=centre,
        radius_km=radius,
        polar_radius_km=polar,
        sun_dir_cam=sun_for_phase(centre, phase_deg),
        sun_distance_km=AU_KM,
        body_to_cam=np.eye(3),
        phase_angle_deg=phase_deg,
    )


def make_geometry(*views: BodyView) -> SceneGeometry:
    return SceneGeometry(
        epoch_utc=datetime(2020, 7, 27, tzinfo=UTC),
        bodies=tuple(views),
        probe_position_km=np.zeros(3),
        cam_to_icrf=np.eye(3),
        sun_dir_cam=np.array([-1.0, 0.0, 0.0]),
    )


CLEAN_SENSOR = SensorConfig.from_dict(
    {
        "bit_depth": 16,
        "full_well_e": 1e9,
        "gain_e_per_dn": 1.0,
        "bias_dn": 0,
        "exposure": "auto",
        "auto_exposure_target": 0.9,
    }
)
CLEAN_SENSOR = SensorConfig(**{**CLEAN_SENSOR.__dict__, "full_well_e": 60_000.0})


def centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((image * cols).sum() / total), float((image * rows).sum() / total)


@given(dx=st.floats(-4.0, 4.0), dy=st.floats(-4.0, 4.0), distance=st.floats(0.9e6, 2.0e6))
def test_full_disc_centroid_and_radius_match_truth(dx: float, dy: float, distance: float) -> None:
    # A narrow-angle camera (disc of 0.1°): at zero phase the lunar-Lambert disc is then flat to
    # 0.1 %; close up, the camera's finite distance brightens the limb a little (real, see docs).
    camera = make_camera(f_px=20_000.0)
    centre = np.array([dx / camera.fx * distance, dy / camera.fy * distance, distance])
    view = make_view("moon", centre, MOON_R, MOON_R, 0.0)
    frame = render_geometry(make_geometry(view), camera, CLEAN_SENSOR, effects=Effects.none())
    image = frame.pixels.astype(float)
    truth_u, truth_v = camera.project(centre[None])[0]
    u, v = centroid(image)
    assert abs(u - truth_u) < 0.05 and abs(v - truth_v) < 0.05
    # Lunar-Lambert at zero phase is a flat disc: area = Σ / interior level.
    rows, cols = np.indices(image.shape)
    interior = np.median(image[np.hypot(cols - truth_u, rows - truth_v) < 10.0])
    radius = math.sqrt(image.sum() / interior / math.pi)
    assert abs(radius - frame.truth["bodies"]["moon"]["apparent_radius_px"]) < 0.05


@pytest.mark.parametrize("name", ["moon", "earth"])
@pytest.mark.parametrize("phase", [20.0, 60.0, 90.0, 120.0, 150.0])
def test_crescent_lit_fraction_and_containment(name: str, phase: float) -> None:
    camera = make_camera()
    radius, polar = (MOON_R, MOON_R) if name == "moon" else (EARTH_R, EARTH_RP)
    centre = np.array([0.3, -0.2, radius * camera.fx / 60.0])  # ~60 px radius
    view = make_view(name, centre, radius, polar, phase)
    scene = render_radiance(make_geometry(view), camera, ShadingOptions(band_named("pan")))
    body = scene.bodies[0]
    expected = (1.0 + math.cos(math.radians(phase))) / 2.0
    measured = scene.lit_coverage.sum() / (math.pi * body.apparent_radius_px**2)
    assert abs(measured - expected) < 0.02
    rows, cols = np.nonzero(scene.radiance > 0)
    u0, v0 = body.projected_centre_px
    distance = np.hypot(cols - u0, rows - v0)
    assert distance.max() <= body.apparent_radius_px + math.sqrt(0.5)
    # Lit pixels sit on the Sun's side (−x): the lit centroid is left of the disc centre.
    assert centroid(scene.radiance)[0] < u0


def test_moon_in_front_of_earth_hides_it() -> None:
    camera = make_camera(size=256, f_px=1000.0)
    earth = make_view("earth", [0.0, 0.0, 100_000.0], EARTH_R, EARTH_RP, 10.0)
    moon = make_view("moon", [3000.0, 0.0, 60_000.0], MOON_R, MOON_R, 10.0)
    scene = render_radiance(make_geometry(earth, moon), camera, ShadingOptions(band_named("pan")))
    u0, v0 = scene.bodies[1].projected_centre_px
    r_moon = scene.bodies[1].apparent_radius_px
    rows, cols = np.indices(scene.radiance.shape)
    inside_moon = np.hypot(cols - u0, rows - v0) < r_moon - 1.0
    assert inside_moon.sum() > 100
    assert np.all(scene.body_label[inside_moon] == 1)
    # Swap the distances: now the Earth hides that patch of the Moon.
    moon_behind = make_view("moon", [3000.0 * 5, 0.0, 300_000.0], MOON_R, MOON_R, 10.0)
    scene = render_radiance(make_geometry(earth, moon_behind), camera, ShadingOptions(band_named("pan")))
    assert np.all(scene.body_label[scene.body_label >= 0] == 0)


def test_psf_conserves_total_flux() -> None:
    camera = make_camera()
    view = make_view("earth", [0.0, 0.0, 400_000.0], EARTH_R, EARTH_RP, 40.0)
    geometry = make_geometry(view)
    sharp = render_geometry(geometry, camera, CLEAN_SENSOR, effects=Effects.none())
    for psf in ({"kind": "gaussian", "sigma_px": 1.7}, {"kind": "airy", "wavelength_nm": 600.0}):
        sensor = SensorConfig(**{**CLEAN_SENSOR.__dict__}).__class__(
            **{
                **CLEAN_SENSOR.__dict__,
                "psf_kind": psf["kind"],
                "psf_sigma_px": psf.get("sigma_px", 0.0),
                "exposure_s": sharp.exposure_s,
            }
        )
        blurred = render_geometry(geometry, camera, sensor, effects=Effects.none().with_only(psf=True))
        ratio = blurred.expected_electrons.sum(dtype=float) / sharp.expected_electrons.sum(dtype=float)
        assert abs(ratio - 1.0) < 1e-3
        assert blurred.expected_electrons.max() < sharp.expected_electrons.max()


@given(du=st.floats(-0.5, 0.5), dv=st.floats(-0.5, 0.5), psf_on=st.booleans())
def test_point_source_flux_and_centroid(du: float, dv: float, psf_on: bool) -> None:
    camera = make_camera(size=64, f_px=2000.0)
    distance = MOON_R * camera.fx / 0.8  # 0.8 px radius: unresolved
    centre = np.array([(4.0 + du) / camera.fx * distance, (-3.0 + dv) / camera.fy * distance, distance])
    view = make_view("moon", centre, MOON_R, MOON_R, 0.0)
    sensor = SensorConfig(**{**CLEAN_SENSOR.__dict__, "exposure_s": 1.0, "psf_sigma_px": 1.0})
    effects = Effects.none().with_only(psf=psf_on)
    frame = render_geometry(make_geometry(view), camera, sensor, effects=effects)
    assert frame.truth["bodies"]["moon"]["rendered_as"] == "point source"
    image = frame.expected_electrons.astype(float)
    # Zero phase, lunar-Lambert: a flat disc of I/F = A, so flux = A · E/π · Ω_disc · étendue · QE · τ.
    theta = math.asin(MOON_R / distance)
    omega = 2 * math.pi * (1 - math.cos(theta))
    photons = 0.15 * band_photon_irradiance(band_named("pan"), AU_KM) / math.pi * omega
    expected_e = photons * math.pi * 0.02**2 / 4 * sensor.quantum_efficiency * sensor.optics_transmission
    assert abs(image.sum() / expected_e - 1.0) < 5e-3
    u, v = centroid(image)
    truth_u, truth_v = camera.project(centre[None])[0]
    assert abs(u - truth_u) < 0.02 and abs(v - truth_v) < 0.02


def test_unresolved_crescent_photocentre_moves_sunward() -> None:
    camera = make_camera(size=64, f_px=2000.0)
    distance = MOON_R * camera.fx / 1.0
    view = make_view("moon", [0.0, 0.0, distance], MOON_R, MOON_R, 90.0)
    sensor = SensorConfig(**{**CLEAN_SENSOR.__dict__, "exposure_s": 1.0})
    frame = render_geometry(make_geometry(view), camera, sensor, effects=Effects.none())
    body = frame.truth["bodies"]["moon"]
    assert body["photocentre_px"][0] < body["centre_px"][0] - 0.1  # Sun toward −x
    u, _ = centroid(frame.expected_electrons.astype(float))
    assert abs(u - body["photocentre_px"][0]) < 0.02


def test_seed_reproducibility_and_stream_independence() -> None:
    camera = make_camera(size=128)
    view = make_view("earth", [0.0, 0.0, 500_000.0], EARTH_R, EARTH_RP, 60.0)
    geometry = make_geometry(view)
    sensor = SensorConfig.from_dict({"bit_depth": 12, "cosmic_ray_rate_per_cm2_s": 2e5, "exposure_s": 0.05})
    a = render_geometry(geometry, camera, sensor, seed=7)
    b = render_geometry(geometry, camera, sensor, seed=7)
    c = render_geometry(geometry, camera, sensor, seed=8)
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert a.pixels.tobytes() != c.pixels.tobytes()
    assert a.truth["sensor"]["cosmic_ray_hits"] > 0
    without_rays = render_geometry(
        geometry, camera, sensor, seed=7, effects=Effects.all().with_only(cosmic_rays=False)
    )
    differs = a.pixels != without_rays.pixels
    # Only pixels struck by a particle change: every other effect kept its own random stream.
    assert 0 < differs.sum() < 0.05 * differs.size
    assert np.all(a.pixels[differs] >= without_rays.pixels[differs])


def test_truth_is_json_ready_and_complete() -> None:
    camera = make_camera(size=128)
    view = make_view("earth", [0.0, 0.0, 500_000.0], EARTH_R, EARTH_RP, 60.0)
    frame = render_geometry(make_geometry(view), camera, SensorConfig.from_dict({}), seed=3)
    text = json.dumps(frame.truth)
    earth = json.loads(text)["bodies"]["earth"]
    for key in ("peak_expected_e", "total_expected_e", "peak_expected_dn", "lit_fraction_rendered"):
        assert earth[key] > 0
    assert frame.pixels.dtype == np.uint16 and frame.pixels.max() <= 4095
    assert frame.truth["seed"] == 3 and frame.truth["effects"]["shot_noise"] is True
