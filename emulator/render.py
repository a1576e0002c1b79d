"""Public entry point of the optical-navigation sensor model: scenario in, digitised frame out.

Pipeline: geometry (``emulator.geometry``) → ray-cast photon radiance (``scene``) → electrons
per second through the aperture and pixel solid angle (``radiometry``) → optics blur and
unresolved point sources (``psf``) → exposure (fixed or automatic) → detector (``detector``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from emulator import psf as psf_module
from emulator.detector import Effects, SensorConfig, auto_exposure_s, expose
from emulator.radiometry import (
    AU_KM,
    aperture_area_m2,
    band_named,
    band_photon_irradiance,
    electrons_per_photon_radiance,
    pixel_solid_angle_sr,
)
from emulator.scene import Camera, SceneRadiance, ShadingOptions, render_radiance
from emulator.scene_geometry import SceneGeometry
from emulator.textures import cloud_seed_for

SUPERSAMPLE = 4  # sub-pixel rays per axis on limb and terminator pixels


@dataclass
class RenderedFrame:
    """One digitised frame and its ground truth."""

    pixels: np.ndarray  # (H, W) uint16 for bit_depth > 8 else uint8; linear DN at full bit depth
    bit_depth: int
    exposure_s: float
    capture_time_utc: datetime
    truth: dict[str, Any]
    band: str = "pan"
    expected_electrons: np.ndarray | None = field(default=None, repr=False)  # noise-free, after the PSF


def choose_band(sensor: SensorConfig, camera: Camera) -> str:
    """The band that goes down the link: the sensor's first, else pan (green for a colour camera)."""
    if sensor.bands:
        return sensor.bands[0]
    return "green" if getattr(camera, "colour", False) else "pan"


def electron_rate_image(
    geometry: SceneGeometry, camera: Camera, sensor: SensorConfig, effects: Effects, band_name: str
) -> tuple[np.ndarray, SceneRadiance, float, psf_module.PsfModel | None]:
    """Expected electrons per second per pixel after optics blur, plus the scene bookkeeping.

    Returns (rate image, scene, electrons per second per unit photon radiance, PSF model used).
    """
    band = band_named(band_name)
    options = ShadingOptions(
        band,
        effects.albedo_maps,
        effects.clouds,
        effects.atmosphere,
        SUPERSAMPLE,
        cloud_seed_for(geometry.epoch_utc),
    )
    scene = render_radiance(geometry, camera, options)
    aperture_d = getattr(camera, "aperture_diameter_m", None)
    focal = getattr(camera, "focal_length_m", None)
    f_number = focal / aperture_d if aperture_d and focal else sensor.f_number
    per_radiance = electrons_per_photon_radiance(
        aperture_area_m2(aperture_d, focal, sensor.f_number),
        pixel_solid_angle_sr(camera.fx, camera.fy),
        1.0,
        sensor.quantum_efficiency,
        sensor.optics_transmission,
    )
    rate = scene.radiance * per_radiance
    model = (
        sensor.psf_model(band.centre_nm, f_number, getattr(camera, "pixel_pitch_m", None))
        if effects.psf
        else None
    )
    if model is not None:
        kernel = psf_module.psf_kernel(model)
        psf_module.convolve_regions(rate, kernel, [b.bbox for b in scene.bodies if b.bbox is not None])
    for source in scene.point_sources:
        psf_module.add_point_source(rate, source.u, source.v, source.flux_radiance_px * per_radiance, model)
    return rate, scene, per_radiance, model


def render_geometry(
    geometry: SceneGeometry,
    camera: Camera,
    sensor: SensorConfig,
    *,
    seed: int = 0,
    effects: Effects | None = None,
    image_index: int = 0,
    band: str | None = None,
    base_truth: dict[str, Any] | None = None,
    foreground: Any = None,
) -> RenderedFrame:
    """Render one frame from a ready geometry and camera (what ``render_scenario`` calls).

    ``foreground`` (an ``emulator.foreground.Foreground``) puts opaque hardware in front of the sky.
    """
    effects = effects or Effects.all()
    band_name = band_named(band).name if band else choose_band(sensor, camera)
    rate, scene, per_radiance, model = electron_rate_image(geometry, camera, sensor, effects, band_name)
    band_info = band_named(band_name)
    covered = None
    if foreground is not None:
        from emulator.foreground import render_foreground

        covered, fg_radiance = render_foreground(
            foreground, camera, geometry.sun_dir_cam, _probe_sun_distance_km(geometry), band_info
        )
        rate[covered] = fg_radiance[covered] * per_radiance
    peak_rate = float(rate.max(initial=0.0))  # metered on the bodies (and foreground), before the stars
    sun_km = float(geometry.bodies[0].sun_distance_km) if geometry.bodies else AU_KM
    exposure = sensor.exposure_s if sensor.exposure_s is not None else auto_exposure_s(peak_rate, sensor)
    star_truth = (
        _add_stars(rate, geometry, camera, sensor, band_info, model, exposure, covered)
        if effects.stars
        else []
    )
    expected = rate * exposure
    result = expose(
        expected, sensor, effects, exposure, seed, image_index, getattr(camera, "pixel_pitch_m", None)
    )
    truth = dict(base_truth or {})
    truth["bodies"] = _body_truth(truth.get("bodies", {}), scene, expected, per_radiance * exposure, sensor)
    truth["sensor"] = {
        "band": band_name,
        "band_nm": [band_named(band_name).low_nm, band_named(band_name).high_nm],
        "bit_depth": sensor.bit_depth,
        "exposure_s": exposure,
        "exposure_mode": "fixed" if sensor.exposure_s is not None else "auto",
        "gain_e_per_dn": sensor.gain_e_per_dn,
        "bias_dn": sensor.bias_dn,
        "full_well_e": sensor.full_well_e,
        "psf": None
        if model is None
        else {"kind": model.kind, "sigma_px": model.sigma_px, "first_zero_px": model.first_zero_px},
        "peak_expected_e": float(expected.max(initial=0.0)),
        # Electrons a pixel collects from a surface of radiance factor I/F = 1 (at the first
        # body's distance from the Sun): divides bias-free DN·gain into reflectance units.
        "electrons_per_unit_radiance_factor": per_radiance
        * exposure
        * band_photon_irradiance(band_info, sun_km)
        / math.pi,
        "saturated_pixels": result.saturated_pixels,
        "cosmic_ray_hits": result.cosmic_ray_hits,
    }
    truth["stars"] = star_truth
    if covered is not None:
        truth["foreground"] = {
            "kind": "capsule-and-flag",
            "covered_fraction": float(covered.mean()),
            "peak_expected_e": float(expected[covered].max(initial=0.0)),
        }
    truth["effects"] = effects.as_dict()
    truth["seed"] = int(seed)
    truth["image_index"] = int(image_index)
    return RenderedFrame(
        pixels=result.pixels,
        bit_depth=sensor.bit_depth,
        exposure_s=exposure,
        capture_time_utc=geometry.epoch_utc,
        truth=truth,
        band=band_name,
        expected_electrons=expected.astype(np.float32),
    )


def _probe_sun_distance_km(geometry: SceneGeometry) -> float:
    from emulator import ephemeris

    jd = ephemeris.jd_tdb(geometry.epoch_utc)
    helio = (
        ephemeris.position_ssb("earth", jd)
        + np.asarray(geometry.probe_position_km, dtype=float)
        - ephemeris.position_ssb("sun", jd)
    )
    return float(np.linalg.norm(helio))


def _foreground_of(scenario: Any) -> Any:
    table = getattr(scenario, "raw", {}).get("foreground")
    if not table:
        return None
    from emulator.foreground import Foreground

    return Foreground.from_dict(table)


def _add_stars(
    rate: np.ndarray,
    geometry: SceneGeometry,
    camera: Camera,
    sensor: SensorConfig,
    band: Any,
    model: psf_module.PsfModel | None,
    exposure: float,
    covered: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Deposit the catalogue stars in ``rate`` (electrons/s) and return their truth entries.

    Stars behind a foreground model (``covered``) are hidden and not listed."""
    from emulator.stars import stars_in_frame

    area = aperture_area_m2(
        getattr(camera, "aperture_diameter_m", None), getattr(camera, "focal_length_m", None), sensor.f_number
    )
    per_flux = area * sensor.quantum_efficiency * sensor.optics_transmission
    # Detectable: the brightest pixel, at the worst sub-pixel phase (source on a pixel corner),
    # reaches 6 sigma of the pixel noise floor (read, quantisation, DSNU, dark).  Reported, not a cut.
    sigma_psf = model.sigma_px if model is not None and model.sigma_px else 0.5
    corner_fraction = (0.5 * math.erf(1.0 / (sigma_psf * math.sqrt(2.0)))) ** 2
    floor_e = math.sqrt(
        sensor.read_noise_e**2
        + sensor.gain_e_per_dn**2 / 12.0
        + sensor.dsnu_e**2
        + sensor.dark_current_e_per_s * exposure
    )
    detection_e = 6.0 * floor_e / corner_fraction
    out = []
    deposits: tuple[list[float], list[float], list[float]] = ([], [], [])
    for star in stars_in_frame(
        camera, geometry.cam_to_icrf, geometry.epoch_utc, geometry.probe_position_km, band
    ):
        r, c = round(star.v), round(star.u)
        if covered is not None and 0 <= r < covered.shape[0] and 0 <= c < covered.shape[1] and covered[r, c]:
            continue
        electrons_per_s = star.flux_photons_m2_s * per_flux
        deposits[0].append(star.u)
        deposits[1].append(star.v)
        deposits[2].append(electrons_per_s)
        expected_e = electrons_per_s * exposure
        out.append(
            {
                "hip": star.hip,
                "v_mag": star.v_mag,
                "ra_deg": star.ra_deg,
                "dec_deg": star.dec_deg,
                "pixel": [star.u, star.v],
                "expected_e": expected_e,
                "detectable": bool(expected_e >= detection_e),
            }
        )
    psf_module.add_point_sources(rate, *deposits, model)  # in catalogue order, as one by one
    out.sort(key=lambda entry: entry["v_mag"])
    return out


def _body_truth(
    base: dict[str, Any],
    scene: SceneRadiance,
    expected: np.ndarray,
    electrons_per_radiance_px: float,
    sensor: SensorConfig,
) -> dict[str, Any]:
    """Merge the renderer's per-body signal levels into the geometric truth."""
    out = {name: dict(values) for name, values in base.items()}
    for index, body in enumerate(scene.bodies):
        entry = out.setdefault(body.name, {})
        disc_area = math.pi * body.apparent_radius_px**2
        total_e = body.flux_radiance_px * electrons_per_radiance_px
        if body.resolved and body.bbox is not None:
            r0, r1, c0, c1 = body.bbox
            mine = scene.body_label[r0:r1, c0:c1] == index
            window = expected[r0:r1, c0:c1]
            peak_e = float(window[mine].max(initial=0.0)) if mine.any() else 0.0
        elif body.photocentre_px is not None:
            u, v = body.photocentre_px
            r, c = round(v), round(u)
            inside = 0 <= r < expected.shape[0] and 0 <= c < expected.shape[1]
            peak_e = (
                float(expected[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3].max(initial=0.0))
                if inside
                else 0.0
            )
        else:
            peak_e = 0.0
        entry.update(
            {
                "rendered_as": "disc" if body.resolved else "point source",
                "in_frame": bool(entry.get("in_frame", body.in_frame)),
                "lit_fraction_rendered": body.lit_area_px / disc_area if disc_area > 0 else 0.0,
                "peak_expected_e": peak_e,
                "peak_expected_dn": peak_e / sensor.gain_e_per_dn,
                "total_expected_e": total_e,
                "total_expected_dn": total_e / sensor.gain_e_per_dn,
            }
        )
        if body.photocentre_px is not None:
            entry["photocentre_px"] = [body.photocentre_px[0], body.photocentre_px[1]]
        entry.setdefault("centre_px", list(body.projected_centre_px))
        entry.setdefault("apparent_radius_px", body.apparent_radius_px)
    return out


def render_scenario(
    scenario: Any, *, seed: int | None = None, effects: Effects | None = None, image_index: int = 0
) -> RenderedFrame:
    """Render image ``image_index`` of ``scenario`` in its first (or default) band."""
    from emulator.geometry import compute_geometry, truth_geometry

    sensor = SensorConfig.from_dict(getattr(scenario, "sensor", {}))
    geometry = compute_geometry(scenario, image_index)
    frame_seed = int(scenario.seed if seed is None else seed)
    return render_geometry(
        geometry,
        scenario.camera,
        sensor,
        seed=frame_seed,
        effects=effects,
        image_index=image_index,
        base_truth=truth_geometry(scenario, geometry),
        foreground=_foreground_of(scenario),
    )


BAND_SEED_STRIDE = 7919  # band k of a capture draws its noise from seed + k·stride (k = 0: the seed)


def capture_bands(scenario: Any) -> tuple[str, ...]:
    """The bands one capture of ``scenario`` holds, in the order :func:`render_bands` renders them
    (one for a panchromatic camera): the probe downlinks one image per band."""
    sensor = SensorConfig.from_dict(getattr(scenario, "sensor", {}))
    return sensor.bands or (choose_band(sensor, scenario.camera),)


def render_bands(
    scenario: Any,
    *,
    seed: int | None = None,
    effects: Effects | None = None,
    image_index: int = 0,
    capture_id: str | None = None,
) -> dict[str, RenderedFrame]:
    """One frame per band the sensor lists (colour cameras): one capture, same geometry.

    Each band is exposed on its own (automatic exposure per band) with its own noise
    (band k uses seed + k·``BAND_SEED_STRIDE``; band 0 is exactly ``render_scenario``'s frame).
    Every frame's truth carries ``capture``: the capture id shared by the bands (``capture_id``,
    by default ``<scenario>-capture-<image_index + 1>``), the band's index and the full band
    list, which is how the ground regroups bands that travel as separate images (README, image
    transport).
    """
    from emulator.geometry import compute_geometry, truth_geometry

    sensor = SensorConfig.from_dict(getattr(scenario, "sensor", {}))
    geometry = compute_geometry(scenario, image_index)
    frame_seed = int(scenario.seed if seed is None else seed)
    bands = capture_bands(scenario)
    if capture_id is None:
        capture_id = f"{scenario.name}-capture-{image_index + 1:03d}"
    foreground = _foreground_of(scenario)
    frames = {}
    for k, name in enumerate(bands):
        base = truth_geometry(scenario, geometry)
        base["capture"] = {
            "capture_id": capture_id,
            "band_index": k,
            "bands": list(bands),
        }
        frames[name] = render_geometry(
            geometry,
            scenario.camera,
            sensor,
            seed=frame_seed + k * BAND_SEED_STRIDE,
            effects=effects,
            image_index=image_index,
            band=name,
            base_truth=base,
            foreground=foreground,
        )
    return frames
