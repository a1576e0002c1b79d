"""Centre finding for resolved bodies: the brightness centroid, and a circle fitted to the lit limb.

A crescent's centroid of light sits sunward of the disc centre (about 0.7 radius at 120° phase),
an offset an optical-navigation filter must otherwise remove with a photometric model. The lit
limb lies on the body's outline whatever the phase: for any phase between 0° and 180° exactly
half of the limb is lit, centred on the sun's direction in the image. Scanning rays across that
half, taking the outermost falling edge on each as a limb point and fitting a circle to the
points gives the centre and apparent radius with no photometric model (limb scanning, as NASA GIANT
does with shape models). Pure functions of a background-subtracted image; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_LIMB_RADIUS_PX = 3.0  # below this the PSF blurs the limb away: the centroid is all there is
_RAYS = 72
_HALF_ARC_DEG = 70.0  # of the 90° either side of the sun that are lit, keep away from the horns
_STEP_PX = 0.25
_MIN_POINTS = int(0.4 * _RAYS)  # fewer: the limb is mostly hidden (by another body, the frame edge)
_SKY_WITHIN_PX = 4.0  # a limb reaches dark sky within this many pixels
_BORDER_PX = 2.0


@dataclass(frozen=True)
class Centroid:
    u: float
    v: float
    signal: float
    lit_pixels: int


@dataclass(frozen=True)
class LimbFit:
    u: float  # centre of the circle of the a priori radius through the limb points
    v: float
    radius: float  # radius of the best circle when the radius is free as well
    points: int  # limb points the circles were fitted to
    rms_px: float  # residual of those points about the circle of the a priori radius
    limb_uv: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), compare=False, repr=False)


def brightness_centroid(image: np.ndarray, threshold: float) -> Centroid | None:
    """Brightness-weighted centre of the pixels above ``threshold`` (None when there are none)."""
    lit = image > threshold
    weights = np.where(lit, image, 0.0)
    total = float(weights.sum())
    if total <= 0:
        return None
    vv, uu = np.indices(image.shape)
    return Centroid(
        float((weights * uu).sum() / total), float((weights * vv).sum() / total), total, int(lit.sum())
    )


def sample_bilinear(image: np.ndarray, u: np.ndarray, v: np.ndarray, background: float = 0.0) -> np.ndarray:
    """``image`` minus ``background`` at fractional pixel positions (pixel centres at integers);
    0 outside the frame. Any numeric dtype: only the samples become floats, not the frame."""
    height, width = image.shape
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - u0, v - v0
    inside = (u0 >= 0) & (v0 >= 0) & (u0 + 1 < width) & (v0 + 1 < height)
    u0c, v0c = np.clip(u0, 0, width - 2), np.clip(v0, 0, height - 2)
    value = (
        image[v0c, u0c] * (1 - fu) * (1 - fv)
        + image[v0c, u0c + 1] * fu * (1 - fv)
        + image[v0c + 1, u0c] * (1 - fu) * fv
        + image[v0c + 1, u0c + 1] * fu * fv
    )
    return np.where(inside, value - background, 0.0)


def limb_points(
    image: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    sun_angle: float | None,
    noise: float,
    background: float = 0.0,
) -> np.ndarray:
    """Limb crossings on rays from ``centre`` across the lit half of the limb.

    On each ray the limb is the outermost strong falling edge (a local maximum of the brightness
    drop per pixel that reaches half of the ray's largest drop) within 0.6-1.4 radii beyond which
    the ray reaches dark sky within a few pixels, refined to a fraction of a sample with a
    parabola. Edges inside a disc (clouds, maria) do not reach the sky; a body in front of
    another has no sky beyond its limb (no point); an edge at the frame border is the frame's.
    (Half of the ray's peak brightness would be biased outward on a crescent, whose brightness
    rises up to the limb.) ``sun_angle``: direction of the sun in the image (radians, atan2 of
    dv, du); None for a full disc, whose whole limb is lit. Returns (points, 2) of (u, v).
    """
    radii, du, dv, profiles, drops = ray_profiles(image, centre, radius, sun_angle, background)
    reach = round(_SKY_WITHIN_PX / _STEP_PX)
    # every ray at once (issue 16: one ray at a time was 72 rounds of small numpy calls); each
    # value is the one the per-ray formulas give (tests/groundstation/test_centre_finding.py)
    peak, strongest = profiles.max(axis=1), drops.max(axis=1)
    sky = np.maximum(5 * noise, 0.05 * peak)
    inner = drops[:, 1:-1]  # sample k + 1 for candidate k
    edge = (inner >= 0.5 * strongest[:, None]) & (inner >= drops[:, :-2]) & (inner >= drops[:, 2:])
    edge &= (radii[1:-1] >= 0.6 * radius) & (radii[1:-1] <= 1.4 * radius + 2)
    # from an edge at sample k the ray reaches the sky within `reach` samples: the least of
    # samples k .. k + reach (fewer at the end of the ray) is below the sky level
    padded = np.concatenate([profiles, np.full((len(profiles), reach), np.inf)], axis=1)
    beyond = np.lib.stride_tricks.sliding_window_view(padded, reach + 1, axis=1).min(axis=2)
    edge &= beyond[:, 1 : 1 + inner.shape[1]] < sky[:, None]
    edge &= ((peak >= 10 * noise) & (strongest > 0))[:, None]
    rays = np.flatnonzero(edge.any(axis=1))
    k = inner.shape[1] - np.argmax(edge[rays, ::-1], axis=1)  # each ray's outermost edge
    before, at, after = drops[rays, k - 1], drops[rays, k], drops[rays, k + 1]
    curvature = before - 2 * at + after
    bent = curvature < 0
    shift = np.zeros(len(rays))
    shift[bent] = 0.5 * (before[bent] - after[bent]) / curvature[bent]
    r = radii[k] + shift * _STEP_PX
    u, v = centre[0] + du[rays, 0] * r, centre[1] + dv[rays, 0] * r
    height, width = image.shape
    inside = (
        (u >= _BORDER_PX) & (v >= _BORDER_PX) & (width - 1 - u >= _BORDER_PX) & (height - 1 - v >= _BORDER_PX)
    )
    return np.column_stack([u[inside], v[inside]])


def ray_profiles(
    image: np.ndarray, centre: tuple[float, float], radius: float, sun_angle: float | None, background: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`limb_points`' rays: the radii sampled along each, the rays' directions (du, dv as
    columns), the brightness profiles (rays x radii) and their drops per pixel (0 at both ends)."""
    if sun_angle is None:
        angles = np.linspace(0, 2 * np.pi, _RAYS, endpoint=False)
    else:
        half = math.radians(_HALF_ARC_DEG)
        angles = sun_angle + np.linspace(-half, half, _RAYS)
    radii = np.arange(0.0, 1.6 * radius + 3.0, _STEP_PX)
    du, dv = np.cos(angles)[:, None], np.sin(angles)[:, None]
    profiles = sample_bilinear(image, centre[0] + du * radii, centre[1] + dv * radii, background)
    drops = np.zeros_like(profiles)
    drops[:, 1:-1] = (profiles[:, :-2] - profiles[:, 2:]) / (2 * _STEP_PX)
    return radii, du, dv, profiles, drops


def fit_circle(points: np.ndarray, radius: float | None = None) -> tuple[float, float, float, float]:
    """Least-squares circle (algebraic start, then Gauss-Newton on the geometric distances);
    with ``radius`` given, only the centre is fitted. Returns centre, radius and rms residual."""
    u, v = points[:, 0], points[:, 1]
    design = np.column_stack([2 * u, 2 * v, np.ones_like(u)])
    (a, b, c), *_ = np.linalg.lstsq(design, u * u + v * v, rcond=None)
    r = math.sqrt(max(c + a * a + b * b, 0.0)) if radius is None else radius
    for _ in range(20):
        du, dv = u - a, v - b
        distance = np.maximum(np.hypot(du, dv), 1e-12)
        residual = distance - r
        columns = [-du / distance, -dv / distance] + ([-np.ones_like(u)] if radius is None else [])
        step, *_ = np.linalg.lstsq(np.column_stack(columns), -residual, rcond=None)
        a, b = a + step[0], b + step[1]
        if radius is None:
            r += step[2]
        if float(np.abs(step).max()) < 1e-7:
            break
    residual = np.hypot(u - a, v - b) - r
    return float(a), float(b), float(r), float(np.sqrt(np.mean(residual**2)))


def fit_lit_limb(
    image: np.ndarray,
    a_priori: tuple[float, float],
    radius: float,
    centroid: Centroid,
    noise: float,
    background: float = 0.0,
) -> LimbFit | None:
    """Circle through the lit limb of a body expected near ``a_priori`` with ``radius`` pixels.

    The centre is fitted with the radius held at the a priori value (from the predicted range, far
    better known than an edge on a crescent can tell: a free radius would take up the slight
    outward pull of a limb that is brightest at its edge and move the centre with it); the radius
    of a free fit is reported beside it. The sun's direction comes from the image: the centroid of
    light lies sunward of the centre. Two passes: rays from the a priori centre, then from the
    first fit. None when the body is too small, larger than the frame, or too few limb points
    are found.
    """
    finite = all(math.isfinite(x) for x in (*a_priori, radius))
    if not finite or not MIN_LIMB_RADIUS_PX <= radius <= max(image.shape):
        return None  # too small to have a limb, or (hostile metadata) larger than the frame
    centre, fitted = a_priori, None
    for _ in range(2):
        offset = (centroid.u - centre[0], centroid.v - centre[1])
        sun_angle = math.atan2(offset[1], offset[0]) if math.hypot(*offset) > 0.08 * radius else None
        points = limb_points(image, centre, radius, sun_angle, noise, background)
        if len(points) < _MIN_POINTS:
            return fitted
        u, v, _, rms = fit_circle(points, radius)
        residual = np.abs(np.hypot(points[:, 0] - u, points[:, 1] - v) - radius)
        keep = residual <= max(3 * 1.4826 * float(np.median(residual)), 0.5)
        if keep.sum() >= _MIN_POINTS and not keep.all():
            points = points[keep]
            u, v, _, rms = fit_circle(points, radius)
        free_radius = fit_circle(points)[2]
        if (
            math.hypot(u - a_priori[0], v - a_priori[1]) > radius
            or not 0.5 * radius <= free_radius <= 2 * radius
        ):
            return fitted  # the points describe something else than the body expected here
        fitted = LimbFit(u, v, free_radius, len(points), rms, points)
        centre = (u, v)
    return fitted
