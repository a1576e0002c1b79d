"""Imaging scenarios: one TOML file per real Earth–Moon imaging event, loaded into a :class:`Scenario`.

A seed name such as ``tianwen1-2020-07-27`` resolves to ``emulator/seeds/<name>.toml``,
package data read with :mod:`importlib.resources` (``$PALEBLUE_SEEDS`` overrides the directory); a path loads
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

Limits, checked at load before anything is rendered (a file that passes cannot make the renderer,
the probe or image transport fail or grow without bound):

- the file: at most ``MAX_FILE_OCTETS``, UTF-8 TOML, tables and lists nested at most
  ``MAX_NESTING`` deep, every string at most ``MAX_TEXT_CHARS`` characters;
- ``scenario.name``: ``[A-Za-z0-9._-]``, 1 to 100 characters, not starting with a dot (it names the
  product files);
- every number: finite and inside its entry of ``RANGES`` (below; the README lists the same table);
  a number under a key the schema does not know is refused;
- memory: width x height at most ``MAX_PIXELS`` (4096 x 4096) per image (the probe renders and
  packetizes images as its link drains them, so their number does not count); the largest image
  product must fit image transport's ``MAX_IMAGE_OCTETS``; the PSF kernel is bounded
  (``RANGES["sensor.psf.sigma_px"]``, an Airy first dark ring within ``AIRY_FIRST_ZERO_PX``); at most
  ``MAX_COSMIC_RAY_HITS`` cosmic-ray hits expected per image at the longest exposure the scenario or
  a TAKE_IMAGE command can set. Measured peaks at the caps: ``paleblue render`` of one 4096 x 4096
  16-bit image 1.03 GB.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from emulator import ephemeris
from emulator.camera import CameraConfigError, CameraModel
from emulator.detector import SensorConfig
from emulator.geometry import compute_geometry, framed_bodies, visible_bodies
from emulator.radiometry import band_named
from emulator.scenario_spec import AttitudeSpec, ProbeSpec, Scenario
from protocols.image.image_transport import MAX_IMAGE_OCTETS

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

# -- limits: declared once; the README's scenario section lists the same table (a test checks it) --
MAX_FILE_OCTETS = 1024 * 1024  # a seed file is under 10 KiB
MAX_NESTING = 4  # root > table > inline table or list > value: [sensor] psf = {...} is 3 deep
MAX_TEXT_CHARS = 4096
MAX_NAME_CHARS = 100
MAX_MESSAGE_CHARS = 300  # an error stays one readable line
NAME_PATTERN = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_NAME_CHARS - 1}}}")
MAX_IMAGE_COUNT = 10_000  # the probe streams them (bounded memory); a cap on the run's length
MAX_PIXELS = 4096 * 4096  # per image; paleblue render peaks at 1.03 GB here (README, Scenarios)
# Images sent as CFDP files (``--delivery cfdp``, ``--link``) are all rendered at start and handed to
# the file sender, so their pixels, over image_count x bands, are bounded (packets stream instead)
MAX_FILE_DELIVERY_PIXELS = 4 * MAX_PIXELS
MAX_COSMIC_RAY_HITS = 10_000  # expected per image; each hit is a short track of at most 100 samples
AIRY_FIRST_ZERO_PX = (0.1, 20.0)  # below 0.1 px the Airy integral needs ever more nodes
COMMANDED_EXPOSURE_MAX_S = 10.0  # TAKE_IMAGE's EXPOSURE_US range in mdb/telecommands.toml


@dataclass(frozen=True)
class Range:
    """The values a numeric field accepts: ``low`` (exclusive when ``low_open``) to ``high``."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        def fmt(x: float) -> str:
            whole = isinstance(x, int) or (x.is_integer() and abs(x) < 1e9)
            return f"{int(x):,}" if whole else f"{x:g}"

        left = "(" if self.low_open else "["
        kind = "integer " if self.integer else ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind}{left}{fmt(self.low)}, {fmt(self.high)}]{unit}"


_ANGLE = Range(-360.0, 360.0, "deg")
_DISTORTION = Range(-100.0, 100.0)
_WAVELENGTH = Range(100.0, 20_000.0, "nm")
_EXPOSURE = Range(0.0, 3600.0, "s", low_open=True)
# Every numeric field of the schema (list fields: every element). A number anywhere else is refused.
RANGES: dict[str, Range] = {
    "scenario.image_count": Range(1, MAX_IMAGE_COUNT, "images", integer=True),
    "scenario.seed": Range(0, 2**64 - 1, integer=True),
    "time.interval_s": Range(0.0, 31_557_600.0, "s"),  # one Julian year
    "probe.position_km": Range(-1e10, 1e10, "km"),
    "probe.range_km": Range(0.0, 1e10, "km", low_open=True),  # 67 au
    "probe.ra_deg": _ANGLE,
    "probe.dec_deg": Range(-90.0, 90.0, "deg"),
    "probe.phase_angle_deg": Range(0.0, 180.0, "deg"),
    "probe.out_of_plane_deg": Range(-180.0, 180.0, "deg"),
    "attitude.q": Range(-1e6, 1e6),
    "foreground.capsule_centre_m": Range(-100.0, 100.0, "m"),
    "foreground.capsule_radius_m": Range(0.0, 100.0, "m", low_open=True),
    "foreground.flag_direction": Range(-1.0, 1.0),
    "foreground.flag_size_m": Range(0.0, 100.0, "m", low_open=True),
    "attitude.roll_deg": _ANGLE,
    "attitude.offset_deg": Range(-89.0, 89.0, "deg"),
    "camera.width_px": Range(1, 65_535, "px", integer=True),  # image headers carry 16-bit sizes
    "camera.height_px": Range(1, 65_535, "px", integer=True),
    "camera.pixel_pitch_um": Range(0.1, 1000.0, "um"),
    "camera.focal_length_mm": Range(0.1, 100_000.0, "mm"),
    "camera.fov_deg": Range(0.0, 170.0, "deg", low_open=True),
    "camera.fov_deg_x": Range(0.0, 170.0, "deg", low_open=True),
    "camera.fov_deg_y": Range(0.0, 170.0, "deg", low_open=True),
    "camera.aperture_mm": Range(0.01, 10_000.0, "mm"),
    "camera.f_number": Range(0.5, 1000.0),
    "camera.principal_point_px": Range(-100_000.0, 100_000.0, "px"),
    **{f"camera.distortion.{k}": _DISTORTION for k in ("k1", "k2", "k3", "p1", "p2")},
    "sensor.bit_depth": Range(1, 16, "bits", integer=True),
    "sensor.full_well_e": Range(0.0, 1e7, "e-", low_open=True),
    "sensor.read_noise_e": Range(0.0, 10_000.0, "e-"),
    "sensor.dark_current_e_per_s": Range(0.0, 1e6, "e-/s"),
    "sensor.gain_e_per_dn": Range(0.0, 1e6, "e-/DN", low_open=True),
    "sensor.bias_dn": Range(0.0, 65_534.0, "DN"),  # and below the ADC's top code
    "sensor.quantum_efficiency": Range(0.0, 1.0, low_open=True),
    "sensor.prnu": Range(0.0, 0.5),
    "sensor.dsnu_e": Range(0.0, 10_000.0, "e-"),
    "sensor.hot_pixel_fraction": Range(0.0, 0.1),
    "sensor.cosmic_ray_rate_per_cm2_s": Range(0.0, 10_000.0, "/cm2/s"),  # and MAX_COSMIC_RAY_HITS
    "sensor.exposure_s": _EXPOSURE,
    "sensor.auto_exposure_target": Range(0.0, 1.0, low_open=True),
    "sensor.exposure_min_s": _EXPOSURE,
    "sensor.exposure_max_s": _EXPOSURE,  # and at least exposure_min_s
    "sensor.wavelength_nm": _WAVELENGTH,
    "sensor.f_number": Range(0.5, 1000.0),
    "sensor.optics_transmission": Range(0.0, 1.0, low_open=True),
    "sensor.pattern_seed": Range(0, 2**64 - 1, integer=True),
    "sensor.psf.sigma_px": Range(0.0, 16.0, "px"),
    "sensor.psf.wavelength_nm": _WAVELENGTH,
}

# Keys of each table besides [camera] (see CameraModel.from_config) and [provenance] (free).
TABLE_KEYS = {
    "scenario": (
        "name",
        "title",
        "spacecraft",
        "mission",
        "camera_name",
        "description",
        "image_count",
        "seed",
    ),
    "time": ("utc", "interval_s"),
    "probe": (
        "position_km",
        "frame",
        "origin",
        "range_km",
        "ra_deg",
        "dec_deg",
        "phase_angle_deg",
        "out_of_plane_deg",
    ),
    "attitude": ("mode", "target", "q", "up", "roll_deg", "offset_deg"),
}
# [sensor] key → accepted Python types (numbers: bounds in RANGES).
_NUM = (int, float)
SENSOR_KEYS: dict[str, tuple[type, ...]] = {
    "bit_depth": (int,),
    "full_well_e": _NUM,
    "read_noise_e": _NUM,
    "dark_current_e_per_s": _NUM,
    "gain_e_per_dn": _NUM,
    "bias_dn": _NUM,
    "quantum_efficiency": _NUM,
    "prnu": _NUM,
    "dsnu_e": _NUM,
    "hot_pixel_fraction": _NUM,
    "cosmic_ray_rate_per_cm2_s": _NUM,
    "psf": (dict,),
    "exposure_s": _NUM,
    "exposure": (str,),
    "auto_exposure_target": _NUM,
    "exposure_min_s": _NUM,
    "exposure_max_s": _NUM,
    "band": (str, list),  # a band name, or a list of names (colour: one frame each)
    "bands": (list,),
    "wavelength_nm": _NUM,
    "f_number": _NUM,
    "optics_transmission": _NUM,
    "pattern_seed": (int,),
}
# Free-text keys the renderer also tolerates in [sensor].
_SENSOR_TEXT_KEYS = ("name", "model", "description", "notes", "source", "sources", "references")
_PSF_KINDS = {"gaussian": "sigma_px", "airy": "wavelength_nm"}


class ScenarioError(Exception):
    """A scenario that cannot be used; the message is one line: ``<file>: <field>: <reason>``."""

    def __init__(self, source: str | Path, field_name: str, reason: str) -> None:
        message = f"{source}: {field_name}: {reason}" if field_name else f"{source}: {reason}"
        message = " ".join(message.split())
        if len(message) > MAX_MESSAGE_CHARS:  # e.g. a parser quoting a 50,000-part key
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        super().__init__(message)
        self.source = str(source)
        self.field = field_name


def seeds_directory() -> Path:
    """Where seed scenarios live: ``$PALEBLUE_SEEDS`` or the package's ``emulator/seeds/``."""
    override = os.environ.get(SEEDS_ENV)
    return Path(override) if override else Path(str(resources.files("emulator") / "seeds"))


def scenario_names() -> list[str]:
    """Names of the seed scenarios, sorted."""
    directory = seeds_directory()
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def list_scenarios() -> list[Scenario]:
    """Every seed scenario, loaded and validated, sorted by name."""
    return [load_scenario(name) for name in scenario_names()]


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a seed by name or a scenario file by path, and check it end to end (including visibility).

    Every problem, whatever the bytes of the file, raises :class:`ScenarioError` (one line naming
    the file and the field); a scenario returned renders within the limits the module states.
    """
    by_name = isinstance(name_or_path, str) and not name_or_path.endswith(".toml") and "/" not in name_or_path
    if by_name:
        path = seeds_directory() / f"{name_or_path}.toml"
        if "\0" in str(name_or_path) or not path.is_file():
            known = ", ".join(scenario_names()) or "none"
            raise ScenarioError(name_or_path, "", f"unknown scenario (known: {known})")
    else:
        path = Path(name_or_path)
        if "\0" in str(path) or not path.is_file():
            raise ScenarioError(path, "", "no such scenario file")
    raw = _read_toml(path)
    _check_values(raw, path)
    scenario = _parse(raw, path, expect_name=path.stem if by_name else None)
    _check_budget(scenario, path)
    return _check_geometry(scenario, path)


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML document; bytes that are not bounded UTF-8 TOML raise ScenarioError."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_OCTETS + 1)
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_OCTETS:
        raise ScenarioError(path, "", f"larger than {MAX_FILE_OCTETS:,} octets; not a scenario file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, "", f"not UTF-8 text (octet {exc.start}); not a scenario file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "", f"malformed TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(path, "", "malformed TOML: nested deeper than Python can parse") from None


def _check_values(raw: dict[str, Any], path: Path) -> None:
    """Nesting depth, string lengths, and every number against ``RANGES`` (iterative: any depth)."""
    pending: list[tuple[str, Any, int]] = [(key, value, 1) for key, value in reversed(raw.items())]
    while pending:
        field_name, value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                raise ScenarioError(path, field_name, f"nested deeper than {MAX_NESTING} levels")
            if isinstance(value, dict):
                pending.extend((f"{field_name}.{k}", v, depth + 1) for k, v in reversed(value.items()))
            else:
                pending.extend((field_name, v, depth + 1) for v in reversed(value))
        elif isinstance(value, str):
            if len(value) > MAX_TEXT_CHARS:
                raise ScenarioError(path, field_name, f"longer than {MAX_TEXT_CHARS} characters")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _check_number(field_name, value, path)


def _check_number(field_name: str, value: float, path: Path) -> None:
    limits = RANGES.get(field_name)
    if limits is None:
        if field_name.startswith("provenance."):
            return  # reported by _provenance: a provenance value must be a string
        raise ScenarioError(path, field_name, "unknown key (a number where the schema has none)")
    if limits.integer and not isinstance(value, int):
        raise ScenarioError(path, field_name, f"must be an integer in {limits.describe()}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(
            path, field_name, f"must be a finite number in {limits.describe()}, got {value!r}"
        )
    if not limits.admits(value):
        shown = (
            f"{value:.6g}" if isinstance(value, float) else (str(value) if abs(value) < 10**30 else "huge")
        )
        raise ScenarioError(path, field_name, f"{shown} outside {limits.describe()}")


def check_file_delivery(scenario: Scenario) -> None:
    """Refuse (:class:`ScenarioError`) a scenario whose images, sent as CFDP files, would not fit
    ``MAX_FILE_DELIVERY_PIXELS`` on board: a colour camera's bands each count as an image."""
    sensor = SensorConfig.from_dict(scenario.sensor)
    pixels = scenario.camera.width * scenario.camera.height
    frames = scenario.image_count * max(len(sensor.bands), 1)
    if pixels * frames > MAX_FILE_DELIVERY_PIXELS:
        bands = f" in {len(sensor.bands)} bands" if len(sensor.bands) > 1 else ""
        raise ScenarioError(
            scenario.name,
            "scenario.image_count",
            f"{scenario.image_count} images{bands} of {pixels:,} pixels sent as CFDP files; at most "
            f"{MAX_FILE_DELIVERY_PIXELS:,} pixels in all (they are rendered at start; image packets stream)",
        )


def _check_budget(scenario: Scenario, path: Path) -> None:
    """What the scenario will cost: refuse one the detector, memory or image transport cannot take."""
    try:
        sensor = SensorConfig.from_dict(scenario.sensor)
    except ValueError as exc:
        where, _, reason = str(exc).partition(": ")
        if not where.startswith("sensor.") or not reason:
            where, reason = "sensor.band" if where == "band" else "sensor", reason or str(exc)
        raise ScenarioError(path, where, reason) from None
    camera = scenario.camera
    pixels = camera.width * camera.height
    size = f"{camera.width} x {camera.height} = {pixels:,} pixels"
    if pixels > MAX_PIXELS:
        raise ScenarioError(
            path, "camera.width_px", f"{size}; at most {MAX_PIXELS:,} (4096 x 4096) per image"
        )
    product_octets = pixels * (1 if sensor.bit_depth <= 8 else 2)
    if product_octets > MAX_IMAGE_OCTETS:
        raise ScenarioError(
            path,
            "camera.width_px",
            f"{size} at {sensor.bit_depth} bits is a {product_octets:,}-octet image; image transport "
            f"carries at most {MAX_IMAGE_OCTETS:,}",
        )
    if sensor.psf_kind == "airy":
        focal, aperture = camera.focal_length_m, camera.aperture_diameter_m
        f_number = focal / aperture if aperture else sensor.f_number
        for band in sensor.bands or ("pan", "green"):
            model = sensor.psf_model(band_named(band).centre_nm, f_number, camera.pixel_pitch_m)
            assert model is not None
            low, high = AIRY_FIRST_ZERO_PX
            if not low <= model.first_zero_px <= high:
                raise ScenarioError(
                    path,
                    "sensor.psf",
                    f"an Airy first dark ring of {model.first_zero_px:.3g} px (band {band}) is outside "
                    f"[{low}, {high}] px",
                )
    longest_s = max(
        sensor.exposure_s if sensor.exposure_s is not None else sensor.exposure_max_s,
        COMMANDED_EXPOSURE_MAX_S,
    )
    area_cm2 = pixels * (camera.pixel_pitch_m * 100.0) ** 2
    hits = sensor.cosmic_ray_rate_per_cm2_s * area_cm2 * longest_s
    if hits > MAX_COSMIC_RAY_HITS:
        raise ScenarioError(
            path,
            "sensor.cosmic_ray_rate_per_cm2_s",
            f"{hits:,.0f} hits expected on {area_cm2:.3g} cm2 in {longest_s:g} s; at most "
            f"{MAX_COSMIC_RAY_HITS:,} per image",
        )


# -- parsing ------------------------------------------------------------------------------------


def _parse(raw: dict[str, Any], path: Path, expect_name: str | None) -> Scenario:
    def fail(field_name: str, reason: str) -> ScenarioError:
        return ScenarioError(path, field_name, reason)

    unknown_tables = sorted(
        set(raw) - {"scenario", "time", "probe", "attitude", "camera", "sensor", "provenance", "foreground"}
    )
    if unknown_tables:
        raise fail(unknown_tables[0], "unknown table")
    for table_name, keys in TABLE_KEYS.items():
        table = raw.get(table_name)
        unknown = sorted(set(table) - set(keys)) if isinstance(table, dict) else []
        if unknown:
            raise fail(f"{table_name}.{unknown[0]}", f"unknown key (known: {', '.join(keys)})")
    meta = _table(raw, "scenario", path)
    name = _string(meta, "name", "scenario", path)
    if not NAME_PATTERN.fullmatch(name):
        raise fail(
            "scenario.name",
            f"{name!r} names the product files: 1 to {MAX_NAME_CHARS} of A-Z a-z 0-9 . _ -, "
            "not starting with a dot",
        )
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
    in_coverage = ephemeris.in_coverage(epoch)  # first: near year 9999 the last image overflows
    if not (in_coverage and ephemeris.in_coverage(epoch + timedelta(seconds=interval_s * (image_count - 1)))):
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
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+23:59 is in year 0 in UTC
        raise ScenarioError(path, "time.utc", f"{value.isoformat()} has no UTC date-time") from None


def _probe(table: dict[str, Any], path: Path) -> ProbeSpec:
    where = "probe"
    if "position_km" in table:
        for clash in ("range_km", "origin", "ra_deg", "dec_deg", "phase_angle_deg"):
            if clash in table:
                raise ScenarioError(
                    path, f"probe.{clash}", "give either position_km (with frame) or range_km"
                )
        frame = table.get("frame", "icrf-geocentric")
        if not isinstance(frame, str) or frame not in FRAME_ORIGINS:
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
            if not isinstance(value, str):
                raise ScenarioError(path, f"sensor.{key}", "free text: must be a string")
            continue
        if key not in SENSOR_KEYS:
            raise ScenarioError(path, f"sensor.{key}", f"unknown key (known: {', '.join(SENSOR_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, SENSOR_KEYS[key]):
            raise ScenarioError(path, f"sensor.{key}", f"wrong type {type(value).__name__}")
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
        if not isinstance(kind, str) or kind not in _PSF_KINDS:
            raise ScenarioError(
                path, "sensor.psf.kind", f"must be one of {', '.join(_PSF_KINDS)}, got {kind!r}"
            )
        unknown = sorted(set(psf) - {"kind", _PSF_KINDS[kind]})
        if unknown:
            raise ScenarioError(path, f"sensor.psf.{unknown[0]}", f"unknown key for kind = {kind!r}")
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
