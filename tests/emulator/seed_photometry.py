"""Disc-integrated photometry measured from a seed's raw frame (shared by tests and the report).

Aperture photometry on the digitised frame: a disc of the body's apparent radius plus three
PSF sigmas and 2 px around its truth centre (photocentre for a point source), background
and bias from the median of an annulus outside it; where the Moon stands in front of the
Earth, the Moon's disc is the Moon's aperture and is cut out of the Earth's.  Electrons
become flux through the camera's aperture, QE and transmission, then a geometric albedo
through the published phase laws (``emulator.photometry``).

The frame is rendered without a seed's foreground hardware (the Tianwen-2 arm camera's
capsule): the sky bodies are what is measured, and the capsule would set an exposure a
hundred times shorter, leaving its Moon a few electrons.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from emulator import photometry
from emulator.detector import SensorConfig
from emulator.geometry import compute_geometry, truth_geometry
from emulator.radiometry import aperture_area_m2, band_named, band_photon_irradiance
from emulator.render import RenderedFrame, render_geometry

BODIES = ("earth", "moon")


def v_like_band(sensor: SensorConfig, camera: Any) -> str:
    """The camera's band closest to V (551 nm); a mono camera's only band."""
    bands = sensor.bands or (("green",) if getattr(camera, "colour", False) else ("pan",))
    return min(bands, key=lambda b: abs(band_named(b).centre_nm - 551.0))


def _aperture(shape, centre, radius) -> np.ndarray:
    rows, cols = np.indices(shape)
    return np.hypot(cols - centre[0], rows - centre[1]) <= radius


def measure(scenario: Any) -> dict[str, Any]:
    """Render the seed's V-like raw frame and measure each in-frame body's flux and albedo."""
    sensor = SensorConfig.from_dict(scenario.sensor)
    camera = scenario.camera
    geometry = compute_geometry(scenario, 0)
    band = v_like_band(sensor, camera)
    frame: RenderedFrame = render_geometry(
        geometry, camera, sensor, seed=scenario.seed, band=band, base_truth=truth_geometry(scenario, geometry)
    )
    truth = frame.truth
    pixels = frame.pixels.astype(float)
    sigma = sensor.psf_sigma_px or 1.0
    apertures: dict[str, tuple[np.ndarray, tuple[float, float], float]] = {}
    for name in BODIES:
        body = truth["bodies"].get(name)
        if not body or not body["in_frame"]:
            continue
        centre = body.get("photocentre_px") or body["centre_px"]
        radius = body["apparent_radius_px"] + 3.0 * sigma + 2.0
        apertures[name] = (_aperture(pixels.shape, centre, radius), tuple(centre), radius)
    occulted = False
    if len(apertures) == 2:
        earth, moon = truth["bodies"]["earth"], truth["bodies"]["moon"]
        if moon["range_km"] < earth["range_km"]:
            distance = math.dist(earth["centre_px"], moon["centre_px"])
            if distance < earth["apparent_radius_px"] + moon["apparent_radius_px"]:
                occulted = True
                inner = _aperture(pixels.shape, moon["centre_px"], moon["apparent_radius_px"])
                apertures["moon"] = (inner, tuple(moon["centre_px"]), moon["apparent_radius_px"])
                apertures["earth"] = (apertures["earth"][0] & ~inner, *apertures["earth"][1:])
    everything = np.zeros(pixels.shape, dtype=bool)
    for mask, _, _ in apertures.values():
        everything |= mask
    aperture_d = getattr(camera, "aperture_diameter_m", None)
    focal = getattr(camera, "focal_length_m", None)
    area = aperture_area_m2(aperture_d, focal, sensor.f_number)
    exposure = frame.exposure_s
    out: dict[str, Any] = {"band": band, "exposure_s": exposure, "occulted": occulted, "bodies": {}}
    for name, (mask, centre, radius) in apertures.items():
        outer = _aperture(pixels.shape, centre, radius + 12.0) & ~_aperture(
            pixels.shape, centre, radius + 4.0
        )
        outer &= ~everything
        background = float(np.median(pixels[outer])) if outer.any() else float(sensor.bias_dn)
        electrons = float((pixels[mask] - background).sum()) * sensor.gain_e_per_dn
        flux = electrons / (exposure * area * sensor.quantum_efficiency * sensor.optics_transmission)
        body = truth["bodies"][name]
        view = geometry.body(name)
        omega = 2.0 * math.pi * (1.0 - math.cos(view.angular_radius_rad))
        irradiance = band_photon_irradiance(band_named(band), view.sun_distance_km) / math.pi
        p_phi = flux / (irradiance * omega)
        b = band_named(band)
        colour = photometry.band_geometric_albedo(name, b.low_nm, b.high_nm) / (
            photometry.EARTH_GEOMETRIC_ALBEDO_V if name == "earth" else photometry.MOON_GEOMETRIC_ALBEDO_V
        )
        p_v = p_phi / float(photometry.phase_function(name, body["phase_angle_deg"])) / colour
        out["bodies"][name] = {
            "flux": flux,
            "phase_deg": body["phase_angle_deg"],
            "range_km": body["range_km"],
            "sun_distance_km": body["sun_distance_km"],
            "colour": colour,
            "implied_albedo_v": p_v,
        }
    if occulted:
        # The Earth's visible fraction, from noise-free renders with and without the Moon.
        alone = dataclasses.replace(geometry, bodies=tuple(b for b in geometry.bodies if b.name == "earth"))
        solo = render_geometry(alone, camera, sensor, seed=scenario.seed, band=band)
        visible = truth["bodies"]["earth"]["total_expected_e"] / exposure
        full = solo.truth["bodies"]["earth"]["total_expected_e"] / solo.exposure_s
        out["earth_visible_fraction"] = visible / full
        out["bodies"]["earth"]["implied_albedo_v"] /= visible / full
    if len(out["bodies"]) == 2:
        e, m = out["bodies"]["earth"], out["bodies"]["moon"]
        v_e = photometry.apparent_v_magnitude("earth", e["sun_distance_km"], e["range_km"], e["phase_deg"])
        v_m = photometry.apparent_v_magnitude("moon", m["sun_distance_km"], m["range_km"], m["phase_deg"])
        expected = 10.0 ** (-0.4 * (v_e - v_m)) * e["colour"] / m["colour"]
        # Fluxes per band are in photons; the Sun's band irradiance cancels (same band, ~same r).
        expected *= (
            band_photon_irradiance(band_named(band), e["sun_distance_km"])
            / band_photon_irradiance(band_named(band), m["sun_distance_km"])
            / (photometry.AU_KM**2 / e["sun_distance_km"] ** 2)
            * (photometry.AU_KM**2 / m["sun_distance_km"] ** 2)
        )
        expected *= out.get("earth_visible_fraction", 1.0)
        out["measured_ratio"] = e["flux"] / m["flux"]
        out["expected_ratio"] = expected
    return out
