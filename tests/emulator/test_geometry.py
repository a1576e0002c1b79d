"""Scene geometry: attitude helpers, body orientation, and each seed reproducing its published view."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import attitude, ephemeris
from emulator.geometry import (
    compute_geometry,
    direction_from_phase,
    earth_to_icrf,
    iau_body_to_icrf,
    moon_to_icrf,
    truth_geometry,
)
from emulator.scenario import load_scenario

quaternions = st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1)


@given(quaternions)
def test_quaternion_dcm_round_trip(q: list[float]) -> None:
    q_unit = attitude.quat_normalize(np.array(q))
    dcm = attitude.quat_to_dcm(q_unit)
    assert attitude.is_rotation(dcm)
    back = attitude.dcm_to_quat(dcm)
    sign = 1.0 if back @ q_unit >= 0 else -1.0  # q and -q are the same rotation
    assert sign * back == pytest.approx(q_unit, abs=1e-9)


@given(quaternions, quaternions)
def test_quaternion_product_composes_rotations(a: list[float], b: list[float]) -> None:
    qa, qb = attitude.quat_normalize(np.array(a)), attitude.quat_normalize(np.array(b))
    product = attitude.quat_to_dcm(attitude.quat_multiply(qa, qb))
    assert product == pytest.approx(attitude.quat_to_dcm(qa) @ attitude.quat_to_dcm(qb), abs=1e-9)


def test_look_at_puts_boresight_on_z_and_north_up() -> None:
    cam_to_icrf = attitude.look_at(np.array([1.0, 0.0, 0.0]))
    assert cam_to_icrf[:, 2] == pytest.approx([1.0, 0.0, 0.0])
    assert cam_to_icrf[:, 1] == pytest.approx([0.0, 0.0, -1.0])  # +y (down) is celestial south
    assert cam_to_icrf[:, 0] == pytest.approx([0.0, -1.0, 0.0])  # east on the sky appears left
    rolled = attitude.look_at(np.array([1.0, 0.0, 0.0]), roll_deg=90.0)
    assert rolled[:, 2] == pytest.approx([1.0, 0.0, 0.0])
    assert attitude.is_rotation(rolled)


def test_offset_pointing_moves_the_target_right_and_down() -> None:
    cam_to_icrf = attitude.offset_pointing(attitude.look_at(np.array([0.0, 1.0, 0.0])), (2.0, -1.0))
    target_cam = cam_to_icrf.T @ np.array([0.0, 1.0, 0.0])
    assert math.degrees(math.atan2(target_cam[0], target_cam[2])) == pytest.approx(2.0, abs=1e-9)
    assert math.degrees(math.atan2(target_cam[1], target_cam[2])) == pytest.approx(-1.0, abs=1e-9)


def test_iau_matrix_puts_the_pole_at_its_right_ascension_and_declination() -> None:
    body_to_icrf = iau_body_to_icrf(269.9949, 66.5392, 38.3213)
    ra, dec = math.radians(269.9949), math.radians(66.5392)
    pole = [math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)]
    assert body_to_icrf[:, 2] == pytest.approx(pole, abs=1e-12)
    assert attitude.is_rotation(body_to_icrf)


def test_earth_rotation_agrees_with_the_simple_iau_model() -> None:
    jd = ephemeris.jd_tdb(__import__("datetime").datetime(2020, 7, 27, 12, tzinfo=__import__("datetime").UTC))
    d = jd - 2451545.0
    simple = iau_body_to_icrf(-0.641 * d / 36525, 90.0 - 0.557 * d / 36525, 190.147 + 360.9856235 * d)
    skyfield = earth_to_icrf(jd)
    # Same pole within 0.05° and the same prime meridian within 0.1° (the IAU model omits nutation).
    assert np.degrees(np.arccos(np.clip(simple[:, 2] @ skyfield[:, 2], -1, 1))) < 0.05
    assert np.degrees(np.arccos(np.clip(simple[:, 0] @ skyfield[:, 0], -1, 1))) < 0.1


def test_moon_keeps_its_near_side_toward_the_earth() -> None:
    for day in (0.0, 7.0, 14.0, 21.0):
        jd = 2459058.0 + day
        moon_to_earth = ephemeris.position_ssb("earth", jd) - ephemeris.position_ssb("moon", jd)
        in_body = moon_to_icrf(jd).T @ (moon_to_earth / np.linalg.norm(moon_to_earth))
        # Sub-Earth point stays within the ~8° optical libration of 0° longitude, 0° latitude.
        assert math.degrees(math.acos(in_body[0])) < 10.0


def test_direction_from_phase_has_the_requested_angle() -> None:
    sun = np.array([0.3, -0.9, 0.2])
    for phase in (0.0, 45.0, 120.0, 180.0):
        for turn in (-90.0, 0.0, 77.0):
            d = direction_from_phase(sun, phase, turn)
            angle = math.degrees(math.atan2(np.linalg.norm(np.cross(d, sun)), d @ sun))
            assert angle == pytest.approx(phase, abs=1e-9)
            assert np.linalg.norm(d) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def views() -> dict:
    out = {}
    for name in (
        "tianwen1-2020-07-27",
        "dscovr-epic-2015-07-16",
        "mro-hirise-2007-10-03",
        "voyager1-1977-09-18",
        "hayabusa2-onct-2015-11-26",
    ):
        scenario = load_scenario(name)
        geometry = compute_geometry(scenario)
        out[name] = (scenario, geometry, truth_geometry(scenario, geometry))
    return out


def test_tianwen1_shows_two_crescents_inside_the_frame(views: dict) -> None:
    _scenario, geometry, truth = views["tianwen1-2020-07-27"]
    for body in ("earth", "moon"):
        assert geometry.body(body).phase_angle_deg > 90.0
        assert truth["bodies"][body]["in_frame"]
        assert truth["bodies"][body]["illuminated_fraction"] < 0.5
    # One large (the Earth), one small (the Moon).
    assert truth["bodies"]["earth"]["apparent_radius_px"] > 2 * truth["bodies"]["moon"]["apparent_radius_px"]


def test_dscovr_sees_a_nearly_full_earth_with_the_moon_across_its_disc(views: dict) -> None:
    scenario, geometry, truth = views["dscovr-epic-2015-07-16"]
    earth, moon = truth["bodies"]["earth"], truth["bodies"]["moon"]
    assert earth["phase_angle_deg"] < 15.0
    assert moon["range_km"] < earth["range_km"]  # in front
    offset_px = math.dist(earth["centre_px"], moon["centre_px"])
    assert offset_px + moon["apparent_radius_px"] < earth["apparent_radius_px"]  # whole Moon on the disc
    assert 1.4e6 < scenario.range_km < 1.6e6  # near the Sun–Earth L1 point
    north_cam = geometry.body("earth").body_to_cam[:, 2]
    assert north_cam[0] < 0 and north_cam[1] < 0  # NASA: the North Pole is toward the upper left


def test_mro_sees_earth_and_moon_at_the_published_scale_and_phase(views: dict) -> None:
    scenario, geometry, truth = views["mro-hirise-2007-10-03"]
    earth, moon = truth["bodies"]["earth"], truth["bodies"]["moon"]
    # Release: 142 million km, 142 km per pixel, Earth about 90 px and Moon 24 px across, phase 98°.
    assert earth["range_km"] == pytest.approx(1.42e8, rel=0.01)
    assert 2 * earth["apparent_radius_px"] == pytest.approx(90, rel=0.05)
    assert 2 * moon["apparent_radius_px"] == pytest.approx(24, rel=0.05)
    assert earth["phase_angle_deg"] == pytest.approx(98.0, abs=3.0)
    assert earth["in_frame"] and moon["in_frame"]
    separation_deg = math.degrees(
        math.acos(
            np.clip(
                geometry.body("earth").centre_cam_km
                @ geometry.body("moon").centre_cam_km
                / (earth["range_km"] * moon["range_km"]),
                -1,
                1,
            )
        )
    )
    # Seen from Mars the Moon can be at most ~0.155° from the Earth.
    assert 0.0 < separation_deg < math.degrees(406_000 / 1.42e8)
    assert math.dist(earth["centre_px"], moon["centre_px"]) == pytest.approx(
        math.radians(separation_deg) * scenario.camera.fx, rel=0.01
    )


def test_voyager1_sees_crescents_with_the_moon_beyond_the_earth(views: dict) -> None:
    _scenario, geometry, truth = views["voyager1-1977-09-18"]
    earth, moon = truth["bodies"]["earth"], truth["bodies"]["moon"]
    assert earth["phase_angle_deg"] > 90.0 and moon["phase_angle_deg"] > 90.0
    assert moon["range_km"] > earth["range_km"]
    assert earth["in_frame"] and moon["in_frame"]
    assert moon["centre_px"][1] < earth["centre_px"][1]  # the Moon is at the top of the picture
    # The probe hangs over Mount Everest (27.99° N, 86.93° E) at the capture instant.
    jd = ephemeris.jd_tdb(geometry.epoch_utc)
    down = earth_to_icrf(jd).T @ geometry.probe_position_km
    lat = math.degrees(math.asin(down[2] / np.linalg.norm(down)))
    lon = math.degrees(math.atan2(down[1], down[0]))
    assert lat == pytest.approx(27.99, abs=1.0) and lon == pytest.approx(86.93, abs=1.0)


def test_hayabusa2_sees_the_moon_left_of_a_gibbous_earth(views: dict) -> None:
    _scenario, geometry, truth = views["hayabusa2-onct-2015-11-26"]
    earth, moon = truth["bodies"]["earth"], truth["bodies"]["moon"]
    assert earth["in_frame"] and moon["in_frame"]
    assert earth["phase_angle_deg"] < 90.0
    assert moon["centre_px"][0] < earth["centre_px"][0]
    north_cam = geometry.body("earth").body_to_cam[:, 2]
    assert north_cam[0] < -0.5  # JAXA: north is to the left


def test_truth_is_json_ready_and_consistent(views: dict) -> None:
    _scenario, geometry, truth = views["tianwen1-2020-07-27"]
    decoded = json.loads(json.dumps(truth))
    q = np.array(decoded["camera"]["cam_to_icrf_quaternion_wxyz"])
    assert attitude.quat_to_dcm(q) == pytest.approx(geometry.cam_to_icrf, abs=1e-9)
    assert decoded["epoch_utc"].endswith("Z")
    earth = decoded["bodies"]["earth"]
    assert earth["illuminated_fraction"] == pytest.approx(
        (1 + math.cos(math.radians(earth["phase_angle_deg"]))) / 2
    )
    assert earth["sun_distance_km"] == pytest.approx(1.52e8, rel=0.01)  # July: Earth near aphelion


def test_body_views_are_self_consistent(views: dict) -> None:
    for _scenario, geometry, _ in views.values():
        assert attitude.is_rotation(geometry.cam_to_icrf)
        for body in geometry.bodies:
            assert attitude.is_rotation(body.body_to_cam, tolerance=1e-6)
            assert np.linalg.norm(body.sun_dir_cam) == pytest.approx(1.0)
            to_probe = -body.centre_cam_km / body.range_km
            phase = math.degrees(math.acos(np.clip(body.sun_dir_cam @ to_probe, -1, 1)))
            assert phase == pytest.approx(body.phase_angle_deg, abs=1e-6)


def test_later_images_advance_in_time() -> None:
    scenario = load_scenario("tianwen1-2020-07-27")
    import dataclasses

    two = dataclasses.replace(scenario, image_count=2, interval_s=600.0)
    first, second = compute_geometry(two, 0), compute_geometry(two, 1)
    assert (second.epoch_utc - first.epoch_utc).total_seconds() == 600.0
    with pytest.raises(IndexError):
        compute_geometry(two, 2)
