"""A lunar normal-albedo map built from the positions and sizes of the maria.

No PyPI package ships a lunar albedo map, so we build one: bright highlands (normal
albedo 0.15) with dark maria (0.07) painted as soft-edged spherical ellipses at their
published selenographic centres.  Centres and diameters are the IAU Gazetteer of Planetary
Nomenclature values as tabulated in Wikipedia's "List of maria on the Moon" (cross-checked
against a second copy of that table).  The IAU diameter is a feature's longest extent; for
the irregular Oceanus Procellarum and the long, narrow Mare Frigoris we add our own
north–south/east–west aspect ratio (last column), an approximation of their outlines.

Highlands 0.15 and maria 0.09 (a mare/highland contrast of 0.6, as in V-band lunar
photometry); the calibrated photometry rescales the disc to the lunar law's geometric albedo
(``emulator.scene``), so only the relative tones matter.  Four young bright-rayed craters are
small bright spots.  On the far side, the South Pole-Aitken basin (centre 53° S, 169° W,
about 2,500 km across; IAU / Garrick-Bethell & Zuber 2009) is a broad, slightly darker tone
(0.13, its mafic floor) and Tsiolkovskiy's dark mare floor (20.4° S, 129.1° E, 185 km) a spot.
The highland mottling (±5 %) is smooth noise generated on the sphere
(``textures.sphere_noise``), so the map has no blocks and no seams; it is sampled bilinearly.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from emulator.textures import EquirectMap, sphere_noise

MOON_RADIUS_KM = 1737.4
HIGHLAND_ALBEDO = 0.15
MARE_ALBEDO = 0.09
MAP_SHAPE = (360, 720)  # 0.5° texels

# name, latitude (°N), longitude (°E), diameter (km), aspect (N–S extent / E–W extent; ours)
MARIA: tuple[tuple[str, float, float, float, float], ...] = (
    ("Mare Anguis", 22.6, 67.7, 150, 1.0),
    ("Mare Australe", -38.9, 93.0, 603, 1.0),
    ("Mare Cognitum", -10.0, -23.1, 376, 1.0),
    ("Mare Crisium", 17.0, 59.1, 418, 1.0),
    ("Mare Fecunditatis", -7.8, 51.3, 909, 0.8),
    ("Mare Frigoris", 56.0, 1.4, 1596, 0.2),
    ("Mare Humboldtianum", 56.8, 81.5, 273, 1.0),
    ("Mare Humorum", -24.4, -38.6, 389, 1.0),
    ("Mare Imbrium", 32.8, -15.6, 1123, 1.0),
    ("Mare Ingenii", -33.7, 163.5, 318, 1.0),
    ("Mare Insularum", 7.5, -30.9, 513, 1.0),
    ("Mare Marginis", 13.3, 86.1, 420, 1.0),
    ("Mare Moscoviense", 27.3, 147.9, 277, 1.0),
    ("Mare Nectaris", -15.2, 35.5, 333, 1.0),
    ("Mare Nubium", -21.3, -16.6, 715, 1.0),
    ("Mare Orientale", -19.4, -92.8, 327, 1.0),
    ("Mare Serenitatis", 28.0, 17.5, 707, 1.0),
    ("Mare Smythii", 1.3, 87.5, 373, 1.0),
    ("Mare Spumans", 1.1, 65.1, 139, 1.0),
    ("Mare Tranquillitatis", 8.5, 31.4, 873, 1.0),
    ("Mare Undarum", 6.8, 68.4, 243, 1.0),
    ("Mare Vaporum", 13.3, 3.6, 245, 1.0),
    ("Oceanus Procellarum", 18.4, -57.4, 2568, 1.3),
)

# Young rayed craters (IAU Gazetteer centres; diameters in km), albedo about 0.25.
BRIGHT_CRATERS: tuple[tuple[str, float, float, float], ...] = (
    ("Tycho", -43.3, -11.2, 85),
    ("Copernicus", 9.6, -20.1, 96),
    ("Kepler", 8.1, -38.0, 31),
    ("Aristarchus", 23.7, -47.5, 40),
)
BRIGHT_CRATER_ALBEDO = 0.25
# Far-side tones: name, latitude, longitude, diameter (km), aspect, albedo.
FAR_SIDE_TONES: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("South Pole-Aitken basin", -53.0, -169.0, 2500, 1.0, 0.13),
    ("Tsiolkovskiy", -20.4, 129.1, 185, 1.0, 0.09),
)


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.broadcast_arrays(np.radians(lat_deg), np.radians(lon_deg))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _feature_weight(
    points: np.ndarray, lat_deg: float, lon_deg: float, diameter_km: float, aspect: float
) -> np.ndarray:
    """Soft 0..1 membership of a spherical ellipse centred at (lat, lon)."""
    centre = _unit_vectors(np.array(lat_deg), np.array(lon_deg))
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    # Gnomonic-like local coordinates (angles from the centre along east and north).
    along = points @ centre
    x = np.arctan2(points @ east, along)
    y = np.arctan2(points @ north, along)
    semi = 0.5 * diameter_km / MOON_RADIUS_KM
    semi_ew = semi if aspect <= 1.0 else semi / aspect
    semi_ns = semi * aspect if aspect <= 1.0 else semi
    rho = np.sqrt((x / semi_ew) ** 2 + (y / semi_ns) ** 2)
    rho = np.where(along > 0.0, rho, np.inf)
    return np.clip((1.15 - rho) / 0.3, 0.0, 1.0)  # soft shore, 30 % of the radius wide


@lru_cache(maxsize=1)
def lunar_albedo_map() -> EquirectMap:
    """Normal albedo over selenographic latitude/longitude (cached after the first build)."""
    rows, cols = MAP_SHAPE
    lat = 90.0 - (np.arange(rows) + 0.5) * 180.0 / rows
    lon = -180.0 + (np.arange(cols) + 0.5) * 360.0 / cols
    points = _unit_vectors(lat[:, None], lon[None, :]).reshape(-1, 3)
    mare = np.zeros(points.shape[0])
    for _, mlat, mlon, diameter, aspect in MARIA:
        mare = np.maximum(mare, _feature_weight(points, mlat, mlon, diameter, aspect))
    albedo = np.full(points.shape[0], HIGHLAND_ALBEDO)
    for _, tlat, tlon, diameter, aspect, tone in FAR_SIDE_TONES:
        albedo = albedo + (tone - albedo) * _feature_weight(points, tlat, tlon, diameter, aspect)
    albedo = albedo + (MARE_ALBEDO - albedo) * mare
    for _, clat, clon, diameter in BRIGHT_CRATERS:
        weight = _feature_weight(points, clat, clon, diameter * 1.5, 1.0)
        albedo = albedo + (BRIGHT_CRATER_ALBEDO - albedo) * weight
    # Gentle fixed-seed mottling (±5 %), smooth on the sphere (features of ~100-1,000 km).
    mottle = sphere_noise(
        points, 1970, 160, 2.0 * np.pi * MOON_RADIUS_KM / 1000.0, 2.0 * np.pi * MOON_RADIUS_KM / 100.0
    )
    albedo = albedo * (1.0 + 0.05 * mottle)
    return EquirectMap(albedo.reshape(rows, cols).astype(np.float32))
