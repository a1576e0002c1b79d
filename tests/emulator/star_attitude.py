"""Star-based attitude from a raw frame: detect, centroid, match to Hipparcos, solve Wahba's problem."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from emulator.render import RenderedFrame
from emulator.stars import aberrate, load_catalogue, probe_velocity_ssb, unit_vectors


def detect_stars(frame: RenderedFrame, sigmas: float = 6.0, exclude_px: float = 12.0) -> np.ndarray:
    """(N, 2) centroids (u, v) of isolated bright point sources away from the Earth and the Moon."""
    pixels = frame.pixels.astype(float)
    sky = float(np.median(pixels))
    noise = 1.4826 * float(np.median(np.abs(pixels - sky)))
    high = pixels > sky + sigmas * max(noise, 1.0)
    # Local maxima of a 3x3 neighbourhood.
    padded = np.pad(pixels, 1, mode="edge")
    neighbours = np.stack(
        [
            padded[1 + dr : 1 + dr + pixels.shape[0], 1 + dc : 1 + dc + pixels.shape[1]]
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr, dc) != (0, 0)
        ]
    )
    peaks = high & (pixels >= neighbours.max(axis=0))
    rows, cols = np.nonzero(peaks)
    bodies = [
        b.get("photocentre_px") or b["centre_px"] for b in frame.truth["bodies"].values() if b["in_frame"]
    ]
    radii = [b["apparent_radius_px"] for b in frame.truth["bodies"].values() if b["in_frame"]]
    out = []
    for r, c in zip(rows, cols, strict=True):
        if any(
            math.hypot(c - u, r - v) < rad + exclude_px for (u, v), rad in zip(bodies, radii, strict=True)
        ):
            continue
        if not (2 <= r < pixels.shape[0] - 2 and 2 <= c < pixels.shape[1] - 2):
            continue
        window = pixels[r - 2 : r + 3, c - 2 : c + 3] - sky
        if window.sum() < 2.0 * window.max():
            continue  # a hot pixel or a cosmic ray has no PSF wings
        dr, dc = np.mgrid[-2:3, -2:3]
        w = np.clip(window, 0.0, None)
        centre = (c + float((w * dc).sum() / w.sum()), r + float((w * dr).sum() / w.sum()))
        if all(math.hypot(centre[0] - a, centre[1] - b) > 1.5 for a, b in out):  # plateau twins
            out.append(centre)
    return np.array(out).reshape(-1, 2)


def solve_attitude(
    frame: RenderedFrame,
    camera: Any,
    a_priori: np.ndarray,
    position_km: np.ndarray,
    aberration: bool = True,
    match_px: float = 3.0,
) -> tuple[np.ndarray, int]:
    """Camera → ICRF rotation from the frame's stars (and the number of stars used)."""
    detections = detect_stars(frame)
    catalogue = load_catalogue()
    directions = unit_vectors(catalogue, frame.capture_time_utc)
    boresight = a_priori[:, 2]
    near = np.nonzero(directions @ boresight > math.cos(math.radians(12.0)))[0]
    reference = directions[near]
    if aberration:
        reference = aberrate(reference, probe_velocity_ssb(frame.capture_time_utc, position_km))
    predicted = np.asarray(camera.project(reference @ a_priori), dtype=float)
    measured, matched = [], []
    for u, v in detections:
        distance = np.hypot(predicted[:, 0] - u, predicted[:, 1] - v)
        k = int(np.argmin(distance))
        if distance[k] < match_px:
            measured.append(np.asarray(camera.rays(np.array([u]), np.array([v])), dtype=float)[0])
            matched.append(reference[k])
    b = np.array(measured)
    r = np.array(matched)
    b /= np.linalg.norm(b, axis=1)[:, None]
    m = r.T @ b  # Σ r bᵀ
    u_, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u_ @ vt))
    return u_ @ np.diag([1.0, 1.0, d]) @ vt, len(b)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (rad) of the rotation between two rotation matrices."""
    cosine = (np.trace(a @ b.T) - 1.0) / 2.0
    return math.acos(max(-1.0, min(1.0, cosine)))


def image_displacement_px(camera: Any, solved: np.ndarray, truth: np.ndarray) -> float:
    """Largest shift, over the centre and the corners of the detector, of where a fixed sky
    direction lands when the truth attitude is replaced by the solved one (pixels)."""
    w, h = camera.width - 1, camera.height - 1
    u = np.array([w / 2, 0.0, w, 0.0, w])
    v = np.array([h / 2, 0.0, 0.0, h, h])
    sky = np.asarray(camera.rays(u, v), dtype=float) @ truth.T  # ICRF directions under the truth
    moved = np.asarray(camera.project(sky @ solved), dtype=float)
    return float(np.hypot(moved[:, 0] - u, moved[:, 1] - v).max())
