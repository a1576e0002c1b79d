"""Scene geometry of one exposure: where the probe is, where it looks, and how each body appears.

Body orientation (``body_to_cam``, for textures):

* Earth: skyfield's ITRS rotation (IAU 2000A precession–nutation, Earth rotation
  angle from the built-in UT1 table; polar motion is zero without IERS data).
* Moon: the IAU WGCCRE lunar rotation model (pole right ascension/declination
  and prime meridian with the E1–E13 periodic terms, Archinal et al. 2011/2018).
  It realises the mean-Earth/polar-axis frame to roughly 150 m on the surface —
  far below a pixel in every scenario here.

Each body's orientation, position and illumination are taken at the instant the
light the camera receives left it (see :mod:`emulator.ephemeris`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from emulator import ephemeris
from emulator.attitude import (
    CELESTIAL_NORTH,
    ECLIPTIC_NORTH,
    look_at,
    offset_pointing,
    quat_to_dcm,
    unit,
)
from emulator.camera import CameraModel
from emulator.scene_geometry import BodyView, SceneGeometry

if TYPE_CHECKING:
    from emulator.scenario_spec import AttitudeSpec, ProbeSpec, Scenario

IMAGED_BODIES = ("earth", "moon")


# -- body orientation ---------------------------------------------------------------------------


def _rot_x(angle: float) -> np.ndarray:
    """Frame (passive) rotation about x."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def _rot_z(angle: float) -> np.ndarray:
    """Frame (passive) rotation about z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def iau_body_to_icrf(pole_ra_deg: float, pole_dec_deg: float, prime_meridian_deg: float) -> np.ndarray:
    """Body-fixed → ICRF matrix from IAU pole (α0, δ0) and prime meridian W (all degrees)."""
    icrf_to_body = (
        _rot_z(math.radians(prime_meridian_deg))
        @ _rot_x(math.radians(90.0 - pole_dec_deg))
        @ _rot_z(math.radians(90.0 + pole_ra_deg))
    )
    return icrf_to_body.T


def moon_orientation_deg(tdb_jd: float) -> tuple[float, float, float]:
    """IAU lunar pole (α0, δ0) and prime meridian W in degrees at a TDB Julian date."""
    d = tdb_jd - 2451545.0
    t = d / 36525.0
    e = [0.0] + [
        math.radians(a + b * d)
        for a, b in (
            (125.045, -0.0529921),
            (250.089, -0.1059842),
            (260.008, 13.0120009),
            (176.625, 13.3407154),
            (357.529, 0.9856003),
            (311.589, 26.4057084),
            (134.963, 13.0649930),
            (276.617, 0.3287146),
            (34.226, 1.7484877),
            (15.134, -0.1589763),
            (119.743, 0.0036096),
            (239.961, 0.1643573),
            (25.053, 12.9590088),
        )
    ]
    sin, cos = math.sin, math.cos
    ra = (
        269.9949
        + 0.0031 * t
        - 3.8787 * sin(e[1])
        - 0.1204 * sin(e[2])
        + 0.0700 * sin(e[3])
        - 0.0172 * sin(e[4])
        + 0.0072 * sin(e[6])
        - 0.0052 * sin(e[10])
        + 0.0043 * sin(e[13])
    )
    dec = (
        66.5392
        + 0.0130 * t
        + 1.5419 * cos(e[1])
        + 0.0239 * cos(e[2])
        - 0.0278 * cos(e[3])
        + 0.0068 * cos(e[4])
        - 0.0029 * cos(e[6])
        + 0.0009 * cos(e[7])
        + 0.0008 * cos(e[10])
        - 0.0009 * cos(e[13])
    )
    w = (
        38.3213
        + 13.17635815 * d
        - 1.4e-12 * d * d
        + 3.5610 * sin(e[1])
        + 0.1208 * sin(e[2])
        - 0.0642 * sin(e[3])
        + 0.0158 * sin(e[4])
        + 0.0252 * sin(e[5])
        - 0.0066 * sin(e[6])
        - 0.0047 * sin(e[7])
        - 0.0046 * sin(e[8])
        + 0.0028 * sin(e[9])
        + 0.0052 * sin(e[10])
        + 0.0040 * sin(e[11])
        + 0.0019 * sin(e[12])
        - 0.0044 * sin(e[13])
    )
    return ra, dec, w % 360.0


def moon_to_icrf(jd: float) -> np.ndarray:
    """Moon body-fixed (IAU) → ICRF rotation at TDB Julian date ``jd``."""
    return iau_body_to_icrf(*moon_orientation_deg(jd))


def earth_to_icrf(jd: float) -> np.ndarray:
    """Earth-fixed (ITRS) → ICRF (GCRS axes) rotation at TDB Julian date ``jd``."""
    from skyfield.framelib import itrs

    return np.asarray(itrs.rotation_at(ephemeris.skyfield_time(jd)), dtype=float).T


_BODY_ORIENTATION = {"earth": earth_to_icrf, "moon": moon_to_icrf}


# -- probe position and pointing ----------------------------------------------------------------


def direction_from_phase(sun_dir: np.ndarray, phase_angle_deg: float, out_of_plane_deg: float) -> np.ndarray:
    """Unit origin → probe direction at a given Sun–origin–probe angle, turned about the Sun line.

    ``out_of_plane_deg = 0`` is in the ecliptic on the side the origin moves
    toward (``sun_dir × ecliptic north``), 90 is toward ecliptic north.
    """
    s = unit(sun_dir)
    ahead = unit(np.cross(s, ECLIPTIC_NORTH))
    north = np.cross(ahead, s)
    phase, turn = math.radians(phase_angle_deg), math.radians(out_of_plane_deg)
    return math.cos(phase) * s + math.sin(phase) * (math.cos(turn) * ahead + math.sin(turn) * north)


def probe_barycentric_km(probe: ProbeSpec, jd: float) -> np.ndarray:
    """Barycentric ICRF position of the probe at TDB Julian date ``jd`` (geometric, km)."""
    origin = ephemeris.position_ssb(probe.origin, jd)
    if probe.position_km is not None:
        return origin + np.asarray(probe.position_km, dtype=float)
    if probe.ra_deg is not None and probe.dec_deg is not None:
        ra, dec = math.radians(probe.ra_deg), math.radians(probe.dec_deg)
        direction = np.array([math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)])
    else:
        sun_dir = ephemeris.position_ssb("sun", jd) - origin
        direction = direction_from_phase(sun_dir, float(probe.phase_angle_deg), probe.out_of_plane_deg)
    return origin + float(probe.range_km) * direction


def camera_to_icrf(attitude: AttitudeSpec, apparent_km: dict[str, np.ndarray]) -> np.ndarray:
    """Camera → ICRF matrix for an attitude spec, given apparent probe → body vectors."""
    if attitude.mode == "quaternion":
        cam_to_icrf = quat_to_dcm(np.asarray(attitude.q))
        if attitude.roll_deg:
            cam_to_icrf = cam_to_icrf @ _roll(attitude.roll_deg)
    else:
        if attitude.target == "earth-moon":
            boresight = unit(apparent_km["earth"]) + unit(apparent_km["moon"])
        else:
            boresight = apparent_km[str(attitude.target)]
        if attitude.up == "earth-moon-horizontal":
            separation = unit(apparent_km["moon"]) - unit(apparent_km["earth"])
            up = np.cross(separation, unit(boresight))  # makes image-right (+x) point earth → moon
        elif attitude.up == "ecliptic-north":
            up = ECLIPTIC_NORTH
        else:
            up = CELESTIAL_NORTH
        cam_to_icrf = look_at(boresight, up, attitude.roll_deg)
    if attitude.offset_deg != (0.0, 0.0):
        cam_to_icrf = offset_pointing(cam_to_icrf, attitude.offset_deg)
    return cam_to_icrf


def _roll(roll_deg: float) -> np.ndarray:
    from emulator.attitude import axis_angle_dcm

    return axis_angle_dcm(np.array([0.0, 0.0, 1.0]), math.radians(roll_deg))


# -- the scene ----------------------------------------------------------------------------------


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(np.dot(a, b))))


def probe_velocity_km_s(scenario: Scenario, image_index: int = 0, step_s: float = 60.0) -> np.ndarray:
    """Geocentric ICRF velocity the scenario's geometry implies at image ``image_index``, km/s.

    A scenario places the probe relative to a body and the Sun (a range and a phase angle, or a
    position in a body-centred frame), so the probe moves as that body and the Sun line do: a
    central difference of the geocentric position over ``step_s`` either side.
    """
    jd = ephemeris.jd_tdb(scenario.epoch_of(image_index))
    half = step_s / 86400.0

    def geocentric(at: float) -> np.ndarray:
        return probe_barycentric_km(scenario.probe, at) - ephemeris.position_ssb("earth", at)

    return (geocentric(jd + half) - geocentric(jd - half)) / (2.0 * step_s)


def compute_geometry(scenario: Scenario, image_index: int = 0) -> SceneGeometry:
    """Geometry of image ``image_index`` of ``scenario``: camera attitude and each body's apparent view."""
    epoch = scenario.epoch_of(image_index)
    jd = ephemeris.jd_tdb(epoch)
    probe = probe_barycentric_km(scenario.probe, jd)
    earth_now = ephemeris.position_ssb("earth", jd)
    sun_from_probe, _ = ephemeris.apparent_vector(probe, "sun", jd)

    apparent: dict[str, np.ndarray] = {}
    emitted: dict[str, float] = {}
    for name in IMAGED_BODIES:
        apparent[name], light_time = ephemeris.apparent_vector(probe, name, jd)
        emitted[name] = jd - light_time / 86400.0
    cam_to_icrf = camera_to_icrf(scenario.attitude, apparent)
    icrf_to_cam = cam_to_icrf.T

    views = []
    for name in IMAGED_BODIES:
        body_position = probe + apparent[name]
        sun_from_body, _ = ephemeris.apparent_vector(body_position, "sun", emitted[name], iterations=2)
        radius, polar_radius = ephemeris.EQUATORIAL_RADIUS_KM[name], ephemeris.POLAR_RADIUS_KM[name]
        views.append(
            BodyView(
                name=name,
                centre_cam_km=icrf_to_cam @ apparent[name],
                radius_km=radius,
                polar_radius_km=polar_radius,
                sun_dir_cam=icrf_to_cam @ unit(sun_from_body),
                sun_distance_km=float(np.linalg.norm(sun_from_body)),
                body_to_cam=icrf_to_cam @ _BODY_ORIENTATION[name](emitted[name]),
                phase_angle_deg=_angle_deg(sun_from_body, -apparent[name]),
            )
        )
    return SceneGeometry(
        epoch_utc=epoch,
        bodies=tuple(views),
        probe_position_km=probe - earth_now,
        cam_to_icrf=cam_to_icrf,
        sun_dir_cam=icrf_to_cam @ unit(sun_from_probe),
    )


def apparent_radius_px(camera: CameraModel, body: BodyView) -> float:
    """Disc radius in pixels at the image-centre scale."""
    return camera.fx * math.tan(body.angular_radius_rad)


def body_pixel(camera: CameraModel, body: BodyView) -> np.ndarray:
    """Projected apparent centre (u, v); NaN when the body is behind the camera."""
    return camera.project(body.centre_cam_km[None, :])[0]


def visible_bodies(camera: CameraModel, geometry: SceneGeometry) -> list[str]:
    """Bodies whose disc reaches the detector (in front of the camera)."""
    names = []
    for body in geometry.bodies:
        uv = body_pixel(camera, body)
        if np.all(np.isfinite(uv)) and camera.contains(uv, margin_px=apparent_radius_px(camera, body))[0]:
            names.append(body.name)
    return names


def framed_bodies(camera: CameraModel, geometry: SceneGeometry) -> list[str]:
    """Bodies whose centre lands on the detector."""
    names = []
    for body in geometry.bodies:
        uv = body_pixel(camera, body)
        if np.all(np.isfinite(uv)) and camera.contains(uv)[0]:
            names.append(body.name)
    return names


def truth_geometry(scenario: Scenario, geometry: SceneGeometry) -> dict[str, Any]:
    """JSON-ready ground truth of one exposure (for the truth file that accompanies each image)."""
    camera = scenario.camera
    bodies = {}
    for body in geometry.bodies:
        uv = body_pixel(camera, body)
        finite = bool(np.all(np.isfinite(uv)))
        phase = body.phase_angle_deg
        bodies[body.name] = {
            "centre_px": [float(uv[0]), float(uv[1])] if finite else None,
            "in_frame": finite and bool(camera.contains(uv)[0]),
            "apparent_radius_px": apparent_radius_px(camera, body),
            "apparent_radius_deg": math.degrees(body.angular_radius_rad),
            "range_km": body.range_km,
            "phase_angle_deg": phase,
            "illuminated_fraction": (1.0 + math.cos(math.radians(phase))) / 2.0,
            "sun_distance_km": body.sun_distance_km,
        }
    return {
        "scenario": scenario.name,
        "epoch_utc": ephemeris.utc_iso(geometry.epoch_utc),
        "probe_position_km": [float(c) for c in geometry.probe_position_km],
        "probe_earth_range_km": float(np.linalg.norm(geometry.probe_position_km)),
        # The calibration the ground needs to turn limb pixels into lines of sight.
        "camera": camera.calibration(geometry.cam_to_icrf).to_map(),
        "sun_direction_cam": [float(c) for c in geometry.sun_dir_cam],
        "bodies": bodies,
    }
