"""The detector: sensor parameters, switchable effects, and expected electrons → digital numbers.

``SensorConfig.from_dict`` parses a scenario's ``[sensor]`` table.  Keys and defaults:

=============================  ===========  ==============================================
key                            default      meaning
=============================  ===========  ==============================================
bit_depth                      12           ADC bits, 1..16
full_well_e                    20000        pixel capacity, electrons
read_noise_e                   5.0          rms read noise, electrons
dark_current_e_per_s           1.0          mean dark current, electrons/s/pixel
gain_e_per_dn                  derived      electrons per DN; default puts full well at the ADC top
bias_dn                        2^bits/64    ADC offset, DN
quantum_efficiency             0.6          band-averaged QE (flat over the band)
prnu                           0.01         photo-response non-uniformity, rms fraction
dsnu_e                         2.0          dark-signal non-uniformity: rms fixed offset per pixel, e-
hot_pixel_fraction             1e-4         fraction of pixels with ~300x dark current
cosmic_ray_rate_per_cm2_s      4.0          particle hits (interplanetary GCR at solar minimum)
psf                            gaussian 0.7 {kind="gaussian", sigma_px} or {kind="airy", wavelength_nm}
exposure_s / exposure="auto"   "auto"       fixed exposure, or automatic exposure
auto_exposure_target           0.7          brightest expected pixel as a fraction of full well
exposure_min_s, exposure_max_s 1e-5, 10     automatic-exposure limits
band                           see right    band name or list of names (first is rendered by default);
                                            unset: "pan", or "green" for a colour camera
wavelength_nm                  band centre  wavelength for the Airy PSF
f_number                       4.0          used only when the camera has no aperture diameter
optics_transmission            0.8          lenses and filter
pattern_seed                   from table   seed of this sensor's fixed patterns (PRNU, DSNU, hot)
=============================  ===========  ==============================================

Every effect can be switched off on its own (``Effects``), and every random draw comes
from its own ``Generator(PCG64)`` stream keyed by (seed, image index, effect), so turning
one effect off leaves the others' realisations unchanged.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from emulator.psf import PsfModel
from emulator.radiometry import DEFAULT_F_NUMBER, DEFAULT_OPTICS_TRANSMISSION, band_named

HOT_PIXEL_DARK_FACTOR = 300.0  # median hot-pixel dark current, in units of the nominal dark current
HOT_PIXEL_MIN_E_PER_S = 50.0
COSMIC_RAY_E_PER_UM = 80.0  # electron-hole pairs per µm of silicon for a minimum-ionising particle
COSMIC_RAY_DEPTH_UM = 10.0  # sensitive depth
# Renard R10 ladder: automatic exposure picks the longest step not above the ideal time.
_EXPOSURE_LADDER = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)
_INFORMATIONAL_KEYS = {"name", "model", "description", "notes", "source", "sources", "references"}

_STREAMS = {"shot": 1, "dark": 2, "read": 3, "cosmic": 4, "hot": 5, "prnu": 11, "dsnu": 12, "hot_map": 13}


def _stream(entropy: int, *key: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([entropy & 0xFFFF_FFFF_FFFF_FFFF, *key]))
    )


_SMALL_POISSON_MAX_LAM = 0.02  # below this, dark-charge draws take the vectorised path


def poisson_small(rng: np.random.Generator, lam: float, shape: tuple[int, ...]) -> np.ndarray:
    """``rng.poisson(lam, shape)`` for a small scalar ``lam``, the same numbers, vectorised.

    numpy draws a Poisson variate of mean below 10 by multiplying uniforms ``U`` (its
    ``random()`` doubles) until the product falls to exp(−lam) or below; X is the number of
    factors before that.  Every uniform at or below exp(−lam) therefore ends a variate; a run
    of k uniforms above it before such a one is one variate X = 1 when k = 1, and is walked
    factor by factor, as numpy does, when k ≥ 2 (rare for a small mean); every other variate
    is 0.  The stream is read past what numpy would read; nothing else draws from it.
    """
    if not 0.0 < lam <= _SMALL_POISSON_MAX_LAM:
        return rng.poisson(lam, shape)
    n = math.prod(shape)
    enlam = math.exp(-lam)
    spare = int(n * (1.0 - enlam) * 3.0) + 64
    uniforms = rng.random(n + spare)
    highs = np.flatnonzero(uniforms > enlam)
    while uniforms.size - highs.size < n:  # fewer than n lows: fewer than n complete variates
        uniforms = np.concatenate([uniforms, rng.random(spare)])
        highs = np.flatnonzero(uniforms > enlam)
    out = np.zeros(n, dtype=np.int64)
    if highs.size == 0:
        return out.reshape(shape)
    first = np.ones(highs.size, dtype=bool)
    first[1:] = highs[1:] != highs[:-1] + 1
    run_index = np.flatnonzero(first)  # index into highs of each run's first high
    run_length = np.diff(np.append(run_index, highs.size))
    low_at = highs[run_index] + run_length  # the uniform that ends the run's last variate
    complete = low_at < uniforms.size
    run_index, run_length, low_at = run_index[complete], run_length[complete], low_at[complete]
    count = np.ones(run_length.size, dtype=np.int64)  # variates each run holds
    walked = {}
    for r in np.flatnonzero(run_length >= 2).tolist():
        start = int(highs[run_index[r]])
        walked[r] = _walk(uniforms[start : int(low_at[r]) + 1].tolist(), enlam)
        count[r] = len(walked[r])
    extra_before = np.cumsum(count - 1) - (count - 1)
    # Index of the variate that ends at the run's low: lows before it, plus the extra
    # variates that ended on a high (long runs) up to and including this run.
    last = low_at - (run_index + run_length) + extra_before + count - 1
    single = (run_length == 1) & (last < n)
    out[last[single]] = 1
    for r, values in walked.items():
        end = int(last[r])
        for k, value in enumerate(values):
            index = end - (len(values) - 1) + k
            if index < n:
                out[index] = value
    return out.reshape(shape)


def _walk(uniforms: list[float], enlam: float) -> list[int]:
    """numpy's multiplication method over a run of uniforms ending at or below ``enlam``."""
    values, x, product = [], 0, 1.0
    for u in uniforms:
        product *= u
        if product > enlam:
            x += 1
        else:
            values.append(x)
            x, product = 0, 1.0
    return values


@dataclass(frozen=True)
class Effects:
    """Which scene and detector effects are on.  ``Effects.none()`` is the ideal geometric image."""

    albedo_maps: bool = True
    clouds: bool = True
    atmosphere: bool = True
    psf: bool = True
    shot_noise: bool = True
    dark_current: bool = True
    read_noise: bool = True
    bias: bool = True
    prnu: bool = True
    dsnu: bool = True
    hot_pixels: bool = True
    cosmic_rays: bool = True
    saturation: bool = True
    stars: bool = True  # Hipparcos background stars (emulator.stars)

    @classmethod
    def all(cls) -> Effects:
        return cls()

    @classmethod
    def none(cls) -> Effects:
        return cls(**{f.name: False for f in fields(cls)})

    def with_only(self, **switches: bool) -> Effects:
        """A copy with the named switches changed."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in switches.items():
            if name not in values:
                raise ValueError(f"unknown effect {name!r}")
            values[name] = value
        return Effects(**values)

    def as_dict(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(
    d: dict[str, Any],
    key: str,
    default: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"sensor.{key}: expected a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"sensor.{key}: must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"sensor.{key}: must be <= {high}, got {value}")
    return value


@dataclass(frozen=True)
class SensorConfig:
    """Parsed, validated sensor parameters (see the module docstring for keys and defaults)."""

    bit_depth: int = 12
    full_well_e: float = 20_000.0
    read_noise_e: float = 5.0
    dark_current_e_per_s: float = 1.0
    gain_e_per_dn: float = 20_000.0 / (4095 - 64)
    bias_dn: float = 64.0
    quantum_efficiency: float = 0.6
    prnu: float = 0.01
    dsnu_e: float = 2.0
    hot_pixel_fraction: float = 1e-4
    cosmic_ray_rate_per_cm2_s: float = 4.0
    psf_kind: str = "gaussian"
    psf_sigma_px: float = 0.7
    psf_wavelength_nm: float | None = None
    exposure_s: float | None = None  # None = automatic
    auto_exposure_target: float = 0.7
    exposure_min_s: float = 1e-5
    exposure_max_s: float = 10.0
    bands: tuple[str, ...] = ()  # empty: the renderer picks (pan, or green for a colour camera)
    f_number: float = DEFAULT_F_NUMBER
    optics_transmission: float = DEFAULT_OPTICS_TRANSMISSION
    pattern_seed: int = 0

    @property
    def max_dn(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint16 if self.bit_depth > 8 else np.uint8

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SensorConfig:
        """Parse a ``[sensor]`` table; any bad value raises ValueError naming the key."""
        d = dict(d or {})
        known = {
            "bit_depth",
            "full_well_e",
            "read_noise_e",
            "dark_current_e_per_s",
            "gain_e_per_dn",
            "bias_dn",
            "quantum_efficiency",
            "prnu",
            "dsnu_e",
            "hot_pixel_fraction",
            "cosmic_ray_rate_per_cm2_s",
            "psf",
            "exposure_s",
            "exposure",
            "auto_exposure_target",
            "exposure_min_s",
            "exposure_max_s",
            "band",
            "wavelength_nm",
            "f_number",
            "optics_transmission",
            "pattern_seed",
            "bands",
        }
        for key in d:
            if key not in known and key not in _INFORMATIONAL_KEYS:
                raise ValueError(f"sensor.{key}: unknown sensor key")
        bits = d.get("bit_depth", 12)
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise ValueError(f"sensor.bit_depth: must be an integer 1..16, got {bits!r}")
        max_dn = (1 << bits) - 1
        full_well = _number(d, "full_well_e", 20_000.0, 0.0, low_open=True)
        bias = _number(d, "bias_dn", float(max(1, round((max_dn + 1) / 64))), 0.0, max_dn - 1)
        gain = _number(d, "gain_e_per_dn", full_well / (max_dn - bias), 0.0, low_open=True)

        exposure: float | None = None
        if "exposure_s" in d and "exposure" in d and d["exposure"] != "auto":
            raise ValueError("sensor.exposure: give either exposure_s or exposure, not both")
        raw_exposure = d.get("exposure_s", d.get("exposure", "auto"))
        if raw_exposure != "auto":
            key = "exposure_s" if "exposure_s" in d else "exposure"
            exposure = _number({key: raw_exposure}, key, 0.0, 0.0, low_open=True)

        psf = d.get("psf", {"kind": "gaussian", "sigma_px": 0.7})
        if not isinstance(psf, dict):
            raise ValueError(
                f"sensor.psf: expected a table like {{kind='gaussian', sigma_px=0.7}}, got {psf!r}"
            )
        kind = psf.get("kind", "gaussian")
        if kind not in ("gaussian", "airy"):
            raise ValueError(f"sensor.psf.kind: unknown PSF kind {kind!r} (use 'gaussian' or 'airy')")
        sigma = _number(psf, "sigma_px", 0.7, 0.0) if kind == "gaussian" else 0.0
        psf_wavelength = psf.get("wavelength_nm", d.get("wavelength_nm"))
        if psf_wavelength is not None:
            psf_wavelength = _number(
                {"wavelength_nm": psf_wavelength}, "wavelength_nm", 0.0, 0.0, low_open=True
            )

        band = d.get("band", d.get("bands", ()))
        bands = (band,) if isinstance(band, str) else tuple(band) if isinstance(band, list | tuple) else None
        if bands is None or not all(isinstance(b, str) for b in bands):
            raise ValueError(f"sensor.band: expected a band name or a list of names, got {band!r}")
        for name in bands:
            band_named(name)

        exposure_min = _number(d, "exposure_min_s", 1e-5, 0.0, low_open=True)
        exposure_max = _number(d, "exposure_max_s", 10.0, exposure_min)
        pattern_seed = d.get("pattern_seed")
        if pattern_seed is None:
            pattern_seed = zlib.crc32(json.dumps(d, sort_keys=True, default=str).encode())
        elif isinstance(pattern_seed, bool) or not isinstance(pattern_seed, int) or pattern_seed < 0:
            raise ValueError(f"sensor.pattern_seed: expected a non-negative integer, got {pattern_seed!r}")
        return cls(
            bit_depth=bits,
            full_well_e=full_well,
            read_noise_e=_number(d, "read_noise_e", 5.0, 0.0),
            dark_current_e_per_s=_number(d, "dark_current_e_per_s", 1.0, 0.0),
            gain_e_per_dn=gain,
            bias_dn=bias,
            quantum_efficiency=_number(d, "quantum_efficiency", 0.6, 0.0, 1.0, low_open=True),
            prnu=_number(d, "prnu", 0.01, 0.0, 0.5),
            dsnu_e=_number(d, "dsnu_e", 2.0, 0.0),
            hot_pixel_fraction=_number(d, "hot_pixel_fraction", 1e-4, 0.0, 1.0),
            cosmic_ray_rate_per_cm2_s=_number(d, "cosmic_ray_rate_per_cm2_s", 4.0, 0.0),
            psf_kind=kind,
            psf_sigma_px=sigma,
            psf_wavelength_nm=psf_wavelength,
            exposure_s=exposure,
            auto_exposure_target=_number(d, "auto_exposure_target", 0.7, 0.0, 1.0, low_open=True),
            exposure_min_s=exposure_min,
            exposure_max_s=exposure_max,
            bands=tuple(band_named(b).name for b in bands),
            f_number=_number(d, "f_number", DEFAULT_F_NUMBER, 0.0, low_open=True),
            optics_transmission=_number(
                d, "optics_transmission", DEFAULT_OPTICS_TRANSMISSION, 0.0, 1.0, low_open=True
            ),
            pattern_seed=int(pattern_seed),
        )

    def psf_model(
        self, band_centre_nm: float, f_number: float, pixel_pitch_m: float | None
    ) -> PsfModel | None:
        """The PSF in pixels; an Airy PSF needs the optics' f-number and the pixel pitch."""
        if self.psf_kind == "gaussian":
            return PsfModel("gaussian", sigma_px=self.psf_sigma_px)
        if pixel_pitch_m is None:
            raise ValueError("sensor.psf: an Airy PSF needs the camera's pixel_pitch_m")
        return PsfModel.airy(self.psf_wavelength_nm or band_centre_nm, f_number, pixel_pitch_m)


def auto_exposure_s(peak_rate_e_per_s: float, config: SensorConfig) -> float:
    """Longest R10-ladder exposure that keeps the brightest expected pixel at or below the target."""
    if peak_rate_e_per_s <= 0.0:
        return config.exposure_max_s
    ideal = config.auto_exposure_target * config.full_well_e / peak_rate_e_per_s
    ideal = min(max(ideal, config.exposure_min_s), config.exposure_max_s)
    decade = math.floor(math.log10(ideal))
    candidates = [step * 10.0**decade for step in _EXPOSURE_LADDER] + [10.0 ** (decade + 1)]
    chosen = max([c for c in candidates if c <= ideal * (1 + 1e-12)], default=10.0**decade)
    return float(min(max(chosen, config.exposure_min_s), config.exposure_max_s))


@lru_cache(maxsize=8)
def fixed_patterns(
    pattern_seed: int, shape: tuple[int, int], config_key: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(PRNU gain map, DSNU offsets e-, hot-pixel flat indices, hot-pixel dark rates e-/s), per sensor."""
    prnu, dsnu, hot_fraction = config_key
    gain = 1.0 + prnu * _stream(pattern_seed, _STREAMS["prnu"]).standard_normal(shape, dtype=np.float32)
    offsets = dsnu * _stream(pattern_seed, _STREAMS["dsnu"]).standard_normal(shape, dtype=np.float32)
    rng = _stream(pattern_seed, _STREAMS["hot_map"])
    count = round(hot_fraction * shape[0] * shape[1])
    where = (
        rng.choice(shape[0] * shape[1], size=count, replace=False) if count else np.zeros(0, dtype=np.intp)
    )
    rates = rng.lognormal(mean=0.0, sigma=0.7, size=count)
    for array in (gain, offsets, where, rates):
        array.setflags(write=False)
    return gain, offsets, np.sort(where), rates


def cosmic_ray_electrons(
    shape: tuple[int, int],
    exposure_s: float,
    rate_per_cm2_s: float,
    pixel_pitch_m: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Charge from particle hits: (rows, cols, electrons, hits); track length follows the incidence angle."""
    area_cm2 = shape[0] * shape[1] * (pixel_pitch_m * 100.0) ** 2
    hits = int(rng.poisson(rate_per_cm2_s * area_cm2 * exposure_s))
    if hits == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0), 0
    pitch_um = pixel_pitch_m * 1e6
    cos_theta = np.sqrt(rng.random(hits))  # isotropic flux through a plane: cosine-weighted
    tan_theta = np.sqrt(np.maximum(1.0 - cos_theta**2, 0.0)) / np.maximum(cos_theta, 0.05)
    length_px = np.minimum(COSMIC_RAY_DEPTH_UM * tan_theta / pitch_um, 50.0)
    azimuth = rng.random(hits) * 2.0 * np.pi
    start_r = rng.random(hits) * shape[0]
    start_c = rng.random(hits) * shape[1]
    path_um = COSMIC_RAY_DEPTH_UM / np.maximum(cos_theta, 0.05)
    charge = COSMIC_RAY_E_PER_UM * path_um * rng.lognormal(0.0, 0.3, hits)  # Landau-like spread
    rows, cols, electrons = [], [], []
    for i in range(hits):
        steps = max(1, math.ceil(length_px[i] * 2))
        s = (np.arange(steps) + 0.5) / steps * length_px[i]
        r = np.floor(start_r[i] + s * np.sin(azimuth[i])).astype(np.intp)
        c = np.floor(start_c[i] + s * np.cos(azimuth[i])).astype(np.intp)
        rows.append(r)
        cols.append(c)
        electrons.append(np.full(steps, charge[i] / steps))
    r, c, e = np.concatenate(rows), np.concatenate(cols), np.concatenate(electrons)
    keep = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    return r[keep], c[keep], e[keep], hits


@dataclass
class ExposureResult:
    """Digitised frame plus what went into it."""

    pixels: np.ndarray
    cosmic_ray_hits: int
    saturated_pixels: int


def expose(
    expected_e: np.ndarray,
    config: SensorConfig,
    effects: Effects,
    exposure_s: float,
    seed: int,
    image_index: int = 0,
    pixel_pitch_m: float | None = None,
) -> ExposureResult:
    """Turn expected photo-electrons per pixel into a digitised frame (DN, linear, full bit depth).

    Order: PRNU → photon shot noise → dark charge (+ hot pixels) → cosmic rays → full-well
    clip → DSNU offsets → read noise → gain, bias, ADC rounding and clipping.
    """
    shape = expected_e.shape
    gain_map, dsnu_map, hot_where, hot_rates = fixed_patterns(
        config.pattern_seed, shape, (config.prnu, config.dsnu_e, config.hot_pixel_fraction)
    )
    electrons = expected_e.astype(np.float32, copy=True)
    if effects.prnu and config.prnu > 0.0:
        electrons *= gain_map
    if effects.shot_noise:
        lit = np.flatnonzero(electrons > 0.0)
        flat = electrons.reshape(-1)
        flat[lit] = _stream(seed, image_index, _STREAMS["shot"]).poisson(flat[lit].astype(np.float64))
    if effects.dark_current and config.dark_current_e_per_s > 0.0:
        mean_dark = config.dark_current_e_per_s * exposure_s
        if effects.shot_noise:
            electrons += poisson_small(_stream(seed, image_index, _STREAMS["dark"]), mean_dark, shape)
        else:
            electrons += np.float32(mean_dark)
    if effects.hot_pixels and hot_where.size:
        hot_mean = np.maximum(HOT_PIXEL_DARK_FACTOR * config.dark_current_e_per_s, HOT_PIXEL_MIN_E_PER_S)
        mean = hot_mean * hot_rates * exposure_s
        if effects.shot_noise:
            mean = _stream(seed, image_index, _STREAMS["hot"]).poisson(mean)
        electrons.reshape(-1)[hot_where] += mean.astype(np.float32)
    hits = 0
    if effects.cosmic_rays and config.cosmic_ray_rate_per_cm2_s > 0.0 and pixel_pitch_m:
        rng = _stream(seed, image_index, _STREAMS["cosmic"])
        r, c, e, hits = cosmic_ray_electrons(
            shape, exposure_s, config.cosmic_ray_rate_per_cm2_s, pixel_pitch_m, rng
        )
        np.add.at(electrons, (r, c), e.astype(np.float32))
    saturated = 0
    if effects.saturation:
        full = electrons >= config.full_well_e
        saturated = int(np.count_nonzero(full))
        if saturated:
            electrons[full] = config.full_well_e
    if effects.dsnu and config.dsnu_e > 0.0:
        electrons += dsnu_map
    if effects.read_noise and config.read_noise_e > 0.0:
        noise = _stream(seed, image_index, _STREAMS["read"]).standard_normal(shape, dtype=np.float32)
        noise *= np.float32(config.read_noise_e)
        electrons += noise
    electrons *= np.float32(1.0 / config.gain_e_per_dn)
    if effects.bias:
        electrons += np.float32(config.bias_dn)
    np.rint(electrons, out=electrons)
    np.clip(electrons, 0.0, config.max_dn, out=electrons)
    return ExposureResult(electrons.astype(config.dtype), hits, saturated)
