"""Imaging scenarios: one TOML file per real Earth–Moon imaging event, loaded into a :class:`Scenario`.

A seed name such as ``tianwen1-2020-07-27`` resolves to ``seeds/<name>.toml``
in the repository (``$PALEBLUE_SEEDS`` overrides the directory); a path loads
any file. Every problem raises :class:`ScenarioError` with one line naming the
file and the field.

Schema (all tables except ``[sensor]`` and ``[provenance]`` are required)::

    [scenario]   name (= file stem for seeds), title, spacecraft, mission, camera_name, description,
                 image_count = 1, seed = 0 (default noise seed)
    [time]       utc = "2020-07-27T12:00:00Z" (ISO 8601 string or TOML datetime; no zone = UTC),
                 interval_s = 60.0 (between successive images when image_count > 1)
    [probe]      EITHER position_km = [x, y, z] with frame = "icrf-geocentric" | "icrf-heliocentric"
                        | "icrf-moon-centred" | "icrf-mars-centred" | "icrf-mercury-centred"
                 OR     range_km from origin = "earth" | "moon" | "sun" | "mars" | "mercury" (default earth)
                        plus a direction: ra_deg and dec_deg (ICRF, origin → probe)
                        or phase_angle_deg (Sun–origin–probe angle) and out_of_plane_deg (default 0).
                 out_of_plane_deg turns the probe about the origin→Sun line: 0 = in the ecliptic on
                 the side the origin is moving toward (ahead of it in its orbit), 90 = ecliptic north,
                 180 = trailing side, -90 = south.
    [attitude]   mode = "target" with target = "earth" | "moon" | "earth-moon" (boresight between the
                 two, framing both), or mode = "quaternion" with q = [w, x, y, z] (camera → ICRF,
                 scalar first). Optional: up = "celestial-north" (default) | "ecliptic-north" |
                 "earth-moon-horizontal" (image-up hint before roll), roll_deg about the boresight,
                 offset_deg = [dx, dy] (where the target lands, degrees right/down of centre).
    [camera]     see :meth:`emulator.camera.CameraModel.from_config`.
    [sensor]     detector/radiometry facts passed through to the renderer as a dict; keys and
                 types are checked against ``SENSOR_KEYS``.
    [provenance] one entry per fact, keyed by its dotted field name ("time.utc",
                 "camera.fov_deg", "sensor.psf", ...). Each value is a string that begins with
                 "source:" (a public fact, with where it comes from) or "assumed:" (our choice,
                 with the reason); a value partly sourced and partly assumed reads
                 "source: …; assumed: …"; a bare "assumed" is allowed. Keys must name fields
                 present in the file. The seed files give provenance for every field of [time],
                 [probe], [attitude], [camera] and [sensor] (checked by :func:`provenance_gaps`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from emulator import ephemeris
from emulator.camera import CameraConfigError, CameraModel

DEFAULT_SCENARIO = "tianwen1-2020-07-27"
SEEDS_ENV = "PALEBLUE_SEEDS"

ORIGIN_BODIES = ("earth", "moon", "sun", "mars", "mercury")
FRAME_ORIGINS = {
    "icrf-geocentric": "earth",
    "icrf-heliocentric": "sun",
    "icrf-moon-centred": "moon",
    "icrf-mars-centred": "mars",
    "icrf-mercury-centred": "mercury",
}
BODY_RADIUS_KM = ephemeris.EQUATORIAL_RADIUS_KM
TARGETS = ("earth", "moon", "earth-moon")
UP_HINTS = ("celestial-north", "ecliptic-north", "earth-moon-horizontal")
PROVENANCE_TABLES = ("time", "probe", "attitude", "camera", "sensor")

# [sensor] key → (accepted Python types, lower bound, upper bound); None = unbounded.
_NUM = (int, float)
SENSOR_KEYS: dict[str, tuple[tuple[type, ...], float | None, float | None]] = {
    "bit_depth": ((int,), 1, 16),
    "full_well_e": (_NUM, 0, None),
    "read_noise_e": (_NUM, 0, None),
    "dark_current_e_per_s": (_NUM, 0, None),
    "gain_e_per_dn": (_NUM, 0, None),
    "bias_dn": (_NUM, 0, None),
    "quantum_efficiency": (_NUM, 0, 1),
    "prnu": (_NUM, 0, 1),
    "dsnu_e": (_NUM, 0, None),
    "hot_pixel_fraction": (_NUM, 0, 1),
    "cosmic_ray_rate_per_cm2_s": (_NUM, 0, None),
    "psf": ((dict,), None, None),
    "exposure_s": (_NUM, 0, None),
    "exposure": ((str,), None, None),
    "auto_exposure_target": (_NUM, 0, 1),
    "exposure_min_s": (_NUM, 0, None),
    "exposure_max_s": (_NUM, 0, None),
    "band": ((str, list), None, None),  # a band name, or a list of names (colour: one frame each)
    "bands": ((list,), None, None),
    "wavelength_nm": (_NUM, 0, None),
    "f_number": (_NUM, 0, None),
    "optics_transmission": (_NUM, 0, 1),
    "pattern_seed": ((int,), 0, None),
}
# Free-text keys the renderer also tolerates in [sensor].
_SENSOR_TEXT_KEYS = ("name", "model", "description", "notes", "source", "sources", "references")
_PSF_KINDS = {"gaussian": "sigma_px", "airy": "wavelength_nm"}


class ScenarioError(Exception):
    """A scenario that cannot be used; the message is one line: ``<file>: <field>: <reason>``."""

    def __init__(self, source: str | Path, field_name: str, reason: str) -> None:
        message = f"{source}: {field_name}: {reason}" if field_name else f"{source}: {reason}"
        super().__init__(" ".join(message.split()))
        self.source = str(source)
        self.field = field_name


@dataclass(frozen=True)
class ProbeSpec:
    """Where the probe is, as the file states it (resolved against the ephemeris per epoch)."""

    origin: str
    position_km: tuple[float, float, float] | None = None
    range_km: float | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    phase_angle_deg: float | None = None
    out_of_plane_deg: float = 0.0


@dataclass(frozen=True)
class AttitudeSpec:
    """How the camera is pointed."""

    mode: str  # "target" | "quaternion"
    target: str | None = None
    q: tuple[float, float, float, float] | None = None
    up: str = "celestial-north"
    roll_deg: float = 0.0
    offset_deg: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Scenario:
    """One imaging event: when, where the probe is, where it looks, and with what camera."""

    name: str
    title: str
    spacecraft: str
    mission: str
    camera_name: str
    description: str
    epoch_utc: datetime
    probe: ProbeSpec
    attitude: AttitudeSpec
    camera: CameraModel
    image_count: int = 1
    seed: int = 0
    interval_s: float = 60.0
    range_km: float = math.nan  # probe–Earth distance at the first image, filled in by load_scenario
    sensor: dict[str, Any] = field(default_factory=dict, compare=False)
    provenance: dict[str, str] = field(default_factory=dict, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    source_path: Path | None = None

    def epoch_of(self, image_index: int) -> datetime:
        """Capture instant of image ``image_index`` (0-based)."""
        if not 0 <= image_index < self.image_count:
            raise IndexError(f"image_index {image_index} outside 0..{self.image_count - 1}")
        return self.epoch_utc + timedelta(seconds=self.interval_s * image_index)


def seeds_directory() -> Path:
    """Where seed scenarios live: ``$PALEBLUE_SEEDS`` or the repository's ``seeds/``."""
    override = os.environ.get(SEEDS_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "seeds"


def scenario_names() -> list[str]:
    """Names of the seed scenarios, sorted."""
    directory = seeds_directory()
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def list_scenarios() -> list[Scenario]:
    """Every seed scenario, loaded and validated, sorted by name."""
    return [load_scenario(name) for name in scenario_names()]


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a seed by name or a scenario file by path, and check it end to end (including visibility)."""
    by_name = isinstance(name_or_path, str) and not name_or_path.endswith(".toml") and "/" not in name_or_path
    if by_name:
        path = seeds_directory() / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(scenario_names()) or "none"
            raise ScenarioError(name_or_path, "", f"unknown scenario (known: {known})")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(path, "", "no such scenario file")
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "", f"malformed TOML: {exc}") from None
    scenario = _parse(raw, path, expect_name=path.stem if by_name else None)
    return _check_geometry(scenario, path)


# -- parsing ------------------------------------------------------------------------------------


def _parse(raw: dict[str, Any], path: Path, expect_name: str | None) -> Scenario:
    def fail(field_name: str, reason: str) -> ScenarioError:
        return ScenarioError(path, field_name, reason)

    unknown_tables = sorted(
        set(raw) - {"scenario", "time", "probe", "attitude", "camera", "sensor", "provenance", "foreground"}
    )
    if unknown_tables:
        raise fail(unknown_tables[0], "unknown table")
    meta = _table(raw, "scenario", path)
    name = _string(meta, "name", "scenario", path)
    if expect_name is not None and name != expect_name:
        raise fail("scenario.name", f"must match the file name {expect_name!r}")
    texts = {
        k: _string(meta, k, "scenario", path, default="")
        for k in ("title", "spacecraft", "mission", "camera_name", "description")
    }
    image_count = _integer(meta, "image_count", "scenario", path, default=1, minimum=1)
    seed = _integer(meta, "seed", "scenario", path, default=0, minimum=0)

    time_table = _table(raw, "time", path)
    epoch = _epoch(time_table.get("utc"), path)
    interval_s = _float(time_table, "interval_s", "time", path, default=60.0, minimum=0.0)
    last = epoch + timedelta(seconds=interval_s * (image_count - 1))
    if not (ephemeris.in_coverage(epoch) and ephemeris.in_coverage(last)):
        start, end = ephemeris.coverage_utc()
        raise fail(
            "time.utc", f"{epoch.isoformat()} is outside the DE421 ephemeris ({start.date()} to {end.date()})"
        )

    probe = _probe(_table(raw, "probe", path), path)
    attitude = _attitude(_table(raw, "attitude", path), path)
    try:
        camera = CameraModel.from_config(_table(raw, "camera", path), "camera")
    except CameraConfigError as exc:
        raise fail(exc.field, exc.reason) from None
    sensor = _sensor(raw.get("sensor", {}), path)
    provenance = _provenance(raw, path)
    return Scenario(
        name=name,
        epoch_utc=epoch,
        probe=probe,
        attitude=attitude,
        camera=camera,
        image_count=image_count,
        seed=seed,
        interval_s=interval_s,
        sensor=sensor,
        provenance=provenance,
        raw=raw,
        source_path=path,
        **texts,
    )


def _table(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ScenarioError(path, key, "missing table" if value is None else "must be a table")
    return value


def _string(table: dict[str, Any], key: str, where: str, path: Path, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise ScenarioError(path, f"{where}.{key}", "must be a non-empty string")
    return value


def _integer(table: dict[str, Any], key: str, where: str, path: Path, default: int, minimum: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(path, f"{where}.{key}", f"must be an integer ≥ {minimum}, got {value!r}")
    return value


def _float(
    table: dict[str, Any],
    key: str,
    where: str,
    path: Path,
    default: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    value = table.get(key, default)
    if value is None:
        raise ScenarioError(path, f"{where}.{key}", "is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(path, f"{where}.{key}", f"must be a finite number, got {value!r}")
    too_small = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    if too_small:
        relation = "greater than" if strict_minimum else "at least"
        raise ScenarioError(path, f"{where}.{key}", f"must be {relation} {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ScenarioError(path, f"{where}.{key}", f"must be at most {maximum}, got {value!r}")
    return float(value)


def _epoch(value: Any, path: Path) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ScenarioError(path, "time.utc", f"not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise ScenarioError(path, "time.utc", 'required, e.g. "2020-07-27T12:00:00Z"')
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _probe(table: dict[str, Any], path: Path) -> ProbeSpec:
    where = "probe"
    if "position_km" in table:
        for clash in ("range_km", "origin", "ra_deg", "dec_deg", "phase_angle_deg"):
            if clash in table:
                raise ScenarioError(
                    path, f"probe.{clash}", "give either position_km (with frame) or range_km"
                )
        frame = table.get("frame", "icrf-geocentric")
        if frame not in FRAME_ORIGINS:
            raise ScenarioError(
                path, "probe.frame", f"unknown frame {frame!r} (known: {', '.join(FRAME_ORIGINS)})"
            )
        position = table["position_km"]
        if not (
            isinstance(position, list)
            and len(position) == 3
            and all(
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in position
            )
        ):
            raise ScenarioError(path, "probe.position_km", "must be [x, y, z] in km")
        origin = FRAME_ORIGINS[frame]
        if float(np.linalg.norm(position)) <= BODY_RADIUS_KM[origin]:
            raise ScenarioError(path, "probe.position_km", f"lies inside the {origin}")
        return ProbeSpec(origin=origin, position_km=tuple(float(c) for c in position))
    origin = table.get("origin", "earth")
    if origin not in ORIGIN_BODIES:
        raise ScenarioError(
            path, "probe.origin", f"unknown body {origin!r} (known: {', '.join(ORIGIN_BODIES)})"
        )
    range_km = _float(table, "range_km", where, path, minimum=0.0, strict_minimum=True)
    if range_km <= BODY_RADIUS_KM[origin]:
        raise ScenarioError(path, "probe.range_km", f"{range_km} km lies inside the {origin}")
    has_radec = "ra_deg" in table or "dec_deg" in table
    has_phase = "phase_angle_deg" in table
    if has_radec and has_phase:
        raise ScenarioError(path, "probe.phase_angle_deg", "give either ra_deg/dec_deg or phase_angle_deg")
    if has_radec:
        ra = _float(table, "ra_deg", where, path)
        dec = _float(table, "dec_deg", where, path, minimum=-90.0, maximum=90.0)
        return ProbeSpec(origin=origin, range_km=range_km, ra_deg=ra, dec_deg=dec)
    if not has_phase:
        raise ScenarioError(
            path, "probe.phase_angle_deg", "a direction is required (phase_angle_deg or ra_deg/dec_deg)"
        )
    if origin == "sun":
        raise ScenarioError(path, "probe.phase_angle_deg", 'undefined for origin = "sun"; use ra_deg/dec_deg')
    phase = _float(table, "phase_angle_deg", where, path, minimum=0.0, maximum=180.0)
    out_of_plane = _float(table, "out_of_plane_deg", where, path, default=0.0)
    return ProbeSpec(origin=origin, range_km=range_km, phase_angle_deg=phase, out_of_plane_deg=out_of_plane)


def _attitude(table: dict[str, Any], path: Path) -> AttitudeSpec:
    where = "attitude"
    mode = table.get("mode")
    up = table.get("up", "celestial-north")
    if up not in UP_HINTS:
        raise ScenarioError(path, "attitude.up", f"unknown {up!r} (known: {', '.join(UP_HINTS)})")
    roll = _float(table, "roll_deg", where, path, default=0.0)
    offset = table.get("offset_deg", [0.0, 0.0])
    if not (
        isinstance(offset, list)
        and len(offset) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and abs(c) < 89.0 for c in offset)
    ):
        raise ScenarioError(path, "attitude.offset_deg", "must be [dx, dy] in degrees, each below 89")
    offset_t = (float(offset[0]), float(offset[1]))
    if mode == "target":
        target = table.get("target")
        if target not in TARGETS:
            raise ScenarioError(
                path, "attitude.target", f"unknown target {target!r} (known: {', '.join(TARGETS)})"
            )
        if up == "earth-moon-horizontal" and target != "earth-moon":
            raise ScenarioError(path, "attitude.up", 'earth-moon-horizontal needs target = "earth-moon"')
        return AttitudeSpec(mode="target", target=target, up=up, roll_deg=roll, offset_deg=offset_t)
    if mode == "quaternion":
        q = table.get("q")
        if not (
            isinstance(q, list)
            and len(q) == 4
            and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in q)
            and float(np.linalg.norm(q)) > 1e-9
        ):
            raise ScenarioError(path, "attitude.q", "must be [w, x, y, z], a non-zero quaternion")
        norm = float(np.linalg.norm(q))
        return AttitudeSpec(
            mode="quaternion", q=tuple(float(c) / norm for c in q), up=up, roll_deg=roll, offset_deg=offset_t
        )
    raise ScenarioError(path, "attitude.mode", f'must be "target" or "quaternion", got {mode!r}')


def _sensor(table: Any, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ScenarioError(path, "sensor", "must be a table")
    for key, value in table.items():
        if key in _SENSOR_TEXT_KEYS:
            continue
        if key not in SENSOR_KEYS:
            raise ScenarioError(path, f"sensor.{key}", f"unknown key (known: {', '.join(SENSOR_KEYS)})")
        types, low, high = SENSOR_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ScenarioError(path, f"sensor.{key}", f"wrong type {type(value).__name__}")
        out_of_bounds = (low is not None and value < low) or (high is not None and value > high)
        if isinstance(value, int | float) and (not math.isfinite(value) or out_of_bounds):
            raise ScenarioError(path, f"sensor.{key}", f"{value!r} outside [{low}, {high}]")
    if "exposure_s" in table and "exposure" in table:
        raise ScenarioError(path, "sensor.exposure", 'give either exposure_s or exposure = "auto"')
    if "exposure" in table and table["exposure"] != "auto":
        raise ScenarioError(path, "sensor.exposure", 'the only word accepted is "auto"')
    if "exposure_s" in table and table["exposure_s"] <= 0:
        raise ScenarioError(path, "sensor.exposure_s", "must be positive")
    for key in ("band", "bands"):
        names = table.get(key)
        if isinstance(names, list) and not (names and all(isinstance(n, str) for n in names)):
            raise ScenarioError(path, f"sensor.{key}", "must be a band name or a non-empty list of names")
    psf = table.get("psf")
    if psf is not None:
        kind = psf.get("kind")
        if kind not in _PSF_KINDS:
            raise ScenarioError(
                path, "sensor.psf.kind", f"must be one of {', '.join(_PSF_KINDS)}, got {kind!r}"
            )
        needed = _PSF_KINDS[kind]
        value = psf.get(needed)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ScenarioError(
                path, f"sensor.psf.{needed}", f"a positive number is required for kind = {kind!r}"
            )
    return dict(table)


def _provenance(raw: dict[str, Any], path: Path) -> dict[str, str]:
    table = raw.get("provenance", {})
    if not isinstance(table, dict):
        raise ScenarioError(path, "provenance", "must be a table")
    for key, value in table.items():
        if not isinstance(value, str) or value.partition(":")[0].strip() not in ("source", "assumed"):
            raise ScenarioError(
                path, f"provenance.{key}", "must be a string starting with source: or assumed"
            )
        section, _, leaf = key.partition(".")
        if not leaf or not isinstance(raw.get(section), dict) or leaf not in raw[section]:
            raise ScenarioError(path, f"provenance.{key}", "names no field present in this file")
    return dict(table)


def provenance_gaps(scenario: Scenario) -> list[str]:
    """Fields of the physical tables that carry no provenance entry (empty for a complete file)."""
    gaps = []
    for section in PROVENANCE_TABLES:
        for key in scenario.raw.get(section, {}):
            if f"{section}.{key}" not in scenario.provenance:
                gaps.append(f"{section}.{key}")
    return gaps


# -- end-to-end checks that need the ephemeris ---------------------------------------------------


def _check_geometry(scenario: Scenario, path: Path) -> Scenario:
    """Refuse a pointing that sees neither body, or an earth-moon framing the field cannot hold."""
    from emulator.geometry import compute_geometry, framed_bodies, visible_bodies

    attitude = scenario.attitude
    for index in sorted({0, scenario.image_count - 1}):
        geometry = compute_geometry(scenario, index)
        if attitude.target == "earth-moon" and len(framed_bodies(scenario.camera, geometry)) < 2:
            fov_field = "camera.fov_deg" if "fov_deg" in scenario.raw["camera"] else "camera.focal_length_mm"
            if attitude.offset_deg != (0.0, 0.0):
                fov_field = "attitude.offset_deg"
            raise ScenarioError(
                path,
                fov_field,
                f"a {scenario.camera.fov_x_deg:.3g}° x {scenario.camera.fov_y_deg:.3g}° field "
                f"cannot frame both the earth and the moon (image {index})",
            )
        if not visible_bodies(scenario.camera, geometry):
            culprit = "attitude.q" if attitude.mode == "quaternion" else "attitude.offset_deg"
            raise ScenarioError(
                path, culprit, f"the camera sees neither the earth nor the moon (image {index})"
            )
        if index == 0:
            range_km = float(np.linalg.norm(geometry.probe_position_km))
            scenario = dataclasses.replace(scenario, range_km=range_km)
    return scenario
