"""Spacecraft hardware in the foreground of a frame: the Tianwen-2 arm camera's capsule and flag.

A scenario's optional ``[foreground]`` table puts a simple shaded model in front of the sky:

=====================  =======================================================================
key                    meaning
=====================  =======================================================================
kind                   "capsule-and-flag" (the only model)
capsule_centre_m       [x, y, z] of the capsule's dome centre in the camera frame (metres;
                       +x right, +y down, +z along the boresight)
capsule_radius_m       dome radius
flag_direction         [x, y, z] the direction, from the dome centre, of the flag's centre
flag_size_m            [width, height] of the flag decal on the dome (3:2 for the Chinese flag)
=====================  =======================================================================

The capsule is a sphere (its heat-shield dome) of white thermal paint (albedo 0.8 in every
band); the flag is a decal on it, red (albedo 0.55 in red, 0.07 in green, 0.05 in blue) with
five yellow stars (0.75 / 0.6 / 0.1) drawn as discs (the large one and four small ones in the
flag's layout).  Shading is Lambert for the Sun's direction in the camera frame plus a 3 %
fill (light reflected off the spacecraft), at the probe's distance from the Sun.  The model is
opaque: it hides the Earth, the Moon and the stars behind it, and the automatic exposure
meters it with the rest of the frame, as the real camera did (the Earth is then a faint dot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.radiometry import Band, band_photon_irradiance
from emulator.vector_sums import rows_times, vector_norm

PAINT_ALBEDO = 0.8
FILL_LIGHT = 0.03
CHUNK = 32768  # pixels shaded at a time
# (blue, green, red) albedo of the flag's red field and of its yellow stars.
FLAG_RED = (0.05, 0.07, 0.55)
FLAG_YELLOW = (0.1, 0.6, 0.75)
# Stars of the flag in units of the flag's height, from its upper-left corner: (x, y, radius).
FLAG_STARS = ((0.25, 0.25, 0.15), (0.5, 0.1, 0.05), (0.6, 0.2, 0.05), (0.6, 0.35, 0.05), (0.5, 0.45, 0.05))


@dataclass(frozen=True)
class Foreground:
    centre_m: np.ndarray
    radius_m: float
    flag_direction: np.ndarray
    flag_size_m: tuple[float, float]

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> Foreground:
        if table.get("kind") != "capsule-and-flag":
            raise ValueError(f"foreground.kind: only 'capsule-and-flag' is known, got {table.get('kind')!r}")
        direction = np.asarray(table.get("flag_direction", [0.0, 0.0, -1.0]), dtype=float)
        size = table.get("flag_size_m", [0.3, 0.2])
        return cls(
            centre_m=np.asarray(table["capsule_centre_m"], dtype=float),
            radius_m=float(table["capsule_radius_m"]),
            flag_direction=direction / np.linalg.norm(direction),
            flag_size_m=(float(size[0]), float(size[1])),
        )


def _band_albedo(colour: tuple[float, float, float], band: Band) -> float:
    blue, green, red = colour
    c = band.centre_nm
    if band.high_nm - band.low_nm > 200.0:  # pan: the mean of the three
        return (blue + green + red) / 3.0
    return blue if c < 500.0 else green if c < 590.0 else red


def _hits(model: Foreground, rays: np.ndarray, many: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the dome along unit rays from the camera (inf on a miss) and the hit points.

    ``many``: the rays are part of a product of more than one ray (``vector_sums.rows_times``)."""
    b = rows_times(rays, model.centre_m, many)
    disc = b * b - (model.centre_m @ model.centre_m - model.radius_m**2)
    with np.errstate(invalid="ignore"):
        t = b - np.sqrt(disc)
    t = np.where((disc >= 0.0) & (t > 0.0), t, np.inf)
    return t, rays * np.where(np.isfinite(t), t, 0.0)[:, None]


def _radiance_factor(
    model: Foreground, points: np.ndarray, sun_dir_cam: np.ndarray, band: Band, many: bool = False
) -> np.ndarray:
    normal = (points - model.centre_m) / model.radius_m
    mu0 = np.maximum(rows_times(normal, sun_dir_cam, many), 0.0)
    albedo = np.full(points.shape[0], PAINT_ALBEDO)
    # Flag decal: tangent-plane coordinates about the flag's centre direction.
    f = model.flag_direction
    helper = np.array([0.0, 1.0, 0.0]) if abs(f[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    right = np.cross(f, helper)  # image-right as seen from the camera (the decal is not mirrored)
    right /= np.linalg.norm(right)
    down = np.cross(right, f)
    x = rows_times(normal, right, many) * model.radius_m
    y = rows_times(normal, down, many) * model.radius_m
    width, height = model.flag_size_m
    on_flag = (rows_times(normal, f, many) > 0.0) & (np.abs(x) <= width / 2) & (np.abs(y) <= height / 2)
    albedo[on_flag] = _band_albedo(FLAG_RED, band)
    flag = np.nonzero(on_flag)[0]  # the stars are looked for on the flag only
    fx, fy = (x[flag] + width / 2) / height, (y[flag] + height / 2) / height
    for sx, sy, sr in FLAG_STARS:
        star = flag[np.hypot(fx - sx, fy - sy) <= sr]
        albedo[star] = _band_albedo(FLAG_YELLOW, band)
    return albedo * (mu0 + FILL_LIGHT)


def render_foreground(
    model: Foreground, camera: Any, sun_dir_cam: np.ndarray, sun_distance_km: float, band: Band
) -> tuple[np.ndarray, np.ndarray]:
    """(coverage mask, photon radiance) of the foreground over the frame (radiance 0 off it)."""
    h, w = int(camera.height), int(camera.width)
    step = 8
    cu, cv = np.meshgrid(np.arange(0, w, step, dtype=float), np.arange(0, h, step, dtype=float))
    coarse, _ = _hits(model, _unit(camera.rays(cu.ravel(), cv.ravel())))
    mask = np.zeros((h, w), dtype=bool)
    radiance = np.zeros((h, w))
    hit = np.isfinite(coarse).reshape(cu.shape)
    if not hit.any():
        return mask, radiance
    rows, cols = np.nonzero(hit)
    r0, r1 = max(rows.min() * step - step, 0), min(rows.max() * step + 2 * step, h)
    c0, c1 = max(cols.min() * step - step, 0), min(cols.max() * step + 2 * step, w)
    vv, uu = np.mgrid[r0:r1, c0:c1]
    u, v = uu.ravel().astype(float), vv.ravel().astype(float)
    inside = np.zeros(u.size, dtype=bool)
    factor = np.zeros(u.size)
    sun = np.asarray(sun_dir_cam, dtype=float)
    # CHUNK pixels at a time: every step is per pixel, so the chunks change no value and keep
    # their temporaries in cache; a chunk's rays or hits are products of many rows as the whole
    # region's were (``vector_sums.rows_times``), but for a capsule seen by one pixel, whose
    # chunk is shaded again as a product of one row.
    hit_parts = []
    for start in range(0, u.size, CHUNK):
        part = slice(start, start + CHUNK)
        t, points = _hits(model, _unit(camera.rays(u[part], v[part])), u.size > 1)
        hit = np.isfinite(t)
        inside[part] = hit
        factor[part][hit] = _radiance_factor(model, points[hit], sun, band, True)
        if hit.any():
            hit_parts.append(part)
    if len(hit_parts) == 1 and np.count_nonzero(inside) == 1:
        part = hit_parts[0]
        t, points = _hits(model, _unit(camera.rays(u[part], v[part])), u.size > 1)
        factor[part][inside[part]] = _radiance_factor(model, points[inside[part]], sun, band, False)
    scale = band_photon_irradiance(band, sun_distance_km) / math.pi
    mask[r0:r1, c0:c1] = inside.reshape(vv.shape)
    radiance[r0:r1, c0:c1] = (factor * scale).reshape(vv.shape)
    return mask, radiance


def _unit(rays: np.ndarray) -> np.ndarray:
    rays = np.asarray(rays, dtype=float)
    return rays / vector_norm(rays)[:, None]  # np.linalg.norm(rays, axis=1), the same bits
