"""Horizon-based optical navigation: the body's position relative to the camera from its lit limb.

A circle fitted to the limb in the image is not centred on the projection of the body's centre: a
sphere off the optical axis projects to an ellipse whose centre lies farther out (3.7 px for
Chang'e 5T1's 299 px Moon, 5° off axis), and distortion bends the outline further. Working with
lines of sight instead removes both: every limb ray grazes the body, so in coordinates scaled to
make the body a unit sphere, each unit limb ray ``s`` satisfies ``s · n = 1`` with
``n = r / sqrt(r·r - 1)``, ``r`` the scaled vector to the body's centre. That is linear in ``n``:
one least-squares solve gives the centre's direction *and* its range, with no iteration and no a
priori (J. A. Christian and S. B. Robinson, "Noniterative Horizon-Based Optical Navigation by
Singular Value Decomposition", JGCD 39(11), 2016). The Earth is scaled as the WGS84 spheroid about
its IAU pole; the Moon is a sphere.

The camera calibration comes with each image (pinhole intrinsics and Brown distortion in the image
metadata, :class:`protocols.image.image_metadata.CameraCalibration`: the model the probe rendered with).
Pure functions; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from groundstation.centre_finding import fit_circle
from protocols.image.image_metadata import CameraCalibration

_J2000 = datetime.fromisoformat("2000-01-01T12:00:00+00:00")


@dataclass(frozen=True)
class BodyShape:
    equatorial_radius_km: float
    polar_radius_km: float


# WGS84 for the Earth; IAU mean radius for the Moon.
BODY_SHAPES: dict[str, BodyShape] = {
    "earth": BodyShape(6378.137, 6356.752),
    "moon": BodyShape(1737.4, 1737.4),
}


@dataclass(frozen=True)
class HorizonFix:
    position_km: np.ndarray  # camera to body centre, camera frame
    u: float  # where the body's centre appears
    v: float
    range_km: float


def earth_pole_icrf(epoch_utc: str) -> np.ndarray | None:
    """The Earth's north pole in ICRF at an epoch (IAU WGCCRE: α0 = -0.641 T, δ0 = 90 - 0.557 T)."""
    try:
        epoch = datetime.fromisoformat(epoch_utc.replace("Z", "+00:00"))
        centuries = (epoch - _J2000).total_seconds() / (86400.0 * 36525.0)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
    ra, dec = math.radians(-0.641 * centuries), math.radians(90.0 - 0.557 * centuries)
    return np.array([math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)])


def unit_sphere_scaling(shape: BodyShape, pole_cam: np.ndarray | None) -> np.ndarray:
    """Matrix taking camera-frame vectors to coordinates in which the body is a unit sphere."""
    scaling = np.eye(3) / shape.equatorial_radius_km
    if shape.polar_radius_km != shape.equatorial_radius_km and pole_cam is not None:
        pole = pole_cam / np.linalg.norm(pole_cam)
        scaling += (1.0 / shape.polar_radius_km - 1.0 / shape.equatorial_radius_km) * np.outer(pole, pole)
    return scaling


def horizon_fixes(
    limb_uv: np.ndarray,
    camera: CameraCalibration,
    shape: BodyShape,
    pole_cam: np.ndarray | None = None,
    range_km: float | None = None,
) -> tuple[HorizonFix | None, HorizonFix | None]:
    """The body's centre from limb points (N, 2) by Christian and Robinson's solution: solved for
    freely, and (given ``range_km``, the a priori range a navigation filter predicts) held at that
    range, with only the direction solved for. On a small or thin crescent the limb arc tells the
    range poorly, and a free range drags the centre along with it. Either is None when the points
    (fewer than three, or not a body in front of the camera) give no fix."""
    if len(limb_uv) < 3:
        return None, None
    scaling = unit_sphere_scaling(shape, pole_cam)
    with np.errstate(all="ignore"):  # hostile calibrations give non-finite rays: no fix, no warning
        scaled = camera.lines_of_sight(np.asarray(limb_uv, dtype=np.float64)) @ scaling.T
        scaled /= np.linalg.norm(scaled, axis=1, keepdims=True)
    if not np.all(np.isfinite(scaled)):
        return None, None
    n, *_ = np.linalg.lstsq(scaled, np.ones(len(scaled)), rcond=None)
    squared = float(n @ n)
    if not math.isfinite(squared) or squared <= 1.0:
        return None, None
    free_scaled = n / math.sqrt(squared - 1.0)
    free = _fix_at(free_scaled, scaling, camera)
    if range_km is None:
        return free, None
    direction = free_scaled / np.linalg.norm(free_scaled)
    for _ in range(2):  # an oblate body's scaled range depends a little on the direction
        unscaled = np.linalg.solve(scaling, direction)
        scaled_range = range_km * float(np.linalg.norm(scaling @ (unscaled / np.linalg.norm(unscaled))))
        tan_half_angle = 1.0 / math.sqrt(max((scaled_range - 1.0) * (scaled_range + 1.0), 0.0) or math.inf)
        if not 1e-12 < tan_half_angle < math.inf:
            return free, None  # inside the body, or too far for any limb to be seen
        direction = _cone_axis(scaled, tan_half_angle, direction)
        if direction is None:
            return free, None
    return free, _fix_at(direction * scaled_range, scaling, camera)


def horizon_fix(
    limb_uv: np.ndarray,
    camera: CameraCalibration,
    shape: BodyShape,
    pole_cam: np.ndarray | None = None,
    range_km: float | None = None,
) -> HorizonFix | None:
    """One of :func:`horizon_fixes`: held at ``range_km`` when it is given, free otherwise."""
    free, at_range = horizon_fixes(limb_uv, camera, shape, pole_cam, range_km)
    return free if range_km is None else at_range


def _fix_at(position_scaled: np.ndarray, scaling: np.ndarray, camera: CameraCalibration) -> HorizonFix | None:
    position = np.linalg.solve(scaling, position_scaled)
    if not position[2] > 0:
        return None
    u, v = camera.pixel_of(position)
    if not (math.isfinite(u) and math.isfinite(v)):
        return None
    return HorizonFix(position, u, v, float(np.linalg.norm(position)))


def _cone_axis(rays: np.ndarray, tan_half_angle: float, start: np.ndarray) -> np.ndarray | None:
    """Axis of the cone of known half-angle through unit ``rays``, starting from ``start``.

    Seen gnomonically from its own axis a circular cone is a circle of radius tan(half-angle)
    about the origin, so each step projects the rays onto the plane normal to the current axis,
    fits a circle of that radius and moves the axis to its centre. Coordinates stay small numbers
    at full precision however far away the body is (the s·n = 1 rows become nearly equal there)."""
    axis = start / np.linalg.norm(start)
    for _ in range(8):
        helper = np.eye(3)[int(np.argmin(np.abs(axis)))]
        e1 = np.cross(axis, helper)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        depth = rays @ axis
        if np.any(depth <= 0):
            return None  # a limb ray behind the axis: these points are no cone about it
        plane = np.column_stack([rays @ e1 / depth, rays @ e2 / depth]) / tan_half_angle
        a, b, _, _ = fit_circle(plane, radius=1.0)
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        axis = axis + tan_half_angle * (a * e1 + b * e2)
        axis /= np.linalg.norm(axis)
        if math.hypot(a, b) < 1e-10:
            break
    return axis
