"""Quaternions and direction-cosine matrices for pointing the camera.

Quaternions are scalar first, ``q = [w, x, y, z]``, and always describe the
rotation *camera → ICRF*: ``v_icrf = quat_to_dcm(q) @ v_cam``. A DCM here is
the same thing as a matrix: its columns are the camera axes expressed in ICRF.
Camera axes follow ``emulator/scene_geometry.py``: +z boresight, +x right,
+y down.
"""

from __future__ import annotations

import numpy as np

CELESTIAL_NORTH = np.array([0.0, 0.0, 1.0])
# ICRF direction of the ecliptic north pole (J2000 obliquity 23.4392911°).
_OBLIQUITY_RAD = np.radians(23.4392911)
ECLIPTIC_NORTH = np.array([0.0, -np.sin(_OBLIQUITY_RAD), np.cos(_OBLIQUITY_RAD)])


def unit(vector: np.ndarray) -> np.ndarray:
    """Vector scaled to length one (raises on a zero vector rather than returning NaN)."""
    v = np.asarray(vector, dtype=float)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("cannot normalise a zero or non-finite vector")
    return v / norm


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternion with a non-negative scalar part (one canonical sign)."""
    q = unit(q)
    return -q if q[0] < 0 else q


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse rotation of a unit quaternion."""
    return np.array([q[0], -q[1], -q[2], -q[3]], dtype=float)


def quat_to_dcm(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a (normalised here) scalar-first quaternion."""
    w, x, y, z = unit(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def dcm_to_quat(dcm: np.ndarray) -> np.ndarray:
    """Scalar-first unit quaternion of a rotation matrix (Shepperd's stable branch choice)."""
    m = np.asarray(dcm, dtype=float)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    candidates = (trace, m[0, 0], m[1, 1], m[2, 2])
    best = int(np.argmax(candidates))
    if best == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif best == 1:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif best == 2:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    return quat_normalize(np.array(q))


def axis_angle_dcm(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Active rotation by ``angle_rad`` about ``axis`` (right-hand rule), Rodrigues' formula."""
    k = unit(axis)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle_rad) * kx + (1.0 - np.cos(angle_rad)) * (kx @ kx)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction ``a`` onto direction ``b``."""
    a, b = unit(a), unit(b)
    axis = np.cross(a, b)
    sin_angle = float(np.linalg.norm(axis))
    cos_angle = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if sin_angle < 1e-15:
        if cos_angle > 0:
            return np.eye(3)
        helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        return axis_angle_dcm(np.cross(a, helper), np.pi)
    return axis_angle_dcm(axis, float(np.arctan2(sin_angle, cos_angle)))


def look_at(
    boresight_icrf: np.ndarray, up_icrf: np.ndarray = CELESTIAL_NORTH, roll_deg: float = 0.0
) -> np.ndarray:
    """Camera→ICRF matrix with +z on ``boresight_icrf`` and image-up (−y) toward ``up_icrf``.

    ``roll_deg`` then turns the camera about its boresight (positive = right-hand
    rule about +z, so scene content appears to turn the other way). If the up
    hint is parallel to the boresight a perpendicular fallback is used.
    """
    z = unit(boresight_icrf)
    up = np.asarray(up_icrf, dtype=float)
    up_perp = up - np.dot(up, z) * z
    if np.linalg.norm(up_perp) < 1e-9:
        fallback = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        up_perp = fallback - np.dot(fallback, z) * z
    y = -unit(up_perp)
    x = np.cross(y, z)
    cam_to_icrf = np.column_stack([x, y, z])
    if roll_deg:
        cam_to_icrf = cam_to_icrf @ axis_angle_dcm(np.array([0.0, 0.0, 1.0]), np.radians(roll_deg))
    return cam_to_icrf


def offset_pointing(cam_to_icrf: np.ndarray, offset_deg: tuple[float, float]) -> np.ndarray:
    """Re-point so the old boresight appears ``offset_deg = (dx, dy)`` right/down of the image centre.

    The offset is the angle in the camera x and y directions at which the
    original target shows up in the new image (a positive ``dx`` puts it right
    of centre, a positive ``dy`` below).
    """
    dx, dy = np.radians(offset_deg[0]), np.radians(offset_deg[1])
    target_new = unit(np.array([np.tan(dx), np.tan(dy), 1.0]))
    new_to_old = rotation_between(target_new, np.array([0.0, 0.0, 1.0]))
    return cam_to_icrf @ new_to_old


def is_rotation(matrix: np.ndarray, tolerance: float = 1e-9) -> bool:
    """True for a proper orthonormal 3x3 matrix."""
    m = np.asarray(matrix, dtype=float)
    return (
        m.shape == (3, 3)
        and np.allclose(m.T @ m, np.eye(3), atol=tolerance)
        and abs(np.linalg.det(m) - 1.0) < tolerance
    )
