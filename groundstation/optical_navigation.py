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

import numpy as np

from groundstation.centre_finding import Centroid, LimbFit, brightness_centroid, fit_lit_limb
from groundstation.horizon_navigation import BODY_SHAPES, earth_pole_icrf, horizon_fixes
from protocols.image.image_metadata import CameraCalibration, ImageMetadata

_FARTHEST_PX = 1e15  # beyond any detector by far; below where window arithmetic overflows


def _body_truths(metadata: ImageMetadata) -> dict[str, dict]:
    """Per-body a priori: pixel centre, apparent radius and (when given) range."""
    out = {}
    for name, body in metadata.body_truths().items():
        u, v = body.centre_px  # type: ignore[misc]
        truth = {"u": float(u), "v": float(v), "radius": float(body.apparent_radius_px)}  # type: ignore[arg-type]
        if max(abs(truth["u"]), abs(truth["v"]), truth["radius"]) > _FARTHEST_PX:
            continue  # finite, but no frame reaches it: its window's edges would overflow
        if body.range_km is not None:
            truth["range_km"] = float(body.range_km)
        out[name] = truth
    return out


def background_level(pixels: np.ndarray) -> tuple[float, float]:
    """Median and robust sigma (from the MAD) of the frame: space dominates every seed frame."""
    sample = pixels[:: max(1, pixels.shape[0] // 256), :: max(1, pixels.shape[1] // 256)].astype(np.float64)
    median = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - median)))
    return median, max(sigma, 0.5)


def measure_bodies(
    pixels: np.ndarray, metadata: ImageMetadata, threshold_sigma: float = 5.0
) -> dict[str, dict]:
    """Centroid of light and lit-limb centre per body named in the truth, with their errors."""
    truths = _body_truths(metadata)
    if not truths:
        return {}
    median, sigma = background_level(pixels)
    camera = metadata.camera
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


def _pole_in_camera(metadata: ImageMetadata) -> np.ndarray | None:
    cam_to_icrf = None if metadata.camera is None else metadata.camera.attitude_matrix()
    pole = None if metadata.epoch_utc is None else earth_pole_icrf(metadata.epoch_utc)
    return None if cam_to_icrf is None or pole is None else cam_to_icrf.T @ pole


def _horizon_entry(
    name: str, limb: LimbFit, camera: CameraCalibration | None, metadata: ImageMetadata, truth: dict
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
