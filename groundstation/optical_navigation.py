"""Optical navigation on received images: where are the Earth and the Moon in the frame?

For each body the probe's truth metadata names (its centre and apparent radius
serve as the a priori an optical-navigation filter would predict), the station
measures two centres and reports both beside the truth: the background-subtracted,
brightness-weighted centroid of the lit pixels inside a window around the expected
disc, which on a crescent sits sunward of the disc centre (the phase offset), and
a circle fitted to the lit limb (:mod:`groundstation.centre_finding`), which does
not depend on the phase. From the same limb points and the camera calibration the image carries,
:mod:`groundstation.horizon_navigation` solves for the body's position (direction and range),
which is where the circle's centre is not: off the optical axis a sphere's outline is an ellipse
centred farther out than the body.
"""

from __future__ import annotations

import math

import numpy as np

from groundstation.centre_finding import Centroid, LimbFit, brightness_centroid, fit_lit_limb
from groundstation.horizon_navigation import (
    BODY_SHAPES,
    CameraCalibration,
    earth_pole_icrf,
    horizon_fixes,
    quaternion_matrix,
)


def _body_truths(metadata: dict) -> dict[str, dict]:
    """Per-body truth entries with a pixel centre and radius, whatever the nesting."""
    bodies = metadata.get("bodies", {})
    if isinstance(bodies, list):
        bodies = {str(b.get("name", i)): b for i, b in enumerate(bodies) if isinstance(b, dict)}
    out = {}
    for name, b in bodies.items() if isinstance(bodies, dict) else []:
        if not isinstance(b, dict):
            continue
        centre = b.get("pixel_centre") or b.get("centre_px") or b.get("pixel_center")
        radius = b.get("radius_px") or b.get("apparent_radius_px")
        if isinstance(centre, dict):
            centre = [centre.get("u"), centre.get("v")]
        if centre is None or radius is None:
            continue
        try:
            truth = {"u": float(centre[0]), "v": float(centre[1]), "radius": float(radius)}
        except (TypeError, ValueError, IndexError):
            continue
        if all(np.isfinite(list(truth.values()))) and truth["radius"] >= 0:  # metadata may be hostile
            out[name] = truth
            range_km = b.get("range_km")
            if isinstance(range_km, int | float) and math.isfinite(range_km) and range_km > 0:
                truth["range_km"] = float(range_km)
    return out


def background_level(pixels: np.ndarray) -> tuple[float, float]:
    """Median and robust sigma (from the MAD) of the frame: space dominates every seed frame."""
    sample = pixels[:: max(1, pixels.shape[0] // 256), :: max(1, pixels.shape[1] // 256)].astype(np.float64)
    median = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - median)))
    return median, max(sigma, 0.5)


def measure_bodies(pixels: np.ndarray, metadata: dict, threshold_sigma: float = 5.0) -> dict[str, dict]:
    """Centroid of light and lit-limb centre per body named in the truth, with their errors."""
    truths = _body_truths(metadata)
    if not truths:
        return {}
    median, sigma = background_level(pixels)
    camera = CameraCalibration.from_metadata(metadata.get("camera"))
    height, width = pixels.shape
    result: dict[str, dict] = {}
    for name, t in truths.items():
        margin = max(4.0, 0.25 * t["radius"]) + 3.0
        u0, u1 = int(np.floor(t["u"] - t["radius"] - margin)), int(np.ceil(t["u"] + t["radius"] + margin)) + 1
        v0, v1 = int(np.floor(t["v"] - t["radius"] - margin)), int(np.ceil(t["v"] + t["radius"] + margin)) + 1
        u0, v0 = max(u0, 0), max(v0, 0)
        u1, v1 = min(u1, width), min(v1, height)
        entry: dict = {"truth_u": t["u"], "truth_v": t["v"], "truth_radius_px": t["radius"]}
        if u1 <= u0 or v1 <= v0:
            entry["status"] = "outside frame"
            result[name] = entry
            continue
        window = pixels[v0:v1, u0:u1].astype(np.float64) - median  # only the window: frames may be 64 MiB
        in_window = brightness_centroid(window, threshold_sigma * sigma)
        entry["lit_pixels"] = 0 if in_window is None else in_window.lit_pixels
        if in_window is None:
            entry["status"] = "not detected"
            result[name] = entry
            continue
        centroid = Centroid(in_window.u + u0, in_window.v + v0, in_window.signal, in_window.lit_pixels)
        entry.update(
            status="detected",
            u=centroid.u,
            v=centroid.v,
            signal_dn=centroid.signal,
            error_px=float(np.hypot(centroid.u - t["u"], centroid.v - t["v"])),
        )
        limb = fit_lit_limb(pixels, (t["u"], t["v"]), t["radius"], centroid, sigma, background=median)
        if limb is not None:
            entry["limb"] = {
                "u": limb.u,
                "v": limb.v,
                "error_px": float(np.hypot(limb.u - t["u"], limb.v - t["v"])),
                "radius_px": limb.radius,
                "points": limb.points,
                "rms_px": limb.rms_px,
            }
            horizon = _horizon_entry(name, limb, camera, metadata, t)
            if horizon is not None:
                entry["horizon"] = horizon
        result[name] = entry
    return result


def _pole_in_camera(metadata: dict) -> np.ndarray | None:
    camera = metadata.get("camera")
    cam_to_icrf = (
        quaternion_matrix(camera.get("cam_to_icrf_quaternion_wxyz")) if isinstance(camera, dict) else None
    )
    pole = earth_pole_icrf(metadata.get("epoch_utc"))
    return None if cam_to_icrf is None or pole is None else cam_to_icrf.T @ pole


def _horizon_entry(
    name: str, limb: LimbFit, camera: CameraCalibration | None, metadata: dict, truth: dict
) -> dict | None:
    """The body's centre from the limb's lines of sight at the a priori range, and its range and
    position solved for freely, beside the truth."""
    shape = BODY_SHAPES.get(name.lower())
    if camera is None or shape is None:
        return None
    pole = _pole_in_camera(metadata) if name.lower() == "earth" else None
    free, at_range = horizon_fixes(limb.limb_uv, camera, shape, pole, range_km=truth.get("range_km"))
    fix = free if "range_km" not in truth else at_range
    if fix is None:
        return None
    entry = {
        "u": fix.u,
        "v": fix.v,
        "error_px": float(np.hypot(fix.u - truth["u"], fix.v - truth["v"])),
        "points": len(limb.limb_uv),
    }
    if free is not None:
        entry["range_km"] = free.range_km
        entry["position_km"] = [float(c) for c in free.position_km]
        if "range_km" in truth:
            entry["range_error_percent"] = 100.0 * (free.range_km - truth["range_km"]) / truth["range_km"]
    return entry
